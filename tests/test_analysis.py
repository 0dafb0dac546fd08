"""Structure analysis: g(r), angle distributions and coordination on systems with known
answers (ideal gas, fcc, diamond, zincblende, water)."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, make_supercell, molecule

from hdnnp.analysis import (
    adf,
    coordination,
    curve_difference,
    first_minimum,
    first_peak,
    main_peak,
    rdf,
)

A_CU = 3.6
# fcc shells a * sqrt(s / 2), s = 1..5, with 12, 6, 24, 12, 24 neighbours
FCC_SHELLS = A_CU * np.sqrt(np.arange(1, 6) / 2)
FCC_CUMULATIVE = np.cumsum([12, 6, 24, 12, 24])
# r_max 6 Å in 123 bins: no fcc shell of a = 3.6 Å lies on a bin edge
R_MAX, N_BINS = 6.0, 123
TRICLINIC = np.array([[11.0, 0.0, 0.0], [3.0, 10.5, 0.0], [2.0, -2.5, 12.0]])


def _random_frames(n_frames: int, symbols: list[str], seed: int = 0) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    return [
        Atoms(symbols, scaled_positions=rng.random((len(symbols), 3)), cell=TRICLINIC, pbc=True)
        for _ in range(n_frames)
    ]


def _bin(x: float, edges: np.ndarray) -> int:
    return int(np.searchsorted(edges, x, side="right") - 1)


# ------------------------------------------------------------------------- g(r)


def test_ideal_gas_rdf_is_one_within_counting_noise():
    """Uniform random positions: <g_ab> = 1 for a != b and 1 - 1/N_a for a == b (an atom
    is not its own neighbour). The unordered pairs in a shell are Poisson distributed with
    mean mu = F * P * shell / V (F frames, P pairs), so g has the relative error 1 / sqrt(mu);
    every bin with mu >= 30 must be within 5 sigma, and the mean over those bins within
    5 sigma of the pooled count."""
    n_si, n_o, n_frames = 100, 200, 4
    frames = _random_frames(n_frames, ["Si"] * n_si + ["O"] * n_o)
    result = rdf(frames, 5.0, 25)
    volume = abs(np.linalg.det(TRICLINIC))  # larger than (2 * 5 Å)^3 in every direction
    shell = 4 / 3 * np.pi * np.diff(result.edges**3)
    pairs = {"O-O": n_o * (n_o - 1) / 2, "O-Si": n_o * n_si, "Si-Si": n_si * (n_si - 1) / 2}
    expected = {"O-O": 1 - 1 / n_o, "O-Si": 1.0, "Si-Si": 1 - 1 / n_si}
    assert set(result.partial) == set(pairs)
    for name, g in result.partial.items():
        mu = n_frames * pairs[name] * shell / volume
        used = mu >= 30
        assert used.sum() >= 15
        sigma = expected[name] / np.sqrt(mu[used])
        assert np.all(np.abs(g[used] - expected[name]) < 5 * sigma), name
        pooled = np.sum(g[used] * mu[used]) / mu[used].sum()
        assert abs(pooled - expected[name]) < 5 * expected[name] / np.sqrt(mu[used].sum())
    n = n_si + n_o
    mu = n_frames * n * (n - 1) / 2 * shell / volume
    used = mu >= 30
    assert np.all(np.abs(result.total[used] - (1 - 1 / n)) < 5 / np.sqrt(mu[used]))


def test_rdf_ideal_gas_running_coordination_is_density_times_volume():
    frames = _random_frames(3, ["Ar"] * 300, seed=1)
    result = rdf(frames, 5.0, 10)
    rho = 299 / abs(np.linalg.det(TRICLINIC))  # neighbours of one atom per volume
    ideal = rho * 4 / 3 * np.pi * result.edges[1:] ** 3
    # the last bin holds about 300 * 3 * 19 / 2 unordered pairs: 2 % relative noise
    assert np.allclose(result.running_cn["Ar-Ar"][-3:], ideal[-3:], rtol=0.06)


def _fcc_cells() -> dict[str, Atoms]:
    primitive = bulk("Cu", "fcc", a=A_CU)
    skewed = make_supercell(primitive, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])  # one atom, triclinic
    return {
        "primitive": primitive,
        "skewed primitive": skewed,
        "cubic (a < 2 r_max)": bulk("Cu", "fcc", a=A_CU, cubic=True),
        "cubic 3x3x3": bulk("Cu", "fcc", a=A_CU, cubic=True) * (3, 3, 3),
    }


def test_fcc_peaks_at_the_shells_and_every_cell_gives_the_same_rdf():
    results = {name: rdf(atoms, R_MAX, N_BINS) for name, atoms in _fcc_cells().items()}
    reference = results["cubic 3x3x3"]
    shell_bins = sorted(_bin(r, reference.edges) for r in FCC_SHELLS)
    assert np.flatnonzero(reference.total).tolist() == shell_bins
    for name, result in results.items():
        assert np.allclose(result.total, reference.total, rtol=1e-12, atol=1e-12), name
        assert np.allclose(result.partial["Cu-Cu"], result.total), name


def test_fcc_running_coordination_counts_the_shells():
    result = rdf(bulk("Cu", "fcc", a=A_CU), R_MAX, N_BINS)
    cn = result.running_cn["Cu-Cu"]  # cn[k]: neighbours closer than edges[k + 1]
    previous = np.concatenate(([0], FCC_CUMULATIVE[:-1]))
    for shell, before, after in zip(FCC_SHELLS, previous, FCC_CUMULATIVE, strict=True):
        k = _bin(shell, result.edges)
        assert cn[k - 1] == before and cn[k] == after  # 12 after the first shell, 18, ...
    # the first peak: 12 neighbours spread over one shell volume
    k = _bin(FCC_SHELLS[0], result.edges)
    shell = 4 / 3 * np.pi * (result.edges[k + 1] ** 3 - result.edges[k] ** 3)
    assert np.isclose(result.total[k], 12 / (4 / A_CU**3 * shell))


def test_rdf_is_invariant_under_translation_and_permutation():
    frames = _random_frames(2, ["Si"] * 20 + ["O"] * 40, seed=3)
    rng = np.random.default_rng(4)
    moved = []
    for atoms in frames:
        order = rng.permutation(len(atoms))
        copy = atoms[order]
        copy.positions += [7.3, -21.1, 4.4]  # no wrapping: positions outside the cell
        moved.append(copy)
    before, after = rdf(frames, 7.0, 70), rdf(moved, 7.0, 70)
    assert np.allclose(before.total, after.total, rtol=1e-12)
    for name in before.partial:
        assert np.allclose(before.partial[name], after.partial[name], rtol=1e-12)
        assert np.allclose(before.running_cn[name], after.running_cn[name], rtol=1e-12)


def test_rdf_partials_combine_to_the_total_and_are_symmetric():
    frames = _random_frames(2, ["Si"] * 10 + ["O"] * 20, seed=5)
    result = rdf(frames, 6.0, 30, pairs=["Si-O", "O-Si", "O-O", "Si-Si"])
    x = {"O": 2 / 3, "Si": 1 / 3}
    combined = sum(
        x[a] * x[b] * result.partial[f"{a}-{b}"] for a in ("O", "Si") for b in ("O", "Si")
    )
    assert np.allclose(combined, result.total)
    assert np.allclose(result.partial["Si-O"], result.partial["O-Si"])
    # N_Si n_SiO(r) = N_O n_OSi(r): both count the Si-O pairs
    assert np.allclose(10 * result.running_cn["Si-O"], 20 * result.running_cn["O-Si"])


def test_rdf_rejects_non_periodic_frames_and_unknown_pairs():
    water = molecule("H2O")
    with pytest.raises(ValueError, match="not periodic"):
        rdf([water], 5.0, 10)
    slab = bulk("Cu", "fcc", a=A_CU, cubic=True)
    slab.pbc = (True, True, False)
    with pytest.raises(ValueError, match="not periodic"):
        rdf([slab], 5.0, 10)
    with pytest.raises(ValueError, match="Si"):
        rdf([bulk("Cu")], 5.0, 10, pairs=["Cu-Si"])
    with pytest.raises(ValueError, match="no frames"):
        rdf([], 5.0, 10)


# ------------------------------------------------------------------------- angles


def _density_checks(result, name: str) -> None:
    assert np.isclose(np.sum(result.density[name] * np.diff(result.edges)), 1.0)


@pytest.mark.parametrize("angle", [None, 104.5])
def test_adf_water_peak_at_the_molecule_angle(angle):
    water = molecule("H2O")  # O, H, H; H-O-H about 104.0 degrees in ase's geometry
    if angle is not None:
        water.set_angle(1, 0, 2, angle)
    angle = water.get_angle(1, 0, 2)
    water.cell = [12.0, 12.0, 12.0]
    water.pbc = True
    water.center()
    result = adf([water, water], ["H-O-H", "O-H-O"], {"O-H": 1.2}, n_bins=180)
    assert result.counts == {"H-O-H": 2, "O-H-O": 0}
    _density_checks(result, "H-O-H")
    (peak,) = np.flatnonzero(result.density["H-O-H"])
    assert result.edges[peak] <= angle < result.edges[peak + 1]
    assert not result.density["O-H-O"].any()


def test_adf_diamond_angles_are_tetrahedral_with_periodic_images():
    silicon = bulk("Si", "diamond", a=5.43)  # 2 atoms, all neighbours are images
    result = adf(silicon, ["Si-Si-Si"], 2.6, n_bins=360)
    tetrahedral = np.degrees(np.arccos(-1 / 3))
    assert result.counts["Si-Si-Si"] == 2 * 6  # 4 neighbours: 6 angles per atom
    assert np.flatnonzero(result.density["Si-Si-Si"]).tolist() == [_bin(tetrahedral, result.edges)]
    _density_checks(result, "Si-Si-Si")


def test_adf_mixed_triplets_count_each_pair_of_neighbours_once():
    zns = bulk("ZnS", "zincblende", a=5.41)  # Zn-S 2.34 Å, Zn-Zn 3.83 Å
    cutoffs = {"Zn-S": 2.6, "Zn-Zn": 4.0, "S-S": 1.0}
    result = adf(zns, ["S-Zn-S", "Zn-Zn-S", "S-Zn-Zn", "Zn-S-Zn"], cutoffs)
    assert result.counts == {"S-Zn-S": 6, "Zn-Zn-S": 48, "S-Zn-Zn": 48, "Zn-S-Zn": 6}
    assert np.allclose(result.density["Zn-Zn-S"], result.density["S-Zn-Zn"])
    peak = main_peak(result.angle, result.density["Zn-S-Zn"])
    assert abs(peak[0] - np.degrees(np.arccos(-1 / 3))) <= 0.5


def test_adf_errors_name_the_problem():
    zns = bulk("ZnS", "zincblende", a=5.41)
    with pytest.raises(ValueError, match="O.*not in the frames"):
        adf(zns, ["O-Zn-O"], 2.6)
    with pytest.raises(ValueError, match="malformed"):
        adf(zns, ["Zn-S"], 2.6)
    with pytest.raises(ValueError, match="cutoff for the element pair Zn-Zn"):
        adf(zns, ["Zn-Zn-S"], {"Zn-S": 2.6})
    with pytest.raises(ValueError, match="positive"):
        adf(zns, ["S-Zn-S"], -1.0)


# ------------------------------------------------------------------ coordination


def test_coordination_fcc_and_diamond_with_periodic_images():
    fcc = coordination(bulk("Cu", "fcc", a=A_CU), 3.0)
    assert fcc.mean == {"Cu-Cu": 12.0}
    assert fcc.histogram["Cu-Cu"].tolist() == [0.0] * 12 + [1.0]
    diamond = coordination([bulk("Si", "diamond", a=5.43)] * 3, 2.6)
    assert diamond.mean == {"Si-Si": 4.0}
    assert diamond.n_frames == 3


def test_without_cutoffs_or_triplets_the_results_are_empty():
    zns = bulk("ZnS", "zincblende", a=5.41)
    assert coordination(zns, {}).mean == {}
    assert adf(zns, [], {}).density == {}


def test_coordination_per_pair_cutoffs_in_both_directions():
    zns = bulk("ZnS", "zincblende", a=5.41, cubic=True)
    rattled = zns.copy()
    rattled.rattle(0.05, seed=2)
    result = coordination([zns, rattled], {"Zn-S": 2.8})
    assert result.mean == {"S-Zn": 4.0, "Zn-S": 4.0}
    assert result.cutoffs == {"S-Zn": 2.8, "Zn-S": 2.8}
    both = coordination(zns, {"Zn-S": 2.8, "Zn-Zn": 4.0})
    assert both.mean["Zn-Zn"] == 12.0


# ------------------------------------------------------------ peaks and minima


def test_first_peak_and_minimum_of_fcc_lie_between_the_shells():
    result = rdf(bulk("Cu", "fcc", a=A_CU), R_MAX, N_BINS)
    position, height = first_peak(result.r, result.total)
    assert abs(position - FCC_SHELLS[0]) < result.edges[1]
    assert height == result.total.max()
    minimum = first_minimum(result.r, result.total)
    assert abs(minimum - (FCC_SHELLS[0] + FCC_SHELLS[1]) / 2) < 0.1


def test_first_minimum_of_a_smooth_liquid_like_curve():
    x = np.linspace(0.0, 3.0, 301)
    y = 1.0 - np.cos(2 * np.pi * x) * np.exp(-0.2 * x)  # peak 0.5, minimum near 1.0
    assert abs(first_peak(x, y)[0] - 0.5) < 0.02
    assert abs(first_minimum(x, y) - 1.0) < 0.02
    assert first_minimum(x, np.exp(-x)) is None  # no rise after the peak
    assert first_peak(x, np.zeros_like(x)) is None


def test_curve_difference_integrates_over_the_bins():
    edges = np.linspace(0.0, 2.0, 5)
    same = curve_difference(edges, np.ones(4), np.ones(4))
    assert same == {"integrated_abs": 0.0, "max_abs": 0.0}
    step = curve_difference(edges, np.zeros(4), np.array([0.0, 1.0, 3.0, 0.0]))
    assert step == {"integrated_abs": 2.0, "max_abs": 3.0}
