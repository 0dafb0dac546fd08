"""All symmetry functions and their derivatives in one CPU kernel call (numba).

:class:`FusedDescriptors` is the CPU fast path of
:class:`~hdnnp.descriptors.compute.SymmetryFunctions`: one pass over the pairs and
triplets of every centre for all element combinations, with the loop kernels of
:mod:`hdnnp.descriptors._kernels`. It is used when the tensors are on the CPU, numba is
installed and no gradient of the gradient is needed (prediction, MD); training on forces
and GPUs use the torch implementation in :mod:`hdnnp.descriptors.angular`. Both compute
the same formulas; the tests compare them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import _kernels
from .params import DescriptorSet, angular_groups, radial_groups


@dataclass(frozen=True)
class KernelTables:
    """Flat parameter arrays of every angular function, grouped by element combination."""

    table: np.ndarray  # (E, E, E) group index of (centre, lower, higher neighbour) or -1
    offsets: np.ndarray  # (G + 1,) function range of each group
    skip_rjk: np.ndarray  # (G,) r_jk at and beyond which the whole group vanishes
    col: np.ndarray  # (S,) column of each function in the descriptor row
    eta: np.ndarray
    rs: np.ndarray
    zeta: np.ndarray
    zeta_int: np.ndarray  # integer zeta, or 0 where zeta is not an integer
    lam: np.ndarray
    narrow: np.ndarray  # bool
    rc: np.ndarray
    rc_index: np.ndarray  # index into rc_unique
    norm: np.ndarray  # 2^(1 - zeta)
    rc_unique: np.ndarray
    code: int
    alpha: float
    rad_table: np.ndarray  # (E, E) radial group of (centre, neighbour) or -1
    rad_offsets: np.ndarray
    rad_col: np.ndarray
    rad_eta: np.ndarray
    rad_rs: np.ndarray
    rad_rc_index: np.ndarray
    angular_cutoff: float

    @classmethod
    def build(cls, descriptors: DescriptorSet) -> KernelTables:
        groups = angular_groups(descriptors)
        n = len(descriptors.elements)
        table = np.full((n, n, n), -1, dtype=np.int64)
        rows, offsets, skip = [], [0], []
        for g, (key, items) in enumerate(sorted(groups.items())):
            table[key] = g
            rows.extend(items)
            offsets.append(len(rows))
            all_narrow = all(sf.type == 3 for _, sf in items)
            skip.append(max(sf.rc for _, sf in items) if all_narrow else np.inf)
        sfs = [sf for _, sf in rows]
        radial = _radial_tables(descriptors)
        rc_unique = np.array(sorted({sf.rc for sf in descriptors.functions}), dtype=np.float64)
        zeta = np.array([sf.zeta for sf in sfs], dtype=np.float64)
        return cls(
            table=table,
            offsets=np.array(offsets, dtype=np.int64),
            skip_rjk=np.array(skip, dtype=np.float64),
            col=np.array([c for c, _ in rows], dtype=np.int64),
            eta=np.array([sf.eta for sf in sfs], dtype=np.float64),
            rs=np.array([sf.rs for sf in sfs], dtype=np.float64),
            zeta=zeta,
            zeta_int=np.where(zeta == np.round(zeta), np.round(zeta), 0).astype(np.int64),
            lam=np.array([sf.lambda_ for sf in sfs], dtype=np.float64),
            narrow=np.array([sf.type == 3 for sf in sfs], dtype=np.bool_),
            rc=np.array([sf.rc for sf in sfs], dtype=np.float64),
            rc_index=np.array([np.searchsorted(rc_unique, sf.rc) for sf in sfs], dtype=np.int64),
            norm=2.0 ** (1.0 - zeta),
            rc_unique=rc_unique,
            code=_kernels.CUTOFF_CODES[descriptors.cutoff_type],
            alpha=float(descriptors.cutoff_alpha),
            rad_table=radial[0],
            rad_offsets=radial[1],
            rad_col=radial[2],
            rad_eta=radial[3],
            rad_rs=radial[4],
            rad_rc_index=np.array(
                [np.searchsorted(rc_unique, rc) for rc in radial[5]], dtype=np.int64
            ),
            angular_cutoff=max((sf.rc for sf in sfs), default=0.0),
        )

    def params(self, dtype) -> tuple:
        """Arguments after the geometry, in kernel order, floats in ``dtype``."""
        f = lambda a: a.astype(dtype)  # noqa: E731
        return (
            self.table,
            self.offsets,
            f(self.skip_rjk),
            self.col,
            f(self.eta),
            f(self.rs),
            f(self.zeta),
            self.zeta_int,
            f(self.lam),
            self.narrow,
            f(self.rc),
            self.rc_index,
            f(self.norm),
            self.code,
            self.alpha,
        )


def _radial_tables(descriptors: DescriptorSet):
    """Radial functions grouped by (centre, neighbour) element: table, offsets, columns,
    eta, rs and rc of each function."""
    groups = radial_groups(descriptors)
    n = len(descriptors.elements)
    table = np.full((n, n), -1, dtype=np.int64)
    rows, offsets = [], [0]
    for g, (key, items) in enumerate(sorted(groups.items())):
        table[key] = g
        rows.extend(items)
        offsets.append(len(rows))
    sfs = [sf for _, sf in rows]
    return (
        table,
        np.array(offsets, dtype=np.int64),
        np.array([c for c, _ in rows], dtype=np.int64),
        np.array([sf.eta for sf in sfs], dtype=np.float64),
        np.array([sf.rs for sf in sfs], dtype=np.float64),
        [sf.rc for sf in sfs],
    )


def available(vectors: torch.Tensor) -> bool:
    """Whether the fused CPU kernels can evaluate these tensors."""
    return _kernels.AVAILABLE and vectors.device.type == "cpu"


def _run_kernel(vectors, pair_i, species, neighbor_species, n_cols: int, tables: KernelTables):
    """(G, own, cross) numpy arrays; dG_{i(p), s}/dr_p = own[p, s] r_p + cross[p, s]."""
    vec = np.ascontiguousarray(vectors.detach().cpu().numpy())
    n_pairs, n_centres = vec.shape[0], species.shape[0]
    r = np.empty(n_pairs, dtype=vec.dtype)
    fc = np.empty((n_pairs, tables.rc_unique.shape[0]), dtype=vec.dtype)
    dfc = np.empty_like(fc)
    _kernels.pair_cutoffs(
        vec, tables.rc_unique.astype(vec.dtype), tables.code, tables.alpha, r, fc, dfc
    )
    pair_start = np.searchsorted(pair_i.cpu().numpy(), np.arange(n_centres + 1))
    g = np.zeros((n_centres, n_cols), dtype=vec.dtype)
    own = np.zeros((n_pairs, n_cols), dtype=vec.dtype)
    cross = np.zeros((n_pairs, n_cols, 3), dtype=vec.dtype)
    t = tables
    _kernels.descriptors_and_derivatives(
        vec,
        r,
        fc,
        dfc,
        pair_start.astype(np.int64),
        species.cpu().numpy(),
        neighbor_species.cpu().numpy(),
        vec.dtype.type(t.angular_cutoff),
        t.rad_table,
        t.rad_offsets,
        t.rad_col,
        t.rad_eta.astype(vec.dtype),
        t.rad_rs.astype(vec.dtype),
        t.rad_rc_index,
        *t.params(vec.dtype),
        g,
        own,
        cross,
    )
    return g, own, cross


def descriptors_with_derivatives(
    vectors, pair_i, species, neighbor_species, n_cols: int, tables: KernelTables
):
    """G (N, S), own (P, S) and cross (P, S, 3) tensors: dG/dr_p = own r_p + cross."""
    return tuple(
        torch.from_numpy(a)
        for a in _run_kernel(vectors, pair_i, species, neighbor_species, n_cols, tables)
    )


class FusedDescriptors(torch.autograd.Function):
    """G (n_centres, max_functions) with its pair-vector derivatives, in one CPU pass.

    The forward computes every function and its derivative with respect to each pair
    vector (n2p2's stored dG/dr, per pair), sharing the costly exponentials and cutoffs
    between value and derivative. The backward is then a contraction:
    dE/d r_p = sum_s dE/dG_{i(p), s} dG_{i(p), s}/d r_p. Triplets are generated inside
    the kernel from each centre's pairs, so no triplet list is needed.
    Not differentiable twice (training on forces uses the torch path or
    :mod:`hdnnp.features`).
    """

    @staticmethod
    def forward(ctx, vectors, pair_i, species, neighbor_species, n_cols: int, tables: KernelTables):
        g, own, cross = _run_kernel(vectors, pair_i, species, neighbor_species, n_cols, tables)
        ctx.own, ctx.cross = torch.from_numpy(own), torch.from_numpy(cross)
        ctx.save_for_backward(pair_i, vectors.detach())
        return torch.from_numpy(g)

    @staticmethod
    def backward(ctx, grad_g):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "FusedDescriptors cannot be differentiated twice; evaluate "
                "with create_graph=True to use the torch path"
            )
        pair_i, vectors = ctx.saved_tensors
        per_pair = grad_g[pair_i]
        grad = torch.einsum("ps,psk->pk", per_pair, ctx.cross)
        grad += (per_pair * ctx.own).sum(1, keepdim=True) * vectors
        return grad, None, None, None, None, None
