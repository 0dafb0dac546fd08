r"""Automatic symmetry-function sets from the elements and a cutoff radius alone.

The radial (r_s, eta) grids follow the rules implemented in n2p2's symmetry-function
parameter generator (``tools/python/symfunc_paramgen/src/sfparamgen.py``,
``SymFuncParamGenerator.generate_radial_params``), which cites

* [G] M. Gastegger, L. Schwiedrzik, M. Bittermann, F. Berzsenyi and P. Marquetand,
  J. Chem. Phys. 148, 241709 (2018) (rule ``"gastegger2018"``), and
* [I] G. Imbalzano, A. Anelli, D. Giofré, S. Klees, J. Behler and M. Ceriotti,
  J. Chem. Phys. 148, 241730 (2018) (rule ``"imbalzano2018"``).

With n points, cutoff r_c, and (rule G) a grid r_i = r_lower + i (r_upper - r_lower)/(n - 1),
i = 0..n-1, r_upper defaulting to r_c:

==============  =======  ==========================================================
rule            mode     parameters
==============  =======  ==========================================================
gastegger2018   shift    r_s,i = r_i,  eta = 1 / (2 dr^2),  dr = (r_upper - r_lower)/(n - 1)
gastegger2018   center   r_s = 0,      eta_i = 1 / (2 r_i^2)      (needs r_lower > 0)
imbalzano2018   center   r_s = 0,      eta_m = (N^(m/N) / r_c)^2,  m = 0..N,  N = n - 1
imbalzano2018   shift    r'_m = r_c / n^(m/n), m = 0..n;  eta_m = 1 / (r'_m - r'_(m+1))^2,
                         r_s,m = r'_(m+1), m = 0..n-1 (returned in ascending r_s)
==============  =======  ==========================================================

:func:`radial_parameters` reproduces sfparamgen's reference values (its unit tests, e.g.
rule G, n = 3, r_c = 6, r_lower = 1, r_upper = 5: shift r_s = 1, 3, 5, eta = 1/8; center
eta = 1/2, 1/18, 1/50).

:func:`automatic_descriptors` builds, for every central element:

* radial (n2p2 type 2): the ``gastegger2018``/``shift`` grid of ``n_radial`` functions
  (r_lower = 1.0 Å, r_upper = r_c by default) for every neighbour element — Gaussians of
  equal width tiling [r_lower, r_c];
* angular (type 3 narrow or 9 wide): the ``gastegger2018``/``center`` eta grid of
  ``n_angular`` values (r_s = 0), each with every zeta of ``zetas`` and lambda = -1, +1,
  for every unordered pair of neighbour elements.

All functions share the cutoff r_c and the cutoff type. With E elements that is, per
central element, E n_radial radial and E(E+1)/2 n_angular len(zetas) 2 angular functions.

:func:`descriptor_statistics` and :func:`constant_descriptors` flag functions that do not
vary over the training data (e.g. a neighbour pair that never occurs within r_c).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import numpy as np

from .params import (
    ANGULAR_NARROW,
    ANGULAR_WIDE,
    RADIAL,
    DescriptorSet,
    SymmetryFunction,
    sort_elements,
)

RULES = ("gastegger2018", "imbalzano2018")
MODES = ("shift", "center")


def radial_parameters(
    n: int,
    cutoff: float,
    rule: str = "gastegger2018",
    mode: str = "shift",
    r_lower: float | None = 1.0,
    r_upper: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(r_s, eta) grids of n2p2's sfparamgen (formulas in the module docstring).

    Args:
        n: number of (r_s, eta) pairs, >= 2.
        cutoff: r_c, Å.
        rule: ``"gastegger2018"`` or ``"imbalzano2018"``.
        mode: ``"shift"`` or ``"center"``.
        r_lower, r_upper: grid ends for rule gastegger2018 (Å; r_upper defaults to r_c);
            ignored by imbalzano2018. shift needs 0 <= r_lower < r_upper <= r_c, center
            needs 0 < r_lower < r_upper <= r_c.

    Returns:
        ``(rs, eta)`` arrays of length n (Å, 1/Å^2).
    """
    if int(n) != n or n < 2:
        raise ValueError(f"the number of radial parameters must be an integer >= 2, got {n}")
    n = int(n)
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; valid: {', '.join(RULES)}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(MODES)}")
    if rule == "gastegger2018":
        if r_lower is None:
            raise ValueError("rule gastegger2018 needs r_lower")
        upper = cutoff if r_upper is None else float(r_upper)
        low_ok = r_lower > 0 if mode == "center" else r_lower >= 0
        if not (low_ok and r_lower < upper <= cutoff):
            bound = "0 <" if mode == "center" else "0 <="
            raise ValueError(
                f"{rule}/{mode} needs {bound} r_lower < r_upper <= cutoff, got "
                f"r_lower={r_lower}, r_upper={upper}, cutoff={cutoff}"
            )
        grid = np.linspace(r_lower, upper, n)
        if mode == "shift":
            dr = (upper - r_lower) / (n - 1)
            return grid, np.full(n, 1.0 / (2.0 * dr * dr))
        return np.zeros(n), 1.0 / (2.0 * grid**2)
    if mode == "center":
        m = np.arange(n)
        eta = (float(n - 1) ** (m / (n - 1)) / cutoff) ** 2
        return np.zeros(n), eta
    m = np.arange(n + 1)
    extended = cutoff / float(n) ** (m / n)
    eta = 1.0 / (extended[:-1] - extended[1:]) ** 2
    return np.flip(extended[1:]).copy(), np.flip(eta).copy()


def automatic_descriptors(
    elements: Sequence[str],
    cutoff: float,
    n_radial: int = 12,
    n_angular: int = 6,
    zetas: Sequence[float] = (1, 4, 16),
    angular_type: int = 3,
    cutoff_type: str = "cos",
    cutoff_alpha: float = 0.0,
    *,
    r_lower: float = 1.0,
    r_upper: float | None = None,
) -> DescriptorSet:
    """A complete element-resolved symmetry-function set (scheme in the module docstring).

    Args:
        elements: element symbols (any order, duplicates ignored).
        cutoff: r_c of every function, Å.
        n_radial: radial functions per (central, neighbour) element pair, >= 2.
        n_angular: angular eta values per (central, neighbour pair); 0 = no angular
            functions, else >= 2.
        zetas: angular exponents (each >= 1).
        angular_type: 3 (narrow, G4) or 9 (wide, G5).
        cutoff_type, cutoff_alpha: cutoff function (see :mod:`hdnnp.descriptors.cutoff`).
        r_lower: smallest grid radius, Å: the first radial shift and the narrowest
            angular Gaussian (eta = 1/(2 r_lower^2)); 1.0 Å lies below typical bond lengths.
        r_upper: largest grid radius, Å (default: cutoff).
    """
    symbols = sort_elements(elements)
    if not symbols:
        raise ValueError("at least one element is needed")
    if angular_type not in (ANGULAR_NARROW, ANGULAR_WIDE):
        raise ValueError(f"angular_type must be 3 (narrow) or 9 (wide), got {angular_type}")
    if n_angular != 0 and (int(n_angular) != n_angular or n_angular < 2):
        raise ValueError(f"n_angular must be 0 or an integer >= 2, got {n_angular}")
    zetas = tuple(float(z) for z in zetas)
    if n_angular and not zetas:
        raise ValueError("angular functions need at least one zeta")
    if any(z < 1.0 for z in zetas) or len(set(zetas)) != len(zetas):
        raise ValueError(f"zetas must be distinct and >= 1, got {zetas}")
    rs_grid, eta_radial = radial_parameters(
        n_radial, cutoff, "gastegger2018", "shift", r_lower, r_upper
    )
    functions = []
    for central in symbols:
        for neighbour in symbols:
            for rs, eta in zip(rs_grid, eta_radial, strict=True):
                functions.append(
                    SymmetryFunction(central, RADIAL, (neighbour,), eta=eta, rc=cutoff, rs=rs)
                )
    if n_angular:
        _, eta_angular = radial_parameters(
            n_angular, cutoff, "gastegger2018", "center", r_lower, r_upper
        )
        for central in symbols:
            for pair in itertools.combinations_with_replacement(symbols, 2):
                for eta, zeta, lam in itertools.product(eta_angular, zetas, (-1.0, 1.0)):
                    functions.append(
                        SymmetryFunction(
                            central, angular_type, pair, eta=eta, rc=cutoff, zeta=zeta, lambda_=lam
                        )
                    )
    return DescriptorSet(symbols, tuple(functions), cutoff_type, float(cutoff_alpha))


def descriptor_statistics(g) -> dict[str, np.ndarray]:
    """Per-function statistics of a descriptor matrix.

    Args:
        g: array (n_atoms, n_functions) of one element's descriptors (numpy or torch).

    Returns:
        ``{"min", "max", "mean", "std"}``: arrays of length n_functions (std is the
        population standard deviation), and ``"count"``: the number of rows.
    """
    if hasattr(g, "detach"):
        g = g.detach().cpu().numpy()
    g = np.asarray(g, dtype=np.float64)
    if g.ndim != 2:
        raise ValueError(f"descriptor matrix must be 2-D (atoms, functions), got {g.shape}")
    if g.shape[0] == 0:
        raise ValueError("descriptor matrix has no rows")
    if not np.all(np.isfinite(g)):
        bad = sorted(set(np.nonzero(~np.isfinite(g))[1].tolist()))
        raise ValueError(f"descriptor matrix has non-finite values in functions {bad}")
    return {
        "min": g.min(axis=0),
        "max": g.max(axis=0),
        "mean": g.mean(axis=0),
        "std": g.std(axis=0),
        "count": np.int64(g.shape[0]),
    }


def constant_descriptors(stats: dict, rel_tol: float = 1e-8) -> list[int]:
    """Indices of functions whose range is negligible: max - min <= rel_tol max(|min|, |max|).

    A function that is exactly zero everywhere counts as constant.
    """
    lo = np.asarray(stats["min"], dtype=np.float64)
    hi = np.asarray(stats["max"], dtype=np.float64)
    scale = np.maximum(np.abs(lo), np.abs(hi))
    return np.nonzero(hi - lo <= rel_tol * scale)[0].tolist()


def warn_constant_descriptors(
    functions: Sequence[SymmetryFunction], stats: dict, rel_tol: float = 1e-8
) -> list[str]:
    """Warn (``UserWarning``) about each function constant over the data; return messages.

    ``functions`` are the columns of the matrix ``stats`` was computed from (one element's
    functions, e.g. ``DescriptorSet.for_element(e)``).
    """
    indices = constant_descriptors(stats, rel_tol)
    messages = []
    for i in indices:
        sf = functions[i]
        messages.append(
            f"symmetry function {i} of {sf.element} (type {sf.type}, neighbours "
            f"{'-'.join(sf.neighbors)}, eta {sf.eta:.6g}, r_s {sf.rs:.6g}) is constant "
            f"({float(stats['min'][i]):.6g}) over {int(stats['count'])} atoms: it carries "
            "no information"
        )
    for message in messages:
        warnings.warn(message, stacklevel=2)
    return messages
