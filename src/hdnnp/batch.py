"""Batches: many structures flattened into one set of atoms, pairs and triplets.

A :class:`Batch` is what :meth:`hdnnp.potential.HDNNP.evaluate` consumes. Neighbour
lists are built here once per structure (no autograd); pair vectors are recomputed
differentiably from positions and cells inside the potential.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .neighbors import Pairs, build_pairs, triplets
from .structures import Structure, validate


@dataclass
class Batch:
    """Flat concatenation of B structures with N atoms, P pairs, T triplets.

    Attributes:
        species: (N,) element index into the potential's ``elements``.
        positions: (N, 3) Å.
        cell: (B, 3, 3) Å, rows are lattice vectors.
        periodic: (B,) True where the structure is periodic in all three directions.
        image: (N,) structure index of each atom.
        n_atoms: (B,) atoms per structure.
        pair_i, pair_j: (P,) atom indices, sorted by pair_i.
        pair_shift: (P, 3) integer cell shifts S (r_ij = r_j - r_i + S @ cell) as float.
        pair_image: (P,) structure index of each pair.
        trip_p, trip_q: (T,) pair indices of triplets (same centre, p < q), sorted by centre;
            None when the batch was built without triplets (the fused CPU kernels make
            their own).
        energy: (B,) reference energies, eV (NaN where missing), or None.
        forces: (N, 3) reference forces, eV/Å (NaN where missing), or None.
        stress: (B, 3, 3) reference stress, eV/Å^3, ASE sign convention (NaN where
            missing), or None.
    """

    species: torch.Tensor
    positions: torch.Tensor
    cell: torch.Tensor
    periodic: torch.Tensor
    image: torch.Tensor
    n_atoms: torch.Tensor
    pair_i: torch.Tensor
    pair_j: torch.Tensor
    pair_shift: torch.Tensor
    pair_image: torch.Tensor
    trip_p: torch.Tensor | None
    trip_q: torch.Tensor | None
    energy: torch.Tensor | None = None
    forces: torch.Tensor | None = None
    stress: torch.Tensor | None = None

    @property
    def n_structures(self) -> int:
        return int(self.cell.shape[0])

    def to(self, device=None, dtype=None) -> Batch:
        """Move tensors to a device; floating tensors also to ``dtype``."""
        out = {}
        for name, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                value = value.to(device)
                if dtype is not None and value.is_floating_point():
                    value = value.to(dtype)
            out[name] = value
        return Batch(**out)


def species_index(structure: Structure, elements: Sequence[str]) -> np.ndarray:
    """Element index of each atom; ValueError naming the frame for an unknown element."""
    from ase.data import chemical_symbols

    lookup = {chemical_symbols[z]: n for n, z in enumerate(_numbers(elements))}
    symbols = [chemical_symbols[z] for z in structure.numbers]
    unknown = sorted(set(symbols) - set(lookup))
    if unknown:
        raise ValueError(
            f"{structure.where}: element(s) {', '.join(unknown)} not known to the potential "
            f"(it has {', '.join(elements)})"
        )
    return np.array([lookup[s] for s in symbols], dtype=np.int64)


def _numbers(elements: Sequence[str]) -> list[int]:
    from ase.data import atomic_numbers

    return [atomic_numbers[e] for e in elements]


def _structure_lists(
    structure: Structure,
    cutoff: float,
    angular_cutoff: float,
    with_triplets: bool,
    pairs: Pairs | None = None,
):
    """Pairs within ``cutoff`` (built unless given) and triplets with both legs within
    ``angular_cutoff``."""
    if pairs is None:
        pairs = build_pairs(structure.positions, structure.cell, structure.pbc, cutoff)
    if with_triplets and angular_cutoff > 0.0 and len(pairs.i):
        vec = (
            structure.positions[pairs.j]
            - structure.positions[pairs.i]
            + pairs.shift @ np.asarray(structure.cell)
        )
        keep = np.linalg.norm(vec, axis=1) < angular_cutoff
        sub = np.flatnonzero(keep)
        p, q = triplets(pairs.i[sub], structure.n_atoms)
        p, q = sub[p], sub[q]
    else:
        p = q = np.zeros(0, dtype=np.int64)
    return pairs, p, q


def make_batch(
    structures: Sequence[Structure],
    elements: Sequence[str],
    cutoff: float,
    angular_cutoff: float,
    triplets: bool = True,
    pairs: Sequence[Pairs] | None = None,
) -> Batch:
    """Build a float64 CPU batch (use :meth:`Batch.to` for device and dtype).

    With ``triplets=False`` no triplet list is built: enough for the fused CPU kernels
    (inference on the CPU), not for the torch path (GPU, training on forces). ``pairs``
    gives precomputed pair lists, one per structure, exactly as :func:`build_pairs`
    returns them for ``cutoff`` (e.g. from a :class:`~hdnnp.neighbors.VerletList`).
    """
    if pairs is not None and len(pairs) != len(structures):
        raise ValueError(f"{len(pairs)} pair lists given for {len(structures)} structures")
    parts = {k: [] for k in ("species", "pos", "cell", "image", "i", "j", "S", "pimg", "p", "q")}
    periodic, n_atoms, energy, forces, stress = [], [], [], [], []
    atom_offset = pair_offset = 0
    for b, s in enumerate(structures):
        validate(s)
        given = None if pairs is None else pairs[b]
        pair_list, p, q = _structure_lists(s, cutoff, angular_cutoff, triplets, given)
        parts["species"].append(species_index(s, elements))
        parts["pos"].append(np.asarray(s.positions, dtype=np.float64))
        parts["cell"].append(np.asarray(s.cell, dtype=np.float64))
        parts["image"].append(np.full(s.n_atoms, b))
        parts["i"].append(pair_list.i + atom_offset)
        parts["j"].append(pair_list.j + atom_offset)
        parts["S"].append(pair_list.shift)
        parts["pimg"].append(np.full(len(pair_list.i), b))
        parts["p"].append(p + pair_offset)
        parts["q"].append(q + pair_offset)
        periodic.append(all(s.pbc))
        n_atoms.append(s.n_atoms)
        energy.append(np.nan if s.energy is None else s.energy)
        forces.append(np.full((s.n_atoms, 3), np.nan) if s.forces is None else s.forces)
        stress.append(np.full((3, 3), np.nan) if s.stress is None else s.stress)
        atom_offset += s.n_atoms
        pair_offset += len(pair_list.i)

    def cat(key, dtype, shape=(0,)):
        arrays = parts[key]
        data = np.concatenate(arrays) if arrays else np.zeros(shape)
        return torch.as_tensor(data.astype(dtype, copy=False))

    return Batch(
        species=cat("species", np.int64),
        positions=cat("pos", np.float64, (0, 3)),
        cell=torch.as_tensor(np.array(parts["cell"]).reshape(-1, 3, 3)),
        periodic=torch.as_tensor(periodic, dtype=torch.bool),
        image=cat("image", np.int64),
        n_atoms=torch.as_tensor(n_atoms, dtype=torch.long),
        pair_i=cat("i", np.int64),
        pair_j=cat("j", np.int64),
        pair_shift=cat("S", np.float64, (0, 3)),
        pair_image=cat("pimg", np.int64),
        trip_p=cat("p", np.int64) if triplets else None,
        trip_q=cat("q", np.int64) if triplets else None,
        energy=torch.as_tensor(np.array(energy, dtype=np.float64)),
        forces=torch.as_tensor(np.concatenate(forces)) if forces else None,
        stress=torch.as_tensor(np.array(stress, dtype=np.float64).reshape(-1, 3, 3)),
    )
