"""Molecular dynamics: energy conservation, thermostats and barostats, ramps, files, restart."""

from __future__ import annotations

import os
import signal

import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from conftest import cu_potential

from hdnnp import Calculator
from hdnnp.md import (
    THERMO_HEADER,
    MDSettings,
    Stage,
    initialize_velocities,
    make_integrator,
    read_thermo,
    restart_atoms,
    run_md,
    set_targets,
)


@pytest.fixture(scope="module")
def model():
    return cu_potential()


def _crystal(repeat=(2, 2, 2)):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat(repeat)
    atoms.rattle(0.05, seed=1)
    return atoms


def test_nve_conserves_energy(model, tmp_path):
    """Velocity Verlet, dt 2 fs, 600 K, 500 steps: |E_tot(t) - E_tot(0)| < 1e-4 eV/atom
    (the integrator's error is O(dt^2); measured ~2e-6 eV/atom for this smooth potential)."""
    atoms = _crystal((3, 3, 3))
    settings = MDSettings(timestep_fs=2.0, log=str(tmp_path / "nve.csv"), initial_temperature=600)
    summary = run_md(atoms, Calculator(model), [Stage("nve", 500)], settings)
    thermo = read_thermo(tmp_path / "nve.csv")
    drift = np.abs(thermo["etot_eV"] - thermo["etot_eV"][0]).max() / len(atoms)
    assert drift < 1e-4
    assert summary.max_drift_eV_per_atom == pytest.approx(drift, rel=0.5, abs=1e-7)
    assert thermo["temperature_K"].std() > 10  # the atoms do move: kinetic <-> potential
    assert summary.steps == 500 and summary.atom_steps_per_s > 0


@pytest.mark.parametrize("thermostat", ["bussi", "langevin", "nose-hoover"])
def test_nvt_reaches_the_target_temperature(model, thermostat, tmp_path):
    atoms = _crystal()
    stage = Stage("nvt", 600, temperature=(500.0, 500.0), thermostat=thermostat, tdamp_fs=20)
    settings = MDSettings(timestep_fs=2.0, log=str(tmp_path / "t.csv"), initial_temperature=50)
    run_md(atoms, Calculator(model), [stage], settings)
    temperature = read_thermo(tmp_path / "t.csv")["temperature_K"]
    # 32 atoms: instantaneous T fluctuates by ~sqrt(2/(3N)) = 14%; the mean of the last
    # 300 steps lies within 20% of the target
    assert abs(temperature[-30:].mean() - 500) < 100
    assert temperature[0] < 100


@pytest.mark.parametrize(
    ("ensemble", "thermostat"),
    [("nvt", "bussi"), ("nvt", "langevin"), ("nvt", "nose-hoover"), ("npt", "nose-hoover")],
)
def test_ramps_move_the_integrator_targets(model, ensemble, thermostat):
    atoms = _crystal()
    atoms.calc = Calculator(model)
    initialize_velocities(atoms, 300.0, np.random.default_rng(0))
    pressure = (0.0, 2.0) if ensemble == "npt" else None
    stage = Stage(
        ensemble, 10, temperature=(300.0, 900.0), pressure=pressure, thermostat=thermostat
    )
    dyn = make_integrator(atoms, stage, 1.0, np.random.default_rng(0))
    temperature, pressure_now = stage.target(5)
    assert temperature == pytest.approx(600.0)
    set_targets(dyn, stage, temperature, pressure_now)
    kt = {"langevin": lambda: dyn.temp, "bussi": lambda: dyn.temp}.get(
        thermostat, lambda: dyn._thermostat._kT
    )()
    assert kt == pytest.approx(units.kB * 600.0)
    if ensemble == "npt":
        assert dyn._pressure_au == pytest.approx(1.0 * units.GPa)
        assert dyn._barostat._kT == pytest.approx(units.kB * 600.0)


@pytest.mark.parametrize("barostat", ["iso", "aniso"])
def test_npt_holds_the_pressure_and_compresses(barostat, tmp_path):
    """EMT copper (B ~ 134 GPa): at 5 GPa the volume is ~3.5% below the 0 GPa volume and
    the mean pressure is the target within the fluctuations of a 32-atom cell."""
    volumes = {}
    for pressure in (0.0, 5.0):
        atoms = _crystal()
        stage = Stage("npt", 600, (300.0, 300.0), (pressure, pressure), barostat=barostat,
                      tdamp_fs=50, pdamp_fs=200)  # fmt: skip
        log = tmp_path / f"{barostat}{pressure}.csv"
        run_md(atoms, EMT(), [stage], MDSettings(timestep_fs=2.0, log=str(log)))
        thermo = read_thermo(log)
        volumes[pressure] = thermo["volume_A3"][30:].mean()
        assert abs(thermo["pressure_GPa"][30:].mean() - pressure) < 1.0
    assert 0.95 < volumes[5.0] / volumes[0.0] < 0.985


def test_files_have_the_documented_layout(model, tmp_path):
    traj, log = tmp_path / "md.extxyz", tmp_path / "md.csv"
    settings = MDSettings(trajectory=str(traj), every=5, log=str(log), log_every=2)
    run_md(_crystal(), Calculator(model), [Stage("nvt", 20, (300.0, 300.0))], settings)
    assert log.read_text().splitlines()[0] == THERMO_HEADER
    thermo = read_thermo(log)
    assert thermo["step"].tolist() == list(range(0, 21, 2))
    assert thermo["time_fs"].tolist() == list(range(0, 21, 2))
    assert np.allclose(thermo["etot_eV"], thermo["epot_eV"] + thermo["ekin_eV"])
    frames = ase.io.read(traj, ":")
    assert [f.info["step"] for f in frames] == [0, 5, 10, 15, 20]
    assert frames[-1].get_momenta().any() and frames[-1].get_forces().shape == (32, 3)
    assert frames[-1].get_potential_energy() == pytest.approx(thermo["epot_eV"][-1])
    assert (tmp_path / "md.extxyz.restart.json").exists()


PROTOCOLS = {
    "nve": [Stage("nve", 30)],
    "bussi": [Stage("nvt", 30, (300.0, 600.0), thermostat="bussi")],
    "langevin": [Stage("nvt", 30, (300.0, 300.0), thermostat="langevin")],
    "nose-hoover": [
        Stage("nvt", 15, (300.0, 300.0), thermostat="nose-hoover"),
        Stage("nve", 15),
    ],  # fmt: skip
    "npt-iso": [Stage("npt", 30, (300.0, 300.0), (1.0, 0.0), barostat="iso", pdamp_fs=100)],
    "npt-aniso": [Stage("npt", 30, (300.0, 300.0), (0.0, 0.0), barostat="aniso", pdamp_fs=100)],
}


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_restart_continues_the_same_trajectory(model, name, tmp_path):
    stages = PROTOCOLS[name]

    def settings(folder):
        folder.mkdir()
        return MDSettings(
            trajectory=str(folder / "md.extxyz"), every=5, log=str(folder / "md.csv"),
            log_every=1, initial_temperature=300, seed=3,
        )  # fmt: skip

    whole = settings(tmp_path / "whole")
    run_md(_crystal(), Calculator(model), stages, whole)

    parts = settings(tmp_path / "parts")

    def interrupt(step, _row):  # Ctrl-C during step 13: the run stops after it
        if step == 13:
            os.kill(os.getpid(), signal.SIGINT)

    first = run_md(_crystal(), Calculator(model), stages, parts, on_step=interrupt)
    assert first.stopped.startswith("interrupted") and first.steps == 13
    # a later frame was already on disk in a killed run: the restart cuts it away
    with open(parts.trajectory, "a") as handle:
        handle.write("garbage from a killed run\n")
    second = run_md(restart_atoms(parts), Calculator(model), stages, parts, restart=True)
    assert second.steps == 30 and second.stopped == ""
    assert (tmp_path / "parts" / "md.csv").read_text() == (
        tmp_path / "whole" / "md.csv"
    ).read_text()
    a, b = ase.io.read(whole.trajectory, ":"), ase.io.read(parts.trajectory, ":")
    assert len(a) == len(b) == 7
    assert np.array_equal(a[-1].positions, b[-1].positions)
    assert np.array_equal(a[-1].cell, b[-1].cell)


def test_extrapolation_stops_the_run_past_the_threshold(model, tmp_path):
    atoms = bulk("Cu", "fcc", a=3.0, cubic=True).repeat(2)  # compressed: far outside [0, 5]
    settings = MDSettings(log=str(tmp_path / "x.csv"), max_warnings=3)
    summary = run_md(atoms, Calculator(model), [Stage("nve", 10)], settings)
    assert summary.stopped.startswith("step 0:") and "extrapolation warnings" in summary.stopped
    assert summary.max_extrapolating_atoms == 32
    assert read_thermo(tmp_path / "x.csv")["extrapolations"].tolist() == [32]


def test_invalid_stages_are_refused():
    with pytest.raises(ValueError, match="nvt needs a temperature"):
        Stage("nvt", 10)
    with pytest.raises(ValueError, match="npt needs a pressure"):
        Stage("npt", 10, temperature=(300.0, 300.0))
    with pytest.raises(ValueError, match="ensemble must be one of"):
        Stage("nph", 10)
    with pytest.raises(ValueError, match="thermostat"):
        Stage("nvt", 10, (300.0, 300.0), thermostat="berendsen")
