"""Core data type for one atomic structure (a DFT frame).

Units are fixed here once for the whole package: energies in eV, lengths in Å,
forces in eV/Å and stress in eV/Å^3 with ASE's sign convention (positive = tensile,
``stress = (1/V) dE/d(strain)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Row and column of the six independent stress components, Voigt order xx yy zz yz xz xy.
VOIGT_ROWS, VOIGT_COLS = (0, 1, 2, 1, 0, 0), (0, 1, 2, 2, 2, 1)


@dataclass(frozen=True)
class Structure:
    """One atomic configuration, optionally with reference labels.

    Attributes:
        numbers: (n_atoms,) atomic numbers.
        positions: (n_atoms, 3) Cartesian positions, Å.
        cell: (3, 3) lattice vectors as rows, Å; all zeros for an open system.
        pbc: periodicity along each lattice vector.
        energy: total reference energy, eV, or None.
        forces: (n_atoms, 3) reference forces, eV/Å, or None.
        stress: (3, 3) reference stress, eV/Å^3 (ASE sign convention), or None.
        charges: (n_atoms,) atomic charges, e, or None.
        total_charge: total charge, e, or None.
        weight: weight of this structure in a loss.
        source: file this structure came from ("" if built in memory).
        index: index of the frame in ``source`` (0-based).
        info: free-form metadata (e.g. the ``comment`` of an n2p2 ``input.data`` frame).
    """

    numbers: np.ndarray
    positions: np.ndarray
    cell: np.ndarray
    pbc: tuple[bool, bool, bool]
    energy: float | None = None
    forces: np.ndarray | None = None
    stress: np.ndarray | None = None
    charges: np.ndarray | None = None
    total_charge: float | None = None
    weight: float = 1.0
    source: str = ""
    index: int = 0
    info: dict = field(default_factory=dict)

    @property
    def n_atoms(self) -> int:
        return len(self.numbers)

    @property
    def where(self) -> str:
        """Human-readable location of this frame for error messages."""
        return f"{self.source or '<memory>'}, frame {self.index}"

    def to_atoms(self):
        """Convert to :class:`ase.Atoms` (labels as a SinglePointCalculator)."""
        from ase import Atoms
        from ase.calculators.singlepoint import SinglePointCalculator

        atoms = Atoms(numbers=self.numbers, positions=self.positions, cell=self.cell, pbc=self.pbc)
        atoms.info.update(self.info)
        if self.total_charge is not None:
            atoms.info["total_charge"] = self.total_charge
        if self.charges is not None:
            atoms.set_initial_charges(self.charges)
        results = {}
        if self.energy is not None:
            results["energy"] = self.energy
        if self.forces is not None:
            results["forces"] = self.forces
        if self.stress is not None:
            results["stress"] = self.stress
        if results:
            atoms.calc = SinglePointCalculator(atoms, **results)
        return atoms


def validate(structure: Structure) -> None:
    """Raise ValueError naming the frame and field when a structure is unusable."""
    where = structure.where
    pos = np.asarray(structure.positions)
    if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) != len(structure.numbers):
        raise ValueError(f"{where}: positions must have shape (n_atoms, 3), got {pos.shape}")
    if not np.all(np.isfinite(pos)):
        bad = int(np.argwhere(~np.isfinite(pos))[0, 0])
        raise ValueError(f"{where}: field 'positions' is not finite (NaN/inf) for atom {bad}")
    cell = np.asarray(structure.cell)
    if cell.shape != (3, 3) or not np.all(np.isfinite(cell)):
        raise ValueError(f"{where}: field 'cell' must be a finite 3x3 matrix")
    for axis, periodic in enumerate(structure.pbc):
        if periodic and np.linalg.norm(cell[axis]) == 0.0:
            raise ValueError(
                f"{where}: pbc is set along lattice vector {axis} but the cell vector is "
                "zero; give a cell or set pbc=False"
            )
    if any(structure.pbc) and abs(np.linalg.det(cell)) < 1e-12 and all(structure.pbc):
        raise ValueError(f"{where}: field 'cell' is singular (zero volume)")
