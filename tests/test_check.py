"""Data set checks (:mod:`hdnnp.check`) and the ``hdnnp check`` command.

Small EMT copper data sets are written to extended XYZ with one injected defect each;
every defect must be reported with the right source, frame and kind, and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from conftest import shared_path

from hdnnp.check import (
    ERROR_KINDS,
    CheckReport,
    check_structures,
    corrupted_frames,
    format_report,
    report_to_dict,
)
from hdnnp.cli import main
from hdnnp.io import read_structures, write_input_data
from hdnnp.structures import Structure

A = 3.6  # Å, cubic fcc Cu cell; the 2x2x2 supercell is 7.2 Å wide


def _frames(n: int = 20, seed: int = 0, substitute: str | None = None) -> list[Structure]:
    """``n`` rattled 32-atom Cu frames with EMT labels (atom 0 replaced by ``substitute``)."""
    rng = np.random.default_rng(seed)
    base = bulk("Cu", "fcc", a=A, cubic=True).repeat((2, 2, 2))
    if substitute:
        base.symbols[0] = substitute
    frames = []
    for k in range(n):
        atoms = base.copy()
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        atoms.calc = EMT()
        frames.append(
            Structure(
                numbers=atoms.numbers.copy(),
                positions=atoms.positions.copy(),
                cell=atoms.cell.array.copy(),
                pbc=(True, True, True),
                energy=float(atoms.get_potential_energy()),
                forces=atoms.get_forces().copy(),
                index=k,
            )
        )
    return frames


@pytest.fixture(scope="module")
def clean() -> list[Structure]:
    return _frames()


def _write(path: Path, frames: list[Structure]) -> Path:
    ase.io.write(path, [s.to_atoms() for s in frames], format="extxyz")
    return path


def _check(path: Path, **kwargs) -> CheckReport:
    return check_structures(read_structures(path), **kwargs)


def _found(issues) -> set[tuple[str, int, str]]:
    return {(i.source, i.frame, i.kind) for i in issues}


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


# ----------------------------------------------------------------------- clean data


def test_clean_set_has_no_errors(tmp_path, clean):
    path = _write(tmp_path / "clean.extxyz", clean)
    report = _check(path)
    assert report.ok and report.errors == [] and report.warnings == []
    assert report.overall.frames == 20 and report.overall.atoms == 640
    assert report.overall.elements == {"Cu": {"atoms": 640, "frames": 20}}
    assert report.overall.compositions == {
        "Cu": {"frames": 20, "atoms": 640, "formulas": {"Cu32": 20}}
    }
    assert list(report.sources) == [str(path)]
    energies = np.array([s.energy / s.n_atoms for s in clean])
    assert report.energy_per_atom.count == 20
    assert report.energy_per_atom.mean == pytest.approx(energies.mean())
    assert report.force_components.count == 20 * 32 * 3
    assert report.max_force.max == pytest.approx(
        max(np.linalg.norm(s.forces, axis=1).max() for s in clean)
    )
    assert corrupted_frames(report) == set()
    assert "OK: no errors" in format_report(report)


# ------------------------------------------------------------------ injected defects


def _nan_force(frames, k):
    forces = frames[k].forces.copy()
    forces[3, 1] = np.nan
    frames[k] = dataclasses.replace(frames[k], forces=forces)


def _no_energy(frames, k):
    frames[k] = dataclasses.replace(frames[k], energy=None)


def _close(frames, k):
    positions = frames[k].positions.copy()
    positions[1] = positions[0] + [0.3, 0.0, 0.0]
    frames[k] = dataclasses.replace(frames[k], positions=positions)


def _close_periodic(frames, k):
    positions = frames[k].positions.copy()
    positions[1] = positions[0] + [2 * A - 0.3, 0.0, 0.0]  # 0.3 Å from the image of 0
    frames[k] = dataclasses.replace(frames[k], positions=positions)


def _duplicate(frames, k):
    frames[k] = dataclasses.replace(frames[2], index=k)


def _energy_outlier(frames, k):
    frames[k] = dataclasses.replace(frames[k], energy=frames[k].energy + 2.0 * 32)


def _huge_force(frames, k):
    forces = frames[k].forces.copy()
    forces[5, 2] = 1000.0
    frames[k] = dataclasses.replace(frames[k], forces=forces)


DEFECTS = {
    "nan": (_nan_force, "field 'forces' is not finite (NaN/inf): atom 3, component y"),
    "missing_energy": (_no_energy, "no reference energy"),
    "close_atoms": (_close, "atoms 0 and 1 are 0.3000 Å apart; 1 pair(s)"),
    "close_periodic": (_close_periodic, "across the periodic boundary (cell shift (-1, 0, 0))"),
    "duplicate": (_duplicate, "frame 2"),
    "energy_outlier": (_energy_outlier, "robust std"),
    "force_outlier": (_huge_force, "largest force |F| = 1000 eV/Å on atom 5"),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_defect_is_reported(tmp_path, clean, defect):
    inject, expected_message = DEFECTS[defect]
    frames = list(clean)
    inject(frames, 7)
    path = _write(tmp_path / "data.extxyz", frames)
    report = _check(path)
    kind = "close_atoms" if defect == "close_periodic" else defect
    assert _found(report.errors) == {(str(path), 7, kind)}
    assert expected_message in report.errors[0].message
    assert corrupted_frames(report) == {(str(path), 7)}
    assert report.warnings == []


def test_frame_numbers_follow_the_file_with_an_index(tmp_path, clean):
    frames = list(clean)
    _energy_outlier(frames, 8)
    path = _write(tmp_path / "data.extxyz", frames)
    report = check_structures(read_structures(f"{path}@::2"))
    assert _found(report.errors) == {(str(path), 8, "energy_outlier")}


def test_missing_forces_and_nan_energy_and_positions(clean):
    frames = [dataclasses.replace(s, source="mem") for s in clean]
    frames[1] = dataclasses.replace(frames[1], forces=None)
    frames[2] = dataclasses.replace(frames[2], energy=float("inf"))
    positions = frames[3].positions.copy()
    positions[4, 0] = np.nan
    frames[3] = dataclasses.replace(frames[3], positions=positions)
    report = check_structures(frames)
    assert _found(report.errors) == {
        ("mem", 1, "missing_forces"),
        ("mem", 2, "nan"),
        ("mem", 3, "nan"),
    }
    messages = [i.message for i in report.errors]
    assert "field 'energy'" in messages[1] and "field 'positions'" in messages[2]


def test_max_force_and_self_image(clean):
    frames = list(clean)
    forces = frames[4].forces.copy()
    forces[2, 0] = -6.0  # no statistical outlier, but above max_force
    frames[4] = dataclasses.replace(frames[4], forces=forces)
    assert check_structures(frames).ok
    report = check_structures(frames, max_force=5.0)
    assert _found(report.errors) == {("", 4, "force_outlier")}
    assert "above max_force 5 eV/Å (first: atom 2, x)" in report.errors[0].message
    tiny = Structure(
        numbers=np.array([29]),
        positions=np.zeros((1, 3)),
        cell=np.diag([0.4, 5.0, 5.0]),
        pbc=(True, True, True),
        energy=-1.0,
        forces=np.zeros((1, 3)),
    )
    report = check_structures([tiny])
    assert [i.kind for i in report.errors] == ["close_atoms"]
    assert "atom 0 is 0.4000 Å from its own periodic image" in report.errors[0].message


def test_invalid_frames_are_reported_not_raised(clean):
    bad_cell = dataclasses.replace(clean[0], cell=np.zeros((3, 3)), index=0)
    bad_forces = dataclasses.replace(clean[1], forces=np.zeros((5, 3)), index=1)
    report = check_structures([bad_cell, bad_forces, *clean[2:]])
    assert _found(report.errors) == {("", 0, "invalid"), ("", 1, "invalid")}
    assert "cell vector 0 is zero" in report.errors[0].message
    assert "field 'forces' has shape (5, 3)" in report.errors[1].message


def test_two_sources_duplicate_across_files(tmp_path, clean):
    first = _write(tmp_path / "a.extxyz", clean[:10])
    second = _write(tmp_path / "b.extxyz", [clean[12], clean[3], clean[14]])
    report = check_structures(read_structures(first) + read_structures(second))
    assert _found(report.errors) == {(str(second), 1, "duplicate")}
    assert f"same structure as {first} frame 3" in report.errors[0].message
    assert {k: v.frames for k, v in report.sources.items()} == {str(first): 10, str(second): 3}
    assert report.overall.frames == 13


def test_file_given_twice_is_a_warning_not_corruption(tmp_path, clean):
    path = _write(tmp_path / "a.extxyz", clean[:6])
    report = check_structures(read_structures(path) + read_structures(f"{path}@4:"))
    assert report.ok and corrupted_frames(report) == set()
    assert _found(report.warnings) == {
        (str(path), 4, "repeated_frame"),
        (str(path), 5, "repeated_frame"),
    }


def test_small_compositions_use_element_references(clean):
    """Compositions with < 5 frames are judged after subtracting fitted element energies."""
    alloy = _frames(3, seed=1, substitute="Ag")
    alloy = [dataclasses.replace(s, index=20 + k) for k, s in enumerate(alloy)]
    alloy[1] = dataclasses.replace(alloy[1], energy=alloy[1].energy + 2.0 * 32)
    nickel = dataclasses.replace(_frames(1, seed=2, substitute="Ni")[0], index=23)
    report = check_structures([*clean, *alloy, nickel])
    assert _found(report.errors) == {("", 21, "energy_outlier")}
    assert "least-squares element references" in report.errors[0].message
    assert _found(report.warnings) == {
        ("", 20, "rare_element"),  # Ag: 3 atoms
        ("", 23, "single_frame_composition"),  # Cu31Ni
        ("", 23, "rare_element"),  # Ni: 1 atom
    }
    assert set(report.overall.compositions) == {"Cu", "AgCu31", "Cu31Ni"}


def test_options_are_validated(clean):
    for kwargs in ({"min_distance": 0}, {"outlier_sigma": -1}, {"max_force": float("nan")}):
        with pytest.raises(ValueError, match="finite positive"):
            check_structures(clean[:2], **kwargs)
    with pytest.raises(ValueError, match="unknown error kind"):
        corrupted_frames(check_structures(clean[:2]), kinds=["nope"])


def test_report_dict_is_json_and_has_the_schema(clean):
    frames = list(clean)
    _huge_force(frames, 3)
    report = check_structures(frames, group_by="missing_key")
    data = json.loads(json.dumps(report_to_dict(report), allow_nan=False))
    assert set(data) == {"errors", "warnings", "summary"}
    assert data["errors"] == [
        {"source": "", "frame": 3, "kind": "force_outlier", "message": report.errors[0].message}
    ]
    summary = data["summary"]
    assert summary["frames"] == 20 and summary["corrupted_frames"] == 1
    assert summary["error_counts"] == {"force_outlier": 1}
    assert summary["energy_per_atom"]["unit"] == "eV/atom"
    assert summary["groups"] == {"(none)": summary["overall"]}
    assert set(ERROR_KINDS) >= set(summary["error_counts"])


# ------------------------------------------------------------------------------ CLI


def test_cli_clean_exit_0(tmp_path, clean, capsys):
    data = _write(tmp_path / "clean.extxyz", clean)
    out_json = tmp_path / "report" / "check.json"
    status, out, _ = _run(capsys, "check", data, "--json", out_json)
    assert status == 0
    assert "OK: no errors" in out and "Cu32 (20)" in out
    document = json.loads(out_json.read_text())
    assert document["errors"] == [] and document["summary"]["frames"] == 20


def test_cli_errors_exit_1_and_json(tmp_path, clean, capsys):
    frames = list(clean)
    _nan_force(frames, 1)
    _close_periodic(frames, 4)
    _duplicate(frames, 9)
    data = _write(tmp_path / "bad.extxyz", frames)
    out_json = tmp_path / "check.json"
    status, out, _ = _run(capsys, "check", data, "--json", out_json, "--min-distance", "0.5")
    assert status == 1
    assert "FAILED: 3 error(s) in 3 frame(s)" in out
    document = json.loads(out_json.read_text())
    assert set(document) == {"errors", "warnings", "summary"}
    assert [(e["source"], e["frame"], e["kind"]) for e in document["errors"]] == [
        (str(data), 1, "nan"),
        (str(data), 4, "close_atoms"),
        (str(data), 9, "duplicate"),
    ]
    assert all(set(e) == {"source", "frame", "kind", "message"} for e in document["errors"])
    # a smaller distance threshold no longer sees the 0.3 Å pair
    status, out, _ = _run(capsys, "check", f"{data}@:4", "--min-distance", "0.2")
    assert status == 1 and "close_atoms" not in out


def test_cli_n2p2_units_and_usage_errors(tmp_path, clean, capsys):
    path = tmp_path / "input.data"
    write_input_data(path, clean, units="hartree-bohr")
    status, out, _ = _run(capsys, "check", path, "--units", "hartree-bohr", "--outlier-sigma", "6")
    assert status == 0 and "OK: no errors" in out
    status, _, err = _run(capsys, "check", tmp_path / "missing.extxyz")
    assert status == 2 and "missing.extxyz" in err and "fix:" in err
    status, _, err = _run(capsys, "check", path, "--min-distance", "-1")
    assert status == 2 and "min_distance" in err
    status, out, _ = _run(capsys, "check", "--help")
    assert status == 0 and "examples:" in out


# -------------------------------------------------------------------- shared data


def test_shared_zeolite_training_set():
    path = shared_path("sio2_zeolites", "train.extxyz")
    start = time.perf_counter()
    structures = read_structures(path)
    read_s = time.perf_counter() - start
    start = time.perf_counter()
    report = check_structures(structures, group_by="topology")
    check_s = time.perf_counter() - start
    print(f"\nzeolite train set: read {read_s:.2f} s, check {check_s:.2f} s")
    print(format_report(report))
    topologies = "ABW ACO ATT BCT DFT EDI JBW NAB OSO SBN SOD THO".split()
    assert list(report.groups) == topologies
    assert sum(g.frames for g in report.groups.values()) == 2425
    assert set(report.overall.compositions) == {"O2Si"}
    assert report.groups["EDI"].compositions["O2Si"]["formulas"] == {"O10Si5": 202}
    assert report.groups["ABW"].compositions["O2Si"]["formulas"] == {"O32Si16": 181}
    assert report.overall.elements["Si"]["atoms"] * 2 == report.overall.elements["O"]["atoms"]
    assert report.errors == [] and report.warnings == []
    assert check_s < 10.0
