"""Physics of the full potential (float64): forces and stress are exact derivatives of
the energy, the energy has the symmetries of physics, and the implementation details
(chunking, batching, fused kernels vs torch path) do not change the numbers.

References are finite differences of the energy (own code and ASE's
``calculate_numerical_stress``) and transformed copies of the same structure.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.fd import calculate_numerical_stress
from ase.data import atomic_numbers
from ase.stress import full_3x3_to_voigt_6_stress

import hdnnp.potential as potential_module
from hdnnp.batch import make_batch
from hdnnp.descriptors.params import DescriptorSet, SymmetryFunction
from hdnnp.potential import HDNNP, NetworkSpec, pair_vectors
from hdnnp.scaling import ScalingStats
from hdnnp.structures import Structure

ELEMENTS = ("H", "C", "O")
CUTOFF_TYPES = [("cos", 0.0), ("poly2", 0.15)]
TRICLINIC = np.array([[5.1, 0.0, 0.0], [1.2, 4.7, 0.0], [-0.8, 0.9, 5.4]])


# ---------------------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------------------


def structure(symbols, positions, cell=None, pbc=(False, False, False)) -> Structure:
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64)
    numbers = np.array([atomic_numbers[s] for s in symbols])
    return Structure(numbers, np.asarray(positions, dtype=np.float64), cell, tuple(pbc))


def random_structure(seed, symbols, cell, pbc=(True, True, True), min_dist=1.0) -> Structure:
    rng = np.random.default_rng(seed)
    cell = np.asarray(cell, dtype=np.float64)
    positions = []
    while len(positions) < len(symbols):
        candidate = rng.random(3) @ cell
        if all(np.linalg.norm(candidate - p) > min_dist for p in positions):
            positions.append(candidate)
    return structure(symbols, np.array(positions), cell, pbc)


def molecule() -> Structure:
    rng = np.random.default_rng(21)
    base = np.array(
        [[0, 0, 0], [1.1, 0, 0], [-0.4, 1.0, 0.1], [0.2, -0.5, 1.0], [1.6, 1.2, 0.4]], float
    )
    return structure(["C", "H", "O", "H", "O"], base + 0.05 * rng.normal(size=base.shape))


def slab() -> Structure:
    cell = np.array([[4.4, 0.0, 0.0], [1.1, 4.2, 0.0], [0.0, 0.0, 3.0]])
    s = random_structure(5, ["C", "O", "H", "H", "C"], cell, pbc=(True, True, False))
    return s


def crystal() -> Structure:
    return random_structure(2, ["H", "C", "O", "O", "H", "C"], TRICLINIC)


def small_cell() -> Structure:
    """Cell heights about 0.6 rc: atoms interact with their own images."""
    cell = np.array([[2.5, 0.0, 0.0], [0.4, 2.4, 0.0], [0.3, -0.2, 2.6]])
    return random_structure(9, ["O", "H", "C"], cell, min_dist=0.9)


def _descriptor_set(cutoff_type: str, alpha: float) -> DescriptorSet:
    fns = []
    for n, e in enumerate(ELEMENTS):
        for rc in (3.2, 4.0):
            for nb in ELEMENTS:
                fns.append(SymmetryFunction(e, 2, (nb,), eta=0.2, rc=rc))
                fns.append(SymmetryFunction(e, 2, (nb,), eta=1.0, rc=rc, rs=1.0 + 0.2 * n))
        for k, pair in enumerate([("H", "H"), ("C", "O"), ("O", "O"), ("H", "C")]):
            rc = (3.2, 4.0)[k % 2]
            fns.append(SymmetryFunction(e, 3, pair, 0.03, rc, zeta=1.0, lambda_=-1.0))
            fns.append(SymmetryFunction(e, 3, pair, 0.03, rc, rs=0.5, zeta=4.0, lambda_=1.0))
            fns.append(SymmetryFunction(e, 9, pair, 0.01, rc, zeta=2.0, lambda_=1.0))
            fns.append(SymmetryFunction(e, 9, pair, 0.02, rc, rs=0.8, zeta=1.0, lambda_=-1.0))
    return DescriptorSet(ELEMENTS, tuple(fns), cutoff_type, alpha)


@functools.cache
def _cached_model(cutoff_type: str, alpha: float) -> HDNNP:
    ds = _descriptor_set(cutoff_type, alpha)
    model = HDNNP(
        ds,
        NetworkSpec.uniform(ds.elements, hidden=(8, 8)),
        energy_scale=3.0,
        atom_energies={"H": -13.1, "C": -37.4, "O": -74.9},
        generator=torch.Generator().manual_seed(0),
    )
    fit = [
        random_structure(100 + k, ["H", "C", "O", "H", "O", "C", "H"], TRICLINIC * 0.9)
        for k in range(3)
    ]
    fit.append(molecule())
    batch = make_batch(fit, model.elements, model.cutoff, model.angular_cutoff)
    g = model.descriptors_of(batch).numpy()
    stats = [
        ScalingStats.from_values(g[batch.species.numpy() == e, : ds.count(el)])
        for e, el in enumerate(model.elements)
    ]
    model.scaler.set_stats(stats, "scale_center", -1.0, 1.0)
    return model.eval()


@pytest.fixture(params=CUTOFF_TYPES, ids=[c for c, _ in CUTOFF_TYPES])
def model(request) -> HDNNP:
    return _cached_model(*request.param)


@pytest.fixture
def cos_model() -> HDNNP:
    return _cached_model("cos", 0.0)


def evaluate(model, structures, forces=True, stress=True, create_graph=False):
    batch = make_batch(structures, model.elements, model.cutoff, model.angular_cutoff)
    return model.evaluate(batch, forces=forces, stress=stress, create_graph=create_graph)


def energies(model, structures) -> np.ndarray:
    """Total energies of many structures in one batch (no derivatives)."""
    out = evaluate(model, structures, forces=False, stress=False)
    return out.energy.detach().numpy()


def displaced(s: Structure, positions=None, cell=None) -> Structure:
    return Structure(
        s.numbers,
        s.positions if positions is None else positions,
        s.cell if cell is None else cell,
        s.pbc,
    )


def fd_forces(model, s: Structure, h: float = 1e-5) -> np.ndarray:
    """-dE/dR by central differences, all 6N displaced structures in one batch."""
    shifted = []
    for a in range(s.n_atoms):
        for k in range(3):
            for sign in (1.0, -1.0):
                pos = s.positions.copy()
                pos[a, k] += sign * h
                shifted.append(displaced(s, positions=pos))
    e = energies(model, shifted).reshape(s.n_atoms, 3, 2)
    return -(e[..., 0] - e[..., 1]) / (2 * h)


def strained(s: Structure, eps: np.ndarray) -> Structure:
    deform = np.eye(3) + eps
    return displaced(s, positions=s.positions @ deform, cell=s.cell @ deform)


def fd_stress(model, s: Structure, h: float = 1e-5) -> np.ndarray:
    """(1/V) dE/d(epsilon) for symmetric strains, central differences."""
    volume = abs(np.linalg.det(s.cell))
    shifted = []
    for a in range(3):
        for b in range(3):
            eps = np.zeros((3, 3))
            eps[a, b] += 0.5
            eps[b, a] += 0.5
            shifted += [strained(s, h * eps), strained(s, -h * eps)]
    e = energies(model, shifted).reshape(3, 3, 2)
    return (e[..., 0] - e[..., 1]) / (2 * h * volume)


# ---------------------------------------------------------------------------------------
# (a), (b), (e): forces and stress are derivatives of the energy
# ---------------------------------------------------------------------------------------

GEOMETRIES = {
    "triclinic": crystal,
    "molecule": molecule,
    "slab": slab,
    "small_cell": small_cell,
}


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_forces_are_minus_energy_gradient(model, geometry):
    s = GEOMETRIES[geometry]()
    out = evaluate(model, [s])
    forces = out.forces.numpy()
    assert np.abs(forces).max() > 0.05  # a meaningful test: non-trivial forces
    np.testing.assert_allclose(forces, fd_forces(model, s), rtol=0, atol=1e-7)
    # Newton's third law: total force vanishes (translation invariance)
    np.testing.assert_allclose(forces.sum(0), 0.0, atol=1e-10)


@pytest.mark.parametrize("geometry", ["triclinic", "small_cell"])
def test_stress_is_strain_derivative(model, geometry):
    s = GEOMETRIES[geometry]()
    stress = evaluate(model, [s]).stress[0].numpy()
    assert np.abs(stress).max() > 1e-4
    np.testing.assert_allclose(stress, stress.T, atol=1e-12)
    np.testing.assert_allclose(stress, fd_stress(model, s), rtol=0, atol=2e-9)


class _Calculator(Calculator):
    """Minimal ASE calculator around the model (for ASE's own finite differences)."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, model):
        super().__init__()
        self.model = model

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        s = Structure(
            self.atoms.numbers, self.atoms.positions, self.atoms.cell.array, tuple(self.atoms.pbc)
        )
        out = evaluate(self.model, [s], stress=all(s.pbc))
        energy = float(out.energy[0])
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": out.forces.numpy().copy(),
        }
        if all(s.pbc):
            self.results["stress"] = full_3x3_to_voigt_6_stress(out.stress[0].numpy())


def test_stress_matches_ase_numerical_stress(cos_model):
    s = crystal()
    atoms = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=True)
    atoms.calc = _Calculator(cos_model)
    analytic = atoms.get_stress(voigt=False)
    numeric = calculate_numerical_stress(atoms, eps=1e-5, voigt=False)
    np.testing.assert_allclose(analytic, numeric, rtol=0, atol=1e-8)


def test_stress_is_nan_without_full_periodicity(cos_model):
    out = evaluate(cos_model, [molecule(), slab()])
    assert torch.isnan(out.stress).all()


# ---------------------------------------------------------------------------------------
# (c) invariances
# ---------------------------------------------------------------------------------------


def _rotation(seed) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


@pytest.mark.parametrize("geometry", ["triclinic", "molecule", "slab"])
def test_translation_rotation_invariance(cos_model, geometry):
    s = GEOMETRIES[geometry]()
    ref = evaluate(cos_model, [s])
    t = displaced(s, positions=s.positions + np.array([0.37, -1.9, 12.4]))
    rot = _rotation(4)
    r = displaced(s, positions=s.positions @ rot.T, cell=s.cell @ rot.T)
    out_t, out_r = evaluate(cos_model, [t]), evaluate(cos_model, [r])
    for out in (out_t, out_r):
        torch.testing.assert_close(out.energy, ref.energy, rtol=1e-13, atol=1e-11)
        torch.testing.assert_close(out.atomic_energies, ref.atomic_energies, rtol=1e-12, atol=1e-11)
    torch.testing.assert_close(out_t.forces, ref.forces, rtol=1e-10, atol=1e-11)
    torch.testing.assert_close(out_r.forces, ref.forces @ torch.tensor(rot.T), atol=1e-11, rtol=0)
    if geometry == "triclinic":
        rotated = torch.tensor(rot) @ ref.stress[0] @ torch.tensor(rot.T)
        torch.testing.assert_close(out_r.stress[0], rotated, atol=1e-12, rtol=0)
        torch.testing.assert_close(out_t.stress, ref.stress, atol=1e-12, rtol=0)


def test_permutation_invariance(cos_model):
    s = crystal()
    perm = np.random.default_rng(0).permutation(s.n_atoms)
    p = Structure(s.numbers[perm], s.positions[perm], s.cell, s.pbc)
    ref, out = evaluate(cos_model, [s]), evaluate(cos_model, [p])
    torch.testing.assert_close(out.energy, ref.energy, rtol=1e-13, atol=1e-11)
    torch.testing.assert_close(out.atomic_energies, ref.atomic_energies[perm], atol=1e-11, rtol=0)
    torch.testing.assert_close(out.forces, ref.forces[perm], atol=1e-11, rtol=0)
    torch.testing.assert_close(out.stress, ref.stress, atol=1e-12, rtol=0)


@pytest.mark.parametrize("geometry", ["triclinic", "slab", "small_cell"])
def test_periodic_rewrapping_invariance(cos_model, geometry):
    s = GEOMETRIES[geometry]()
    rng = np.random.default_rng(1)
    n = rng.integers(-3, 4, size=(s.n_atoms, 3))
    n[:, ~np.array(s.pbc)] = 0
    shifted = displaced(s, positions=s.positions + n @ s.cell)
    frac = s.positions @ np.linalg.inv(s.cell)
    frac[:, np.array(s.pbc)] %= 1.0
    wrapped = displaced(s, positions=frac @ s.cell)
    ref = evaluate(cos_model, [s])
    for other in (shifted, wrapped):
        out = evaluate(cos_model, [other])
        torch.testing.assert_close(out.energy, ref.energy, rtol=1e-13, atol=1e-11)
        torch.testing.assert_close(out.atomic_energies, ref.atomic_energies, atol=1e-11, rtol=0)
        torch.testing.assert_close(out.forces, ref.forces, atol=1e-10, rtol=0)
        if all(s.pbc):
            torch.testing.assert_close(out.stress, ref.stress, atol=1e-12, rtol=0)


def test_cell_basis_choice_invariance(cos_model):
    """The same lattice described by another basis (unimodular, left-handed) is the same
    crystal: identical energy, forces and stress."""
    s = crystal()
    basis = np.array([[0, 1, 0], [1, 1, 0], [0, -2, 1]])  # det -1
    other = displaced(s, cell=basis @ s.cell)
    ref, out = evaluate(cos_model, [s]), evaluate(cos_model, [other])
    torch.testing.assert_close(out.energy, ref.energy, rtol=1e-13, atol=1e-11)
    torch.testing.assert_close(out.forces, ref.forces, atol=1e-11, rtol=0)
    torch.testing.assert_close(out.stress, ref.stress, atol=1e-12, rtol=0)


# ---------------------------------------------------------------------------------------
# (d) supercells
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("geometry", ["triclinic", "small_cell"])
def test_supercell_is_extensive(cos_model, geometry):
    s = GEOMETRIES[geometry]()
    reps = (2, 1, 3)
    atoms = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=True).repeat(reps)
    big = Structure(atoms.numbers, atoms.positions, atoms.cell.array, (True, True, True))
    ref, out = evaluate(cos_model, [s]), evaluate(cos_model, [big])
    n = int(np.prod(reps))
    torch.testing.assert_close(out.energy, n * ref.energy, rtol=1e-13, atol=1e-10)
    # ase repeat: whole copies of the cell one after the other
    torch.testing.assert_close(
        out.forces.reshape(n, s.n_atoms, 3), ref.forces.expand(n, -1, -1), atol=1e-11, rtol=0
    )
    torch.testing.assert_close(
        out.atomic_energies.reshape(n, s.n_atoms),
        ref.atomic_energies.expand(n, -1),
        atol=1e-11,
        rtol=0,
    )
    torch.testing.assert_close(out.stress, ref.stress, atol=1e-12, rtol=0)


# ---------------------------------------------------------------------------------------
# (f) smoothness at the cutoff
# ---------------------------------------------------------------------------------------


def test_dimer_energy_and_force_vanish_smoothly_at_cutoff(cos_model):
    rc = cos_model.cutoff
    direction = np.array([0.48, -0.6, 0.64])

    def dimer(r):
        return structure(["C", "O"], [[0.0, 0.0, 0.0], r * direction])

    far = [dimer(r) for r in (rc, rc + 1e-9, rc + 0.5, 3 * rc)]
    out_far = evaluate(cos_model, far)
    e_inf = out_far.energy[0].item()
    # isolated atoms: E = sum of the atomic energies at G = 0; zero force, exactly
    assert torch.all(out_far.energy == e_inf)
    assert torch.all(out_far.forces == 0.0)
    deltas = np.array([1e-2, 1e-3, 1e-4, 1e-5])
    out = evaluate(cos_model, [dimer(rc - d) for d in deltas])
    de = np.abs(out.energy.numpy() - e_inf)
    f = np.linalg.norm(out.forces.numpy()[0::2], axis=1)
    assert de[0] > 1e-9 and f[0] > 1e-7  # the pair does interact
    # cos cutoff: f_c ~ (pi^2/4) (delta/rc)^2, so E - E_inf ~ delta^2 and F ~ delta
    # (the last energy difference is at the level of round-off of E ~ 100 eV)
    np.testing.assert_allclose(de[1:3] / de[:2], 1e-2, rtol=0.05)
    np.testing.assert_allclose(f[1:] / f[:-1], 1e-1, rtol=0.05)
    assert de[-1] < 1e-12 and f[-1] < 1e-8


# ---------------------------------------------------------------------------------------
# (g) differentiable path: gradcheck, gradgradcheck, force training gradients
# ---------------------------------------------------------------------------------------


def _energy_of_positions(model, batch):
    def energy(positions):
        vectors = pair_vectors(batch, positions, None)
        g = model.symmetry_functions.of_batch(batch, vectors, fused=False)
        return model.atomic_energies(batch.species, g).sum()

    return energy


def test_gradcheck_and_gradgradcheck_positions(cos_model):
    s = structure(
        ["O", "H", "C", "H"],
        [[0.0, 0.0, 0.0], [1.0, 0.2, -0.1], [-0.3, 1.2, 0.2], [0.4, -0.2, 1.1]],
    )
    batch = make_batch([s], cos_model.elements, cos_model.cutoff, cos_model.angular_cutoff)
    assert batch.trip_p.numel() > 0
    positions = batch.positions.clone().requires_grad_(True)
    fn = _energy_of_positions(cos_model, batch)
    assert torch.autograd.gradcheck(fn, (positions,), eps=1e-6, atol=1e-6, rtol=1e-5)
    assert torch.autograd.gradgradcheck(fn, (positions,), eps=1e-6, atol=1e-5, rtol=1e-4)


def test_create_graph_path_matches_fused_path(model):
    structures = [crystal(), molecule()]
    fast = evaluate(model, structures, create_graph=False)
    slow = evaluate(model, structures, create_graph=True)
    assert slow.forces.requires_grad
    torch.testing.assert_close(slow.energy.detach(), fast.energy, rtol=1e-14, atol=1e-12)
    torch.testing.assert_close(slow.forces.detach(), fast.forces, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        slow.stress.detach(), fast.stress, rtol=1e-12, atol=1e-13, equal_nan=True
    )


def test_force_loss_gradient_wrt_weight_matches_finite_differences(cos_model):
    s = small_cell()
    batch = make_batch([s], cos_model.elements, cos_model.cutoff, cos_model.angular_cutoff)
    w = torch.tensor(np.random.default_rng(3).normal(size=(s.n_atoms, 3)))
    out = cos_model.evaluate(batch, forces=True, stress=True, create_graph=True)
    loss = (out.forces * w).sum() + 10.0 * out.stress.sum()
    params = list(cos_model.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    # forces and stress depend on every parameter except the output biases
    output_biases = {id(net.biases[-1]) for net in cos_model.nets.values()}
    for p, g in zip(params, grads, strict=True):
        if id(p) in output_biases:
            assert g is None or torch.all(g == 0)
        else:
            assert g is not None and g.abs().max() > 0
    weight = cos_model.nets["O"].weights[0]
    grad = grads[[p is weight for p in params].index(True)]
    h = 1e-5
    for index in [(0, 0), (3, 5), (weight.shape[0] - 1, 7)]:
        original = weight[index].item()
        values = []
        for sign in (1.0, -1.0):
            with torch.no_grad():
                weight[index] = original + sign * h
            o = cos_model.evaluate(batch, forces=True, stress=True, create_graph=False)
            values.append(((o.forces * w).sum() + 10.0 * o.stress.sum()).item())
        with torch.no_grad():
            weight[index] = original
        fd = (values[0] - values[1]) / (2 * h)
        assert grad[index].item() == pytest.approx(fd, rel=1e-6, abs=1e-8)
    assert grad.abs().max() > 1e-3


# ---------------------------------------------------------------------------------------
# (h) chunks and (i) batches do not change the result
# ---------------------------------------------------------------------------------------


def _assert_same(a, b, atol=1e-11):
    torch.testing.assert_close(a.energy, b.energy, rtol=1e-13, atol=atol)
    torch.testing.assert_close(a.atomic_energies, b.atomic_energies, rtol=1e-13, atol=atol)
    torch.testing.assert_close(a.forces, b.forces, rtol=0, atol=atol)
    torch.testing.assert_close(a.stress, b.stress, rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "torch"])
def test_chunked_evaluation_equals_unchunked(cos_model, monkeypatch, fused):
    if not fused:  # as without numba: the torch path, chunked over centre atoms
        monkeypatch.setattr(potential_module, "fused_available", lambda *_: False)
    structures = [crystal(), molecule(), small_cell()]
    batch = make_batch(structures, cos_model.elements, cos_model.cutoff, cos_model.angular_cutoff)
    whole = cos_model.evaluate(batch, forces=True, stress=True)
    monkeypatch.setattr(potential_module, "CHUNK_TRIPLETS", 50)
    assert len(potential_module._chunk_bounds(batch, 50)) > 3
    chunked = cos_model.evaluate(batch, forces=True, stress=True)
    _assert_same(chunked, whole)
    monkeypatch.undo()
    _assert_same(whole, cos_model.evaluate(batch, forces=True, stress=True))


def test_batch_without_triplets(cos_model):
    """The fused CPU kernels make their own triplets: a batch without triplet lists gives
    the same numbers; the torch path refuses it with a clear message."""
    structures = [crystal(), molecule(), small_cell()]
    args = (cos_model.elements, cos_model.cutoff, cos_model.angular_cutoff)
    full = make_batch(structures, *args)
    lean = make_batch(structures, *args, triplets=False)
    assert lean.trip_p is None and lean.trip_q is None
    ref = cos_model.evaluate(full, forces=True, stress=True)
    _assert_same(cos_model.evaluate(lean, forces=True, stress=True), ref)
    own = cos_model.make_batch(structures)
    assert own.trip_p is None  # CPU with numba: no triplet list needed
    _assert_same(cos_model.evaluate(own, forces=True, stress=True), ref)
    with pytest.raises(ValueError, match=r"triplets=True"):
        cos_model.evaluate(lean, forces=True, create_graph=True)


def test_batch_equals_one_by_one(model):
    structures = [crystal(), molecule(), slab()]
    together = evaluate(model, structures)
    single = [evaluate(model, [s]) for s in structures]
    joined = potential_module.Output(
        torch.cat([o.energy for o in single]),
        torch.cat([o.atomic_energies for o in single]),
        torch.cat([o.forces for o in single]),
        torch.cat([o.stress for o in single]),
    )
    _assert_same(together, joined)


def test_energy_decomposition(cos_model):
    """E = sum_i E_i, and the atomic energies carry the element offsets."""
    out = evaluate(cos_model, [crystal(), molecule()])
    torch.testing.assert_close(
        out.energy, torch.stack([out.atomic_energies[:6].sum(), out.atomic_energies[6:].sum()])
    )
    isolated = evaluate(cos_model, [structure(["O"], [[0.0, 0.0, 0.0]])])
    net_o = cos_model.nets["O"]
    scaled = cos_model.scaler(
        torch.zeros(1, cos_model.symmetry_functions.max_functions), torch.tensor([2])
    )
    e_net = net_o(scaled[:, : cos_model.descriptors.count("O")]).item()
    assert isolated.energy.item() == pytest.approx(3.0 * e_net - 74.9, rel=1e-14)


def test_float32_model_agrees_with_float64(cos_model):
    structures = [crystal(), molecule()]
    batch = make_batch(structures, cos_model.elements, cos_model.cutoff, cos_model.angular_cutoff)
    ref = cos_model.evaluate(batch, forces=True, stress=True)
    model32 = copy.deepcopy(cos_model).to(torch.float32)
    for create_graph in (False, True):
        out = model32.evaluate(
            batch.to(dtype=torch.float32), forces=True, stress=True, create_graph=create_graph
        )
        assert out.energy.dtype == out.forces.dtype == torch.float32
        torch.testing.assert_close(out.energy.double(), ref.energy, rtol=1e-6, atol=1e-4)
        torch.testing.assert_close(out.forces.double(), ref.forces, rtol=0, atol=1e-5)
        torch.testing.assert_close(
            out.stress.double(), ref.stress, rtol=0, atol=1e-6, equal_nan=True
        )
