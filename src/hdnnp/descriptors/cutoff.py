r"""Cutoff functions f_c(r) of n2p2 (Singraber et al., J. Chem. Theory Comput. 15, 1827 (2019)).

Every cutoff is zero for r >= r_c (strict r < r_c inside, as n2p2). Types that accept an
inner radius r_ci = alpha * r_c are 1 for r < r_ci and f(x) with
x = (r - r_ci) / (r_c - r_ci) in between:

=====  ======  ===============================================  ============
n2p2   name    f                                                inner alpha
=====  ======  ===============================================  ============
0      hard    1                                                no
1      cos     0.5 [cos(pi x) + 1]                              yes
2      tanhu   tanh^3(1 - r/r_c)   (f(0) = tanh^3(1) != 1)      no
3      tanh    tanh^3(1 - r/r_c) / tanh^3(1)   (f(0) = 1)       no
4      exp     exp(1 - 1/(1 - x^2))                             yes
5      poly1   (2x - 3) x^2 + 1                                 yes
6      poly2   ((15 - 6x) x - 10) x^3 + 1                       yes
7      poly3   (x (x (20x - 70) + 84) - 35) x^4 + 1             yes
8      poly4   (x (x ((315 - 70x) x - 540) + 420) - 126) x^5 + 1  yes
=====  ======  ===============================================  ============

With alpha = 0 the cos type is the Behler cutoff f_c(R) = 0.5 [cos(pi R/R_c) + 1].
Distances in Å (or any unit, as long as r and r_c agree).
"""

from __future__ import annotations

import math

import torch

#: n2p2 ``cutoff_type`` integer -> hdnnp name.
N2P2_CUTOFF_TYPES = {
    0: "hard",
    1: "cos",
    2: "tanhu",
    3: "tanh",
    4: "exp",
    5: "poly1",
    6: "poly2",
    7: "poly3",
    8: "poly4",
}
CUTOFF_NAMES = tuple(N2P2_CUTOFF_TYPES.values())
N2P2_CUTOFF_CODES = {name: code for code, name in N2P2_CUTOFF_TYPES.items()}

#: Types whose shape ignores the inner radius alpha (as in n2p2).
_NO_INNER = ("hard", "tanhu", "tanh")
_TANH_NORM = 1.0 / math.tanh(1.0) ** 3


def _core(x: torch.Tensor, name: str) -> torch.Tensor:
    """Shape function f(x) on x in [0, 1)."""
    if name == "cos":
        return 0.5 * (torch.cos(math.pi * x) + 1.0)
    if name == "exp":
        return torch.exp(1.0 - 1.0 / (1.0 - x * x))
    if name == "poly1":
        return (2.0 * x - 3.0) * x * x + 1.0
    if name == "poly2":
        return ((15.0 - 6.0 * x) * x - 10.0) * x**3 + 1.0
    if name == "poly3":
        return (x * (x * (20.0 * x - 70.0) + 84.0) - 35.0) * x**4 + 1.0
    if name == "poly4":
        return (x * (x * ((315.0 - 70.0 * x) * x - 540.0) + 420.0) - 126.0) * x**5 + 1.0
    raise ValueError(f"unknown cutoff type {name!r}; valid: {', '.join(CUTOFF_NAMES)}")


def cutoff_function(
    r: torch.Tensor, rc: torch.Tensor | float, name: str = "cos", alpha: float = 0.0
) -> torch.Tensor:
    """Evaluate the cutoff f_c(r; r_c) elementwise (broadcasting r against rc).

    Args:
        r: distances, Å.
        rc: cutoff radius, Å (scalar or broadcastable tensor).
        name: one of :data:`CUTOFF_NAMES`.
        alpha: inner radius as a fraction of rc, 0 <= alpha < 1 (ignored by hard/tanh/tanhu).

    Returns:
        f_c(r), zero for r >= rc, with derivatives safe to differentiate everywhere
        (no NaN leaks from the unused branch).
    """
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"cutoff inner radius alpha must satisfy 0 <= alpha < 1, got {alpha}")
    inside = r < rc
    if name == "hard":
        return torch.where(inside, torch.ones_like(r), torch.zeros_like(r))
    if name in ("tanhu", "tanh"):
        value = torch.tanh(1.0 - r / rc) ** 3
        if name == "tanh":
            value = value * _TANH_NORM
        return torch.where(inside, value, torch.zeros_like(value))
    rci = alpha * rc
    x = (r - rci) / (rc - rci)
    # keep x inside [0, 1) in the branch that is evaluated so that exp() never sees 1/0
    x_safe = torch.where(inside & (x > 0.0), x, torch.zeros_like(x))
    value = _core(x_safe, name)
    value = torch.where(x > 0.0, value, torch.ones_like(value))
    return torch.where(inside, value, torch.zeros_like(value))


def _core_derivative(x: torch.Tensor, name: str) -> torch.Tensor:
    """df/dx of the shape functions of :func:`_core`."""
    if name == "cos":
        return -0.5 * math.pi * torch.sin(math.pi * x)
    if name == "exp":
        one_minus = 1.0 - x * x
        return torch.exp(1.0 - 1.0 / one_minus) * (-2.0 * x / one_minus**2)
    if name == "poly1":
        return 6.0 * x * (x - 1.0)
    if name == "poly2":
        return -30.0 * x**2 * (x - 1.0) ** 2
    if name == "poly3":
        return 140.0 * x**3 * (x - 1.0) ** 3
    if name == "poly4":
        return -630.0 * x**4 * (x - 1.0) ** 4
    raise ValueError(f"unknown cutoff type {name!r}; valid: {', '.join(CUTOFF_NAMES)}")


def cutoff_and_derivative(
    r: torch.Tensor, rc: torch.Tensor | float, name: str = "cos", alpha: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """f_c(r) and df_c/dr (1/Å), elementwise; both zero for r >= rc."""
    value = cutoff_function(r, rc, name, alpha)
    inside = r < rc
    zero = torch.zeros_like(value)
    if name == "hard":
        return value, zero
    if name in ("tanhu", "tanh"):
        t = torch.tanh(1.0 - r / rc)
        deriv = -3.0 * t * t * (1.0 - t * t) / rc
        if name == "tanh":
            deriv = deriv * _TANH_NORM
        return value, torch.where(inside, deriv, zero)
    rci = alpha * rc
    x = (r - rci) / (rc - rci)
    active = inside & (x > 0.0)
    x_safe = torch.where(active, x, torch.zeros_like(x))
    deriv = _core_derivative(x_safe, name) / (rc - rci)
    return value, torch.where(active, deriv, zero)
