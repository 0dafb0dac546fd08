"""MD speed with the n2p2 H2O potential, in atom-steps per second (issue 5).

Runs NVT (Bussi, 300 K) or NVE MD with a 1 fs step through :func:`hdnnp.md.run_md` and
:class:`hdnnp.Calculator` for the 1080-atom liquid-water box of
``../shared/data/n2p2/H2O_1080_liquid`` and its 3x1x1 replica (3240 atoms), with the
RPBE-D3 potential (Bohr/Hartree files). Each run does ``--warmup`` steps, then times
``--steps`` steps. Rows per system:

* ``eval``: one energy + forces (+ stress) call of the calculator with a fresh neighbour
  list (median of ``--repeats``), i.e. what one MD step costs at least;
* ``md skin 0``: MD with a new neighbour list every step (the in-process baseline);
* ``md skin S``: MD with the calculator's Verlet list (skin ``--skin`` Å).

``vs skin 0`` is the Verlet-list gain; ``overhead`` is the MD step time minus the eval
time (integrator, thermostat, ASE bookkeeping, neighbour-list reuse). n2p2's rates are
from ``H2O_1080_liquid``'s README (one energy + forces evaluation per core, 2-core
machine): ``vs n2p2`` compares with its total rate (3,400 and 2,140 atoms/s), ``vs
n2p2-nl`` with its rate without its neighbour list (4,900 and 4,700 atoms/s).

    python benchmarks/bench_md.py [--steps 30] [--warmup 3] [--threads 1] [--skin 1.0]
"""

# ruff: noqa: E402
from __future__ import annotations

import os

# One OpenBLAS thread (before numpy loads it): ASE's optimisers and cell filter work on
# small matrices, where a second BLAS thread on a busy machine costs 10-20x (BFGS's eigh
# of a 117 x 117 Hessian: 2 ms with one thread, 26 ms with two on the shared 2-core box).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from pathlib import Path

from ase.calculators.calculator import all_changes

from hdnnp import Calculator, load
from hdnnp.io import read_structures
from hdnnp.md import MDSettings, Stage, run_md
from hdnnp.threads import set_threads

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "n2p2"
BOX = SHARED / "H2O_1080_liquid" / "input.data"
POTENTIAL = SHARED / "H2O_1080_liquid"
#: n2p2 v2.3.0, one core of the 2-core build machine (H2O_1080_liquid/README):
#: atoms -> (total rate, rate without its neighbour list), atoms/s.
N2P2_RATE = {1080: (3400.0, 4900.0), 3240: (2140.0, 4700.0)}


def systems(max_atoms: int) -> list:
    box = read_structures(BOX, units="hartree-bohr")[0].to_atoms()
    box.calc = None
    replicas = [box, box.repeat((3, 1, 1))]
    return [a for a in replicas if len(a) <= max_atoms]


class Clock:
    """Wall and CPU time (this process) of a block; CPU time is the fairer figure when the
    machine is shared (with one thread it is the time the work took on one core)."""

    def __enter__(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def time_eval(model, atoms, repeats: int) -> tuple[float, float]:
    """Median (wall, CPU) time of one energy + forces (+ stress) call with a new list."""
    calc = Calculator(model, skin=0.0)
    atoms = atoms.copy()
    calc.calculate(atoms, ["energy", "forces"], all_changes)  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        with Clock() as clock:
            calc.calculate(atoms, ["energy", "forces"], all_changes)
        walls.append(clock.wall)
        cpus.append(clock.cpu)
    return statistics.median(walls), statistics.median(cpus)


def time_md(model, atoms, skin: float, args) -> tuple[float, float, int]:
    """(wall s, CPU s) per MD step over ``args.steps`` timed steps, and the neighbour-list
    builds of the calculator's Verlet list in them."""
    calc = Calculator(model, skin=skin)
    atoms = atoms.copy()
    if args.ensemble == "nve":
        stage = {"ensemble": "nve", "temperature": (300.0, 300.0)}
    else:
        stage = {"ensemble": "nvt", "temperature": (300.0, 300.0), "thermostat": "bussi"}
    settings = MDSettings(timestep_fs=1.0, log_every=10**9, every=10**9, seed=0)
    run_md(atoms, calc, [Stage(steps=args.warmup, **stage)], settings)
    builds = calc.neighbors.builds
    with Clock() as clock:
        run_md(atoms, calc, [Stage(steps=args.steps, **stage)], settings)
    return clock.wall / args.steps, clock.cpu / args.steps, calc.neighbors.builds - builds


def ratio(value: float | None) -> str:
    return f"{value:8.2f}" if value is not None else f"{'':8s}"


def row(label: str, n: int, times, ref, eval_times, builds=None) -> None:
    """One table line; ``times``, ``ref`` (skin-0 MD) and ``eval_times`` are (wall, CPU)
    seconds; the ratios use CPU time."""
    wall, cpu = times
    rate = n / cpu
    n2p2 = N2P2_RATE.get(n)
    vs_total = rate / n2p2[0] if n2p2 else None
    vs_nl = rate / n2p2[1] if n2p2 else None
    vs_skin0 = ref[1] / cpu if ref else None
    overhead = f"{cpu - eval_times[1]:9.3f}" if label != "eval" else f"{'':9s}"
    nl = f"{builds:7d}" if builds is not None else f"{'':7s}"
    print(
        f"{n:6d} {label:12s} {wall:8.3f} {cpu:8.3f} {n / wall:9.0f} {rate:9.0f} {overhead} "
        f"{nl} {ratio(vs_skin0)} {ratio(vs_total)} {ratio(vs_nl)}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skin", type=float, default=1.0)
    parser.add_argument("--ensemble", default="nvt", choices=("nvt", "nve"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-atoms", type=int, default=3240)
    args = parser.parse_args()
    if not BOX.exists():
        print(f"shared data not found at {BOX}", file=sys.stderr)
        return 1
    set_threads(args.threads)
    model = load(POTENTIAL, units="hartree-bohr")
    thermostat = "Bussi 300 K" if args.ensemble == "nvt" else ""
    print(
        f"hdnnp MD benchmark: {args.ensemble.upper()} {thermostat}, dt 1 fs, {args.warmup} "
        f"warm-up + {args.steps} timed steps; float64 CPU, threads {args.threads}"
    )
    print(
        f"{'atoms':>6s} {'run':12s} {'wall s':>8s} {'cpu s':>8s} {'wall a/s':>9s} "
        f"{'cpu a/s':>9s} {'overhead':>9s} "
        f"{'nl bld':>7s} {'vs skin0':>8s} {'vs n2p2':>8s} {'vs n2p2nl':>8s}"
    )
    for atoms in systems(args.max_atoms):
        n = len(atoms)
        t_eval = time_eval(model, atoms, args.repeats)
        row("eval", n, t_eval, None, t_eval)
        t_skin0 = time_md(model, atoms, 0.0, args)
        row("md skin 0", n, t_skin0[:2], None, t_eval)
        t_verlet = time_md(model, atoms, args.skin, args)
        row(f"md skin {args.skin:g}", n, t_verlet[:2], t_skin0[:2], t_eval, t_verlet[2])
    print(
        "wall s / cpu s: wall and CPU seconds per step (eval rows: per evaluation);\n"
        "wall a/s, cpu a/s: atom-steps per second (eval rows: atoms per second) from them;\n"
        "all ratios and the overhead (s/step minus the eval time) use CPU time;\n"
        "nl bld: Verlet lists built in the timed steps (skin 0 builds one every step);\n"
        "vs skin0: skin-0 MD s/step / this s/step (the Verlet-list gain);\n"
        "vs n2p2 / vs n2p2nl: rate / n2p2's 3,400 (1080) and 2,140 (3240) atoms/s total,\n"
        "4,900 and 4,700 atoms/s without its neighbour list (1 core, H2O_1080_liquid/README)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
