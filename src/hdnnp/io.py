"""Reading and writing structures: n2p2/RuNNer ``input.data`` and every ASE format.

Everything returned is a :class:`~hdnnp.structures.Structure` in the package units (eV,
Å, eV/Å, eV/Å^3). Only n2p2 ``input.data`` files take a ``units`` argument
(see :mod:`hdnnp.units`); ASE formats carry their own units, which ASE converts.

The n2p2 ``input.data`` format (https://compphysvienna.github.io/n2p2/topics/cfg_file.html),
one block per structure; keywords are case-sensitive, whitespace is free::

    begin
    comment <text>                       (optional)
    lattice <ax> <ay> <az>               (3 lines for a periodic structure, 0 for open)
    lattice <bx> <by> <bz>
    lattice <cx> <cy> <cz>
    atom <x> <y> <z> <element> <charge> <n> <fx> <fy> <fz>    (one per atom)
    energy <E>                           (total energy)
    charge <Q>                           (total charge)
    end

``<n>`` is unused by n2p2 (some RuNNer files put an atomic energy there); it is ignored
on reading and written as 0. n2p2 maps atoms of periodic structures back into the cell;
this reader keeps the positions as given (descriptors do not depend on it).

This module is also an ASE I/O plugin (entry point ``ase.ioformats``, format name
``n2p2``): ``ase.io.read("input.data", ":", format="n2p2")`` and
``ase.io.write("out.data", images, format="n2p2")`` work once hdnnp is installed.
It must not import :mod:`ase.io` at module level, because ASE imports this module while
:mod:`ase.io` is still being imported.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.utils.plugins import ExternalIOFormat

from hdnnp.fileio import atomic_write
from hdnnp.structures import Structure, validate
from hdnnp.units import UnitSystem, get_units

__all__ = [
    "N2P2_ASE_FORMAT",
    "format_input_data_frame",
    "iter_input_data",
    "parse_index",
    "read_input_data",
    "read_n2p2",
    "read_structures",
    "split_spec",
    "structure_from_atoms",
    "write_input_data",
    "write_n2p2",
]

N2P2_ASE_FORMAT = ExternalIOFormat(
    desc="n2p2/RuNNer input.data",
    code="+F",
    module="hdnnp.io",
    glob=["input.data", "output.data"],
)
"""ASE plugin description, registered by the ``ase.ioformats`` entry point ``n2p2``.

No ``ext``: ASE's own ``runnerdata`` format already claims ``.data``. The globs make
``ase.io.read("input.data")`` pick this reader without ``format=``.
"""

ATOM_FIELDS = ("x", "y", "z", "element", "charge", "n", "fx", "fy", "fz")
LATTICE_FIELDS = (("ax", "ay", "az"), ("bx", "by", "bz"), ("cx", "cy", "cz"))
_ELEMENTS = {symbol: z for z, symbol in enumerate(chemical_symbols) if z > 0}
_FLOAT = "%24.16E"  # 17 significant digits: float64 values survive a round trip exactly


# ----------------------------------------------------------------------------- reading


class _FrameBuilder:
    """Collects the lines of one begin/end block and builds the Structure."""

    def __init__(self, name: str, index: int, begin_line: int) -> None:
        self.name = name
        self.index = index
        self.begin_line = begin_line
        self.comment: str | None = None
        self.lattice: list[list[float]] = []
        self.lattice_lines: list[int] = []
        self.numbers: list[int] = []
        self.positions: list[list[float]] = []
        self.charges: list[float] = []
        self.forces: list[list[float]] = []
        self.scalars: dict[str, tuple[float, int]] = {}

    def error(self, lineno: int, message: str) -> ValueError:
        return ValueError(f"{self.name}:{lineno} (frame {self.index}): {message}")

    def number(self, token: str, field: str, lineno: int) -> float:
        try:
            value = float(token)
        except ValueError:
            raise self.error(lineno, f"field {field!r} is not a number: {token!r}") from None
        if not math.isfinite(value):
            raise self.error(lineno, f"field {field!r} is not finite: {token!r}")
        return value

    def numbers_of(self, tokens: Sequence[str], fields: Sequence[str], lineno: int):
        return [self.number(t, f, lineno) for t, f in zip(tokens, fields, strict=True)]

    def expect(self, tokens: list[str], fields: Sequence[str], lineno: int) -> None:
        if len(tokens) - 1 != len(fields):
            raise self.error(
                lineno,
                f"{tokens[0]!r} line needs {len(fields)} values ({' '.join(fields)}), "
                f"got {len(tokens) - 1}",
            )

    def add(self, tokens: list[str], line: str, lineno: int) -> None:
        key = tokens[0]
        if key == "comment":
            self.comment = line.strip()[len(key) :].strip()
        elif key == "lattice":
            self._lattice(tokens, lineno)
        elif key == "atom":
            self._atom(tokens, lineno)
        elif key in ("energy", "charge"):
            self._scalar(tokens, lineno)
        else:
            raise self.error(
                lineno,
                f"unknown keyword {key!r} (expected atom, lattice, comment, energy, charge or end)",
            )

    def _lattice(self, tokens: list[str], lineno: int) -> None:
        if len(self.lattice) == 3:
            raise self.error(lineno, "field 'lattice': more than 3 lattice lines")
        fields = LATTICE_FIELDS[len(self.lattice)]
        self.expect(tokens, fields, lineno)
        self.lattice.append(self.numbers_of(tokens[1:], fields, lineno))
        self.lattice_lines.append(lineno)

    def _atom(self, tokens: list[str], lineno: int) -> None:
        self.expect(tokens, ATOM_FIELDS, lineno)
        symbol = tokens[4]
        if symbol not in _ELEMENTS:
            raise self.error(lineno, f"field 'element' is not an element symbol: {symbol!r}")
        self.numbers.append(_ELEMENTS[symbol])
        self.positions.append(self.numbers_of(tokens[1:4], ATOM_FIELDS[:3], lineno))
        self.charges.append(self.number(tokens[5], "charge", lineno))
        self.forces.append(self.numbers_of(tokens[7:10], ATOM_FIELDS[6:], lineno))

    def _scalar(self, tokens: list[str], lineno: int) -> None:
        key = tokens[0]
        self.expect(tokens, (key,), lineno)
        if key in self.scalars:
            first = self.scalars[key][1]
            raise self.error(lineno, f"field {key!r} given twice (first at line {first})")
        self.scalars[key] = (self.number(tokens[1], key, lineno), lineno)

    def finish(self, end_line: int, units: UnitSystem) -> Structure:
        """Build the Structure in eV/Å from the collected values in ``units``."""
        if len(self.lattice) not in (0, 3):
            raise self.error(
                self.lattice_lines[-1],
                f"field 'lattice': {len(self.lattice)} lattice line(s) in this frame, need 3 "
                "(periodic) or 0 (non-periodic)",
            )
        if not self.numbers:
            raise self.error(end_line, "field 'atom': the frame has no atom lines")
        length, energy = units.length_to_angstrom, units.energy_to_ev
        periodic = bool(self.lattice)
        cell = np.array(self.lattice, dtype=np.float64) if periodic else np.zeros((3, 3))
        structure = Structure(
            numbers=np.array(self.numbers, dtype=np.int64),
            positions=np.array(self.positions, dtype=np.float64) * length,
            cell=cell * length,
            pbc=(periodic, periodic, periodic),
            energy=self._scaled("energy", energy),
            forces=np.array(self.forces, dtype=np.float64) * (energy / length),
            charges=np.array(self.charges, dtype=np.float64),
            total_charge=self._scaled("charge", 1.0),
            source=self.name,
            index=self.index,
            info={} if self.comment is None else {"comment": self.comment},
        )
        try:
            validate(structure)
        except ValueError as exc:
            raise self.error(self.begin_line, str(exc)) from None
        return structure

    def _scaled(self, key: str, factor: float) -> float | None:
        return self.scalars[key][0] * factor if key in self.scalars else None


def iter_input_data(
    lines: Iterable[str], name: str = "<input.data>", units: str | UnitSystem = "ev-angstrom"
) -> Iterator[Structure]:
    """Parse n2p2 ``input.data`` text frame by frame.

    Args:
        lines: the file's lines (an open text file works).
        name: file name used as ``Structure.source`` and in error messages.
        units: units of the numbers in the file (``"ev-angstrom"`` or
            ``"hartree-bohr"``); the structures are converted to eV, Å, eV/Å.

    Yields:
        Structures with ``index`` = 0-based frame number, positions/cell in Å, forces in
        eV/Å (always set), energy in eV (None without an ``energy`` line), charges in e,
        total charge in e (None without a ``charge`` line), ``info["comment"]`` when the
        frame has a comment. Periodic (pbc all True) when the frame has 3 lattice lines,
        else open with an all-zero cell.

    Raises:
        ValueError: naming file, line, frame and field, e.g.
            ``input.data:123 (frame 4): field 'fx' is not a number: 'abc'``.
    """
    unit = get_units(units)
    frame: _FrameBuilder | None = None
    count = 0
    for lineno, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        key = tokens[0]
        if key == "begin":
            if frame is not None:
                raise frame.error(
                    lineno,
                    f"keyword 'begin' before keyword 'end' of the frame begun at line "
                    f"{frame.begin_line} (missing 'end')",
                )
            frame = _FrameBuilder(name, count, lineno)
        elif frame is None:
            where = f"after frame {count - 1}" if count else "before frame 0"
            raise ValueError(
                f"{name}:{lineno} ({where}): keyword {key!r} outside a begin/end block"
            )
        elif key == "end":
            yield frame.finish(lineno, unit)
            frame = None
            count += 1
        else:
            frame.add(tokens, line, lineno)
    if frame is not None:
        raise frame.error(
            frame.begin_line, "keyword 'end' missing: the frame begun here runs to end of file"
        )


def read_input_data(
    path: str | os.PathLike, units: str | UnitSystem = "ev-angstrom"
) -> list[Structure]:
    """Read every frame of an n2p2 ``input.data`` file, converted to eV/Å.

    ``units`` are the file's units (``"ev-angstrom"`` or ``"hartree-bohr"``); see
    :func:`iter_input_data` for what each Structure holds and for the errors.
    """
    with open(path, encoding="utf-8") as handle:
        return list(iter_input_data(handle, os.fspath(path), units))


# ------------------------------------------------------------------------------ index


def parse_index(text: str) -> int | slice:
    """Parse a frame index: ``"5"`` -> 5, ``"-1"`` -> -1, ``"::10"``, ``"0:100:2"``, ``":"``.

    Raises ValueError for anything else (including a zero step).
    """
    body = text.strip()
    try:
        if ":" not in body:
            return int(body)
        parts = body.split(":")
        if len(parts) > 3:
            raise ValueError
        index = slice(*[int(part) if part.strip() else None for part in parts])
    except ValueError:
        raise ValueError(
            f"invalid frame index {text!r}: expected an integer or START:STOP:STEP "
            "(e.g. '-1', ':100', '::10')"
        ) from None
    if index.step == 0:
        raise ValueError(f"invalid frame index {text!r}: the step must not be 0")
    return index


def split_spec(spec: str | os.PathLike) -> tuple[str, int | slice | None]:
    """Split a structure spec into ``(path, index)``.

    Accepted: ``PATH`` (all frames), ``PATH@INDEX`` (ASE's ``ase.io.read`` convention,
    e.g. ``train.extxyz@:100``, ``input.data@-1``) and ``PATH INDEX`` with whitespace
    (SIMPLE-NN's ``str_list`` convention, e.g. ``OUTCAR ::10``, ``input.data 0:100:2``).
    INDEX is parsed by :func:`parse_index`. A spec naming an existing file is taken
    whole, so file names containing ``@`` or spaces still work; a ``pathlib.Path`` is
    always a plain path (never split).
    """
    if not isinstance(spec, str):
        return os.fspath(spec), None
    text = spec.strip()
    if os.path.exists(text):
        return text, None
    candidates = []
    parts = text.rsplit(None, 1)
    if len(parts) == 2:
        candidates.append((parts[0], parts[1]))
    head, at, tail = text.rpartition("@")
    if at and "/" not in tail and os.sep not in tail:
        candidates.append((head, tail))
    for path, index_text in candidates:
        try:
            return path, parse_index(index_text)
        except ValueError:
            if os.path.exists(path):
                raise
    return text, None


def _select(frames: Iterable, index: int | slice | str | None, where: str) -> list[tuple]:
    """Return ``[(position_in_file, frame), ...]`` for ``index``, reading no further than
    needed when the index has no negative parts."""
    if index is None:
        return list(enumerate(frames))
    if isinstance(index, str):
        index = parse_index(index)
    if isinstance(index, slice):
        return _select_slice(frames, index)
    position = int(index)
    if position >= 0:
        found = list(itertools.islice(enumerate(frames), position, position + 1))
    else:
        items = list(frames)
        found = [(len(items) + position, items[position])] if -position <= len(items) else []
    if not found:
        raise IndexError(f"{where}: frame index {position} is out of range")
    return found


def _select_slice(frames: Iterable, index: slice) -> list[tuple]:
    start, stop, step = index.start, index.stop, index.step or 1
    if step > 0 and (start or 0) >= 0 and (stop is None or stop >= 0):
        return list(itertools.islice(enumerate(frames), start, stop, step))
    items = list(frames)
    return [(position, items[position]) for position in range(len(items))[index]]


# ----------------------------------------------------------------- ASE <-> Structure


def _calc_result(atoms: Atoms, name: str):
    """A result already held by ``atoms.calc`` (None if absent); never calculates."""
    from ase.calculators.calculator import PropertyNotImplementedError

    if atoms.calc is None:
        return None
    try:
        return atoms.calc.get_property(name, atoms, allow_calculation=False)
    except PropertyNotImplementedError:
        return None


def _stress_3x3(stress) -> np.ndarray | None:
    if stress is None:
        return None
    stress = np.asarray(stress, dtype=np.float64)
    if stress.shape == (6,):
        from ase.stress import voigt_6_to_full_3x3_stress

        return voigt_6_to_full_3x3_stress(stress)
    return stress.reshape(3, 3).copy()


def structure_from_atoms(atoms: Atoms, source: str = "", index: int = 0) -> Structure:
    """Convert :class:`ase.Atoms` to a :class:`Structure` (ASE units are eV/Å already).

    Energy (eV), forces (eV/Å) and stress (eV/Å^3, Voigt or 3x3 -> 3x3, ASE sign
    convention) are the results the attached calculator already holds (e.g. a
    SinglePointCalculator from a file), None when absent; nothing is calculated.
    Charges are the initial charges when set; ``atoms.info["total_charge"]`` becomes the
    total charge; the rest of ``atoms.info`` is copied into ``info``.
    """
    energy = _calc_result(atoms, "energy")
    forces = _calc_result(atoms, "forces")
    info = dict(atoms.info)
    total_charge = info.pop("total_charge", None)
    return Structure(
        numbers=np.array(atoms.numbers, dtype=np.int64),
        positions=np.array(atoms.positions, dtype=np.float64),
        cell=np.array(atoms.cell.array, dtype=np.float64),
        pbc=tuple(bool(p) for p in atoms.pbc),
        energy=None if energy is None else float(energy),
        forces=None if forces is None else np.array(forces, dtype=np.float64),
        stress=_stress_3x3(_calc_result(atoms, "stress")),
        charges=(
            np.array(atoms.get_initial_charges(), dtype=np.float64)
            if atoms.has("initial_charges")
            else None
        ),
        total_charge=None if total_charge is None else float(total_charge),
        source=source,
        index=index,
        info=info,
    )


def _structure_to_atoms(structure: Structure) -> Atoms:
    atoms = structure.to_atoms()
    if structure.total_charge is not None:
        atoms.info["total_charge"] = structure.total_charge
    return atoms


# ----------------------------------------------------------------------- any format


def _first_keyword(path: str) -> str | None:
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            tokens = line.split()
            if tokens:
                return tokens[0]
    return None


def is_input_data(path: str | os.PathLike) -> bool:
    """True for an n2p2 file: named ``input.data`` or ``*.data``, first keyword ``begin``."""
    path = Path(path)
    named = path.name == "input.data" or path.suffix == ".data"
    return named and path.is_file() and _first_keyword(str(path)) == "begin"


def _read_ase(path: str, index, format: str | None) -> list[Structure]:
    from ase.io import iread
    from ase.io.formats import UnknownFileTypeError

    frames = iread(path, index=":", format=format, do_not_split_by_at_sign=True)
    try:
        selected = _select(frames, index, path)
    except UnknownFileTypeError as exc:
        raise ValueError(f"{path}: ASE cannot read this file: {exc}") from exc
    return [structure_from_atoms(atoms, source=path, index=pos) for pos, atoms in selected]


def read_structures(
    spec: str | os.PathLike,
    units: str | UnitSystem = "ev-angstrom",
    index: int | slice | str | None = None,
    format: str | None = None,
) -> list[Structure]:
    """Read structures from any supported file, in eV/Å.

    Args:
        spec: a path, optionally with a frame index: ``PATH@INDEX`` (ASE style, e.g.
            ``train.extxyz@:100``) or ``PATH INDEX`` (SIMPLE-NN style, e.g.
            ``input.data ::10``); see :func:`split_spec`.
        units: units of an n2p2 ``input.data`` file (``"ev-angstrom"`` or
            ``"hartree-bohr"``). Ignored for ASE formats, which carry their own units.
        index: frame selection (int, slice or index string); not allowed together with
            an index inside ``spec``. Default: all frames.
        format: ``"n2p2"`` or an ASE format name; default: n2p2 when
            :func:`is_input_data`, else ASE's guess.

    Returns:
        A list of Structures; ``index`` of each is its 0-based position in the file
        (so ``f@::10`` gives indices 0, 10, 20, ...), ``source`` is the path. For ASE
        formats, energy/forces/stress come from the stored calculator results
        (None when absent), see :func:`structure_from_atoms`.

    Raises:
        FileNotFoundError: naming the path when it does not exist.
        ValueError: for a malformed file (naming file, line, frame, field) or index.
        IndexError: for an integer index beyond the frames of the file.
    """
    path, spec_index = split_spec(spec)
    if spec_index is not None and index is not None:
        raise ValueError(f"frame index given twice: in {spec!r} and as index={index!r}")
    index = spec_index if index is None else index
    if not os.path.exists(path):
        hint = "" if ":" not in Path(path).name else " (select frames as PATH@INDEX or PATH INDEX)"
        raise FileNotFoundError(f"structure file not found: {path!r}{hint}")
    if format == "n2p2" or (format is None and is_input_data(path)):
        with open(path, encoding="utf-8") as handle:
            selected = _select(iter_input_data(handle, path, units), index, path)
        return [structure for _, structure in selected]
    return _read_ase(path, index, format)


# ----------------------------------------------------------------------------- writing


def _symbol(structure: Structure, number: int) -> str:
    if not 0 < number < len(chemical_symbols):
        raise ValueError(f"{structure.where}: field 'numbers': no element has Z={number}")
    return chemical_symbols[number]


def _lattice_lines(structure: Structure, length: float) -> list[str]:
    pbc = tuple(bool(p) for p in structure.pbc)
    if not any(pbc):
        return []
    if not all(pbc):
        raise ValueError(
            f"{structure.where}: field 'pbc': n2p2 input.data holds only fully periodic or "
            f"non-periodic structures, got pbc={pbc} (add vacuum and set pbc=True)"
        )
    cell = np.asarray(structure.cell, dtype=np.float64) / length
    return [f"lattice {_FLOAT % a} {_FLOAT % b} {_FLOAT % c}\n" for a, b, c in cell]


def format_input_data_frame(structure: Structure, units: str | UnitSystem = "ev-angstrom") -> str:
    """One ``begin``...``end`` block of n2p2 ``input.data`` for ``structure``.

    Values are converted from eV/Å to ``units`` and written with 17 significant digits
    (``%24.16E``). Missing labels are written as n2p2 requires a value: forces as 0,
    charges as 0, energy as 0.0 (n2p2 needs an ``energy`` line), total charge as the sum
    of the atomic charges (0 without charges).
    """
    unit = get_units(units)
    validate(structure)
    n_atoms = structure.n_atoms
    length, energy_unit = unit.length_to_angstrom, unit.energy_to_ev
    positions = np.asarray(structure.positions, dtype=np.float64) / length
    forces = np.zeros((n_atoms, 3)) if structure.forces is None else structure.forces
    forces = np.asarray(forces, dtype=np.float64).reshape(n_atoms, 3) / (energy_unit / length)
    charges = np.zeros(n_atoms) if structure.charges is None else structure.charges
    charges = np.asarray(charges, dtype=np.float64).reshape(n_atoms)
    total = structure.total_charge
    total = float(np.sum(charges)) if total is None else float(total)
    energy = 0.0 if structure.energy is None else float(structure.energy) / energy_unit
    lines = ["begin\n"]
    comment = structure.info.get("comment")
    if comment is not None:
        lines.append("comment " + " ".join(str(comment).split()) + "\n")
    lines += _lattice_lines(structure, length)
    zero = _FLOAT % 0.0
    for number, (x, y, z), q, (fx, fy, fz) in zip(
        structure.numbers, positions, charges, forces, strict=True
    ):
        values = [_FLOAT % v for v in (x, y, z)]
        values += [f"{_symbol(structure, int(number)):<2s}", _FLOAT % q, zero]
        values += [_FLOAT % v for v in (fx, fy, fz)]
        lines.append("atom " + " ".join(values) + "\n")
    lines += [f"energy {_FLOAT % energy}\n", f"charge {_FLOAT % total}\n", "end\n"]
    return "".join(lines)


def _as_structure(item, position: int) -> Structure:
    if isinstance(item, Structure):
        return item
    if isinstance(item, Atoms):
        return structure_from_atoms(item, index=position)
    raise TypeError(
        f"item {position}: expected a Structure or ase.Atoms, got {type(item).__name__}"
    )


def write_input_data(
    path: str | os.PathLike,
    structures_or_atoms: Structure | Atoms | Iterable[Structure | Atoms],
    units: str | UnitSystem = "ev-angstrom",
) -> None:
    """Write structures (or ``ase.Atoms``) to an n2p2 ``input.data`` file, atomically.

    The file appears complete or not at all (:func:`hdnnp.fileio.atomic_write`).
    Numbers are converted from eV/Å to ``units`` and written at full precision. For
    ``ase.Atoms`` the energy and forces are the calculator's stored results; a structure
    without energy is written with ``energy 0.0`` because n2p2 requires the line, and
    missing forces/charges as zeros (see :func:`format_input_data_frame`).
    """
    unit = get_units(units)
    items = (
        [structures_or_atoms]
        if isinstance(structures_or_atoms, (Structure, Atoms))
        else structures_or_atoms
    )
    with atomic_write(path, "w", encoding="utf-8") as handle:
        for position, item in enumerate(items):
            handle.write(format_input_data_frame(_as_structure(item, position), unit))


# ------------------------------------------------------------------------ ASE plugin


def read_n2p2(fd, index=None, units: str | UnitSystem = "ev-angstrom") -> Iterator[Atoms]:
    """ASE reader (format ``n2p2``): yield the frames of ``fd`` selected by ``index``.

    Each Atoms carries energy (eV) and forces (eV/Å) as SinglePointCalculator results,
    initial charges, ``info["comment"]`` and ``info["total_charge"]``. ``units`` (a
    keyword passed through ``ase.io.read``) are the file's units.
    """
    name = str(getattr(fd, "name", "<n2p2 stream>"))
    for _, structure in _select(iter_input_data(fd, name, units), index, name):
        yield _structure_to_atoms(structure)


def write_n2p2(fd, images, units: str | UnitSystem = "ev-angstrom") -> None:
    """ASE writer (format ``n2p2``): write ``images`` to the open text file ``fd``.

    Not atomic (ASE opens the file); use :func:`write_input_data` for atomic writes.
    """
    if isinstance(images, Atoms):
        images = [images]
    for position, atoms in enumerate(images):
        fd.write(format_input_data_frame(_as_structure(atoms, position), units))
