"""ASE calculator: any hdnnp potential inside ASE optimisers, MD and analysis.

    from hdnnp import Calculator
    atoms.calc = Calculator("best.hdnnp")            # or an n2p2 directory, a run dir
    atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()

Properties: ``energy`` and ``free_energy`` (eV), ``energies`` (per atom, eV), ``forces``
(eV/Å) and, for cells periodic in all three directions, ``stress`` (eV/Å^3, Voigt order
xx yy zz yz xz xy, ASE's sign convention). Works with ASE's cell filters for relaxing
positions and cell. Each call builds the neighbour list anew (the fused CPU kernels do not
need triplet lists); reusing lists with a skin is future work.
"""

from __future__ import annotations

import numpy as np
import torch
from ase.calculators.calculator import Calculator as _ASECalculator
from ase.calculators.calculator import all_changes

from .io import structure_from_atoms
from .potential import HDNNP

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class Calculator(_ASECalculator):
    """ASE calculator for an hdnnp potential (file, n2p2 directory, run directory or module).

    Args:
        model: path accepted by :func:`hdnnp.load`, or an :class:`~hdnnp.potential.HDNNP`.
        units: units of an n2p2 directory (``ev-angstrom`` or ``hartree-bohr``).
        device: ``cpu`` or ``cuda``.
        dtype: ``float64`` or ``float32``.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(
        self,
        model,
        units: str = "ev-angstrom",
        device: str = "cpu",
        dtype: str = "float64",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(model, HDNNP):
            from .api import load

            model = load(model, units=units)
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
        self.model = model.to(device=torch.device(device), dtype=_DTYPES[dtype]).eval()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        structure = structure_from_atoms(self.atoms)
        periodic = bool(np.all(self.atoms.pbc))
        batch = self.model.make_batch([structure])
        out = self.model.evaluate(batch, forces=True, stress=periodic)
        energy = float(out.energy[0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": out.atomic_energies.detach().cpu().double().numpy(),
            "forces": out.forces.detach().cpu().double().numpy(),
        }
        if periodic:
            s = out.stress[0].detach().cpu().double().numpy()
            self.results["stress"] = np.array(
                [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
            )
