r"""Precomputed descriptors and their derivatives, for training on fixed structures.

During training the positions never change, so the symmetry functions G and their
derivatives with respect to every pair vector can be computed once per structure and
kept in memory (never on disk). Energies and forces then need only the networks:

    E = sum_i E_i(G_i),   dE/dr_p = sum_s dE/dG_{i(p), s} dG_{i(p), s}/dr_p,
    F_j = -sum_{p: j(p) = j} dE/dr_p + sum_{p: i(p) = j} dE/dr_p,
    sigma = (1/V) sum_p r_p (x) dE/dr_p   (ASE sign convention, symmetrised),

which is linear in dE/dG and hence differentiable with respect to the weights at the
cost of one extra backward pass through the (small) networks. This is n2p2's and
SIMPLE-NN's stored dG/dr, kept per pair (P x 3 x S) rather than per atom pair of the
whole structure. :func:`evaluate_features` agrees with
:meth:`hdnnp.potential.HDNNP.evaluate` to rounding; the tests check it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .batch import Batch
from .contraction import contract
from .descriptors import fused as fused_kernels
from .potential import HDNNP, Output, _stress_from_virial, pair_vectors


@dataclass
class PairBlock:
    """Derivatives of the pairs of one (centre element, neighbour element) class.

    Only the functions that can depend on such a pair are kept: radial functions with
    that neighbour element and angular functions whose neighbour pair contains it. This
    is exact and saves memory (a third for two elements, more for more elements).

    Attributes:
        pairs: (P_c,) pair indices in the batch.
        columns: (K_c,) descriptor columns of the centre element.
        dg: (P_c, 3, K_c) dG_{i(p), s} / d r_p for those pairs and columns, the
            column index last (contiguous), so that the contraction over columns reads
            memory in order and vectorises.
    """

    pairs: torch.Tensor
    columns: torch.Tensor
    dg: torch.Tensor


@dataclass
class Features:
    """Descriptors of a batch with their pair-vector derivatives.

    Attributes:
        batch: the batch they belong to (species, pairs, labels).
        g: (N, S_max) unscaled symmetry functions.
        blocks: per (centre, neighbour) element class, the nonzero dG/dr_p.
        vectors: (P, 3) pair vectors, Å.
    """

    batch: Batch
    g: torch.Tensor
    blocks: dict[tuple[int, int], PairBlock]
    vectors: torch.Tensor

    def to(self, device=None, dtype=None, derivative_dtype=None) -> Features:
        """Moved and/or converted; the dG/dr blocks to ``derivative_dtype`` (default:
        ``dtype``), e.g. float32 derivatives under float64 training (half the memory)."""
        dg_dtype = derivative_dtype if derivative_dtype is not None else dtype
        blocks = {
            k: PairBlock(
                b.pairs.to(device), b.columns.to(device), b.dg.to(device=device, dtype=dg_dtype)
            )
            for k, b in self.blocks.items()
        }
        return Features(
            self.batch.to(device, dtype),
            self.g.to(device=device, dtype=dtype),
            blocks,
            self.vectors.to(device=device, dtype=dtype),
        )

    @property
    def nbytes(self) -> int:
        tensors = [self.g, self.vectors] + [b.dg for b in self.blocks.values()]
        tensors += [b.pairs for b in self.blocks.values()]
        return sum(t.element_size() * t.numel() for t in tensors)

    def dense_dg(self) -> torch.Tensor:
        """(P, S_max, 3) dG_{i(p), s}/dr_p with all zeros filled in (for tests)."""
        dg = self.g.new_zeros((self.vectors.shape[0], self.g.shape[1], 3))
        for block in self.blocks.values():
            dg[block.pairs[:, None], block.columns[None, :]] = block.dg.transpose(1, 2).to(dg.dtype)
        return dg


def pair_columns(model: HDNNP) -> dict[tuple[int, int], list[int]]:
    """Descriptor columns of centre element a that can depend on a pair with neighbour b."""
    out = {}
    for a, centre in enumerate(model.elements):
        for b, neighbor in enumerate(model.elements):
            out[(a, b)] = [
                col
                for col, sf in enumerate(model.descriptors.for_element(centre))
                if neighbor in sf.neighbors
            ]
    return out


def _blocks(model: HDNNP, batch: Batch, dg: torch.Tensor) -> dict[tuple[int, int], PairBlock]:
    sa, sb = batch.species[batch.pair_i], batch.species[batch.pair_j]
    blocks = {}
    for (a, b), columns in pair_columns(model).items():
        pairs = torch.nonzero((sa == a) & (sb == b)).squeeze(1)
        if pairs.numel() == 0 or not columns:
            continue
        cols = torch.tensor(columns, dtype=torch.long, device=dg.device)
        blocks[(a, b)] = PairBlock(pairs, cols, dg[pairs][:, cols].transpose(1, 2).contiguous())
    return blocks


def compute_features(model: HDNNP, batch: Batch) -> Features:
    """G and dG/dr_p of a batch: fused CPU kernels when available, else autograd."""
    vectors = pair_vectors(batch, batch.positions, None).detach()
    species, nspecies = batch.species, batch.species[batch.pair_j]
    sf = model.symmetry_functions
    if fused_kernels.available(vectors):
        g, own, cross = fused_kernels.descriptors_with_derivatives(
            vectors, batch.pair_i, species, nspecies, sf.max_functions, sf.kernel_tables
        )
        dg = cross + own[:, :, None] * vectors[:, None, :]
        return Features(batch, g, _blocks(model, batch, dg), vectors)
    return _features_autograd(model, batch, vectors)


def _features_autograd(model: HDNNP, batch: Batch, vectors: torch.Tensor) -> Features:
    """Fallback: one backward pass per descriptor column (GPU or no numba)."""
    v = vectors.clone().requires_grad_(True)
    g = model.symmetry_functions.of_batch(batch, v)
    columns = []
    for s in range(g.shape[1]):
        (grad,) = torch.autograd.grad(g[:, s].sum(), v, retain_graph=True, allow_unused=True)
        columns.append(torch.zeros_like(v) if grad is None else grad)
    dg = torch.stack(columns, dim=1)
    return Features(batch, g.detach(), _blocks(model, batch, dg), vectors)


def evaluate_features(
    model: HDNNP,
    features: Features,
    forces: bool = True,
    stress: bool = False,
    create_graph: bool = False,
) -> Output:
    """Energies, forces and stress from precomputed features (see the module docstring)."""
    batch = features.batch
    g = features.g.detach().requires_grad_(forces or stress)
    atomic = model.atomic_energies(batch.species, g)
    energy = atomic.new_zeros(batch.n_structures).index_add(0, batch.image, atomic)
    out = Output(energy, atomic)
    if forces or stress:
        (de_dg,) = torch.autograd.grad(energy.sum(), g, create_graph=create_graph)
        de_dv = _pair_derivatives(de_dg, features)
        if forces:
            f = torch.zeros_like(batch.positions, dtype=de_dv.dtype)
            out.forces = f.index_add(0, batch.pair_i, de_dv).index_add(0, batch.pair_j, -de_dv)
        if stress:
            virial = torch.einsum("pa,pb->pab", features.vectors, de_dv)
            per_structure = virial.new_zeros((batch.n_structures, 3, 3))
            per_structure = per_structure.index_add(0, batch.pair_image, virial)
            sym = 0.5 * (per_structure + per_structure.transpose(1, 2))
            out.stress = _stress_from_virial(sym, batch)
    if not create_graph:
        out = Output(*(None if t is None else t.detach() for t in vars(out).values()))
    return out


def _pair_derivatives(de_dg: torch.Tensor, features: Features) -> torch.Tensor:
    """(P, 3) dE/dr_p = sum_s dE/dG_{i(p), s} dG_{i(p), s}/dr_p, block by block
    (:func:`hdnnp.contraction.contract`: fused CPU loops, or index_select + bmm), in the
    dtype of dE/dG whatever the dtype of the stored dG/dr."""
    pair_i = features.batch.pair_i
    de_dv = features.vectors.new_zeros(features.vectors.shape, dtype=de_dg.dtype)
    for block in features.blocks.values():
        atoms = pair_i.index_select(0, block.pairs)
        part = contract(de_dg, atoms, block.columns, block.dg)
        de_dv = de_dv.index_add(0, block.pairs, part)
    return de_dv


def collate_features(items: list[Features]) -> Features:
    """Concatenate per-structure (or per-batch) features into one batch."""
    if len(items) == 1:
        return items[0]
    atom_off = pair_off = struct_off = 0
    parts: dict[str, list] = {
        k: []
        for k in (
            "species",
            "positions",
            "cell",
            "periodic",
            "image",
            "n_atoms",
            "pair_i",
            "pair_j",
            "pair_shift",
            "pair_image",
            "energy",
            "forces",
            "stress",
        )
    }
    for f in items:
        b = f.batch
        parts["species"].append(b.species)
        parts["positions"].append(b.positions)
        parts["cell"].append(b.cell)
        parts["periodic"].append(b.periodic)
        parts["image"].append(b.image + struct_off)
        parts["n_atoms"].append(b.n_atoms)
        parts["pair_i"].append(b.pair_i + atom_off)
        parts["pair_j"].append(b.pair_j + atom_off)
        parts["pair_shift"].append(b.pair_shift)
        parts["pair_image"].append(b.pair_image + struct_off)
        parts["energy"].append(b.energy)
        parts["forces"].append(b.forces)
        parts["stress"].append(_stress_labels(b))
        atom_off += b.species.shape[0]
        pair_off += b.pair_i.shape[0]
        struct_off += b.n_structures
    batch = Batch(**{k: torch.cat(v) for k, v in parts.items()}, trip_p=None, trip_q=None)
    return Features(
        batch,
        torch.cat([f.g for f in items]),
        _collate_blocks(items),
        torch.cat([f.vectors for f in items]),
    )


def _stress_labels(batch: Batch) -> torch.Tensor:
    """The batch's reference stress, NaN when it carries none (a Batch built without
    labels; :func:`~hdnnp.batch.make_batch` always sets it)."""
    if batch.stress is not None:
        return batch.stress
    return batch.cell.new_full((batch.n_structures, 3, 3), float("nan"))


def _collate_blocks(items: list[Features]) -> dict[tuple[int, int], PairBlock]:
    pairs: dict = {}
    dgs: dict = {}
    columns: dict = {}
    offset = 0
    for f in items:
        for key, block in f.blocks.items():
            pairs.setdefault(key, []).append(block.pairs + offset)
            dgs.setdefault(key, []).append(block.dg)
            columns[key] = block.columns
        offset += f.vectors.shape[0]
    return {k: PairBlock(torch.cat(pairs[k]), columns[k], torch.cat(dgs[k])) for k in pairs}
