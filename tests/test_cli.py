"""The ``hdnnp`` command line, run in-process through :func:`hdnnp.cli.main`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch
from conftest import run_cli, shared_path
from test_potential_file import small_potential, small_structures

from hdnnp import __version__
from hdnnp._version import FORMAT_VERSION
from hdnnp.cli import all_commands
from hdnnp.io import read_input_data, read_structures
from hdnnp.potential_file import save
from hdnnp.predict import error_metrics, predict
from hdnnp.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV

VERSION_LINE = f"hdnnp {__version__} (potential format {FORMAT_VERSION})"


def _run(capsys, *argv):
    return run_cli(capsys, *argv)


@pytest.fixture
def small_files(tmp_path):
    """A small potential file and an extended XYZ data set with labels (one with stress)."""
    model_path = save(small_potential(), tmp_path / "small.hdnnp")
    images = [s.to_atoms() for s in small_structures(4)]
    stress = np.diag([0.01, 0.02, 0.03])
    images[0].calc.results["stress"] = stress
    data = tmp_path / "data.extxyz"
    ase.io.write(data, images, format="extxyz")
    return model_path, data


# --------------------------------------------------------------------------- general


def test_version(capsys):
    status, out, _ = _run(capsys, "--version")
    assert status == 0 and out.strip() == VERSION_LINE


def test_console_script_version():
    script = shutil.which("hdnnp") or str(Path(sys.executable).with_name("hdnnp"))
    if not Path(script).exists():
        pytest.skip("console script 'hdnnp' not installed (pip install -e .)")
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == VERSION_LINE


@pytest.mark.parametrize("name", sorted(all_commands()))
def test_every_command_help_has_examples(name, capsys):
    status, out, _ = _run(capsys, name, "--help")
    assert status == 0
    assert "examples:" in out and f"hdnnp {name} " in out.split("examples:", 1)[1]


def test_no_command_prints_help_and_fails(capsys):
    status, _, err = _run(capsys)
    assert status == 2 and "predict" in err


def test_usage_error_exits_2(capsys):
    status, _, err = _run(capsys, "predict", "model.hdnnp", "data.extxyz")  # no -o
    assert status == 2 and "-o" in err


# --------------------------------------------------------------------------- predict


def test_predict_small_potential(small_files, tmp_path, capsys):
    model_path, data = small_files
    out = tmp_path / "results" / "pred.extxyz"
    status, stdout, _ = _run(capsys, "predict", model_path, data, "-o", out)
    assert status == 0
    structures = read_structures(data)
    expected = predict(small_potential(), structures)
    frames = ase.io.read(out, ":")
    assert len(frames) == 4
    for s, p, atoms in zip(structures, expected, frames, strict=True):
        assert atoms.get_potential_energy() == pytest.approx(p.energy, rel=1e-14)
        np.testing.assert_allclose(atoms.get_forces(), p.forces, atol=1e-8)
        np.testing.assert_allclose(atoms.get_potential_energies(), p.atomic_energies, atol=1e-8)
        assert atoms.info["ref_energy"] == pytest.approx(s.energy, rel=1e-15)
        np.testing.assert_allclose(atoms.arrays["ref_forces"], s.forces, atol=1e-8)
        if all(s.pbc):
            np.testing.assert_allclose(atoms.get_stress(voigt=False), p.stress, atol=1e-14)
        else:
            assert "stress" not in atoms.calc.results
    np.testing.assert_allclose(frames[0].info["ref_stress"], np.diag([0.01, 0.02, 0.03]))
    metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    direct = error_metrics(structures, expected)
    assert metrics["energy_per_atom"]["rmse"] == pytest.approx(
        direct["energy_per_atom"]["rmse"], rel=1e-12
    )
    assert metrics["forces_per_element"].keys() == {"H", "O"}
    assert metrics["model"] == str(model_path) and metrics["hdnnp_version"] == __version__
    assert "meV/atom" in stdout and "forces O" in stdout


def test_predict_without_labels_writes_no_metrics(tmp_path, capsys):
    model_path = save(small_potential(), tmp_path / "small.hdnnp")
    data = tmp_path / "plain.xyz"
    ase.io.write(data, [s.to_atoms() for s in small_structures(2, labels=False)])
    out = tmp_path / "pred.extxyz"
    status, stdout, _ = _run(capsys, "predict", model_path, data, "-o", out)
    assert status == 0 and out.exists()
    assert not out.with_suffix(".metrics.json").exists() and "RMSE" not in stdout


def test_predict_float32_close_to_float64(small_files, tmp_path, capsys):
    model_path, data = small_files
    outputs = {}
    for dtype in ("float64", "float32"):
        out = tmp_path / f"{dtype}.extxyz"
        assert _run(capsys, "predict", model_path, data, "-o", out, "--dtype", dtype)[0] == 0
        outputs[dtype] = ase.io.read(out, ":")
    for a, b in zip(outputs["float64"], outputs["float32"], strict=True):
        assert b.get_potential_energy() == pytest.approx(a.get_potential_energy(), rel=1e-6)
        np.testing.assert_allclose(b.get_forces(), a.get_forces(), atol=1e-4)


def test_predict_several_files_and_frame_selection(small_files, tmp_path, capsys):
    model_path, data = small_files
    out = tmp_path / "pred.extxyz"
    status, *_ = _run(capsys, "predict", model_path, f"{data}@1:3", data, "-o", out)
    assert status == 0
    frames = ase.io.read(out, ":")
    assert [a.info["source_index"] for a in frames] == [1, 2, 0, 1, 2, 3]


def test_predict_water_reproduces_n2p2(tmp_path, capsys):
    """The shared RPBE-D3 water potential on its 20 labelled structures (Hartree/Bohr):
    the metrics are n2p2's (README: 2.866e-5 Ha/atom, 7.42e-4 Ha/Bohr)."""
    directory = shared_path("n2p2", "H2O_RPBE-D3")
    out = tmp_path / "water.extxyz"
    data = directory / "input.data"
    argv = ("predict", directory, data, "-o", out, "--units", "hartree-bohr")
    status, stdout, _ = _run(capsys, *argv)
    assert status == 0 and "wrote predictions for 20 structures" in stdout
    metrics = json.loads((tmp_path / "water.metrics.json").read_text())
    ha_per_bohr = HARTREE_TO_EV / BOHR_TO_ANGSTROM
    energy_rmse = metrics["energy_per_atom"]["rmse"] / HARTREE_TO_EV
    force_rmse = metrics["forces"]["rmse"] / ha_per_bohr
    assert f"{energy_rmse:.3e}" == "2.866e-05"
    assert f"{force_rmse:.2e}" == "7.42e-04"
    # the same numbers computed from n2p2's printed predictions
    table = np.loadtxt(directory / "energies.dat")
    n2p2_e = (table[:, 3] - table[:, 2]) / table[:, 1]
    assert energy_rmse == pytest.approx(np.sqrt(np.mean(n2p2_e**2)), rel=1e-6)
    assert metrics["energy_per_atom"]["mae"] / HARTREE_TO_EV == pytest.approx(
        np.mean(np.abs(n2p2_e)), rel=1e-6
    )
    forces = np.loadtxt(directory / "forces.dat", usecols=(3, 4, 5, 6, 7, 8))
    n2p2_f = forces[:, :3] - forces[:, 3:]
    assert force_rmse == pytest.approx(np.sqrt(np.mean(n2p2_f**2)), rel=1e-8)
    assert metrics["forces"]["n_atoms"] == 2064
    assert metrics["forces_per_element"]["O"]["n_atoms"] == 688
    frames = ase.io.read(out, ":")
    reference = read_input_data(data, units="hartree-bohr")
    assert frames[5].info["ref_energy"] == pytest.approx(reference[5].energy, rel=1e-15)
    assert frames[5].get_potential_energy() == pytest.approx(table[5, 3] * HARTREE_TO_EV, rel=1e-12)
    assert frames[0].get_stress().shape == (6,)
    per_atom = frames[0].get_potential_energies()
    assert per_atom.sum() == pytest.approx(frames[0].get_potential_energy(), rel=1e-9)


# ---------------------------------------------------------------------------- errors


def test_error_unknown_element_names_the_frame(tmp_path, capsys):
    model_path = save(small_potential(), tmp_path / "small.hdnnp")
    images = [s.to_atoms() for s in small_structures(3)]
    images[2].numbers[1] = 6  # carbon: unknown to the H/O potential
    data = tmp_path / "with_carbon.extxyz"
    ase.io.write(data, images)
    out = tmp_path / "pred.extxyz"
    status, _, err = _run(capsys, "predict", model_path, data, "-o", out)
    assert status == 2
    assert f"{data}, frame 2" in err and "C" in err and "fix:" in err
    assert not out.exists()


def test_error_missing_model(tmp_path, capsys):
    missing = tmp_path / "no_such.hdnnp"
    status, _, err = _run(capsys, "predict", missing, "data.extxyz", "-o", tmp_path / "o.xyz")
    assert status == 2 and str(missing) in err and "fix:" in err


def test_error_missing_data(small_files, tmp_path, capsys):
    model_path, _ = small_files
    missing = tmp_path / "missing.extxyz"
    status, _, err = _run(capsys, "predict", model_path, missing, "-o", tmp_path / "o.xyz")
    assert status == 2 and "missing.extxyz" in err and "fix:" in err


def test_error_malformed_n2p2_directory(tmp_path, capsys):
    directory = tmp_path / "nnp"
    directory.mkdir()
    (directory / "input.nn").write_text("elements H O\nsymfunction_short H 2 H x 0 6\n")
    status, _, err = _run(capsys, "predict", directory, "d.data", "-o", tmp_path / "o.xyz")
    assert status == 2 and "input.nn:2" in err and "eta" in err


def test_error_cuda_unavailable(small_files, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    model_path, data = small_files
    argv = ("predict", model_path, data, "-o", tmp_path / "o.xyz", "--device", "cuda")
    status, _, err = _run(capsys, *argv)
    assert status == 2 and "CUDA is not available" in err and "cpu" in err


def test_error_output_is_a_directory_or_unwritable(small_files, tmp_path, capsys):
    model_path, data = small_files
    status, _, err = _run(capsys, "predict", model_path, data, "-o", tmp_path)
    assert status == 2 and "is a directory" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, _, err = _run(capsys, "predict", model_path, data, "-o", blocker / "pred.extxyz")
    assert status == 2 and "cannot write" in err and "fix:" in err
