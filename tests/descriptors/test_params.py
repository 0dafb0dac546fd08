"""Symmetry-function parameters: n2p2 order, element order, input.nn syntax, errors."""

from __future__ import annotations

import json

import pytest

from hdnnp.descriptors.params import (
    DescriptorSet,
    SymmetryFunction,
    format_n2p2_symfunction,
    parse_n2p2_symfunction,
    sort_elements,
)


def _parse_line(line: str) -> SymmetryFunction:
    tokens = line.split()
    assert tokens[0] == "symfunction_short"
    return parse_n2p2_symfunction(tokens[1:])


def _key(sf: SymmetryFunction) -> tuple:
    return (sf.element, sf.type, sf.neighbors, sf.rc, sf.eta, sf.rs, sf.zeta, sf.lambda_)


# ---------------------------------------------------------------------------------------
# element order
# ---------------------------------------------------------------------------------------


def test_elements_ordered_by_atomic_number():
    assert sort_elements(["S", "Cu"]) == ("S", "Cu")
    assert sort_elements(["Cu", "S"]) == ("S", "Cu")
    assert sort_elements(["O", "H", "Si", "H"]) == ("H", "O", "Si")
    fns = (
        SymmetryFunction("Cu", 2, ("S",), eta=0.1, rc=5.0),
        SymmetryFunction("S", 2, ("Cu",), eta=0.1, rc=5.0),
    )
    a = DescriptorSet(("Cu", "S"), fns)
    b = DescriptorSet(("S", "Cu"), fns[::-1])
    assert a.elements == b.elements == ("S", "Cu")
    assert a.functions == b.functions
    assert [sf.element for sf in a.functions] == ["S", "Cu"]


def test_angular_neighbours_ordered_by_atomic_number():
    sf = SymmetryFunction("O", 3, ("O", "H"), eta=0.1, rc=5.0, zeta=2.0, lambda_=-1.0)
    assert sf.neighbors == ("H", "O")
    sf = SymmetryFunction("S", 9, ("Cu", "S"), eta=0.1, rc=5.0)
    assert sf.neighbors == ("S", "Cu")
    parsed = _parse_line("symfunction_short Cu 9 Cu S 0.01 1 4 6.0")
    assert parsed.neighbors == ("S", "Cu")
    # equal after ordering: a duplicate
    assert SymmetryFunction("H", 3, ("O", "H"), 0.1, 5.0) == SymmetryFunction(
        "H", 3, ("H", "O"), 0.1, 5.0
    )


# ---------------------------------------------------------------------------------------
# n2p2 sort order
# ---------------------------------------------------------------------------------------

FILE_LINES = """\
symfunction_short O 9 H H 0.01 1 4 6.0
symfunction_short O 3 H O 0.01 1 1 6.0
symfunction_short H 3 O O 0.02 -1 16 6.0
symfunction_short H 3 O O 0.02 1 16 6.0
symfunction_short H 3 O O 0.02 -1 1 6.0
symfunction_short H 3 O O 0.02 1 1 6.0
symfunction_short H 3 O O 0.02 -1 2 6.0
symfunction_short H 3 O O 0.02 1 2 6.0
symfunction_short H 3 O O 0.02 1 4 6.0
symfunction_short H 3 O O 0.02 -1 4 6.0
symfunction_short H 9 H O 0.01 1 1 5.0
symfunction_short H 2 O 0.5 0.0 6.0
symfunction_short H 2 H 0.5 0.0 6.0
symfunction_short H 2 O 0.1 0.0 6.0
symfunction_short H 2 O 0.1 1.0 6.0
symfunction_short H 2 O 0.1 0.0 5.0
symfunction_short O 2 O 0.1 0.0 6.0
symfunction_short O 2 H 0.1 0.0 6.0
symfunction_short H 3 H O 0.02 1 4 6.0
symfunction_short H 3 H O 0.02 1 4 6.0 0.5
symfunction_short H 3 H O 0.01 1 4 6.0
symfunction_short H 3 H H 0.02 1 4 6.0
"""


def test_n2p2_sort_order():
    functions = [_parse_line(line) for line in FILE_LINES.splitlines()]
    ds = DescriptorSet(("O", "H"), tuple(functions))
    assert ds.elements == ("H", "O")
    # expected n2p2 order written out by hand: element (by Z), type 2 < 3 < 9, rc, eta,
    # rs, then zeta, lambda, neighbour elements (by Z)
    h_expected = [
        ("H", 2, ("O",), 5.0, 0.1, 0.0, 1.0, 1.0),
        ("H", 2, ("O",), 6.0, 0.1, 0.0, 1.0, 1.0),
        ("H", 2, ("O",), 6.0, 0.1, 1.0, 1.0, 1.0),
        ("H", 2, ("H",), 6.0, 0.5, 0.0, 1.0, 1.0),
        ("H", 2, ("O",), 6.0, 0.5, 0.0, 1.0, 1.0),
        ("H", 3, ("H", "O"), 6.0, 0.01, 0.0, 4.0, 1.0),
        ("H", 3, ("O", "O"), 6.0, 0.02, 0.0, 1.0, -1.0),
        ("H", 3, ("O", "O"), 6.0, 0.02, 0.0, 1.0, 1.0),
        ("H", 3, ("O", "O"), 6.0, 0.02, 0.0, 2.0, -1.0),
        ("H", 3, ("O", "O"), 6.0, 0.02, 0.0, 2.0, 1.0),
        ("H", 3, ("O", "O"), 6.0, 0.02, 0.0, 4.0, -1.0),
        ("H", 3, ("H", "H"), 6.0, 0.02, 0.0, 4.0, 1.0),
        ("H", 3, ("H", "O"), 6.0, 0.02, 0.0, 4.0, 1.0),
        ("H", 3, ("O", "O"), 6.0, 0.02, 0.0, 4.0, 1.0),
        ("H", 3, ("O", "O"), 6.0, 0.02, 0.0, 16.0, -1.0),
        ("H", 3, ("O", "O"), 6.0, 0.02, 0.0, 16.0, 1.0),
        ("H", 3, ("H", "O"), 6.0, 0.02, 0.5, 4.0, 1.0),
        ("H", 9, ("H", "O"), 5.0, 0.01, 0.0, 1.0, 1.0),
    ]
    o_expected = [
        ("O", 2, ("H",), 6.0, 0.1, 0.0, 1.0, 1.0),
        ("O", 2, ("O",), 6.0, 0.1, 0.0, 1.0, 1.0),
        ("O", 3, ("H", "O"), 6.0, 0.01, 0.0, 1.0, 1.0),
        ("O", 9, ("H", "H"), 6.0, 0.01, 0.0, 4.0, 1.0),
    ]
    assert [_key(sf) for sf in ds.for_element("H")] == h_expected
    assert [_key(sf) for sf in ds.for_element("O")] == o_expected
    assert [_key(sf) for sf in ds.functions] == h_expected + o_expected
    assert ds.count("H") == 18 and ds.count("O") == 4
    assert ds.max_cutoff == 6.0
    # the input order does not matter
    reversed_ds = DescriptorSet(("H", "O"), tuple(functions[::-1]))
    assert reversed_ds.functions == ds.functions


def test_zeta_sorted_numerically_with_lambda_minus_first():
    lines = [
        f"symfunction_short Si 9 Si Si 0.005 {lam} {zeta} 6.0"
        for zeta in ("1", "16", "2", "4")
        for lam in ("1", "-1")
    ]
    ds = DescriptorSet(("Si",), tuple(_parse_line(x) for x in lines))
    got = [(sf.zeta, sf.lambda_) for sf in ds.functions]
    assert got == [(z, lam) for z in (1.0, 2.0, 4.0, 16.0) for lam in (-1.0, 1.0)]


# ---------------------------------------------------------------------------------------
# input.nn syntax
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "symfunction_short H 2 O 0.25 1.5 6.0",
        "symfunction_short Cu 2 S 0.001 0.0 12.0",
        "symfunction_short O 3 H H 0.07 -1 4 6.5",
        "symfunction_short O 3 H O 0.07 1 2 6.5 0.8",
        "symfunction_short Si 9 O Si 0.003 1 16 5.0",
        "symfunction_short Si 9 O O 0.003 -1 1 5.0 1.25",
    ],
)
def test_parse_format_round_trip(line):
    sf = _parse_line(line)
    text = format_n2p2_symfunction(sf)
    again = _parse_line(text)
    assert again == sf
    assert format_n2p2_symfunction(again) == text


def test_parse_field_meaning():
    sf = _parse_line("symfunction_short H 2 O 0.25 1.5 6.0")
    assert (sf.element, sf.type, sf.neighbors) == ("H", 2, ("O",))
    assert (sf.eta, sf.rs, sf.rc) == (0.25, 1.5, 6.0)
    sf = _parse_line("symfunction_short O 3 H O 0.07 -1 4 6.5 0.8")
    assert (sf.element, sf.type, sf.neighbors) == ("O", 3, ("H", "O"))
    assert (sf.eta, sf.lambda_, sf.zeta, sf.rc, sf.rs) == (0.07, -1.0, 4.0, 6.5, 0.8)
    sf = _parse_line("symfunction_short O 9 H H 0.07 1 2 6.5")
    assert (sf.type, sf.eta, sf.lambda_, sf.zeta, sf.rc, sf.rs) == (9, 0.07, 1.0, 2.0, 6.5, 0.0)


@pytest.mark.parametrize(
    ("tokens", "match"),
    [
        ("H 12 O 0.1 0.0 6.0", "type 12"),
        ("H 4 O 0.1 0.0 6.0", "type 4"),
        ("H two O 0.1 0.0 6.0", "type"),
        ("H", "at least"),
        ("H 2 O 0.1 6.0", "6 fields|got 5"),
        ("H 2 O 0.1 0.0 6.0 1.0", "got 7"),
        ("H 3 O O 0.1 1 1", "got 7"),
        ("H 9 O O 0.1 1 1 6.0 0.0 1.0", "got 10"),
        ("H 2 O abc 0.0 6.0", "'eta'"),
        ("H 2 O 0.1 x 6.0", "'rs'"),
        ("H 2 O 0.1 0.0 rc", "'rc'"),
        ("H 3 O O 0.1 one 1 6.0", "'lambda'"),
        ("H 3 O O 0.1 1 z 6.0", "'zeta'"),
        ("H 9 O O 0.1 1 1 six", "'rc'"),
        ("H 9 O O 0.1 1 1 6.0 s", "'rs'"),
        ("H 3 O O 0.1 2 1 6.0", "lambda"),
        ("H 3 O O 0.1 1 0.5 6.0", "zeta"),
        ("H 2 O 0.1 0.0 -1.0", "cutoff radius"),
        ("H 2 O -0.1 0.0 6.0", "eta"),
        ("H 2 Xx 0.1 0.0 6.0", "Xx"),
    ],
)
def test_parse_errors_name_the_problem(tokens, match):
    with pytest.raises(ValueError, match=match):
        parse_n2p2_symfunction(tokens.split())


def test_symmetry_function_validation():
    with pytest.raises(ValueError, match="neighbour"):
        SymmetryFunction("H", 2, ("H", "O"), 0.1, 5.0)
    with pytest.raises(ValueError, match="neighbour"):
        SymmetryFunction("H", 3, ("H",), 0.1, 5.0)
    with pytest.raises(ValueError, match="not supported"):
        SymmetryFunction("H", 5, ("H",), 0.1, 5.0)


# ---------------------------------------------------------------------------------------
# DescriptorSet checks and conversions
# ---------------------------------------------------------------------------------------


def _small_set(cutoff_type="cos", alpha=0.0) -> DescriptorSet:
    return DescriptorSet(
        ("O", "H"),
        (
            SymmetryFunction("H", 2, ("O",), eta=0.5, rc=6.0, rs=0.7),
            SymmetryFunction("H", 9, ("O", "H"), eta=0.01, rc=5.0, zeta=2.0, lambda_=-1.0),
            SymmetryFunction("O", 3, ("H", "H"), eta=0.02, rc=6.0, rs=0.3, zeta=4.0),
            SymmetryFunction("O", 2, ("H",), eta=0.1, rc=6.0),
        ),
        cutoff_type,
        alpha,
    )


def test_descriptor_set_rejects_duplicates():
    sf = SymmetryFunction("H", 2, ("H",), 0.1, 5.0)
    with pytest.raises(ValueError, match="duplicate"):
        DescriptorSet(("H",), (sf, SymmetryFunction("H", 2, ("H",), 0.1, 5.0)))
    a = SymmetryFunction("H", 3, ("H", "O"), 0.1, 5.0)
    b = SymmetryFunction("H", 3, ("O", "H"), 0.1, 5.0)
    o = SymmetryFunction("O", 2, ("H",), 0.1, 5.0)
    with pytest.raises(ValueError, match="duplicate"):
        DescriptorSet(("H", "O"), (a, b, o))


def test_descriptor_set_rejects_element_without_functions():
    with pytest.raises(ValueError, match="O has no symmetry functions"):
        DescriptorSet(("H", "O"), (SymmetryFunction("H", 2, ("O",), 0.1, 5.0),))


def test_descriptor_set_rejects_foreign_elements_and_bad_cutoff():
    with pytest.raises(ValueError, match="not in the potential's elements"):
        DescriptorSet(("H",), (SymmetryFunction("H", 2, ("O",), 0.1, 5.0),))
    sf = SymmetryFunction("H", 2, ("H",), 0.1, 5.0)
    with pytest.raises(ValueError, match="cutoff type"):
        DescriptorSet(("H",), (sf,), "gauss")
    with pytest.raises(ValueError, match="alpha"):
        DescriptorSet(("H",), (sf,), "cos", 1.0)


def test_scaled_converts_lengths():
    bohr = 0.529177210903
    ds = _small_set()
    scaled = ds.scaled(bohr)
    for old, new in zip(ds.functions, scaled.functions, strict=True):
        assert new.eta == pytest.approx(old.eta / bohr**2, rel=1e-15)
        assert new.rc == pytest.approx(old.rc * bohr, rel=1e-15)
        assert new.rs == pytest.approx(old.rs * bohr, rel=1e-15)
        assert (new.zeta, new.lambda_, new.type, new.neighbors) == (
            old.zeta,
            old.lambda_,
            old.type,
            old.neighbors,
        )
    # eta (r - rs)^2 and r / rc are invariant under the change of unit
    sf, sfb = ds.functions[0], scaled.functions[0]
    r = 1.9
    assert sf.eta * (r - sf.rs) ** 2 == pytest.approx(sfb.eta * (r * bohr - sfb.rs) ** 2)
    assert scaled.max_cutoff == pytest.approx(6.0 * bohr)


def test_dict_round_trip():
    ds = _small_set("poly2", 0.25)
    data = ds.to_dict()
    again = DescriptorSet.from_dict(data)
    assert again == ds
    assert again.functions == ds.functions
    assert (again.cutoff_type, again.cutoff_alpha) == ("poly2", 0.25)
    assert DescriptorSet.from_dict(json.loads(json.dumps(data))) == ds


def test_numpy_parameters_are_stored_as_python_floats():
    """numpy scalars (e.g. from np.linspace) must format as plain numbers in input.nn."""
    import numpy as np

    from hdnnp.descriptors.params import (
        SymmetryFunction,
        format_n2p2_symfunction,
        parse_n2p2_symfunction,
    )

    sf = SymmetryFunction("Cu", 2, ("Cu",), eta=np.float64(4.0), rs=np.float64(2.5), rc=4.5)
    line = format_n2p2_symfunction(sf)
    assert "np." not in line
    assert parse_n2p2_symfunction(line.split()[1:]) == sf
