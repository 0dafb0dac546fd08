r"""Element networks: one feed-forward network per element, n2p2's activations and layout.

A layer computes ``y = f(x @ W + b)`` with ``W`` of shape (n_prev, n_cur); this is the
order of n2p2's ``weights.NNN.data`` (for each neuron of the previous layer, the weights
to every neuron of this layer, then this layer's biases). With n2p2's
``normalize_nodes`` the pre-activation is divided by n_prev.

Activations (n2p2 ``global_activation_short`` letters):

====  ===============================  ====  =====================================
``l`` x (identity)                     ``g`` exp(-x^2 / 2)
``t`` tanh(x)                          ``c`` cos(x)
``s`` 1 / (1 + e^-x)                   ``S`` 1 - 1 / (1 + e^-x)
``p`` ln(1 + e^x); x > 35: x; x < -35: 0  ``e`` e^-x
``r`` max(0, x)                        ``h`` x^2
====  ===============================  ====  =====================================
"""

from __future__ import annotations

import math

import torch
from torch import nn

ACTIVATIONS = ("l", "t", "s", "p", "r", "g", "c", "S", "e", "h")


def _softplus_n2p2(x: torch.Tensor) -> torch.Tensor:
    """Softplus saturated as in n2p2: x above 35, 0 below -35."""
    inner = torch.clamp(x, -35.0, 35.0)
    soft = torch.log1p(torch.exp(inner))
    soft = torch.where(x > 35.0, x, soft)
    return torch.where(x < -35.0, torch.zeros_like(x), soft)


def activate(x: torch.Tensor, code: str) -> torch.Tensor:
    """Apply the n2p2 activation function named by one letter."""
    if code == "l":
        return x
    if code == "t":
        return torch.tanh(x)
    if code == "s":
        return torch.sigmoid(x)
    if code == "p":
        return _softplus_n2p2(x)
    if code == "r":
        return torch.relu(x)
    if code == "g":
        return torch.exp(-0.5 * x * x)
    if code == "c":
        return torch.cos(x)
    if code == "S":
        return 1.0 - torch.sigmoid(x)
    if code == "e":
        return torch.exp(-x)
    if code == "h":
        return x * x
    raise ValueError(f"unknown activation {code!r}; valid n2p2 letters: {' '.join(ACTIVATIONS)}")


class ElementNet(nn.Module):
    """Feed-forward network R^n_in -> R for one element.

    Args:
        n_inputs: number of symmetry functions of the element.
        hidden: sizes of the hidden layers.
        activations: one letter per hidden layer plus one for the output layer.
        normalize_nodes: divide each pre-activation by the layer's fan-in (n2p2).
        generator: random generator for the initial weights (Nguyen-Widrow-like
            uniform in [-1, 1] / sqrt(n_prev)); None for zeros.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: tuple[int, ...],
        activations: tuple[str, ...],
        normalize_nodes: bool = False,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if len(activations) != len(hidden) + 1:
            raise ValueError(
                f"need {len(hidden) + 1} activations (hidden layers + output), "
                f"got {len(activations)}: {''.join(activations)}"
            )
        for code in activations:
            if code not in ACTIVATIONS:
                raise ValueError(f"unknown activation {code!r}; valid: {' '.join(ACTIVATIONS)}")
        self.sizes = (n_inputs, *hidden, 1)
        self.activations = tuple(activations)
        self.normalize_nodes = normalize_nodes
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for n_prev, n_cur in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            w = torch.zeros(n_prev, n_cur, dtype=torch.float64)
            b = torch.zeros(n_cur, dtype=torch.float64)
            if generator is not None:
                bound = 1.0 / math.sqrt(n_prev)
                w.uniform_(-bound, bound, generator=generator)
                b.uniform_(-bound, bound, generator=generator)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Atomic outputs (n_atoms,) for inputs (n_atoms, n_inputs)."""
        for w, b, code in zip(self.weights, self.biases, self.activations, strict=True):
            x = torch.addmm(b, x, w)
            if self.normalize_nodes:
                x = x / w.shape[0]
            x = activate(x, code)
        return x.squeeze(-1)

    def flat_parameters(self) -> list[float]:
        """Weights and biases in n2p2 order: per layer W row-major (n_prev outer), then b."""
        out: list[float] = []
        for w, b in zip(self.weights, self.biases, strict=True):
            out.extend(w.detach().cpu().double().reshape(-1).tolist())
            out.extend(b.detach().cpu().double().tolist())
        return out

    def load_flat_parameters(self, values, where: str = "weights") -> None:
        """Set all weights and biases from a flat sequence in n2p2 order."""
        expected = self.n_parameters
        if len(values) != expected:
            raise ValueError(
                f"{where}: expected {expected} weights and biases for a "
                f"{'-'.join(map(str, self.sizes))} network, got {len(values)}"
            )
        values = torch.as_tensor(values, dtype=torch.float64)
        pos = 0
        with torch.no_grad():
            for w, b in zip(self.weights, self.biases, strict=True):
                w.copy_(values[pos : pos + w.numel()].reshape(w.shape))
                pos += w.numel()
                b.copy_(values[pos : pos + b.numel()])
                pos += b.numel()
