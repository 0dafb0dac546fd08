"""All angular functions of a descriptor set in one CPU kernel call (numba).

:class:`FusedAngular` is the CPU fast path of
:class:`~hdnnp.descriptors.compute.SymmetryFunctions`: one pass over all triplets
for every element combination, with the loop kernels of
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
from .params import RADIAL, DescriptorSet


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

    @classmethod
    def build(cls, descriptors: DescriptorSet) -> KernelTables:
        elements = descriptors.elements
        index = {e: n for n, e in enumerate(elements)}
        groups: dict[tuple[int, int, int], list] = {}
        for e in elements:
            for col, sf in enumerate(descriptors.for_element(e)):
                if sf.type != RADIAL:
                    b, c = sorted(index[s] for s in sf.neighbors)
                    groups.setdefault((index[e], b, c), []).append((col, sf))
        n = len(elements)
        table = np.full((n, n, n), -1, dtype=np.int64)
        rows, offsets, skip = [], [0], []
        for g, (key, items) in enumerate(sorted(groups.items())):
            table[key] = g
            rows.extend(items)
            offsets.append(len(rows))
            all_narrow = all(sf.type == 3 for _, sf in items)
            skip.append(max(sf.rc for _, sf in items) if all_narrow else np.inf)
        sfs = [sf for _, sf in rows]
        rc_unique = np.array(sorted({sf.rc for sf in sfs}), dtype=np.float64)
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


def available(vectors: torch.Tensor) -> bool:
    """Whether the fused CPU kernels can evaluate these tensors."""
    return _kernels.AVAILABLE and vectors.device.type == "cpu"


def _geometry(vectors, trip_p, trip_q, centre, species, neighbor_species, tables):
    vec = vectors.detach().numpy()
    n_pairs, n_rc = vec.shape[0], tables.rc_unique.shape[0]
    r = np.empty(n_pairs, dtype=vec.dtype)
    fc = np.empty((n_pairs, n_rc), dtype=vec.dtype)
    dfc = np.empty((n_pairs, n_rc), dtype=vec.dtype)
    _kernels.pair_cutoffs(
        vec, tables.rc_unique.astype(vec.dtype), tables.code, tables.alpha, r, fc, dfc
    )
    seg, rows = _kernels.segments(centre.numpy())
    return (
        vec,
        r,
        fc,
        dfc,
        trip_p.numpy(),
        trip_q.numpy(),
        seg,
        rows,
        species.numpy()[rows],
        neighbor_species.numpy(),
    )


class FusedAngular(torch.autograd.Function):
    """Angular part of G (n_centres, max_functions) from pair vectors, CPU kernels."""

    @staticmethod
    def forward(
        ctx,
        vectors,
        trip_p,
        trip_q,
        centre,
        species,
        neighbor_species,
        n_cols: int,
        tables: KernelTables,
    ):
        geo = _geometry(vectors, trip_p, trip_q, centre, species, neighbor_species, tables)
        vec, r, fc, dfc, p, q, seg, rows, cs, ns = geo
        out = np.zeros((species.shape[0], n_cols), dtype=vec.dtype)
        _kernels.angular_forward(
            vec, r, fc, p, q, seg, rows, cs, ns, *tables.params(vec.dtype), out
        )
        ctx.geometry = geo
        ctx.tables = tables
        ctx.save_for_backward(vectors)
        return torch.from_numpy(out)

    @staticmethod
    def backward(ctx, grad_out):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "FusedAngular does not support double backward; evaluate with "
                "the torch path (create_graph=True selects it)"
            )
        vec, r, fc, dfc, p, q, seg, rows, cs, ns = ctx.geometry
        grad = np.ascontiguousarray(grad_out.numpy(), dtype=vec.dtype)
        dvec = np.zeros_like(vec)
        _kernels.angular_backward(
            vec, r, fc, dfc, p, q, seg, rows, cs, ns, *ctx.tables.params(vec.dtype), grad, dvec
        )
        return torch.from_numpy(dvec), None, None, None, None, None, None, None
