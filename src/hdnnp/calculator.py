"""ASE calculator: any hdnnp potential inside ASE optimisers, MD and analysis.

    from hdnnp import Calculator
    atoms.calc = Calculator("best.hdnnp")            # or an n2p2 directory, a run dir
    atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()

Properties: ``energy`` and ``free_energy`` (eV), ``energies`` (per atom, eV), ``forces``
(eV/Å) and, for cells periodic in all three directions, ``stress`` (eV/Å^3, Voigt order
xx yy zz yz xz xy, ASE's sign convention). Works with ASE's cell filters for relaxing
positions and cell.

Neighbour lists are reused between calls through a :class:`~hdnnp.neighbors.VerletList`
with a skin (default 1 Å): over an MD run most steps filter the cached list instead of
building a new one (the list is about a tenth of a step's cost for the n2p2 water
potential). Results are identical to a fresh list.

After each calculation :attr:`Calculator.extrapolation` holds the
:class:`~hdnnp.extrapolation.ExtrapolationReport` of the structure (atoms whose
descriptors leave the training range, as n2p2's extrapolation warnings), and
``results["extrapolations"]`` the number of such atoms.
"""

from __future__ import annotations

import numpy as np
import torch
from ase.calculators.calculator import Calculator as _ASECalculator
from ase.calculators.calculator import all_changes

from .extrapolation import ExtrapolationReport, extrapolation
from .io import structure_from_atoms
from .neighbors import VerletList
from .potential import HDNNP

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class Calculator(_ASECalculator):
    """ASE calculator for an hdnnp potential (file, n2p2 directory, run directory or module).

    Args:
        model: path accepted by :func:`hdnnp.load`, or an :class:`~hdnnp.potential.HDNNP`.
        units: units of an n2p2 directory (``ev-angstrom`` or ``hartree-bohr``).
        device: ``cpu`` or ``cuda``.
        dtype: ``float64`` or ``float32``.
        skin: neighbour-list skin in Å (0: a new list every call).
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(
        self,
        model,
        units: str = "ev-angstrom",
        device: str = "cpu",
        dtype: str = "float64",
        skin: float = 1.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(model, HDNNP):
            from .api import load

            model = load(model, units=units)
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
        self.model = model.to(device=torch.device(device), dtype=_DTYPES[dtype]).eval()
        self.neighbors = VerletList(self.model.cutoff, skin)
        self.extrapolation = ExtrapolationReport()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        structure = structure_from_atoms(self.atoms)
        # stress with every periodic evaluation: it costs ~5% of one, while computing it
        # only on request would re-evaluate everything whenever the barostat, a cell
        # filter or the MD thermo asks for it after the forces
        periodic = bool(np.all(self.atoms.pbc))
        pairs = self.neighbors.pairs(structure.positions, structure.cell, structure.pbc)
        batch = self.model.make_batch([structure], pairs=[pairs])
        out = self.model.evaluate(batch, forces=True, stress=periodic)
        self.extrapolation = extrapolation(self.model, batch.species, out.descriptors)
        energy = float(out.energy[0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": out.atomic_energies.detach().cpu().double().numpy(),
            "forces": out.forces.detach().cpu().double().numpy(),
            "extrapolations": self.extrapolation.n_atoms,
        }
        if periodic:
            s = out.stress[0].detach().cpu().double().numpy()
            self.results["stress"] = np.array(
                [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
            )
