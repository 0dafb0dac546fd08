"""Precomputed features (G, dG/dr) give the same energies, forces and stress as evaluate()."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase.build import bulk

from hdnnp.batch import make_batch
from hdnnp.descriptors.params import DescriptorSet, SymmetryFunction
from hdnnp.features import _features_autograd, compute_features, evaluate_features
from hdnnp.io import structure_from_atoms
from hdnnp.potential import HDNNP, NetworkSpec, pair_vectors
from hdnnp.scaling import ScalingStats


def _model() -> HDNNP:
    sfs = [
        SymmetryFunction(a, 2, (b,), eta=0.5, rs=1.0, rc=4.0)
        for a in ("Si", "O")
        for b in ("Si", "O")
    ]
    sfs += [
        SymmetryFunction(a, t, ("Si", "O"), eta=0.05, zeta=z, lambda_=lam, rc=3.5)
        for a in ("Si", "O")
        for t in (3, 9)
        for z in (1.0, 2.0)
        for lam in (-1.0, 1.0)
    ]
    sfs += [SymmetryFunction("Si", 3, ("O", "O"), eta=0.02, zeta=4.0, lambda_=1.0, rc=4.0)]
    sfs += [SymmetryFunction("O", 9, ("Si", "Si"), eta=0.02, zeta=1.0, lambda_=-1.0, rc=4.0)]
    model = HDNNP(
        DescriptorSet(("O", "Si"), tuple(sfs), "cos"),
        NetworkSpec.uniform(("O", "Si"), (6, 5)),
        energy_scale=0.7,
        atom_energies={"O": -1.0, "Si": -3.0},
        generator=torch.Generator().manual_seed(3),
    )
    counts = [model.descriptors.count(e) for e in model.elements]
    rng = np.random.default_rng(0)
    stats = [
        ScalingStats(
            rng.random(n), 1.0 + rng.random(n), 0.5 + rng.random(n) * 0.1, 0.3 + rng.random(n)
        )
        for n in counts
    ]
    model.scaler.set_stats(stats, "scale_center", -1.0, 1.0)
    return model.eval()


def _structures():
    rng = np.random.default_rng(1)
    out = []
    for k in range(3):
        atoms = bulk("SiO", "rocksalt", a=4.2).repeat((2, 1, 1))
        atoms.set_cell(atoms.cell @ (np.eye(3) + rng.normal(0, 0.03, (3, 3))), scale_atoms=True)
        atoms.rattle(0.1, seed=k)
        out.append(structure_from_atoms(atoms, index=k))
    return out


@pytest.mark.parametrize("create_graph", [False, True])
def test_features_match_direct_evaluation(create_graph):
    model = _model()
    batch = make_batch(_structures(), model.elements, model.cutoff, model.angular_cutoff)
    ref = model.evaluate(batch, forces=True, stress=True, create_graph=False)
    out = evaluate_features(
        model, compute_features(model, batch), forces=True, stress=True, create_graph=create_graph
    )
    for a, b in ((out.energy, ref.energy), (out.forces, ref.forces), (out.stress, ref.stress)):
        torch.testing.assert_close(a.detach(), b, rtol=1e-10, atol=1e-11)


@pytest.mark.parametrize("fused", [True, False])
def test_float32_derivatives_under_float64_training(fused):
    """dG/dr stored in float32 (training.derivative_dtype): energies exact, forces, stress
    and the force-loss gradient within float32 rounding of the stored derivatives, all
    in float64; the torch path (GPU, no numba) gives the same."""
    from hdnnp.contraction import fused_disabled

    model = _model()
    batch = make_batch(_structures(), model.elements, model.cutoff, model.angular_cutoff)
    features = compute_features(model, batch)
    low = features.to(derivative_dtype=torch.float32)
    assert {b.dg.dtype for b in low.blocks.values()} == {torch.float32}
    assert low.g.dtype == torch.float64 and low.nbytes < 0.6 * features.nbytes
    outs, grads = [], []
    for feats in (features, low):
        model.zero_grad()
        if fused:
            out = evaluate_features(model, feats, stress=True, create_graph=True)
        else:
            with fused_disabled():
                out = evaluate_features(model, feats, stress=True, create_graph=True)
        (out.forces**2).sum().backward()
        outs.append(out)
        grads.append(
            torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        )
    ref, got = outs
    assert got.forces.dtype == torch.float64 and got.stress.dtype == torch.float64
    torch.testing.assert_close(got.energy, ref.energy, rtol=1e-15, atol=1e-15)
    scale = float(ref.forces.detach().abs().max())
    assert 0 < (got.forces - ref.forces).abs().max() < 1e-6 * scale  # float32, not float64
    torch.testing.assert_close(got.stress, ref.stress, rtol=1e-6, atol=1e-6 * scale)
    gmax = float(grads[0].abs().max())
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-6 * gmax)


def test_autograd_features_equal_kernel_features():
    model = _model()
    batch = make_batch(_structures(), model.elements, model.cutoff, model.angular_cutoff)
    kernel = compute_features(model, batch)
    vectors = pair_vectors(batch, batch.positions, None).detach()
    fallback = _features_autograd(model, batch, vectors)
    torch.testing.assert_close(kernel.g, fallback.g, rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(kernel.dense_dg(), fallback.dense_dg(), rtol=1e-10, atol=1e-11)


def test_force_loss_gradient_matches_direct_path():
    """d(force loss)/d(weights) through features equals the torch double-backward path."""
    model = _model()
    batch = make_batch(_structures(), model.elements, model.cutoff, model.angular_cutoff)
    features = compute_features(model, batch)
    grads = []
    for use_features in (True, False):
        model.zero_grad()
        if use_features:
            out = evaluate_features(model, features, create_graph=True)
        else:
            out = model.evaluate(batch, forces=True, create_graph=True)
        (out.forces**2).sum().backward()
        grads.append(
            torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        )
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-11)


def test_blocks_keep_every_nonzero_derivative():
    """The compact per-element-pair storage drops only derivatives that are zero."""
    from hdnnp.descriptors import fused
    from hdnnp.features import compute_features

    model = _model()
    batch = make_batch(_structures(), model.elements, model.cutoff, model.angular_cutoff)
    vectors = pair_vectors(batch, batch.positions, None).detach()
    sf = model.symmetry_functions
    _, own, cross = fused.descriptors_with_derivatives(
        vectors,
        batch.pair_i,
        batch.species,
        batch.species[batch.pair_j],
        sf.max_functions,
        sf.kernel_tables,
    )
    full = cross + own[:, :, None] * vectors[:, None, :]
    torch.testing.assert_close(compute_features(model, batch).dense_dg(), full, rtol=0, atol=0)
