"""Accuracy on the mlearn benchmark (Zuo et al., J. Phys. Chem. A 124, 731 (2020)).

Trains hdnnp with its default settings on ``../shared/data/mlearn/{Si,Mo}/train.extxyz``
(10% of it held out for validation, as the defaults do), evaluates the best potential on
the paper's test split, and prints test RMSE/MAE of energy per atom and forces next to
the n2p2 NNP row of the paper (figures from ``../shared/data/n2p2/README.md``), with the
training wall time on this machine.

    python benchmarks/bench_mlearn.py [--elements Si Mo] [--max-time 600] [KEY=VALUE ...]

Extra ``section.key=value`` arguments override the defaults (e.g. training.optimizer=adam).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from hdnnp.api import load
from hdnnp.config import config_from_dict
from hdnnp.io import read_structures
from hdnnp.predict import error_metrics, predict
from hdnnp.training.run import train

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mlearn"
N2P2 = {"Si": (6.93, 5.63, 0.170, 0.109), "Mo": (5.43, 3.65, 0.203, 0.125)}


def overrides(pairs: list[str]) -> dict:
    out: dict = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        section, _, name = key.partition(".")
        out.setdefault(section, {})[name] = yaml.safe_load(value)
    return out


def run(element: str, max_time: float | None, extra: dict, workdir: Path) -> dict:
    settings = {"data": {"train": [str(SHARED / element / "train.extxyz")]}}
    for section, values in extra.items():
        settings.setdefault(section, {}).update(values)
    if max_time:
        settings.setdefault("training", {})["max_time"] = max_time
    config = config_from_dict(settings)
    t0 = time.perf_counter()
    run_dir = train(config, workdir / element)
    wall = time.perf_counter() - t0
    model = load(run_dir)
    test = read_structures(SHARED / element / "test.extxyz")
    metrics = error_metrics(test, predict(model, test))
    report = json.loads((run_dir / "report.json").read_text())
    return {"metrics": metrics, "wall": wall, "epochs": report["epochs"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", nargs="+", default=["Si", "Mo"])
    parser.add_argument("--max-time", type=float, default=None)
    parser.add_argument("--keep", help="directory for the run directories")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    if not SHARED.exists():
        print(f"shared data not found at {SHARED}", file=sys.stderr)
        return 1
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="mlearn-"))
    rows = []
    for element in args.elements:
        result = run(element, args.max_time, overrides(args.overrides), workdir)
        m = result["metrics"]
        rows.append(
            (
                element,
                m["energy_per_atom"]["rmse"] * 1000,
                m["energy_per_atom"]["mae"] * 1000,
                m["forces"]["rmse"],
                m["forces"]["mae"],
                result["wall"],
                result["epochs"],
            )
        )
    print(f"\nmlearn test sets, hdnnp defaults {args.overrides or ''} (runs in {workdir})")
    print(
        f"{'':3s} {'E RMSE':>8s} {'E MAE':>7s} {'F RMSE':>7s} {'F MAE':>7s}   "
        f"{'n2p2: E RMSE':>12s} {'E MAE':>6s} {'F RMSE':>7s} {'F MAE':>6s}  {'train s':>7s} "
        f"{'epochs':>6s}"
    )
    for el, er, em, fr, fm, wall, epochs in rows:
        n = N2P2[el]
        print(
            f"{el:3s} {er:8.2f} {em:7.2f} {fr:7.3f} {fm:7.3f}   {n[0]:12.2f} {n[1]:6.2f} "
            f"{n[2]:7.3f} {n[3]:6.3f}  {wall:7.0f} {epochs:6d}"
        )
    print("energies in meV/atom, forces in eV/Å")
    return 0


if __name__ == "__main__":
    sys.exit(main())
