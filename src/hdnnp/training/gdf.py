r"""Gaussian density function (GDF) atomic weights (Jeong et al., J. Phys. Chem. C 122,
22790 (2018); SIMPLE-NN's ``calc_atomic_weights: gdf`` with a ``modified sigmoid``).

For every training atom i of an element, with scaled descriptors G_i (the scaler's
output) and a reference set R of atoms of the same element (all of them, or a seeded
random subset of ``max_reference_atoms``)::

    rho(G_i) = (1/|R|) sum_{j in R} exp(-|G_i - G_j|^2 / (2 sigma^2))
    x_i = 1 / rho(G_i)
    w_i = Theta(x_i) = x_i / (1 + exp(-b (x_i - c)))      (modified sigmoid)

and the weights are normalised to mean 1 over the element's atoms, so that the force
loss keeps its scale. Over-sampled environments (large rho, small x) get small weights,
rare ones (x > c) weights that grow like x. sigma ``"auto"`` is 0.02, SIMPLE-NN's
default, in scaled-descriptor units. The weights multiply each atom's term in the force
loss (:mod:`hdnnp.training.loss`).

Not verified line by line against SIMPLE-NN's implementation (its normalisation of rho
and its automatic sigma and c); the formulas above are this package's definition.
"""

from __future__ import annotations

import numpy as np
import torch


def gaussian_density(
    g: torch.Tensor, reference: torch.Tensor, sigma: float, chunk: int = 2048
) -> torch.Tensor:
    """rho(G_i) of rows ``g`` (n, S) against ``reference`` (m, S), in chunks of rows."""
    out = []
    for start in range(0, g.shape[0], chunk):
        d2 = torch.cdist(g[start : start + chunk], reference).pow(2)
        out.append(torch.exp(-d2 / (2.0 * sigma * sigma)).mean(dim=1))
    return torch.cat(out) if out else g.new_zeros(0)


def modified_sigmoid(x: torch.Tensor, b: float, c: float) -> torch.Tensor:
    """Theta(x) = x / (1 + exp(-b (x - c)))."""
    return x * torch.sigmoid(b * (x - c))


def gdf_weights(
    scaled: torch.Tensor, sigma: float, b: float, c: float, max_reference: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weights normalised to mean 1, x = 1/rho) for the atoms of one element."""
    n = scaled.shape[0]
    reference = scaled
    if n > max_reference:
        pick = np.random.default_rng(seed).choice(n, size=max_reference, replace=False)
        reference = scaled[torch.as_tensor(np.sort(pick))]
    rho = gaussian_density(scaled, reference, sigma)
    x = 1.0 / torch.clamp(rho, min=torch.finfo(rho.dtype).tiny)
    w = modified_sigmoid(x, b, c)
    mean = w.mean()
    if not torch.isfinite(mean) or mean <= 0:
        return torch.ones_like(w), x
    return w / mean, x
