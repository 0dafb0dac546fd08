"""Relaxation, lattice parameters and the Birch–Murnaghan equation of state.

ASE's EMT calculator is the reference: its lattice constant and bulk modulus are obtained
independently, from an EMT energy scan fitted with ase.eos.EquationOfState.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState, birchmurnaghan

from hdnnp.relax import (
    NotConvergedWarning,
    birch_murnaghan_energy,
    birch_murnaghan_fit,
    eos_scan,
    lattice_parameters,
    plot_eos,
    relax,
    volume_strains,
)


def _emt_scan(lengths) -> tuple[np.ndarray, np.ndarray]:
    """Volumes (Å^3) and EMT energies (eV) of the 4-atom cubic fcc Cu cell."""
    volumes, energies = [], []
    for a in lengths:
        atoms = bulk("Cu", "fcc", a=a, cubic=True)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    return np.array(volumes), np.array(energies)


@pytest.fixture(scope="module")
def emt_reference() -> tuple[float, float]:
    """EMT's fcc Cu lattice constant (Å) and bulk modulus (GPa) from ASE's own EOS fit
    (stabilised jellium, numpy only) of a scan about the minimum (~3.59 Å)."""
    volumes, energies = _emt_scan(np.linspace(3.50, 3.68, 9))
    v0, _, b0 = EquationOfState(volumes, energies).fit()
    return v0 ** (1.0 / 3.0), b0 / units.GPa


def _strained_cu() -> Atoms:
    """Cubic fcc Cu with a 2-4 % normal and a 1-2 % shear strain, EMT attached."""
    atoms = bulk("Cu", "fcc", a=3.59, cubic=True)
    strain = np.array([[1.04, 0.02, 0.0], [0.0, 0.97, 0.01], [0.0, 0.0, 1.02]])
    atoms.set_cell(atoms.cell @ strain, scale_atoms=True)
    atoms.calc = EMT()
    return atoms


# ------------------------------------------------------------------------- relaxation


def test_relax_recovers_emt_lattice_constant(emt_reference):
    a0, _ = emt_reference
    atoms = _strained_cu()
    start = atoms.positions.copy()
    result = relax(atoms, fmax=1e-4)
    # fmax 1e-4 eV/Å bounds |stress| by 1e-4 * 4 / 46 eV/Å^3 ~ 1.4e-3 GPa, i.e. a relative
    # length error ~ 1e-5 at B0 ~ 134 GPa; the SJ fit of the scan agrees to ~2e-5 Å.
    a, b, c, alpha, beta, gamma = lattice_parameters(result.atoms)
    assert result.converged
    np.testing.assert_allclose([a, b, c], a0, atol=2e-4)
    np.testing.assert_allclose([alpha, beta, gamma], 90.0, atol=0.01)
    assert result.max_stress < 0.01 and abs(result.pressure) < 0.01
    ideal = bulk("Cu", "fcc", a=a0, cubic=True)
    ideal.calc = EMT()
    assert result.energy == pytest.approx(ideal.get_potential_energy(), abs=1e-7)
    np.testing.assert_array_equal(atoms.positions, start)  # the input is not changed


def test_relax_at_pressure_reaches_it_and_compresses(emt_reference):
    a0, _ = emt_reference
    result = relax(_strained_cu(), fmax=1e-4, pressure_gpa=5.0)
    assert result.converged
    # EMT's own stress at the relaxed cell: -tr(σ)/3 = 5 GPa, within fmax's bound
    check = result.atoms.copy()
    check.calc = EMT()
    pressure = -np.trace(check.get_stress(voigt=False)) / 3.0 / units.GPa
    assert pressure == pytest.approx(5.0, abs=0.01)
    assert result.pressure == pytest.approx(pressure, abs=1e-9)
    assert result.atoms.get_volume() < a0**3


@pytest.mark.parametrize("optimizer", ["bfgs", "fire"])
def test_rattled_supercell_relaxes_below_fmax_in_its_cell(optimizer):
    atoms = bulk("Cu", "fcc", a=3.59, cubic=True).repeat(2)
    atoms.set_cell(atoms.cell * 1.01, scale_atoms=True)  # under tension: stress stays
    atoms.rattle(0.1, seed=4)
    atoms.calc = EMT()
    e_start = atoms.get_potential_energy()
    result = relax(atoms, fmax=0.01, fixed_cell=True, optimizer=optimizer)
    check = result.atoms.copy()
    check.calc = EMT()
    forces = np.linalg.norm(check.get_forces(), axis=1)
    assert result.converged and forces.max() < 0.01
    assert result.max_force == pytest.approx(forces.max(), abs=1e-12)
    assert result.energy < e_start - 0.1  # rattling by 0.1 Å costs ~0.3 eV here
    np.testing.assert_array_equal(result.atoms.cell.array, atoms.cell.array)
    assert result.pressure < -1.0  # the stretched cell stays under tension (GPa)


def test_not_converged_is_reported():
    with pytest.warns(NotConvergedWarning, match="not converged in 2 steps"):
        result = relax(_strained_cu(), fmax=1e-4, max_steps=2)
    assert not result.converged and result.steps == 2


def test_relax_of_a_cluster_moves_positions_only():
    cluster = Atoms("Cu4", positions=[[0, 0, 0], [2.6, 0, 0], [0, 2.4, 0], [0, 0, 2.7]])
    cluster.calc = EMT()
    result = relax(cluster, fmax=0.01, fixed_cell=True)
    assert result.converged and result.max_stress is None and result.pressure is None


@pytest.mark.parametrize(
    "atoms, kwargs, message",
    [
        (bulk("Cu"), {}, "calculator"),
        (Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]]), {}, "fixed_cell=True"),
        (bulk("Cu"), {"fixed_cell": True, "pressure_gpa": 1.0}, "pressure"),
        (bulk("Cu"), {"fmax": 0.0}, "fmax"),
        (bulk("Cu"), {"optimizer": "lbfgs"}, "optimizer"),
    ],
)
def test_relax_rejects_bad_input(atoms, kwargs, message):
    if message != "calculator":
        atoms.calc = EMT()
    with pytest.raises(ValueError, match=message):
        relax(atoms, **kwargs)


# ------------------------------------------------------------------ lattice parameters


def test_lattice_parameters_cubic_and_hexagonal():
    cubic = lattice_parameters(bulk("Cu", "fcc", a=3.61, cubic=True))
    np.testing.assert_allclose(cubic, [3.61, 3.61, 3.61, 90, 90, 90], atol=1e-12)
    hexagonal = lattice_parameters(bulk("Mg", "hcp", a=3.21, c=5.21))
    np.testing.assert_allclose(hexagonal, [3.21, 3.21, 5.21, 90, 90, 120], atol=1e-12)
    assert hexagonal.gamma == pytest.approx(120.0)


def test_lattice_parameters_triclinic():
    cell = np.array([[3.0, 0.0, 0.0], [1.0, 4.0, 0.0], [0.5, 1.0, 5.0]])
    params = lattice_parameters(Atoms("Cu", cell=cell, pbc=True))
    b, c = math.sqrt(17.0), math.sqrt(26.25)

    def angle(dot, n1, n2):
        return math.degrees(math.acos(dot / (n1 * n2)))

    expected = [3.0, b, c, angle(4.5, b, c), angle(1.5, 3.0, c), angle(3.0, 3.0, b)]
    np.testing.assert_allclose(params, expected, rtol=1e-12)


def test_lattice_parameters_need_a_3d_cell():
    with pytest.raises(ValueError, match="three"):
        lattice_parameters(Atoms("Cu", cell=[4.0, 4.0, 0.0], pbc=[True, True, False]))


# ------------------------------------------------------------------- Birch–Murnaghan


def test_energy_formula_matches_ase():
    v = np.linspace(9.0, 14.0, 7)
    np.testing.assert_allclose(
        birch_murnaghan_energy(v, 11.8, -3.5, 140.0, 4.7),
        birchmurnaghan(v, -3.5, 140.0 * units.GPa, 4.7, 11.8),
        rtol=1e-14,
    )


@pytest.mark.parametrize("v0, e0, b0, b0p", [(11.8, -3.5, 140.0, 4.7), (40.0, 12.0, 35.0, 3.5)])
def test_fit_recovers_exact_birch_murnaghan_parameters(v0, e0, b0, b0p):
    volumes = v0 * np.linspace(0.9, 1.12, 8)
    energies = birchmurnaghan(volumes, e0, b0 * units.GPa, b0p, v0)  # ASE's implementation
    fit = birch_murnaghan_fit(volumes, energies)
    assert fit.v0 == pytest.approx(v0, rel=1e-10)
    assert fit.e0 == pytest.approx(e0, abs=1e-10)
    assert fit.b0 == pytest.approx(b0, rel=1e-9)
    assert fit.b0_prime == pytest.approx(b0p, rel=1e-8)
    assert fit.residual_rms < 1e-12


def test_fit_agrees_with_ase_on_emt_data():
    pytest.importorskip("scipy")  # ase's birchmurnaghan fit uses scipy.optimize
    volumes, energies = _emt_scan(np.linspace(3.48, 3.70, 11))
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    v0, e0, b0 = eos.fit()
    fit = birch_murnaghan_fit(volumes, energies)
    # same model and least-squares objective; ASE's nonlinear optimiser stops at ~1e-8
    assert fit.v0 == pytest.approx(v0, rel=1e-6)
    assert fit.e0 == pytest.approx(e0, abs=1e-7)
    assert fit.b0 == pytest.approx(b0 / units.GPa, rel=1e-6)
    assert fit.b0_prime == pytest.approx(eos.eos_parameters[2], rel=1e-4)
    assert 0 < fit.residual_rms < 1e-4  # EMT is not exactly Birch–Murnaghan


def test_fit_warns_for_an_extrapolated_minimum():
    volumes = np.linspace(12.0, 14.0, 6)  # all above V0 = 11.8
    energies = birchmurnaghan(volumes, -3.5, 140.0 * units.GPa, 4.7, 11.8)
    with pytest.warns(UserWarning, match="extrapolation"):
        fit = birch_murnaghan_fit(volumes, energies)
    assert fit.v0 == pytest.approx(11.8, rel=1e-8)


@pytest.mark.parametrize(
    "volumes, energies, message",
    [
        ([10.0, 11.0, 12.0], [1.0, 0.0, 1.0], "at least 4"),
        (np.linspace(10, 13, 6), 10.0 * np.linspace(10, 13, 6) ** (-2 / 3), "no minimum"),
        ([10.0, 11.0, 12.0, 13.0], [1.0, 0.0, 1.0], "correspond"),
        ([-10.0, 11.0, 12.0, 13.0], [1.0, 0.0, 1.0, 2.0], "positive"),
    ],
)
def test_fit_rejects_unusable_data(volumes, energies, message):
    with pytest.raises(ValueError, match=message):
        birch_murnaghan_fit(volumes, energies)


# ------------------------------------------------------------------------- EOS scan


def test_eos_scan_of_relaxed_emt_copper(emt_reference, tmp_path):
    a0, b0 = emt_reference
    relaxed = bulk("Cu", "fcc", a=a0, cubic=True)  # relaxed by symmetry
    scan = eos_scan(relaxed, EMT(), n_points=7, max_strain=0.05)
    np.testing.assert_allclose(scan.strains, volume_strains(7, 0.05))
    np.testing.assert_allclose(scan.volumes, relaxed.get_volume() * (1 + scan.strains))
    assert scan.energies.argmin() == 3 and scan.converged.all()
    fit = birch_murnaghan_fit(scan.volumes, scan.energies)
    assert fit.v0 == pytest.approx(a0**3, rel=1e-4)
    assert fit.b0 == pytest.approx(b0, rel=0.01)  # BM vs SJ on different ranges
    png = plot_eos(scan.volumes, scan.energies, fit, tmp_path / "eos.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eos_scan_relaxes_positions_at_each_volume():
    atoms = bulk("Cu", "fcc", a=3.59, cubic=True)
    atoms.rattle(0.05, seed=3)
    fixed = eos_scan(atoms, EMT(), n_points=5, relax_positions=False)
    relaxed = eos_scan(atoms, EMT(), n_points=5, relax_positions=True)
    assert np.all(relaxed.energies < fixed.energies - 1e-3)
    with pytest.raises(ValueError, match="periodic"):
        eos_scan(Atoms("Cu2", positions=[[0, 0, 0], [2.5, 0, 0]]), EMT())


# ------------------------------------------------------------------------- symmetry


def test_symmetry_keeps_a_metastable_cubic_phase():
    pytest.importorskip("spglib")
    from hdnnp.relax import space_group, symmetrize

    # bcc Cu is unstable in EMT: from a rattled bcc start a free relaxation leaves cubic
    # symmetry (measured: to hcp stacking, -8 meV/atom against +26 meV/atom for bcc)
    rattled = bulk("Cu", "bcc", a=2.87, cubic=True).repeat(2)
    rattled.rattle(0.02, seed=2)
    rattled.calc = EMT()
    assert space_group(rattled) == "P1 (1)"
    start = symmetrize(rattled, 0.2)
    assert space_group(start, 1e-6) == "Im-3m (229)"
    kept = relax(start, fmax=1e-4, symmetry=1e-3)
    assert kept.converged and space_group(kept.atoms, 1e-4) == "Im-3m (229)"
    a, b, c, alpha, beta, gamma = lattice_parameters(kept.atoms)
    # against EMT's bcc lattice constant from an independent energy scan (2-atom cell)
    volumes, energies = [], []
    for length in np.linspace(2.80, 2.91, 9):
        cell = bulk("Cu", "bcc", a=length, cubic=True)
        cell.calc = EMT()
        volumes.append(cell.get_volume())
        energies.append(cell.get_potential_energy())
    v0, _, _ = EquationOfState(volumes, energies).fit()
    np.testing.assert_allclose(np.array([a, b, c]) / 2, v0 ** (1 / 3), atol=1e-3)  # 2x2x2 cell
    np.testing.assert_allclose([alpha, beta, gamma], 90.0, atol=1e-6)
    free = relax(rattled, fmax=1e-3, max_steps=300)
    assert space_group(free.atoms, 1e-2) != "Im-3m (229)"
    assert (kept.energy - free.energy) / len(rattled) > 0.02  # eV/atom


def test_symmetry_needs_spglib_message(monkeypatch):
    import builtins

    from hdnnp.relax import space_group

    real_import = builtins.__import__

    def no_spglib(name, *args, **kwargs):
        if name == "spglib":
            raise ImportError("no spglib")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_spglib)
    with pytest.raises(ImportError, match="pip install spglib"):
        relax(_strained_cu(), symmetry=1e-3)
    with pytest.raises(ImportError, match="pip install spglib"):
        space_group(_strained_cu())
