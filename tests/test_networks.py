"""Element networks: n2p2 activations, n2p2 weight order, normalize_nodes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hdnnp.networks import ACTIVATIONS, ElementNet, activate


def _softplus(x):
    if x > 35.0:
        return x
    if x < -35.0:
        return 0.0
    return math.log1p(math.exp(x))


CLOSED_FORMS = {
    "l": lambda x: x,
    "t": math.tanh,
    "s": lambda x: 1.0 / (1.0 + math.exp(-x)),
    "p": _softplus,
    "r": lambda x: max(0.0, x),
    "g": lambda x: math.exp(-0.5 * x * x),
    "c": math.cos,
    "S": lambda x: 1.0 - 1.0 / (1.0 + math.exp(-x)),
    "e": lambda x: math.exp(-x),
    "h": lambda x: x * x,
}

X = [-40.0, -35.0, -34.9, -3.0, -0.7, 0.0, 0.4, 1.0, 2.5, 34.9, 35.0, 40.0]


def test_all_letters_covered():
    assert set(ACTIVATIONS) == set(CLOSED_FORMS)


@pytest.mark.parametrize("code", ACTIVATIONS)
def test_activation_closed_form(code):
    x = [v for v in X if not (code in "egh" and abs(v) > 30)]
    got = activate(torch.tensor(x), code).numpy()
    want = np.array([CLOSED_FORMS[code](v) for v in x])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-300)


def test_softplus_saturation_exactly_as_n2p2():
    x = torch.tensor([35.0 + 1e-12, 36.0, 1000.0, -35.0 - 1e-12, -36.0, -1000.0, 35.0, -35.0])
    y = activate(x, "p")
    assert y[0].item() == 35.0 + 1e-12  # x > 35: exactly x
    assert y[1].item() == 36.0 and y[2].item() == 1000.0
    assert y[3].item() == 0.0 and y[4].item() == 0.0 and y[5].item() == 0.0  # x < -35: 0
    assert y[6].item() == pytest.approx(math.log1p(math.exp(35.0)), rel=1e-15)
    assert y[7].item() == pytest.approx(math.log1p(math.exp(-35.0)), rel=1e-12)
    assert torch.isfinite(y).all()
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(activate(xg, "p").sum(), xg)
    assert torch.isfinite(g).all()
    assert g[1].item() == 1.0 and g[4].item() == 0.0


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="unknown activation"):
        activate(torch.zeros(2), "q")
    with pytest.raises(ValueError, match="unknown activation"):
        ElementNet(2, (3,), ("t", "q"))
    with pytest.raises(ValueError, match="need 2 activations"):
        ElementNet(2, (3,), ("t", "t", "l"))


def _hand_network(flat, sizes, acts, x, normalize=False):
    """Evaluate an n2p2 network by walking the flat weight list in file order."""
    pos = 0
    values = list(x)
    for layer in range(1, len(sizes)):
        n_prev, n_cur = sizes[layer - 1], sizes[layer]
        w = [[0.0] * n_cur for _ in range(n_prev)]
        for a in range(n_prev):  # previous-layer neuron: outer loop
            for b in range(n_cur):
                w[a][b] = flat[pos]
                pos += 1
        bias = flat[pos : pos + n_cur]
        pos += n_cur
        new = []
        for b in range(n_cur):
            s = bias[b] + sum(w[a][b] * values[a] for a in range(n_prev))
            if normalize:
                s /= n_prev
            new.append(CLOSED_FORMS[acts[layer - 1]](s))
        values = new
    assert pos == len(flat)
    return values[0]


@pytest.mark.parametrize("normalize", [False, True])
def test_flat_parameter_order_is_n2p2(normalize):
    sizes, acts = (3, 4, 2, 1), ("t", "s", "l")
    net = ElementNet(3, (4, 2), acts, normalize_nodes=normalize)
    n = 3 * 4 + 4 + 4 * 2 + 2 + 2 * 1 + 1
    assert net.n_parameters == n
    rng = np.random.default_rng(0)
    flat = rng.normal(size=n).tolist()
    net.load_flat_parameters(flat)
    # the layout: W0[a, b] = flat[a * n_cur + b]; biases after the weights
    assert net.weights[0][1, 2].item() == flat[1 * 4 + 2]
    assert net.biases[0][3].item() == flat[12 + 3]
    assert net.weights[1][3, 0].item() == flat[16 + 3 * 2 + 0]
    assert net.biases[2][0].item() == flat[-1]
    assert net.flat_parameters() == flat
    x = rng.normal(size=(5, 3))
    got = net(torch.tensor(x)).detach().numpy()
    want = [_hand_network(flat, sizes, acts, row, normalize) for row in x]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert got.shape == (5,)


def test_known_small_network_by_hand():
    # 2 inputs -> 2 hidden (linear) -> 1; weights 1..6 in file order, biases 0.5
    net = ElementNet(2, (2,), ("l", "l"))
    net.load_flat_parameters([1.0, 2.0, 3.0, 4.0, 0.5, 0.5, 5.0, 6.0, 0.5])
    # h0 = 1*x0 + 3*x1 + .5, h1 = 2*x0 + 4*x1 + .5 ; y = 5 h0 + 6 h1 + .5
    x0, x1 = 0.3, -1.2
    h0, h1 = x0 + 3 * x1 + 0.5, 2 * x0 + 4 * x1 + 0.5
    y = net(torch.tensor([[x0, x1]])).item()
    assert y == pytest.approx(5 * h0 + 6 * h1 + 0.5, rel=1e-15)
    net_n = ElementNet(2, (2,), ("l", "l"), normalize_nodes=True)
    net_n.load_flat_parameters([1.0, 2.0, 3.0, 4.0, 0.5, 0.5, 5.0, 6.0, 0.5])
    # pre-activations divided by the fan-in (2 for both layers)
    y_n = net_n(torch.tensor([[x0, x1]])).item()
    assert y_n == pytest.approx((5 * h0 / 2 + 6 * h1 / 2 + 0.5) / 2, rel=1e-15)


def test_wrong_parameter_count_names_the_shape():
    net = ElementNet(3, (4, 2), ("t", "t", "l"))
    with pytest.raises(ValueError, match=r"3-4-2-1") as info:
        net.load_flat_parameters([0.0] * 10, where="weights.008.data")
    assert "weights.008.data" in str(info.value)
    assert "expected 29" in str(info.value)


def test_seeded_initialisation_is_reproducible():
    a = ElementNet(3, (4,), ("t", "l"), generator=torch.Generator().manual_seed(1))
    b = ElementNet(3, (4,), ("t", "l"), generator=torch.Generator().manual_seed(1))
    assert a.flat_parameters() == b.flat_parameters()
    assert any(v != 0.0 for v in a.flat_parameters())
    assert all(v == 0.0 for v in ElementNet(3, (4,), ("t", "l")).flat_parameters())
