"""``hdnnp compare`` end to end on the small Cu potential and EMT-labelled frames.

(Named ``test_compare_command`` because pytest without ``__init__.py`` files needs test
module names that are unique across folders; ``tests/test_compare.py`` tests the library.)
"""

from __future__ import annotations

import json

import ase.io
import pytest
from ase.build import molecule
from ase.calculators.emt import EMT
from conftest import cu_potential, run_cli
from test_compare import labelled, trajectory

from hdnnp.compare import compare
from hdnnp.io import read_structures
from hdnnp.potential_file import save


def _run(capsys, *argv):
    return run_cli(capsys, "compare", *argv)


@pytest.fixture
def files(tmp_path):
    """The Cu potential as a file and 5 EMT-labelled frames (extended XYZ, with time)."""
    model = save(cu_potential(), tmp_path / "cu.hdnnp")
    data = tmp_path / "md.extxyz"
    ase.io.write(data, [s.to_atoms() for s in labelled(trajectory(5), EMT())], format="extxyz")
    return model, data


def test_compare_writes_plots_and_json(files, tmp_path, capsys):
    model, data = files
    outdir = tmp_path / "cmp"
    status, stdout, _ = _run(capsys, model, data, "-o", outdir)
    assert status == 0
    for name in ("compare_timeseries.png", "compare_parity.png"):
        assert (outdir / name).read_bytes()[:4] == b"\x89PNG"
        assert str(outdir / name) in stdout
    document = json.loads((outdir / "compare.json").read_text())
    assert document["n_frames"] == 5 and document["time"] == [0.0, 2.0, 4.0, 6.0, 8.0]
    for key in ("energy_per_atom_pred", "energy_per_atom_ref", "energy_per_atom_diff"):
        assert len(document[key]) == 5
    assert len(document["force_rmse"]) == len(document["n_atoms"]) == 5
    direct = compare(cu_potential(), read_structures(data))
    assert document["energy_per_atom_diff"] == pytest.approx(direct.energy_diff.tolist(), abs=1e-9)
    rmse = document["metrics"]["energy_per_atom"]["rmse"]
    assert rmse == pytest.approx(direct.metrics["energy_per_atom"]["rmse"], rel=1e-9)
    assert "meV/atom" in stdout and "forces Cu" in stdout


def test_frames_selected_from_two_files(files, tmp_path, capsys):
    model, data = files
    status, _, _ = _run(capsys, model, f"{data}@::2", f"{data}@-1", "-o", tmp_path)
    assert status == 0
    assert json.loads((tmp_path / "compare.json").read_text())["n_frames"] == 4


def test_unlabelled_frame_is_a_usage_error(files, tmp_path, capsys):
    model, data = files
    frames = ase.io.read(data, ":")
    frames[2].calc = None
    bad = tmp_path / "partly.extxyz"
    ase.io.write(bad, frames, format="extxyz")
    status, _, err = _run(capsys, model, bad, "-o", tmp_path / "out")
    assert status == 2
    assert f"{bad}, frame 2: no reference energy and forces" in err and "fix:" in err
    assert not (tmp_path / "out").exists()


def test_output_that_is_a_file_is_a_usage_error(files, capsys):
    model, data = files
    status, _, err = _run(capsys, model, data, "-o", data)
    assert status == 2 and "is a file" in err


def test_elements_unknown_to_the_potential_are_a_usage_error(files, tmp_path, capsys):
    model, _ = files
    water = molecule("H2O", vacuum=3.0)
    water.calc = EMT()
    water.get_potential_energy()
    data = tmp_path / "water.extxyz"
    ase.io.write(data, water, format="extxyz")
    status, _, err = _run(capsys, model, data, "-o", tmp_path / "out")
    assert status == 2 and "not known to the potential" in err and "fix:" in err
