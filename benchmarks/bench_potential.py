"""Speed of one energy + forces evaluation with the n2p2 H2O potential (issue: core).

Times the 1080-atom liquid-water box of ``../shared/data/n2p2/H2O_1080_liquid`` and
replicas of it (3x1x1 = 3240 atoms, and larger ones with --max-atoms) with the RPBE-D3
water potential, float64 and float32, on the CPU with one thread (atoms per second per
core, the unit of n2p2's figures) and on a GPU when one is present. Prints the rates next
to n2p2's, from the README of that folder, as ratios, and a profile of where the time
goes. Setup (reading files) is excluded; the neighbour list and triplet build
(``make_batch``) are timed separately from the evaluation, as n2p2's "without its
neighbour list" column excludes its neighbour list.

    python benchmarks/bench_potential.py [--max-atoms 110000] [--repeats 3] [--profile]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hdnnp.io import read_input_data
from hdnnp.n2p2 import read_n2p2
from hdnnp.structures import Structure
from hdnnp.threads import set_threads

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "n2p2"
#: n2p2 v2.3.0, one core of the 2-core build machine (H2O_1080_liquid/README).
N2P2_RATE = {1080: (3400.0, 4900.0), 3240: (2140.0, 4700.0)}


def replicate(s: Structure, reps: tuple[int, int, int]) -> Structure:
    atoms = s.to_atoms().repeat(reps)
    return Structure(atoms.numbers, atoms.positions, np.array(atoms.cell), (True,) * 3)


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up (JIT compile, allocator)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def bench_one(model, structure, device, dtype, repeats):
    m = model.to(device=device, dtype=dtype)
    t_nl = median_time(lambda: m.make_batch([structure]), repeats)
    batch = m.make_batch([structure])

    def run():
        m.evaluate(batch, forces=True)
        sync(device)

    t_eval = median_time(run, repeats)
    return t_nl, t_eval


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-atoms", type=int, default=30000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if not (SHARED / "H2O_1080_liquid").exists():
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 1
    set_threads(args.threads)
    model = read_n2p2(SHARED / "H2O_RPBE-D3", units="hartree-bohr").eval()
    box = read_input_data(SHARED / "H2O_1080_liquid" / "input.data", units="hartree-bohr")[0]
    sizes = [(1, 1, 1), (3, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 6)]
    systems = [replicate(box, r) for r in sizes if 1080 * np.prod(r) <= args.max_atoms]
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"hdnnp H2O benchmark; CPU threads: {args.threads}; devices: {', '.join(devices)}")
    header = (
        f"{'device':6s} {'dtype':8s} {'atoms':>7s} {'nlist s':>8s} "
        f"{'eval s':>8s} {'atoms/s':>9s} {'/core':>8s} {'us/atom':>8s} "
        f"{'vs n2p2':>8s} {'vs n2p2-nl':>10s}"
    )
    print(header)
    for device in devices:
        for dtype in (torch.float64, torch.float32):
            for s in systems:
                t_nl, t_eval = bench_one(model, s, device, dtype, args.repeats)
                rate = s.n_atoms / t_eval
                per_core = rate / (args.threads if device == "cpu" else 1)
                total_rate = s.n_atoms / (t_eval + t_nl)
                ref = N2P2_RATE.get(s.n_atoms)
                vs = f"{total_rate / ref[0]:8.2f}" if ref else f"{'':8s}"
                vs_nl = f"{per_core / ref[1]:10.2f}" if ref else f"{'':10s}"
                print(
                    f"{device:6s} {str(dtype)[6:]:8s} {s.n_atoms:7d} "
                    f"{t_nl:8.3f} {t_eval:8.3f} {rate:9.0f} {per_core:8.0f} "
                    f"{1e6 * t_eval / s.n_atoms:8.1f} {vs} {vs_nl}",
                    flush=True,
                )
    print(
        "vs n2p2: (nlist + eval) rate / n2p2 total rate; vs n2p2-nl: eval rate per core /"
        " n2p2 rate without its neighbour list (4,900 and 4,700 atoms/s)."
    )
    if args.profile:
        profile(model.to(dtype=torch.float64), systems[0])
    return 0


def profile(model, structure) -> None:
    from torch.profiler import profile as torch_profile

    batch = model.make_batch([structure])
    model.evaluate(batch)
    with torch_profile() as prof:
        model.evaluate(batch)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    sys.exit(main())
