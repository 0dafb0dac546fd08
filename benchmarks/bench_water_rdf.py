"""Liquid-water structure from NVT MD with the n2p2 H2O potential (issue 5).

Runs NVT MD at 300 K of a 192-atom box (64 H2O, 0.988 g/cm^3 by default) of
``../shared/data/n2p2/H2O_RPBE-D3/input.data`` with the RPBE-D3 water potential of
Morawietz et al. (PNAS 2016): ``--equilibrate-ps`` of equilibration (default 2 ps), then
``--sample-ps`` of sampling (default 10 ps) with a frame every ``--sample-every`` steps.
Prints the first peaks of the partial RDFs (O-O near 2.8 Å for liquid water; the
intramolecular and the hydrogen-bond peaks of H-O and H-H; pairs are named in sorted
order, so O-H is "H-O"), the O-O coordination number up to the first minimum, the mean
temperature and the wall time, and writes them as JSON and the RDFs as a PNG under
``--out``.

Time step 0.5 fs: the O-H stretch (about 3,400-3,700 cm^-1) has a period of about 9-10 fs,
so 0.5 fs resolves it with about 20 steps per period, as usual for flexible water with
hydrogen masses; 1 fs (about 9 steps per period) is the usual choice only for rigid water
or deuterium masses. Thermostat: Bussi
stochastic velocity rescaling (canonical, acts only on the total kinetic energy, so the
local dynamics and the structure are not perturbed) with a 100 fs time constant.

    python benchmarks/bench_water_rdf.py [--equilibrate-ps 2] [--sample-ps 10] [--out DIR]
"""

# ruff: noqa: E402
from __future__ import annotations

import os

# One OpenBLAS thread (before numpy loads it): ASE's optimisers and cell filter work on
# small matrices, where a second BLAS thread on a busy machine costs 10-20x (BFGS's eigh
# of a 117 x 117 Hessian: 2 ms with one thread, 26 ms with two on the shared 2-core box).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from ase import units

from hdnnp import Calculator
from hdnnp.analysis import first_minimum, first_peak, rdf
from hdnnp.io import read_structures
from hdnnp.md import MDSettings, Stage, read_thermo, run_md
from hdnnp.threads import set_threads

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "n2p2"
POTENTIAL = SHARED / "H2O_RPBE-D3"
#: Experiment (X-ray, Skinner et al., J. Chem. Phys. 138, 074506 (2013)), 298 K.
EXPERIMENT_OO = (2.80, 2.57)
#: Peaks and where to look for them (Å): intramolecular and intermolecular.
PEAKS = {
    "O-O": [("first", 2.2, 3.6)],
    "H-O": [("intramolecular", 0.7, 1.3), ("H-bond", 1.3, 2.6)],
    "H-H": [("intramolecular", 1.2, 1.9), ("intermolecular", 1.9, 3.0)],
}


def density(atoms) -> float:
    """Mass density, g/cm^3."""
    return float(atoms.get_masses().sum() / units.mol / (atoms.get_volume() * 1e-24))


def water_box(frame: int | None, n_atoms: int = 192):
    """A frame of ``n_atoms`` atoms of the RPBE-D3 data set as ase.Atoms: ``frame`` (index
    in the file), or by default the one of lowest DFT energy among those denser than
    0.95 g/cm^3 (the data set also holds expanded boxes, down to 0.865 g/cm^3, and hot,
    distorted ones that start the run near 600 K)."""
    frames = read_structures(POTENTIAL / "input.data", units="hartree-bohr")
    if frame is None:
        boxes = [s for s in frames if s.n_atoms == n_atoms and density(s.to_atoms()) > 0.95]
        atoms = min(boxes, key=lambda s: s.energy).to_atoms()
    else:
        atoms = frames[frame].to_atoms()
    atoms.calc = None
    return atoms


def run(atoms, args) -> tuple[list, object, float]:
    """Equilibrate and sample; (sampled frames, MD summary, wall time s)."""
    calc = Calculator(POTENTIAL, units="hartree-bohr", skin=args.skin)
    dt = args.timestep_fs
    n_eq = round(args.equilibrate_ps * 1000 / dt)
    n_sample = round(args.sample_ps * 1000 / dt)
    stage = {"temperature": (args.temperature,) * 2, "thermostat": args.thermostat}
    stages = [Stage("nvt", n_eq, **stage), Stage("nvt", n_sample, **stage)]
    out = Path(args.out)
    settings = MDSettings(
        timestep_fs=dt,
        log=str(out / "thermo.csv"),
        log_every=args.sample_every,
        seed=args.seed,
    )
    frames = []

    def on_step(step: int, row) -> None:
        if step > n_eq:
            frames.append(atoms.copy())
        if step % (args.sample_every * 200) == 0:
            print(f"  step {step}/{n_eq + n_sample}  T {row[2]:.0f} K", flush=True)

    t0 = time.perf_counter()
    summary = run_md(atoms, calc, stages, settings, on_step=on_step)
    return frames, summary, time.perf_counter() - t0


def peaks(result) -> dict:
    """First peaks per partial and window, O-O first minimum and coordination number."""
    table = {}
    for pair, windows in PEAKS.items():
        g = result.partial[pair]
        for name, lo, hi in windows:
            inside = (result.r >= lo) & (result.r < hi)
            found = first_peak(result.r[inside], g[inside])
            table[f"{pair} {name}"] = None if found is None else {"r": found[0], "g": found[1]}
    r_min = first_minimum(result.r, result.partial["O-O"])
    if r_min is not None:
        k = int(np.searchsorted(result.edges[1:], r_min))
        table["O-O first minimum"] = {"r": r_min, "n": float(result.running_cn["O-O"][k])}
    return table


def mean_temperature(path: Path, after_step: int) -> tuple[float, float]:
    thermo = read_thermo(path)
    t = thermo["temperature_K"][thermo["step"] > after_step]
    return float(t.mean()), float(t.std())


def plot(result, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for pair in ("O-O", "H-O", "H-H"):
        ax.plot(result.r, result.partial[pair], label=pair)
    ax.axvline(EXPERIMENT_OO[0], color="grey", lw=0.8, ls=":", label="O-O expt. 2.80 Å")
    ax.set(xlabel="r (Å)", ylabel="g(r)", xlim=(0, result.r[-1] + 0.5 * np.diff(result.edges)[0]))
    ax.set_ylim(0, 4)
    ax.legend()
    ax.set_title(f"H2O RPBE-D3 NNP, NVT 300 K, {result.n_frames} frames")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--equilibrate-ps", type=float, default=2.0)
    parser.add_argument("--sample-ps", type=float, default=10.0)
    parser.add_argument("--timestep-fs", type=float, default=0.5)
    parser.add_argument("--temperature", type=float, default=300.0)
    parser.add_argument("--thermostat", default="bussi", choices=("bussi", "nose-hoover"))
    parser.add_argument("--sample-every", type=int, default=20, help="steps between frames")
    parser.add_argument("--r-max", type=float, default=6.0)
    parser.add_argument("--n-bins", type=int, default=150)
    parser.add_argument("--skin", type=float, default=1.0)
    parser.add_argument("--frame", type=int, default=None, help="frame index in the file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="/tmp/hdnnp_water_rdf")
    args = parser.parse_args()
    if not POTENTIAL.exists():
        print(f"shared data not found at {POTENTIAL}", file=sys.stderr)
        return 1
    set_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atoms = water_box(args.frame)
    print(
        f"H2O {len(atoms)} atoms, {atoms.get_volume():.1f} Å^3, {density(atoms):.3f} g/cm^3; "
        f"NVT {args.thermostat} {args.temperature:.0f} K, dt {args.timestep_fs} fs, "
        f"{args.equilibrate_ps} ps equilibration + {args.sample_ps} ps sampling; "
        f"threads {args.threads}",
        flush=True,
    )
    frames, summary, wall = run(atoms, args)
    n_eq = round(args.equilibrate_ps * 1000 / args.timestep_fs)
    result = rdf(frames, args.r_max, args.n_bins)
    table = peaks(result)
    t_mean, t_std = mean_temperature(out / "thermo.csv", n_eq)
    report(table, result, summary, wall, (t_mean, t_std))
    plot(result, out / "water_rdf.png")
    write_json(out / "water_rdf.json", args, table, result, summary, wall, (t_mean, t_std))
    print(f"wrote {out / 'water_rdf.png'} and {out / 'water_rdf.json'}")
    return 0


def report(table, result, summary, wall, temperature) -> None:
    print(f"\n{'peak':26s} {'r (Å)':>7s} {'g(r)':>6s}")
    for name, value in table.items():
        if value is None:
            print(f"{name:26s} {'-':>7s}")
        elif "n" in value:
            print(f"{name:26s} {value['r']:7.3f} {'':6s} n_OO = {value['n']:.2f}")
        else:
            print(f"{name:26s} {value['r']:7.3f} {value['g']:6.2f}")
    oo = table["O-O first"]
    print(
        f"O-O first peak vs experiment ({EXPERIMENT_OO[0]} Å, g {EXPERIMENT_OO[1]}): "
        f"{oo['r'] - EXPERIMENT_OO[0]:+.3f} Å, g ratio {oo['g'] / EXPERIMENT_OO[1]:.2f}"
    )
    print(
        f"frames {result.n_frames}; sampled T {temperature[0]:.1f} ± {temperature[1]:.1f} K; "
        f"steps {summary.steps}; wall {wall:.0f} s ({wall / max(summary.steps, 1):.4f} s/step, "
        f"{summary.atom_steps_per_s:.0f} atom-steps/s, {summary.ns_per_day:.3f} ns/day); "
        f"extrapolating steps {summary.extrapolating_steps}"
    )


def write_json(path, args, table, result, summary, wall, temperature) -> None:
    data = {
        "settings": vars(args),
        "peaks": table,
        "temperature_K": {"mean": temperature[0], "std": temperature[1]},
        "steps": summary.steps,
        "wall_s": wall,
        "atom_steps_per_s": summary.atom_steps_per_s,
        "extrapolating_steps": summary.extrapolating_steps,
        "n_frames": result.n_frames,
        "r": result.r.tolist(),
        "partial": {k: v.tolist() for k, v in result.partial.items()},
    }
    path.write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    sys.exit(main())
