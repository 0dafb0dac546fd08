"""hdnnp against n2p2: golden predictions, file round trips, and errors in n2p2 files.

Golden values are n2p2 v2.3.0's own outputs for published potentials
(``../shared/data/n2p2``, see its README); they are in Hartree and Bohr and are converted
with :mod:`hdnnp.units`. hdnnp must reproduce n2p2's energies to 1e-6 eV/atom, forces to
1e-5 eV/Å and atomic energies to 1e-6 eV.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shared_path

from hdnnp.io import read_input_data
from hdnnp.n2p2 import export_problems, read_n2p2, write_n2p2
from hdnnp.potential import HDNNP, NetworkSpec
from hdnnp.potential_file import load_file, save
from hdnnp.predict import predict
from hdnnp.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV

HA = HARTREE_TO_EV
HA_PER_BOHR = HARTREE_TO_EV / BOHR_TO_ANGSTROM
E_TOL = 1e-6  # eV/atom
F_TOL = 1e-5  # eV/Å
POTENTIAL_FILES = ("input.nn", "scaling.data")


@dataclasses.dataclass
class Case:
    """A shared n2p2 potential with its data set and hdnnp's predictions."""

    directory: Path
    model: HDNNP
    structures: list
    predictions: list


def _case(name: str) -> Case:
    directory = shared_path("n2p2", name)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = read_n2p2(directory, units="hartree-bohr")
        structures = read_input_data(directory / "input.data", units="hartree-bohr")
        predictions = predict(model, structures)
    finally:
        torch.set_default_dtype(previous)
    return Case(directory, model, structures, predictions)


@pytest.fixture(scope="module")
def water() -> Case:
    return _case("H2O_RPBE-D3")


@pytest.fixture(scope="module")
def silicon() -> Case:
    return _case("mlearn_Si_nnp")


@pytest.fixture(scope="module")
def water_1080() -> Case:
    return _case("H2O_1080_liquid")


def _offset(directory: Path) -> float:
    """mean_energy + atom_energy (one element or equal offsets) of an input.nn, Hartree:
    n2p2's nnatoms.out holds atomic energies without them."""
    mean = atom = 0.0
    for line in (directory / "input.nn").read_text().splitlines():
        tokens = line.split("#", 1)[0].split()
        if tokens[:1] == ["mean_energy"]:
            mean = float(tokens[1])
        elif tokens[:1] == ["atom_energy"]:
            atom = float(tokens[2])
    return mean + atom


def _energies(case: Case) -> np.ndarray:
    return np.array([p.energy for p in case.predictions])


def _forces(case: Case, frames=None) -> np.ndarray:
    frames = range(len(case.predictions)) if frames is None else frames
    return np.concatenate([case.predictions[k].forces for k in frames])


def _check_energies(case: Case, table: np.ndarray, factor: float) -> None:
    """table columns: struct natoms E_ref E_n2p2 ... (E in units of ``factor`` eV)."""
    assert table.shape[0] == len(case.structures)
    assert np.array_equal(table[:, 1], [s.n_atoms for s in case.structures])
    per_atom = np.abs(_energies(case) - table[:, 3] * factor) / table[:, 1]
    assert per_atom.max() < E_TOL, per_atom.max()


def _check_atomic_energies(case: Case, raw: str = "raw") -> None:
    """raw/sNNNN/nnatoms.out: col 3 Z, col 7 atomic energy without mean/offset (Ha)."""
    offset = _offset(case.directory)
    for k, (s, p) in enumerate(zip(case.structures, case.predictions, strict=True)):
        table = np.loadtxt(case.directory / raw / f"s{k + 1:04d}" / "nnatoms.out", ndmin=2)
        assert np.array_equal(table[:, 2], s.numbers)
        expected = (table[:, 6] + offset) * HA
        np.testing.assert_allclose(p.atomic_energies, expected, rtol=0, atol=1e-6)
        assert p.atomic_energies.sum() == pytest.approx(p.energy, rel=1e-13)


# ---------------------------------------------------------------------------- golden


def test_water_energies_match_n2p2(water):
    _check_energies(water, np.loadtxt(water.directory / "energies.dat"), HA)


def test_water_forces_match_n2p2(water):
    """forces.dat: struct atom element fx fy fz (n2p2) fx fy fz (ref), Ha/Bohr."""
    table = np.loadtxt(water.directory / "forces.dat", usecols=(0, 1, 3, 4, 5, 6, 7, 8))
    rows = (water.directory / "forces.dat").read_text().splitlines()
    symbols = [row.split()[2] for row in rows if row.strip() and not row.startswith("#")]
    numbers = np.concatenate([s.numbers for s in water.structures])
    assert list(symbols) == [{1: "H", 8: "O"}[z] for z in numbers]
    error = np.abs(_forces(water) - table[:, 2:5] * HA_PER_BOHR).max()
    assert error < F_TOL, error
    # the reference forces of forces.dat are the labels read from input.data
    labels = np.concatenate([s.forces for s in water.structures])
    np.testing.assert_allclose(labels, table[:, 5:8] * HA_PER_BOHR, rtol=1e-14, atol=1e-14)


def test_water_atomic_energies_match_n2p2(water):
    _check_atomic_energies(water)


def test_silicon_energies_match_n2p2(silicon):
    _check_energies(silicon, np.loadtxt(silicon.directory / "energies.dat"), HA)
    # energies_eV.dat: struct natoms E_ref_eV E_n2p2_eV diff_meV_per_atom
    _check_energies(silicon, np.loadtxt(silicon.directory / "energies_eV.dat"), 1.0)


def _silicon_force_tables(silicon):
    """(n2p2 forces in eV/Å from forces.dat, the same from forces_eV_A.dat, frame column)."""
    hartree = np.loadtxt(silicon.directory / "forces.dat", usecols=(0, 3, 4, 5))
    # forces_eV_A.dat has no element column: struct atom fx fy fz (n2p2) fx fy fz (ref)
    ev = np.loadtxt(silicon.directory / "forces_eV_A.dat", usecols=(0, 2, 3, 4))
    assert np.array_equal(hartree[:, 0], ev[:, 0])
    return hartree[:, 1:] * HA_PER_BOHR, ev[:, 1:], hartree[:, 0].astype(int)


SILICON_INCONSISTENT_FRAME = 9  # 1-based, see test_silicon_frame_9_forces_are_exact


def test_silicon_forces_match_n2p2(silicon):
    """All frames but 9 (see :func:`test_silicon_frame_9_forces_are_exact`)."""
    from_hartree, from_ev, frame = _silicon_force_tables(silicon)
    np.testing.assert_allclose(from_hartree, from_ev, rtol=1e-12, atol=1e-12)
    ours = _forces(silicon)
    keep = frame != SILICON_INCONSISTENT_FRAME
    assert keep.sum() == len(frame) - silicon.structures[8].n_atoms
    error = np.abs(ours[keep] - from_hartree[keep]).max()
    assert error < F_TOL, error


def _central_differences(model, structure, h: float) -> np.ndarray:
    """-dE/dR by central differences of hdnnp's energy, eV/Å."""
    displaced = []
    for atom in range(structure.n_atoms):
        for axis in range(3):
            for sign in (1.0, -1.0):
                positions = structure.positions.copy()
                positions[atom, axis] += sign * h
                displaced.append(dataclasses.replace(structure, positions=positions))
    energies = np.array([p.energy for p in predict(model, displaced, stress=False)])
    energies = energies.reshape(structure.n_atoms, 3, 2)
    return -(energies[..., 0] - energies[..., 1]) / (2.0 * h)


def test_silicon_frame_9_forces_are_exact(silicon):
    """KNOWN EXCEPTION: frame 9 (1-based) of mlearn Si, a cell whose height is 0.994 r_c.

    n2p2's printed forces for this frame are inconsistent with n2p2's own energy: they
    differ from central finite differences of that energy by up to ~9e-4 eV/Å, while
    hdnnp's energy matches n2p2's to ~1e-15 relative. So for this frame we check that
    hdnnp's energy matches n2p2's, that hdnnp's forces are the exact derivative of
    hdnnp's energy (central differences, h = 1e-4 Å), and record that n2p2's forces are
    not (if a future n2p2 build fixes this, the last assertion tells us to drop the
    exception).
    """
    k = SILICON_INCONSISTENT_FRAME - 1
    structure, prediction = silicon.structures[k], silicon.predictions[k]
    table = np.loadtxt(silicon.directory / "energies.dat")
    assert abs(prediction.energy - table[k, 3] * HA) / structure.n_atoms < E_TOL
    finite = _central_differences(silicon.model, structure, h=1e-4)
    assert np.abs(prediction.forces - finite).max() < 1e-6
    n2p2_forces, _, frame = _silicon_force_tables(silicon)
    n2p2_forces = n2p2_forces[frame == SILICON_INCONSISTENT_FRAME]
    assert np.abs(n2p2_forces - finite).max() > 1e-4


def test_silicon_atomic_energies_match_n2p2(silicon):
    _check_atomic_energies(silicon)


def _n2p2_out_table(path: Path) -> np.ndarray:
    return np.loadtxt(path, comments="#", ndmin=2)


def test_water_1080_matches_n2p2(water_1080):
    """energy.out: conf natoms Eref Ennp Ediff E_offset; nnforces.out: conf index
    fxRef fyRef fzRef fx fy fz; nnatoms.out: conf index Z Qref Qnnp Eref_atom Ennp_atom
    (no mean or offset energy). All in Hartree and Bohr."""
    directory = water_1080.directory
    (prediction,) = water_1080.predictions
    (structure,) = water_1080.structures
    energy = _n2p2_out_table(directory / "energy.out")
    assert energy.shape[0] == 1 and energy[0, 1] == structure.n_atoms == 1080
    assert abs(prediction.energy - energy[0, 3] * HA) / structure.n_atoms < E_TOL
    forces = _n2p2_out_table(directory / "nnforces.out")
    assert np.array_equal(forces[:, 1], np.arange(1, 1081))
    assert np.abs(prediction.forces - forces[:, 5:8] * HA_PER_BOHR).max() < F_TOL
    atoms = _n2p2_out_table(directory / "nnatoms.out")
    assert np.array_equal(atoms[:, 2], structure.numbers)
    expected = (atoms[:, 6] + _offset(directory)) * HA
    np.testing.assert_allclose(prediction.atomic_energies, expected, rtol=0, atol=1e-6)
    assert prediction.stress is not None and np.allclose(prediction.stress, prediction.stress.T)


# ----------------------------------------------------------------------- round trips


def _assert_same_predictions(reference, other, rel=1e-12):
    for a, b in zip(reference, other, strict=True):
        assert b.energy == pytest.approx(a.energy, rel=rel, abs=0)
        scale = np.abs(a.forces).max()
        np.testing.assert_allclose(b.forces, a.forces, rtol=0, atol=rel * scale)
        np.testing.assert_allclose(
            b.atomic_energies, a.atomic_energies, rtol=rel, atol=rel * np.abs(a.energy)
        )


@pytest.mark.parametrize("units", ["hartree-bohr", "ev-angstrom"])
@pytest.mark.parametrize("fixture", ["water", "silicon"])
def test_write_n2p2_round_trip(fixture, units, tmp_path, request):
    case = request.getfixturevalue(fixture)
    frames = [0, 1, len(case.structures) - 1]
    written = write_n2p2(case.model, tmp_path, units=units)
    names = {p.name for p in written}
    assert set(POTENTIAL_FILES) <= names and any(n.startswith("weights.") for n in names)
    back = read_n2p2(tmp_path, units=units)
    structures = [case.structures[k] for k in frames]
    _assert_same_predictions([case.predictions[k] for k in frames], predict(back, structures))
    assert export_problems(back) == []


def test_write_n2p2_ev_files_are_in_ev(water, tmp_path):
    """The same potential written in both unit systems: cutoffs differ by Bohr -> Å."""
    write_n2p2(water.model, tmp_path / "ha", units="hartree-bohr")
    write_n2p2(water.model, tmp_path / "ev", units="ev-angstrom")

    def rcs(path):
        """r_c: last field of radial lines, the one before r_s of angular lines."""
        lines = (path / "input.nn").read_text().splitlines()
        tokens = [line.split() for line in lines if line.startswith("symfunction_short")]
        return [float(t[-1] if t[2] == "2" else t[-2]) for t in tokens]

    np.testing.assert_allclose(
        np.array(rcs(tmp_path / "ha")) * BOHR_TO_ANGSTROM, rcs(tmp_path / "ev"), rtol=1e-14
    )


def test_potential_file_round_trip_is_bit_exact(water, tmp_path):
    path = save(water.model, tmp_path / "water.hdnnp")
    back = load_file(path)
    original, loaded = water.model.state_dict(), back.state_dict()
    assert original.keys() == loaded.keys()
    for key, value in original.items():
        assert torch.equal(value, loaded[key]), key
    assert back.descriptors == water.model.descriptors
    structures = [water.structures[k] for k in (0, 12)]
    for a, b in zip(predict(water.model, structures), predict(back, structures), strict=True):
        assert a.energy == b.energy
        assert np.array_equal(a.forces, b.forces)
        assert np.array_equal(a.atomic_energies, b.atomic_energies)
        assert np.array_equal(a.stress, b.stress)


# ---------------------------------------------------------------------------- errors


def _copy_potential(name: str, tmp_path: Path) -> Path:
    source = shared_path("n2p2", name)
    target = tmp_path / name
    target.mkdir()
    for path in source.iterdir():
        if path.name in POTENTIAL_FILES or path.name.startswith("weights."):
            shutil.copy(path, target / path.name)
    return target


def _edit(path: Path, edit) -> int:
    """Apply ``edit(lines) -> line index changed`` to a file; return the 1-based line."""
    lines = path.read_text().splitlines()
    index = edit(lines)
    path.write_text("\n".join(lines) + "\n")
    return index + 1


def _keyword_line(lines, keyword) -> int:
    return next(i for i, line in enumerate(lines) if line.split()[:1] == [keyword])


def _data_line(lines) -> int:
    return next(i for i, line in enumerate(lines) if line.strip() and line[0] != "#")


def _expect_error(directory: Path, file: str, line: int | None, *fields: str):
    with pytest.raises(ValueError) as info:
        read_n2p2(directory, units="hartree-bohr")
    message = str(info.value)
    where = f"{directory / file}:{line}" if line is not None else str(directory / file)
    assert where in message, message
    for field in fields:
        assert field in message, message
    return message


def test_error_non_number_in_symfunction(tmp_path):
    directory = _copy_potential("H2O_RPBE-D3", tmp_path)

    def edit(lines):
        k = _keyword_line(lines, "symfunction_short")
        tokens = lines[k].split()
        tokens[4] = "abc"  # symfunction_short H 2 H <eta> ...
        lines[k] = " ".join(tokens)
        return k

    line = _edit(directory / "input.nn", edit)
    _expect_error(directory, "input.nn", line, "symfunction_short", "'eta'", "'abc'")


def test_error_unknown_element(tmp_path):
    directory = _copy_potential("H2O_RPBE-D3", tmp_path)

    def edit(lines):
        k = _keyword_line(lines, "elements")
        lines[k] = "elements H Xx"
        return k

    line = _edit(directory / "input.nn", edit)
    _expect_error(directory, "input.nn", line, "'Xx'", "element")


def test_error_unknown_element_in_symfunction(tmp_path):
    directory = _copy_potential("H2O_RPBE-D3", tmp_path)

    def edit(lines):
        k = _keyword_line(lines, "symfunction_short")
        tokens = lines[k].split()
        tokens[3] = "Qq"
        lines[k] = " ".join(tokens)
        return k

    line = _edit(directory / "input.nn", edit)
    _expect_error(directory, "input.nn", line, "symfunction_short", "'Qq'")


def test_error_number_of_elements_mismatch(tmp_path):
    directory = _copy_potential("H2O_RPBE-D3", tmp_path)

    def edit(lines):
        k = _keyword_line(lines, "number_of_elements")
        lines[k] = "number_of_elements 3"
        return k

    line = _edit(directory / "input.nn", edit)
    _expect_error(directory, "input.nn", line, "number_of_elements", "3")


@pytest.mark.parametrize(
    "keyword", ["elements", "global_activation_short", "global_hidden_layers_short"]
)
def test_error_missing_keyword(keyword, tmp_path):
    directory = _copy_potential("H2O_RPBE-D3", tmp_path)
    path = directory / "input.nn"
    lines = [line for line in path.read_text().splitlines() if line.split()[:1] != [keyword]]
    path.write_text("\n".join(lines) + "\n")
    _expect_error(directory, "input.nn", None, keyword)


def test_error_weights_not_a_number(tmp_path):
    directory = _copy_potential("H2O_RPBE-D3", tmp_path)

    def edit(lines):
        k = [i for i, line in enumerate(lines) if line.strip() and line[0] != "#"][7]
        lines[k] = "nan?" + lines[k].lstrip()[24:]
        return k

    line = _edit(directory / "weights.008.data", edit)
    _expect_error(directory, "weights.008.data", line, "connection", "'nan?'")


def test_error_weights_wrong_count(tmp_path):
    directory = _copy_potential("H2O_RPBE-D3", tmp_path)
    path = directory / "weights.001.data"
    path.write_text(path.read_text().rstrip("\n").rsplit("\n", 1)[0] + "\n")
    message = _expect_error(directory, "weights.001.data", None, "expected")
    expected, got = (int(x) for x in re.findall(r"expected (\d+) .* got (\d+)", message)[0])
    assert got == expected - 1


def test_error_scaling_wrong_column_count(tmp_path):
    directory = _copy_potential("H2O_RPBE-D3", tmp_path)

    def edit(lines):
        k = _data_line(lines)
        lines[k] = " ".join(lines[k].split()[:5])
        return k

    line = _edit(directory / "scaling.data", edit)
    _expect_error(directory, "scaling.data", line, "6 columns", "got 5")


def test_error_scaling_not_a_number(tmp_path):
    directory = _copy_potential("H2O_RPBE-D3", tmp_path)

    def edit(lines):
        k = _data_line(lines)
        tokens = lines[k].split()
        tokens[3] = "x1"
        lines[k] = " ".join(tokens)
        return k

    line = _edit(directory / "scaling.data", edit)
    _expect_error(directory, "scaling.data", line, "sf_max", "'x1'")


def test_comments_are_ignored(silicon, tmp_path):
    """``#`` starts a comment anywhere; commented-out symfunction_short lines do nothing."""
    directory = _copy_potential("mlearn_Si_nnp", tmp_path)
    path = directory / "input.nn"
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("symfunction_short"):
            out.append(line + "   # trailing comment 1.0 2.0 Si")
            out.append("#" + line.replace(" 2 ", " 9 Si ", 1))
            out.append("   # symfunction_short Si 2 Si 0.5 0.0 9.0")
        else:
            out.append(line + " # comment after a keyword" if line.strip() else line)
    path.write_text("\n".join(out) + "\n")
    model = read_n2p2(directory, units="hartree-bohr")
    assert model.descriptors == silicon.model.descriptors
    frames = [0, 9]
    again = predict(model, [silicon.structures[k] for k in frames])
    for k, p in zip(frames, again, strict=True):
        assert p.energy == pytest.approx(silicon.predictions[k].energy, rel=1e-14)


def test_write_n2p2_refuses_unexportable_potential(water, tmp_path):
    """Different activations per element: n2p2 has one global_activation_short."""
    spec = NetworkSpec(
        {"H": (4,), "O": (4,)}, {"H": ("t", "l"), "O": ("s", "l")}, normalize_nodes=False
    )
    model = HDNNP(water.model.descriptors, spec, generator=torch.Generator().manual_seed(0))
    problems = export_problems(model)
    assert problems and "activation" in problems[0]
    target = tmp_path / "export"
    target.mkdir()
    with pytest.raises(ValueError, match="cannot export to n2p2.*activation"):
        write_n2p2(model, target)
    assert list(target.iterdir()) == []
    with pytest.raises(ValueError):
        write_n2p2(model, tmp_path / "new")
    assert not (tmp_path / "new").exists()
