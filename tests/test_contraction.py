"""The pair contraction of force training: fused CPU loops against index_select + bmm."""

import pytest
import torch

from hdnnp.contraction import contract, fused_disabled, kernels_available, run_starts

pytestmark = pytest.mark.skipif(
    not kernels_available(torch.zeros(1)), reason="needs numba for the fused loops"
)


def _problem(dtype=torch.float64, sort=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    n_atoms, n_cols, n_pairs = 9, 6, 40
    atoms = torch.randint(0, n_atoms, (n_pairs,), generator=g)
    if sort:
        atoms = torch.sort(atoms).values
    columns = torch.tensor([0, 2, 3, 5])
    d = torch.randn(n_pairs, 3, columns.numel(), generator=g, dtype=dtype)
    c = torch.randn(n_atoms, n_cols, generator=g, dtype=dtype)
    return c, atoms, columns, d


def _explicit(c, atoms, columns, d):
    """v_p = sum_k c[i(p), col_k] d[p, :, k] written as a loop."""
    out = torch.zeros(atoms.shape[0], 3, dtype=c.dtype)
    for p in range(atoms.shape[0]):
        for k, col in enumerate(columns.tolist()):
            out[p] += c[atoms[p], col] * d[p, :, k]
    return out


@pytest.mark.parametrize("sort", [True, False])
@pytest.mark.parametrize("fused", [True, False])
def test_contraction_equals_the_explicit_sum(sort, fused):
    c, atoms, columns, d = _problem(sort=sort)
    got = contract(c, atoms, columns, d, fused=fused)
    torch.testing.assert_close(got, _explicit(c, atoms, columns, d), rtol=1e-12, atol=1e-12)


def test_float32_matches_float64():
    c, atoms, columns, d = _problem()
    low = contract(c.float(), atoms, columns, d.float(), fused=True)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low.double(), contract(c, atoms, columns, d), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sort", [True, False])
def test_fused_gradients_to_second_order(sort):
    """The transpose is the exact VJP, and its own backward the forward (gradgradcheck)."""
    c, atoms, columns, d = _problem(sort=sort)
    c.requires_grad_(True)

    def f(x):
        return contract(x, atoms, columns, d, fused=True) ** 2

    assert torch.autograd.gradcheck(f, (c,))
    assert torch.autograd.gradgradcheck(f, (c,))


def test_fused_vjp_equals_reference_vjp():
    c, atoms, columns, d = _problem(seed=3)
    u = torch.randn(atoms.shape[0], 3, dtype=c.dtype)
    grads = []
    for fused in (True, False):
        x = c.clone().requires_grad_(True)
        (g,) = torch.autograd.grad((contract(x, atoms, columns, d, fused=fused) * u).sum(), x)
        grads.append(g)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-12, atol=1e-12)


def test_run_starts():
    assert run_starts(torch.tensor([0, 0, 2, 2, 2, 5])).tolist() == [0, 2, 5, 6]
    assert run_starts(torch.tensor([3, 1, 2])).tolist() == [0, 3]  # unsorted: one run
    assert run_starts(torch.tensor([4])).tolist() == [0, 1]


def test_fused_disabled_selects_the_torch_path():
    c = torch.zeros(2, 2)
    assert kernels_available(c)
    with fused_disabled():
        assert not kernels_available(c)
    assert kernels_available(c)


def test_no_pairs_gives_empty_output_and_zero_gradient():
    c = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    atoms = torch.zeros(0, dtype=torch.long)
    d = torch.zeros(0, 3, 2, dtype=torch.float64)
    out = contract(c, atoms, torch.tensor([0, 1]), d, fused=True)
    assert out.shape == (0, 3)
    (g,) = torch.autograd.grad(out.sum(), c)
    assert g.shape == c.shape and torch.count_nonzero(g) == 0
