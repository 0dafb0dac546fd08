"""Unit systems of external data files and their conversion to the package units.

Everything inside hdnnp is in eV and Å (forces eV/Å, stress eV/Å^3). Files written by
n2p2/RuNNer are often in atomic units (Bohr, Hartree); a :class:`UnitSystem` says how
to convert such a file's numbers to eV/Å: ``value_in_eV_A = value_in_file * factor``.

The atomic-unit constants are CODATA 2014 (1 Bohr = 0.52917721067 Å,
1 Hartree = 27.21138602 eV), the values used to convert the shared reference data
(e.g. the mlearn Si set converted to Bohr/Hartree for n2p2). They are the rounded
CODATA values, not ASE's ``ase.units.Bohr``/``Hartree``, which ASE derives from other
CODATA 2014 constants and which differ from these in the 10th significant digit.
"""

from __future__ import annotations

from dataclasses import dataclass

BOHR_TO_ANGSTROM = 0.52917721067
"""1 Bohr in Å (CODATA 2014)."""

HARTREE_TO_EV = 27.21138602
"""1 Hartree in eV (CODATA 2014)."""

UNIT_CHOICES = ("ev-angstrom", "hartree-bohr")
"""Names accepted by :func:`get_units`."""


@dataclass(frozen=True)
class UnitSystem:
    """Units of a data file, as factors to the package units (eV, Å).

    Attributes:
        name: identifier, one of :data:`UNIT_CHOICES`.
        length_to_angstrom: one file length unit in Å.
        energy_to_ev: one file energy unit in eV.
    """

    name: str
    length_to_angstrom: float
    energy_to_ev: float

    @property
    def force_to_ev_per_angstrom(self) -> float:
        """One file force unit (energy/length) in eV/Å."""
        return self.energy_to_ev / self.length_to_angstrom

    @property
    def stress_to_ev_per_angstrom3(self) -> float:
        """One file stress unit (energy/length^3) in eV/Å^3."""
        return self.energy_to_ev / self.length_to_angstrom**3


_UNITS = {
    "ev-angstrom": UnitSystem("ev-angstrom", 1.0, 1.0),
    "hartree-bohr": UnitSystem("hartree-bohr", BOHR_TO_ANGSTROM, HARTREE_TO_EV),
}


def get_units(name: str | UnitSystem) -> UnitSystem:
    """Return the :class:`UnitSystem` called ``name`` (a UnitSystem is passed through).

    Names are matched case-insensitively. Raises ValueError listing the valid names for
    an unknown one.
    """
    if isinstance(name, UnitSystem):
        return name
    key = str(name).strip().lower()
    if key not in _UNITS:
        valid = ", ".join(repr(choice) for choice in UNIT_CHOICES)
        raise ValueError(f"unknown unit system {name!r}; valid names are {valid}")
    return _UNITS[key]
