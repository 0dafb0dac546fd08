"""Extrapolation warnings: descriptor values outside the training range, as n2p2."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk
from conftest import cu_potential, shared_path

from hdnnp import Calculator, load
from hdnnp.extrapolation import as_dict, extrapolation, structure_extrapolation
from hdnnp.io import read_structures


def test_excess_is_the_distance_outside_in_units_of_the_range():
    model = cu_potential()  # training range of every function: [0, 5]
    n = model.descriptors.count("Cu")
    g = torch.full((3, n), 2.5)
    g[1, 0] = 6.0  # 1 above the maximum: excess 0.2
    g[2, 3] = -2.5  # 2.5 below the minimum: excess 0.5
    g[2, 4] = 5.0  # on the edge: inside
    report = extrapolation(model, torch.zeros(3, dtype=torch.long), g)
    assert report.n_atoms == 2 and report.n_warnings == 2 and report.per_element == {"Cu": 2}
    assert [(e.atom, e.function) for e in report.worst] == [(2, 4), (1, 1)]
    assert [e.excess for e in report.worst] == pytest.approx([0.5, 0.2])
    assert report.max_excess == pytest.approx(0.5)
    assert "atom 2 (Cu) G4" in report.summary()
    assert as_dict(report)["worst"][0]["minimum"] == 0.0


def test_inside_the_range_reports_nothing():
    model = cu_potential()
    g = torch.full((4, model.descriptors.count("Cu")), 1.0)
    report = extrapolation(model, torch.zeros(4, dtype=torch.long), g)
    assert report.n_atoms == 0 and report.worst == () and report.summary() == "no extrapolation"


def test_n2p2_water_potential_on_its_data_and_on_compressed_water():
    directory = shared_path("n2p2", "H2O_RPBE-D3")
    model = load(directory, units="hartree-bohr")
    frames = read_structures(directory / "input.data", units="hartree-bohr")
    # structures like those it was trained on stay inside the range
    assert max(structure_extrapolation(model, s).max_excess for s in frames) < 0.05
    atoms = frames[0].to_atoms()
    atoms.set_cell(atoms.cell * 0.8, scale_atoms=True)  # 49% denser than any training frame
    atoms.calc = Calculator(model)
    atoms.get_potential_energy()
    report = atoms.calc.extrapolation
    assert report.n_atoms > 0 and atoms.calc.results["extrapolations"] == report.n_atoms
    assert set(report.per_element) <= {"H", "O"}
    assert report.worst[0].excess == report.max_excess > 0


def test_calculator_reports_a_compressed_crystal():
    model = cu_potential()
    atoms = bulk("Cu", "fcc", a=2.2, cubic=True)  # G far above the range [0, 5]
    atoms.calc = Calculator(model)
    atoms.get_potential_energy()
    assert atoms.calc.extrapolation.n_atoms == len(atoms)
    assert np.isfinite(atoms.get_forces()).all()
