r"""Extrapolation warnings: atoms whose descriptors leave the range seen in training.

A neural network potential is an interpolator. n2p2 warns ("EXTRAPOLATION WARNING")
whenever a symmetry function value G of an atom falls outside the interval
[G_min, G_max] of that element's function over the training data (the statistics of
``scaling.data``); predictions for such atoms are not backed by data.

For each such value this module reports the element, the function (1-based index within
the element's functions, n2p2's numbering in ``scaling.data``), the value, the range, and
how far outside it lies as a fraction of the range width:

    excess = (G_min - G) / (G_max - G_min)   if G < G_min
    excess = (G - G_max) / (G_max - G_min)   if G > G_max

(for a function constant in training, the width is taken as 1 in the units of G). A
relative tolerance of 1e-10 of the width absorbs round-off at the range edges.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

#: Relative slack at the range edges (round-off of the training statistics).
EDGE_TOLERANCE = 1e-10


@dataclass(frozen=True)
class Extrapolation:
    """One descriptor value outside its training range.

    Attributes:
        atom: index of the atom in its structure.
        element: chemical symbol of the atom.
        function: 1-based index of the symmetry function within the element's set.
        value: the descriptor value G.
        minimum, maximum: the training range [G_min, G_max].
        excess: distance outside the range in units of the range width (> 0).
    """

    atom: int
    element: str
    function: int
    value: float
    minimum: float
    maximum: float
    excess: float

    def describe(self) -> str:
        return (
            f"atom {self.atom} ({self.element}) G{self.function} = {self.value:.6g} outside "
            f"[{self.minimum:.6g}, {self.maximum:.6g}] by {self.excess:.3g} x range"
        )


@dataclass(frozen=True)
class ExtrapolationReport:
    """Extrapolation of one structure.

    Attributes:
        n_atoms: atoms with at least one descriptor outside its range.
        n_warnings: descriptor values outside their range (n2p2 prints one warning each;
            LAMMPS's ``maxew`` limits their number per step).
        per_element: those atoms counted per element.
        worst: the events sorted by decreasing excess (at most ``limit`` of them).
        max_excess: the largest excess (0 when there is none).
    """

    n_atoms: int = 0
    n_warnings: int = 0
    per_element: dict[str, int] = field(default_factory=dict)
    worst: tuple[Extrapolation, ...] = ()
    max_excess: float = 0.0

    def summary(self) -> str:
        if not self.n_atoms:
            return "no extrapolation"
        counts = ", ".join(f"{e}: {n}" for e, n in self.per_element.items())
        return f"{self.n_atoms} atoms extrapolate ({counts}); worst: {self.worst[0].describe()}"


def _ranges(model, device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(g_min, g_max, valid) per element and padded function slot."""
    scaler = model.scaler
    counts = torch.tensor([model.descriptors.count(e) for e in model.elements], device=device)
    slots = torch.arange(scaler.g_min.shape[1], device=device)
    valid = slots[None, :] < counts[:, None]
    return scaler.g_min.to(device), scaler.g_max.to(device), valid


def extrapolation(
    model, species: torch.Tensor, g: torch.Tensor, limit: int = 10
) -> ExtrapolationReport:
    """Compare descriptors ``g`` (N, max_functions, unscaled) of atoms of element index
    ``species`` (N,) with the training ranges stored in ``model.scaler``."""
    g = g.detach().to(torch.float64)
    g_min, g_max, valid = _ranges(model, g.device)
    lo, hi, ok = g_min[species], g_max[species], valid[species]
    width = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    below = (lo - g) / width
    above = (g - hi) / width
    excess = torch.where(ok, torch.maximum(below, above), torch.full_like(g, -1.0))
    outside = excess > EDGE_TOLERANCE
    atoms = torch.nonzero(outside.any(dim=1)).squeeze(1)
    if atoms.numel() == 0:
        return ExtrapolationReport()
    return _report(model, species, g, g_min, g_max, excess, outside, atoms, limit)


def _report(model, species, g, g_min, g_max, excess, outside, atoms, limit) -> ExtrapolationReport:
    elements = model.elements
    counts = torch.bincount(species[atoms], minlength=len(elements)).tolist()
    per_element = {elements[e]: n for e, n in enumerate(counts) if n}
    idx = torch.nonzero(outside)
    values = excess[idx[:, 0], idx[:, 1]]
    order = torch.argsort(values, descending=True)[:limit]
    worst = []
    for a, f in idx[order].tolist():
        e = int(species[a])
        worst.append(
            Extrapolation(
                atom=a,
                element=elements[e],
                function=f + 1,
                value=float(g[a, f]),
                minimum=float(g_min[e, f]),
                maximum=float(g_max[e, f]),
                excess=float(excess[a, f]),
            )
        )
    return ExtrapolationReport(len(atoms), len(idx), per_element, tuple(worst), float(values.max()))


def structure_extrapolation(model, structure, limit: int = 10) -> ExtrapolationReport:
    """Extrapolation report of one structure (computes its descriptors)."""
    batch = model.make_batch([structure])
    return extrapolation(model, batch.species, model.descriptors_of(batch), limit)


def as_dict(report: ExtrapolationReport) -> dict:
    """JSON-ready form of a report."""
    return {
        "n_atoms": report.n_atoms,
        "n_warnings": report.n_warnings,
        "per_element": dict(report.per_element),
        "max_excess": report.max_excess,
        "worst": [asdict(e) for e in report.worst],
    }
