r"""Descriptor scaling with n2p2's semantics, per element and per symmetry function.

With training statistics G_min, G_max, G_mean, G_sigma of each function and the target
range [S_min, S_max] (n2p2 ``scale_min_short``/``scale_max_short``):

=================  ======================================================
mode               scaled value
=================  ======================================================
``none``           G
``scale``          S_min + (S_max - S_min) (G - G_min) / (G_max - G_min)
``center``         G - G_mean
``scale_center``   S_min + (S_max - S_min) (G - G_mean) / (G_max - G_min)
``sigma``          S_min + (S_max - S_min) (G - G_mean) / G_sigma
=================  ======================================================

``scale_center`` is what n2p2 does when both ``scale_symmetry_functions`` and
``center_symmetry_functions`` are given (note: the mean, not the minimum). Every mode is
the affine map ``offset + factor * (G - shift)``; a function that is constant over the
training data (G_max == G_min or sigma == 0) gets factor 0 instead of a division by zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

SCALING_MODES = ("none", "scale", "center", "scale_center", "sigma")


@dataclass(frozen=True)
class ScalingStats:
    """Per-function statistics of one element over the training data (unscaled G)."""

    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray
    sigma: np.ndarray

    @classmethod
    def from_values(cls, g: np.ndarray) -> ScalingStats:
        """Statistics of an (n_atoms, n_functions) array (sigma: population std, as n2p2)."""
        g = np.asarray(g, dtype=np.float64)
        if g.shape[0] == 0:
            raise ValueError("cannot compute scaling statistics from zero atoms")
        return cls(g.min(0), g.max(0), g.mean(0), g.std(0))


def affine_parameters(
    stats: ScalingStats, mode: str, smin: float, smax: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(shift, factor, offset) with scaled = offset + factor * (G - shift)."""
    n = len(stats.minimum)
    zeros, ones = np.zeros(n), np.ones(n)
    span = stats.maximum - stats.minimum
    if mode == "none":
        return zeros, ones, zeros
    if mode == "center":
        return stats.mean.copy(), ones, zeros
    if mode in ("scale", "scale_center"):
        factor = np.divide(smax - smin, span, out=np.zeros(n), where=span > 0)
        shift = stats.minimum if mode == "scale" else stats.mean
        return shift.copy(), factor, np.full(n, smin)
    if mode == "sigma":
        factor = np.divide(smax - smin, stats.sigma, out=np.zeros(n), where=stats.sigma > 0)
        return stats.mean.copy(), factor, np.full(n, smin)
    raise ValueError(f"unknown scaling mode {mode!r}; valid: {', '.join(SCALING_MODES)}")


class Scaler(nn.Module):
    """Applies the affine scaling per element to a padded descriptor matrix.

    Buffers have shape (n_elements, max_functions); padded entries are zero.
    """

    def __init__(self, n_elements: int, max_functions: int):
        super().__init__()
        shape = (n_elements, max_functions)
        for name in ("shift", "factor", "offset", "g_min", "g_max", "g_mean", "g_sigma"):
            self.register_buffer(name, torch.zeros(shape, dtype=torch.float64))
        self.mode = "none"
        self.smin = 0.0
        self.smax = 1.0

    def set_stats(
        self, stats: list[ScalingStats], mode: str, smin: float = -1.0, smax: float = 1.0
    ) -> None:
        """Install per-element statistics (list in element order) and the scaling mode."""
        if mode not in SCALING_MODES:
            raise ValueError(f"unknown scaling mode {mode!r}; valid: {', '.join(SCALING_MODES)}")
        self.mode, self.smin, self.smax = mode, float(smin), float(smax)
        with torch.no_grad():
            for e, st in enumerate(stats):
                n = len(st.minimum)
                shift, factor, offset = affine_parameters(st, mode, smin, smax)
                for name, values in (
                    ("shift", shift),
                    ("factor", factor),
                    ("offset", offset),
                    ("g_min", st.minimum),
                    ("g_max", st.maximum),
                    ("g_mean", st.mean),
                    ("g_sigma", st.sigma),
                ):
                    buf = getattr(self, name)
                    buf[e].zero_()
                    buf[e, :n] = torch.as_tensor(values, dtype=buf.dtype)

    def stats(self, element: int, n_functions: int) -> ScalingStats:
        """The statistics of one element as numpy arrays (float64)."""

        def get(name):
            return getattr(self, name)[element, :n_functions].detach().cpu().double().numpy()

        return ScalingStats(get("g_min"), get("g_max"), get("g_mean"), get("g_sigma"))

    def forward(self, g: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        """Scale rows of ``g`` (N, max_functions) by the element of each atom."""
        return self.offset[species] + self.factor[species] * (g - self.shift[species])
