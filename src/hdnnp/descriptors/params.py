"""Symmetry-function parameters, their canonical (n2p2) order, and n2p2 ``input.nn`` syntax.

A :class:`SymmetryFunction` is one atom-centred symmetry function (Behler, J. Chem. Phys.
134, 074106 (2011)) in n2p2's definition:

* type 2, radial: ``G2_i = sum_j exp(-eta (r_ij - r_s)^2) f_c(r_ij)`` over neighbours j of
  one element; n2p2 line ``<ec> 2 <e1> <eta> <rs> <rc>``.
* type 3, narrow angular ``G_i = 2^(1-zeta) sum_{j<k} (1 + lambda cos theta_ijk)^zeta
  exp(-eta [(r_ij-r_s)^2 + (r_ik-r_s)^2 + (r_jk-r_s)^2]) f_c(r_ij) f_c(r_ik) f_c(r_jk)``;
  n2p2 line ``<ec> 3 <e1> <e2> <eta> <lambda> <zeta> <rc> [<rs>]``.
* type 9, wide angular: as type 3 without the r_jk terms in the exponential and without
  f_c(r_jk); n2p2 line ``<ec> 9 <e1> <e2> <eta> <lambda> <zeta> <rc> [<rs>]``.

Units inside hdnnp: eta in 1/Å^2, r_s and r_c in Å. The sum over j<k runs over unordered
neighbour pairs whose elements are {e1, e2}; e1 and e2 are stored ordered by atomic number.

Functions of one element are kept in n2p2's sorted order (``SymFnc*::operator<``): type,
cutoff type, cutoff alpha, r_c, eta, r_s, then zeta, lambda and the neighbour elements by
atomic number. That order is the order of the network inputs and of ``scaling.data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ase.data import atomic_numbers

from .cutoff import CUTOFF_NAMES

RADIAL = 2
ANGULAR_NARROW = 3
ANGULAR_WIDE = 9
SUPPORTED_TYPES = (RADIAL, ANGULAR_NARROW, ANGULAR_WIDE)


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol; ValueError for an unknown symbol."""
    try:
        return atomic_numbers[symbol]
    except KeyError:
        raise ValueError(f"unknown element symbol {symbol!r}") from None


def sort_elements(symbols) -> tuple[str, ...]:
    """Element symbols ordered by atomic number (n2p2's element index order)."""
    return tuple(sorted(set(symbols), key=atomic_number))


@dataclass(frozen=True)
class SymmetryFunction:
    """One symmetry function of a central element (n2p2 type 2, 3 or 9).

    Attributes:
        element: symbol of the central atom.
        type: n2p2 type: 2 radial, 3 narrow angular, 9 wide angular.
        neighbors: one symbol (radial) or two symbols ordered by atomic number (angular).
        eta: Gaussian width, 1/Å^2.
        rc: cutoff radius, Å.
        rs: shift, Å.
        zeta: angular exponent (angular only).
        lambda_: +1 or -1 (angular only).
    """

    element: str
    type: int
    neighbors: tuple[str, ...]
    eta: float
    rc: float
    rs: float = 0.0
    zeta: float = 1.0
    lambda_: float = 1.0

    def __post_init__(self) -> None:
        for name in ("eta", "rc", "rs", "zeta", "lambda_"):
            object.__setattr__(self, name, float(getattr(self, name)))
        object.__setattr__(self, "type", int(self.type))
        object.__setattr__(self, "neighbors", tuple(str(s) for s in self.neighbors))
        if self.type not in SUPPORTED_TYPES:
            raise ValueError(
                f"symmetry function type {self.type} is not supported "
                f"(supported n2p2 types: {SUPPORTED_TYPES})"
            )
        n_expected = 1 if self.type == RADIAL else 2
        if len(self.neighbors) != n_expected:
            raise ValueError(
                f"type {self.type} needs {n_expected} neighbour element(s), got {self.neighbors}"
            )
        for symbol in (self.element, *self.neighbors):
            atomic_number(symbol)
        if self.type != RADIAL:
            ordered = tuple(sorted(self.neighbors, key=atomic_number))
            object.__setattr__(self, "neighbors", ordered)
            if self.zeta < 1.0:
                raise ValueError(f"zeta must be >= 1, got {self.zeta}")
            if self.lambda_ not in (-1.0, 1.0):
                raise ValueError(f"lambda must be +1 or -1, got {self.lambda_}")
        if self.rc <= 0.0:
            raise ValueError(f"cutoff radius must be positive, got {self.rc}")
        if self.eta < 0.0:
            raise ValueError(f"eta must be >= 0, got {self.eta}")

    @property
    def is_angular(self) -> bool:
        return self.type != RADIAL

    def sort_key(self) -> tuple:
        """n2p2's ordering within one central element (cutoff type/alpha are global)."""
        neighbor_z = tuple(atomic_number(s) for s in self.neighbors)
        if self.type == RADIAL:
            return (self.type, self.rc, self.eta, self.rs, neighbor_z)
        return (self.type, self.rc, self.eta, self.rs, self.zeta, self.lambda_, neighbor_z)

    def scaled(self, length: float) -> SymmetryFunction:
        """The same function with lengths multiplied by ``length`` (eta by 1/length^2)."""
        return SymmetryFunction(
            self.element,
            self.type,
            self.neighbors,
            eta=self.eta / length**2,
            rc=self.rc * length,
            rs=self.rs * length,
            zeta=self.zeta,
            lambda_=self.lambda_,
        )


@dataclass(frozen=True)
class DescriptorSet:
    """All symmetry functions of a potential, in canonical order, plus the cutoff shape.

    Attributes:
        elements: element symbols ordered by atomic number.
        functions: every symmetry function, grouped by central element (in ``elements``
            order) and sorted in n2p2 order within each element.
        cutoff_type: name of the cutoff function (see :mod:`hdnnp.descriptors.cutoff`).
        cutoff_alpha: inner cutoff radius as a fraction of r_c.
    """

    elements: tuple[str, ...]
    functions: tuple[SymmetryFunction, ...]
    cutoff_type: str = "cos"
    cutoff_alpha: float = 0.0
    _by_element: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        elements = sort_elements(self.elements)
        if elements != tuple(self.elements):
            object.__setattr__(self, "elements", elements)
        if self.cutoff_type not in CUTOFF_NAMES:
            raise ValueError(
                f"unknown cutoff type {self.cutoff_type!r}; valid: {', '.join(CUTOFF_NAMES)}"
            )
        if not 0.0 <= self.cutoff_alpha < 1.0:
            raise ValueError(f"cutoff alpha must satisfy 0 <= alpha < 1, got {self.cutoff_alpha}")
        for sf in self.functions:
            unknown = {sf.element, *sf.neighbors} - set(elements)
            if unknown:
                raise ValueError(
                    f"symmetry function {sf} uses element(s) {sorted(unknown)} "
                    f"not in the potential's elements {list(elements)}"
                )
        by_element = {e: [] for e in elements}
        for sf in self.functions:
            by_element[sf.element].append(sf)
        for e in elements:
            by_element[e].sort(key=SymmetryFunction.sort_key)
            if not by_element[e]:
                raise ValueError(f"element {e} has no symmetry functions")
            _check_duplicates(e, by_element[e])
        ordered = tuple(sf for e in elements for sf in by_element[e])
        object.__setattr__(self, "functions", ordered)
        object.__setattr__(self, "_by_element", {e: tuple(v) for e, v in by_element.items()})

    def for_element(self, element: str) -> tuple[SymmetryFunction, ...]:
        """The functions of one central element, in network-input order."""
        return self._by_element[element]

    def count(self, element: str) -> int:
        return len(self._by_element[element])

    @property
    def max_cutoff(self) -> float:
        """Largest r_c of any function, Å."""
        return max(sf.rc for sf in self.functions)

    def scaled(self, length: float) -> DescriptorSet:
        """Convert all lengths by the factor ``length`` (e.g. Bohr -> Å)."""
        return DescriptorSet(
            self.elements,
            tuple(sf.scaled(length) for sf in self.functions),
            self.cutoff_type,
            self.cutoff_alpha,
        )

    def to_dict(self) -> dict:
        return {
            "elements": list(self.elements),
            "cutoff_type": self.cutoff_type,
            "cutoff_alpha": self.cutoff_alpha,
            "functions": [
                {
                    "element": sf.element,
                    "type": sf.type,
                    "neighbors": list(sf.neighbors),
                    "eta": sf.eta,
                    "rc": sf.rc,
                    "rs": sf.rs,
                    "zeta": sf.zeta,
                    "lambda": sf.lambda_,
                }
                for sf in self.functions
            ],
        }

    @classmethod
    def from_dict(cls, data: dict) -> DescriptorSet:
        functions = tuple(
            SymmetryFunction(
                f["element"],
                int(f["type"]),
                tuple(f["neighbors"]),
                eta=float(f["eta"]),
                rc=float(f["rc"]),
                rs=float(f.get("rs", 0.0)),
                zeta=float(f.get("zeta", 1.0)),
                lambda_=float(f.get("lambda", 1.0)),
            )
            for f in data["functions"]
        )
        return cls(
            tuple(data["elements"]),
            functions,
            data.get("cutoff_type", "cos"),
            float(data.get("cutoff_alpha", 0.0)),
        )


def radial_groups(descriptors: DescriptorSet) -> dict[tuple[int, int], list]:
    """Radial functions as (column, function) lists, keyed by (centre, neighbour) element
    index (position in ``descriptors.elements``)."""
    index = {e: n for n, e in enumerate(descriptors.elements)}
    groups: dict[tuple[int, int], list] = {}
    for e in descriptors.elements:
        for col, sf in enumerate(descriptors.for_element(e)):
            if sf.type == RADIAL:
                groups.setdefault((index[e], index[sf.neighbors[0]]), []).append((col, sf))
    return groups


def angular_groups(descriptors: DescriptorSet) -> dict[tuple[int, int, int], list]:
    """Angular functions as (column, function) lists, keyed by (centre, lower neighbour,
    higher neighbour) element index."""
    index = {e: n for n, e in enumerate(descriptors.elements)}
    groups: dict[tuple[int, int, int], list] = {}
    for e in descriptors.elements:
        for col, sf in enumerate(descriptors.for_element(e)):
            if sf.type != RADIAL:
                b, c = sorted(index[s] for s in sf.neighbors)
                groups.setdefault((index[e], b, c), []).append((col, sf))
    return groups


def _check_duplicates(element: str, functions: list[SymmetryFunction]) -> None:
    seen = set()
    for sf in functions:
        if sf in seen:
            raise ValueError(f"duplicate symmetry function for element {element}: {sf}")
        seen.add(sf)


def parse_n2p2_symfunction(tokens: list[str]) -> SymmetryFunction:
    """Parse the tokens after ``symfunction_short`` (lengths in the file's unit).

    Raises ValueError with the offending field named.
    """
    if len(tokens) < 2:
        raise ValueError("symfunction_short needs at least a central element and a type")
    element = tokens[0]
    try:
        sf_type = int(tokens[1])
    except ValueError:
        raise ValueError(f"field 'type' is not an integer: {tokens[1]!r}") from None
    if sf_type == RADIAL:
        names = ("e1", "eta", "rs", "rc")
        if len(tokens) != 6:
            raise ValueError(
                f"radial (type 2) needs '<ec> 2 <e1> <eta> <rs> <rc>', got {len(tokens)} fields"
            )
        values = _floats(tokens[3:], names[1:])
        return SymmetryFunction(
            element, RADIAL, (tokens[2],), eta=values[0], rs=values[1], rc=values[2]
        )
    if sf_type in (ANGULAR_NARROW, ANGULAR_WIDE):
        if len(tokens) not in (8, 9):
            raise ValueError(
                f"angular (type {sf_type}) needs '<ec> {sf_type} <e1> <e2> <eta> <lambda> "
                f"<zeta> <rc> [<rs>]', got {len(tokens)} fields"
            )
        names = ("eta", "lambda", "zeta", "rc", "rs")
        values = _floats(tokens[4:], names[: len(tokens) - 4])
        rs = values[4] if len(values) == 5 else 0.0
        return SymmetryFunction(
            element,
            sf_type,
            (tokens[2], tokens[3]),
            eta=values[0],
            lambda_=values[1],
            zeta=values[2],
            rc=values[3],
            rs=rs,
        )
    raise ValueError(
        f"symmetry function type {sf_type} is not supported by hdnnp "
        f"(supported n2p2 types: 2, 3, 9)"
    )


def _floats(tokens: list[str], names) -> list[float]:
    out = []
    for token, name in zip(tokens, names, strict=True):
        try:
            out.append(float(token))
        except ValueError:
            raise ValueError(f"field '{name}' is not a number: {token!r}") from None
    return out


def format_n2p2_symfunction(sf: SymmetryFunction) -> str:
    """The ``symfunction_short`` line of one function (lengths as stored)."""
    if sf.type == RADIAL:
        return (
            f"symfunction_short {sf.element:2s} 2 {sf.neighbors[0]:2s} "
            f"{sf.eta!r} {sf.rs!r} {sf.rc!r}"
        )
    return (
        f"symfunction_short {sf.element:2s} {sf.type} {sf.neighbors[0]:2s} {sf.neighbors[1]:2s} "
        f"{sf.eta!r} {sf.lambda_!r} {sf.zeta!r} {sf.rc!r} {sf.rs!r}"
    )
