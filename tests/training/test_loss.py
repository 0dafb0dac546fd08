"""Loss terms: values against direct sums, missing labels (NaN) without NaN gradients."""

from __future__ import annotations

import math

import torch

from hdnnp.training.loss import loss_terms, voigt_mean_square


def _inputs(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=gen, dtype=torch.float64)  # noqa: E731
    energy, forces, stress = r(3).requires_grad_(), r(7, 3).requires_grad_(), r(3, 3, 3)
    stress.requires_grad_()
    image = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    n_atoms = torch.tensor([2, 3, 2])
    return energy, forces, stress, r(3), r(7, 3), r(3, 3, 3), n_atoms, image


def test_terms_match_direct_sums():
    energy, forces, stress, e_ref, f_ref, s_ref, n_atoms, image = _inputs()
    w = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    t = loss_terms(energy, forces, stress, e_ref, f_ref, s_ref, n_atoms, image, w,
                   energy_weight=1.0, force_weight=0.3, stress_weight=2.0)  # fmt: skip
    energy, forces, stress = energy.detach(), forces.detach(), stress.detach()
    de = (energy - e_ref) / n_atoms
    e_mse = float((w * de**2).sum() / w.sum())
    wa = w[image]
    f_mse = float((wa * ((forces - f_ref) ** 2).sum(1)).sum() / wa.sum())
    voigt = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    ds = torch.stack([(stress - s_ref)[:, a, b] ** 2 for a, b in voigt], 1).mean(1)
    s_mse = float((w * ds).sum() / w.sum())
    assert math.isclose(float(t.energy_mse.detach()), e_mse, rel_tol=1e-12)
    assert math.isclose(float(t.force_mse.detach()), f_mse, rel_tol=1e-12)
    assert math.isclose(float(t.stress_mse.detach()), s_mse, rel_tol=1e-12)
    assert math.isclose(float(t.loss.detach()), e_mse + 0.1 * f_mse + 2.0 * s_mse, rel_tol=1e-12)
    torch.testing.assert_close(voigt_mean_square(stress - s_ref), ds)


def test_missing_labels_drop_out_and_keep_the_gradient_finite():
    energy, forces, stress, e_ref, f_ref, s_ref, n_atoms, image = _inputs(1)
    w = torch.ones(3, dtype=torch.float64)
    e_ref, f_ref, s_ref = e_ref.clone(), f_ref.clone(), s_ref.clone()
    e_ref[1] = float("nan")  # frame 1 without energy
    f_ref[5:] = float("nan")  # frame 2 without forces
    s_ref[0] = float("nan")  # frame 0 without stress
    t = loss_terms(energy, forces, stress, e_ref, f_ref, s_ref, n_atoms, image, w,
                   force_weight=0.3, stress_weight=2.0)  # fmt: skip
    t.loss.backward()
    for tensor in (energy, forces, stress):
        assert torch.isfinite(tensor.grad).all()
    # the unlabelled entries get no gradient; the labelled ones do
    assert energy.grad[1] == 0 and energy.grad[0] != 0
    assert (forces.grad[5:] == 0).all() and (forces.grad[:5] != 0).any()
    assert (stress.grad[0] == 0).all() and (stress.grad[1:] != 0).any()
    # and the values equal those of the labelled frames alone
    keep = [0, 2]
    e_only = ((energy - e_ref) / n_atoms)[keep].detach()
    assert math.isclose(float(t.energy_mse.detach()), float((e_only**2).mean()), rel_tol=1e-12)
    s_only = voigt_mean_square((stress - s_ref)[1:].detach()).mean()
    assert math.isclose(float(t.stress_mse.detach()), float(s_only), rel_tol=1e-12)
