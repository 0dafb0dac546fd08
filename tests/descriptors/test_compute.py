"""Symmetry-function values against hand computations and a brute-force numpy reference;
fused numba kernels against the pure torch path; analytic angular VJP against autograd.

The references here recompute every function from its definition (n2p2 types 2, 3, 9,
see :mod:`hdnnp.descriptors.params` and :mod:`hdnnp.descriptors.angular`) with plain
numpy loops over explicit periodic images: they share no code with the package.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from ase.data import atomic_numbers, chemical_symbols

from hdnnp.batch import make_batch
from hdnnp.descriptors.angular import AngularParams, angular_sum, angular_terms, angular_vjp
from hdnnp.descriptors.compute import SymmetryFunctions
from hdnnp.descriptors.params import DescriptorSet, SymmetryFunction
from hdnnp.potential import pair_vectors
from hdnnp.structures import Structure

# ---------------------------------------------------------------------------------------
# independent numpy reference
# ---------------------------------------------------------------------------------------


def fc_ref(r, rc: float, name: str = "cos", alpha: float = 0.0):
    """n2p2 cutoffs (the ones used here), strict r < rc."""
    r = np.asarray(r, dtype=np.float64)
    out = np.zeros_like(r)
    inside = r < rc
    if name == "tanh":
        out[inside] = (np.tanh(1.0 - r[inside] / rc) / np.tanh(1.0)) ** 3
        return out
    if name == "tanhu":
        out[inside] = np.tanh(1.0 - r[inside] / rc) ** 3
        return out
    rci = alpha * rc
    x = np.clip((r - rci) / (rc - rci), 0.0, None)
    if name == "cos":
        f = 0.5 * (np.cos(np.pi * x) + 1.0)
    elif name == "poly2":
        f = 1.0 - 10.0 * x**3 + 15.0 * x**4 - 6.0 * x**5
    elif name == "poly3":
        f = 1.0 - 35.0 * x**4 + 84.0 * x**5 - 70.0 * x**6 + 20.0 * x**7
    elif name == "exp":
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            f = np.exp(1.0 - 1.0 / (1.0 - x**2))
    else:
        raise AssertionError(name)
    out[inside] = f[inside]
    return out


def neighbours_ref(positions, cell, pbc, i, cutoff):
    """All (j, r_ij vector) with 0 < |r_ij| < cutoff, by looping over explicit images."""
    cell = np.asarray(cell, dtype=np.float64)
    reps = []
    for axis in range(3):
        if pbc[axis]:
            other = np.cross(cell[(axis + 1) % 3], cell[(axis + 2) % 3])
            height = abs(np.linalg.det(cell)) / np.linalg.norm(other)
            n = math.ceil(cutoff / height) + 1
            reps.append(range(-n, n + 1))
        else:
            reps.append([0])
    out = []
    for shift in itertools.product(*reps):
        s = np.array(shift, dtype=np.float64) @ cell
        for j in range(len(positions)):
            v = positions[j] - positions[i] + s
            d = np.linalg.norm(v)
            if 0.0 < d < cutoff:
                out.append((j, v))
    return out


def descriptors_ref(structure: Structure, ds: DescriptorSet) -> np.ndarray:
    """G (N, max_functions) from the definitions, zero-padded, in ds order."""
    symbols = [chemical_symbols[z] for z in structure.numbers]
    n_max = max(ds.count(e) for e in ds.elements)
    pos = np.asarray(structure.positions, dtype=np.float64)
    g = np.zeros((len(pos), n_max))
    for i, sym in enumerate(symbols):
        nb = neighbours_ref(pos, structure.cell, structure.pbc, i, ds.max_cutoff)
        for col, sf in enumerate(ds.for_element(sym)):
            g[i, col] = _one_function(sf, nb, symbols, ds)
    return g


def _one_function(sf: SymmetryFunction, nb, symbols, ds: DescriptorSet) -> float:
    ct, alpha = ds.cutoff_type, ds.cutoff_alpha
    if sf.type == 2:
        total = 0.0
        for j, v in nb:
            if symbols[j] == sf.neighbors[0]:
                r = np.linalg.norm(v)
                total += math.exp(-sf.eta * (r - sf.rs) ** 2) * fc_ref(r, sf.rc, ct, alpha)
        return total
    total = 0.0
    want = sorted(sf.neighbors)
    for a in range(len(nb)):
        for b in range(a + 1, len(nb)):  # each unordered pair {j, k} once
            (j, vij), (k, vik) = nb[a], nb[b]
            if sorted((symbols[j], symbols[k])) != want:
                continue
            rij, rik = np.linalg.norm(vij), np.linalg.norm(vik)
            rjk = np.linalg.norm(vik - vij)
            cos = float(vij @ vik) / (rij * rik)
            base = 1.0 + sf.lambda_ * cos
            if base <= 0.0:
                continue
            x = (rij - sf.rs) ** 2 + (rik - sf.rs) ** 2
            f = fc_ref(rij, sf.rc, ct, alpha) * fc_ref(rik, sf.rc, ct, alpha)
            if sf.type == 3:
                x += (rjk - sf.rs) ** 2
                f = f * fc_ref(rjk, sf.rc, ct, alpha)
            total += 2.0 ** (1.0 - sf.zeta) * base**sf.zeta * math.exp(-sf.eta * x) * f
    return total


# ---------------------------------------------------------------------------------------
# helpers running the package
# ---------------------------------------------------------------------------------------


def structure(symbols, positions, cell=None, pbc=(False, False, False)) -> Structure:
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64)
    numbers = np.array([atomic_numbers[s] for s in symbols])
    return Structure(numbers, np.asarray(positions, dtype=np.float64), cell, tuple(pbc))


def compute(ds: DescriptorSet, structures, fused: bool, dtype=torch.float64, weights=None):
    """G and (optionally) d(sum G * weights)/d positions for a list of structures."""
    module = SymmetryFunctions(ds).to(dtype)
    batch = make_batch(structures, ds.elements, module.cutoff, module.angular_cutoff)
    batch = batch.to(dtype=dtype)
    positions = batch.positions.clone().requires_grad_(weights is not None)
    vectors = pair_vectors(batch, positions, None)
    g = module.of_batch(batch, vectors, fused=fused)
    if weights is None:
        return g.detach(), None
    (grad,) = torch.autograd.grad((g * weights.to(dtype)).sum(), positions)
    return g.detach(), grad


def both_paths(ds, structures):
    g_t, _ = compute(ds, structures, fused=False)
    g_f, _ = compute(ds, structures, fused=True)
    torch.testing.assert_close(g_f, g_t, rtol=1e-12, atol=1e-14)
    return g_t.numpy()


def random_structure(rng, symbols, cell, pbc=(True, True, True), min_dist=0.9) -> Structure:
    cell = np.asarray(cell, dtype=np.float64)
    positions = []
    while len(positions) < len(symbols):
        candidate = rng.random(3) @ cell
        if all(np.linalg.norm(candidate - p) > min_dist for p in positions):
            positions.append(candidate)
    return structure(symbols, np.array(positions), cell, pbc)


# ---------------------------------------------------------------------------------------
# hand-computed values
# ---------------------------------------------------------------------------------------


def test_dimer_radial_element_resolved():
    rc, r = 5.0, 1.7
    fns = []
    for e in ("H", "O"):
        for nb in ("H", "O"):
            fns.append(SymmetryFunction(e, 2, (nb,), eta=0.3, rc=rc))
            fns.append(SymmetryFunction(e, 2, (nb,), eta=0.8, rc=rc, rs=1.1))
    ds = DescriptorSet(("H", "O"), tuple(fns))
    g = both_paths(ds, [structure(["H", "O"], [[0, 0, 0], [0.3, r * 0.8, r * 0.6 - 0.0]])])
    d = np.linalg.norm([0.3, r * 0.8, r * 0.6])
    fc = 0.5 * (math.cos(math.pi * d / rc) + 1.0)
    a, b = math.exp(-0.3 * d**2) * fc, math.exp(-0.8 * (d - 1.1) ** 2) * fc
    # order for each element: (eta 0.3, H), (eta 0.3, O), (eta 0.8, H), (eta 0.8, O)
    np.testing.assert_allclose(g[0], [0.0, a, 0.0, b], rtol=1e-14, atol=0)  # H sees one O
    np.testing.assert_allclose(g[1], [a, 0.0, b, 0.0], rtol=1e-14, atol=0)  # O sees one H


def test_dimer_beyond_cutoff_is_zero():
    ds = DescriptorSet(("Si",), (SymmetryFunction("Si", 2, ("Si",), eta=0.1, rc=3.0),))
    g = both_paths(ds, [structure(["Si", "Si"], [[0, 0, 0], [3.0, 0, 0]])])
    assert np.all(g == 0.0)


def _angular_set(rc=6.0, rs=0.0, cutoff_type="cos") -> DescriptorSet:
    fns = [SymmetryFunction("C", 2, ("C",), eta=0.1, rc=rc)]
    for t in (3, 9):
        for zeta in (1.0, 2.0, 4.0):
            for lam in (-1.0, 1.0):
                fns.append(
                    SymmetryFunction("C", t, ("C", "C"), 0.05, rc, rs=rs, zeta=zeta, lambda_=lam)
                )
    return DescriptorSet(("C",), tuple(fns), cutoff_type)


def _hand_angular(rij, rik, theta, sf: SymmetryFunction, fc):
    """One term of type 3 / 9 at centre i for an isosceles or general triangle."""
    rjk = math.sqrt(rij**2 + rik**2 - 2 * rij * rik * math.cos(theta))
    base = 1.0 + sf.lambda_ * math.cos(theta)
    if base <= 0.0:
        return 0.0
    x = (rij - sf.rs) ** 2 + (rik - sf.rs) ** 2
    f = fc(rij) * fc(rik)
    if sf.type == 3:
        x += (rjk - sf.rs) ** 2
        f *= fc(rjk)
    return 2 ** (1 - sf.zeta) * base**sf.zeta * math.exp(-sf.eta * x) * f


@pytest.mark.parametrize("rs", [0.0, 0.9])
@pytest.mark.parametrize("theta_deg", [60.0, 104.5, 150.0])
def test_isosceles_trimer_by_hand(rs, theta_deg):
    rc, r = 6.0, 1.3
    theta = math.radians(theta_deg)
    ds = _angular_set(rc, rs)
    pos = [[0, 0, 0], [r, 0, 0], [r * math.cos(theta), r * math.sin(theta), 0]]
    g = both_paths(ds, [structure(["C"] * 3, pos)])
    fc = lambda d: 0.5 * (math.cos(math.pi * d / rc) + 1.0)  # noqa: E731
    rjk = 2 * r * math.sin(theta / 2)
    # interior angles of the other two corners (isosceles: equal)
    phi = (math.pi - theta) / 2
    for col, sf in enumerate(ds.for_element("C")):
        if sf.type == 2:
            continue
        centre = _hand_angular(r, r, theta, sf, fc)
        corner = _hand_angular(r, rjk, phi, sf, fc)
        assert g[0, col] == pytest.approx(centre, rel=1e-13, abs=1e-300), sf
        assert g[1, col] == pytest.approx(corner, rel=1e-13), sf
        assert g[2, col] == pytest.approx(corner, rel=1e-13), sf
    # explicit closed form for one function: type 9, zeta 2, lambda +1, rs 0 (centre atom)
    if rs == 0.0:
        col = [
            n
            for n, sf in enumerate(ds.for_element("C"))
            if (sf.type, sf.zeta, sf.lambda_) == (9, 2, 1)
        ][0]
        expected = 0.5 * (1 + math.cos(theta)) ** 2 * math.exp(-0.05 * 2 * r * r) * fc(r) ** 2
        assert g[0, col] == pytest.approx(expected, rel=1e-13)


def test_linear_triplet_lambda_plus_is_zero_and_rjk_beyond_rc():
    """j - i - k on a line: cos = -1, so 1 + cos = 0 kills lambda = +1 (n2p2: term 0);
    r_jk = 2 r > rc kills type 3 but not type 9 (lambda = -1)."""
    rc, r = 4.0, 2.5
    ds = _angular_set(rc)
    g = both_paths(ds, [structure(["C"] * 3, [[0, 0, 0], [r, 0, 0], [-r, 0, 0]])])
    fc = 0.5 * (math.cos(math.pi * r / rc) + 1.0)
    for col, sf in enumerate(ds.for_element("C")):
        if sf.type == 2:
            continue
        if sf.type == 3 or sf.lambda_ == 1.0:
            assert g[0, col] == 0.0, sf
        else:
            want = 2 ** (1 - sf.zeta) * 2.0**sf.zeta * math.exp(-0.05 * 2 * r * r) * fc**2
            assert g[0, col] == pytest.approx(want, rel=1e-13), sf
    # the outer atoms see only one neighbour within rc: no angular contribution at all
    assert np.all(g[1:, 1:] == 0.0)


def test_narrow_with_rjk_inside_rc_but_type3_nonzero():
    """Same line but short enough that r_jk < rc: type 3, lambda -1 is non-zero."""
    rc, r = 4.0, 1.5
    ds = _angular_set(rc)
    g = both_paths(ds, [structure(["C"] * 3, [[0, 0, 0], [r, 0, 0], [-r, 0, 0]])])
    fc = lambda d: 0.5 * (math.cos(math.pi * d / rc) + 1.0)  # noqa: E731
    for col, sf in enumerate(ds.for_element("C")):
        if sf.type == 3 and sf.lambda_ == -1.0:
            want = (
                2 ** (1 - sf.zeta) * 2.0**sf.zeta * math.exp(-0.05 * 6 * r * r) * fc(r) ** 2
            ) * fc(2 * r)
            assert g[0, col] == pytest.approx(want, rel=1e-13)


def test_mixed_element_pairs_counted_once():
    """Centre O with neighbours H1, H2 and O2: the (H, O) function sums {H1, O2} and
    {H2, O2} once each, (H, H) sums {H1, H2}, (O, O) sees no pair."""
    rc = 6.0
    eta = 0.02
    fns = [
        SymmetryFunction("O", 9, ("H", "O"), eta, rc, zeta=1.0, lambda_=1.0),
        SymmetryFunction("O", 9, ("H", "H"), eta, rc, zeta=1.0, lambda_=1.0),
        SymmetryFunction("O", 9, ("O", "O"), eta, rc, zeta=1.0, lambda_=1.0),
        SymmetryFunction("H", 2, ("O",), eta, rc),
    ]
    ds = DescriptorSet(("O", "H"), tuple(fns))
    pos = np.array([[0, 0, 0], [1.0, 0.1, 0], [-0.2, 1.1, 0.3], [0.4, -0.5, 1.6], [0.0, 0, 0]])
    pos = pos[:4]
    s = structure(["O", "H", "H", "O"], pos)
    g = both_paths(ds, [s])
    fc = lambda d: 0.5 * (math.cos(math.pi * d / rc) + 1.0)  # noqa: E731

    def term(j, k):
        vij, vik = pos[j] - pos[0], pos[k] - pos[0]
        rij, rik = np.linalg.norm(vij), np.linalg.norm(vik)
        cos = vij @ vik / (rij * rik)
        return (1 + cos) * math.exp(-eta * (rij**2 + rik**2)) * fc(rij) * fc(rik)

    # O's functions in n2p2 order: neighbours (H, H) < (H, O) < (O, O)
    assert [sf.neighbors for sf in ds.for_element("O")] == [("H", "H"), ("H", "O"), ("O", "O")]
    np.testing.assert_allclose(g[0, :3], [term(1, 2), term(1, 3) + term(2, 3), 0.0], rtol=1e-13)
    np.testing.assert_allclose(g, descriptors_ref(s, ds), rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------------------
# brute force reference on periodic multi-element structures
# ---------------------------------------------------------------------------------------


def _multi_set(cutoff_type: str, alpha: float = 0.0) -> DescriptorSet:
    """H C O with two or three cutoff radii per element, radial + narrow + wide, rs != 0."""
    els = ("H", "C", "O")
    fns = []
    for n, e in enumerate(els):
        rcs = (3.0, 3.6, 4.2)[: 2 + n % 2]
        for rc in rcs:
            for nb in els:
                fns.append(SymmetryFunction(e, 2, (nb,), eta=0.3, rc=rc, rs=0.5 * (n + 1)))
        pairs = [("H", "C"), ("O", "O"), ("C", "C"), ("H", "O")]
        for k, (a, b) in enumerate(pairs):
            rc = rcs[k % len(rcs)]
            fns.append(SymmetryFunction(e, 3, (a, b), 0.04, rc, zeta=1.0, lambda_=-1.0))
            fns.append(SymmetryFunction(e, 3, (a, b), 0.04, rc, rs=0.7, zeta=4.0, lambda_=1.0))
            fns.append(SymmetryFunction(e, 9, (a, b), 0.02, rc, zeta=2.0, lambda_=1.0))
            fns.append(SymmetryFunction(e, 9, (a, b), 0.02, rc, zeta=16.0, lambda_=-1.0))
            fns.append(SymmetryFunction(e, 9, (a, b), 0.05, rc, rs=1.2, zeta=2.5, lambda_=1.0))
    return DescriptorSet(els, tuple(fns), cutoff_type, alpha)


TRICLINIC = np.array([[4.3, 0.0, 0.0], [0.9, 3.9, 0.0], [-0.6, 0.7, 4.6]])


@pytest.mark.parametrize(("cutoff_type", "alpha"), [("cos", 0.0), ("poly2", 0.2), ("tanh", 0.0)])
def test_periodic_multi_element_matches_brute_force(cutoff_type, alpha):
    rng = np.random.default_rng(7)
    ds = _multi_set(cutoff_type, alpha)
    s = random_structure(rng, ["H", "C", "O", "H", "O", "C"], TRICLINIC)
    g = both_paths(ds, [s])
    np.testing.assert_allclose(g, descriptors_ref(s, ds), rtol=1e-11, atol=1e-13)


def test_slab_and_small_cell_match_brute_force():
    """pbc (T, T, F) and a cell whose height is 0.6 rc (atoms see their own images)."""
    rng = np.random.default_rng(3)
    ds = _multi_set("cos")
    slab = random_structure(rng, ["C", "O", "H", "C"], TRICLINIC, pbc=(True, True, False))
    small = random_structure(rng, ["O", "H", "C"], np.diag([2.5, 2.8, 3.3]))
    g = both_paths(ds, [slab, small])
    ref = np.concatenate([descriptors_ref(slab, ds), descriptors_ref(small, ds)])
    np.testing.assert_allclose(g, ref, rtol=1e-11, atol=1e-13)


# ---------------------------------------------------------------------------------------
# fused kernels vs torch path
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cutoff_type", "alpha"), [("cos", 0.0), ("exp", 0.25), ("tanhu", 0.0), ("poly4", 0.1)]
)
def test_fused_matches_torch_values_and_gradients(cutoff_type, alpha):
    rng = np.random.default_rng(11)
    ds = _multi_set(cutoff_type, alpha)
    structures = [
        random_structure(rng, ["H", "C", "O", "O", "H", "C", "H"], TRICLINIC * 1.1),
        random_structure(rng, ["C", "O", "H"], np.diag([3.1, 3.4, 2.9])),
    ]
    n_atoms = sum(s.n_atoms for s in structures)
    weights = torch.tensor(rng.normal(size=(n_atoms, max(ds.count(e) for e in ds.elements))))
    g_t, f_t = compute(ds, structures, fused=False, weights=weights)
    g_f, f_f = compute(ds, structures, fused=True, weights=weights)
    assert g_t.abs().max() > 0.1 and f_t.abs().max() > 0.1
    torch.testing.assert_close(g_f, g_t, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(f_f, f_t, rtol=1e-12, atol=1e-12)


def _split_set() -> DescriptorSet:
    """Groups that are narrow only (the kernel skips triplets with r_jk >= rc), wide only,
    and an element (H) with radial functions only."""
    fns = [SymmetryFunction(e, 2, (nb,), 0.5, 3.0) for e in ("H", "Si", "O") for nb in ("O",)]
    fns += [SymmetryFunction("Si", 2, ("Si",), 0.1, 4.5, rs=0.4)]
    for zeta, lam in ((1.0, -1.0), (2.0, 1.0), (4.0, -1.0)):
        fns.append(SymmetryFunction("Si", 3, ("O", "O"), 0.02, 3.0, zeta=zeta, lambda_=lam))
        fns.append(SymmetryFunction("Si", 3, ("O", "O"), 0.05, 4.5, rs=0.6, zeta=zeta))
        fns.append(SymmetryFunction("Si", 9, ("Si", "O"), 0.01, 4.5, zeta=zeta, lambda_=lam))
        fns.append(SymmetryFunction("O", 9, ("Si", "Si"), 0.03, 3.0, rs=0.3, zeta=zeta))
        fns.append(SymmetryFunction("O", 3, ("H", "Si"), 0.03, 3.0, zeta=zeta, lambda_=lam))
    return DescriptorSet(("Si", "O", "H"), tuple(fns), "poly3", 0.1)


def test_fused_matches_brute_force_for_narrow_only_and_wide_only_groups():
    rng = np.random.default_rng(17)
    ds = _split_set()
    structures = [
        random_structure(rng, ["Si", "O", "O", "Si", "O", "H", "O"], TRICLINIC),
        random_structure(rng, ["Si", "O", "H"], np.diag([2.7, 2.9, 3.1])),
    ]
    n_atoms = sum(s.n_atoms for s in structures)
    weights = torch.tensor(rng.normal(size=(n_atoms, max(ds.count(e) for e in ds.elements))))
    g_t, f_t = compute(ds, structures, fused=False, weights=weights)
    g_f, f_f = compute(ds, structures, fused=True, weights=weights)
    ref = np.concatenate([descriptors_ref(s, ds) for s in structures])
    np.testing.assert_allclose(g_f.numpy(), ref, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(g_t.numpy(), ref, rtol=1e-11, atol=1e-13)
    assert np.count_nonzero(ref[:, ds.count("O") :]) > 0  # angular functions are exercised
    torch.testing.assert_close(f_f, f_t, rtol=1e-12, atol=1e-12)


def test_radial_only_descriptor_set():
    ds = DescriptorSet(
        ("C", "O"),
        (
            SymmetryFunction("C", 2, ("O",), 0.4, 4.0),
            SymmetryFunction("O", 2, ("C",), 0.4, 4.0, rs=0.9),
            SymmetryFunction("O", 2, ("O",), 0.2, 3.0),
        ),
    )
    rng = np.random.default_rng(2)
    s = random_structure(rng, ["C", "O", "O", "C"], TRICLINIC)
    weights = torch.tensor(rng.normal(size=(4, 2)))
    g_t, f_t = compute(ds, [s], fused=False, weights=weights)
    g_f, f_f = compute(ds, [s], fused=True, weights=weights)
    np.testing.assert_allclose(g_f.numpy(), descriptors_ref(s, ds), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(g_f, g_t, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(f_f, f_t, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("fused", [True, False])
def test_float32_matches_float64(fused):
    rng = np.random.default_rng(5)
    ds = _multi_set("cos")
    structures = [random_structure(rng, ["H", "C", "O", "O", "H"], TRICLINIC)]
    weights = torch.tensor(rng.normal(size=(5, max(ds.count(e) for e in ds.elements))))
    g64, f64 = compute(ds, structures, fused=fused, weights=weights)
    g32, f32 = compute(ds, structures, fused=fused, dtype=torch.float32, weights=weights)
    assert g32.dtype == torch.float32 and f32.dtype == torch.float32
    torch.testing.assert_close(g32.double(), g64, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(f32.double(), f64, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------
# analytic VJP of the angular terms
# ---------------------------------------------------------------------------------------


def _params(cutoff_type="cos", alpha=0.0, narrow=(True, False, True, False)):
    s = len(narrow)
    rcs = torch.tensor([3.0, 3.5])
    return AngularParams(
        eta=torch.tensor([0.05, 0.2, 0.01, 0.3])[:s],
        rs=torch.tensor([0.0, 0.5, 1.1, 0.2])[:s],
        zeta=torch.tensor([1.0, 2.0, 4.0, 2.5])[:s],
        lam=torch.tensor([-1.0, 1.0, 1.0, -1.0])[:s],
        narrow=torch.tensor(narrow),
        rc_unique=rcs,
        rc_index=torch.tensor([0, 1, 1, 0])[:s],
        cutoff_type=cutoff_type,
        cutoff_alpha=alpha,
        has_rs=True,
        any_narrow=any(narrow),
    )


def _triplet_vectors(seed=0, n_pairs=6):
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(n_pairs, 3, generator=gen, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True) * (0.8 + 2.0 * torch.rand(n_pairs, 1, generator=gen))
    # pairs 0-2 belong to centre 0, pairs 3-5 to centre 1
    p = torch.tensor([0, 0, 1, 3, 3, 4])
    q = torch.tensor([1, 2, 2, 4, 5, 5])
    centre = torch.tensor([0, 0, 0, 1, 1, 1])
    return v, p, q, centre


@pytest.mark.parametrize(("cutoff_type", "alpha"), [("cos", 0.0), ("exp", 0.2), ("poly3", 0.0)])
def test_angular_vjp_matches_autograd(cutoff_type, alpha):
    params = _params(cutoff_type, alpha)
    v, p, q, _ = _triplet_vectors(1)
    vij, vik = v[p].clone().requires_grad_(True), v[q].clone().requires_grad_(True)
    terms = angular_terms(vij, vik, params)
    assert terms.abs().max() > 1e-3
    grad = torch.randn(terms.shape, generator=torch.Generator().manual_seed(2))
    auto_ij, auto_ik = torch.autograd.grad(terms, (vij, vik), grad)
    ana_ij, ana_ik = angular_vjp(vij.detach(), vik.detach(), grad, params)
    torch.testing.assert_close(ana_ij, auto_ij, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(ana_ik, auto_ik, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("narrow", [(True, False, True, False), (False, False), (True, True)])
def test_angular_sum_gradcheck_and_gradgradcheck(narrow):
    params = _params("cos", 0.0, narrow)
    v, p, q, centre = _triplet_vectors(3)
    v = v.clone().requires_grad_(True)

    def fn(vectors):
        return angular_sum(vectors, p, q, centre, 2, params)

    assert fn(v).abs().max() > 1e-3
    assert torch.autograd.gradcheck(fn, (v,), eps=1e-6, atol=1e-8, rtol=1e-6)
    assert torch.autograd.gradgradcheck(fn, (v,), eps=1e-6, atol=1e-7, rtol=1e-5)
