"""``hdnnp md`` end to end on the small Cu potential, run in-process."""

from __future__ import annotations

import ase.io
import pytest
from ase.build import bulk
from conftest import cu_potential, run_cli

from hdnnp.md import THERMO_HEADER, read_thermo
from hdnnp.potential_file import save


def _run(capsys, *argv):
    return run_cli(capsys, "md", *argv)


@pytest.fixture
def files(tmp_path):
    model = save(cu_potential(), tmp_path / "cu.hdnnp")
    structure = tmp_path / "cu.extxyz"
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.rattle(0.03, seed=2)
    ase.io.write(structure, atoms, format="extxyz")
    return model, structure


def test_nvt_run_writes_trajectory_and_thermo(files, tmp_path, capsys):
    model, structure = files
    traj, log = tmp_path / "md.extxyz", tmp_path / "thermo.csv"
    status, out, _ = _run(capsys, model, structure, "--ensemble", "nvt", "--temperature",
                          "300:600", "--timestep", "2", "--steps", "40", "--trajectory", traj,
                          "--every", "20", "--log", log, "--log-every", "5")  # fmt: skip
    assert status == 0
    assert log.read_text().splitlines()[0] == THERMO_HEADER
    assert read_thermo(log)["step"].tolist() == list(range(0, 41, 5))
    assert [f.info["step"] for f in ase.io.read(traj, ":")] == [0, 20, 40]
    assert "ns/day" in out and "atom-steps/s" in out and str(traj) in out


def test_protocol_and_restart(files, tmp_path, capsys):
    model, structure = files
    protocol = tmp_path / "mq.yaml"
    protocol.write_text(
        "timestep_fs: 2.0\nstages:\n"
        "  - {ensemble: nvt, steps: 10, temperature: [300, 900], thermostat: nose-hoover}\n"
        "  - {ensemble: npt, steps: 10, temperature: 900, pressure: 0, pdamp_fs: 100}\n"
    )
    traj = tmp_path / "mq.extxyz"
    args = (model, structure, "--protocol", protocol, "--trajectory", traj, "--every", "5")
    assert _run(capsys, *args)[0] == 0
    assert [f.info["step"] for f in ase.io.read(traj, ":")] == [0, 5, 10, 15, 20]
    # restart of a finished run: nothing left to do, files unchanged
    before = traj.read_bytes()
    assert _run(capsys, *args, "--restart")[0] == 0
    assert traj.read_bytes() == before


def test_extrapolation_stop_exits_1(tmp_path, files, capsys):
    model, _ = files
    squeezed = tmp_path / "squeezed.extxyz"
    ase.io.write(squeezed, bulk("Cu", "fcc", a=3.0, cubic=True).repeat(2))
    status, out, _ = _run(capsys, model, squeezed, "--ensemble", "nve", "--steps", "5",
                          "--max-warnings", "0")  # fmt: skip
    assert status == 1 and "stopped: step 0" in out and "extrapolation" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--ensemble", "nvt"), "nvt needs a temperature"),
        (("--ensemble", "npt", "--temperature", "300"), "npt needs a pressure"),
        (("--temperature", "hot"), "--temperature 'hot'"),
        (("--temperature", "300", "--every", "0"), "--every must be at least 1"),
        (("--temperature", "300", "--restart"), "--restart needs the --trajectory"),
    ],
)
def test_user_errors(files, capsys, extra, message):
    model, structure = files
    status, _, err = _run(capsys, model, structure, *extra)
    assert status == 2 and message in err


def test_protocol_errors_name_the_stage_and_key(files, tmp_path, capsys):
    model, structure = files
    protocol = tmp_path / "bad.yaml"
    protocol.write_text("stages:\n  - {ensemble: nvt, steps: 10, temprature: 300}\n")
    status, _, err = _run(capsys, model, structure, "--protocol", protocol)
    assert status == 2 and "stage 1" in err and "temprature" in err
