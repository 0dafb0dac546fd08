r"""The high-dimensional neural network potential (Behler & Parrinello, PRL 98, 146401 (2007)).

``E = sum_i E_i``, ``E_i = s * NN_{e(i)}(scale(G_i)) + o_{e(i)}``, with G_i the symmetry
functions of atom i (:mod:`hdnnp.descriptors`), the per-element scaling of
:mod:`hdnnp.scaling`, one network per element (:mod:`hdnnp.networks`), a global energy
scale s (eV per network output unit; n2p2's 1/conv_energy in eV) and per-element atomic
energy offsets o_e (eV; n2p2's ``mean_energy`` + ``atom_energy``).

Forces ``F = -dE/dR`` and stress ``sigma = (1/V) dE/d(epsilon)`` (ASE convention, eV/Å^3,
symmetric strain applied to every pair vector) are exact derivatives of this one energy,
taken by autograd in :meth:`HDNNP.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .batch import Batch, make_batch
from .descriptors.compute import SymmetryFunctions
from .descriptors.fused import available as fused_available
from .descriptors.params import DescriptorSet
from .networks import ElementNet
from .scaling import Scaler

#: Target number of triplets per chunk when evaluating large systems without a graph.
CHUNK_TRIPLETS = 1_500_000


@dataclass
class Output:
    """Predictions for a batch.

    Attributes:
        energy: (B,) total energies, eV.
        atomic_energies: (N,) per-atom energies, eV.
        forces: (N, 3) eV/Å, or None.
        stress: (B, 3, 3) eV/Å^3 (ASE sign convention; NaN for non-periodic), or None.
        descriptors: (N, max_functions) unscaled symmetry functions (detached), filled
            by evaluations without ``create_graph`` (for extrapolation checks), or None.
    """

    energy: torch.Tensor
    atomic_energies: torch.Tensor
    forces: torch.Tensor | None = None
    stress: torch.Tensor | None = None
    descriptors: torch.Tensor | None = None


@dataclass(frozen=True)
class NetworkSpec:
    """Architecture of the element networks.

    Attributes:
        hidden: hidden-layer sizes per element symbol.
        activations: activation letters per element (hidden layers + output).
        normalize_nodes: n2p2 ``normalize_nodes``.
    """

    hidden: dict[str, tuple[int, ...]]
    activations: dict[str, tuple[str, ...]]
    normalize_nodes: bool = False

    @classmethod
    def uniform(
        cls, elements, hidden=(25, 25), activations=None, normalize_nodes=False
    ) -> NetworkSpec:
        hidden = tuple(int(h) for h in hidden)
        acts = tuple(activations) if activations else ("t",) * len(hidden) + ("l",)
        return cls({e: hidden for e in elements}, {e: acts for e in elements}, normalize_nodes)


class HDNNP(nn.Module):
    """Behler-Parrinello potential: descriptors -> scaling -> element networks -> energy.

    Args:
        descriptors: the symmetry-function set (defines the elements and cutoff).
        networks: element network architecture.
        energy_scale: eV per unit of network output.
        atom_energies: eV per atom of each element, added to the network energy.
        metadata: provenance and interchange information (units of origin, n2p2
            normalisation constants); stored in potential files as is.
        generator: random generator for initial weights (None: zeros).
    """

    def __init__(
        self,
        descriptors: DescriptorSet,
        networks: NetworkSpec,
        energy_scale: float = 1.0,
        atom_energies: dict[str, float] | None = None,
        metadata: dict | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        self.descriptors = descriptors
        self.elements = descriptors.elements
        self.network_spec = networks
        self.symmetry_functions = SymmetryFunctions(descriptors)
        self.scaler = Scaler(len(self.elements), self.symmetry_functions.max_functions)
        self.nets = nn.ModuleDict(
            {
                e: ElementNet(
                    descriptors.count(e),
                    networks.hidden[e],
                    networks.activations[e],
                    networks.normalize_nodes,
                    generator,
                )
                for e in self.elements
            }
        )
        offsets = [float((atom_energies or {}).get(e, 0.0)) for e in self.elements]
        self.register_buffer("energy_scale", torch.tensor(float(energy_scale), dtype=torch.float64))
        self.register_buffer("atom_energy", torch.tensor(offsets, dtype=torch.float64))
        self.metadata = dict(metadata or {})

    @property
    def cutoff(self) -> float:
        """Largest cutoff radius of the descriptors, Å."""
        return self.symmetry_functions.cutoff

    @property
    def angular_cutoff(self) -> float:
        return self.symmetry_functions.angular_cutoff

    @property
    def dtype(self) -> torch.dtype:
        return self.energy_scale.dtype

    @property
    def device(self) -> torch.device:
        return self.energy_scale.device

    def descriptors_of(self, batch: Batch) -> torch.Tensor:
        """Unscaled descriptors G (N, max_functions) of a batch (no grad)."""
        with torch.no_grad():
            vectors = pair_vectors(batch, batch.positions, None)
            return self.symmetry_functions.of_batch(batch, vectors, fused=True)

    def atomic_energies(self, species: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """E_i = s * NN_e(scale(G_i)) + o_e for descriptors g (N, max_functions)."""
        scaled = self.scaler(g, species)
        out = g.new_zeros(species.shape[0])
        for e, element in enumerate(self.elements):
            idx = torch.nonzero(species == e).squeeze(1)
            if idx.numel() == 0:
                continue
            n = self.descriptors.count(element)
            out = out.index_add(0, idx, self.nets[element](scaled[idx, :n]))
        return out * self.energy_scale + self.atom_energy[species]

    def forward(self, batch, forces: bool = True, stress: bool = False) -> Output:
        """Evaluate a :class:`Batch` or a list of structures (``ase.Atoms`` or
        :class:`~hdnnp.structures.Structure`); see :meth:`evaluate`."""
        if not isinstance(batch, Batch):
            batch = self.make_batch(_as_structures(batch))
        return self.evaluate(batch, forces=forces, stress=stress)

    def evaluate(
        self,
        batch: Batch,
        forces: bool = True,
        stress: bool = False,
        create_graph: bool = False,
    ) -> Output:
        """Energies (and forces, stress) of a batch; see the module docstring.

        ``create_graph=True`` keeps the graph of the derivatives so that a loss on forces
        can be differentiated with respect to the weights (the torch path; for training
        on fixed structures :mod:`hdnnp.features` is much faster). Without it, the fused
        CPU kernels are used where available and large systems are evaluated in chunks
        of centre atoms to bound memory.
        """
        fused = not create_graph and fused_available(batch.positions)
        if not fused and batch.trip_p is None:
            raise ValueError(
                "this evaluation needs the torch path (GPU, training on forces or numba "
                "missing) but the batch was built without triplets; build it with "
                "make_batch(..., triplets=True)"
            )
        if not create_graph and (forces or stress):
            return self._evaluate_chunked(batch, forces, stress, fused)
        n_atoms = batch.species.shape[0]
        return self._evaluate_range(batch, 0, n_atoms, forces, stress, create_graph, fused)

    def make_batch(self, structures, device=None, pairs=None) -> Batch:
        """A batch of structures for this potential on ``device`` (default: its own).

        Triplet lists are built only when the evaluation will need them (the fused CPU
        kernels generate triplets themselves). ``pairs``: precomputed pair lists within
        :attr:`cutoff`, one per structure (see :func:`hdnnp.batch.make_batch`).
        """
        structures = _as_structures(structures)
        device = torch.device(device) if device is not None else self.device
        needs_triplets = device.type != "cpu" or not fused_available(torch.zeros(0))
        batch = make_batch(
            structures,
            self.elements,
            self.cutoff,
            self.angular_cutoff,
            triplets=needs_triplets,
            pairs=pairs,
        )
        return batch.to(device, self.dtype)

    def _evaluate_chunked(self, batch: Batch, forces: bool, stress: bool, fused: bool) -> Output:
        bounds = _chunk_bounds(batch, CHUNK_TRIPLETS)
        parts = [self._evaluate_range(batch, a, b, forces, stress, False, fused) for a, b in bounds]
        if len(parts) == 1:
            return parts[0]
        atomic = torch.cat([p.atomic_energies for p in parts])
        energy = sum(p.energy for p in parts)
        f = sum(p.forces for p in parts) if forces else None
        s = sum(p.stress for p in parts) if stress else None
        g = torch.cat([p.descriptors for p in parts])
        return Output(energy, atomic, f, s, g)

    def _evaluate_range(
        self,
        batch: Batch,
        first: int,
        last: int,
        forces: bool,
        stress: bool,
        create_graph: bool,
        fused: bool,
    ) -> Output:
        """Energy of centre atoms [first, last) and its derivative w.r.t. all atoms."""
        positions = batch.positions
        if forces:
            positions = positions.detach().requires_grad_(True)
        strain = None
        if stress:
            strain = torch.zeros_like(batch.cell).requires_grad_(True)
        p0, p1 = _range(batch.pair_i, first, last)
        if fused:
            trip_p = trip_q = batch.pair_i.new_zeros(0)
        else:
            t0, t1 = _range(batch.pair_i[batch.trip_p], first, last)
            trip_p, trip_q = batch.trip_p[t0:t1] - p0, batch.trip_q[t0:t1] - p0
        vectors = pair_vectors(batch, positions, strain, p0, p1)
        g = self.symmetry_functions(
            batch.species[first:last],
            batch.species[batch.pair_j[p0:p1]],
            vectors,
            batch.pair_i[p0:p1] - first,
            trip_p,
            trip_q,
            fused=fused,
        )
        atomic = self.atomic_energies(batch.species[first:last], g)
        energy = atomic.new_zeros(batch.n_structures).index_add(0, batch.image[first:last], atomic)
        out = Output(energy, atomic)
        inputs = [t for t in (positions if forces else None, strain) if t is not None]
        if inputs:
            grads = torch.autograd.grad(
                energy.sum(), inputs, create_graph=create_graph, allow_unused=True
            )
            grads = [
                torch.zeros_like(x) if gr is None else gr
                for x, gr in zip(inputs, grads, strict=True)
            ]
            if forces:
                out.forces = -grads[0]
            if stress:
                out.stress = _stress_from_virial(grads[-1], batch)
        if not create_graph:
            out = Output(*(None if t is None else t.detach() for t in vars(out).values()))
            out.descriptors = g.detach()
        return out


def _as_structures(items) -> list:
    """Structures from ase.Atoms / Structure objects (one or a sequence)."""
    from .io import structure_from_atoms
    from .structures import Structure

    if isinstance(items, Structure) or hasattr(items, "get_positions"):
        items = [items]
    return [
        s if isinstance(s, Structure) else structure_from_atoms(s, index=k)
        for k, s in enumerate(items)
    ]


def pair_vectors(
    batch: Batch,
    positions: torch.Tensor,
    strain: torch.Tensor | None,
    first: int = 0,
    last: int | None = None,
) -> torch.Tensor:
    """r_ij = (r_j - r_i + S @ cell) (1 + epsilon) for pairs [first, last), Å."""
    sl = slice(first, last)
    i, j, img = batch.pair_i[sl], batch.pair_j[sl], batch.pair_image[sl]
    shift = torch.einsum("pa,pab->pb", batch.pair_shift[sl], batch.cell[img])
    vectors = positions[j] - positions[i] + shift
    if strain is not None:
        sym = 0.5 * (strain + strain.transpose(1, 2))
        vectors = vectors + torch.einsum("pa,pab->pb", vectors, sym[img])
    return vectors


def _stress_from_virial(de_deps: torch.Tensor, batch: Batch) -> torch.Tensor:
    """sigma = (1/V) dE/d(epsilon) per structure; NaN where not periodic in 3D."""
    volume = torch.linalg.det(batch.cell).abs()
    safe = torch.where(batch.periodic, volume, torch.ones_like(volume))
    stress = de_deps / safe[:, None, None]
    nan = torch.full_like(stress, float("nan"))
    return torch.where(batch.periodic[:, None, None], stress, nan)


def _range(sorted_index: torch.Tensor, first: int, last: int) -> tuple[int, int]:
    """Slice [a, b) of a sorted index array with values in [first, last)."""
    bounds = torch.searchsorted(
        sorted_index, torch.tensor([first, last], device=sorted_index.device)
    )
    return int(bounds[0]), int(bounds[1])


def _chunk_bounds(batch: Batch, max_triplets: int) -> list[tuple[int, int]]:
    """Split atoms [0, N) into ranges holding about ``max_triplets`` triplets each.

    The triplets of an atom with k pairs are estimated as k (k - 1) / 2 (an upper bound).
    """
    n_atoms = batch.species.shape[0]
    pairs = torch.bincount(batch.pair_i, minlength=n_atoms).cpu()
    counts = pairs * (pairs - 1) // 2
    if int(counts.sum()) <= max_triplets or n_atoms < 2:
        return [(0, n_atoms)]
    cumulative = torch.cumsum(counts, 0)
    bounds, start = [], 0
    while start < n_atoms:
        target = (cumulative[start - 1] if start else 0) + max_triplets
        stop = int(torch.searchsorted(cumulative, target, right=True))
        stop = min(max(stop, start + 1), n_atoms)
        bounds.append((start, stop))
        start = stop
    return bounds
