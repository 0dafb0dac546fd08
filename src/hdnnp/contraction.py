r"""The pair contraction of force training: dE/dr_p from dE/dG and the stored dG/dr_p.

With the descriptor derivatives precomputed (:mod:`hdnnp.features`), the derivative of
the energy with respect to pair vector p (centre i(p)) is

    v_p = dE/dr_p = sum_k  c_{i(p), col_k}  D_{p, :, k},    c = dE/dG (N x S),
                                                          D = dG_{i(p), col_k}/dr_p (P x 3 x K),

and its transpose, needed when the loss is differentiated through the forces, is

    (T u)_{i, col_k} = sum_{p: i(p) = i} u_p . D_{p, :, k}      (u: P x 3).

D keeps the column index last, so both loops read it in memory order.

Both are linear, so :class:`Contract` and :class:`ContractTranspose` are each other's
backward, to any order. On the CPU with numba they run as fused loops that read D once
and never form the (P x K) gather of c; this and its transpose are most of the time of
a training step on forces. Elsewhere (GPU, no numba) the same products run as torch
``index_select`` + ``bmm``, which :func:`contract` also uses as its reference in the tests.

The transpose loops run in parallel over runs of pairs with the same centre when the
centres are sorted (as the neighbour lists and their concatenation produce), so no two
threads write one row; unsorted centres fall back to one thread.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from .descriptors._kernels import AVAILABLE, _jit, prange


@_jit(parallel=True)
def _contract_kernel(c, atoms, columns, d, out):  # pragma: no cover - compiled by numba
    n_k = columns.shape[0]
    zero = np.zeros(1, dtype=out.dtype)[0]  # accumulate in out's dtype (float32 stays float32)
    for p in prange(atoms.shape[0]):
        i = atoms[p]
        x = zero
        y = zero
        z = zero
        for k in range(n_k):
            w = c[i, columns[k]]
            x += w * d[p, 0, k]
            y += w * d[p, 1, k]
            z += w * d[p, 2, k]
        out[p, 0] = x
        out[p, 1] = y
        out[p, 2] = z


@_jit(parallel=True)
def _transpose_kernel(u, atoms, columns, d, starts, out):  # pragma: no cover - numba
    n_k = columns.shape[0]
    for r in prange(starts.shape[0] - 1):
        for p in range(starts[r], starts[r + 1]):
            i = atoms[p]
            ux = u[p, 0]
            uy = u[p, 1]
            uz = u[p, 2]
            for k in range(n_k):
                out[i, columns[k]] += ux * d[p, 0, k] + uy * d[p, 1, k] + uz * d[p, 2, k]


def run_starts(atoms: torch.Tensor) -> torch.Tensor:
    """Start indices (plus the end) of runs of equal centres when ``atoms`` is sorted,
    else ``[0, P]``: one run, which the transpose kernel then processes on one thread."""
    n = atoms.shape[0]
    if n > 1 and not bool((atoms[1:] >= atoms[:-1]).all()):
        return torch.tensor([0, n], dtype=torch.long)
    change = torch.nonzero(atoms[1:] != atoms[:-1]).squeeze(1) + 1
    zero, end = torch.zeros(1, dtype=torch.long), torch.full((1,), n, dtype=torch.long)
    return torch.cat([zero, change.cpu(), end])


_ENABLED = [True]


@contextlib.contextmanager
def fused_disabled():
    """Within the block, :func:`contract` uses the torch path everywhere (benchmarks
    compare the two in one process; results agree to rounding)."""
    _ENABLED.append(False)
    try:
        yield
    finally:
        _ENABLED.pop()


def kernels_available(*tensors: torch.Tensor) -> bool:
    """Whether the fused CPU loops can run on these tensors (numba present, all on CPU)."""
    return AVAILABLE and _ENABLED[-1] and all(t.device.type == "cpu" for t in tensors)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


class Contract(torch.autograd.Function):
    """v = A(c): (N, S) -> (P, 3), see the module docstring."""

    @staticmethod
    def forward(ctx, c, atoms, columns, d, starts):
        ctx.save_for_backward(atoms, columns, d, starts)
        ctx.n_rows = c.shape
        out = torch.empty((atoms.shape[0], 3), dtype=c.dtype)
        _contract_kernel(_numpy(c), _numpy(atoms), _numpy(columns), _numpy(d), out.numpy())
        return out

    @staticmethod
    def backward(ctx, grad):
        atoms, columns, d, starts = ctx.saved_tensors
        g = ContractTranspose.apply(grad, atoms, columns, d, starts, ctx.n_rows)
        return g, None, None, None, None


class ContractTranspose(torch.autograd.Function):
    """c = A^T(u): (P, 3) -> (N, S), see the module docstring."""

    @staticmethod
    def forward(ctx, u, atoms, columns, d, starts, shape):
        ctx.save_for_backward(atoms, columns, d, starts)
        out = torch.zeros(shape, dtype=u.dtype)
        _transpose_kernel(
            _numpy(u), _numpy(atoms), _numpy(columns), _numpy(d), _numpy(starts), out.numpy()
        )
        return out

    @staticmethod
    def backward(ctx, grad):
        atoms, columns, d, starts = ctx.saved_tensors
        return Contract.apply(grad, atoms, columns, d, starts), None, None, None, None, None


def contract(
    c: torch.Tensor,
    atoms: torch.Tensor,
    columns: torch.Tensor,
    d: torch.Tensor,
    fused: bool | None = None,
) -> torch.Tensor:
    """(P, 3) v_p = sum_k c[atoms[p], columns[k]] d[p, :, k], differentiable in ``c``.

    Args:
        c: (N, S) dE/dG.
        atoms: (P,) centre atom of each pair.
        columns: (K,) columns of ``c`` that ``d`` holds.
        d: (P, 3, K) dG/dr_p, in ``c``'s dtype or a lower one (float32 under float64:
            the loops accumulate in ``c``'s dtype; the torch path converts a copy).
        fused: use the numba loops (default: when available for these tensors).

    Returns:
        (P, 3) in ``c``'s dtype.
    """
    if fused is None:
        fused = kernels_available(c, d)
    if fused:
        return Contract.apply(c, atoms, columns, d.contiguous(), run_starts(atoms))
    rows = c if columns.numel() == c.shape[1] else c.index_select(1, columns)
    return torch.bmm(d.to(c.dtype), rows.index_select(0, atoms).unsqueeze(2)).squeeze(2)
