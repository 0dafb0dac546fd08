"""Training from a Python script with a typed Config (the same run as ``hdnnp train``).

1. Data: rattled and strained fcc Cu-Au cells labelled with ASE's EMT (energy, forces,
   stress), written as extended XYZ: a training file and a separate test file.
2. A :class:`hdnnp.config.Config` built from its dataclasses (every section has
   defaults; ``hdnnp train --print-config`` lists all keys with units), validated, and
   saved as YAML so that ``hdnnp train OUT/config.yaml`` repeats the run.
3. ``hdnnp.training.run.train(config, run_dir)``: the run directory gets best.hdnnp,
   log.csv, report.md/json and the learning-curve and parity plots.
4. The best potential loaded with ``hdnnp.load`` and evaluated on the test file with
   ``hdnnp.predict.predict``; errors from ``error_metrics``.

Run: ``.venv/bin/python examples/train_from_script.py [-o OUT] [--quick]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def emt_frames(n: int, seed: int) -> list:
    """``n`` 32-atom fcc cells, random Cu/Au (x_Au 0-1), strained 2 %, rattled 0.1 Å."""
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        x_au = rng.uniform(0.0, 1.0)
        atoms = bulk("Cu", "fcc", a=3.59 + 0.465 * x_au, cubic=True).repeat(2)
        atoms.symbols[rng.choice(32, round(32 * x_au), replace=False)] = "Au"
        atoms.set_cell(atoms.cell @ (np.eye(3) + rng.normal(0, 0.02, (3, 3))), True)
        atoms.rattle(0.1, seed=int(rng.integers(1 << 30)))
        atoms.calc = EMT()
        labels = {
            "energy": atoms.get_potential_energy(),
            "forces": atoms.get_forces(),
            "stress": atoms.get_stress(),
        }
        atoms.calc = SinglePointCalculator(atoms, **labels)
        frames.append(atoms)
    return frames


def write_data(folder: Path, n_train: int, n_test: int) -> tuple[Path, Path]:
    """train.extxyz and test.extxyz (different seeds) in ``folder``."""
    import ase.io

    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.extxyz", folder / "test.extxyz"
    ase.io.write(paths[0], emt_frames(n_train, seed=1))
    ase.io.write(paths[1], emt_frames(n_test, seed=2))
    return paths


def make_config(train_file: Path, test_file: Path, max_epochs: int):
    """Every section as a dataclass; keys left out keep their defaults. Data paths are
    absolute, so that the saved YAML works from any folder."""
    from hdnnp.config import (
        Config,
        DataConfig,
        DescriptorConfig,
        LossConfig,
        NetworkConfig,
        Source,
        TrainingConfig,
        validate,
    )

    config = Config(
        data=DataConfig(
            train=(Source(str(train_file.resolve())),),
            test=(Source(str(test_file.resolve())),),
            validation_fraction=0.1,
        ),
        descriptors=DescriptorConfig(cutoff=5.0, n_radial=10, n_angular=3, zetas=(1.0, 4.0)),
        network=NetworkConfig(hidden=(20, 20), activation="t"),
        loss=LossConfig(energy_weight=1.0, force_weight=0.1),
        training=TrainingConfig(optimizer="lbfgs", max_epochs=max_epochs, seed=0, threads=1),
    )
    validate(config)  # cross-field checks, as when a YAML file is loaded
    return config


def save_yaml(config, path: Path) -> None:
    """The config as YAML, for ``hdnnp train path``."""
    import yaml

    from hdnnp.config import to_dict

    path.write_text(yaml.safe_dump(to_dict(config), sort_keys=False))


def test_errors(run_dir: Path, test_file: Path) -> dict:
    """Energy (eV/atom) and force (eV/Å) errors of the best potential on ``test_file``."""
    import hdnnp
    from hdnnp.predict import error_metrics, predict

    model = hdnnp.load(run_dir)  # a run directory means its best.hdnnp
    structures = hdnnp.read_structures(test_file)
    return error_metrics(structures, predict(model, structures))


def main(argv: list[str] | None = None) -> int:
    from hdnnp.training.run import train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="runs/train_from_script", help="output folder")
    parser.add_argument("--quick", action="store_true", help="fewer frames and epochs")
    args = parser.parse_args(argv)
    out = Path(args.output)
    n_train, n_test, epochs = (40, 8, 5) if args.quick else (150, 30, 25)
    train_file, test_file = write_data(out / "data", n_train, n_test)
    print(f"data: {n_train} training and {n_test} test frames in {out / 'data'}")
    config = make_config(train_file, test_file, epochs)
    save_yaml(config, out / "config.yaml")
    print(f"config: {out / 'config.yaml'} (hdnnp train {out / 'config.yaml'} repeats the run)")
    run_dir = out / "run"
    if (run_dir / "checkpoint.pt").exists():
        print(f"{run_dir} already holds a run: delete it or choose another -o", file=sys.stderr)
        return 1
    train(config, run_dir)
    metrics = test_errors(run_dir, test_file)
    print(
        f"\ntest set: E RMSE {1000 * metrics['energy_per_atom']['rmse']:.2f} meV/atom, "
        f"F RMSE {metrics['forces']['rmse']:.4f} eV/Å; run directory {run_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
