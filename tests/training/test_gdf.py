"""GDF weights: density against a brute-force sum, modifier, normalisation, rare atoms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hdnnp.training.gdf import (
    auto_c,
    auto_sigma,
    cap_weights,
    effective_sample_size,
    gaussian_density,
    gdf_weights,
    modified_sigmoid,
)


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
    result = gdf_weights(
        torch.cat([common, rare]), sigma=0.05, b=1.0, c=1.0, max_reference=1000, seed=0
    )
    w, x = result.weights, result.inverse_density
    assert result.sigma == 0.05 and result.c == 1.0
    assert math.isclose(float(w.mean()), 1.0, rel_tol=1e-12)
    assert float(w[-1]) > 10 * float(w[:-1].max())
    assert float(x[-1]) > float(x[:-1].max())


def test_auto_sigma_is_a_third_of_the_largest_nearest_neighbour_distance():
    # points on a line with spacings 0.1, 0.4, 0.2 (and a duplicate, ignored), 2 functions
    g = torch.tensor([[0.0, 0.0], [0.1, 0.0], [0.5, 0.0], [0.7, 0.0], [0.7, 0.0]])
    # nearest distances 0.1, 0.1, 0.2, 0.2, 0.2; largest 0.2 -> RMS per function 0.2/sqrt(2)
    assert math.isclose(auto_sigma(g, g, chunk=2), 0.2 / math.sqrt(2) / 3, rel_tol=1e-12)
    result = gdf_weights(g, "auto", b=1.0, c=1.0, max_reference=100, seed=0)
    assert math.isclose(result.sigma, 0.2 / math.sqrt(2) / 3, rel_tol=1e-12)
    assert math.isclose(float(result.weights.mean()), 1.0, rel_tol=1e-12)


def test_a_reference_subset_estimates_the_full_density():
    gen = torch.Generator().manual_seed(4)
    g = torch.cat([0.05 * torch.randn(400, 3, generator=gen), torch.full((1, 3), 3.0)])
    x_full = gdf_weights(g, 0.1, b=1.0, c=1.0, max_reference=10_000, seed=0).inverse_density
    x_sub = gdf_weights(g, 0.1, b=1.0, c=1.0, max_reference=100, seed=0).inverse_density
    # the isolated atom: only its own term, 1/rho = n exactly, with or without the subset
    assert math.isclose(float(x_full[-1]), 401.0, rel_tol=1e-9)
    assert math.isclose(float(x_sub[-1]), 401.0, rel_tol=1e-9)
    # the crowded atoms: the subset estimate is close to the full density
    ratio = x_sub[:-1] / x_full[:-1]
    assert float((ratio - 1).abs().median()) < 0.1


def test_auto_c_is_the_line_through_the_lowest_three_quarters_at_their_end():
    # sorted x linear in rank below 75 % (x = 2 + 0.5 k), wild above: the fit is exact
    low = 2.0 + 0.5 * torch.arange(75, dtype=torch.float64)
    x = torch.cat([torch.tensor([1e4, 3e3, 500.0] + [200.0] * 22, dtype=torch.float64), low])
    assert math.isclose(auto_c(x[torch.randperm(100)]), 2.0 + 0.5 * 74, rel_tol=1e-9)
    result = gdf_weights(torch.rand(50, 3, dtype=torch.float64), 0.1, 1.0, "auto", 100, 0)
    assert math.isclose(result.c, auto_c(result.inverse_density), rel_tol=1e-12)


def test_effective_sample_size():
    assert math.isclose(effective_sample_size(torch.ones(40)), 40.0, rel_tol=1e-6)
    one_carries_all = torch.tensor([0.0] * 9 + [10.0])
    assert math.isclose(effective_sample_size(one_carries_all), 1.0, rel_tol=1e-6)
    # (1 + 1 + 4)^2 / (1 + 1 + 16) = 2
    assert math.isclose(effective_sample_size(torch.tensor([1.0, 1.0, 4.0])), 2.0, rel_tol=1e-6)


def test_capped_weights_have_mean_one_and_the_cap_as_maximum():
    gen = torch.Generator().manual_seed(3)
    w = torch.exp(3 * torch.randn(1000, generator=gen, dtype=torch.float64))
    capped = cap_weights(w, 20.0)
    assert math.isclose(float(capped.mean()), 1.0, rel_tol=1e-12)
    assert math.isclose(float(capped.max()), 20.0, rel_tol=1e-9)
    # below the threshold the order and the ratios are kept
    below = capped < 20.0 - 1e-9
    ratio = (w[below] / capped[below]).numpy()
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    assert effective_sample_size(capped) > effective_sample_size(w)
    # already within the bound: just normalised
    torch.testing.assert_close(cap_weights(w, 1e9), w / w.mean())
    with pytest.raises(ValueError, match="below the mean"):
        cap_weights(w, 0.5)


def test_max_weight_caps_the_rare_atom():
    gen = torch.Generator().manual_seed(1)
    g = torch.cat(
        [
            0.01 * torch.randn(200, 4, generator=gen, dtype=torch.float64),
            torch.full((1, 4), 0.5, dtype=torch.float64),
        ]
    )
    free = gdf_weights(g, 0.05, 1.0, 1.0, 1000, 0)
    capped = gdf_weights(g, 0.05, 1.0, 1.0, 1000, 0, max_weight=10.0)
    assert float(free.weights.max()) > 10.0
    assert math.isclose(float(capped.weights.max()), 10.0, rel_tol=1e-9)
    assert capped.effective_atoms > free.effective_atoms
    torch.testing.assert_close(capped.inverse_density, free.inverse_density)
