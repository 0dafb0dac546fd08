"""Descriptor scaling: n2p2's formulas for every mode, checked on hand numbers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hdnnp.scaling import SCALING_MODES, Scaler, ScalingStats, affine_parameters

# Two functions, values of three atoms: f0 in {1, 2, 6}, f1 in {-4, 0, 1}
VALUES = np.array([[1.0, -4.0], [2.0, 0.0], [6.0, 1.0]])
SMIN, SMAX = -1.0, 1.0


def test_from_values_population_statistics():
    st = ScalingStats.from_values(VALUES)
    np.testing.assert_array_equal(st.minimum, [1.0, -4.0])
    np.testing.assert_array_equal(st.maximum, [6.0, 1.0])
    np.testing.assert_allclose(st.mean, [3.0, -1.0])
    # population std (divide by N = 3): f0: (4 + 1 + 9) / 3, f1: (9 + 1 + 4) / 3
    np.testing.assert_allclose(st.sigma, [np.sqrt(14 / 3), np.sqrt(14 / 3)], rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="zero atoms"):
        ScalingStats.from_values(np.zeros((0, 2)))


def _scaled(mode, g, stats=None, smin=SMIN, smax=SMAX):
    stats = stats or ScalingStats.from_values(VALUES)
    scaler = Scaler(n_elements=1, max_functions=2)
    scaler.set_stats([stats], mode, smin, smax)
    out = scaler(torch.tensor(g), torch.zeros(len(g), dtype=torch.long))
    return out.numpy()


G = np.array([[1.0, -4.0], [6.0, 1.0], [3.5, 0.5]])


def test_none():
    np.testing.assert_array_equal(_scaled("none", G), G)


def test_scale_maps_min_max_to_smin_smax():
    # Smin + (Smax - Smin) (G - Gmin) / (Gmax - Gmin)
    want = np.array(
        [
            [-1.0, -1.0],
            [1.0, 1.0],
            [-1.0 + 2 * 2.5 / 5, -1.0 + 2 * 4.5 / 5],
        ]
    )
    np.testing.assert_allclose(_scaled("scale", G), want, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(
        _scaled("scale", G, smin=0.0, smax=1.0), [[0, 0], [1, 1], [0.5, 0.9]], rtol=1e-15
    )


def test_center():
    np.testing.assert_allclose(_scaled("center", G), G - [3.0, -1.0], rtol=1e-14, atol=1e-15)


def test_scale_center_uses_the_mean():
    # n2p2 with scale + center: Smin + (Smax - Smin) (G - Gmean) / (Gmax - Gmin)
    want = SMIN + (SMAX - SMIN) * (G - [3.0, -1.0]) / [5.0, 5.0]
    np.testing.assert_allclose(_scaled("scale_center", G), want, rtol=1e-14, atol=1e-15)
    # G = Gmean maps to Smin (not to the middle of the range)
    assert _scaled("scale_center", np.array([[3.0, -1.0]]))[0] == pytest.approx([SMIN, SMIN])


def test_sigma():
    sigma = np.sqrt(14 / 3)
    want = SMIN + (SMAX - SMIN) * (G - [3.0, -1.0]) / sigma
    np.testing.assert_allclose(_scaled("sigma", G), want, rtol=1e-14)


@pytest.mark.parametrize("mode", SCALING_MODES)
def test_constant_descriptor_gives_factor_zero(mode):
    values = np.array([[2.0, 1.0], [2.0, 3.0]])  # f0 constant
    stats = ScalingStats.from_values(values)
    shift, factor, offset = affine_parameters(stats, mode, SMIN, SMAX)
    assert np.all(np.isfinite(shift)) and np.all(np.isfinite(factor))
    out = _scaled(mode, np.array([[2.0, 2.0], [5.0, 1.0]]), stats)
    assert np.all(np.isfinite(out))
    if mode in ("scale", "scale_center", "sigma"):
        assert factor[0] == 0.0
        np.testing.assert_array_equal(out[:, 0], [SMIN, SMIN])


def test_affine_parameters_form():
    stats = ScalingStats.from_values(VALUES)
    for mode in SCALING_MODES:
        shift, factor, offset = affine_parameters(stats, mode, SMIN, SMAX)
        np.testing.assert_allclose(
            offset + factor * (G - shift), _scaled(mode, G), rtol=1e-14, atol=1e-15
        )


def test_per_element_rows_and_padding():
    """Two elements with different function counts: each atom uses its element's row."""
    a = ScalingStats.from_values(np.array([[0.0, 10.0, 5.0], [2.0, 20.0, 7.0]]))
    b = ScalingStats.from_values(np.array([[1.0], [3.0]]))
    scaler = Scaler(n_elements=2, max_functions=3)
    scaler.set_stats([a, b], "scale", 0.0, 1.0)
    g = torch.tensor([[1.0, 15.0, 6.0], [2.0, 0.0, 0.0]])
    out = scaler(g, torch.tensor([0, 1]))
    torch.testing.assert_close(out[0], torch.tensor([0.5, 0.5, 0.5]))
    assert out[1, 0].item() == pytest.approx(0.5)
    back = scaler.stats(1, 1)
    np.testing.assert_array_equal(back.minimum, [1.0])
    np.testing.assert_array_equal(back.maximum, [3.0])


def test_unknown_mode_raises():
    stats = ScalingStats.from_values(VALUES)
    with pytest.raises(ValueError, match="unknown scaling mode"):
        Scaler(1, 2).set_stats([stats], "minmax")
    with pytest.raises(ValueError, match="unknown scaling mode"):
        affine_parameters(stats, "minmax", 0.0, 1.0)
