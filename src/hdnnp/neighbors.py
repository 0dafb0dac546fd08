"""Neighbour lists (pairs and triplets) for atomic structures.

Units are Å throughout (positions, cell vectors, cutoff).

Convention
----------
:func:`build_pairs` returns a *full* pair list: every ordered pair ``(i, j, S)`` with

    r_ij = positions[j] - positions[i] + S @ cell,        |r_ij| < cutoff   (strict)

where ``S`` is an integer vector of cell shifts (always zero along non-periodic axes).
Both ``(i, j, S)`` and ``(j, i, -S)`` are present. Only the self pair ``i == j`` with
``S == 0`` is excluded; periodic self images (``i == j``, ``S != 0``) are included, as are
several images of the same neighbour when the cell is smaller than the cutoff. The shifts
refer to the positions *as given* (they need not be wrapped into the cell). Pairs are
sorted by ``i`` (then ``j``, then ``S``), so the pairs of one centre are contiguous, which is
what :func:`triplets` and :func:`triplets_torch` rely on.

The backend is `vesin <https://github.com/Luthaf/vesin>`_. To be independent of
version-specific handling of mixed periodicity, zero cell vectors and unwrapped
coordinates, vesin is always called on a *fully periodic* auxiliary box: the periodic cell
vectors are kept, each non-periodic axis gets a vector orthogonal to the periodic ones that
is longer than the extent of the atoms plus the cutoff (so no image along it can be within
the cutoff), and the atoms are wrapped into that box. The returned shifts are then
translated back to the original positions and the distances recomputed and filtered here.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import vesin

__all__ = ["Pairs", "build_pairs", "triplets", "triplets_torch"]

# Relative tolerance (smallest/largest singular value) for linearly dependent periodic vectors.
_DEGENERATE_RTOL = 1e-10
# Extra length (Å) added to the auxiliary box along non-periodic axes.
_PAD = 1.0


class Pairs(NamedTuple):
    """Full pair list; see the module docstring for the convention."""

    i: np.ndarray
    """(P,) int64 centre atom index."""
    j: np.ndarray
    """(P,) int64 neighbour atom index."""
    shift: np.ndarray
    """(P, 3) int64 integer cell shifts ``S``; ``r_ij = x[j] - x[i] + S @ cell``."""


# --------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------


def _validate(positions, cell, pbc, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convert inputs to float64 / bool arrays and check them; raise ``ValueError``."""
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 2 or pos.shape[1] != 3:
        raise ValueError(f"positions must have shape (N, 3), got {pos.shape}")
    if not np.all(np.isfinite(pos)):
        raise ValueError("positions contain non-finite values (nan or inf)")
    box = np.asarray(cell, dtype=np.float64)
    if box.shape != (3, 3):
        raise ValueError(f"cell must have shape (3, 3), got {box.shape}")
    if not np.all(np.isfinite(box)):
        raise ValueError("cell contains non-finite values (nan or inf)")
    periodic = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,)).copy()
    cutoff = float(cutoff)
    if not np.isfinite(cutoff) or cutoff <= 0.0:
        raise ValueError(f"cutoff must be a finite positive number, got {cutoff}")
    _check_periodic_cell(box, periodic)
    return pos, box, periodic


def _check_periodic_cell(cell: np.ndarray, pbc: np.ndarray) -> None:
    """Periodic cell vectors must be non-zero and linearly independent."""
    lengths = np.linalg.norm(cell, axis=1)
    for axis in np.flatnonzero(pbc):
        if lengths[axis] == 0.0:
            raise ValueError(
                f"pbc is True along axis {axis} but cell vector {axis} is zero; "
                "set pbc to False for that axis or give a non-zero cell vector"
            )
    periodic_vectors = cell[pbc]
    if len(periodic_vectors) > 1:
        sv = np.linalg.svd(periodic_vectors, compute_uv=False)
        if sv[-1] <= _DEGENERATE_RTOL * sv[0]:
            raise ValueError(
                f"cell vectors along the periodic axes (pbc={pbc.tolist()}) are linearly dependent"
            )


# --------------------------------------------------------------------------------------
# auxiliary fully periodic box
# --------------------------------------------------------------------------------------


def _orthonormal_complement(vectors: np.ndarray) -> np.ndarray:
    """(3 - k, 3) orthonormal rows orthogonal to the k linearly independent rows given."""
    if len(vectors) == 0:
        return np.eye(3)
    _, _, vt = np.linalg.svd(vectors)
    return vt[len(vectors) :]


def _wrap_into_aux_box(
    pos: np.ndarray, cell: np.ndarray, pbc: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Build a fully periodic box and wrap the atoms into it.

    Returns ``(wrapped_positions, box, offsets)`` with integer ``offsets`` (N, 3) such that
    ``wrapped = pos - offsets @ cell + t`` for one common translation ``t``; ``offsets`` is
    zero along non-periodic axes.
    """
    box = cell.copy()
    non_periodic = np.flatnonzero(~pbc)
    unit_box = cell.copy()
    unit_box[non_periodic] = _orthonormal_complement(cell[pbc])
    frac = pos @ np.linalg.inv(unit_box)
    offsets = np.zeros(pos.shape, dtype=np.int64)
    if pbc.any():
        offsets[:, pbc] = np.floor(frac[:, pbc]).astype(np.int64)
    wrapped = pos - offsets.astype(np.float64) @ cell
    for axis in non_periodic:
        u = unit_box[axis]
        along = pos @ u  # coordinate along the orthonormal direction u
        lo = along.min() if len(along) else 0.0
        extent = (along.max() - lo) if len(along) else 0.0
        wrapped -= lo * u  # common translation: distances unchanged
        box[axis] = (extent + cutoff + _PAD) * u
    return wrapped, box, offsets


# --------------------------------------------------------------------------------------
# pair list
# --------------------------------------------------------------------------------------


def _vesin_pairs(
    pos: np.ndarray, box: np.ndarray, cutoff: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw full vesin list (fully periodic box) as int64 arrays ``(i, j, S)``."""
    # slightly enlarged cutoff: the strict filter is applied later on the original positions
    search_cutoff = cutoff * (1.0 + 1e-9) + 1e-12
    calculator = vesin.NeighborList(cutoff=search_cutoff, full_list=True)
    i, j, shift, _ = calculator.compute(pos, box, True, quantities="ijSd")
    return (
        np.asarray(i, dtype=np.int64),
        np.asarray(j, dtype=np.int64),
        np.asarray(shift, dtype=np.int64).reshape(-1, 3),
    )


def _sort_pairs(i: np.ndarray, j: np.ndarray, shift: np.ndarray, n_atoms: int) -> Pairs:
    """Sort lexicographically by (i, j, S0, S1, S2)."""
    if len(i) == 0:
        return Pairs(i=i, j=j, shift=shift)
    lo = shift.min(axis=0)
    span = shift.max(axis=0) - lo + 1
    n_codes = int(span[0]) * int(span[1]) * int(span[2])
    if n_atoms * n_atoms * n_codes < 2**62:  # single int64 key: about twice as fast
        s = shift - lo
        code = (s[:, 0] * span[1] + s[:, 1]) * span[2] + s[:, 2]
        order = np.argsort((i * n_atoms + j) * n_codes + code, kind="stable")
    else:
        order = np.lexsort((shift[:, 2], shift[:, 1], shift[:, 0], j, i))
    return Pairs(i=i[order], j=j[order], shift=np.ascontiguousarray(shift[order]))


def build_pairs(positions, cell, pbc, cutoff: float) -> Pairs:
    """Full neighbour list of all pairs closer than ``cutoff`` (strict ``<``).

    Args:
        positions: (N, 3) Cartesian positions in Å; need not be wrapped into the cell.
        cell: (3, 3) cell vectors as rows in Å. Vectors along non-periodic axes are
            ignored (they may be zero or arbitrary).
        pbc: bool or three bools, periodicity along each cell vector.
        cutoff: cutoff radius in Å, > 0.

    Returns:
        :class:`Pairs` ``(i, j, shift)`` with
        ``positions[j] - positions[i] + shift @ cell`` the distance vector of each pair;
        sorted by ``i``, then ``j``, then shift.

    Raises:
        ValueError: invalid shapes, non-finite values, ``cutoff <= 0``, or ``pbc`` set
            along an axis whose cell vector is zero (or periodic vectors degenerate).
    """
    pos, cell, pbc = _validate(positions, cell, pbc, cutoff)
    empty = np.zeros(0, dtype=np.int64)
    if len(pos) == 0:
        return Pairs(i=empty, j=empty.copy(), shift=np.zeros((0, 3), dtype=np.int64))
    wrapped, box, offsets = _wrap_into_aux_box(pos, cell, pbc, cutoff)
    i, j, shift_wrapped = _vesin_pairs(wrapped, box, cutoff)
    # along non-periodic axes no image can be within the cutoff; drop any just in case
    keep = ~np.any(shift_wrapped[:, ~pbc] != 0, axis=1)
    i, j, shift_wrapped = i[keep], j[keep], shift_wrapped[keep]
    # wrapped = pos - offsets @ cell (+ t)  =>  S_original = S_wrapped + offsets_i - offsets_j
    shift = shift_wrapped + offsets[i]
    shift -= offsets[j]
    vectors = pos[j] - pos[i]
    vectors += shift @ cell
    dist = np.sqrt(np.einsum("pk,pk->p", vectors, vectors))
    keep = (dist < cutoff) & ((i != j) | shift.any(axis=1))
    return _sort_pairs(i[keep], j[keep], shift[keep], len(pos))


def _within(pairs: Pairs, pos: np.ndarray, cell: np.ndarray, cutoff: float) -> Pairs:
    """The pairs of ``pairs`` closer than ``cutoff`` (order kept)."""
    vectors = pos[pairs.j] - pos[pairs.i]
    vectors += pairs.shift @ cell
    keep = np.einsum("pk,pk->p", vectors, vectors) < cutoff * cutoff
    return Pairs(i=pairs.i[keep], j=pairs.j[keep], shift=pairs.shift[keep])


class VerletList:
    """Pair lists for a sequence of nearby configurations (MD, relaxation), reusing one
    list built with ``cutoff + skin`` (Verlet, Phys. Rev. 159, 98 (1967)).

    :meth:`pairs` returns exactly what :func:`build_pairs` would (same pairs, same order):
    the cached candidates are filtered by the current distances. The cache is rebuilt
    when an atom has moved more than ``skin / 2`` since the last build (then no pair
    outside the candidates can have come within the cutoff), or when the number of
    atoms, the cell or the periodicity changed.

    Args:
        cutoff: cutoff radius in Å.
        skin: extra radius of the cached list in Å (0 rebuilds every call).
    """

    def __init__(self, cutoff: float, skin: float = 1.0):
        if skin < 0:
            raise ValueError(f"skin must be >= 0 Å, got {skin}")
        self.cutoff, self.skin = float(cutoff), float(skin)
        self.builds = 0
        self._key = None
        self._reference: np.ndarray | None = None
        self._candidates: Pairs | None = None

    def _stale(self, pos: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> bool:
        key = (len(pos), cell.tobytes(), pbc.tobytes())
        if self._candidates is None or key != self._key:
            return True
        moved = np.einsum("ik,ik->i", pos - self._reference, pos - self._reference)
        return bool(moved.max(initial=0.0) > (0.5 * self.skin) ** 2)

    def pairs(self, positions, cell, pbc) -> Pairs:
        """Full pair list within ``cutoff`` (see :func:`build_pairs`)."""
        pos, cell, pbc = _validate(positions, cell, pbc, self.cutoff)
        if self.skin == 0.0:
            return build_pairs(pos, cell, pbc, self.cutoff)
        if self._stale(pos, cell, pbc):
            self._candidates = build_pairs(pos, cell, pbc, self.cutoff + self.skin)
            self._reference = pos.copy()
            self._key = (len(pos), cell.tobytes(), pbc.tobytes())
            self.builds += 1
        return _within(self._candidates, pos, cell, self.cutoff)


# --------------------------------------------------------------------------------------
# triplets
# --------------------------------------------------------------------------------------


def triplets(i: np.ndarray, n_atoms: int) -> tuple[np.ndarray, np.ndarray]:
    """Enumerate all unordered pairs of neighbours of each centre.

    Args:
        i: (P,) centre index of a pair list, sorted (non-decreasing).
        n_atoms: number of atoms (``i.max() < n_atoms``).

    Returns:
        ``(p, q)``: int64 arrays of pair indices with ``i[p] == i[q]`` and ``p < q``, every
        such combination exactly once, ordered by ``p`` then ``q``.
    """
    i = np.asarray(i, dtype=np.int64)
    n_pairs = len(i)
    if n_pairs == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if np.any(i[1:] < i[:-1]):
        raise ValueError("triplets: the centre index array i must be sorted")
    counts = np.bincount(i, minlength=n_atoms)
    group_end = np.cumsum(counts)  # one past the last pair of each centre
    pair_idx = np.arange(n_pairs, dtype=np.int64)
    # number of later pairs of the same centre, i.e. partners q > p for each p
    n_partners = group_end[i] - pair_idx - 1
    p = np.repeat(pair_idx, n_partners)
    # q runs p+1, p+2, ... within each block: q = t - start(p) + p + 1, t the triplet index
    block_start = np.cumsum(n_partners) - n_partners
    q = np.repeat(pair_idx + 1 - block_start, n_partners)
    q += np.arange(len(q), dtype=np.int64)
    return p, q


def triplets_torch(i: torch.Tensor, n_atoms: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Torch version of :func:`triplets` (same output and ordering, on ``i.device``).

    ``i`` must be sorted; this is not checked (to avoid an extra device sync). The number
    of triplets is data dependent, so one host-device sync is unavoidable on GPUs.
    """
    i = i.to(torch.int64)
    device = i.device
    n_pairs = i.shape[0]
    if n_pairs == 0:
        empty = torch.zeros(0, dtype=torch.int64, device=device)
        return empty, empty.clone()
    counts = torch.bincount(i, minlength=n_atoms)
    group_end = torch.cumsum(counts, dim=0)
    pair_idx = torch.arange(n_pairs, dtype=torch.int64, device=device)
    n_partners = group_end[i] - pair_idx - 1
    n_triplets = int(n_partners.sum())  # the single host-device sync
    # repeat_interleave(n) == repeat_interleave(arange(len(n)), n), but faster
    p = torch.repeat_interleave(n_partners, output_size=n_triplets)
    block_start = torch.cumsum(n_partners, dim=0) - n_partners
    q = torch.arange(n_triplets, dtype=torch.int64, device=device)
    q += (pair_idx + 1 - block_start).index_select(0, p)
    return p, q
