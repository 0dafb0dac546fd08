"""Tests for hdnnp.neighbors against a brute-force oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from hdnnp.neighbors import Pairs, VerletList, build_pairs, triplets, triplets_torch

# --------------------------------------------------------------------------------------
# brute-force oracle
# --------------------------------------------------------------------------------------


def _completed_cell(cell: np.ndarray, pbc) -> np.ndarray:
    """Replace non-periodic cell vectors by an orthonormal complement (for ranges only)."""
    full = np.array(cell, dtype=float)
    periodic = [a for a in range(3) if pbc[a]]
    non_periodic = [a for a in range(3) if not pbc[a]]
    if not periodic:
        return np.eye(3)
    _, _, vt = np.linalg.svd(full[periodic])
    for axis, vector in zip(non_periodic, vt[len(periodic) :], strict=True):
        full[axis] = vector
    return full


def _shift_ranges(positions, cell, pbc, cutoff) -> list[range]:
    """Integer shift range per axis, wide enough for the cutoff and unwrapped atoms."""
    inverse = np.linalg.inv(_completed_cell(cell, pbc))
    heights = 1.0 / np.linalg.norm(inverse, axis=0)
    frac = positions @ inverse
    ranges = []
    for axis in range(3):
        if not pbc[axis]:
            ranges.append(range(0, 1))
            continue
        span = np.ptp(frac[:, axis]) if len(frac) else 0.0
        n = int(np.ceil(cutoff / heights[axis] + span)) + 1
        ranges.append(range(-n, n + 1))
    return ranges


def brute_pairs(positions, cell, pbc, cutoff) -> set[tuple[int, ...]]:
    """All (i, j, S0, S1, S2) with |x_j - x_i + S @ cell| < cutoff, except i == j, S == 0."""
    positions = np.asarray(positions, dtype=float)
    cell = np.asarray(cell, dtype=float)
    pbc = np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))
    result = set()
    for shift in itertools.product(*_shift_ranges(positions, cell, pbc, cutoff)):
        s = np.array(shift)
        vectors = positions[None, :, :] - positions[:, None, :] + s @ cell
        dist = np.linalg.norm(vectors, axis=-1)
        for i, j in zip(*np.nonzero(dist < cutoff), strict=True):
            if i == j and not s.any():
                continue
            result.add((int(i), int(j), *shift))
    return result


def as_set(pairs: Pairs) -> set[tuple[int, ...]]:
    return {
        (int(a), int(b), *map(int, s))
        for a, b, s in zip(pairs.i, pairs.j, pairs.shift, strict=True)
    }


def check_against_oracle(positions, cell, pbc, cutoff) -> Pairs:
    pairs = build_pairs(positions, cell, pbc, cutoff)
    assert pairs.i.dtype == np.int64 and pairs.j.dtype == np.int64
    assert pairs.shift.dtype == np.int64 and pairs.shift.shape == (len(pairs.i), 3)
    got = as_set(pairs)
    assert len(got) == len(pairs.i), "duplicate pairs"
    expected = brute_pairs(positions, cell, pbc, cutoff)
    assert got == expected, (len(got - expected), len(expected - got))
    # distance vectors in the documented convention
    positions = np.asarray(positions, dtype=float)
    vectors = positions[pairs.j] - positions[pairs.i] + pairs.shift @ np.asarray(cell, float)
    assert np.all(np.linalg.norm(vectors, axis=1) < cutoff)
    # no shifts along non-periodic axes
    assert not np.any(pairs.shift[:, ~np.broadcast_to(np.asarray(pbc, dtype=bool), (3,))])
    # sorted by i, then j, then shift
    s = pairs.shift
    order = np.lexsort((s[:, 2], s[:, 1], s[:, 0], pairs.j, pairs.i))
    np.testing.assert_array_equal(order, np.arange(len(order)))
    # symmetry: (i, j, S) <-> (j, i, -S)
    assert got == {(j, i, -a, -b, -c) for i, j, a, b, c in got}
    return pairs


TRICLINIC = np.array([[5.0, 0.0, 0.0], [1.2, 5.5, 0.0], [-0.8, 0.9, 6.0]])


def _random_positions(rng, cell, n, low=0.0, high=1.0) -> np.ndarray:
    return rng.uniform(low, high, (n, 3)) @ cell


# --------------------------------------------------------------------------------------
# build_pairs
# --------------------------------------------------------------------------------------


def test_triclinic_periodic():
    rng = np.random.default_rng(0)
    pos = _random_positions(rng, TRICLINIC, 24)
    pairs = check_against_oracle(pos, TRICLINIC, (True, True, True), 4.5)
    assert len(pairs.i) > 0


def test_small_cell_multiple_images():
    """Cell height / cutoff ~0.6: several images of each neighbour and of the atom itself."""
    cell = np.array([[2.0, 0.0, 0.0], [0.6, 2.1, 0.0], [0.3, -0.4, 2.2]])
    heights = 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)
    cutoff = heights.min() / 0.6
    rng = np.random.default_rng(1)
    pos = _random_positions(rng, cell, 3)
    pairs = check_against_oracle(pos, cell, True, cutoff)
    self_images = pairs.i == pairs.j
    assert self_images.any() and np.all(pairs.shift[self_images].any(axis=1))
    # several images of the same (i, j)
    _, multiplicity = np.unique(np.stack([pairs.i, pairs.j]), axis=1, return_counts=True)
    assert multiplicity.max() > 1


def test_very_small_cell_single_atom():
    cell = np.eye(3) * 1.5
    pairs = check_against_oracle(np.array([[0.2, 0.3, 0.4]]), cell, True, 3.0)
    assert np.all(pairs.i == 0) and np.all(pairs.j == 0)
    # images at 1.5 (6), 1.5*sqrt(2) (12), 1.5*sqrt(3) (8); those at exactly 3.0 excluded
    assert len(pairs.i) == 26
    assert len(build_pairs(np.array([[0.2, 0.3, 0.4]]), cell, True, 3.01).i) == 32


@pytest.mark.parametrize("third", ["zero", "nonzero", "parallel"])
def test_slab(third):
    rng = np.random.default_rng(2)
    pos = _random_positions(rng, TRICLINIC, 20)
    pos[:, 2] += 50.0  # slab far from the origin along the non-periodic axis
    cell = TRICLINIC.copy()
    if third == "zero":
        cell[2] = 0.0
    elif third == "parallel":
        cell[2] = cell[0]  # degenerate, but ignored since axis 2 is not periodic
    check_against_oracle(pos, cell, (True, True, False), 4.5)


def test_wire():
    rng = np.random.default_rng(3)
    cell = np.diag([4.0, 0.0, 0.0])
    pos = rng.uniform(-3.0, 3.0, (12, 3))
    check_against_oracle(pos, cell, (True, False, False), 3.5)


def test_open_molecule_zero_cell():
    rng = np.random.default_rng(4)
    pos = rng.uniform(-4.0, 4.0, (15, 3)) + 100.0
    pairs = check_against_oracle(pos, np.zeros((3, 3)), False, 4.0)
    assert not pairs.shift.any()


def test_open_with_nonzero_cell_ignored():
    rng = np.random.default_rng(5)
    pos = rng.uniform(-4.0, 8.0, (15, 3))
    a = build_pairs(pos, TRICLINIC, False, 4.0)
    b = build_pairs(pos, np.zeros((3, 3)), False, 4.0)
    assert as_set(a) == as_set(b)
    check_against_oracle(pos, TRICLINIC, False, 4.0)


@pytest.mark.parametrize("pbc", [(True, True, True), (True, True, False), (False, True, False)])
def test_atoms_outside_cell(pbc):
    rng = np.random.default_rng(6)
    pos = _random_positions(rng, TRICLINIC, 16, low=-1.5, high=2.5)
    check_against_oracle(pos, TRICLINIC, pbc, 4.0)


def test_outside_equivalent_to_wrapped():
    """Unwrapped atoms give the same distance vectors as their wrapped copies."""
    rng = np.random.default_rng(7)
    frac = rng.uniform(-1.5, 2.5, (16, 3))
    pos = frac @ TRICLINIC
    wrapped = (frac % 1.0) @ TRICLINIC
    a = build_pairs(pos, TRICLINIC, True, 4.0)
    b = build_pairs(wrapped, TRICLINIC, True, 4.0)
    va = pos[a.j] - pos[a.i] + a.shift @ TRICLINIC
    vb = wrapped[b.j] - wrapped[b.i] + b.shift @ TRICLINIC
    key_a = np.lexsort((*np.round(va, 8).T, a.j, a.i))
    key_b = np.lexsort((*np.round(vb, 8).T, b.j, b.i))
    np.testing.assert_allclose(va[key_a], vb[key_b], atol=1e-9)


def test_strict_cutoff():
    cell = np.eye(3) * 10.0
    pos = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    assert len(build_pairs(pos, cell, True, 3.0).i) == 0
    assert len(build_pairs(pos, cell, True, 3.0 + 1e-9).i) == 2


def test_empty_and_isolated():
    empty = build_pairs(np.zeros((0, 3)), np.eye(3) * 5, True, 3.0)
    assert empty.i.shape == (0,) and empty.shift.shape == (0, 3)
    single = build_pairs(np.zeros((1, 3)), np.zeros((3, 3)), False, 3.0)
    assert len(single.i) == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": np.diag([5.0, 5.0, 0.0]), "pbc": True}, "pbc"),
        ({"cell": np.zeros((3, 3)), "pbc": (True, False, False)}, "pbc"),
        ({"positions": np.array([[0.0, np.nan, 0.0]])}, "non-finite"),
        ({"positions": np.array([[0.0, np.inf, 0.0]])}, "non-finite"),
        ({"cutoff": 0.0}, "cutoff"),
        ({"cutoff": -1.0}, "cutoff"),
        ({"positions": np.zeros((2, 2))}, "shape"),
        ({"cell": np.array([[5.0, 0, 0], [10.0, 0, 0], [0, 0, 5.0]]), "pbc": True}, "dependent"),
    ],
)
def test_errors(kwargs, match):
    args = {"positions": np.zeros((1, 3)), "cell": np.eye(3) * 5.0, "pbc": True, "cutoff": 3.0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        build_pairs(**args)


# --------------------------------------------------------------------------------------
# triplets
# --------------------------------------------------------------------------------------


def brute_triplets(i: np.ndarray) -> list[tuple[int, int]]:
    return [(p, q) for p in range(len(i)) for q in range(p + 1, len(i)) if i[p] == i[q]]


def _random_centres(rng, n_atoms: int) -> np.ndarray:
    counts = rng.integers(0, 6, n_atoms)  # includes centres with 0 and 1 neighbours
    return np.repeat(np.arange(n_atoms), counts)


def test_triplets_match_loop():
    rng = np.random.default_rng(8)
    i = _random_centres(rng, 12)
    p, q = triplets(i, 12)
    assert p.dtype == np.int64 and q.dtype == np.int64
    assert list(zip(p.tolist(), q.tolist(), strict=True)) == brute_triplets(i)
    assert np.all(i[p] == i[q]) and np.all(p < q)


def test_triplets_from_pair_list():
    rng = np.random.default_rng(9)
    pos = _random_positions(rng, TRICLINIC, 10)
    pairs = build_pairs(pos, TRICLINIC, True, 3.5)
    p, q = triplets(pairs.i, 10)
    assert list(zip(p.tolist(), q.tolist(), strict=True)) == brute_triplets(pairs.i)


def test_triplets_edge_cases():
    p, q = triplets(np.zeros(0, dtype=np.int64), 5)
    assert p.shape == (0,) and q.shape == (0,)
    p, q = triplets(np.array([0, 2, 4]), 5)  # one neighbour each: no triplets
    assert p.shape == (0,) and q.shape == (0,)
    with pytest.raises(ValueError, match="sorted"):
        triplets(np.array([1, 0, 1]), 2)


def test_triplets_torch_matches_numpy():
    rng = np.random.default_rng(10)
    for n_atoms in (1, 7, 30):
        i = _random_centres(rng, n_atoms)
        p, q = triplets(i, n_atoms)
        pt, qt = triplets_torch(torch.from_numpy(i), n_atoms)
        assert pt.dtype == torch.int64 and qt.dtype == torch.int64
        np.testing.assert_array_equal(pt.numpy(), p)
        np.testing.assert_array_equal(qt.numpy(), q)
    pt, qt = triplets_torch(torch.zeros(0, dtype=torch.int64), 3)
    assert pt.shape == (0,) and qt.shape == (0,)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA not available")
def test_triplets_torch_cuda():
    i = _random_centres(np.random.default_rng(11), 20)
    p, q = triplets(i, 20)
    pt, qt = triplets_torch(torch.from_numpy(i).cuda(), 20)
    assert pt.device.type == "cuda"
    np.testing.assert_array_equal(pt.cpu().numpy(), p)
    np.testing.assert_array_equal(qt.cpu().numpy(), q)


def test_triplets_count_large():
    """Water-box-sized input: 1080 centres x 107 neighbours."""
    i = np.repeat(np.arange(1080), 107)
    p, q = triplets(i, 1080)
    assert len(p) == 1080 * 107 * 106 // 2
    assert np.all(i[p] == i[q]) and np.all(p < q)


# --------------------------------------------------------------------------------------
# Verlet list with skin
# --------------------------------------------------------------------------------------


def _same(a: Pairs, b: Pairs) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_verlet_list_equals_fresh_list_along_a_random_walk():
    rng = np.random.default_rng(7)
    cell = np.array([[7.0, 0.0, 0.0], [1.0, 6.5, 0.0], [0.5, 0.7, 6.8]])
    pos = _random_positions(rng, cell, 40)
    verlet = VerletList(cutoff=3.2, skin=0.6)
    for _ in range(60):
        pos = pos + rng.normal(scale=0.03, size=pos.shape)
        assert _same(verlet.pairs(pos, cell, True), build_pairs(pos, cell, True, 3.2))
    # 60 steps of ~0.05 Å rms displacement: a few rebuilds, far fewer than steps
    assert 2 <= verlet.builds < 30


def test_verlet_list_rebuilds_on_cell_and_atom_count_changes():
    rng = np.random.default_rng(8)
    cell = np.eye(3) * 6.0
    pos = _random_positions(rng, cell, 20)
    verlet = VerletList(cutoff=3.0, skin=1.0)
    verlet.pairs(pos, cell, True)
    assert verlet.builds == 1
    verlet.pairs(pos, cell, True)
    assert verlet.builds == 1
    strained = cell * 1.01
    assert _same(verlet.pairs(pos, strained, True), build_pairs(pos, strained, True, 3.0))
    assert verlet.builds == 2
    assert _same(verlet.pairs(pos[:10], strained, True), build_pairs(pos[:10], strained, True, 3))
    assert verlet.builds == 3
    assert _same(verlet.pairs(pos, strained, False), build_pairs(pos, strained, False, 3.0))
    assert verlet.builds == 4


def test_verlet_list_without_skin_and_bad_skin():
    pos = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    verlet = VerletList(cutoff=1.5, skin=0.0)
    cell = np.zeros((3, 3))
    assert _same(verlet.pairs(pos, cell, False), build_pairs(pos, cell, False, 1.5))
    with pytest.raises(ValueError, match="skin"):
        VerletList(cutoff=1.5, skin=-0.1)
