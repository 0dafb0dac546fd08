"""Tests for hdnnp.io (n2p2 input.data, ASE formats, ASE plugin) and hdnnp.units."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from hdnnp.io import (
    parse_index,
    read_input_data,
    read_structures,
    split_spec,
    structure_from_atoms,
    write_input_data,
)
from hdnnp.structures import Structure
from hdnnp.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV, UNIT_CHOICES, get_units


def shared_data_dir() -> Path:
    """``../shared/data`` relative to the repository root (may be absent)."""
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def shared_file(*parts: str) -> Path:
    path = shared_data_dir().joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"shared data file not available: {path}")
    return path


def make_structures() -> list[Structure]:
    """A periodic triclinic frame with all labels, an open one without energy/charge."""
    rng = np.random.default_rng(7)
    cell = np.array([[5.1, 0.0, 0.0], [0.7, 4.9, 0.0], [-0.3, 0.2, 6.3]]) + rng.random((3, 3))
    periodic = Structure(
        numbers=np.array([8, 1, 1, 14]),
        positions=rng.random((4, 3)) * 5.0,
        cell=cell,
        pbc=(True, True, True),
        energy=-1234.567890123456789,
        forces=rng.normal(size=(4, 3)),
        charges=rng.normal(size=4) * 0.3,
        total_charge=-1.0,
        info={"comment": "periodic   frame  one"},
    )
    open_ = Structure(
        numbers=np.array([6, 1]),
        positions=rng.random((2, 3)) * 3.0 - 10.0,
        cell=np.zeros((3, 3)),
        pbc=(False, False, False),
        forces=rng.normal(size=(2, 3)) * 1e-7,
        charges=np.array([0.1, -0.1]),
    )
    return [periodic, open_]


def write_text(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD_ATOM = "atom 0.0 0.0 0.0 H 0.0 0.0 0.1 0.2 0.3\n"
GOOD_FRAME = "begin\n" + GOOD_ATOM + "energy -1.0\nend\n"


# ------------------------------------------------------------------------------ units


def test_get_units():
    assert get_units("ev-angstrom").length_to_angstrom == 1.0
    au = get_units("hartree-bohr")
    assert au.length_to_angstrom == BOHR_TO_ANGSTROM == 0.52917721067
    assert au.energy_to_ev == HARTREE_TO_EV == 27.21138602
    assert au.force_to_ev_per_angstrom == pytest.approx(HARTREE_TO_EV / BOHR_TO_ANGSTROM)
    assert get_units(au) is au
    assert UNIT_CHOICES == ("ev-angstrom", "hartree-bohr")
    with pytest.raises(ValueError, match="'ev-angstrom', 'hartree-bohr'"):
        get_units("rydberg")


# ------------------------------------------------------------------------ round trips


def assert_same(read: Structure, ref: Structure, rtol: float = 0.0) -> None:
    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=0.0)

    np.testing.assert_array_equal(read.numbers, ref.numbers)
    close(read.positions, ref.positions)
    close(read.cell, ref.cell)
    assert read.pbc == ref.pbc
    close(read.forces, ref.forces)
    close(read.charges, ref.charges)


def test_round_trip_ev_angstrom_is_exact(tmp_path):
    refs = make_structures()
    path = tmp_path / "input.data"
    write_input_data(path, refs)
    back = read_input_data(path)
    assert len(back) == 2
    for i, (read, ref) in enumerate(zip(back, refs, strict=True)):
        assert_same(read, ref)
        assert read.index == i and read.source == str(path)
    assert back[0].energy == refs[0].energy
    assert back[0].total_charge == -1.0
    assert back[0].info == {"comment": "periodic frame one"}
    assert back[1].energy == 0.0  # n2p2 needs an energy line: written as 0
    assert back[1].total_charge == pytest.approx(0.0)  # sum of the charges
    assert back[1].info == {}


def test_round_trip_hartree_bohr(tmp_path):
    refs = make_structures()
    path = tmp_path / "au.data"
    write_input_data(path, refs, units="hartree-bohr")
    first_atom = next(line for line in path.read_text().splitlines() if line.startswith("atom"))
    x_file = float(first_atom.split()[1])
    assert x_file == pytest.approx(refs[0].positions[0, 0] / BOHR_TO_ANGSTROM, rel=1e-15)
    back = read_input_data(path, units="hartree-bohr")
    for read, ref in zip(back, refs, strict=True):
        assert_same(read, ref, rtol=1e-14)
    assert back[0].energy == pytest.approx(refs[0].energy, rel=1e-15)


def test_write_atoms_without_labels_and_with_calculator(tmp_path):
    bare = Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]])
    labelled = Atoms("Si2", positions=[[0, 0, 0], [1.3, 1.3, 1.3]], cell=[5.4] * 3, pbc=True)
    labelled.calc = SinglePointCalculator(labelled, energy=-10.5, forces=np.ones((2, 3)))
    path = tmp_path / "atoms.data"
    write_input_data(path, [bare, labelled])
    first, second = read_input_data(path)
    assert first.energy == 0.0 and not np.any(first.forces) and first.pbc == (False,) * 3
    assert second.energy == -10.5 and np.all(second.forces == 1.0)
    np.testing.assert_array_equal(second.cell, np.diag([5.4] * 3))


def test_write_refuses_mixed_pbc(tmp_path):
    slab = Atoms("H", cell=[3, 3, 10], pbc=[True, True, False])
    with pytest.raises(ValueError, match="pbc"):
        write_input_data(tmp_path / "slab.data", [slab])
    assert not (tmp_path / "slab.data").exists()


class ExplodingEnergy(float):
    def __float__(self):
        raise RuntimeError("boom while formatting")


def test_atomic_write_leaves_no_file_on_failure(tmp_path):
    good = make_structures()[0]
    bad = Structure(**{**good.__dict__, "energy": ExplodingEnergy(1.0)})
    target = tmp_path / "input.data"
    with pytest.raises(RuntimeError, match="boom"):
        write_input_data(target, [good, good, bad])
    assert not target.exists()
    target.write_text(GOOD_FRAME)
    with pytest.raises(TypeError, match="item 1"):
        write_input_data(target, [good, object()])
    assert target.read_text() == GOOD_FRAME
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.data"]


# ------------------------------------------------------------------- shared n2p2 data


def test_read_shared_h2o():
    path = shared_file("n2p2", "H2O_RPBE-D3", "input.data")
    frames = read_input_data(path, units="hartree-bohr")
    assert len(frames) == 20
    assert collections.Counter(s.n_atoms for s in frames) == {48: 11, 96: 2, 192: 7}
    assert [s.index for s in frames] == list(range(20))
    assert all(s.pbc == (True, True, True) and s.energy is not None for s in frames)
    assert all(s.total_charge == 0.0 and s.forces.shape == (s.n_atoms, 3) for s in frames)
    assert set(np.unique(np.concatenate([s.numbers for s in frames]))) == {1, 8}
    assert frames[0].info["comment"] == "written by RuNNerDecom"
    assert frames[0].source == str(path)


def test_shared_h2o_hartree_bohr_conversion():
    path = shared_file("n2p2", "H2O_RPBE-D3", "input.data")
    lines = path.read_text().splitlines()
    atom = next(line.split() for line in lines if line.split()[:1] == ["atom"])
    energy = next(float(line.split()[1]) for line in lines if line.startswith("energy"))
    first = read_structures(f"{path}@0", units="hartree-bohr")[0]
    np.testing.assert_allclose(
        first.positions[0], np.array(atom[1:4], float) * BOHR_TO_ANGSTROM, rtol=1e-15
    )
    np.testing.assert_allclose(
        first.forces[0],
        np.array(atom[7:10], float) * HARTREE_TO_EV / BOHR_TO_ANGSTROM,
        rtol=1e-15,
    )
    assert first.charges[0] == float(atom[5])
    assert first.energy == pytest.approx(energy * HARTREE_TO_EV, rel=1e-15)
    raw = read_structures(f"{path}@0")[0]  # default units: numbers as in the file
    assert raw.positions[0, 0] == float(atom[1])


def test_read_shared_mlearn_extxyz_with_index():
    path = shared_file("mlearn", "Si", "test.extxyz")
    frames = read_structures(f"{path}@:3")
    assert [s.index for s in frames] == [0, 1, 2]
    assert all(s.energy is not None and s.forces.shape == (s.n_atoms, 3) for s in frames)
    assert frames[0].info["group"] == "Vacancy"


# ---------------------------------------------------------------------------- errors

ERROR_CASES = {
    "atom token count": (
        GOOD_FRAME + "begin\natom 0.0 0.0 0.0 H 0.0 0.0 0.1 0.2\nend\n",
        "bad.data:6 (frame 1): 'atom' line needs 9 values (x y z element charge n fx fy fz)",
    ),
    "not a number": (
        GOOD_FRAME + "begin\natom 0.0 0.0 0.0 H 0.0 0.0 abc 0.2 0.3\nend\n",
        "bad.data:6 (frame 1): field 'fx' is not a number: 'abc'",
    ),
    "unknown element": (
        "begin\natom 0.0 0.0 0.0 Xx 0.0 0.0 0.1 0.2 0.3\nend\n",
        "bad.data:2 (frame 0): field 'element' is not an element symbol: 'Xx'",
    ),
    "lowercase element": (
        "begin\natom 0.0 0.0 0.0 si 0.0 0.0 0.1 0.2 0.3\nend\n",
        "bad.data:2 (frame 0): field 'element'",
    ),
    "atom outside": (
        GOOD_FRAME + GOOD_ATOM,
        "bad.data:5 (after frame 0): keyword 'atom' outside a begin/end block",
    ),
    "missing end at eof": (
        GOOD_FRAME + "begin\n" + GOOD_ATOM,
        "bad.data:5 (frame 1): keyword 'end' missing",
    ),
    "missing end before begin": (
        "begin\n" + GOOD_ATOM + GOOD_FRAME,
        "bad.data:3 (frame 0): keyword 'begin' before keyword 'end'",
    ),
    "one lattice line": (
        "begin\nlattice 1 0 0\n" + GOOD_ATOM + "end\n",
        "bad.data:2 (frame 0): field 'lattice': 1 lattice line(s)",
    ),
    "two lattice lines": (
        "begin\nlattice 1 0 0\nlattice 0 1 0\n" + GOOD_ATOM + "end\n",
        "bad.data:3 (frame 0): field 'lattice': 2 lattice line(s)",
    ),
    "lattice token count": (
        "begin\nlattice 1 0\nlattice 0 1 0\nlattice 0 0 1\n" + GOOD_ATOM + "end\n",
        "bad.data:2 (frame 0): 'lattice' line needs 3 values (ax ay az)",
    ),
    "nan coordinate": (
        "begin\natom 0.0 nan 0.0 H 0.0 0.0 0.1 0.2 0.3\nend\n",
        "bad.data:2 (frame 0): field 'y' is not finite: 'nan'",
    ),
    "bad energy": (
        "begin\n" + GOOD_ATOM + "energy -1.0eV\nend\n",
        "bad.data:3 (frame 0): field 'energy' is not a number: '-1.0eV'",
    ),
    "unknown keyword": (
        "begin\n" + GOOD_ATOM + "Energy -1.0\nend\n",
        "bad.data:3 (frame 0): unknown keyword 'Energy'",
    ),
    "no atoms": ("begin\nenergy 1.0\nend\n", "bad.data:3 (frame 0): field 'atom'"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_read_errors_name_file_line_frame_field(tmp_path, case):
    text, expected = ERROR_CASES[case]
    path = write_text(tmp_path, "bad.data", text)
    with pytest.raises(ValueError) as info:
        read_input_data(path)
    assert expected in str(info.value)
    assert str(info.value).startswith(str(path))


def test_missing_energy_and_charge_lines_and_free_whitespace(tmp_path):
    text = "\n  begin  \n\tcomment  two  words \n atom   1 2 3   O  -0.5  0  0 0 0\n end\n"
    (frame,) = read_input_data(write_text(tmp_path, "input.data", text))
    assert frame.energy is None and frame.total_charge is None
    assert frame.info["comment"] == "two  words"
    assert frame.pbc == (False,) * 3 and not np.any(frame.cell)
    np.testing.assert_array_equal(frame.forces, np.zeros((1, 3)))  # kept as given
    assert frame.charges[0] == -0.5


# ------------------------------------------------------------------ ASE formats/index


def labelled_atoms(n: int) -> list[Atoms]:
    images = []
    for i in range(n):
        atoms = Atoms("SiO2", positions=np.eye(3) * (1.0 + i), cell=[4.0, 4.5, 5.0], pbc=True)
        stress = np.arange(6.0) * 1e-3 * (i + 1)
        atoms.calc = SinglePointCalculator(
            atoms, energy=-3.0 * i, forces=np.full((3, 3), 0.1 * i), stress=stress
        )
        atoms.info["tag"] = f"frame{i}"
        images.append(atoms)
    return images


def test_read_extxyz_with_labels(tmp_path):
    path = tmp_path / "train.extxyz"
    images = labelled_atoms(3)
    ase.io.write(path, images)
    frames = read_structures(path)
    assert [s.index for s in frames] == [0, 1, 2]
    last = frames[2]
    assert last.energy == -6.0 and last.source == str(path)
    np.testing.assert_allclose(last.forces, 0.2)
    voigt = np.arange(6.0) * 3e-3  # xx yy zz yz xz xy
    expected = np.array(
        [
            [voigt[0], voigt[5], voigt[4]],
            [voigt[5], voigt[1], voigt[3]],
            [voigt[4], voigt[3], voigt[2]],
        ]
    )
    np.testing.assert_allclose(last.stress, expected)
    assert last.info["tag"] == "frame2"
    bare = structure_from_atoms(Atoms("H"))
    assert bare.energy is None and bare.forces is None and bare.stress is None


def test_index_syntax(tmp_path):
    path = tmp_path / "many.extxyz"
    ase.io.write(path, labelled_atoms(12))
    assert [s.index for s in read_structures(f"{path}@::5")] == [0, 5, 10]
    assert [s.index for s in read_structures(f"{path} ::5")] == [0, 5, 10]
    assert [s.index for s in read_structures(f"{path}   2:8:3")] == [2, 5]
    assert [s.index for s in read_structures(f"{path}@-2:")] == [10, 11]
    assert [s.index for s in read_structures(f"{path}@-1")] == [11]
    assert [s.index for s in read_structures(path, index="7")] == [7]
    assert [s.index for s in read_structures(path, index=slice(None, None, -4))] == [11, 7, 3]
    with pytest.raises(IndexError, match="12"):
        read_structures(f"{path}@12")
    with pytest.raises(ValueError, match="given twice"):
        read_structures(f"{path}@1", index=2)
    with pytest.raises(ValueError, match="invalid frame index"):
        read_structures(f"{path}@1:x")
    n2p2 = tmp_path / "input.data"
    write_input_data(n2p2, make_structures())
    assert [s.index for s in read_structures(f"{n2p2}@1", units="hartree-bohr")] == [1]


def test_split_spec_and_parse_index(tmp_path):
    assert split_spec("a/b.xyz") == ("a/b.xyz", None)
    assert split_spec("a/b.xyz@:10") == ("a/b.xyz", slice(None, 10))
    assert split_spec("a/OUTCAR ::10") == ("a/OUTCAR", slice(None, None, 10))
    assert split_spec("a@b/c.xyz") == ("a@b/c.xyz", None)
    odd = write_text(tmp_path, "odd@1.extxyz", "")
    assert split_spec(str(odd)) == (str(odd), None)
    assert parse_index("-1") == -1 and parse_index(":") == slice(None)
    with pytest.raises(ValueError, match="step"):
        parse_index("::0")


def test_missing_file_and_format_sniffing(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.data"):
        read_structures(tmp_path / "nothere.data@:3")
    sniffed = write_text(tmp_path, "frames.data", "\n\n" + GOOD_FRAME)
    assert read_structures(sniffed)[0].energy == -1.0
    xyz = tmp_path / "looks.data"
    ase.io.write(xyz, labelled_atoms(1), format="extxyz")
    assert read_structures(xyz, format="extxyz")[0].energy == 0.0


# ------------------------------------------------------------------------ ASE plugin


def test_ase_plugin_round_trip(tmp_path):
    from ase.io.formats import filetype, ioformats

    assert "n2p2" in ioformats
    refs = [s.to_atoms() for s in make_structures()]
    refs[0].info["total_charge"] = -1.0  # Structure.to_atoms() does not carry it
    path = tmp_path / "y.data"
    ase.io.write(path, refs, format="n2p2")
    images = ase.io.read(path, ":", format="n2p2")
    assert len(images) == 2
    for atoms, ref in zip(images, refs, strict=True):
        np.testing.assert_array_equal(atoms.positions, ref.positions)
        np.testing.assert_array_equal(atoms.cell.array, ref.cell.array)
        np.testing.assert_array_equal(atoms.get_forces(), ref.get_forces())
        np.testing.assert_array_equal(atoms.get_initial_charges(), ref.get_initial_charges())
    assert images[0].get_potential_energy() == refs[0].get_potential_energy()
    assert images[0].info["comment"] == "periodic frame one"
    assert images[0].info["total_charge"] == -1.0
    last = ase.io.read(path, format="n2p2")  # ASE default index: the last frame
    assert len(last) == 2 and not last.pbc.any()
    named = tmp_path / "input.data"
    os.replace(path, named)
    assert filetype(str(named)) == "n2p2"
    au = ase.io.read(f"{named}@0", units="hartree-bohr")
    np.testing.assert_allclose(au.positions, refs[0].positions * BOHR_TO_ANGSTROM, rtol=1e-15)
    back = read_structures(named)[0]
    assert back.total_charge == -1.0 and back.energy == refs[0].get_potential_energy()
