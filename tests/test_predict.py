"""hdnnp.predict: batched predictions, error metrics and the extended XYZ predictions file."""

from __future__ import annotations

import dataclasses
import math
import os

import ase.io
import numpy as np
import pytest
import torch
from test_potential_file import small_potential, small_structures

from hdnnp.predict import (
    DeviceUnavailableError,
    Prediction,
    batch_ranges,
    error_metrics,
    format_metrics,
    predict,
    write_predictions,
)


@pytest.fixture(scope="module")
def model():
    return small_potential()


@pytest.fixture(scope="module")
def structures():
    return small_structures(5)


@pytest.fixture(scope="module")
def predictions(model, structures):
    return predict(model, structures)


def test_prediction_shapes_and_stress_only_for_periodic(structures, predictions):
    assert len(predictions) == len(structures)
    for s, p in zip(structures, predictions, strict=True):
        assert isinstance(p, Prediction) and isinstance(p.energy, float)
        assert p.forces.shape == (s.n_atoms, 3) and p.atomic_energies.shape == (s.n_atoms,)
        assert p.forces.dtype == np.float64
        assert p.atomic_energies.sum() == pytest.approx(p.energy, rel=1e-14)
        assert np.abs(p.forces.sum(axis=0)).max() < 1e-12  # no external field
        if all(s.pbc):
            assert p.stress.shape == (3, 3) and np.allclose(p.stress, p.stress.T, atol=1e-15)
        else:
            assert p.stress is None


def test_forces_are_minus_energy_gradient(model, structures, predictions):
    h = 1e-5
    for k in (0, 1):  # periodic and open
        s, p = structures[k], predictions[k]
        displaced = []
        for atom in range(s.n_atoms):
            for axis in range(3):
                for sign in (1.0, -1.0):
                    pos = s.positions.copy()
                    pos[atom, axis] += sign * h
                    displaced.append(dataclasses.replace(s, positions=pos))
        e = np.array([q.energy for q in predict(model, displaced, stress=False)])
        finite = -(e[0::2] - e[1::2]).reshape(s.n_atoms, 3) / (2 * h)
        np.testing.assert_allclose(p.forces, finite, rtol=0, atol=1e-7)


def test_stress_is_strain_derivative(model, structures, predictions):
    """ASE convention: sigma = (1/V) dE/d(epsilon), positive when the cell wants to shrink."""
    s, p = structures[0], predictions[0]
    volume = abs(np.linalg.det(s.cell))
    h = 1e-6
    for a, b in ((0, 0), (1, 2), (2, 2)):
        energies = []
        for sign in (1.0, -1.0):
            eps = np.zeros((3, 3))
            eps[a, b] += 0.5 * sign * h
            eps[b, a] += 0.5 * sign * h
            deform = np.eye(3) + eps
            strained = dataclasses.replace(
                s, positions=s.positions @ deform, cell=np.asarray(s.cell) @ deform
            )
            energies.append(predict(model, [strained])[0].energy)
        derivative = (energies[0] - energies[1]) / (2 * h) / volume
        assert p.stress[a, b] == pytest.approx(derivative, abs=1e-8)


def test_batching_does_not_change_results(model, structures, predictions):
    one_by_one = predict(model, structures, batch_atoms=1)
    for a, b in zip(predictions, one_by_one, strict=True):
        assert b.energy == pytest.approx(a.energy, rel=1e-14)
        np.testing.assert_allclose(b.forces, a.forces, rtol=0, atol=1e-12)


def test_batch_ranges():
    assert batch_ranges([3, 3, 3, 3], 6) == [(0, 2), (2, 4)]
    assert batch_ranges([3, 10, 3], 6) == [(0, 1), (1, 2), (2, 3)]
    assert batch_ranges([2, 2, 2], 100) == [(0, 3)]
    assert batch_ranges([], 10) == []
    with pytest.raises(ValueError, match="batch_atoms"):
        batch_ranges([1], 0)


def test_stress_options(model, structures):
    assert all(p.stress is None for p in predict(model, structures[:2], stress=False))
    periodic = [s for s in structures if all(s.pbc)]
    assert all(p.stress is not None for p in predict(model, periodic, stress=True))
    with pytest.raises(ValueError, match="frame 1.*not periodic"):
        predict(model, structures[:2], stress=True)


def test_float32_close_to_float64_and_model_unchanged(model, structures, predictions):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    single = predict(model, structures, dtype="float32")
    for a, b in zip(predictions, single, strict=True):
        assert b.energy == pytest.approx(a.energy, rel=1e-6)
        np.testing.assert_allclose(b.forces, a.forces, rtol=0, atol=1e-4)
        np.testing.assert_allclose(b.atomic_energies, a.atomic_energies, rtol=1e-6)
    assert model.dtype == torch.float64
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert predict(model, structures[:1], dtype=torch.float32)[0].energy == single[0].energy


def test_cuda_unavailable_is_a_clear_error(model, structures):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(DeviceUnavailableError, match="CUDA is not available.*cpu"):
        predict(model, structures, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(model, structures, predictions):
    on_gpu = predict(model, structures, device="cuda")
    for a, b in zip(predictions, on_gpu, strict=True):
        assert b.energy == pytest.approx(a.energy, rel=1e-12)
        np.testing.assert_allclose(b.forces, a.forces, rtol=0, atol=1e-10)


def test_bad_arguments(model, structures):
    with pytest.raises(ValueError, match="dtype"):
        predict(model, structures, dtype="float16")
    with pytest.raises(ValueError, match="device"):
        predict(model, structures, device="tpu")
    assert predict(model, []) == []


def test_unknown_element_names_the_frame(model, structures):
    s = structures[1]
    numbers = s.numbers.copy()
    numbers[0] = 7
    bad = dataclasses.replace(s, numbers=numbers)
    with pytest.raises(ValueError, match=r"small-0, frame 1: element\(s\) N not known"):
        predict(model, [structures[0], bad])


def test_progress_bar_on_stderr(model, structures, capsys):
    predict(model, structures, progress=True)
    err = capsys.readouterr().err
    assert "atom" in err and "/s" in err
    predict(model, structures)
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- metrics


def test_error_metrics_values(structures, predictions):
    metrics = error_metrics(structures, predictions)
    de = [(p.energy - s.energy) / s.n_atoms for s, p in zip(structures, predictions, strict=True)]
    df = np.concatenate([p.forces - s.forces for s, p in zip(structures, predictions, strict=True)])
    e, f = metrics["energy_per_atom"], metrics["forces"]
    assert e["rmse"] == pytest.approx(math.sqrt(np.mean(np.square(de))), rel=1e-13)
    assert e["mae"] == pytest.approx(np.mean(np.abs(de)), rel=1e-13)
    assert f["rmse"] == pytest.approx(math.sqrt(np.mean(df**2)), rel=1e-13)
    assert f["mae"] == pytest.approx(np.mean(np.abs(df)), rel=1e-13)
    assert (e["n_structures"], e["n_skipped"]) == (5, 0)
    assert (f["n_structures"], f["n_atoms"], f["n_skipped"]) == (5, 30, 0)
    numbers = np.concatenate([s.numbers for s in structures])
    for z, symbol in ((1, "H"), (8, "O")):
        part = df[numbers == z]
        m = metrics["forces_per_element"][symbol]
        assert m["n_atoms"] == len(part)
        assert m["rmse"] == pytest.approx(math.sqrt(np.mean(part**2)), rel=1e-13)
        assert m["mae"] == pytest.approx(np.mean(np.abs(part)), rel=1e-13)
    table = format_metrics(metrics)
    assert "meV/atom" in table and f"{e['rmse'] * 1e3:.6g}" in table


def test_error_metrics_skips_and_counts_unlabelled(structures, predictions):
    mixed = list(structures)
    mixed[0] = dataclasses.replace(mixed[0], energy=None, forces=None)
    mixed[1] = dataclasses.replace(mixed[1], forces=None)
    mixed[2] = dataclasses.replace(mixed[2], energy=float("nan"))
    metrics = error_metrics(mixed, predictions)
    e, f = metrics["energy_per_atom"], metrics["forces"]
    assert (e["n_structures"], e["n_skipped"]) == (3, 2)  # frames 1, 3, 4
    assert (f["n_structures"], f["n_atoms"], f["n_skipped"]) == (3, 18, 2)  # frames 2, 3, 4
    keep = (1, 3, 4)
    only = error_metrics([structures[k] for k in keep], [predictions[k] for k in keep])
    assert e["rmse"] == pytest.approx(only["energy_per_atom"]["rmse"], rel=1e-14)
    assert "skipped: 2 structure(s) without reference energy" in format_metrics(metrics)
    nothing = error_metrics(small_structures(2, labels=False), predictions[:2])
    assert nothing["energy_per_atom"]["rmse"] is None and nothing["forces"]["mae"] is None
    assert nothing["forces_per_element"] == {}
    with pytest.raises(ValueError, match="one to one"):
        error_metrics(structures, predictions[:2])


# ---------------------------------------------------------------------- output file


def test_write_predictions_round_trip(structures, predictions, tmp_path):
    labelled = list(structures)
    ref_stress = np.arange(9.0).reshape(3, 3) * 1e-3
    labelled[0] = dataclasses.replace(labelled[0], stress=ref_stress + ref_stress.T)
    labelled[3] = dataclasses.replace(labelled[3], energy=None, forces=None)
    path = tmp_path / "out" / "pred.extxyz"
    write_predictions(path, labelled, predictions)
    frames = ase.io.read(path, ":")
    assert len(frames) == len(labelled)
    for s, p, atoms in zip(labelled, predictions, frames, strict=True):
        assert list(atoms.numbers) == list(s.numbers)
        np.testing.assert_allclose(atoms.positions, s.positions, atol=1e-8)
        assert atoms.get_potential_energy() == pytest.approx(p.energy, rel=1e-15)
        np.testing.assert_allclose(atoms.get_forces(), p.forces, atol=1e-8)
        np.testing.assert_allclose(atoms.get_potential_energies(), p.atomic_energies, atol=1e-8)
        assert atoms.info["source"] == s.source and atoms.info["source_index"] == s.index
        if all(s.pbc):
            assert atoms.pbc.all()
            np.testing.assert_allclose(atoms.get_stress(voigt=False), p.stress, atol=1e-15)
        else:
            assert not atoms.pbc.any() and "stress" not in atoms.calc.results
        if s.energy is None:
            assert "ref_energy" not in atoms.info and "ref_forces" not in atoms.arrays
        else:
            assert atoms.info["ref_energy"] == s.energy
            np.testing.assert_allclose(atoms.arrays["ref_forces"], s.forces, atol=1e-8)
    np.testing.assert_allclose(frames[0].info["ref_stress"], labelled[0].stress, atol=1e-15)
    assert "ref_stress" not in frames[2].info


def test_write_predictions_is_atomic_and_checks_lengths(
    structures, predictions, tmp_path, monkeypatch
):
    path = tmp_path / "pred.extxyz"
    with pytest.raises(ValueError, match="one to one"):
        write_predictions(path, structures, predictions[:1])
    assert not path.exists()

    def fail(_fd):
        raise OSError("simulated failure")

    monkeypatch.setattr(os, "fsync", fail)  # fails after the frames were written
    with pytest.raises(OSError, match="simulated"):
        write_predictions(path, structures, predictions)
    assert list(tmp_path.iterdir()) == []


def test_info_keys_that_clash_with_results_are_dropped(structures, predictions, tmp_path):
    s = dataclasses.replace(
        structures[1], info={"energy": 1.0, "comment": "kept", "stress": np.zeros(6)}
    )
    path = tmp_path / "pred.extxyz"
    write_predictions(path, [s], predictions[1:2])
    atoms = ase.io.read(path)
    assert atoms.info["comment"] == "kept"
    assert atoms.get_potential_energy() == pytest.approx(predictions[1].energy, rel=1e-15)
