"""End-to-end training on EMT data the test makes: convergence, resume, errors, reports."""

from __future__ import annotations

import json

import ase.io
import numpy as np
import pytest
import torch
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from hdnnp.config import config_from_dict
from hdnnp.potential_file import load_file
from hdnnp.training.run import resume, train


def emt_frames(n: int, seed: int = 0, stress: bool = False, strain: float = 0.02):
    """Rattled, strained Cu3Au-like 8-atom fcc cells labelled by EMT (eV, Å; eV/Å^3)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n):
        atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 1, 1))
        atoms.symbols[rng.choice(8, size=2, replace=False)] = "Au"
        deform = np.eye(3) + rng.normal(0, strain, (3, 3))
        atoms.set_cell(atoms.cell @ deform, scale_atoms=True)
        atoms.rattle(0.1, seed=int(rng.integers(1 << 30)))
        atoms.calc = EMT()
        e, f = atoms.get_potential_energy(), atoms.get_forces()
        labels = {"stress": atoms.get_stress()} if stress else {}
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, **labels)
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "train.extxyz"
    ase.io.write(path, emt_frames(40))
    return path


def small_config(data_file, **training):
    settings = {"max_epochs": 20, "optimizer": "lbfgs", "seed": 1, "patience": 100}
    settings.update(training)
    return config_from_dict(
        {
            "data": {"train": [str(data_file)], "validation_fraction": 0.2},
            "descriptors": {"cutoff": 4.5},
            "network": {"hidden": [10, 10]},
            "loss": {"force_weight": 0.1},
            "training": settings,
        }
    )


def test_training_converges_and_writes_the_run_directory(data_file, tmp_path):
    run = train(small_config(data_file), tmp_path / "run")
    for name in (
        "best.hdnnp",
        "last.hdnnp",
        "checkpoint.pt",
        "log.csv",
        "split.json",
        "config.yaml",
        "report.md",
        "report.json",
        "learning_curve.png",
        "parity_energy.png",
        "parity_forces_Cu.png",
        "parity_forces_Au.png",
    ):
        assert (run / name).exists(), name
    report = json.loads((run / "report.json").read_text())
    val = report["sets"]["validation"]
    # EMT energies of these cells spread over ~60 meV/atom and forces over ~1 eV/A; the
    # 20-epoch L-BFGS fit must reach (stated bound) 5 meV/atom and 0.08 eV/A on the
    # validation frames (measured: 2.7 meV/atom and 0.054 eV/A).
    assert val["energy_per_atom"]["rmse"] < 0.005
    assert val["forces"]["rmse"] < 0.08
    stats = report["descriptor_statistics"]
    assert set(stats) == {"Cu", "Au"} and all(len(v) > 10 for v in stats.values())
    assert {"function", "min", "max", "mean", "sigma", "constant"} <= set(stats["Cu"][0])
    split = json.loads((run / "split.json").read_text())
    assert len(split["train"]) == 32 and len(split["validation"]) == 8
    model = load_file(run / "best.hdnnp")
    assert model.elements == ("Cu", "Au")


def test_resume_equals_uninterrupted_run(data_file, tmp_path):
    adam = {"optimizer": "adam", "batch_size": 8, "learning_rate": 0.005}
    full = train(small_config(data_file, max_epochs=6, **adam), tmp_path / "full")
    part = train(small_config(data_file, max_epochs=3, **adam), tmp_path / "part")
    resume(part, {"training": {"max_epochs": 6}})
    a, b = load_file(full / "last.hdnnp"), load_file(part / "last.hdnnp")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    log_a = (full / "log.csv").read_text().splitlines()
    log_b = (part / "log.csv").read_text().splitlines()
    drop_time = [",".join(line.split(",")[:1] + line.split(",")[2:]) for line in log_a]
    assert drop_time == [",".join(line.split(",")[:1] + line.split(",")[2:]) for line in log_b]


def test_unknown_config_key_is_named():
    with pytest.raises(ValueError, match="unknown key 'learnig_rate'.*learning_rate"):
        config_from_dict({"training": {"learnig_rate": 0.1}})


def test_corrupted_frame_is_refused_or_dropped(tmp_path):
    frames = emt_frames(12, seed=3)
    forces = frames[5].get_forces()
    forces[2, 1] = np.nan
    frames[5].calc = SinglePointCalculator(
        frames[5], energy=frames[5].get_potential_energy(), forces=forces
    )
    path = tmp_path / "bad.extxyz"
    ase.io.write(path, frames)
    config = small_config(path, max_epochs=1)
    with pytest.raises(ValueError, match=r"(?s)frame 5: nan.*drop_corrupted"):
        train(config, tmp_path / "refused")
    dropping = config_from_dict(
        {
            **_as_dict(config),
            "data": {"train": [str(path)], "validation_fraction": 0.2, "drop_corrupted": True},
        }
    )
    run = train(dropping, tmp_path / "dropped")
    report = json.loads((run / "report.json").read_text())
    assert [(d["frame"], d["kind"]) for d in report["dropped_frames"]] == [(5, "nan")]


def _as_dict(config):
    from hdnnp.config import to_dict

    data = to_dict(config)
    data["descriptors"] = {k: v for k, v in data["descriptors"].items() if v is not None}
    return data


def test_gdf_weights_are_used_and_plotted(data_file, tmp_path):
    config = small_config(data_file, max_epochs=2)
    data = _as_dict(config)
    data["loss"]["gdf"] = {"enabled": True, "sigma": 0.5, "modifier_c": 1.0, "max_weight": 3}
    run = train(config_from_dict(data), tmp_path / "gdf")
    assert (run / "gdf_histogram.png").exists()
    assert json.loads((run / "report.json").read_text())["epochs"] == 2
    summary = json.loads((run / "gdf.json").read_text())
    for entry in summary.values():
        assert entry["sigma"] == 0.5 and entry["c"] == 1.0
        assert entry["max_weight"] <= 3.0 + 1e-9
        assert 0 < entry["effective_atoms"] <= entry["atoms"]


def test_gdf_warns_when_few_atoms_carry_the_force_loss():
    from hdnnp.training.gdf import GDFResult, effective_sample_size
    from hdnnp.training.gdf_setup import _warning

    x = torch.cat([torch.full((999,), 5.0), torch.tensor([1e4])]).double()
    weights = x * torch.sigmoid(x - 74.0)
    weights = weights / weights.mean()
    few = GDFResult(weights, x, 0.1, 74.0, effective_sample_size(weights))
    message = _warning("O", few, None)
    assert message and "1 of 1000 O atoms" in message and "max_weight" in message
    even = torch.ones(1000, dtype=torch.float64)
    assert _warning("O", GDFResult(even, x, 0.1, 74.0, 1000.0), None) is None


def test_training_on_stress_lowers_the_stress_error(tmp_path):
    import csv

    path = tmp_path / "stressed.extxyz"
    ase.io.write(path, emt_frames(40, seed=3, stress=True, strain=0.04))
    reports, last = {}, {}
    for weight in (0.0, 1e3):
        data = _as_dict(small_config(path, max_epochs=15))
        data["loss"]["stress_weight"] = weight
        # zeta 1, 4 (96 functions per element): with the default 132 (zeta 16 too) the
        # networks overfit these 32 frames and the validation stress says little
        data["descriptors"]["zetas"] = [1.0, 4.0]
        run = train(config_from_dict(data), tmp_path / f"w{weight:g}")
        reports[weight] = json.loads((run / "report.json").read_text())["sets"]
        with open(run / "log.csv") as handle:
            last[weight] = list(csv.DictReader(handle))[-1]
    plain, fitted = (reports[w]["validation"]["stress"] for w in (0.0, 1e3))
    assert plain["unit"] == "GPa" and plain["n_structures"] == 8
    # EMT stresses of 4 % strains are several GPa. Fitted on 32 frames (192 numbers), the
    # training error falls severalfold (measured 0.88 -> 0.11 GPa); the validation error
    # less (0.57 -> 0.44 GPa), as 32 frames constrain the stress poorly.
    train_plain, train_fitted = (float(last[w]["train_stress_rmse"]) for w in (0.0, 1e3))
    assert train_fitted < 0.3 * train_plain, (train_plain, train_fitted)
    assert fitted["rmse"] < plain["rmse"], (plain, fitted)
    stress_log = float(last[0.0]["val_stress_rmse"])
    assert abs(stress_log - plain["rmse"]) < 0.2 * plain["rmse"]  # log and report agree


def test_cuda_request_without_a_gpu_is_a_clear_error(data_file, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="no CUDA device"):
        train(small_config(data_file, device="cuda"), tmp_path / "gpu")


def test_command_line_train_resume_and_predict(data_file, tmp_path, capsys):
    from hdnnp.cli import main

    run = tmp_path / "cli"
    args = ["train", "--data", str(data_file), "-o", str(run), "--max-epochs", "1", "--seed", "2"]
    assert main(args) == 0
    assert (run / "best.hdnnp").exists()
    assert main(["train", "--resume", str(run), "--max-epochs", "2"]) == 0
    assert json.loads((run / "report.json").read_text())["epochs"] == 2
    out = tmp_path / "pred.extxyz"
    assert main(["predict", str(run), str(data_file), "-o", str(out)]) == 0
    assert len(ase.io.read(out, ":")) == 40
    assert main(["train", "--print-config"]) == 0
    assert "learning_rate" in capsys.readouterr().out
    assert (
        main(["train", "--data", str(tmp_path / "missing.extxyz"), "-o", str(tmp_path / "x")]) == 2
    )


def test_features_warn_before_they_exceed_the_memory_budget(data_file, capsys):
    from hdnnp.io import read_structures
    from hdnnp.training.setup import initial_model
    from hdnnp.training.trainer import frame_features, physical_memory

    frames = read_structures(data_file)
    config = small_config(data_file)
    model = initial_model(config, ["Cu", "Au"], frames)
    full = frame_features(model, frames, torch.float64, "features")
    total = sum(f.nbytes for f in full.features)
    assert "warning" not in capsys.readouterr().out
    frame_features(model, frames, torch.float64, "features", memory_budget=total // 2)
    out = capsys.readouterr().out
    assert "warning: the descriptors" in out and "derivative_dtype float32" in out
    frame_features(
        model, frames, torch.float64, "f", total // 2, derivative_dtype=torch.float32
    )  # already float32: no advice to halve it
    out = capsys.readouterr().out
    assert "warning: the descriptors" in out and "halves" not in out
    frame_features(model, frames, torch.float64, "features", memory_budget=2 * total)
    assert "warning" not in capsys.readouterr().out
    assert physical_memory() is None or physical_memory() > 2**28


def test_derivative_dtype_auto_is_float32_on_the_cpu_and_never_above_training(data_file):
    from hdnnp.contraction import kernels_available
    from hdnnp.training.run import derivative_dtype

    def resolve(**training):
        return derivative_dtype(small_config(data_file, **training))

    fused = kernels_available(torch.zeros(1))
    assert resolve() == (torch.float32 if fused else torch.float64)
    assert resolve(derivative_dtype="float64") == torch.float64
    assert resolve(derivative_dtype="float32") == torch.float32
    assert resolve(dtype="float32", derivative_dtype="float64") == torch.float32
    with pytest.raises(ValueError, match="training.derivative_dtype must be auto, float64"):
        small_config(data_file, derivative_dtype="float16")


def test_float32_derivatives_train_like_float64(data_file, tmp_path, capsys):
    """Same seed, dG/dr stored in float32 or float64: the same Adam trajectory to far
    below fitting precision (L-BFGS line searches would amplify any rounding)."""
    rows = []
    for name in ("float32", "float64"):
        config = small_config(data_file, max_epochs=3, optimizer="adam", derivative_dtype=name)
        run = train(config, tmp_path / name)
        assert f"dG/dr in {name}" in capsys.readouterr().out
        rows.append(json.loads((run / "report.json").read_text())["sets"]["validation"])
    e32, e64 = (r["energy_per_atom"]["rmse"] for r in rows)
    f32, f64 = (r["forces"]["rmse"] for r in rows)
    assert e32 != e64 and abs(e32 - e64) < 1e-5 * e64 and abs(f32 - f64) < 1e-5 * f64
