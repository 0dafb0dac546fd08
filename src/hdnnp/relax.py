"""Relaxation of structures, lattice parameters and the Birch–Murnaghan equation of state.

* :func:`relax` minimises the energy over positions and (unless ``fixed_cell``) the cell
  with ASE's :class:`~ase.filters.FrechetCellFilter`, optionally under a hydrostatic
  pressure, and reports whether it converged.
* :func:`lattice_parameters` gives a, b, c (Å) and alpha, beta, gamma (degrees).
* :func:`eos_scan` scales a (relaxed) cell isotropically and records E(V);
  :func:`birch_murnaghan_fit` fits the third-order Birch–Murnaghan equation of state

      E(V) = E0 + 9 V0 B0 / 16 {(u - 1)^3 B0' + (u - 1)^2 (6 - 4 u)},  u = (V0/V)^(2/3)

  and :func:`plot_eos` draws the points and the fitted curve.

Units: energies in eV, lengths in Å, volumes in Å^3, forces in eV/Å, pressures, stresses
and bulk moduli in GPa (1 eV/Å^3 = 160.21766208 GPa, ``ase.units.GPa``).

The optimiser is BFGS by default: the structures relaxed here (unit cells and small
supercells for lattice constants and equations of state) are near a minimum, where the
quasi-Newton step converges superlinearly and reaches a tight ``fmax`` in a fraction of
the force calls FIRE needs; its dense Hessian (3N + 9 coordinates) only becomes costly
beyond about a thousand atoms, where ``optimizer="fire"`` is the better choice. FIRE is
also the more robust choice far from a minimum (e.g. a structure with overlapping atoms).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from ase import Atoms, units

from .fileio import atomic_write_text

#: Optimisers :func:`relax` accepts, by name.
OPTIMIZERS = ("bfgs", "fire")


class NotConvergedWarning(UserWarning):
    """A relaxation stopped at ``max_steps`` before reaching ``fmax``."""


# ------------------------------------------------------------------------- relaxation


@dataclass
class RelaxResult:
    """Outcome of :func:`relax`.

    Attributes:
        atoms: the relaxed structure (a copy of the input, with its calculator).
        converged: True when the largest generalised force fell below ``fmax``.
        steps: optimiser steps taken.
        energy: potential energy, eV.
        max_force: largest atomic force norm, eV/Å.
        max_stress: largest absolute stress component |σ_ij|, GPa (None if not periodic).
        pressure: hydrostatic pressure P = -tr(σ)/3, GPa (None if not periodic); equals
            the target pressure for a converged cell relaxation.
    """

    atoms: Atoms
    converged: bool
    steps: int
    energy: float
    max_force: float
    max_stress: float | None
    pressure: float | None


def is_periodic(atoms: Atoms) -> bool:
    """True when ``atoms`` is periodic in all three directions with a 3D cell."""
    return bool(np.all(atoms.pbc)) and atoms.cell.rank == 3


def _check_relax_options(
    atoms: Atoms, fmax: float, fixed_cell: bool, max_steps: int, pressure: float
) -> None:
    if atoms.calc is None:
        raise ValueError("relax needs a calculator attached to the atoms (atoms.calc)")
    if not fmax > 0:
        raise ValueError(f"fmax must be positive, got {fmax}")
    if max_steps < 0:
        raise ValueError(f"max_steps must not be negative, got {max_steps}")
    if not fixed_cell and not is_periodic(atoms):
        raise ValueError(
            "relaxing the cell needs a structure periodic in all three directions; "
            "use fixed_cell=True to relax the positions only"
        )
    if fixed_cell and pressure != 0.0:
        raise ValueError("a pressure acts on the cell; it has no effect with fixed_cell=True")


def _optimizer(name: str, target, log: str | None):
    from ase.optimize import BFGS, FIRE

    classes = {"bfgs": BFGS, "fire": FIRE}
    if name not in classes:
        raise ValueError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")
    return classes[name](target, logfile=log)


def _stress_summary(atoms: Atoms) -> tuple[float | None, float | None]:
    """(max |σ_ij|, -tr σ / 3) in GPa, or (None, None) for a non-periodic structure."""
    if not is_periodic(atoms):
        return None, None
    stress = atoms.get_stress(voigt=False) / units.GPa
    return float(np.abs(stress).max()), float(-np.trace(stress) / 3.0)


def relax(
    atoms: Atoms,
    fmax: float = 0.01,
    fixed_cell: bool = False,
    max_steps: int = 500,
    pressure_gpa: float = 0.0,
    optimizer: str = "bfgs",
    log: str | None = None,
    symmetry: float | None = None,
) -> RelaxResult:
    """Minimise the energy of a copy of ``atoms`` (its calculator attached).

    Positions and, unless ``fixed_cell``, the cell are relaxed together through
    :class:`~ase.filters.FrechetCellFilter` at the hydrostatic pressure ``pressure_gpa``
    (GPa; enthalpy E + PV is minimised). Converged means every atomic force norm is below
    ``fmax`` (eV/Å) and every cell "force" |σ + P·1|·V/N is too: for fcc Cu (11.8 Å^3
    per atom) ``fmax = 0.01`` eV/Å bounds the residual stress by 0.14 GPa.

    The optimiser is ``"bfgs"`` (default) or ``"fire"``; ``log`` is its log file ("-" for
    stdout, None for none). ``symmetry`` (a tolerance in Å, e.g. 1e-3) keeps the space
    group the structure has within that tolerance: ASE's
    :class:`~ase.constraints.FixSymmetry` symmetrises forces, stress and steps (needs
    spglib, ``pip install spglib``), so a symmetric start stays in its symmetric minimum
    instead of drifting into a lower-symmetry one through numerical noise. To symmetrise
    a structure that is only nearly symmetric (an MD snapshot), see :func:`symmetrize`.
    Stopping at ``max_steps`` before convergence is reported with
    ``converged=False`` and a :class:`NotConvergedWarning`; the last structure is returned.
    ValueError: no calculator, a cell relaxation of a non-periodic structure, a pressure
    with ``fixed_cell``, ``fmax <= 0`` or ``max_steps < 0``.
    """
    from ase.filters import FrechetCellFilter

    _check_relax_options(atoms, fmax, fixed_cell, max_steps, pressure_gpa)
    work = atoms.copy()
    work.calc = atoms.calc
    if symmetry is not None:
        from ase.constraints import FixSymmetry

        _require_spglib()
        work.set_constraint(FixSymmetry(work, symprec=symmetry))
    target = (
        work if fixed_cell else FrechetCellFilter(work, scalar_pressure=pressure_gpa * units.GPa)
    )
    with _optimizer(optimizer, target, log) as opt:  # closes a log file it opened
        converged = bool(opt.run(fmax=fmax, steps=max_steps))
        steps = int(opt.nsteps)
    max_force = float(np.linalg.norm(work.get_forces(), axis=1).max()) if len(work) else 0.0
    if not converged:
        warnings.warn(
            f"relaxation not converged in {max_steps} steps (largest atomic force "
            f"{max_force:.4g} eV/Å, fmax {fmax} eV/Å); raise max_steps or loosen fmax",
            NotConvergedWarning,
            stacklevel=2,
        )
    max_stress, pressure = _stress_summary(work)
    return RelaxResult(
        atoms=work,
        converged=converged,
        steps=steps,
        energy=float(work.get_potential_energy()),
        max_force=max_force,
        max_stress=max_stress,
        pressure=pressure,
    )


def _require_spglib() -> None:
    try:
        import spglib  # noqa: F401
    except ImportError:
        raise ImportError(
            "symmetry-constrained relaxation needs spglib: pip install spglib"
        ) from None


def space_group(atoms: Atoms, symprec: float = 1e-3) -> str:
    """International symbol and number of the space group, e.g. ``"Im-3m (229)"``."""
    _require_spglib()
    import spglib

    cell = (np.asarray(atoms.cell), atoms.get_scaled_positions(), atoms.numbers)
    return str(spglib.get_spacegroup(cell, symprec=symprec))


def symmetrize(atoms: Atoms, symprec: float) -> Atoms:
    """A copy of ``atoms`` with cell and positions made exactly symmetric under the space
    group spglib finds within ``symprec`` (Å): for a thermal snapshot of a crystal,
    ``symprec`` of about the rattle amplitude (0.1-0.3 Å) recovers the ideal structure's
    group. ASE's :func:`~ase.spacegroup.symmetrize.refine_symmetry` does the averaging."""
    from ase.spacegroup.symmetrize import refine_symmetry

    _require_spglib()
    out = atoms.copy()
    out.calc = atoms.calc
    refine_symmetry(out, symprec=symprec, verbose=False)
    return out


class LatticeParameters(NamedTuple):
    """Cell lengths a, b, c (Å) and angles alpha (b^c), beta (a^c), gamma (a^b) (degrees)."""

    a: float
    b: float
    c: float
    alpha: float
    beta: float
    gamma: float


def lattice_parameters(atoms: Atoms) -> LatticeParameters:
    """a, b, c (Å) and alpha, beta, gamma (degrees) of the cell of ``atoms``.

    ValueError when the cell does not span three dimensions.
    """
    if atoms.cell.rank < 3:
        raise ValueError("lattice parameters need a cell of three independent vectors")
    return LatticeParameters(*(float(x) for x in atoms.cell.cellpar()))


# ------------------------------------------------------------------ equation of state


@dataclass(frozen=True)
class BirchMurnaghanFit:
    """Parameters of the third-order Birch–Murnaghan equation of state.

    Attributes:
        v0: equilibrium volume, Å^3.
        e0: energy at ``v0``, eV.
        b0: bulk modulus B0 = V d²E/dV² at ``v0``, GPa.
        b0_prime: B0' = dB/dP at ``v0`` (dimensionless).
        residual_rms: root mean square of E_data - E_fit over the points, eV.
    """

    v0: float
    e0: float
    b0: float
    b0_prime: float
    residual_rms: float

    def energy(self, volumes) -> np.ndarray:
        """E(V) of the fitted equation of state, eV, at ``volumes`` (Å^3)."""
        return birch_murnaghan_energy(volumes, self.v0, self.e0, self.b0, self.b0_prime)


def birch_murnaghan_energy(volumes, v0: float, e0: float, b0: float, b0_prime: float):
    """Third-order Birch–Murnaghan E(V), eV, for volumes (Å^3), V0 (Å^3), E0 (eV),
    B0 (GPa) and B0':
    E0 + 9 V0 B0/16 {(u - 1)^3 B0' + (u - 1)^2 (6 - 4u)} with u = (V0/V)^(2/3)."""
    u = (v0 / np.asarray(volumes, dtype=float)) ** (2.0 / 3.0)
    b0_ev = b0 * units.GPa
    return e0 + 9.0 * v0 * b0_ev / 16.0 * ((u - 1.0) ** 3 * b0_prime + (u - 1.0) ** 2 * (6 - 4 * u))


def _eos_data(volumes, energies) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(volumes, dtype=float).ravel()
    e = np.asarray(energies, dtype=float).ravel()
    if v.shape != e.shape:
        raise ValueError(f"{v.size} volumes but {e.size} energies; they must correspond")
    if not (np.all(np.isfinite(v)) and np.all(np.isfinite(e)) and np.all(v > 0)):
        raise ValueError("volumes must be positive and volumes and energies finite")
    if np.unique(v).size < 4:
        raise ValueError(
            f"the Birch-Murnaghan fit has 4 parameters and needs at least 4 distinct "
            f"volumes, got {np.unique(v).size}"
        )
    return v, e


def _minimum(poly: np.polynomial.Polynomial, x_mean: float) -> float:
    """The local minimum of the cubic E(x) nearest ``x_mean``; ValueError if there is none."""
    d1, d2 = poly.deriv(1), poly.deriv(2)
    roots = [float(r.real) for r in np.atleast_1d(d1.roots()) if abs(r.imag) < 1e-12 * abs(r)]
    minima = [r for r in roots if r > 0 and d2(r) > 0]
    if not minima:
        raise ValueError(
            "the fitted E(V) has no minimum: the volumes do not bracket the equilibrium "
            "volume (scan a wider range about a relaxed structure)"
        )
    return min(minima, key=lambda r: abs(r - x_mean))


def birch_murnaghan_fit(volumes, energies) -> BirchMurnaghanFit:
    """Least-squares third-order Birch–Murnaghan fit of E(V) (Å^3, eV).

    With x = V^(-2/3), E is exactly a cubic polynomial in x, so the fit is the linear least
    squares E ≈ c0 + c1 x + c2 x^2 + c3 x^3. V0 = x0^(-3/2) at the minimum p'(x0) = 0,
    E0 = p(x0), and with x' = dx/dV = -2/3 V^(-5/3), x'' = 10/9 V^(-8/3):
    E''(V0) = p'' x'^2, E'''(V0) = p''' x'^3 + 3 p'' x' x'', B0 = V0 E'' and
    B0' = dB/dP = -1 - V0 E''' / E''. Recovers V0, E0, B0, B0' of exact Birch–Murnaghan data.
    Needs at least 4 distinct volumes; ValueError when the fitted curve has no minimum,
    a warning when V0 lies outside the volumes given (an extrapolation).
    """
    v, e = _eos_data(volumes, energies)
    x = v ** (-2.0 / 3.0)
    poly = np.polynomial.Polynomial.fit(x, e, 3)
    x0 = _minimum(poly, float(x.mean()))
    v0 = x0**-1.5
    dx, ddx = -2.0 / 3.0 * v0 ** (-5.0 / 3.0), 10.0 / 9.0 * v0 ** (-8.0 / 3.0)
    p2, p3 = poly.deriv(2)(x0), poly.deriv(3)(x0)
    e2 = p2 * dx**2
    e3 = p3 * dx**3 + 3.0 * p2 * dx * ddx
    if not v.min() <= v0 <= v.max():
        warnings.warn(
            f"V0 = {v0:.4g} Å^3 lies outside the volumes fitted ({v.min():.4g} to "
            f"{v.max():.4g} Å^3); it is an extrapolation",
            stacklevel=2,
        )
    return BirchMurnaghanFit(
        v0=float(v0),
        e0=float(poly(x0)),
        b0=float(v0 * e2 / units.GPa),
        b0_prime=float(-1.0 - v0 * e3 / e2),
        residual_rms=float(math.sqrt(np.mean((e - poly(x)) ** 2))),
    )


@dataclass
class EOSScan:
    """Energies of isotropically scaled copies of a structure.

    Attributes:
        strains: volumetric strains s, V = V_ref (1 + s).
        volumes: cell volumes, Å^3.
        energies: potential energies, eV (after relaxing positions when requested).
        n_atoms: atoms in the cell.
        converged: per volume, whether the position relaxation converged (all True when
            positions were not relaxed).
    """

    strains: np.ndarray
    volumes: np.ndarray
    energies: np.ndarray
    n_atoms: int
    converged: np.ndarray


def volume_strains(n_points: int = 9, max_strain: float = 0.05) -> np.ndarray:
    """``n_points`` volumetric strains evenly spaced in [-max_strain, +max_strain]."""
    if n_points < 1:
        raise ValueError(f"n_points must be at least 1, got {n_points}")
    if not 0 < max_strain < 1:
        raise ValueError(f"max_strain is a volume fraction in (0, 1), got {max_strain}")
    return np.linspace(-max_strain, max_strain, n_points)


def _scaled_energy(atoms: Atoms, calc, strain: float, relax_positions: bool, fmax: float):
    scaled = atoms.copy()
    scaled.set_cell(atoms.cell * (1.0 + strain) ** (1.0 / 3.0), scale_atoms=True)
    scaled.calc = calc
    if not relax_positions:
        return float(scaled.get_potential_energy()), True
    result = relax(scaled, fmax=fmax, fixed_cell=True)
    return result.energy, result.converged


def eos_scan(
    atoms: Atoms,
    calc,
    strains=None,
    n_points: int = 9,
    max_strain: float = 0.05,
    relax_positions: bool = True,
    fmax: float = 0.01,
) -> EOSScan:
    """E(V) of ``atoms`` (ideally relaxed) scaled isotropically by volumetric strains.

    Each cell is ``atoms.cell * (1 + s)^(1/3)`` with fractional positions kept, so
    V = V_ref (1 + s); ``strains`` default to ``n_points`` values in ±``max_strain``
    (a volume fraction: 0.05 is ±5 % in volume, about ±1.6 % in length). With
    ``relax_positions`` the positions are relaxed at each fixed cell to ``fmax`` (eV/Å),
    which matters for cells with internal degrees of freedom. ValueError for a structure
    that is not periodic in three directions.
    """
    if not is_periodic(atoms):
        raise ValueError("an equation of state needs a structure periodic in all directions")
    s = volume_strains(n_points, max_strain) if strains is None else np.asarray(strains, float)
    if np.any(s <= -1):
        raise ValueError("volumetric strains must be greater than -1")
    points = [_scaled_energy(atoms, calc, float(x), relax_positions, fmax) for x in s]
    return EOSScan(
        strains=s,
        volumes=atoms.get_volume() * (1.0 + s),
        energies=np.array([p[0] for p in points]),
        n_atoms=len(atoms),
        converged=np.array([p[1] for p in points]),
    )


def eos_to_dict(scan: EOSScan, fit: BirchMurnaghanFit) -> dict:
    """JSON-ready record of a scan and its fit, with units."""
    return {
        "equation": "third-order Birch-Murnaghan",
        "units": {"volume": "Angstrom^3", "energy": "eV", "b0": "GPa"},
        "n_atoms": scan.n_atoms,
        "fit": asdict(fit),
        "volumetric_strains": scan.strains.tolist(),
        "volumes": scan.volumes.tolist(),
        "energies": scan.energies.tolist(),
        "positions_converged": [bool(c) for c in scan.converged],
    }


def write_eos_json(path: str | Path, scan: EOSScan, fit: BirchMurnaghanFit) -> Path:
    """Write :func:`eos_to_dict` as JSON, atomically; return the path."""
    atomic_write_text(path, json.dumps(eos_to_dict(scan, fit), indent=1) + "\n")
    return Path(path)


def plot_eos(volumes, energies, fit: BirchMurnaghanFit, path: str | Path) -> Path:
    """PNG of the E(V) points and the fitted Birch–Murnaghan curve with V0, B0, B0'."""
    from .training.report import _pyplot, _save

    plt = _pyplot()
    v = np.asarray(volumes, dtype=float)
    grid = np.linspace(min(v.min(), fit.v0), max(v.max(), fit.v0), 200)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(v, energies, "o", label="calculated")
    ax.plot(grid, fit.energy(grid), "-", label="Birch-Murnaghan fit")
    ax.axvline(fit.v0, color="0.6", lw=0.8, ls="--")
    ax.set_xlabel("volume (Å$^3$)")
    ax.set_ylabel("energy (eV)")
    ax.set_title(
        f"V0 = {fit.v0:.3f} Å$^3$, B0 = {fit.b0:.1f} GPa, B0' = {fit.b0_prime:.2f}", fontsize=9
    )
    ax.legend()
    return _save(fig, Path(path))
