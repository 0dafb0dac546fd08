r"""Gaussian density function (GDF) atomic weights (Jeong et al., J. Phys. Chem. C 122,
22790 (2018); SIMPLE-NN's ``calc_atomic_weights: gdf`` with a ``modified sigmoid``).

For every training atom i of an element, with scaled descriptors G_i (the scaler's
output, S functions) and the N atoms of the same element (with more than
``max_reference_atoms`` of them, rho is estimated from a seeded random subset plus the
atom's own term, :func:`_full_density`)::

    rho(G_i) = (1/N) sum_j exp(-|G_i - G_j|^2 / (2 sigma^2 S))
    x_i = 1 / rho(G_i)
    w_i = Theta(x_i) = x_i / (1 + exp(-b (x_i - c)))      (modified sigmoid)

and the weights are normalised to mean 1 over the element's atoms, so that the force
loss keeps its scale. Over-sampled environments (large rho, small x) get small weights,
rare ones (x > c) weights that grow like x. The weights multiply each atom's term in the
force loss (:mod:`hdnnp.training.loss`).

Checked against SIMPLE-NN v2's implementation (its ``calculate_gdf`` kernel and data
handler): the squared distance is divided by the number of functions S (sigma is an RMS
distance per function), rho is the mean over the reference atoms, and sigma ``"auto"``
is SIMPLE-NN's ``params: Auto``: one third of the largest nearest-neighbour distance,

    sigma = max_i min_{j != i} sqrt(|G_i - G_j|^2 / S) / 3

(coincident points excluded). c ``"auto"`` is the c that SIMPLE-NN v2 derives from the
data and prints beside sigma (:func:`auto_c`); SIMPLE-NN itself trains with the c of its
weight modifier, so an imported input keeps that.

One deliberate difference: the weights are normalised by the mean of the modified
weights, so that they average to 1 (SIMPLE-NN v2 divides by the mean of the unmodified
x, an inconsistency in its data handler). One addition, off unless asked for:
``max_weight`` caps the normalised weights (:func:`cap_weights`).

Why the cap: x reaches N (the element's atom count) for an environment seen once, so with
a c fitted to another data set a handful of atoms can carry the whole force loss. On the
zeolite set with the SIMPLE-NN example's c = 74 for O, the effective number of O atoms
(:func:`effective_sample_size`) is 8 of 49,344. The training log reports that number per
element and warns when it falls below 1 % of the atoms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def gaussian_density(
    g: torch.Tensor, reference: torch.Tensor, sigma: float, chunk: int = 2048
) -> torch.Tensor:
    """rho(G_i) of rows ``g`` (n, S) against ``reference`` (m, S), in chunks of rows."""
    width = 2.0 * sigma * sigma * max(g.shape[1], 1)
    out = []
    for start in range(0, g.shape[0], chunk):
        d2 = torch.cdist(g[start : start + chunk], reference).pow(2)
        out.append(torch.exp(-d2 / width).mean(dim=1))
    return torch.cat(out) if out else g.new_zeros(0)


#: Distances below this count as the same point in :func:`auto_sigma` (SIMPLE-NN's 1e-20).
SAME_POINT = 1e-20


def auto_sigma(g: torch.Tensor, reference: torch.Tensor, chunk: int = 2048) -> float:
    """SIMPLE-NN's automatic sigma: max_i of the RMS-per-function distance of G_i to its
    nearest (non-coincident) reference point, divided by 3."""
    n_functions = max(g.shape[1], 1)
    largest = 0.0
    for start in range(0, g.shape[0], chunk):
        d = torch.cdist(g[start : start + chunk], reference) / n_functions**0.5
        d = torch.where(d > SAME_POINT, d, torch.full_like(d, float("inf")))
        nearest = d.min(dim=1).values
        finite = nearest[torch.isfinite(nearest)]
        if finite.numel():
            largest = max(largest, float(finite.max()))
    return largest / 3.0


def modified_sigmoid(x: torch.Tensor, b: float, c: float) -> torch.Tensor:
    """Theta(x) = x / (1 + exp(-b (x - c)))."""
    return x * torch.sigmoid(b * (x - c))


def _full_density(subset_mean: torch.Tensor, in_reference: torch.Tensor, n: int) -> torch.Tensor:
    """rho over all n atoms estimated from a reference subset R: the atom's own term (1)
    plus the mean over R without it, scaled to the other n - 1 atoms,

        rho_i = (1 + (n - 1) (|R| s_i - [i in R]) / (|R| - [i in R])) / n,

    with s_i the mean kernel over R. For R = all atoms this is exactly s_i (SIMPLE-NN's
    rho); without the self term an atom outside R could get 1/rho far above n."""
    size = in_reference.sum()  # |R|: in_reference marks the atoms of R
    others = (size * subset_mean - in_reference) / torch.clamp(size - in_reference, min=1.0)
    return (1.0 + (n - 1) * others) / n


def auto_c(x: torch.Tensor) -> float:
    """SIMPLE-NN's data-based modifier c: fit a straight line to the lowest 75 % of the
    sorted x = 1/rho against their rank and take its value at the 75 % rank. Roughly the
    third quartile of x, less sensitive to the crowded low end than the quantile itself."""
    ordered = torch.sort(x.double()).values.numpy()
    m = int(ordered.shape[0] * 0.75)
    if m < 2:
        return float(ordered[-1]) if ordered.size else 1.0
    slope, intercept = np.polyfit(np.arange(m), ordered[:m], 1)
    return float(slope * (m - 1) + intercept)


def cap_weights(w: torch.Tensor, max_weight: float, iterations: int = 200) -> torch.Tensor:
    """Weights normalised to mean 1 with none above ``max_weight``: w_i -> min(w_i, t) /
    <min(w, t)>, with the threshold t found by bisection so that the largest normalised
    weight is ``max_weight`` (t / <min(w, t)> grows monotonically with t). Unchanged when
    max(w) / <w> is already within the bound; ``max_weight`` must be at least 1."""
    if max_weight < 1.0:
        raise ValueError(f"the largest GDF weight cannot be below the mean (1); got {max_weight}")
    w = w / w.mean()
    if float(w.max()) <= max_weight:
        return w
    low, high = 0.0, float(w.max())
    for _ in range(iterations):
        t = 0.5 * (low + high)
        if t / float(torch.clamp(w, max=t).mean()) > max_weight:
            high = t
        else:
            low = t
    capped = torch.clamp(w, max=low)
    return capped / capped.mean()


def effective_sample_size(w: torch.Tensor) -> float:
    """Kish's effective number of atoms of a weighted loss, (sum w)^2 / sum w^2: N for
    equal weights, 1 when a single atom carries all the weight."""
    total = float(w.sum())
    return total * total / float((w * w).sum()) if total > 0 else 0.0


@dataclass(frozen=True)
class GDFResult:
    """GDF weights of one element's atoms and the settings that produced them."""

    weights: torch.Tensor  # normalised to mean 1 (and capped when asked)
    inverse_density: torch.Tensor  # x = 1 / rho
    sigma: float
    c: float
    effective_atoms: float  # effective_sample_size(weights)


def gdf_weights(
    scaled: torch.Tensor,
    sigma: float | str,
    b: float,
    c: float | str,
    max_reference: int,
    seed: int,
    max_weight: float | None = None,
) -> GDFResult:
    """GDF weights for the atoms of one element from their scaled descriptors (n, S);
    ``sigma`` and ``c`` are numbers or ``"auto"`` (:func:`auto_sigma`, :func:`auto_c`);
    ``max_weight`` caps the normalised weights (:func:`cap_weights`)."""
    n = scaled.shape[0]
    reference, in_reference = scaled, torch.ones(n, dtype=scaled.dtype)
    if n > max_reference:
        pick = np.sort(np.random.default_rng(seed).choice(n, size=max_reference, replace=False))
        reference = scaled[torch.as_tensor(pick)]
        in_reference = torch.zeros(n, dtype=scaled.dtype)
        in_reference[torch.as_tensor(pick)] = 1.0
    if sigma == "auto":
        sigma = auto_sigma(scaled, reference)
    sigma = float(sigma)
    ones = torch.ones(n, dtype=scaled.dtype)
    if sigma <= 0:
        return GDFResult(ones, ones, sigma, float("nan"), float(n))
    rho = _full_density(gaussian_density(scaled, reference, sigma), in_reference, n)
    x = 1.0 / torch.clamp(rho, min=torch.finfo(rho.dtype).tiny)
    c = auto_c(x) if c == "auto" else float(c)
    w = modified_sigmoid(x, b, c)
    mean = w.mean()
    if not torch.isfinite(mean) or mean <= 0:
        return GDFResult(ones, x, sigma, c, float(n))
    w = w / mean if max_weight is None else cap_weights(w, max_weight)
    return GDFResult(w, x, sigma, c, effective_sample_size(w))
