"""SiO2 zeolites: accuracy, time to best validation error and peak memory of training.

Two setups on ``../shared/data/sio2_zeolites/train.extxyz`` (2425 VASP PBE-D3BJ frames of
12 pure-silica zeolites):

* ``simple-nn``: SIMPLE-NN's SiO2 example exactly as its ``input.yaml`` says (v2: 70
  symmetry functions per element, 30-30 networks, ...), its data pointed at the zeolite
  file (``hdnnp train input.yaml --data train.extxyz``);
* ``defaults``: ``hdnnp train --data train.extxyz`` (automatic descriptors).

For each: energy and force MAE on ``test_seen`` (other frames of the training
topologies) and ``test_unseen`` (GIS, LTA), energy per SiO2 unit (3 atoms) as in
``dft_reference.csv``, next to that file's deep-potential (DeePMD) test MAEs; wall time to
the best validation error (from log.csv) and in all; peak resident memory of the process.
Run one setup per process so that the peak memory is that setup's:

    python benchmarks/bench_zeolites.py simple-nn [--max-time 600] [--threads 2]
    python benchmarks/bench_zeolites.py defaults  [--max-time 600]
    python benchmarks/bench_zeolites.py simple-nn --evaluate RUN_DIR   # no training

``--gdf on|off``, ``--gdf-c auto|C`` and ``--gdf-max-weight W`` change the GDF weights of
either setup (the SIMPLE-NN example's are on, c = 35 for Si and 74 for O, no cap).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from hdnnp.api import load
from hdnnp.config import config_from_dict, with_overrides
from hdnnp.io import read_structures
from hdnnp.predict import predict
from hdnnp.training.run import train

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ZEO = ROOT / "sio2_zeolites"
SIMPLE_NN = ROOT / "simple-nn-sio2" / "v2" / "input.yaml"


def config_for(
    setup: str, max_time: float | None, threads: int | None, dtype: str, gdf: dict | None = None
):
    data = str(ZEO / "train.extxyz")
    if setup == "simple-nn":
        from hdnnp.descriptors.simple_nn import config_from_simple_nn

        config, notes = config_from_simple_nn(SIMPLE_NN, data_override=[data])
        for note in notes:
            print("note:", note)
    else:
        config = config_from_dict({"data": {"train": [data]}})
    training = {"max_time": max_time, "threads": threads, "dtype": dtype}
    config = with_overrides(config, training=training)
    if gdf:
        loss = dataclasses.replace(config.loss, gdf=dataclasses.replace(config.loss.gdf, **gdf))
        config = dataclasses.replace(config, loss=loss)
    return config


def gdf_overrides(args) -> dict:
    """GDF settings changed from the command line (``--gdf``, ``--gdf-c``, ...)."""
    out: dict = {}
    if args.gdf is not None:
        out["enabled"] = args.gdf == "on"
    if args.gdf_c is not None:
        out["modifier_c"] = args.gdf_c if args.gdf_c == "auto" else float(args.gdf_c)
    if args.gdf_max_weight is not None:
        out["max_weight"] = args.gdf_max_weight
    return out


def mae_by_topology(model, path: Path) -> tuple[dict, np.ndarray]:
    """({topology: (energy MAE eV/SiO2, force MAE eV/Å)}, all force component errors)."""
    frames = read_structures(path)
    preds = predict(model, frames)
    out: dict = {}
    for s, p in zip(frames, preds, strict=True):
        topo = s.info.get("topology", "?")
        e = abs(p.energy - s.energy) / s.n_atoms * 3.0  # eV per SiO2
        f = np.abs(p.forces - s.forces).ravel()
        entry = out.setdefault(topo, {"e": [], "f": []})
        entry["e"].append(e)
        entry["f"].append(f)
    maes = {
        t: (float(np.mean(v["e"])), float(np.mean(np.concatenate(v["f"])))) for t, v in out.items()
    }
    errors = np.concatenate([np.concatenate(v["f"]) for v in out.values()])
    return maes, errors


def deep_potential() -> dict:
    with open(ZEO / "dft_reference.csv") as handle:
        rows = list(csv.DictReader(handle))
    return {
        r["topology"]: (
            float(r["dp_test_energy_mae_eV_per_SiO2"] or "nan"),
            float(r["dp_test_force_mae_eV_per_A"] or "nan"),
        )
        for r in rows
    }


def time_to_best(run_dir: Path) -> tuple[float, int]:
    with open(run_dir / "log.csv") as handle:
        rows = list(csv.DictReader(handle))
    best = min(rows, key=lambda r: float(r["val_loss"]))
    return float(best["time_s"]), int(best["epoch"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("setup", choices=("simple-nn", "defaults"))
    parser.add_argument("--max-time", type=float, default=600.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=("float32", "float64"),
        help="training precision (float32 halves the memory of features)",
    )
    parser.add_argument("--keep", help="directory for the run directory")
    parser.add_argument("--gdf", choices=("on", "off"), help="GDF weights on or off")
    parser.add_argument("--gdf-c", help="modified-sigmoid c (a number or auto)")
    parser.add_argument("--gdf-max-weight", type=float, help="cap on the GDF weights")
    parser.add_argument("--evaluate", metavar="RUN_DIR", help="only evaluate a finished run")
    args = parser.parse_args()
    if not ZEO.exists():
        print(f"shared data not found at {ZEO}", file=sys.stderr)
        return 1
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="zeolites-"))
    config = config_for(args.setup, args.max_time, args.threads, args.dtype, gdf_overrides(args))
    if gdf_overrides(args):
        print(f"GDF settings changed: {gdf_overrides(args)}")
    if args.evaluate:
        run_dir = Path(args.evaluate)
        print(f"\nSiO2 zeolites, evaluating {run_dir} (no training)")
    else:
        t0 = time.perf_counter()
        run_dir = train(config, workdir / args.setup)
        wall = time.perf_counter() - t0
        best_time, best_epoch = time_to_best(run_dir)
        peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"\nSiO2 zeolites, setup '{args.setup}' (run in {run_dir})")
        print(
            f"training wall time {wall:.0f} s; best validation at epoch {best_epoch} after "
            f"{best_time:.0f} s of epochs; peak RAM {peak_gib:.2f} GiB"
        )
        print(f"written: {sorted(p.name for p in run_dir.iterdir())}")
    report(load(run_dir))
    return 0


def report(model) -> None:
    """Test-set tables: MAE per topology next to DeePMD, and the tail of the force errors
    (99th percentile and largest component error), where GDF weights should help."""
    dp = deep_potential()
    for name in ("test_seen", "test_unseen"):
        maes, errors = mae_by_topology(model, ZEO / f"{name}.extxyz")
        print(f"\n{name}: MAE energy (meV/SiO2), force (eV/Å); DeePMD (dft_reference.csv)")
        for topo, (e, f) in sorted(maes.items()):
            ref = dp.get(topo, (float("nan"), float("nan")))
            print(
                f"  {topo:4s} hdnnp {1000 * e:7.2f} {f:6.3f}   DeePMD {1000 * ref[0]:7.2f} "
                f"{ref[1]:6.3f}"
            )
        e_all = np.mean([v[0] for v in maes.values()])
        f_all = np.mean([v[1] for v in maes.values()])
        print(f"  mean over topologies: hdnnp {1000 * e_all:.2f} meV/SiO2, {f_all:.3f} eV/Å")
        print(
            f"  force component errors: 99th percentile {np.percentile(errors, 99):.3f} eV/Å, "
            f"largest {errors.max():.3f} eV/Å ({errors.size} components)"
        )


if __name__ == "__main__":
    sys.exit(main())
