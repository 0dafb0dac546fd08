"""Comparison of a potential with reference labels, frame by frame.

References: frames labelled by the potential itself (zero difference) and by ASE's EMT
(the difference is recomputed directly through hdnnp.Calculator and EMT).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from conftest import cu_potential

from hdnnp import Calculator
from hdnnp.compare import (
    check_labels,
    compare,
    comparison_to_dict,
    frame_times,
    plot_parity,
    plot_timeseries,
)
from hdnnp.io import structure_from_atoms


def trajectory(n: int = 4):
    """``n`` rattled, slightly strained 4-atom fcc Cu cells, as a short 'trajectory'."""
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.55 + 0.02 * k, cubic=True)
        atoms.rattle(0.05, seed=k)
        atoms.info["time"] = 2.0 * k
        frames.append(atoms)
    return frames


def labelled(frames, calc, source: str = "traj.extxyz"):
    """Structures of ``frames`` with the energy and forces of ``calc`` as labels."""
    structures = []
    for index, atoms in enumerate(frames):
        atoms = atoms.copy()
        atoms.calc = calc
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        structures.append(structure_from_atoms(atoms, source=source, index=index))
    return structures


def test_self_labelled_data_has_zero_error():
    model = cu_potential()
    result = compare(model, labelled(trajectory(), Calculator(cu_potential())))
    np.testing.assert_allclose(result.energy_diff, 0.0, atol=1e-12)
    np.testing.assert_allclose(result.force_rmse, 0.0, atol=1e-12)
    assert result.metrics["energy_per_atom"]["rmse"] < 1e-12
    assert result.metrics["forces"]["rmse"] < 1e-12


def test_emt_labelled_data_matches_a_direct_computation():
    frames = trajectory()
    result = compare(cu_potential(), labelled(frames, EMT()))
    hdnnp_calc = Calculator(cu_potential())
    for k, atoms in enumerate(frames):
        ours, emt = atoms.copy(), atoms.copy()
        ours.calc, emt.calc = hdnnp_calc, EMT()
        n = len(atoms)
        assert result.energy_pred[k] == pytest.approx(ours.get_potential_energy() / n, abs=1e-12)
        assert result.energy_ref[k] == pytest.approx(emt.get_potential_energy() / n, abs=1e-12)
        df = ours.get_forces() - emt.get_forces()
        assert result.force_rmse[k] == pytest.approx(np.sqrt(np.mean(df**2)), rel=1e-10)
    assert np.all(np.abs(result.energy_diff) > 1e-3)  # the two potentials differ
    rmse = np.sqrt(np.mean(result.energy_diff**2))
    assert result.metrics["energy_per_atom"]["rmse"] == pytest.approx(rmse, rel=1e-12)
    np.testing.assert_allclose(result.time, [0.0, 2.0, 4.0, 6.0])


def test_series_plots_and_dict(tmp_path):
    result = compare(cu_potential(), labelled(trajectory(3), EMT()))
    data = json.loads(json.dumps(comparison_to_dict(result)))  # JSON-serialisable
    assert data["n_frames"] == 3
    for key in ("energy_per_atom_pred", "energy_per_atom_ref", "energy_per_atom_diff"):
        assert len(data[key]) == 3
    assert len(data["force_rmse"]) == len(data["time"]) == len(data["frames"]) == 3
    assert data["frames"][2] == {"source": "traj.extxyz", "index": 2}
    for plot in (plot_timeseries, plot_parity):
        path = plot(result, tmp_path / f"{plot.__name__}.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_time_axis_needs_time_on_every_frame():
    structures = labelled(trajectory(3), EMT())
    assert frame_times(structures).tolist() == [0.0, 2.0, 4.0]
    del structures[1].info["time"]
    assert frame_times(structures) is None
    assert compare(cu_potential(), structures).time is None


def test_frame_without_labels_is_named():
    structures = labelled(trajectory(3), EMT())
    unlabelled = structure_from_atoms(trajectory(3)[1], source="md.extxyz", index=7)
    structures[1] = unlabelled
    with pytest.raises(ValueError, match=r"md\.extxyz, frame 7: no reference energy and forces"):
        check_labels(structures)
    with pytest.raises(ValueError, match="1 of 3 frames"):
        compare(cu_potential(), structures)


def test_md_trajectories_give_their_time_fs():
    structures = labelled(trajectory(3), EMT())
    for k, s in enumerate(structures):
        del s.info["time"]
        s.info["time_fs"] = 0.5 * k
    assert frame_times(structures).tolist() == [0.0, 0.5, 1.0]
