"""hdnnp in one script: a Cu-Au potential from EMT data, MD with it, and a check against EMT.

ASE's EMT calculator stands in for DFT, so everything runs on a laptop in minutes:

1. data      EMT-labelled Cu-Au structures (crystals, ordered alloys, strained and
             rattled cells, surfaces, melt and quench MD), extended XYZ in DIR/data/
             (:mod:`cuau_data`; made once, reused when present);
2. training  a Behler-Parrinello potential with ``hdnnp.training.run.train`` and a
             :class:`hdnnp.config.Config`: errors, learning curve and parity plots in
             DIR/run/ (a finished run is reused; delete DIR/run to train again);
3. MD        NVT (Bussi thermostat) of a random fcc CuAu alloy at 900 K with the
             potential and with EMT, same start, same thermostat and seed
             (``hdnnp.md.run_md`` drives both), trajectories in DIR/md/;
4. analysis  ``hdnnp analyze``: total and partial g(r), angle distributions and
             coordination of the two runs overlaid (DIR/analysis/), and ``hdnnp compare``:
             the potential on the EMT-labelled frames of the EMT run (DIR/compare/);
5. summary   errors, g(r) agreement (first peaks, integrated |delta g|, next to the
             difference between two EMT runs with different thermostat seeds, i.e. the
             statistical noise), plot paths; also written to DIR/summary.json.

Run: ``bash scripts/demo.sh`` (about 3 minutes on 2 cores; ``--quick`` for a
small version in well under a minute, ``-o DIR`` for the output folder, default
``runs/demo``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# 3x3 matrix functions in ASE become very slow with OpenBLAS threads on a busy machine
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cuau_data  # noqa: E402
import numpy as np  # noqa: E402

R_MAX, BINS = 6.0, 150  # g(r) range (Å) and bins of the analysis


@dataclass(frozen=True)
class Settings:
    """Sizes of one demo run.

    Attributes:
        data_scale: amount of reference data (1: ~260 frames, ~9000 atoms).
        max_epochs: L-BFGS epochs of training.
        repeat: MD cell is repeat^3 cubic fcc cells (4 repeat^3 atoms).
        md_steps: MD steps of 4 fs.
        every: trajectory interval, steps.
        skip_frames: trajectory frames dropped as equilibration before the analysis.
    """

    data_scale: float = 1.0
    max_epochs: int = 20
    repeat: int = 3
    md_steps: int = 1000
    every: int = 10
    skip_frames: int = 10


FULL = Settings()
QUICK = Settings(data_scale=0.25, max_epochs=8, repeat=2, md_steps=250, every=5, skip_frames=10)
TEMPERATURE_K, TIMESTEP_FS, X_AU, SEED = 900.0, 4.0, 0.5, 0


class Clock:
    """Wall and CPU time of the steps, printed as they finish (s)."""

    def __init__(self):
        self.start = self.last = (time.perf_counter(), time.process_time())
        self.steps: dict[str, tuple[float, float]] = {}

    def lap(self, name: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.steps[name] = (now[0] - self.last[0], now[1] - self.last[1])
        self.last = now
        print(f"   [{name}: {self.steps[name][0]:.0f} s wall, {self.steps[name][1]:.0f} s CPU]")

    def total(self) -> tuple[float, float]:
        now = (time.perf_counter(), time.process_time())
        return now[0] - self.start[0], now[1] - self.start[1]


# --------------------------------------------------------------------------- training


def training_config(data_files: list[Path], settings: Settings):
    """The training settings as a Config (``hdnnp train --print-config`` lists every key).

    Descriptors: the automatic set for r_c = 5 Å (between the 3rd and 4th neighbour
    shells of Cu), 10 radial functions per neighbour element and 3 angular widths,
    56 per element. One thread: on two (shared) cores it is the fastest for this size.
    """
    from hdnnp.config import config_from_dict

    return config_from_dict(
        {
            "data": {"train": [str(p) for p in data_files], "validation_fraction": 0.1},
            "descriptors": {"cutoff": 5.0, "n_radial": 10, "n_angular": 3, "zetas": [1, 4]},
            "network": {"hidden": [20, 20]},
            "loss": {"energy_weight": 1.0, "force_weight": 0.1},
            "training": {
                "optimizer": "lbfgs",
                "max_epochs": settings.max_epochs,
                "max_time": 400.0,
                "seed": SEED,
                "threads": 1,
            },
        }
    )


def finished_with(run_dir: Path, config) -> bool:
    """Whether ``run_dir`` holds a finished run of exactly ``config``."""
    import yaml

    from hdnnp.config import to_dict

    if not (run_dir / "report.json").exists() or not (run_dir / "config.yaml").exists():
        return False
    return yaml.safe_load((run_dir / "config.yaml").read_text()) == yaml.safe_load(
        yaml.safe_dump(to_dict(config), sort_keys=False)
    )


def train_potential(data_files: list[Path], run_dir: Path, settings: Settings) -> dict:
    """Train into ``run_dir`` (or reuse a finished run of the same config); return
    report.json."""
    import shutil

    from hdnnp.training.run import train

    config = training_config(data_files, settings)
    if finished_with(run_dir, config):
        print(f"   reusing the finished run in {run_dir} (delete it to train again)")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)  # unfinished or other settings
        train(config, run_dir)
    return json.loads((run_dir / "report.json").read_text())


def print_errors(report: dict) -> None:
    """Energy (meV/atom) and force (eV/Å) RMSE and MAE per set."""
    for name, m in report["sets"].items():
        e, f = m["energy_per_atom"], m["forces"]
        print(
            f"   {name:10s} {m['n_structures']:4d} frames  E RMSE {1000 * e['rmse']:6.2f} "
            f"meV/atom (MAE {1000 * e['mae']:5.2f})  F RMSE {f['rmse']:.4f} eV/Å "
            f"(MAE {f['mae']:.4f})"
        )


# --------------------------------------------------------------------------------- MD


def start_structure(repeat: int):
    """Random fcc Cu(0.5)Au(0.5), lattice constant at EMT's energy minimum + 1 % (900 K)."""
    from ase.calculators.emt import EMT
    from scipy.optimize import minimize_scalar

    atoms = cuau_data.random_alloy(X_AU, repeat, np.random.default_rng(SEED + 7))
    cell = atoms.cell.copy()

    def energy(factor: float) -> float:
        trial = atoms.copy()
        trial.set_cell(cell * factor, scale_atoms=True)
        trial.calc = EMT()
        return trial.get_potential_energy()

    best = minimize_scalar(energy, bounds=(0.95, 1.08), method="bounded").x
    atoms.set_cell(cell * best * 1.01, scale_atoms=True)
    return atoms


def run_nvt(atoms, calc, path: Path, settings: Settings, seed: int) -> Path:
    """NVT at 900 K (Bussi, 100 fs) with ``calc``; trajectory ``path``, thermo beside it."""
    from hdnnp.md import MDSettings, Stage, run_md

    stage = Stage("nvt", settings.md_steps, (TEMPERATURE_K, TEMPERATURE_K), thermostat="bussi")
    md = MDSettings(
        timestep_fs=TIMESTEP_FS,
        trajectory=str(path),
        every=settings.every,
        log=str(path.with_suffix(".thermo.csv")),
        log_every=settings.every,
        seed=seed,
    )
    summary = run_md(atoms.copy(), calc, [stage], md)
    print(
        f"   {path.name}: {summary.steps} steps, {summary.ns_per_day:.2f} ns/day, "
        f"{summary.extrapolating_steps} steps with extrapolation warnings"
    )
    return path


def run_md_pair(run_dir: Path, md_dir: Path, settings: Settings) -> dict[str, Path]:
    """The same start with the potential, with EMT, and with EMT and another seed.

    One torch thread: for ~100 atoms a second one costs more than it gains.
    """
    import torch
    from ase.calculators.emt import EMT

    from hdnnp import Calculator

    torch.set_num_threads(1)
    md_dir.mkdir(parents=True, exist_ok=True)
    atoms = start_structure(settings.repeat)
    print(
        f"   {len(atoms)} atoms {atoms.get_chemical_formula()}, a = "
        f"{atoms.cell.lengths()[0] / settings.repeat:.3f} Å, {TEMPERATURE_K:.0f} K, "
        f"{settings.md_steps} x {TIMESTEP_FS:g} fs"
    )
    return {
        "hdnnp": run_nvt(atoms, Calculator(run_dir), md_dir / "traj_nn.extxyz", settings, 1),
        "EMT": run_nvt(atoms, EMT(), md_dir / "traj_emt.extxyz", settings, 1),
        "EMT, seed 2": run_nvt(atoms, EMT(), md_dir / "traj_emt_seed2.extxyz", settings, 2),
    }


# --------------------------------------------------------------------------- analysis


def hdnnp_cli(*argv: str) -> None:
    """Run an ``hdnnp`` command in this process; stop on a non-zero exit status."""
    from hdnnp.cli import main

    print("   $ hdnnp " + " ".join(argv))
    status = main(list(argv))
    if status != 0:
        raise SystemExit(f"hdnnp {argv[0]} failed with exit status {status}")


def analyse(trajectories: dict[str, Path], out: Path, settings: Settings) -> dict:
    """``hdnnp analyze`` of EMT (reference, first) and hdnnp; returns analysis.json."""
    skip = str(settings.skip_frames)
    hdnnp_cli(
        "analyze",
        str(trajectories["EMT"]),
        str(trajectories["hdnnp"]),
        *("--labels", "EMT", "hdnnp", "--skip", skip, "--r-max", str(R_MAX)),
        *("--bins", str(BINS), "-o", str(out)),
    )
    return json.loads((out / "analysis.json").read_text())


def noise_floor(trajectories: dict[str, Path], settings: Settings) -> dict[str, float]:
    """Integrated |g_EMT(seed 2) - g_EMT| (Å) per curve: the statistical noise of g(r)."""
    import ase.io

    from hdnnp.analysis import curve_difference, rdf

    curves = []
    for label in ("EMT", "EMT, seed 2"):
        frames = ase.io.read(trajectories[label], f"{settings.skip_frames}:")
        result = rdf(frames, R_MAX, BINS)
        curves.append((result.edges, {"total": result.total, **result.partial}))
    (edges, a), (_, b) = curves
    return {name: curve_difference(edges, a[name], b[name])["integrated_abs"] for name in a}


def compare_on_emt_frames(run_dir: Path, trajectory: Path, out: Path, settings: Settings):
    """``hdnnp compare``: the potential on the EMT-labelled frames of the EMT run."""
    spec = f"{trajectory}@{settings.skip_frames}:"
    hdnnp_cli("compare", str(run_dir), spec, "-o", str(out))
    return json.loads((out / "compare.json").read_text())["metrics"]


# ---------------------------------------------------------------------------- summary


def rdf_agreement(analysis: dict, noise: dict[str, float]) -> dict:
    """Per g(r) curve: first peaks of EMT and hdnnp, integrated |delta g| and the noise."""
    emt = analysis["trajectories"][0]["peaks"]["rdf"]
    nn = analysis["trajectories"][1]["peaks"]["rdf"]
    diff = analysis["differences"][0]["rdf"]
    return {
        name: {
            "peak_emt": emt[name],
            "peak_hdnnp": nn[name],
            "integrated_abs_diff": diff[name]["integrated_abs"],
            "noise_emt_vs_emt": noise.get(name),
        }
        for name in diff
    }


def print_summary(summary: dict) -> None:
    """The numbers a newcomer looks at first, and where the plots are."""
    print("\nSummary")
    for name, m in summary["training_errors"].items():
        print(
            f"  {name:10s} E RMSE {1000 * m['energy_rmse']:6.2f} meV/atom   "
            f"F RMSE {m['force_rmse']:.4f} eV/Å"
        )
    c = summary["compare_on_emt_md"]
    print(
        f"  EMT MD     E RMSE {1000 * c['energy_per_atom']['rmse']:6.2f} meV/atom   "
        f"F RMSE {c['forces']['rmse']:.4f} eV/Å  (hdnnp compare, {c['n_structures']} frames)"
    )
    print(f"\n  g(r) at {TEMPERATURE_K:.0f} K: first peak position (Å) / height, EMT vs hdnnp;")
    print("  integrated |g_hdnnp - g_EMT| (Å) next to |g_EMT - g_EMT(seed 2)| (noise)")
    for name, r in summary["rdf"].items():
        a, b = r["peak_emt"], r["peak_hdnnp"]
        print(
            f"  {name:6s} {a['position']:.3f} / {a['height']:.2f}  vs  {b['position']:.3f} / "
            f"{b['height']:.2f}   |dg| {r['integrated_abs_diff']:.3f}  "
            f"(noise {r['noise_emt_vs_emt']:.3f})"
        )
    print("\n  plots:")
    for path in summary["plots"]:
        print(f"    {path}")
    wall, cpu = summary["time_s"]["total"]
    print(f"\n  total {wall:.0f} s wall, {cpu:.0f} s CPU; summary in {summary['summary_file']}")


def build_summary(out, report, compare_metrics, agreement, clock) -> dict:
    """summary.json: errors, agreement figures, plot paths and timings."""
    plots = sorted(str(p) for d in ("run", "analysis", "compare") for p in (out / d).glob("*.png"))
    errors = {
        name: {
            "energy_rmse": m["energy_per_atom"]["rmse"],
            "force_rmse": m["forces"]["rmse"],
        }
        for name, m in report["sets"].items()
    }
    summary = {
        "training_errors": errors,
        "compare_on_emt_md": compare_metrics,
        "rdf": agreement,
        "plots": plots,
        "potential": str(out / "run" / "best.hdnnp"),
        "time_s": {**clock.steps, "total": clock.total()},
        "summary_file": str(out / "summary.json"),
        "units": {"energy": "eV/atom", "force": "eV/Angstrom", "r": "Angstrom"},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


# ------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (under a minute)")
    parser.add_argument("-o", "--output", default="runs/demo", help="output folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = QUICK if args.quick else FULL
    out = Path(args.output).resolve()
    clock = Clock()
    print(f"1. EMT reference data in {out / 'data'}")
    data_files = cuau_data.make_dataset(out / "data", SEED, settings.data_scale)
    print(cuau_data.summary(data_files))
    clock.lap("data")
    print(f"2. training a potential in {out / 'run'}")
    report = train_potential(data_files, out / "run", settings)
    print_errors(report)
    clock.lap("training")
    print(f"3. NVT MD with the potential and with EMT in {out / 'md'}")
    trajectories = run_md_pair(out / "run", out / "md", settings)
    clock.lap("MD")
    print(f"4. structure and errors along the EMT run in {out / 'analysis'}, {out / 'compare'}")
    analysis = analyse(trajectories, out / "analysis", settings)
    metrics = compare_on_emt_frames(out / "run", trajectories["EMT"], out / "compare", settings)
    agreement = rdf_agreement(analysis, noise_floor(trajectories, settings))
    clock.lap("analysis")
    print_summary(build_summary(out, report, metrics, agreement, clock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
