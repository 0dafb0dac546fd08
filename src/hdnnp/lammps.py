"""LAMMPS lines for a potential exported to n2p2 files (``pair_style hdnnp``, ML-HDNNP).

With LAMMPS in ``units metal`` (Å, eV), n2p2 files in Bohr/Hartree need the conversion
factors ``cflength`` = Å -> Bohr = 1/0.52917721067 and ``cfenergy`` = eV -> Hartree =
1/27.21138602 (LAMMPS documentation of pair_style hdnnp, whose example uses 1.8897261328
and 0.0367493254). Files in eV/Å need neither. The cutoff argument is the largest
symmetry-function cutoff in LAMMPS units (Å), rounded up in the sixth decimal so that
n2p2's check "cutoff >= maximum symmetry function cutoff" holds.
"""

from __future__ import annotations

import math

from .potential import HDNNP
from .units import get_units


def pair_style_lines(
    model: HDNNP, directory: str, units: str = "ev-angstrom", max_extrapolation_warnings: int = 1000
) -> list[str]:
    """``pair_style hdnnp ...`` and ``pair_coeff * * ...`` for LAMMPS ``units metal``."""
    unit = get_units(units)
    cutoff = math.ceil(model.cutoff * 1e6) / 1e6
    style = (
        f'pair_style hdnnp {cutoff:.6f} dir "{directory}" showew no showewsum 100 '
        f"maxew {max_extrapolation_warnings} resetew yes"
    )
    if unit.length_to_angstrom != 1.0 or unit.energy_to_ev != 1.0:
        style += (
            f" cflength {1.0 / unit.length_to_angstrom:.10f}"
            f" cfenergy {1.0 / unit.energy_to_ev:.10f}"
        )
    return [style, f"pair_coeff * * {' '.join(model.elements)}"]
