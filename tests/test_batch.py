"""Batches: flattened pairs/triplets against ASE's neighbour list, labels, validation."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from ase.data import atomic_numbers
from ase.neighborlist import neighbor_list

from hdnnp.batch import make_batch, species_index
from hdnnp.structures import Structure

ELEMENTS = ("H", "C", "O")  # ordered by atomic number
CUTOFF, ANGULAR = 3.5, 2.8


def structure(symbols, positions, cell=None, pbc=(False, False, False), **kw) -> Structure:
    cell = np.zeros((3, 3)) if cell is None else np.asarray(cell, dtype=np.float64)
    numbers = np.array([atomic_numbers[s] for s in symbols])
    return Structure(numbers, np.asarray(positions, dtype=np.float64), cell, tuple(pbc), **kw)


def _random(seed, symbols, cell, pbc=(True, True, True)) -> Structure:
    rng = np.random.default_rng(seed)
    cell = np.asarray(cell, dtype=np.float64)
    # some atoms deliberately outside the cell
    positions = (rng.random((len(symbols), 3)) * 1.4 - 0.2) @ cell
    return structure(symbols, positions, cell, pbc)


def _structures():
    return [
        _random(0, ["H", "C", "O", "O"], [[2.6, 0, 0], [0.5, 2.4, 0], [0.2, -0.3, 2.9]]),
        structure(["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]),
        _random(1, ["C", "C", "H"], [[3.0, 0, 0], [0, 3.3, 0], [0, 0, 4.0]], (True, False, True)),
    ]


def _ase_pairs(s: Structure, cutoff: float) -> Counter:
    from ase import Atoms

    atoms = Atoms(numbers=s.numbers, positions=s.positions, cell=s.cell, pbc=s.pbc)
    i, j, shift = neighbor_list("ijS", atoms, cutoff)
    return Counter(zip(i.tolist(), j.tolist(), map(tuple, shift.tolist()), strict=True))


def test_pairs_match_ase_neighbor_list():
    structures = _structures()
    batch = make_batch(structures, ELEMENTS, CUTOFF, ANGULAR)
    offset = 0
    for b, s in enumerate(structures):
        sel = batch.pair_image == b
        i = batch.pair_i[sel].numpy() - offset
        j = batch.pair_j[sel].numpy() - offset
        shift = batch.pair_shift[sel].numpy().astype(int)
        ours = Counter(zip(i.tolist(), j.tolist(), map(tuple, shift.tolist()), strict=True))
        assert ours == _ase_pairs(s, CUTOFF)
        offset += s.n_atoms
    assert torch.all(batch.pair_i[1:] >= batch.pair_i[:-1])  # sorted by centre
    # vectors r_j - r_i + S @ cell are all inside the cutoff
    cell = batch.cell[batch.pair_image]
    vec = (
        batch.positions[batch.pair_j]
        - batch.positions[batch.pair_i]
        + torch.einsum("pa,pab->pb", batch.pair_shift, cell)
    )
    assert torch.all(vec.norm(dim=1) < CUTOFF)


def test_batch_layout_and_labels():
    structures = _structures()
    labelled = Structure(
        structures[1].numbers,
        structures[1].positions,
        structures[1].cell,
        structures[1].pbc,
        energy=-5.5,
        forces=np.arange(9.0).reshape(3, 3),
    )
    structures[1] = labelled
    batch = make_batch(structures, ELEMENTS, CUTOFF, ANGULAR)
    assert batch.n_structures == 3
    assert batch.n_atoms.tolist() == [4, 3, 3]
    assert batch.image.tolist() == [0] * 4 + [1] * 3 + [2] * 3
    assert batch.periodic.tolist() == [True, False, False]
    assert batch.species.tolist() == [0, 1, 2, 2, 2, 0, 0, 1, 1, 0]
    assert torch.equal(batch.cell[1], torch.zeros(3, 3))
    assert np.isnan(batch.energy[0].item()) and batch.energy[1].item() == -5.5
    assert torch.isnan(batch.forces[:4]).all()
    assert torch.equal(batch.forces[4:7], torch.arange(9.0).reshape(3, 3))
    # pairs never cross structures
    assert torch.equal(batch.image[batch.pair_i], batch.pair_image)
    assert torch.equal(batch.image[batch.pair_j], batch.pair_image)


def test_triplets_each_unordered_pair_once():
    structures = _structures()
    batch = make_batch(structures, ELEMENTS, CUTOFF, ANGULAR)
    p, q = batch.trip_p, batch.trip_q
    assert torch.all(p < q)
    assert torch.equal(batch.pair_i[p], batch.pair_i[q])
    centre = batch.pair_i[p]
    assert torch.all(centre[1:] >= centre[:-1])
    # both legs inside the angular cutoff
    pos, cell = batch.positions, batch.cell[batch.pair_image]
    vec = pos[batch.pair_j] - pos[batch.pair_i] + torch.einsum("pa,pab->pb", batch.pair_shift, cell)
    d = vec.norm(dim=1)
    assert torch.all(d[p] < ANGULAR) and torch.all(d[q] < ANGULAR)
    # count: n (n - 1) / 2 per centre, n = neighbours within the angular cutoff
    n = torch.bincount(batch.pair_i[d < ANGULAR], minlength=batch.species.shape[0])
    expected = (n * (n - 1) // 2).sum().item()
    assert p.numel() == expected > 0
    assert len(set(zip(p.tolist(), q.tolist(), strict=True))) == p.numel()


def test_strict_cutoff_excludes_pair_at_exact_distance():
    s = structure(["C", "C"], [[0.0, 0.0, 0.0], [CUTOFF, 0.0, 0.0]])
    assert make_batch([s], ELEMENTS, CUTOFF, ANGULAR).pair_i.numel() == 0
    s = structure(["C", "C"], [[0.0, 0.0, 0.0], [np.nextafter(CUTOFF, 0.0), 0.0, 0.0]])
    assert make_batch([s], ELEMENTS, CUTOFF, ANGULAR).pair_i.numel() == 2


def test_to_dtype_converts_floating_tensors_only():
    batch = make_batch(_structures(), ELEMENTS, CUTOFF, ANGULAR).to(dtype=torch.float32)
    assert batch.positions.dtype == torch.float32 and batch.cell.dtype == torch.float32
    assert batch.pair_i.dtype == torch.int64 and batch.species.dtype == torch.int64
    assert batch.periodic.dtype == torch.bool


# ---------------------------------------------------------------------------------------
# errors name the frame and the field
# ---------------------------------------------------------------------------------------


def test_unknown_element_names_frame_and_element():
    s = structure(["O", "Cl", "H"], np.eye(3), source="train.data", index=7)
    with pytest.raises(ValueError, match=r"train\.data, frame 7: element\(s\) Cl not known"):
        make_batch([s], ELEMENTS, CUTOFF, ANGULAR)
    with pytest.raises(ValueError, match="Cl"):
        species_index(s, ELEMENTS)
    assert species_index(structure(["O", "H", "C"], np.eye(3)), ELEMENTS).tolist() == [2, 0, 1]


def test_pbc_with_zero_cell_vector_raises():
    cell = np.diag([5.0, 5.0, 0.0])
    s = structure(["H", "H"], [[0, 0, 0], [1, 0, 0]], cell, (True, True, True), index=2)
    with pytest.raises(ValueError, match=r"frame 2: pbc is set along lattice vector 2"):
        make_batch([s], ELEMENTS, CUTOFF, ANGULAR)
    # the same cell is fine for a slab
    ok = structure(["H", "H"], [[0, 0, 0], [1, 0, 0]], cell, (True, True, False))
    assert make_batch([ok], ELEMENTS, CUTOFF, ANGULAR).pair_i.numel() == 2


def test_nan_coordinates_raise():
    s = structure(["H", "O"], [[0, 0, 0], [np.nan, 0, 0]], source="x.data", index=4)
    with pytest.raises(ValueError, match=r"x\.data, frame 4: field 'positions'.*atom 1"):
        make_batch([s], ELEMENTS, CUTOFF, ANGULAR)


def test_bad_cell_raises():
    s = structure(["H"], [[0, 0, 0]], np.full((3, 3), np.inf), (True, True, True))
    with pytest.raises(ValueError, match="field 'cell'"):
        make_batch([s], ELEMENTS, CUTOFF, ANGULAR)
    flat = np.array([[3.0, 0, 0], [0, 3.0, 0], [3.0, 3.0, 0]])
    s = structure(["H"], [[0, 0, 0]], flat, (True, True, True))
    with pytest.raises(ValueError, match="field 'cell'"):
        make_batch([s], ELEMENTS, CUTOFF, ANGULAR)
