"""Data set checks: find corrupted, duplicated and outlying DFT frames before training.

:func:`check_structures` inspects a list of :class:`~hdnnp.structures.Structure` and
returns a :class:`CheckReport`: counts (frames and atoms per source, element and
composition), distributions of the labels and a list of issues. :func:`report_to_dict`
turns it into JSON-ready data, :func:`format_report` into a text table, and
:func:`corrupted_frames` gives the ``(source, frame)`` of every frame with an error (for
the trainer, which refuses such frames or drops them on request). ``hdnnp check`` is the
command line front end.

Units are the package units: Å, eV, eV/atom for energies per atom, eV/Å for forces.

A frame is named by ``(source, frame)`` = ``(Structure.source, Structure.index)``: the
file it was read from and its 0-based position in that file (``f.extxyz@::10`` gives
frames 0, 10, 20, ...). The *composition* of a frame is its reduced formula in Hill
order (``O2Si`` for Si8O16 and Si5O10; ``Cu`` for Cu32 and Cu31); its *formula* is the
unreduced one (``O16Si8``).

Errors (each frame with an error is corrupted; one issue per frame and kind, except
``nan``, which has one issue per field):

``invalid``
    The frame cannot be used at all: no atoms, unknown atomic numbers, positions/forces
    not of shape (n_atoms, 3), cell not 3x3, stress not 3x3 or Voigt 6, or a cell that
    :func:`hdnnp.neighbors.build_pairs` rejects (pbc along a zero cell vector, linearly
    dependent periodic vectors). Geometry checks are skipped for it.
``nan``
    A NaN or infinite value in ``positions``, ``cell``, ``energy``, ``forces`` or
    ``stress``; the message names the field (and the first bad atom). Frames with
    non-finite positions or cell skip the geometry checks; a non-finite energy (forces)
    is left out of the energy (force) statistics.
``missing_energy``, ``missing_forces``
    ``energy`` or ``forces`` is None.
``close_atoms``
    Two atoms (or an atom and a periodic image, its own included) are closer than
    ``min_distance`` Å: any pair of :func:`hdnnp.neighbors.build_pairs` with
    ``cutoff=min_distance``, periodic images included. The message names the closest
    pair, its distance and cell shift, and the number of such pairs.
``duplicate``
    The frame equals an earlier frame of the checked list (same file or another, but
    see ``repeated_frame``): same atomic numbers in the same order, same pbc, and
    positions and cell equal within ``1e-8`` Å per coordinate, as stored (no wrapping,
    no reordering). Labels are not compared; the message says when the energies
    differ. The earliest such frame is named. Candidates are found by sorting on the
    coordinate sum, so this is exact and fast.
``energy_outlier``
    Let e = energy / n_atoms (eV/atom) for every frame with a finite energy. For a
    composition with at least 5 such frames, a frame is an outlier when
    ``|e - median| > outlier_sigma * s`` with median and s = 1.4826 * MAD of e over the
    frames of that composition. Frames of a composition with fewer than 5 frames are
    compared with all frames instead: per-element reference energies mu (eV) are fitted
    to the total energies, ``E ~ sum_el n_el * mu_el``, over all frames with an energy
    (least squares, then iteratively reweighted towards least absolute deviations, so
    that the wrong energy of one of the few frames with a rare element does not move
    that element's reference), and the residual per atom
    ``r = (E - sum_el n_el * mu_el) / n_atoms`` is an outlier when
    ``|r - median(r)| > outlier_sigma * s``, median and s = 1.4826 * MAD of r over all
    frames. Both s are floored at 1 meV/atom so that near-identical energies do not
    turn rounding noise into outliers. Without 5 frames with energies in all, the small
    compositions are not tested. Heterogeneous data (e.g. bulk, surfaces and melts of
    one element) has genuine frames beyond 5 s; see the report's messages before
    dropping them.
``force_outlier``
    Force *magnitudes* are compared on a log scale: with ``f = |F_i|`` the norm of the
    force on atom i (eV/Å), m = median and s = 1.4826 * MAD of ``log10 f`` over all
    atoms with finite, non-zero forces (at least 10 of them), an atom is an outlier when
    ``log10 f > m + outlier_sigma * s`` (s floored at 0.1 decades), i.e. when its force
    exceeds the median force by the factor ``10**(outlier_sigma * s)`` (20 to 30 for
    MD data at outlier_sigma = 5; far more when relaxed frames with tiny forces are
    mixed with MD frames: give ``max_force`` there). Also an outlier: any force component
    with ``|F| > max_force`` when ``max_force`` is given. One issue per frame, naming
    the largest force. (A linear rule, ``|F|`` more than 5 robust standard deviations
    above the median ``|F|``, flags a third of the frames of clean DFT MD data sets,
    whose force distributions have heavy tails; the log rule finds forces that are
    wrong by an order of magnitude, e.g. a unit mix-up or an unconverged calculation.)

Warnings (do not make a frame corrupted):

``single_frame_composition``
    The frame is the only one of its composition.
``rare_element``
    An element has fewer than 10 atoms in the whole data set; the issue names the first
    frame that contains it.
``repeated_frame``
    The frame is in the checked list more than once (same non-empty ``source`` and same
    ``index``, e.g. a file given twice); it is not reported as a ``duplicate``, which
    would mark the frame itself as corrupted.

Issues are sorted by the position of the frame in the checked list, then by kind in
the order above.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import reduce

import numpy as np
from ase.data import chemical_symbols

from .neighbors import build_pairs
from .structures import Structure

__all__ = [
    "ERROR_KINDS",
    "WARNING_KINDS",
    "CheckReport",
    "Counts",
    "Distribution",
    "Issue",
    "check_options",
    "check_structures",
    "corrupted_frames",
    "format_report",
    "report_to_dict",
]

ERROR_KINDS = (
    "invalid",
    "nan",
    "missing_energy",
    "missing_forces",
    "close_atoms",
    "duplicate",
    "energy_outlier",
    "force_outlier",
)
"""Kinds of errors, in report order."""

WARNING_KINDS = ("single_frame_composition", "rare_element", "repeated_frame")
"""Kinds of warnings, in report order."""

MIN_GROUP_FRAMES = 5
"""Frames of one composition needed to judge energy outliers within the composition."""
RARE_ELEMENT_ATOMS = 10
"""Elements with fewer atoms than this in the whole data set are warned about."""
DUPLICATE_TOLERANCE = 1e-8
"""Å; positions and cell within this (per coordinate) make two frames duplicates."""
ENERGY_SCALE_FLOOR = 1e-3
"""eV/atom; lower bound of the robust standard deviation of energies per atom."""
FORCE_LOG_SCALE_FLOOR = 0.1
"""decades; lower bound of the robust standard deviation of log10 |F|."""
MIN_FORCE_SAMPLES = 10
"""Atoms with non-zero forces needed for the statistical force outlier test."""
IRLS_ITERATIONS = 30
"""Reweighting steps of the robust fit of the element reference energies."""
MAD_TO_STD = 1.4826
"""1.4826 * MAD estimates the standard deviation of normally distributed data."""

_KIND_ORDER = {kind: rank for rank, kind in enumerate(ERROR_KINDS + WARNING_KINDS)}
_FIELDS = ("positions", "cell", "energy", "forces", "stress")
_AXES = "xyz"


# ------------------------------------------------------------------------ report types


@dataclass(frozen=True)
class Issue:
    """One finding about one frame: ``frame`` is ``Structure.index`` in ``source``."""

    source: str
    frame: int
    kind: str
    message: str


@dataclass(frozen=True)
class Distribution:
    """Summary statistics of a set of values (units as stated where it is used)."""

    count: int
    min: float
    max: float
    mean: float
    std: float
    median: float

    @classmethod
    def of(cls, values: np.ndarray) -> Distribution | None:
        """Statistics of ``values`` (None when empty)."""
        values = np.asarray(values, dtype=np.float64).ravel()
        if values.size == 0:
            return None
        return cls(
            count=int(values.size),
            min=float(values.min()),
            max=float(values.max()),
            mean=float(values.mean()),
            std=float(values.std()),
            median=float(np.median(values)),
        )


@dataclass
class Counts:
    """Frame and atom counts of a set of frames.

    Attributes:
        frames: number of frames.
        atoms: number of atoms.
        elements: symbol -> ``{"atoms": n, "frames": n}`` (frames containing it).
        compositions: reduced formula -> ``{"frames": n, "atoms": n, "formulas":
            {unreduced formula: frames}}``.
    """

    frames: int = 0
    atoms: int = 0
    elements: dict[str, dict[str, int]] = field(default_factory=dict)
    compositions: dict[str, dict] = field(default_factory=dict)

    def add(self, symbols: dict[str, int], composition: str, formula: str) -> None:
        """Count one frame with ``symbols`` (symbol -> atoms) of ``composition``."""
        n_atoms = sum(symbols.values())
        self.frames += 1
        self.atoms += n_atoms
        for symbol, count in symbols.items():
            entry = self.elements.setdefault(symbol, {"atoms": 0, "frames": 0})
            entry["atoms"] += count
            entry["frames"] += 1
        entry = self.compositions.setdefault(composition, {"frames": 0, "atoms": 0, "formulas": {}})
        entry["frames"] += 1
        entry["atoms"] += n_atoms
        entry["formulas"][formula] = entry["formulas"].get(formula, 0) + 1

    def sorted(self) -> Counts:
        """A copy with elements and compositions sorted by name."""
        return Counts(
            frames=self.frames,
            atoms=self.atoms,
            elements={k: self.elements[k] for k in sorted(self.elements)},
            compositions={
                k: {**v, "formulas": dict(sorted(v["formulas"].items()))}
                for k, v in sorted(self.compositions.items())
            },
        )


@dataclass
class CheckReport:
    """Result of :func:`check_structures`.

    Attributes:
        overall: counts over all frames.
        sources: counts per source file (in order of first appearance).
        groups: counts per value of ``info[group_by]`` when ``group_by`` was given
            (frames without the key under ``"(none)"``), else None.
        energy_per_atom: distribution of energy / n_atoms over frames with a finite
            energy, eV/atom.
        force_components: distribution of the force components over frames with finite
            forces, eV/Å.
        max_force: distribution over those frames of the largest atomic force norm
            ``max_i |F_i|`` of each frame, eV/Å.
        errors: issues that make a frame corrupted (kinds :data:`ERROR_KINDS`).
        warnings: other findings (kinds :data:`WARNING_KINDS`).
        settings: the thresholds used: ``min_distance`` (Å), ``outlier_sigma``,
            ``max_force`` (eV/Å or None), ``group_by``, and the derived
            ``force_outlier_threshold`` (eV/Å, atomic force norm; None when not
            enough forces).
    """

    overall: Counts
    sources: dict[str, Counts]
    groups: dict[str, Counts] | None
    energy_per_atom: Distribution | None
    force_components: Distribution | None
    max_force: Distribution | None
    errors: list[Issue]
    warnings: list[Issue]
    settings: dict

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors


# ------------------------------------------------------------------------- helpers


def _robust(values: np.ndarray) -> tuple[float, float]:
    """Median and robust standard deviation (1.4826 * MAD)."""
    median = float(np.median(values))
    return median, MAD_TO_STD * float(np.median(np.abs(values - median)))


def _hill(counts: dict[str, int]) -> str:
    """Formula in Hill order (C, H, then alphabetical; alphabetical without C)."""
    if not counts:
        return "(empty)"
    order = sorted(counts)
    if "C" in counts:
        order = ["C"] + (["H"] if "H" in counts else []) + [s for s in order if s not in "CH"]
    return "".join(f"{s}{counts[s] if counts[s] != 1 else ''}" for s in order)


def _symbol(number: int) -> str:
    return chemical_symbols[number] if 0 < number < len(chemical_symbols) else f"Z{number}"


class _Collector:
    """Collects issues with the position of their frame for sorting."""

    def __init__(self, structures: Sequence[Structure]) -> None:
        self.structures = structures
        self.items: list[tuple[int, int, Issue]] = []

    def add(self, position: int, kind: str, message: str) -> None:
        s = self.structures[position]
        issue = Issue(source=s.source, frame=int(s.index), kind=kind, message=message)
        self.items.append((position, _KIND_ORDER[kind], issue))

    def split(self) -> tuple[list[Issue], list[Issue]]:
        ordered = [issue for _, _, issue in sorted(self.items, key=lambda t: t[:2])]
        errors = [i for i in ordered if i.kind in ERROR_KINDS]
        return errors, [i for i in ordered if i.kind not in ERROR_KINDS]


def _where(structure: Structure) -> str:
    return f"{structure.source or '<memory>'} frame {structure.index}"


@dataclass
class _Frames:
    """Per-frame facts gathered by the first pass (index = position in the list)."""

    n_atoms: np.ndarray
    symbols: list[dict[str, int]]
    composition: list[str]
    formula: list[str]
    geometry_ok: np.ndarray
    energy_ok: np.ndarray
    forces_ok: np.ndarray


# ----------------------------------------------------------------- per-frame checks


def _first_bad(value: np.ndarray, name: str) -> str:
    bad = np.argwhere(~np.isfinite(value))
    if name in ("positions", "forces") and value.ndim == 2:
        atom, axis = int(bad[0, 0]), int(bad[0, 1])
        return f"atom {atom}, component {_AXES[axis]} ({len(bad)} value(s))"
    return f"{len(bad)} value(s)"


def _shape_problem(s: Structure, n_atoms: int) -> str | None:
    """Why a frame is unusable (shapes, atomic numbers), or None."""
    numbers = np.asarray(s.numbers)
    if numbers.ndim != 1 or n_atoms == 0:
        return "the frame has no atoms" if n_atoms == 0 else "numbers must be 1-dimensional"
    if numbers.min() < 1 or numbers.max() >= len(chemical_symbols):
        return f"unknown atomic number(s) {sorted(set(numbers.tolist()))}"
    checks = [
        ("positions", s.positions, (n_atoms, 3)),
        ("cell", s.cell, (3, 3)),
        ("forces", s.forces, (n_atoms, 3)),
    ]
    for name, value, shape in checks:
        if value is not None and np.shape(value) != shape:
            return f"field {name!r} has shape {np.shape(value)}, expected {shape}"
    if s.stress is not None and np.size(s.stress) not in (6, 9):
        return f"field 'stress' has shape {np.shape(s.stress)}, expected (3, 3) or (6,)"
    return None


def _inspect(s: Structure, position: int, issues: _Collector) -> tuple[bool, bool, bool]:
    """Shape, finiteness and missing-label checks; returns (geometry, energy, forces) ok."""
    problem = _shape_problem(s, len(np.atleast_1d(s.numbers)))
    if problem is not None:
        issues.add(position, "invalid", problem)
        return False, False, False
    finite = {}
    for name in _FIELDS:
        value = getattr(s, name)
        if value is None:
            finite[name] = False
            continue
        value = np.asarray(value, dtype=np.float64)
        finite[name] = bool(np.all(np.isfinite(value)))
        if not finite[name]:
            issues.add(
                position,
                "nan",
                f"field {name!r} is not finite (NaN/inf): {_first_bad(value, name)}",
            )
    if s.energy is None:
        issues.add(position, "missing_energy", "no reference energy")
    if s.forces is None:
        issues.add(position, "missing_forces", "no reference forces")
    return finite["positions"] and finite["cell"], finite["energy"], finite["forces"]


def _close_message(s: Structure, pairs, min_distance: float) -> str | None:
    i, j, shift = pairs
    # each unordered pair once: i < j, or a self image with its first non-zero shift > 0
    first = np.where(
        shift[:, 0] != 0, shift[:, 0], np.where(shift[:, 1] != 0, shift[:, 1], shift[:, 2])
    )
    keep = (i < j) | ((i == j) & (first > 0))
    i, j, shift = i[keep], j[keep], shift[keep]
    if len(i) == 0:
        return None
    pos = np.asarray(s.positions, dtype=np.float64)
    vectors = pos[j] - pos[i] + shift @ np.asarray(s.cell, dtype=np.float64)
    dist = np.linalg.norm(vectors, axis=1)
    k = int(np.argmin(dist))
    a, b, d, sh = int(i[k]), int(j[k]), float(dist[k]), tuple(int(x) for x in shift[k])
    if a == b:
        what = f"atom {a} is {d:.4f} Å from its own periodic image (cell shift {sh})"
    else:
        across = f" across the periodic boundary (cell shift {sh})" if any(sh) else ""
        what = f"atoms {a} and {b} are {d:.4f} Å apart{across}"
    return f"{what}; {len(i)} pair(s) closer than {min_distance:g} Å"


def _check_geometry(structures, frames: _Frames, min_distance: float, issues) -> None:
    """``close_atoms`` (and ``invalid`` for cells that build_pairs rejects)."""
    for position, s in enumerate(structures):
        if not frames.geometry_ok[position]:
            continue
        try:
            pairs = build_pairs(s.positions, s.cell, s.pbc, min_distance)
        except ValueError as err:
            issues.add(position, "invalid", str(err))
            frames.geometry_ok[position] = False
            continue
        message = _close_message(s, pairs, min_distance)
        if message is not None:
            issues.add(position, "close_atoms", message)


def _check_duplicates(structures, frames: _Frames, issues: _Collector) -> None:
    """``duplicate``: see the module docstring."""
    buckets: dict[tuple, list[int]] = defaultdict(list)
    for position, s in enumerate(structures):
        if frames.geometry_ok[position]:
            numbers = np.asarray(s.numbers, dtype=np.int64)
            buckets[(numbers.tobytes(), tuple(bool(p) for p in s.pbc))].append(position)
    original: dict[int, int] = {}
    for members in buckets.values():
        if len(members) < 2:
            continue
        rows = np.stack(
            [
                np.concatenate([np.ravel(structures[p].positions), np.ravel(structures[p].cell)])
                for p in members
            ]
        ).astype(np.float64)
        keys = rows.sum(axis=1)
        slack = DUPLICATE_TOLERANCE * rows.shape[1] + 1e-12 * float(np.abs(rows).sum(axis=1).max())
        order = np.argsort(keys, kind="stable")
        for q, a in enumerate(order):
            r = q + 1
            while r < len(order) and keys[order[r]] - keys[a] <= slack:
                b = order[r]
                if np.max(np.abs(rows[a] - rows[b])) <= DUPLICATE_TOLERANCE:
                    lo, hi = sorted((members[a], members[b]))
                    original[hi] = min(original.get(hi, lo), lo)
                r += 1
    for position in sorted(original):
        first = original[position]
        while first in original:  # follow chains of near-duplicates to the earliest
            first = original[first]
        a, b = structures[first], structures[position]
        if a.source and (a.source, a.index) == (b.source, b.index):
            issues.add(position, "repeated_frame", "this frame was given more than once")
            continue
        e1, e2 = b.energy, a.energy
        note = ""
        if e1 is not None and e2 is not None and e1 != e2:
            note = f" (different energies: {e1:.6f} eV vs {e2:.6f} eV)"
        issues.add(position, "duplicate", f"same structure as {_where(a)}{note}")


# ----------------------------------------------------------------- outlier checks


def _energy_outliers(structures, frames: _Frames, sigma: float, issues: _Collector) -> None:
    """``energy_outlier``: see the module docstring."""
    usable = np.flatnonzero(frames.energy_ok & (frames.n_atoms > 0))
    if len(usable) == 0:
        return
    energy = np.array([float(structures[p].energy) for p in usable])
    per_atom = energy / frames.n_atoms[usable]
    groups: dict[str, list[int]] = defaultdict(list)
    for k, p in enumerate(usable):
        groups[frames.composition[p]].append(k)
    small = []
    for composition, members in groups.items():
        if len(members) < MIN_GROUP_FRAMES:
            small += members
            continue
        values = per_atom[members]
        median, scale = _robust(values)
        scale = max(scale, ENERGY_SCALE_FLOOR)
        for k in np.asarray(members)[np.abs(values - median) > sigma * scale]:
            issues.add(
                int(usable[k]),
                "energy_outlier",
                f"energy {per_atom[k]:.6f} eV/atom is {(per_atom[k] - median) / scale:+.1f} "
                f"robust std ({scale * 1e3:.3g} meV/atom) from the median {median:.6f} eV/atom "
                f"of the {len(members)} frames of composition {composition}",
            )
    if small and len(usable) >= MIN_GROUP_FRAMES:
        _energy_fallback(frames, usable, energy, small, sigma, issues)


def _reference_energies(counts: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Per-element energies mu (eV) with ``energy ~ counts @ mu``: least squares, then
    iteratively reweighted towards least absolute deviations, so that one wrong energy
    cannot drag the reference of a rare element (weights 1/sqrt(max(|r|, 1e-6 eV)))."""
    weights = np.ones(len(energy))
    for _ in range(IRLS_ITERATIONS):
        mu = np.linalg.lstsq(counts * weights[:, None], energy * weights, rcond=None)[0]
        weights = 1.0 / np.sqrt(np.maximum(np.abs(energy - counts @ mu), 1e-6))
    return mu


def _energy_fallback(frames, usable, energy, small, sigma, issues) -> None:
    """Frames of small compositions against least-squares element references."""
    symbols = sorted({e for p in usable for e in frames.symbols[p]})
    counts = np.array([[frames.symbols[p].get(e, 0) for e in symbols] for p in usable], float)
    mu = _reference_energies(counts, energy)
    residual = (energy - counts @ mu) / frames.n_atoms[usable]
    median, scale = _robust(residual)
    scale = max(scale, ENERGY_SCALE_FLOOR)
    refs = ", ".join(f"{e} {m:.4f} eV" for e, m in zip(symbols, mu, strict=True))
    for k in small:
        deviation = (residual[k] - median) / scale
        if abs(deviation) > sigma:
            p = int(usable[k])
            issues.add(
                p,
                "energy_outlier",
                f"energy minus least-squares element references ({refs}) is "
                f"{residual[k]:+.6f} eV/atom, {deviation:+.1f} robust std "
                f"({scale * 1e3:.3g} meV/atom) from the median {median:+.6f} eV/atom of all "
                f"{len(usable)} frames (composition {frames.composition[p]} has fewer than "
                f"{MIN_GROUP_FRAMES} frames)",
            )


def _force_norms(structures, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Atomic force norms of the given frames, concatenated, and frame offsets."""
    norms = [np.linalg.norm(np.asarray(structures[p].forces, float), axis=1) for p in positions]
    offsets = np.cumsum([0] + [len(n) for n in norms])
    return (np.concatenate(norms) if norms else np.zeros(0)), offsets


def _force_threshold(norms: np.ndarray, sigma: float) -> float | None:
    """Atomic force norm above which a force is an outlier (eV/Å), None if too few."""
    nonzero = norms[norms > 0]
    if len(nonzero) < MIN_FORCE_SAMPLES:
        return None
    median, scale = _robust(np.log10(nonzero))
    return float(10 ** (median + sigma * max(scale, FORCE_LOG_SCALE_FLOOR)))


def _force_outliers(structures, frames, sigma, max_force, issues) -> float | None:
    """``force_outlier``: see the module docstring; returns the norm threshold (eV/Å)."""
    usable = np.flatnonzero(frames.forces_ok)
    norms, offsets = _force_norms(structures, usable)
    threshold = _force_threshold(norms, sigma)
    for k, p in enumerate(usable):
        frame_norms = norms[offsets[k] : offsets[k + 1]]
        reasons = []
        if threshold is not None and frame_norms.max(initial=0.0) > threshold:
            n = int(np.sum(frame_norms > threshold))
            reasons.append(f"{n} atom(s) with |F| above the outlier threshold {threshold:.4g} eV/Å")
        if max_force is not None:
            big = np.abs(np.asarray(structures[p].forces, float)) > max_force
            if big.any():
                atom, axis = np.argwhere(big)[0]
                reasons.append(
                    f"{int(big.sum())} component(s) above max_force {max_force:g} eV/Å "
                    f"(first: atom {atom}, {_AXES[axis]})"
                )
        if reasons:
            atom = int(np.argmax(frame_norms))
            issues.add(
                int(p),
                "force_outlier",
                f"largest force |F| = {frame_norms[atom]:.4g} eV/Å on atom {atom}; "
                + "; ".join(reasons),
            )
    return threshold


def _composition_warnings(structures, frames: _Frames, overall: Counts, issues) -> None:
    """``single_frame_composition`` and ``rare_element``."""
    single = {c for c, entry in overall.compositions.items() if entry["frames"] == 1}
    first_with: dict[str, int] = {}
    for position in range(len(structures)):
        if frames.composition[position] in single and frames.n_atoms[position]:
            issues.add(
                position,
                "single_frame_composition",
                f"the only frame of composition {frames.composition[position]}",
            )
        for symbol in frames.symbols[position]:
            first_with.setdefault(symbol, position)
    for symbol, entry in overall.elements.items():
        if entry["atoms"] < RARE_ELEMENT_ATOMS:
            issues.add(
                first_with[symbol],
                "rare_element",
                f"element {symbol} has only {entry['atoms']} atom(s) in {entry['frames']} "
                f"frame(s) of the whole data set (fewer than {RARE_ELEMENT_ATOMS}); this is "
                "its first frame",
            )


# ----------------------------------------------------------------------- main entry


def check_options(min_distance: float, outlier_sigma: float, max_force: float | None) -> None:
    """Raise ValueError unless the thresholds are finite and positive."""
    for name, value in (("min_distance", min_distance), ("outlier_sigma", outlier_sigma)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    if max_force is not None and not (math.isfinite(max_force) and max_force > 0):
        raise ValueError(f"max_force must be a finite positive number or None, got {max_force!r}")


def _gather(structures, issues: _Collector, group_by: str | None):
    """First pass: per-frame facts, counts and the per-frame checks."""
    n = len(structures)
    frames = _Frames(
        n_atoms=np.zeros(n, dtype=np.int64),
        symbols=[],
        composition=[],
        formula=[],
        geometry_ok=np.zeros(n, dtype=bool),
        energy_ok=np.zeros(n, dtype=bool),
        forces_ok=np.zeros(n, dtype=bool),
    )
    overall, sources, groups = Counts(), {}, ({} if group_by else None)
    for position, s in enumerate(structures):
        ok = _inspect(s, position, issues)
        frames.geometry_ok[position], frames.energy_ok[position], frames.forces_ok[position] = ok
        numbers, counts = np.unique(np.atleast_1d(np.asarray(s.numbers)), return_counts=True)
        symbols = {_symbol(int(z)): int(c) for z, c in zip(numbers, counts, strict=True)}
        divisor = reduce(math.gcd, symbols.values(), 0) or 1
        frames.n_atoms[position] = sum(symbols.values())
        frames.symbols.append(symbols)
        frames.formula.append(_hill(symbols))
        frames.composition.append(_hill({k: v // divisor for k, v in symbols.items()}))
        args = (symbols, frames.composition[-1], frames.formula[-1])
        overall.add(*args)
        sources.setdefault(s.source, Counts()).add(*args)
        if groups is not None:
            value = s.info.get(group_by)
            value = "(none)" if value is None else str(value)
            groups.setdefault(value, Counts()).add(*args)
    return frames, overall, sources, groups


def check_structures(
    structures: Iterable[Structure],
    min_distance: float = 0.5,
    outlier_sigma: float = 5.0,
    max_force: float | None = None,
    group_by: str | None = None,
) -> CheckReport:
    """Check a data set for corrupted, duplicated and outlying frames.

    Args:
        structures: the frames; ``source`` and ``index`` name them in the issues.
        min_distance: Å; atoms closer than this (periodic images included) are an error.
        outlier_sigma: robust standard deviations beyond which an energy per atom or a
            log force magnitude is an outlier (see the module docstring).
        max_force: eV/Å; any force component with a larger magnitude is an error
            (None: no absolute limit).
        group_by: an ``info`` key (e.g. ``"topology"``, ``"config_type"``) whose values
            get their own counts in ``CheckReport.groups``; the checks do not use it.

    Returns:
        A :class:`CheckReport`; the exact rules are in the module docstring.

    Raises:
        ValueError: a threshold is not a finite positive number.
    """
    check_options(min_distance, outlier_sigma, max_force)
    structures = list(structures)
    issues = _Collector(structures)
    frames, overall, sources, groups = _gather(structures, issues, group_by)
    _check_geometry(structures, frames, min_distance, issues)
    _check_duplicates(structures, frames, issues)
    _energy_outliers(structures, frames, outlier_sigma, issues)
    threshold = _force_outliers(structures, frames, outlier_sigma, max_force, issues)
    _composition_warnings(structures, frames, overall, issues)
    errors, warnings = issues.split()
    energy_ok = np.flatnonzero(frames.energy_ok & (frames.n_atoms > 0))
    forces_ok = np.flatnonzero(frames.forces_ok)
    norms, offsets = _force_norms(structures, forces_ok)
    maxima = [norms[a:b].max(initial=0.0) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    return CheckReport(
        overall=overall.sorted(),
        sources={k: v.sorted() for k, v in sources.items()},
        groups=None if groups is None else {k: groups[k].sorted() for k in sorted(groups)},
        energy_per_atom=Distribution.of(
            [structures[p].energy / frames.n_atoms[p] for p in energy_ok]
        ),
        force_components=Distribution.of(
            np.concatenate([np.ravel(structures[p].forces) for p in forces_ok])
            if len(forces_ok)
            else []
        ),
        max_force=Distribution.of(maxima),
        errors=errors,
        warnings=warnings,
        settings={
            "min_distance": float(min_distance),
            "outlier_sigma": float(outlier_sigma),
            "max_force": None if max_force is None else float(max_force),
            "group_by": group_by,
            "force_outlier_threshold": threshold,
        },
    )


def corrupted_frames(report: CheckReport, kinds: Iterable[str] | None = None) -> set[tuple]:
    """``{(source, frame), ...}`` of the frames with an error (of ``kinds``; default all).

    ``frame`` is ``Structure.index``; compare with ``(s.source, s.index)``.
    """
    wanted = set(ERROR_KINDS if kinds is None else kinds)
    unknown = wanted - set(ERROR_KINDS)
    if unknown:
        raise ValueError(f"unknown error kind(s) {sorted(unknown)}; known: {ERROR_KINDS}")
    return {(i.source, i.frame) for i in report.errors if i.kind in wanted}


# ------------------------------------------------------------------------- output


def _counts_dict(counts: Counts) -> dict:
    return asdict(counts)


def _count_kinds(issues: list[Issue], kinds: Sequence[str]) -> dict[str, int]:
    found = defaultdict(int)
    for issue in issues:
        found[issue.kind] += 1
    return {kind: found[kind] for kind in kinds if found[kind]}


def report_to_dict(report: CheckReport) -> dict:
    """JSON-ready dict: ``{"errors": [...], "warnings": [...], "summary": {...}}``.

    Each issue is ``{"source", "frame", "kind", "message"}``. ``summary`` holds
    ``frames``, ``atoms``, ``corrupted_frames`` (frames with an error), ``error_counts``
    and ``warning_counts`` (per kind), ``settings``, ``overall``, ``sources`` and
    ``groups`` (:class:`Counts` as dicts), and the distributions ``energy_per_atom``
    (eV/atom), ``force_components`` and ``max_force_per_frame`` (eV/Å), each
    ``{"count", "min", "max", "mean", "std", "median", "unit"}`` or None.
    """
    from ._version import __version__

    def dist(d: Distribution | None, unit: str) -> dict | None:
        return None if d is None else {**asdict(d), "unit": unit}

    summary = {
        "hdnnp_version": __version__,
        "frames": report.overall.frames,
        "atoms": report.overall.atoms,
        "corrupted_frames": len(corrupted_frames(report)),
        "error_counts": _count_kinds(report.errors, ERROR_KINDS),
        "warning_counts": _count_kinds(report.warnings, WARNING_KINDS),
        "settings": dict(report.settings),
        "overall": _counts_dict(report.overall),
        "sources": {k: _counts_dict(v) for k, v in report.sources.items()},
        "groups": None
        if report.groups is None
        else {k: _counts_dict(v) for k, v in report.groups.items()},
        "energy_per_atom": dist(report.energy_per_atom, "eV/atom"),
        "force_components": dist(report.force_components, "eV/Å"),
        "max_force_per_frame": dist(report.max_force, "eV/Å"),
    }
    return {
        "errors": [asdict(i) for i in report.errors],
        "warnings": [asdict(i) for i in report.warnings],
        "summary": summary,
    }


def _table(rows: list[tuple[str, ...]], text_last: bool = True) -> list[str]:
    """Padded columns: the first (and, with ``text_last``, the last) left-aligned."""
    n_columns = len(rows[0])
    widths = [max(len(row[c]) for row in rows) for c in range(n_columns)]
    left = {0, n_columns - 1} if text_last else {0}
    return [
        "  ".join(
            cell.ljust(w) if c in left else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _counts_rows(title: str, items: dict[str, Counts]) -> list[tuple[str, ...]]:
    rows = [(title, "frames", "atoms", "elements (atoms)")]
    for name, c in items.items():
        elements = ", ".join(f"{s} {e['atoms']}" for s, e in c.elements.items())
        rows.append((name or "<memory>", str(c.frames), str(c.atoms), elements))
    return rows


def _summary_lines(report: CheckReport) -> list[str]:
    rows = _counts_rows("source", report.sources)
    if len(report.sources) > 1:
        rows += _counts_rows("", {"total": report.overall})[1:]
    lines = _table(rows)
    rows = [("composition", "frames", "atoms", "formulas (frames)")]
    for name, entry in report.overall.compositions.items():
        formulas = ", ".join(f"{f} ({n})" for f, n in entry["formulas"].items())
        rows.append((name, str(entry["frames"]), str(entry["atoms"]), formulas))
    lines += [""] + _table(rows)
    if report.groups is not None:
        rows = [(f"{report.settings['group_by']}", "frames", "atoms", "formulas (frames)")]
        for name, c in report.groups.items():
            formulas = ", ".join(
                f"{f} ({n})" for e in c.compositions.values() for f, n in e["formulas"].items()
            )
            rows.append((name, str(c.frames), str(c.atoms), formulas))
        lines += [""] + _table(rows)
    rows = [("distribution", "count", "min", "max", "mean", "std", "median")]
    for name, d in (
        ("energy per atom (eV/atom)", report.energy_per_atom),
        ("force component (eV/Å)", report.force_components),
        ("max |F| per frame (eV/Å)", report.max_force),
    ):
        if d is None:
            rows.append((name, "0", "-", "-", "-", "-", "-"))
        else:
            values = (d.min, d.max, d.mean, d.std, d.median)
            rows.append((name, str(d.count), *(f"{v:.6g}" for v in values)))
    return lines + [""] + _table(rows, text_last=False)


def _issue_lines(title: str, issues: list[Issue], kinds, max_per_kind: int) -> list[str]:
    lines = [f"{title}: {len(issues)}"]
    for kind in kinds:
        of_kind = [i for i in issues if i.kind == kind]
        if not of_kind:
            continue
        lines.append(f"  {kind} ({len(of_kind)})")
        for issue in of_kind[:max_per_kind]:
            lines.append(f"    {issue.source or '<memory>'} frame {issue.frame}: {issue.message}")
        if len(of_kind) > max_per_kind:
            lines.append(f"    ... and {len(of_kind) - max_per_kind} more (all in the JSON report)")
    return lines


def format_report(report: CheckReport, max_per_kind: int = 10) -> str:
    """The report as text: counts, distributions, settings, then issues by kind (at most
    ``max_per_kind`` listed per kind) and a one-line verdict."""
    s = report.settings
    threshold = s["force_outlier_threshold"]
    lines = [
        f"checked {report.overall.frames} frames, {report.overall.atoms} atoms "
        f"from {len(report.sources)} source(s)",
        "",
        *_summary_lines(report),
        "",
        f"settings: min distance {s['min_distance']:g} Å, outlier sigma {s['outlier_sigma']:g}, "
        f"force outlier above |F| = "
        + ("- (too few forces)" if threshold is None else f"{threshold:.4g} eV/Å")
        + (f", max force {s['max_force']:g} eV/Å" if s["max_force"] is not None else ""),
        "",
        *_issue_lines("errors", report.errors, ERROR_KINDS, max_per_kind),
        *_issue_lines("warnings", report.warnings, WARNING_KINDS, max_per_kind),
        "",
    ]
    n_bad = len(corrupted_frames(report))
    verdict = (
        f"FAILED: {len(report.errors)} error(s) in {n_bad} frame(s), "
        if report.errors
        else "OK: no errors, "
    )
    lines.append(verdict + f"{len(report.warnings)} warning(s)")
    return "\n".join(lines)
