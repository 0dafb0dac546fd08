"""The hdnnp potential file: round trip, version and format checks, atomic writes.

Also home of :func:`small_potential` and :func:`small_structures`, a tiny self-contained
H/O potential and data set used by the API, predict and CLI tests.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import torch
from ase.build import molecule

from hdnnp.batch import make_batch
from hdnnp.descriptors.params import DescriptorSet, SymmetryFunction
from hdnnp.io import structure_from_atoms
from hdnnp.potential import HDNNP, NetworkSpec
from hdnnp.potential_file import FORMAT_NAME, load_file, save, to_dict
from hdnnp.predict import predict
from hdnnp.scaling import ScalingStats
from hdnnp.structures import Structure


def small_structures(n: int = 4, seed: int = 0, labels: bool = True) -> list[Structure]:
    """``n`` water clusters: even frames periodic boxes, odd frames open (no cell).

    With ``labels`` the frames carry made-up reference energies and forces (eV, eV/Å).
    """
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        atoms = molecule("H2O")
        shifted = molecule("H2O")
        shifted.translate([2.6, 0.3, 0.1])
        atoms += shifted
        atoms.rattle(0.05, seed=seed + k)
        if k % 2 == 0:
            atoms.set_cell(np.diag([6.0, 6.5, 7.0]) + 0.2 * np.triu(np.ones((3, 3)), 1))
            atoms.pbc = True
        s = structure_from_atoms(atoms, source=f"small-{seed}", index=k)
        if labels:
            energy = -918.6 - 0.1 * k + 0.01 * rng.standard_normal()
            forces = 0.3 * rng.standard_normal((len(atoms), 3))
            s = dataclasses.replace(s, energy=energy, forces=forces)
        out.append(s)
    return out


def small_potential(seed: int = 0) -> HDNNP:
    """An H/O potential with radial and both angular types, scaled from small_structures."""
    functions = [
        SymmetryFunction(c, 2, (n,), eta=eta, rc=4.0, rs=rs)
        for c in ("H", "O")
        for n in ("H", "O")
        for eta, rs in ((0.3, 0.0), (1.0, 1.0))
    ]
    functions += [
        SymmetryFunction("H", 3, ("H", "O"), eta=0.1, rc=4.0, zeta=2.0, lambda_=1.0),
        SymmetryFunction("O", 9, ("H", "H"), eta=0.05, rc=4.0, zeta=1.0, lambda_=-1.0),
        SymmetryFunction("O", 9, ("H", "O"), eta=0.05, rc=4.0, zeta=4.0, lambda_=1.0),
    ]
    descriptors = DescriptorSet(("O", "H"), tuple(functions), "tanhu")
    spec = NetworkSpec.uniform(descriptors.elements, hidden=(6, 5), activations="ttl")
    generator = torch.Generator().manual_seed(seed)
    model = HDNNP(descriptors, spec, 0.5, {"H": -13.6, "O": -432.1}, generator=generator)
    batch = make_batch(small_structures(6), model.elements, model.cutoff, model.angular_cutoff)
    g = model.descriptors_of(batch)
    stats = [
        ScalingStats.from_values(g[batch.species == e, : descriptors.count(symbol)].numpy())
        for e, symbol in enumerate(model.elements)
    ]
    model.scaler.set_stats(stats, "scale_center", 0.0, 1.0)
    model.metadata["provenance"] = {"made_by": "tests.small_potential", "seed": seed}
    return model.eval()


@pytest.fixture
def model():
    return small_potential()


def test_round_trip_identical_outputs(model, tmp_path):
    path = save(model, tmp_path / "small.hdnnp")
    back = load_file(path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, back.state_dict()[key]), key
    assert back.descriptors == model.descriptors
    assert back.network_spec == model.network_spec
    assert back.metadata == model.metadata
    assert back.scaler.mode == model.scaler.mode
    structures = small_structures(4)
    for a, b in zip(predict(model, structures), predict(back, structures), strict=True):
        assert a.energy == b.energy
        assert np.array_equal(a.forces, b.forces)
        assert np.array_equal(a.atomic_energies, b.atomic_energies)
        assert (a.stress is None) == (b.stress is None)
        if a.stress is not None:
            assert np.array_equal(a.stress, b.stress)


def test_saved_file_is_self_describing_json(model, tmp_path):
    data = json.loads(save(model, tmp_path / "small.hdnnp").read_text())
    assert data["format"] == FORMAT_NAME
    assert data["units"]["energy"] == "eV"
    assert set(data["networks"]["elements"]) == {"H", "O"}


def _write_json(path, data):
    path.write_text(json.dumps(data))
    return path


def test_newer_format_version_asks_to_upgrade(model, tmp_path):
    data = to_dict(model)
    data["format_version"] = "99.0"
    path = _write_json(tmp_path / "future.hdnnp", data)
    with pytest.raises(ValueError, match="(?i)upgrade") as info:
        load_file(path)
    assert "99.0" in str(info.value) and str(path) in str(info.value)


def test_older_minor_version_loads(model, tmp_path):
    data = to_dict(model)
    data["format_version"] = "1.7"
    load_file(_write_json(tmp_path / "minor.hdnnp", data))


def test_not_json_is_a_clear_error(tmp_path):
    path = tmp_path / "weights.pt"
    path.write_text("this is not json\n")
    with pytest.raises(ValueError, match="not a valid hdnnp potential file") as info:
        load_file(path)
    assert str(path) in str(info.value)


def test_missing_format_field_is_a_clear_error(model, tmp_path):
    data = to_dict(model)
    del data["format"]
    path = _write_json(tmp_path / "anon.hdnnp", data)
    with pytest.raises(ValueError, match="not an hdnnp potential file") as info:
        load_file(path)
    assert str(path) in str(info.value)


def test_missing_field_is_named(model, tmp_path):
    data = to_dict(model)
    del data["energy_scale"]
    with pytest.raises(ValueError, match="energy_scale"):
        load_file(_write_json(tmp_path / "partial.hdnnp", data))


def test_save_is_atomic(model, tmp_path, monkeypatch):
    """A write that fails midway leaves no file (and no temporary file) behind, and an
    existing file untouched."""

    def fail(_fd):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", fail)  # called after the content was written
    path = tmp_path / "new.hdnnp"
    with pytest.raises(OSError, match="simulated"):
        save(model, path)
    assert list(tmp_path.iterdir()) == []

    monkeypatch.undo()
    save(model, path)
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        save(small_potential(seed=1), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["new.hdnnp"]
