"""SIMPLE-NN compatibility: params_XX files, structure lists, input.yaml -> Config.

The SIMPLE-NN SiO2 example (../shared/data/simple-nn-sio2, v1 and v2 layouts) must parse
into exactly the functions its params files list; a from-the-definition evaluation of
SIMPLE-NN's G2/G4/G5 (numpy loops, written from the formulas documented in
:mod:`hdnnp.descriptors.simple_nn`) must agree with hdnnp's evaluation of the converted set.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.data import atomic_numbers
from conftest import shared_path

from hdnnp.batch import make_batch
from hdnnp.config import Source
from hdnnp.descriptors.compute import SymmetryFunctions
from hdnnp.descriptors.params import DescriptorSet, SymmetryFunction
from hdnnp.descriptors.simple_nn import (
    KBAR_PER_EV_A3,
    brace_expand,
    config_from_simple_nn,
    descriptor_set_from_simple_nn,
    parse_structure_list,
    read_params,
    read_structure_list,
    write_params,
)
from hdnnp.potential import pair_vectors
from hdnnp.structures import Structure

ATOM_TYPES = ["Si", "O"]  # the example's element order: index 1 = Si, 2 = O
RADIAL_ETAS = [0.003214, 0.035711, 0.071421, 0.124987, 0.214264, 0.357106, 0.714213, 1.428426]
ANGULAR_ETAS = [0.000357, 0.028569, 0.089277]


def _example(version: str) -> Path:
    return shared_path("simple-nn-sio2", version)


# ---------------------------------------------------------------------------------------
# params files of the SiO2 example
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("central", ATOM_TYPES)
def test_example_params_counts_and_values(version, central):
    path = _example(version) / f"params_{central}"
    fns = read_params(path, ATOM_TYPES, central)
    assert len(fns) == 70
    assert all(sf.element == central and sf.rc == 6.0 for sf in fns)
    radial = [sf for sf in fns if sf.type == 2]
    angular = [sf for sf in fns if sf.type != 2]
    assert len(radial) == 16 and len(angular) == 54
    assert all(sf.type == 3 for sf in angular)  # all G4 -> n2p2 narrow
    for nb in ("Si", "O"):
        group = [sf for sf in radial if sf.neighbors == (nb,)]
        assert [sf.eta for sf in group] == RADIAL_ETAS
        assert all(sf.rs == 0.0 for sf in group)
    for pair in [("Si", "Si"), ("O", "Si"), ("O", "O")]:  # ordered by atomic number
        group = [sf for sf in angular if sf.neighbors == pair]
        assert len(group) == 18
        assert sorted({sf.eta for sf in group}) == ANGULAR_ETAS
        assert sorted({sf.zeta for sf in group}) == [1.0, 2.0, 4.0]
        assert sorted({sf.lambda_ for sf in group}) == [-1.0, 1.0]
        assert all(sf.rs == 0.0 for sf in group)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_example_params_line_by_line(version):
    path = _example(version) / "params_Si"
    fns = read_params(path, ATOM_TYPES, "Si")
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    assert len(lines) == len(fns)
    names = {1: "Si", 2: "O"}
    for tokens, sf in zip(lines, fns, strict=True):
        t, i1, i2 = (int(x) for x in tokens[:3])
        rc, p1, p2, p3 = (float(x) for x in tokens[3:])
        assert sf.rc == rc and sf.eta == p1
        if t == 2:
            assert (sf.type, sf.neighbors, sf.rs) == (2, (names[i1],), p2)
        else:
            assert t == 4 and sf.type == 3
            assert set(sf.neighbors) == {names[i1], names[i2]}
            assert (sf.zeta, sf.lambda_, sf.rs) == (p2, p3, 0.0)
    # a few lines checked by hand
    assert fns[0] == SymmetryFunction("Si", 2, ("Si",), eta=0.003214, rc=6.0)  # 2 1 0 6.0 0.003214
    assert fns[8] == SymmetryFunction("Si", 2, ("O",), eta=0.003214, rc=6.0)  # 2 2 0 6.0 0.003214
    assert fns[15] == SymmetryFunction("Si", 2, ("O",), eta=1.428426, rc=6.0)
    # line 17: 4 1 1 6.0 0.000357 1.0 -1.0
    assert fns[16] == SymmetryFunction(
        "Si", 3, ("Si", "Si"), eta=0.000357, rc=6.0, zeta=1.0, lambda_=-1.0
    )
    # line 42: 4 1 2 6.0 0.028569 4.0 -1.0
    assert fns[41] == SymmetryFunction(
        "Si", 3, ("O", "Si"), eta=0.028569, rc=6.0, zeta=4.0, lambda_=-1.0
    )
    # line 70: 4 2 2 6.0 0.089277 4.0 1.0
    assert fns[69] == SymmetryFunction(
        "Si", 3, ("O", "O"), eta=0.089277, rc=6.0, zeta=4.0, lambda_=1.0
    )


def test_example_element_order_matters():
    """Index 1 is the first atom_types entry: swapping the order swaps the neighbours."""
    path = _example("v1") / "params_Si"
    swapped = read_params(path, ["O", "Si"], "Si")
    assert swapped[0].neighbors == ("O",)
    assert swapped[8].neighbors == ("Si",)


def test_example_descriptor_set():
    folder = _example("v2")
    files = {"Si": folder / "params_Si", "O": folder / "params_O"}  # SIMPLE-NN order
    ds = descriptor_set_from_simple_nn(files)
    assert ds.elements == ("O", "Si")
    assert ds.count("O") == ds.count("Si") == 70
    assert ds.cutoff_type == "cos" and ds.cutoff_alpha == 0.0
    assert ds.max_cutoff == 6.0
    # the set, not the order, is what the files say
    assert set(ds.for_element("Si")) == set(read_params(folder / "params_Si", ATOM_TYPES, "Si"))
    # the potential's elements (any order) are only checked, never the index order
    assert descriptor_set_from_simple_nn(files, ("O", "Si")) == ds
    assert descriptor_set_from_simple_nn(files, order=ATOM_TYPES) == ds


def test_index_order_is_the_mapping_order(tmp_path):
    write_params(tmp_path / "p_si", [SymmetryFunction("Si", 2, ("O",), eta=1, rc=5)], ATOM_TYPES)
    write_params(tmp_path / "p_o", [SymmetryFunction("O", 2, ("O",), eta=1, rc=5)], ATOM_TYPES)
    files = {"Si": tmp_path / "p_si", "O": tmp_path / "p_o"}  # both files say "2 2 0"
    ds = descriptor_set_from_simple_nn(files, elements=("O", "Si"))
    assert ds.for_element("Si")[0].neighbors == ("O",)
    swapped = descriptor_set_from_simple_nn(files, order=["O", "Si"])
    assert swapped.for_element("Si")[0].neighbors == ("Si",)


def test_descriptor_set_element_mismatch(tmp_path):
    write_params(tmp_path / "p", [SymmetryFunction("Si", 2, ("Si",), eta=1, rc=5)], ["Si"])
    with pytest.raises(ValueError, match="differ"):
        descriptor_set_from_simple_nn({"Si": tmp_path / "p"}, ["Si", "O"])
    with pytest.raises(ValueError, match="missing"):
        descriptor_set_from_simple_nn({"Si": tmp_path / "p"}, order=["Si", "O"])
    with pytest.raises(ValueError, match="unexpected"):
        descriptor_set_from_simple_nn({"Si": tmp_path / "p", "O": tmp_path / "p"}, order=["Si"])
    with pytest.raises(ValueError, match="repeated"):
        descriptor_set_from_simple_nn({"Si": tmp_path / "p"}, order=["Si", "Si"])


# ---------------------------------------------------------------------------------------
# read/write round trip and errors
# ---------------------------------------------------------------------------------------


def test_params_round_trip_example(tmp_path):
    src = _example("v1") / "params_O"
    fns = read_params(src, ATOM_TYPES, "O")
    out = tmp_path / "params_O"
    write_params(out, fns, ATOM_TYPES)
    assert read_params(out, ATOM_TYPES, "O") == fns
    # the same numbers as the original, line by line
    for a, b in zip(src.read_text().split("\n"), out.read_text().split("\n"), strict=True):
        assert [float(x) for x in a.split()] == [float(x) for x in b.split()]


def test_params_round_trip_mixed_types(tmp_path):
    fns = [
        SymmetryFunction("O", 2, ("H",), eta=0.5, rc=4.5, rs=1.25),
        SymmetryFunction("O", 3, ("H", "O"), eta=0.01, rc=6.0, zeta=2.5, lambda_=1.0),
        SymmetryFunction("O", 9, ("H", "H"), eta=1 / 3, rc=5.0, zeta=16.0, lambda_=-1.0),
    ]
    write_params(tmp_path / "p", fns, ["O", "H"])
    text = (tmp_path / "p").read_text().splitlines()
    assert text[0].split()[:3] == ["2", "2", "0"]
    assert text[1].split()[:3] == ["4", "1", "2"]  # smaller index first
    assert text[2].split()[:3] == ["5", "2", "2"]
    assert read_params(tmp_path / "p", ["O", "H"], "O") == fns


def test_write_params_rejects_unrepresentable(tmp_path):
    shifted = SymmetryFunction("O", 3, ("O", "O"), eta=0.1, rc=5.0, rs=0.5)
    with pytest.raises(ValueError, match="no shift"):
        write_params(tmp_path / "p", [shifted], ["O"])
    with pytest.raises(ValueError, match="not in"):
        write_params(tmp_path / "p", [SymmetryFunction("O", 2, ("H",), eta=1, rc=5)], ["O"])
    mixed = [
        SymmetryFunction("O", 2, ("O",), eta=1, rc=5),
        SymmetryFunction("H", 2, ("O",), eta=1, rc=5),
    ]
    with pytest.raises(ValueError, match="one central element"):
        write_params(tmp_path / "p", mixed, ["O", "H"])


@pytest.mark.parametrize(
    "line, field",
    [
        ("2 1 0 6.0 0.1 0.0", "expected 7 fields"),
        ("2 1 0 6.0 0.1 0.0 0.0 1.0", "expected 7 fields"),
        ("2.0 1 0 6.0 0.1 0.0 0.0", "'type'"),
        ("3 1 1 6.0 0.1 1.0 1.0", "'type'"),
        ("2 x 0 6.0 0.1 0.0 0.0", "'atom_idx1'"),
        ("2 3 0 6.0 0.1 0.0 0.0", "'atom_idx1'"),
        ("2 0 0 6.0 0.1 0.0 0.0", "'atom_idx1'"),
        ("4 1 0 6.0 0.1 1.0 1.0", "'atom_idx2'"),
        ("5 1 3 6.0 0.1 1.0 1.0", "'atom_idx2'"),
        ("2 1 0 abc 0.1 0.0 0.0", "'rc'"),
        ("2 1 0 -6.0 0.1 0.0 0.0", "'rc'"),
        ("2 1 0 6.0 nan 0.0 0.0", "'eta'"),
        ("2 1 0 6.0 -0.1 0.0 0.0", "'eta'"),
        ("2 1 0 6.0 0.1 r 0.0", "'R_s'"),
        ("4 1 2 6.0 0.1 0.5 1.0", "'zeta'"),
        ("4 1 2 6.0 0.1 1.0 0.5", "'lambda'"),
        ("5 1 2 6.0 0.1 1.0 x", "'lambda'"),
    ],
)
def test_params_errors_name_file_line_field(tmp_path, line, field):
    path = tmp_path / "params_Si"
    path.write_text("2 1 0 6.0 0.5 0.0 0.0\n\n" + line + "\n")
    with pytest.raises(ValueError) as info:
        read_params(path, ATOM_TYPES, "Si")
    message = str(info.value)
    assert f"{path}:3:" in message
    assert field in message


def test_params_duplicates_comments_and_missing(tmp_path):
    path = tmp_path / "params_Si"
    path.write_text("# comment\n2 1 0 6.0 0.5 0.0 0.0\n4 1 2 6 0.1 1 1\n4 2 1 6.0 0.1 1.0 1.0\n")
    with pytest.raises(ValueError, match=r"params_Si:4: duplicate .* line 3"):
        read_params(path, ATOM_TYPES, "Si")
    path.write_text("\n# nothing\n")
    with pytest.raises(ValueError, match="no symmetry functions"):
        read_params(path, ATOM_TYPES, "Si")
    with pytest.raises(FileNotFoundError, match="params_X"):
        read_params(tmp_path / "params_X", ATOM_TYPES, "Si")
    with pytest.raises(ValueError, match="central element"):
        read_params(_example("v1") / "params_Si", ATOM_TYPES, "Ge")


def test_g2_ignores_second_index(tmp_path):
    """SIMPLE-NN neglects atom_idx2 of G2 (documented as 0); any integer is accepted."""
    path = tmp_path / "p"
    path.write_text("2 2 1 6.0 0.5 1.5 7.0\n")
    (sf,) = read_params(path, ATOM_TYPES, "Si")
    assert sf == SymmetryFunction("Si", 2, ("O",), eta=0.5, rc=6.0, rs=1.5)


# ---------------------------------------------------------------------------------------
# values: SIMPLE-NN's definitions against hdnnp's evaluation of the converted set
# ---------------------------------------------------------------------------------------


def _fc(r, rc):
    return 0.5 * (math.cos(math.pi * r / rc) + 1.0) if r < rc else 0.0


def _simple_nn_reference(positions, types, params_lines):
    """G of every atom for SIMPLE-NN params rows (type, i1, i2, rc, p1, p2, p3).

    SIMPLE-NN definitions: neighbours j with R_ij below the largest cutoff; G2 sums over j
    of type i1; G4/G5 sum over j<k in neighbour-list order whose types are {i1, i2}.
    """
    n = len(positions)
    rmax = max(row[3] for row in params_lines)
    out = np.zeros((n, len(params_lines)))
    for i in range(n):
        nb = []
        for j in range(n):
            d = positions[j] - positions[i]
            r = float(np.linalg.norm(d))
            if j != i and r < rmax:
                nb.append((types[j], d, r))
        for s, (t, i1, i2, rc, p1, p2, p3) in enumerate(params_lines):
            total = 0.0
            if t == 2:
                for tj, _, r in nb:
                    if tj == i1:
                        total += math.exp(-p1 * (r - p2) ** 2) * _fc(r, rc)
            else:
                eta, zeta, lam = p1, p2, p3
                for a in range(len(nb)):
                    for b in range(a + 1, len(nb)):
                        (tj, dj, rij), (tk, dk, rik) = nb[a], nb[b]
                        if sorted((tj, tk)) != sorted((i1, i2)):
                            continue
                        rjk = float(np.linalg.norm(dk - dj))
                        cos = float(dj @ dk) / (rij * rik)
                        ang = 2.0 ** (1 - zeta) * (1 + lam * cos) ** zeta
                        if t == 4:
                            radial = math.exp(-eta * (rij**2 + rik**2 + rjk**2))
                            cut = _fc(rij, rc) * _fc(rik, rc) * _fc(rjk, rc)
                        else:
                            radial = math.exp(-eta * (rij**2 + rik**2))
                            cut = _fc(rij, rc) * _fc(rik, rc)
                        total += ang * radial * cut
            out[i, s] = total
    return out


def _hdnnp_g(ds: DescriptorSet, symbols, positions):
    numbers = np.array([atomic_numbers[s] for s in symbols])
    structure = Structure(numbers, positions, np.zeros((3, 3)), (False, False, False))
    module = SymmetryFunctions(ds).to(torch.float64)
    batch = make_batch([structure], ds.elements, module.cutoff, module.angular_cutoff)
    vectors = pair_vectors(batch, batch.positions, None)
    g = module.of_batch(batch, vectors, fused=False)
    return g.detach().numpy()


PARAMS_LINES = {
    "Si": """\
        2 1 0 6.0 0.05 0.0 0.0
        2 2 0 6.0 0.8 1.6 0.0
        2 2 0 4.5 0.3 0.0 0.0
        4 1 1 6.0 0.02 1.0 1.0
        4 1 2 6.0 0.03 2.0 -1.0
        4 2 1 4.5 0.01 4.0 1.0
        4 2 2 6.0 0.005 1.0 -1.0
        5 1 2 6.0 0.02 1.0 1.0
        5 2 1 5.0 0.04 1.5 -1.0
        5 2 2 6.0 0.01 4.0 1.0
        """,
    "O": """\
        2 1 0 6.0 0.5 1.6 0.0
        2 2 0 5.5 0.1 0.0 0.0
        4 1 1 6.0 0.01 2.0 1.0
        4 1 2 6.0 0.02 1.0 -1.0
        5 2 1 6.0 0.03 1.0 1.0
        5 2 2 4.0 0.02 2.0 -1.0
        """,
}


def test_values_equal_simple_nn_definitions(tmp_path):
    rng = np.random.default_rng(7)
    symbols = ["Si", "O", "O", "Si", "O", "O", "Si", "O", "O"]
    positions = []
    while len(positions) < len(symbols):
        p = rng.random(3) * 4.0
        if all(np.linalg.norm(p - q) > 1.3 for q in positions):
            positions.append(p)
    positions = np.array(positions)
    files = {}
    for element, text in PARAMS_LINES.items():
        files[element] = tmp_path / f"params_{element}"
        files[element].write_text(textwrap.dedent(text))
    ds = descriptor_set_from_simple_nn(files, order=ATOM_TYPES)
    g = _hdnnp_g(ds, symbols, positions)
    types = [ATOM_TYPES.index(s) + 1 for s in symbols]
    for element, path in files.items():
        rows = [
            tuple(int(x) for x in line.split()[:3]) + tuple(float(x) for x in line.split()[3:])
            for line in path.read_text().splitlines()
        ]
        ref = _simple_nn_reference(positions, types, rows)
        fns = read_params(path, ATOM_TYPES, element)
        columns = [ds.for_element(element).index(sf) for sf in fns]  # file order -> hdnnp
        atoms = [i for i, s in enumerate(symbols) if s == element]
        assert np.abs(ref[atoms]).max() > 1e-3
        np.testing.assert_allclose(g[np.ix_(atoms, columns)], ref[atoms], rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------
# structure lists
# ---------------------------------------------------------------------------------------


def test_structure_list_groups_weights_comments(tmp_path):
    (tmp_path / "sub").mkdir()
    path = tmp_path / "sub" / "str_list"
    path.write_text(
        textwrap.dedent(
            """\
            # hdnnp extension: comment lines
            ../data/OUTCAR_first ::10

            [ bulk ]
            ../data/OUTCAR_bulk 100:2000:20
            /abs/OUTCAR_abs :

            [ surface : 3.0 ]
            md{1..3}/OUTCAR ::
            single.extxyz 8
            all.extxyz
            [ md : 2.5 ]
            run_{a,b}/OUTCAR -1
            [ bulk : 9.0 ]
            more_bulk.extxyz ::2
            [ ratio: x ]
            odd.extxyz :
            """
        )
    )
    with pytest.warns(UserWarning, match="ignored"):
        entries = parse_structure_list(path)
    base = str(tmp_path)
    got = [(e.path, e.index, e.group, e.weight, e.line) for e in entries]
    assert got == [
        (f"{base}/data/OUTCAR_first", "::10", "None", 1.0, 2),
        (f"{base}/data/OUTCAR_bulk", "100:2000:20", "bulk", 1.0, 5),
        ("/abs/OUTCAR_abs", ":", "bulk", 1.0, 6),
        (f"{base}/sub/md1/OUTCAR", "::", "surface", 3.0, 9),
        (f"{base}/sub/md2/OUTCAR", "::", "surface", 3.0, 9),
        (f"{base}/sub/md3/OUTCAR", "::", "surface", 3.0, 9),
        (f"{base}/sub/single.extxyz", "8", "surface", 3.0, 10),
        (f"{base}/sub/all.extxyz", ":", "surface", 3.0, 11),
        (f"{base}/sub/run_a/OUTCAR", "-1", "md", 2.5, 13),
        (f"{base}/sub/run_b/OUTCAR", "-1", "md", 2.5, 13),
        (f"{base}/sub/more_bulk.extxyz", "::2", "bulk", 1.0, 15),  # first weight kept
        (f"{base}/sub/odd.extxyz", ":", "ratio: x", 1.0, 17),  # not a number: part of name
    ]
    with pytest.warns(UserWarning):
        sources = read_structure_list(path)
    assert sources[0] == Source(f"{base}/data/OUTCAR_first@::10", 1.0)
    assert sources[1] == Source(f"{base}/data/OUTCAR_bulk@100:2000:20", 1.0)
    assert sources[2] == Source("/abs/OUTCAR_abs", 1.0)  # ':' = all frames: plain path
    assert sources[3] == Source(f"{base}/sub/md1/OUTCAR", 3.0)
    assert sources[6] == Source(f"{base}/sub/single.extxyz@8", 3.0)
    assert sources[7] == Source(f"{base}/sub/all.extxyz", 3.0)
    assert sources[8] == Source(f"{base}/sub/run_a/OUTCAR@-1", 2.5)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[ g : -1 ]\nfile ::\n", "weight must be >= 0"),
        ("file a:b\n", "invalid frame index"),
        ("file ::0\n", "step must not be 0"),
        ("[ broken\nfile ::\n", "must end with"),
        ("[  ]\nfile ::\n", "empty group name"),
    ],
)
def test_structure_list_errors(tmp_path, text, message):
    path = tmp_path / "structure_list"
    path.write_text("ok.extxyz ::\n" + text)
    with pytest.raises(ValueError, match=message) as info:
        parse_structure_list(path)
    assert f"{path}:2:" in str(info.value) or f"{path}:3:" in str(info.value)


def test_structure_list_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="structure list"):
        read_structure_list(tmp_path / "nope")


def test_example_structure_lists():
    v1 = read_structure_list(_example("v1") / "str_list")
    v2 = read_structure_list(_example("v2") / "structure_list")
    root = _example("v1").parent
    assert v1 == [Source(f"{root}/ab_initio_output/OUTCAR_comp@::10", 1.0)]
    assert v2 == [Source(f"{root}/ab_initio_output/OUTCAR_SiO2_compressed@::10", 1.0)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("plain", ["plain"]),
        ("a{1,2}b", ["a1b", "a2b"]),
        ("f{1..3}", ["f1", "f2", "f3"]),
        ("f{3..1}", ["f3", "f2", "f1"]),
        ("f{01..10..3}", ["f01", "f04", "f07", "f10"]),
        ("{a..c}", ["a", "b", "c"]),
        ("x{a,b{1,2}}", ["xa", "xb1", "xb2"]),
        ("{1,2}{a,b}", ["1a", "1b", "2a", "2b"]),
        ("{a}{1,2}", ["{a}1", "{a}2"]),
        ("{}", ["{}"]),
        ("open{1,2", ["open{1,2"]),
    ],
)
def test_brace_expand(text, expected):
    assert brace_expand(text) == expected


# ---------------------------------------------------------------------------------------
# input.yaml -> Config
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_example_config(version):
    folder = _example(version)
    override = ["../shared/data/sio2_zeolites/train.extxyz"]
    config, notes = config_from_simple_nn(folder / "input.yaml", data_override=override)
    assert config.network.hidden == (30, 30)
    assert config.network.activation == "s"  # SIMPLE-NN's default sigmoid
    assert config.training.learning_rate == 0.001
    assert config.training.optimizer == "adam"
    assert config.data.validation_fraction == 0.1
    assert config.data.train == (Source("../shared/data/sio2_zeolites/train.extxyz"),)
    assert list(config.descriptors.simple_nn) == ATOM_TYPES
    assert config.descriptors.simple_nn == {e: str(folder / f"params_{e}") for e in ATOM_TYPES}
    assert config.descriptors.cutoff == 6.0 and config.descriptors.cutoff_type == "cos"
    assert config.loss.energy_weight == 1.0
    assert config.loss.force_weight == 0.1  # SIMPLE-NN default force_coeff
    assert config.loss.stress_weight == pytest.approx(1e-6 * KBAR_PER_EV_A3**2)
    assert config.scaling.mode == "scale"
    assert (config.scaling.min, config.scaling.max) == (-1.0, 1.0)
    assert any("data_override" in n for n in notes)
    ds = descriptor_set_from_simple_nn(config.descriptors.simple_nn)
    assert ds.count("Si") == ds.count("O") == 70
    if version == "v1":
        assert config.training.batch_size == 10
        assert config.training.seed == 0
        assert any("total_iteration" in n for n in notes)
        assert any("random_seed" in n for n in notes)
        assert not config.loss.gdf.enabled
    else:
        assert config.training.batch_size == 8
        assert config.training.max_epochs == 100
        assert config.training.seed == 123
        gdf = config.loss.gdf
        assert gdf.enabled and gdf.sigma == "auto"
        assert gdf.modifier_b == 1.0 and gdf.modifier_c == {"Si": 35.0, "O": 74.0}
        assert any("PCA" in n for n in notes)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_example_config_uses_structure_list(version):
    folder = _example(version)
    config, _ = config_from_simple_nn(folder / "input.yaml")
    name = "OUTCAR_comp" if version == "v1" else "OUTCAR_SiO2_compressed"
    expected = Source(f"{folder.parent}/ab_initio_output/{name}@::10", 1.0)
    assert config.data.train == (expected,)


def test_example_training_only_input():
    config, notes = config_from_simple_nn(_example("v2") / "input_training.yaml", ["x.extxyz"])
    assert config.training.max_epochs == 1000
    assert config.training.seed == 123
    assert not config.loss.gdf.enabled


def _params_pair(tmp_path):
    write_params(
        tmp_path / "params_Si",
        [SymmetryFunction("Si", 2, ("O",), eta=0.1, rc=5.0)],
        ATOM_TYPES,
    )
    write_params(
        tmp_path / "params_O",
        [SymmetryFunction("O", 2, ("Si",), eta=0.1, rc=5.5)],
        ATOM_TYPES,
    )


def _write_yaml(tmp_path, text: str) -> Path:
    path = tmp_path / "input.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_config_v2_options(tmp_path):
    _params_pair(tmp_path)
    (tmp_path / "my_list").write_text("[ a : 2 ]\nd.extxyz ::\n")
    path = _write_yaml(
        tmp_path,
        """\
        params:
            Si: params_Si
            O: params_O
        data:
            struct_list: my_list
        preprocessing:
            valid_rate: 0.2
            scale_type: meanstd
            scale_width: 2.0
            calc_atomic_weights:
                type: gdf
                params: {Si: 0.02, O: 0.05}
        neural_network:
            nodes: {Si: 20-10, O: 15}
            acti_func: tanh
            optimizer: {method: L-BFGS}
            use_force: false
            use_stress: false
            use_pca: false
            use_atomic_weights: true
            double_precision: false
            energy_criteria: 0.002
            force_criteria: 0.1
            dropout: 0.1
        random_seed: 5
        """,
    )
    config, notes = config_from_simple_nn(path)
    assert config.data.train == (Source(f"{tmp_path}/d.extxyz", 2.0),)
    assert config.data.validation_fraction == 0.2
    assert config.scaling.mode == "sigma" and (config.scaling.min, config.scaling.max) == (0, 2)
    assert config.network.hidden == (20, 10)
    assert config.network.hidden_per_element == {"Si": (20, 10), "O": (15,)}
    assert config.network.activation == "t"
    assert config.training.optimizer == "lbfgs"
    assert config.training.max_epochs == 1000 and config.training.batch_size == 8
    assert config.training.learning_rate == 1e-4  # SIMPLE-NN v2 default
    assert config.training.dtype == "float32"
    assert config.training.target_energy_rmse == 0.002
    assert config.training.target_force_rmse == 0.1
    assert config.loss.force_weight == 0.0 and config.loss.stress_weight == 0.0
    assert not config.loss.gdf.enabled  # no force training: GDF unused
    assert any("no force training" in n for n in notes)
    assert any("dropout" in n for n in notes)
    assert not any("PCA" in n for n in notes)
    assert config.descriptors.cutoff == 5.5


def test_config_v1_options(tmp_path):
    _params_pair(tmp_path)
    (tmp_path / "str_list").write_text("d.extxyz ::\n")
    path = _write_yaml(
        tmp_path,
        """\
        atom_types: [Si, O]
        symmetry_function:
            params: {Si: params_Si, O: params_O}
            valid_rate: 0.05
            atomic_weights:
                type: gdf
                params: {sigma: {Si: 0.02, O: 0.03}}
            weight_modifier:
                type: modified sigmoid
                params: {Si: {b: 0.5, c: 100.}, O: {b: 0.5, c: 100.}}
        neural_network:
            method: Adam
            nodes: 40
            total_epoch: 77
            learning_rate: {learning_rate: 0.01, decay_steps: 100, decay_rate: 0.9}
            force_coeff: 0.5
            use_stress: false
            pca: true
            regularization: {type: l2, params: {coeff: 1.0e-6}}
        """,
    )
    config, notes = config_from_simple_nn(path)
    assert config.data.train == (Source(f"{tmp_path}/d.extxyz", 1.0),)
    assert config.data.validation_fraction == 0.05
    assert config.network.hidden == (40,)
    assert config.training.max_epochs == 77 and config.training.batch_size == 64
    assert config.training.learning_rate == 0.01
    assert config.loss.force_weight == 0.5 and config.loss.stress_weight == 0.0
    gdf = config.loss.gdf
    assert gdf.enabled and gdf.sigma == {"Si": 0.02, "O": 0.03}
    assert (gdf.modifier_b, gdf.modifier_c) == (0.5, 100)
    assert any("decay" in n for n in notes)
    assert any("PCA" in n for n in notes)
    assert any(n.startswith("neural_network.regularization") for n in notes)


@pytest.mark.parametrize(
    "body, message",
    [
        ("params: {Si: params_Si}\n", r"index 2 outside 1\.\.1"),
        ("params: {Si: params_Si, O: params_O}\nneural_network: {nodes: 30-x}\n", "nodes"),
        ("params: {Si: params_Si, O: missing}\n", "missing"),
        ("params: []\n", "params"),
        ("symmetry_function: {params: {Si: params_Si, O: params_O}}\n", "atom_types"),
        ("params: {Si: params_Si, O: params_O}\npreprocessing: {valid_rate: 1.5}\n", "valid"),
    ],
)
def test_config_errors(tmp_path, body, message):
    _params_pair(tmp_path)
    (tmp_path / "structure_list").write_text("d.extxyz ::\n")
    path = _write_yaml(tmp_path, body)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        config_from_simple_nn(path)


def test_config_atom_types_order(tmp_path):
    """v2: atom_types listing the same elements fixes the index order."""
    _params_pair(tmp_path)
    (tmp_path / "structure_list").write_text("d.extxyz ::\n")
    path = _write_yaml(tmp_path, "atom_types: [O, Si]\nparams: {Si: params_Si, O: params_O}\n")
    config, _ = config_from_simple_nn(path)
    assert list(config.descriptors.simple_nn) == ["O", "Si"]
    # params_Si holds "2 2 0 ...": index 2 is now Si
    ds = descriptor_set_from_simple_nn(config.descriptors.simple_nn)
    assert ds.for_element("Si")[0].neighbors == ("Si",)
    # a different set of elements: v2 falls back to the params order, with a note
    path = _write_yaml(tmp_path, "atom_types: [O, Ge]\nparams: {Si: params_Si, O: params_O}\n")
    config, notes = config_from_simple_nn(path)
    assert list(config.descriptors.simple_nn) == ["Si", "O"]
    assert any("atom_types" in n for n in notes)


def test_config_missing_input(tmp_path):
    with pytest.raises(FileNotFoundError):
        config_from_simple_nn(tmp_path / "input.yaml")
    (tmp_path / "input.yaml").write_text("- a\n- b\n")
    with pytest.raises(ValueError, match="mapping"):
        config_from_simple_nn(tmp_path / "input.yaml")
