"""GDF weights: density against a brute-force sum, modifier, normalisation, rare atoms."""

from __future__ import annotations

import math

import torch

from hdnnp.training.gdf import auto_sigma, gaussian_density, gdf_weights, modified_sigmoid


def test_density_matches_direct_sum():
    gen = torch.Generator().manual_seed(0)
    g = torch.rand(7, 3, generator=gen, dtype=torch.float64)
    ref = torch.rand(5, 3, generator=gen, dtype=torch.float64)
    rho = gaussian_density(g, ref, sigma=0.3, chunk=2)
    for i in range(7):
        # SIMPLE-NN's kernel: the squared distance is divided by the number of functions (3)
        direct = (
            sum(math.exp(-float(((g[i] - ref[j]) ** 2).sum()) / (2 * 0.3**2 * 3)) for j in range(5))
            / 5
        )
        assert math.isclose(float(rho[i]), direct, rel_tol=1e-12)


def test_modified_sigmoid_formula():
    x = torch.tensor([1.0, 35.0, 100.0], dtype=torch.float64)
    expected = x / (1 + torch.exp(-2.0 * (x - 35.0)))
    torch.testing.assert_close(modified_sigmoid(x, 2.0, 35.0), expected)


def test_rare_environment_gets_larger_weight_and_mean_is_one():
    gen = torch.Generator().manual_seed(1)
    common = 0.01 * torch.randn(200, 4, generator=gen, dtype=torch.float64)
    rare = torch.full((1, 4), 0.5, dtype=torch.float64)
    w, x, sigma = gdf_weights(
        torch.cat([common, rare]), sigma=0.05, b=1.0, c=1.0, max_reference=1000, seed=0
    )
    assert sigma == 0.05
    assert math.isclose(float(w.mean()), 1.0, rel_tol=1e-12)
    assert float(w[-1]) > 10 * float(w[:-1].max())
    assert float(x[-1]) > float(x[:-1].max())


def test_auto_sigma_is_a_third_of_the_largest_nearest_neighbour_distance():
    # points on a line with spacings 0.1, 0.4, 0.2 (and a duplicate, ignored), 2 functions
    g = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.5, 0.0], [0.7, 0.0], [0.7, 0.0]])
    # nearest distances 0.1, 0.1, 0.2, 0.2, 0.2; largest 0.2 -> RMS per function 0.2/sqrt(2)
    assert math.isclose(auto_sigma(g, g, chunk=2), 0.2 / math.sqrt(2) / 3, rel_tol=1e-12)
    w, x, sigma = gdf_weights(g, "auto", b=1.0, c=1.0, max_reference=100, seed=0)
    assert math.isclose(sigma, 0.2 / math.sqrt(2) / 3, rel_tol=1e-12)
    assert math.isclose(float(w.mean()), 1.0, rel_tol=1e-12)


def test_a_reference_subset_estimates_the_full_density():
    gen = torch.Generator().manual_seed(4)
    g = torch.cat([0.05 * torch.randn(400, 3, generator=gen), torch.full((1, 3), 3.0)])
    _, x_full, _ = gdf_weights(g, 0.1, b=1.0, c=1.0, max_reference=10_000, seed=0)
    _, x_sub, _ = gdf_weights(g, 0.1, b=1.0, c=1.0, max_reference=100, seed=0)
    # the isolated atom: only its own term, 1/rho = n exactly, with or without the subset
    assert math.isclose(float(x_full[-1]), 401.0, rel_tol=1e-9)
    assert math.isclose(float(x_sub[-1]), 401.0, rel_tol=1e-9)
    # the crowded atoms: the subset estimate is close to the full density
    ratio = x_sub[:-1] / x_full[:-1]
    assert float((ratio - 1).abs().median()) < 0.1
