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

(coincident points excluded). One difference, deliberate: SIMPLE-NN v2 divides the
modified weights by the mean of the unmodified x (an inconsistency in its data handler);
hdnnp divides by the mean of the modified weights, so that they average to 1.
"""

from __future__ import annotations

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


def gdf_weights(
    scaled: torch.Tensor,
    sigma: float | str,
    b: float,
    c: float,
    max_reference: int,
    seed: int,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """(weights normalised to mean 1, x = 1/rho, sigma used) for the atoms of one element;
    ``sigma`` is a number or ``"auto"`` (:func:`auto_sigma`)."""
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
    if sigma <= 0:
        return torch.ones(n, dtype=scaled.dtype), torch.ones(n, dtype=scaled.dtype), sigma
    rho = _full_density(gaussian_density(scaled, reference, sigma), in_reference, n)
    x = 1.0 / torch.clamp(rho, min=torch.finfo(rho.dtype).tiny)
    w = modified_sigmoid(x, b, c)
    mean = w.mean()
    if not torch.isfinite(mean) or mean <= 0:
        return torch.ones_like(w), x, sigma
    return w / mean, x, sigma
