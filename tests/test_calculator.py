"""ASE calculator: numerical forces and stress, ASE optimisers and MD, per-atom energies."""

from __future__ import annotations

import numpy as np
import pytest
from ase import units
from ase.build import bulk, molecule
from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
from ase.filters import FrechetCellFilter
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS
from conftest import cu_potential

from hdnnp import Calculator
from hdnnp.potential_file import save


@pytest.fixture
def calc():
    return Calculator(cu_potential())


def test_forces_and_stress_match_numerical_derivatives(calc):
    atoms = bulk("Cu", "fcc", a=3.6).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=1)
    atoms.set_cell(atoms.cell * 1.01, scale_atoms=True)
    atoms.calc = calc
    np.testing.assert_allclose(
        atoms.get_forces(), calculate_numerical_forces(atoms, 1e-5), atol=1e-7
    )
    np.testing.assert_allclose(
        atoms.get_stress(), calculate_numerical_stress(atoms, 1e-6), atol=1e-7
    )
    assert np.isclose(atoms.get_potential_energies().sum(), atoms.get_potential_energy())


def test_molecule_has_no_stress_and_loads_from_file(tmp_path):
    path = save(cu_potential(), tmp_path / "cu.hdnnp")
    atoms = molecule("H2O")
    atoms.set_chemical_symbols(["Cu"] * 3)
    atoms.positions *= 2.0
    atoms.calc = Calculator(str(path))
    atoms.get_potential_energy()
    assert "stress" not in atoms.calc.results


def test_relaxation_of_cell_and_positions_and_nve(calc):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=2)
    atoms.calc = calc
    opt = BFGS(FrechetCellFilter(atoms), logfile=None)
    opt.run(fmax=1e-3, steps=300)
    assert np.abs(atoms.get_forces()).max() < 1e-3
    atoms.rattle(0.02, seed=3)
    dyn = VelocityVerlet(atoms, 1.0 * units.fs)
    e0 = atoms.get_total_energy()
    dyn.run(20)
    assert abs(atoms.get_total_energy() - e0) < 1e-3


def test_stress_comes_with_the_forces_without_a_second_evaluation(calc, monkeypatch):
    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.calc = calc
    atoms.get_forces()
    assert "stress" in calc.results
    evaluations = []
    monkeypatch.setattr(calc.model, "evaluate", lambda *a, **_: evaluations.append(a))
    stress = atoms.get_stress()
    assert stress.shape == (6,) and evaluations == []
    monkeypatch.undo()
    # the same energy as a batch built from the ase.Atoms directly
    batch = calc.model.make_batch([atoms])
    assert float(calc.model.evaluate(batch).energy[0]) == pytest.approx(calc.results["energy"])
