r"""Structure analysis of trajectories: radial and angular distributions, coordination.

All functions take a sequence of frames (``ase.Atoms``) and average over them. Lengths are
in Å, angles in degrees. Neighbours come from :func:`hdnnp.neighbors.build_pairs`, which
includes every periodic image, so the results are exact for triclinic cells and for cells
smaller than twice the cutoff (an atom's own images count as its neighbours).

Element pairs are named ``"A-B"`` and triplets ``"A-B-C"`` (centre ``B`` in the middle);
elements are ordered alphabetically (``sorted`` symbols), so the default partials of
SiO2 are ``O-O``, ``O-Si`` and ``Si-Si``.

Radial distribution function
----------------------------
For one frame of volume :math:`V` with :math:`N_a` atoms of element *a*, the partial
RDF in the shell :math:`[r_1, r_2)` is

.. math::

    g_{ab}(r) = \frac{V}{N_a N_b}\,
        \frac{n_{ab}(r_1, r_2)}{\tfrac{4}{3}\pi (r_2^3 - r_1^3)},

where :math:`n_{ab}` counts the *ordered* pairs ``(i, j)`` with ``i`` of element *a*,
``j`` of element *b* (any periodic image of ``j``, including images of ``i`` itself but not
``i`` itself) at a distance in the shell. The normalisation is :math:`N_a N_b` also for
:math:`a = b`. With it

* the running coordination number
  :math:`n_{ab}(r) = 4\pi\rho_b \int_0^r g_{ab}(s)\, s^2\, ds`, :math:`\rho_b = N_b / V`,
  is exactly the mean number of *b* atoms within :math:`r` of an *a* atom;
* a crystal gives the same :math:`g(r)` for its primitive cell and any supercell;
* an ideal gas (uniform independent positions) of :math:`N_a` atoms in a box larger than
  :math:`2 r` has the expectation :math:`\langle g_{aa}\rangle = 1 - 1/N_a` (an atom is
  not its own neighbour) and :math:`\langle g_{ab}\rangle = 1` for :math:`a \ne b`.

The total RDF is :math:`g(r) = \sum_{ab} x_a x_b\, g_{ab}(r)`, :math:`x_a = N_a / N`, i.e.
the same formula with all pairs and :math:`N^2`. Frames are averaged with equal weight;
frames that lack *a* or *b* do not enter :math:`g_{ab}`, frames that lack *a* do not
enter :math:`n_{ab}`. :math:`g(r)` needs a volume, so :func:`rdf` accepts only frames
periodic along all three cell vectors.

Angle distribution and coordination
-----------------------------------
A neighbour *j* of a centre *i* is an atom (or image) with
:math:`|\mathbf r_{ij}| < r_c(e_i, e_j)`, the cutoff of the element pair (symmetric:
``"Si-O"`` and ``"O-Si"`` are the same cutoff). These work for periodic and non-periodic
frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .neighbors import build_pairs
from .neighbors import triplets as _neighbor_pairs

__all__ = [
    "ADF",
    "RDF",
    "Coordination",
    "adf",
    "coordination",
    "cutoff_table",
    "curve_difference",
    "first_minimum",
    "first_peak",
    "main_peak",
    "parse_pair",
    "parse_triplet",
    "rdf",
]

CutoffSpec = float | Mapping[str, float]
"""One cutoff (Å) for every element pair, or ``{"A-B": cutoff}`` per pair (symmetric)."""


@dataclass(frozen=True)
class RDF:
    """Radial distribution functions averaged over frames (see the module docstring)."""

    edges: np.ndarray
    """(n_bins + 1,) bin edges, Å, from 0 to ``r_max``."""
    r: np.ndarray
    """(n_bins,) bin centres, Å."""
    total: np.ndarray
    """(n_bins,) total g(r)."""
    partial: dict[str, np.ndarray]
    """``"A-B"`` -> (n_bins,) partial g_AB(r) (symmetric: g_AB = g_BA)."""
    running_cn: dict[str, np.ndarray]
    """``"A-B"`` -> (n_bins,) mean number of B atoms within ``edges[k + 1]`` of an A atom;
    both directions of every partial pair."""
    elements: tuple[str, ...]
    n_frames: int


@dataclass(frozen=True)
class ADF:
    """Angle distributions: probability densities over the angle (1/degree, integral 1)."""

    edges: np.ndarray
    """(n_bins + 1,) bin edges, degrees, from 0 to 180."""
    angle: np.ndarray
    """(n_bins,) bin centres, degrees."""
    density: dict[str, np.ndarray]
    """``"A-B-C"`` -> (n_bins,) density of the angle A-B-C at centre B; zeros if no angle."""
    counts: dict[str, int]
    """``"A-B-C"`` -> number of angles found (summed over frames)."""
    n_frames: int


@dataclass(frozen=True)
class Coordination:
    """Coordination numbers per (centre, neighbour) element pair, over all frames."""

    mean: dict[str, float]
    """``"A-B"`` -> mean number of B neighbours of an A atom."""
    histogram: dict[str, np.ndarray]
    """``"A-B"`` -> fraction of A atoms with exactly k B neighbours, at index k."""
    cutoffs: dict[str, float]
    """``"A-B"`` -> the cutoff used, Å."""
    n_frames: int


# --------------------------------------------------------------------------------------
# names, elements, cutoffs
# --------------------------------------------------------------------------------------


def _split_name(name: str, size: int, kind: str, example: str, elements: Sequence[str]):
    parts = tuple(part.strip() for part in str(name).split("-"))
    if len(parts) != size or not all(parts):
        raise ValueError(f"{kind} {name!r} is malformed; write it like {example!r}")
    unknown = sorted(set(parts) - set(elements))
    if unknown:
        raise ValueError(
            f"{kind} {name!r}: element(s) {', '.join(unknown)} not in the frames "
            f"(present: {', '.join(elements)})"
        )
    return parts


def parse_pair(name: str, elements: Sequence[str]) -> tuple[str, str]:
    """``"Si-O"`` -> ``("Si", "O")``; ``ValueError`` if malformed or an element is unknown."""
    return _split_name(name, 2, "element pair", "Si-O", elements)


def parse_triplet(name: str, elements: Sequence[str]) -> tuple[str, str, str]:
    """``"O-Si-O"`` -> ``("O", "Si", "O")`` (centre in the middle); ``ValueError`` if
    malformed or an element is unknown."""
    return _split_name(name, 3, "triplet", "O-Si-O", elements)


def cutoff_table(cutoffs: CutoffSpec, elements: Sequence[str]) -> dict[tuple[str, str], float]:
    """Symmetric table ``(a, b) -> cutoff`` (Å) for the pairs a cutoff is given for.

    A single number applies to every pair of ``elements``; a mapping ``{"A-B": r}`` sets
    ``(A, B)`` and ``(B, A)``. Raises ``ValueError`` for a non-positive cutoff, a
    malformed pair or an unknown element.
    """
    if isinstance(cutoffs, Mapping):
        items = [(parse_pair(name, elements), value) for name, value in cutoffs.items()]
    else:
        items = [((a, b), cutoffs) for a in elements for b in elements]
    table = {}
    for (a, b), value in items:
        value = float(value)
        if not np.isfinite(value) or value <= 0.0:
            raise ValueError(f"cutoff of {a}-{b} must be a positive number of Å, got {value}")
        table[(a, b)] = table[(b, a)] = value
    return table


def _elements(frames: Sequence) -> tuple[str, ...]:
    return tuple(sorted({s for atoms in frames for s in atoms.get_chemical_symbols()}))


def _types(atoms, elements: Sequence[str]) -> np.ndarray:
    """(N,) index of each atom's element in the sorted ``elements``."""
    return np.searchsorted(np.asarray(elements), np.asarray(atoms.get_chemical_symbols()))


def _as_frames(frames: Iterable) -> list:
    frames = [frames] if hasattr(frames, "get_positions") else list(frames)
    if not frames:
        raise ValueError("no frames given")
    return frames


def _check_periodic(frames: Sequence) -> None:
    for k, atoms in enumerate(frames):
        if not all(atoms.pbc) or atoms.cell.volume <= 0.0:
            raise ValueError(
                f"frame {k} is not periodic in 3D (pbc={atoms.pbc.tolist()}): g(r) needs "
                "the volume of a cell periodic along all three vectors"
            )


def _neighbors(atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(i, j, vectors, distances)`` of all pairs closer than ``cutoff`` (Å)."""
    positions = atoms.get_positions()
    pairs = build_pairs(positions, atoms.cell.array, atoms.pbc, cutoff)
    vectors = positions[pairs.j] - positions[pairs.i] + pairs.shift @ atoms.cell.array
    return pairs.i, pairs.j, vectors, np.linalg.norm(vectors, axis=1)


# --------------------------------------------------------------------------------------
# radial distribution function
# --------------------------------------------------------------------------------------


def _pair_counts(atoms, types: np.ndarray, n_types: int, edges: np.ndarray) -> np.ndarray:
    """(n_types, n_types, n_bins) ordered pair counts per element pair and distance bin."""
    n_bins = len(edges) - 1
    i, j, _, dist = _neighbors(atoms, edges[-1])
    bins = np.minimum((dist / (edges[1] - edges[0])).astype(np.int64), n_bins - 1)
    code = (types[i] * n_types + types[j]) * n_bins + bins
    counts = np.bincount(code, minlength=n_types * n_types * n_bins)
    return counts.reshape(n_types, n_types, n_bins).astype(np.float64)


def _frame_rdf(atoms, elements: Sequence[str], edges: np.ndarray):
    """``(g_ab, n_ab, g_total, n_a)`` of one frame; rows of absent elements are zero."""
    types = _types(atoms, elements)
    n_a = np.bincount(types, minlength=len(elements)).astype(np.float64)
    counts = _pair_counts(atoms, types, len(elements), edges)
    shell = 4.0 / 3.0 * np.pi * np.diff(edges**3)
    volume = atoms.cell.volume
    norm = np.outer(n_a, n_a)[:, :, None] * shell
    g_ab = np.divide(volume * counts, norm, out=np.zeros_like(counts), where=norm > 0)
    n_ab = np.cumsum(counts, axis=2)
    n_ab = np.divide(
        n_ab, n_a[:, None, None], out=np.zeros_like(n_ab), where=n_a[:, None, None] > 0
    )
    g_total = volume * counts.sum(axis=(0, 1)) / (len(atoms) ** 2 * shell)
    return g_ab, n_ab, g_total, n_a


def _rdf_pairs(pairs: Iterable[str] | None, elements: Sequence[str]) -> list[tuple[str, str]]:
    if pairs is None:
        return [(a, b) for k, a in enumerate(elements) for b in elements[k:]]
    return [parse_pair(name, elements) for name in pairs]


def rdf(frames, r_max: float, n_bins: int, pairs: Iterable[str] | None = None) -> RDF:
    """Total and partial radial distribution functions averaged over ``frames``.

    Args:
        frames: ``ase.Atoms`` or a sequence of them, periodic along all three cell vectors.
        r_max: largest distance, Å (> 0); any cell size is fine.
        n_bins: number of equal bins on ``[0, r_max)``.
        pairs: partials to compute, as ``"A-B"``; default every unordered pair of the
            elements present, in sorted order (``"O-O", "O-Si", "Si-Si"``).

    Returns:
        :class:`RDF`; the normalisation :math:`V/(N_a N_b)` for all pairs (including
        a = b) is explained in the module docstring.

    Raises:
        ValueError: no frames, a frame not periodic in 3D, ``r_max <= 0``, ``n_bins < 1``,
            or a malformed pair or unknown element in ``pairs``.
    """
    frames = _as_frames(frames)
    _check_periodic(frames)
    if not r_max > 0 or n_bins < 1:
        raise ValueError(f"need r_max > 0 and n_bins >= 1, got r_max={r_max}, n_bins={n_bins}")
    elements = _elements(frames)
    names = _rdf_pairs(pairs, elements)
    edges = np.linspace(0.0, float(r_max), int(n_bins) + 1)
    shape = (len(elements), len(elements), n_bins)
    g_sum, n_sum, total = np.zeros(shape), np.zeros(shape), np.zeros(n_bins)
    both, has = np.zeros(shape[:2]), np.zeros(shape[:2])
    for atoms in frames:
        g_ab, n_ab, g_total, n_a = _frame_rdf(atoms, elements, edges)
        g_sum += g_ab
        n_sum += n_ab
        total += g_total
        both += np.outer(n_a > 0, n_a > 0)
        has += (n_a > 0)[:, None]
    index = {e: k for k, e in enumerate(elements)}
    partial, running = {}, {}
    for a, b in names:
        ia, ib = index[a], index[b]
        partial[f"{a}-{b}"] = g_sum[ia, ib] / max(both[ia, ib], 1.0)
        running[f"{a}-{b}"] = n_sum[ia, ib] / max(has[ia, ib], 1.0)
        running[f"{b}-{a}"] = n_sum[ib, ia] / max(has[ib, ia], 1.0)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return RDF(edges, centres, total / len(frames), partial, running, elements, len(frames))


# --------------------------------------------------------------------------------------
# angle distribution function
# --------------------------------------------------------------------------------------


def _cutoff_matrix(table: Mapping[tuple[str, str], float], elements: Sequence[str]) -> np.ndarray:
    """(n, n) cutoffs by element index; 0 (no neighbours) for pairs without a cutoff."""
    matrix = np.zeros((len(elements), len(elements)))
    for a_index, a in enumerate(elements):
        for b_index, b in enumerate(elements):
            matrix[a_index, b_index] = table.get((a, b), 0.0)
    return matrix


def _require_cutoffs(table, names: Sequence[str], parsed: Sequence[tuple[str, str, str]]) -> None:
    """Every triplet A-B-C needs the cutoffs of B-A and B-C."""
    for name, (a, b, c) in zip(names, parsed, strict=True):
        for pair in ((b, a), (b, c)):
            if pair not in table:
                raise ValueError(
                    f"triplet {name} needs a cutoff for the element pair {b}-{pair[1]}"
                )


def _angles(vectors: np.ndarray, dist: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Angles (degrees) between ``vectors[p]`` and ``vectors[q]``."""
    cos = np.einsum("tk,tk->t", vectors[p], vectors[q]) / (dist[p] * dist[q])
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _triplet_angles(frame_pairs, types, n_atoms: int, cut: np.ndarray, a: int, b: int, c: int):
    """Angles (degrees) a-b-c at every centre of element ``b``, each unordered pair once."""
    i, j, vectors, dist = frame_pairs
    keep = (types[i] == b) & (dist < cut[types[i], types[j]])
    keep &= (types[j] == a) | (types[j] == c)
    i, j, vectors, dist = i[keep], j[keep], vectors[keep], dist[keep]
    p, q = _neighbor_pairs(i, n_atoms)
    tp, tq = types[j[p]], types[j[q]]
    match = ((tp == a) & (tq == c)) | ((tp == c) & (tq == a))
    return _angles(vectors, dist, p[match], q[match])


def adf(frames, triplets: Iterable[str], cutoffs: CutoffSpec, n_bins: int = 180) -> ADF:
    r"""Angle distribution functions of element triplets, pooled over ``frames``.

    For ``"A-B-C"`` every centre *i* of element B contributes the angle
    :math:`\theta = \arccos(\hat{\mathbf r}_{ij} \cdot \hat{\mathbf r}_{ik})` (degrees,
    0-180) of each unordered pair of distinct neighbours *j* (element A) and *k* (element
    C), periodic images included. The histogram of all angles of all frames is normalised
    to a probability density, :math:`\sum_k p_k \Delta\theta = 1` (unit 1/degree).

    Args:
        frames: ``ase.Atoms`` or a sequence of them (periodic or not).
        triplets: names ``"A-B-C"``, centre B in the middle.
        cutoffs: neighbour cutoff, Å: one number, or ``{"B-A": r, "B-C": r}`` per pair.
        n_bins: number of equal angle bins on [0, 180] degrees.

    Raises:
        ValueError: malformed triplet, unknown element, missing or non-positive cutoff.
    """
    frames = _as_frames(frames)
    if n_bins < 1:
        raise ValueError(f"need n_bins >= 1, got {n_bins}")
    elements = _elements(frames)
    names = list(triplets)
    parsed = [parse_triplet(name, elements) for name in names]
    table = cutoff_table(cutoffs, elements)
    _require_cutoffs(table, names, parsed)
    edges = np.linspace(0.0, 180.0, int(n_bins) + 1)
    hist = np.zeros((len(names), n_bins))
    index = {e: k for k, e in enumerate(elements)}
    cut = _cutoff_matrix(table, elements)
    r_search = max((table[(b, x)] for a, b, c in parsed for x in (a, c)), default=0.0)
    for atoms in frames if parsed else []:
        types = _types(atoms, elements)
        frame_pairs = _neighbors(atoms, r_search)
        for row, (a, b, c) in enumerate(parsed):
            angles = _triplet_angles(
                frame_pairs, types, len(atoms), cut, index[a], index[b], index[c]
            )
            hist[row] += np.histogram(angles, bins=edges)[0]
    totals = hist.sum(axis=1)
    density = hist / np.maximum(totals, 1.0)[:, None] / np.diff(edges)
    centres = 0.5 * (edges[1:] + edges[:-1])
    counts = {name: int(total) for name, total in zip(names, totals, strict=True)}
    return ADF(edges, centres, dict(zip(names, density, strict=True)), counts, len(frames))


# --------------------------------------------------------------------------------------
# coordination numbers
# --------------------------------------------------------------------------------------


def _neighbor_counts(atoms, types: np.ndarray, cut: np.ndarray, r_search: float) -> np.ndarray:
    """(N, n_types) number of neighbours of each element around every atom."""
    n_types = len(cut)
    i, j, _, dist = _neighbors(atoms, r_search)
    within = dist < cut[types[i], types[j]]
    code = i[within] * n_types + types[j[within]]
    return np.bincount(code, minlength=len(atoms) * n_types).reshape(len(atoms), n_types)


def coordination(frames, cutoffs: CutoffSpec) -> Coordination:
    """Coordination numbers of every (centre, neighbour) element pair with a cutoff.

    The coordination number of atom *i* with respect to element B is the number of B
    atoms (periodic images included) closer than the cutoff of the pair. ``mean["A-B"]``
    averages it over all A atoms of all frames; ``histogram["A-B"][k]`` is the fraction of
    those with exactly *k*.

    Args:
        frames: ``ase.Atoms`` or a sequence of them (periodic or not).
        cutoffs: one cutoff in Å for every pair, or ``{"A-B": r}`` (also used for B-A).

    Raises:
        ValueError: malformed pair, unknown element, non-positive cutoff.
    """
    frames = _as_frames(frames)
    elements = _elements(frames)
    table = cutoff_table(cutoffs, elements)
    cut = _cutoff_matrix(table, elements)
    index = {e: k for k, e in enumerate(elements)}
    names = [(a, b) for a in elements for b in elements if (a, b) in table]
    values: dict[tuple[str, str], list[np.ndarray]] = {pair: [] for pair in names}
    for atoms in frames if names else []:
        types = _types(atoms, elements)
        counts = _neighbor_counts(atoms, types, cut, max(table.values()))
        for a, b in names:
            values[(a, b)].append(counts[types == index[a], index[b]])
    mean, histogram = {}, {}
    for (a, b), parts in values.items():
        found = np.concatenate(parts)
        if len(found):
            mean[f"{a}-{b}"] = float(found.mean())
            histogram[f"{a}-{b}"] = np.bincount(found) / len(found)
    cutoff_by_name = {f"{a}-{b}": table[(a, b)] for a, b in names}
    return Coordination(mean, histogram, cutoff_by_name, len(frames))


# --------------------------------------------------------------------------------------
# peaks, minima, comparison of curves
# --------------------------------------------------------------------------------------


def _smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Moving average over ``width`` bins (made odd, at most ``len(y)``), renormalised at
    the ends."""
    if len(y) == 0:
        return y
    width = max(1, min(int(width), len(y)))
    width -= 1 - width % 2
    kernel = np.ones(width)
    return np.convolve(y, kernel, mode="same") / np.convolve(np.ones_like(y), kernel, mode="same")


def _first_peak_index(s: np.ndarray) -> int | None:
    """First local maximum of ``s`` at least half as high as its global maximum."""
    top = s.max() if len(s) else 0.0
    if not top > 0:
        return None
    left = np.concatenate(([-np.inf], s[:-1]))
    right = np.concatenate((s[1:], [-np.inf]))
    peaks = np.flatnonzero((s >= left) & (s > right) & (s >= 0.5 * top))
    return int(peaks[0]) if len(peaks) else int(np.argmax(s))


def first_peak(x: np.ndarray, y: np.ndarray, smooth: int = 5) -> tuple[float, float] | None:
    """``(position, height)`` of the first peak of a curve, or None if it is zero.

    The first peak is the first local maximum of the curve smoothed over ``smooth`` bins
    that reaches half of the smoothed global maximum; position and height are those of the
    largest raw value within ``smooth // 2`` bins of it.
    """
    y = np.asarray(y, dtype=np.float64)
    k = _first_peak_index(_smooth(y, smooth))
    if k is None:
        return None
    lo = max(k - smooth // 2, 0)
    k = lo + int(np.argmax(y[lo : k + smooth // 2 + 1]))
    return float(x[k]), float(y[k])


def first_minimum(x: np.ndarray, y: np.ndarray, smooth: int = 5) -> float | None:
    """Position of the first minimum after the first peak (see :func:`first_peak`).

    On the curve smoothed over ``smooth`` bins, the minimum ends where the curve rises
    by more than 2 % of the peak height above its lowest value since the peak; its
    position is the middle of the bins at that lowest value (the middle of the gap
    between two shells of a crystal). None when there is no peak or no such rise.
    """
    s = _smooth(np.asarray(y, dtype=np.float64), smooth)
    p = _first_peak_index(s)
    if p is None:
        return None
    tail = s[p:]
    lowest = np.minimum.accumulate(tail)
    rises = np.flatnonzero(tail > lowest + 0.02 * s[p])
    if not len(rises):
        return None
    well = tail[: rises[0]]
    at_min = np.flatnonzero(well <= well.min() + 1e-9 * s[p])
    return float(0.5 * (x[p + at_min[0]] + x[p + at_min[-1]]))


def main_peak(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """``(position, height)`` of the global maximum, or None if the curve is zero."""
    y = np.asarray(y, dtype=np.float64)
    if not len(y) or not y.max() > 0:
        return None
    k = int(np.argmax(y))
    return float(x[k]), float(y[k])


def curve_difference(edges: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    r"""Difference of two histogrammed curves on the same ``edges``.

    ``integrated_abs`` is :math:`\sum_k |b_k - a_k| \Delta x_k` (unit of the curve times
    the unit of x: Å for g(r), 1 for a density over the angle, which is at most 2) and
    ``max_abs`` is :math:`\max_k |b_k - a_k|`.
    """
    diff = np.abs(np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64))
    return {
        "integrated_abs": float(np.sum(diff * np.diff(edges))),
        "max_abs": float(diff.max()) if len(diff) else 0.0,
    }
