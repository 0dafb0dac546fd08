"""Cutoff functions against n2p2's closed forms (Singraber et al., JCTC 15, 1827 (2019)).

The references below are written out independently (expanded polynomials, explicit
inner radius handling) from the formula table in :mod:`hdnnp.descriptors.cutoff`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hdnnp.descriptors.cutoff import CUTOFF_NAMES, cutoff_and_derivative, cutoff_function

RC = 4.5
INNER = ("cos", "exp", "poly1", "poly2", "poly3", "poly4")
NO_INNER = ("hard", "tanhu", "tanh")


def _shape(x: float, name: str) -> float:
    """n2p2 core functions f(x) on [0, 1), written in expanded form."""
    if name == "cos":
        return 0.5 * (math.cos(math.pi * x) + 1.0)
    if name == "exp":
        return math.exp(1.0 - 1.0 / (1.0 - x**2))
    if name == "poly1":
        return 1.0 - 3.0 * x**2 + 2.0 * x**3
    if name == "poly2":
        return 1.0 - 10.0 * x**3 + 15.0 * x**4 - 6.0 * x**5
    if name == "poly3":
        return 1.0 - 35.0 * x**4 + 84.0 * x**5 - 70.0 * x**6 + 20.0 * x**7
    if name == "poly4":
        return 1.0 - 126 * x**5 + 420 * x**6 - 540 * x**7 + 315 * x**8 - 70 * x**9
    raise AssertionError(name)


def reference(r: float, rc: float, name: str, alpha: float) -> float:
    """n2p2's f_c(r) with inner radius alpha * rc (ignored by hard, tanhu, tanh)."""
    if r >= rc:
        return 0.0
    if name == "hard":
        return 1.0
    if name == "tanhu":
        return math.tanh(1.0 - r / rc) ** 3
    if name == "tanh":
        return (math.tanh(1.0 - r / rc) / math.tanh(1.0)) ** 3
    rci = alpha * rc
    if r < rci:
        return 1.0
    return _shape((r - rci) / (rc - rci), name)


def _grid(rc: float) -> np.ndarray:
    return np.concatenate(
        [np.linspace(0.0, 1.2 * rc, 121), [rc, np.nextafter(rc, 0.0), np.nextafter(rc, 10.0)]]
    )


CASES = [(n, a) for n in INNER for a in (0.0, 0.3)] + [(n, a) for n in NO_INNER for a in (0.0, 0.3)]


def test_all_names_covered():
    assert set(CUTOFF_NAMES) == set(INNER) | set(NO_INNER)


@pytest.mark.parametrize(("name", "alpha"), CASES)
def test_value_matches_closed_form(name, alpha):
    r = _grid(RC)
    got = cutoff_function(torch.tensor(r), RC, name, alpha).numpy()
    want = np.array([reference(x, RC, name, alpha) for x in r])
    # absolute tolerance: the expanded polynomials lose a few ulps to cancellation near rc
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=2e-13)
    assert np.all(got[r >= RC] == 0.0)
    # tensor rc broadcasting gives the same
    got_t = cutoff_function(torch.tensor(r), torch.tensor(RC), name, alpha).numpy()
    np.testing.assert_array_equal(got_t, got)


@pytest.mark.parametrize(("name", "alpha"), CASES)
def test_zero_at_and_beyond_rc(name, alpha):
    r = torch.tensor([RC, RC + 1e-12, RC + 0.5, 2 * RC, 100.0])
    f, df = cutoff_and_derivative(r, RC, name, alpha)
    assert torch.all(f == 0.0)
    assert torch.all(df == 0.0)
    # strict r < rc: just below rc the hard cutoff is still 1
    below = torch.tensor([np.nextafter(RC, 0.0)])
    if name == "hard":
        assert cutoff_function(below, RC, name, alpha).item() == 1.0


@pytest.mark.parametrize("name", INNER)
def test_one_inside_inner_radius(name):
    alpha = 0.3
    r = torch.linspace(0.0, alpha * RC, 20)
    f, df = cutoff_and_derivative(r, RC, name, alpha)
    np.testing.assert_array_equal(f.numpy(), np.ones(20))
    np.testing.assert_array_equal(df.numpy(), np.zeros(20))
    assert cutoff_function(torch.tensor([0.0]), RC, name, 0.0).item() == pytest.approx(1.0)


def test_tanh_values_at_zero():
    zero = torch.tensor([0.0])
    assert cutoff_function(zero, RC, "tanh").item() == pytest.approx(1.0, abs=1e-15)
    assert cutoff_function(zero, RC, "tanhu").item() == pytest.approx(math.tanh(1.0) ** 3)
    assert math.tanh(1.0) ** 3 < 0.45  # tanhu is not normalised (n2p2 cutoff type 2)


@pytest.mark.parametrize("name", NO_INNER)
def test_alpha_ignored_by_hard_and_tanh(name):
    r = torch.linspace(0.0, 1.1 * RC, 50)
    a = cutoff_function(r, RC, name, 0.0)
    b = cutoff_function(r, RC, name, 0.7)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize(("name", "alpha"), CASES)
def test_derivative_matches_autograd_and_finite_differences(name, alpha):
    # points strictly inside (0, rc), away from the kinks at alpha*rc and rc
    r0 = np.linspace(0.02 * RC, 0.98 * RC, 60)
    r0 = r0[np.abs(r0 - alpha * RC) > 1e-3]
    r = torch.tensor(r0, requires_grad=True)
    f, df = cutoff_and_derivative(r, RC, name, alpha)
    value = cutoff_function(r, RC, name, alpha)
    if value.requires_grad:
        (auto,) = torch.autograd.grad(value.sum(), r)
    else:  # the hard cutoff is a constant inside rc: no graph at all
        auto = torch.zeros_like(r)
    torch.testing.assert_close(df, auto, rtol=1e-12, atol=1e-12)
    h = 1e-6
    fd = np.array(
        [
            (reference(x + h, RC, name, alpha) - reference(x - h, RC, name, alpha)) / (2 * h)
            for x in r0
        ]
    )
    np.testing.assert_allclose(df.detach().numpy(), fd, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize(("name", "alpha"), CASES)
def test_no_nan_gradient_anywhere(name, alpha):
    r = torch.tensor(
        [0.0, 0.5, alpha * RC, RC * 0.999999, RC, RC * (1 + 1e-15), RC + 1.0, 50.0],
        requires_grad=True,
    )
    f = cutoff_function(r, RC, name, alpha)
    assert torch.isfinite(f).all()
    if name != "hard":  # hard has no graph (constant pieces)
        (g,) = torch.autograd.grad(f.sum(), r, create_graph=True)
        assert torch.isfinite(g).all()
        assert g[4:].abs().max() == 0.0  # r >= rc: zero gradient
        (gg,) = torch.autograd.grad(g.sum(), r, allow_unused=True)
        assert gg is None or torch.isfinite(gg).all()
    _, df = cutoff_and_derivative(r.detach(), RC, name, alpha)
    assert torch.isfinite(df).all()


def test_exp_exactly_at_rc_and_tensor_rc():
    """exp(1 - 1/(1 - x^2)) must not produce 0 * inf = NaN at x = 1 or beyond."""
    rc = torch.tensor([3.0, 4.0], requires_grad=True)
    r = torch.tensor([3.0, 5.0], requires_grad=True)
    f = cutoff_function(r, rc, "exp", 0.2)
    assert torch.equal(f.detach(), torch.zeros(2))
    gr, grc = torch.autograd.grad(f.sum(), (r, rc))
    assert torch.equal(gr, torch.zeros(2)) and torch.equal(grc, torch.zeros(2))


@pytest.mark.parametrize(("name", "alpha"), [c for c in CASES if c[0] != "hard"])
def test_smooth_types_vanish_continuously(name, alpha):
    r = torch.tensor([RC * (1 - 1e-6)])
    f, df = cutoff_and_derivative(r, RC, name, alpha)
    assert abs(f.item()) < 1e-9
    assert abs(df.item()) < 1e-4


@pytest.mark.parametrize("alpha", [-0.1, 1.0, 1.5])
def test_invalid_alpha_raises(alpha):
    with pytest.raises(ValueError, match="alpha"):
        cutoff_function(torch.tensor([1.0]), RC, "cos", alpha)
    with pytest.raises(ValueError, match="alpha"):
        cutoff_and_derivative(torch.tensor([1.0]), RC, "cos", alpha)


def test_unknown_name_raises():
    with pytest.raises(ValueError, match="unknown cutoff type"):
        cutoff_function(torch.tensor([1.0]), RC, "gauss")
    with pytest.raises(ValueError, match="unknown cutoff type"):
        cutoff_and_derivative(torch.tensor([1.0]), RC, "gauss")
