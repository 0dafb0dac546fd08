"""``hdnnp relax`` end to end on the small Cu potential, run in-process.

(Named ``test_relax_command`` because pytest without ``__init__.py`` files needs test
module names that are unique across folders; ``tests/test_relax.py`` tests the library.)
"""

from __future__ import annotations

import json
import re

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from conftest import cu_potential, run_cli

from hdnnp import Calculator
from hdnnp.potential_file import save
from hdnnp.relax import lattice_parameters


def _run(capsys, *argv):
    return run_cli(capsys, "relax", *argv)


@pytest.fixture
def files(tmp_path):
    """The Cu potential saved to a file and a stretched 4-atom fcc Cu cell (extxyz, two
    frames: a = 3.8 Å, then the default last frame a = 3.7 Å)."""
    model = save(cu_potential(), tmp_path / "cu.hdnnp")
    structure = tmp_path / "cu.extxyz"
    frames = [bulk("Cu", "fcc", a=a, cubic=True) for a in (3.8, 3.7)]
    frames[1].rattle(0.03, seed=1)
    ase.io.write(structure, frames, format="extxyz")
    return model, structure


def _printed(out: str, label: str) -> list[float]:
    line = next(line for line in out.splitlines() if line.startswith(label))
    return [float(x) for x in re.findall(r"-?\d+\.\d+", line)]


def test_relax_writes_the_relaxed_structure(files, tmp_path, capsys):
    model, structure = files
    out = tmp_path / "result" / "relaxed.extxyz"
    status, stdout, _ = _run(capsys, model, structure, "-o", out, "--fmax", "0.005")
    assert status == 0
    relaxed = ase.io.read(out)
    stored_energy = relaxed.get_potential_energy()
    relaxed.calc = Calculator(cu_potential())
    assert relaxed.get_potential_energy() == pytest.approx(stored_energy, abs=1e-10)
    assert np.linalg.norm(relaxed.get_forces(), axis=1).max() < 0.005
    params = lattice_parameters(relaxed)
    np.testing.assert_allclose(_printed(stdout, "a b c"), params[:3], atol=1e-5)
    np.testing.assert_allclose(_printed(stdout, "alpha beta gamma"), params[3:], atol=1e-3)
    assert _printed(stdout, "volume")[0] == pytest.approx(relaxed.get_volume(), abs=1e-4)
    assert _printed(stdout, "energy")[0] == pytest.approx(stored_energy, abs=1e-6)
    assert params.a < 3.69  # the potential's minimum lies near a = 3.52 Å
    assert "converged" in stdout and str(out) in stdout


def test_fixed_cell_of_a_selected_frame_keeps_its_cell(files, tmp_path, capsys):
    model, structure = files
    out = tmp_path / "fixed.extxyz"
    status, _, _ = _run(capsys, model, f"{structure}@0", "-o", out, "--fixed-cell")
    assert status == 0
    np.testing.assert_allclose(ase.io.read(out).cell.array, np.eye(3) * 3.8, atol=1e-12)


def test_symmetry_symmetrises_the_rattled_frame_and_keeps_fm3m(files, tmp_path, capsys):
    pytest.importorskip("spglib")
    from hdnnp.relax import space_group

    model, structure = files  # the last frame is rattled by 0.03 Å (P1)
    out = tmp_path / "sym.extxyz"
    status, stdout, _ = _run(capsys, model, structure, "-o", out, "--symmetry", "0.2")
    assert status == 0 and "space group within 0.2 Å: Fm-3m (225) (kept)" in stdout
    relaxed = ase.io.read(out)
    assert space_group(relaxed, 1e-5) == "Fm-3m (225)"
    a, b, c, alpha, beta, gamma = lattice_parameters(relaxed)
    assert a == pytest.approx(b, abs=1e-9) and a == pytest.approx(c, abs=1e-9)
    np.testing.assert_allclose([alpha, beta, gamma], 90.0, atol=1e-9)


def test_eos_writes_plot_and_json(files, tmp_path, capsys):
    model, structure = files
    out = tmp_path / "eos" / "relaxed.extxyz"
    status, stdout, _ = _run(
        capsys, model, structure, "-o", out, "--eos", "--eos-points", "7", "--eos-strain", "0.04"
    )
    assert status == 0
    assert (out.parent / "eos.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads((out.parent / "eos.json").read_text())
    fit = data["fit"]
    assert fit["b0"] > 0 and len(data["volumes"]) == len(data["energies"]) == 7
    volume = ase.io.read(out).get_volume()
    assert min(data["volumes"]) < fit["v0"] < max(data["volumes"])
    assert data["volumes"][3] == pytest.approx(volume, rel=1e-12)  # strain 0 in the middle
    assert _printed(stdout, "  B0 ")[0] == pytest.approx(fit["b0"], abs=0.01)


def test_not_converged_exits_1_and_still_writes(files, tmp_path, capsys):
    model, structure = files
    out = tmp_path / "short.extxyz"
    status, stdout, err = _run(capsys, model, structure, "-o", out, "--max-steps", "1")
    assert status == 1 and "NOT converged" in stdout
    assert "--max-steps" in err and out.exists()


def _cluster(tmp_path):
    path = tmp_path / "cluster.xyz"
    ase.io.write(path, Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]]))
    return path


@pytest.mark.parametrize(
    "extra, message",
    [
        (["CLUSTER", "--eos"], "periodic"),
        (["CLUSTER"], "--fixed-cell"),
        (["missing.extxyz"], "cannot read a structure"),
        (["WATER"], "not known to the potential"),
        (["STRUCTURE", "--fixed-cell", "--pressure", "1"], "--pressure"),
        (["STRUCTURE", "--eos", "--eos-points", "3"], "at least 5"),
        (["STRUCTURE", "--fmax", "0"], "--fmax"),
        (["STRUCTURE", "--symmetry", "0"], "--symmetry"),
        (["STRUCTURE", "-o", "TMP"], "directory"),
    ],
)
def test_user_errors_exit_2(files, tmp_path, capsys, extra, message):
    model, structure = files
    water = tmp_path / "water.xyz"
    ase.io.write(water, Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [0, 0.96, 0]]))
    names = {
        "CLUSTER": _cluster(tmp_path),
        "WATER": water,
        "STRUCTURE": structure,
        "TMP": tmp_path,
    }
    status, _, err = _run(capsys, model, *(names.get(a, a) for a in extra))
    assert status == 2 and message in err and "error:" in err
