"""``hdnnp analyze``, run in-process through :func:`hdnnp.cli.main`."""

from __future__ import annotations

import contextlib
import io
import json

import ase.io
import numpy as np
import pytest
from ase.build import bulk, molecule
from conftest import run_cli

from hdnnp.cli import main
from hdnnp.io import structure_from_atoms, write_input_data

R_MAX, BINS = 6.5, 65  # beyond the second Cl-Cl shell (5.64 Å) for the default cutoffs
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(capsys, *argv):
    return run_cli(capsys, *argv)


def _rocksalt(a: float, amplitude: float, seed: int, n_frames: int = 3) -> list:
    """Rattled NaCl (rock salt, 64 atoms): Na-Cl 6, Na-Na and Cl-Cl 12 neighbours."""
    frames = []
    for k in range(n_frames):
        atoms = bulk("NaCl", "rocksalt", a=a, cubic=True) * (2, 2, 2)
        atoms.rattle(amplitude, seed=seed + k)
        frames.append(atoms)
    return frames


def _write_trajectories(folder) -> tuple:
    """Two different rock-salt trajectories (extended XYZ): the second has a larger
    lattice constant (5.9 Å) and stronger rattling."""
    first, second = folder / "a.extxyz", folder / "b.extxyz"
    ase.io.write(first, _rocksalt(5.64, 0.05, 0))
    ase.io.write(second, _rocksalt(5.9, 0.1, 10))
    return first, second


@pytest.fixture
def trajectories(tmp_path):
    return _write_trajectories(tmp_path)


def _analyze_quietly(out_dir, *argv) -> tuple[dict, str]:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        status = main([str(a) for a in (*argv, "-o", out_dir, "--r-max", R_MAX, "--bins", BINS)])
    assert status == 0
    return json.loads((out_dir / "analysis.json").read_text()), stdout.getvalue()


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """The analysis (JSON, stdout, output folder) of the two trajectories, labelled."""
    folder = tmp_path_factory.mktemp("analyze")
    first, second = _write_trajectories(folder)
    argv = ("analyze", first, second, "--labels", "dft", "nnp")
    return (*_analyze_quietly(folder / "out", *argv), folder / "out")


@pytest.fixture(scope="module")
def identical(tmp_path_factory):
    """The analysis of the first trajectory compared with itself."""
    folder = tmp_path_factory.mktemp("identical")
    first, _ = _write_trajectories(folder)
    return _analyze_quietly(folder / "out", "analyze", first, first)[0]


def test_writes_plots_and_json_with_every_curve(compared):
    document, out, out_dir = compared
    for name in ("rdf.png", "adf.png", "cn.png"):
        assert (out_dir / name).read_bytes()[:8] == PNG_MAGIC
        assert str(out_dir / name) in out
    assert [t["label"] for t in document["trajectories"]] == ["dft", "nnp"]
    partials = {"Cl-Cl", "Cl-Na", "Na-Na"}
    for record in document["trajectories"]:
        assert record["n_frames"] == 3 and record["elements"] == ["Cl", "Na"]
        assert len(record["rdf"]["r"]) == len(record["rdf"]["total"]) == BINS
        assert set(record["rdf"]["partial"]) == partials
        assert all(len(g) == BINS for g in record["rdf"]["partial"].values())
        assert len(record["adf"]["angle"]) == 180
        assert "Cl-Na-Cl" in record["adf"]["density"]
        assert record["coordination"]["mean"]["Na-Cl"] == 6.0
        assert record["coordination"]["mean"]["Na-Na"] == 12.0
    cutoff = document["cutoffs"]["Cl-Na"]
    assert 2.82 < cutoff["value"] < 2.82 * np.sqrt(3) and "first minimum" in cutoff["source"]
    peak = document["trajectories"][0]["peaks"]["rdf"]["Cl-Na"]
    assert abs(peak["position"] - 5.64 / 2) < R_MAX / BINS
    assert "Cl-Na" in out and "dft" in out and "nnp" in out


def test_differences_are_zero_for_identical_trajectories(identical):
    (difference,) = identical["differences"]
    for kind in ("rdf", "adf"):
        assert difference[kind]
        for entry in difference[kind].values():
            assert entry["integrated_abs"] == 0.0 and entry["max_abs"] == 0.0
            assert entry["peak_shift"] == 0.0 and entry["peak_height_change"] == 0.0
    assert all(c["mean_change"] == 0.0 for c in difference["coordination"].values())


def test_differences_of_other_trajectories_are_nonzero(compared):
    (difference,) = compared[0]["differences"]
    assert difference["reference"] == "dft" and difference["label"] == "nnp"
    assert set(difference["rdf"]) == {"total", "Cl-Cl", "Cl-Na", "Na-Na"}
    for kind in ("rdf", "adf"):
        for name, entry in difference[kind].items():
            assert entry["integrated_abs"] > 0.0 and entry["max_abs"] > 0.0, name
    # the larger lattice constant moves the shells outwards, the rattling lowers the peaks
    for name in ("Cl-Na", "Na-Na"):
        assert difference["rdf"][name]["peak_shift"] > 0.0
        assert difference["rdf"][name]["peak_height_change"] < 0.0


def test_cutoffs_triplets_and_frame_selection(trajectories, tmp_path):
    first, _ = trajectories
    ase.io.write(first, _rocksalt(5.64, 0.05, 0, n_frames=7))
    argv = (f"{first}@1:", "--skip", 1, "--every", 2, "--triplets", "Cl-Na-Cl")
    document, _ = _analyze_quietly(tmp_path / "out", "analyze", *argv, "--cutoff", 3.3, "Na-Na=4.5")
    (record,) = document["trajectories"]
    assert record["n_frames"] == 3  # frames 2, 4, 6
    assert document["cutoffs"]["Na-Na"] == {"value": 4.5, "source": "--cutoff"}
    assert document["cutoffs"]["Cl-Cl"] == {"value": 3.3, "source": "--cutoff"}
    assert list(record["adf"]["density"]) == ["Cl-Na-Cl"]
    assert abs(record["peaks"]["adf"]["Cl-Na-Cl"]["position"] - 90.0) < 2.0
    assert record["coordination"]["mean"]["Cl-Cl"] == 0.0  # 3.3 Å < 3.99 Å
    assert record["coordination"]["mean"]["Na-Na"] == pytest.approx(12.0)


def test_reads_n2p2_input_data(tmp_path):
    path = tmp_path / "input.data"
    write_input_data(path, [structure_from_atoms(a) for a in _rocksalt(5.64, 0.05, 3, 2)])
    document, _ = _analyze_quietly(tmp_path / "out", "analyze", f"{path}@-1")
    assert document["trajectories"][0]["n_frames"] == 1
    assert document["trajectories"][0]["coordination"]["mean"]["Cl-Na"] == pytest.approx(6.0)


@pytest.fixture
def molecule_file(tmp_path):
    path = tmp_path / "water.extxyz"
    ase.io.write(path, molecule("H2O"))
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.extxyz"], "cannot read structures"),
        (["{molecule}"], "not periodic in 3D"),
        (["{a}", "--triplets", "O-Si-O"], "not in the frames"),
        (["{a}", "--triplets", "Cl-Na"], "malformed"),
        (["{a}", "--cutoff", "Na-Cl:3"], "--cutoff 'Na-Cl:3'"),
        (["{a}", "--cutoff", "Na=3"], "per pair (--cutoff Si-O=2.0)"),
        (["{a}", "--cutoff", "Na-O=3"], "not in the frames"),
        (["{a}", "{b}", "--labels", "only-one"], "1 --labels for 2 trajectories"),
        (["{a}", "--skip", "10"], "no frames left"),
        (["{a}", "--every", "0"], "--every >= 1"),
    ],
)
def test_user_errors_exit_2_with_the_cause(
    argv, message, trajectories, molecule_file, tmp_path, capsys
):
    first, second = trajectories
    names = {"a": first, "b": second, "molecule": molecule_file}
    argv = [arg.format(**names) for arg in argv]
    status, out, err = _run(capsys, "analyze", *argv, "-o", tmp_path / "out")
    assert status == 2
    assert err.startswith("hdnnp analyze: error:") and message in err
    assert "fix" in err or "need" in err
    assert not (tmp_path / "out").exists()


def test_missing_cutoff_for_a_requested_triplet(trajectories, tmp_path, capsys):
    first, _ = trajectories
    # up to 4.5 Å the Cl-Cl g(r) has its first peak (3.99 Å) but no minimum after it
    status, _, err = _run(
        capsys, "analyze", first, "--r-max", 4.5, "--triplets", "Cl-Cl-Cl", "-o", tmp_path
    )
    assert status == 2 and "no cutoff for Cl-Cl" in err and "--cutoff Cl-Cl=R" in err
