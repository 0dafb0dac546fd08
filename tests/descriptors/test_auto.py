"""Automatic descriptor sets: sizes, grids against n2p2 sfparamgen's reference values,
validity for 1-3 elements, and detection of functions constant over the data."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from ase.data import atomic_numbers

from hdnnp.batch import make_batch
from hdnnp.descriptors.auto import (
    automatic_descriptors,
    constant_descriptors,
    descriptor_statistics,
    radial_parameters,
    warn_constant_descriptors,
)
from hdnnp.descriptors.compute import SymmetryFunctions
from hdnnp.descriptors.params import DescriptorSet
from hdnnp.potential import pair_vectors
from hdnnp.structures import Structure

# ---------------------------------------------------------------------------------------
# grids: the reference values of n2p2's tools/python/symfunc_paramgen tests
# (tests/test_generate_radial_params.py, r_cutoff = 6)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, n, r_lower, r_upper, rs, eta",
    [
        ("center", 3, 1.0, 5.0, [0, 0, 0], [1 / 2, 1 / 18, 1 / 50]),
        ("shift", 3, 1.0, 5.0, [1, 3, 5], [1 / 8] * 3),
        ("center", 3, 1.0, None, [0, 0, 0], [1 / 2, 1 / (2 * 3.5**2), 1 / (2 * 6**2)]),
        ("shift", 3, 1.0, None, [1, 3.5, 6], [1 / (2 * 2.5**2)] * 3),
    ],
)
def test_gastegger_grid_reference(mode, n, r_lower, r_upper, rs, eta):
    got_rs, got_eta = radial_parameters(n, 6.0, "gastegger2018", mode, r_lower, r_upper)
    np.testing.assert_allclose(got_rs, rs, rtol=1e-14)
    np.testing.assert_allclose(got_eta, eta, rtol=1e-14)


@pytest.mark.parametrize(
    "mode, rs, eta",
    [
        ("center", [0, 0, 0, 0], [1 / 36, 0.0577801, 0.1201874, 1 / 4]),
        (
            "shift",
            [1.5, 2.1213203, 3.0, 4.2426407],
            [2.5904121, 1.2952060, 0.6476030, 0.3238015],
        ),
    ],
)
def test_imbalzano_grid_reference(mode, rs, eta):
    got_rs, got_eta = radial_parameters(4, 6.0, "imbalzano2018", mode, None)
    np.testing.assert_allclose(got_rs, rs, rtol=1e-6)  # 7-8 digits given
    np.testing.assert_allclose(got_eta, eta, rtol=1e-6)


def test_grid_by_hand():
    """r_c = 6, n = 8, r_lower = 1: dr = 5/7, eta = 1/(2 dr^2) = 0.98; r_i = 1 + 5i/7."""
    rs, eta = radial_parameters(8, 6.0, "gastegger2018", "shift", 1.0)
    np.testing.assert_allclose(rs, [1 + 5 * i / 7 for i in range(8)], rtol=1e-15)
    np.testing.assert_allclose(eta, np.full(8, 0.98), rtol=1e-14)
    _, eta_c = radial_parameters(4, 6.0, "gastegger2018", "center", 1.5)
    np.testing.assert_allclose(eta_c, [1 / (2 * r * r) for r in (1.5, 3.0, 4.5, 6.0)])


@pytest.mark.parametrize(
    "args",
    [
        dict(n=1, cutoff=6.0),
        dict(n=2.5, cutoff=6.0),
        dict(n=4, cutoff=0.0),
        dict(n=4, cutoff=6.0, rule="behler"),
        dict(n=4, cutoff=6.0, mode="wide"),
        dict(n=4, cutoff=6.0, r_lower=None),
        dict(n=4, cutoff=6.0, r_lower=6.0),
        dict(n=4, cutoff=6.0, r_lower=1.0, r_upper=7.0),
        dict(n=4, cutoff=6.0, mode="center", r_lower=0.0),
        dict(n=4, cutoff=6.0, mode="shift", r_lower=-0.5),
    ],
)
def test_grid_errors(args):
    with pytest.raises(ValueError):
        radial_parameters(**args)


def test_shift_allows_zero_lower():
    rs, eta = radial_parameters(3, 4.0, "gastegger2018", "shift", 0.0)
    np.testing.assert_allclose(rs, [0, 2, 4])
    np.testing.assert_allclose(eta, [1 / 8] * 3)


# ---------------------------------------------------------------------------------------
# automatic sets
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("elements", [["Si"], ["O", "Si"], ["Si", "H", "O"]])
def test_set_sizes_and_validity(elements):
    n_el = len(elements)
    ds = automatic_descriptors(elements, 6.0)
    assert isinstance(ds, DescriptorSet)
    assert ds.elements == tuple(sorted(elements, key=lambda s: atomic_numbers[s]))
    n_radial, n_angular, n_zeta = 12, 6, 3
    per_element = n_el * n_radial + n_el * (n_el + 1) // 2 * n_angular * n_zeta * 2
    for e in ds.elements:
        fns = ds.for_element(e)
        assert len(fns) == per_element
        radial = [sf for sf in fns if sf.type == 2]
        angular = [sf for sf in fns if sf.type != 2]
        assert len(radial) == n_el * n_radial
        for nb in ds.elements:
            assert sum(sf.neighbors == (nb,) for sf in radial) == n_radial
        pairs = {sf.neighbors for sf in angular}
        assert len(pairs) == n_el * (n_el + 1) // 2
        for pair in pairs:
            group = [sf for sf in angular if sf.neighbors == pair]
            assert len(group) == n_angular * n_zeta * 2
            assert {(sf.zeta, sf.lambda_) for sf in group} == set(
                itertools.product((1.0, 4.0, 16.0), (-1.0, 1.0))
            )
    assert len(ds.functions) == n_el * per_element
    assert all(sf.rc == 6.0 for sf in ds.functions)
    assert all(sf.eta > 0 for sf in ds.functions)
    # a set that can be rebuilt from its dict form (what potential files store)
    assert DescriptorSet.from_dict(ds.to_dict()) == ds


def test_two_elements_radial_count():
    ds = automatic_descriptors(["Si", "O"], 5.0, n_radial=6, n_angular=3, zetas=(1, 2, 4))
    radial = [sf for sf in ds.functions if sf.type == 2]
    angular = [sf for sf in ds.functions if sf.type == 3]
    assert len(radial) == 2 * 2 * 6
    assert len(angular) == 2 * 3 * 3 * 3 * 2  # centrals x pairs x etas x zetas x lambdas


def test_grid_shapes_as_designed():
    cutoff = 6.5
    ds = automatic_descriptors(["O"], cutoff, n_radial=5, n_angular=4, r_lower=0.8)
    radial = [sf for sf in ds.functions if sf.type == 2]
    # shifted Gaussians of one width: r_s from r_lower to r_c, eta = 1/(2 dr^2)
    rs = sorted(sf.rs for sf in radial)
    dr = (cutoff - 0.8) / 4
    np.testing.assert_allclose(rs, [0.8 + i * dr for i in range(5)])
    np.testing.assert_allclose([sf.eta for sf in radial], 1 / (2 * dr * dr))
    # angular: centred (r_s = 0), eta = 1/(2 r_i^2) decreasing as r_i grows to r_c
    angular = [sf for sf in ds.functions if sf.type == 3]
    assert all(sf.rs == 0.0 for sf in angular)
    etas = sorted({sf.eta for sf in angular}, reverse=True)
    radii = np.linspace(0.8, cutoff, 4)
    np.testing.assert_allclose(etas, 1 / (2 * radii**2))
    assert all(a > b for a, b in itertools.pairwise(etas))


def test_options():
    ds = automatic_descriptors(
        ["H", "O"],
        4.0,
        n_radial=3,
        n_angular=0,
        cutoff_type="poly2",
        cutoff_alpha=0.1,
        r_upper=3.5,
    )
    assert all(sf.type == 2 for sf in ds.functions)
    assert ds.cutoff_type == "poly2" and ds.cutoff_alpha == 0.1
    assert max(sf.rs for sf in ds.functions) == 3.5
    wide = automatic_descriptors(["H"], 4.0, n_radial=2, n_angular=2, angular_type=9)
    assert {sf.type for sf in wide.functions} == {2, 9}
    assert automatic_descriptors(["O", "O", "H"], 4.0).elements == ("H", "O")


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(elements=[], cutoff=5.0),
        dict(elements=["Xx"], cutoff=5.0),
        dict(elements=["H"], cutoff=-1.0),
        dict(elements=["H"], cutoff=5.0, n_radial=1),
        dict(elements=["H"], cutoff=5.0, n_angular=1),
        dict(elements=["H"], cutoff=5.0, zetas=()),
        dict(elements=["H"], cutoff=5.0, zetas=(0.5,)),
        dict(elements=["H"], cutoff=5.0, zetas=(1, 1)),
        dict(elements=["H"], cutoff=5.0, angular_type=4),
        dict(elements=["H"], cutoff=5.0, cutoff_type="gauss"),
        dict(elements=["H"], cutoff=5.0, r_lower=5.0),
    ],
)
def test_automatic_errors(kwargs):
    with pytest.raises(ValueError):
        automatic_descriptors(**kwargs)


# ---------------------------------------------------------------------------------------
# statistics and constant functions
# ---------------------------------------------------------------------------------------


def test_statistics_and_constant_columns():
    rng = np.random.default_rng(0)
    g = np.column_stack(
        [
            rng.random(50),  # varies
            np.full(50, 3.25),  # constant
            np.zeros(50),  # constant zero
            3.25 + 1e-12 * rng.random(50),  # constant within rel_tol
            1e-10 * rng.random(50),  # tiny but varying relative to itself
        ]
    )
    stats = descriptor_statistics(g)
    assert int(stats["count"]) == 50
    np.testing.assert_allclose(stats["min"], g.min(axis=0))
    np.testing.assert_allclose(stats["max"], g.max(axis=0))
    np.testing.assert_allclose(stats["mean"], g.mean(axis=0))
    np.testing.assert_allclose(stats["std"], g.std(axis=0))
    assert constant_descriptors(stats) == [1, 2, 3]
    assert constant_descriptors(stats, rel_tol=0.0) == [1, 2]
    assert descriptor_statistics(torch.from_numpy(g))["max"].tolist() == g.max(axis=0).tolist()


def test_statistics_errors():
    with pytest.raises(ValueError, match="2-D"):
        descriptor_statistics(np.zeros(3))
    with pytest.raises(ValueError, match="no rows"):
        descriptor_statistics(np.zeros((0, 3)))
    g = np.ones((4, 3))
    g[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"functions \[1\]"):
        descriptor_statistics(g)


def test_pair_absent_from_data_is_flagged():
    """Pure silicon with an Si/O set: every Si function involving O is zero everywhere."""
    ds = automatic_descriptors(["Si", "O"], 4.5, n_radial=4, n_angular=2, zetas=(1,))
    rng = np.random.default_rng(3)
    positions = []
    while len(positions) < 8:
        p = rng.random(3) * 5.0
        if all(np.linalg.norm(p - q) > 2.0 for q in positions):
            positions.append(p)
    structure = Structure(
        np.full(8, atomic_numbers["Si"]),
        np.array(positions),
        np.eye(3) * 5.0,
        (True, True, True),
    )
    module = SymmetryFunctions(ds).to(torch.float64)
    batch = make_batch([structure], ds.elements, module.cutoff, module.angular_cutoff)
    vectors = pair_vectors(batch, batch.positions, None)
    g = module.of_batch(batch, vectors, fused=False)
    fns = ds.for_element("Si")
    stats = descriptor_statistics(g.detach()[:, : len(fns)])
    flagged = constant_descriptors(stats)
    with_oxygen = [i for i, sf in enumerate(fns) if "O" in sf.neighbors]
    assert flagged == with_oxygen
    with pytest.warns(UserWarning, match="constant") as record:
        messages = warn_constant_descriptors(fns, stats)
    assert len(messages) == len(record) == len(with_oxygen)
    assert "Si" in messages[0] and "O" in messages[0]
