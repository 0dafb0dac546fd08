"""Pieces shared by the subcommands: the command record, user errors, model and data input."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import NamedTuple


class UsageError(Exception):
    """An error caused by the user's input; reported without a traceback (exit 2)."""


class Command(NamedTuple):
    """One subcommand: ``add_arguments(parser)``, ``handler(args) -> exit status``, a one
    line summary and the examples shown by ``--help``."""

    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]
    summary: str
    examples: str


def load_model(path: str, units: str = "ev-angstrom"):
    """:func:`hdnnp.load` with a user-facing error naming the accepted kinds of MODEL."""
    from ..api import load

    try:
        return load(path, units=units)
    except (OSError, ValueError) as err:
        raise UsageError(
            f"cannot load the potential: {err}\n  fix: MODEL must be an hdnnp potential file, "
            "an n2p2 potential directory (input.nn, scaling.data, weights.NNN.data; give "
            "--units for its units) or a training run directory"
        ) from None


def read_data(specs: Sequence[str], units: str = "ev-angstrom") -> list:
    """Structures of several files (``PATH`` or ``PATH@INDEX``), with user-facing errors."""
    from ..io import read_structures

    structures = []
    for spec in specs:
        try:
            structures += read_structures(spec, units=units)
        except (OSError, ValueError, IndexError) as err:
            raise UsageError(
                f"cannot read structures from {spec!r}: {err}\n  fix: give an existing n2p2 "
                "input.data or ASE-readable file, optionally PATH@INDEX (e.g. data.extxyz@::10)"
            ) from None
    return structures


def read_atoms(spec: str, units: str = "ev-angstrom"):
    """One ``ase.Atoms`` from ``PATH`` or ``PATH@INDEX`` (default: the last frame) of any
    ASE-readable file or n2p2 input.data. Velocities stored in the file (extxyz momenta)
    are kept."""
    import ase.io

    from ..io import is_input_data, read_structures, split_spec

    path, index = split_spec(spec)
    try:
        if is_input_data(path):
            frames = read_structures(path, units=units, index=-1 if index is None else index)
            if len(frames) != 1:
                raise ValueError(f"selects {len(frames)} frames; give one, e.g. {path}@-1")
            return frames[0].to_atoms()
        atoms = ase.io.read(path, -1 if index is None else index)
    except (OSError, ValueError, IndexError, StopIteration) as err:
        raise UsageError(
            f"cannot read a structure from {spec!r}: {err}\n  fix: give an existing "
            "structure file ASE reads (extxyz, POSCAR, cif, ...) or n2p2 input.data, "
            "optionally PATH@INDEX"
        ) from None
    if isinstance(atoms, list):
        raise UsageError(f"{spec!r} selects {len(atoms)} frames; give one, e.g. {path}@-1")
    return atoms


def check_device(device: str) -> str:
    """The device name if it can be used, else a UsageError naming the fix."""
    from ..predict import DeviceUnavailableError, resolve_device

    try:
        return str(resolve_device(device))
    except (DeviceUnavailableError, ValueError) as err:
        raise UsageError(str(err)) from None


MODEL_HELP = "hdnnp potential file, n2p2 potential directory or training run directory"


def add_model_argument(parser: argparse.ArgumentParser, flag: str | None = None) -> None:
    """The MODEL argument (positional, or the option ``flag`` such as ``--model``)."""
    if flag is None:
        parser.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    else:
        parser.add_argument(flag, dest="model", required=True, metavar="MODEL", help=MODEL_HELP)


def add_device_options(parser: argparse.ArgumentParser, units_help: str) -> None:
    """--units (of n2p2 files), --device and --dtype."""
    from ..units import UNIT_CHOICES

    parser.add_argument(
        "--units",
        choices=UNIT_CHOICES,
        default="ev-angstrom",
        help=f"units of {units_help} (default: %(default)s)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")


def add_batch_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-atoms", type=int, default=20000, help="atoms per batch (default: %(default)s)"
    )
