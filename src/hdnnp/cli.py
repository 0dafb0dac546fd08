"""The ``hdnnp`` command line: ``hdnnp <command> ...``.

Each command is an entry of :data:`COMMANDS`: a name mapped to a :class:`Command` whose
``add_arguments(parser)`` declares its options and whose ``handler(args) -> int`` does the
work by calling library functions. Adding a command means adding one entry.

Errors a user can cause (missing or malformed files, unknown elements, an unavailable
device) are reported on stderr as one message naming the cause and the fix, with exit
status 2 and no traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ._version import FORMAT_VERSION, __version__
from .commands.common import (
    Command,
    UsageError,
    add_batch_option,
    add_device_options,
    add_model_argument,
)
from .commands.common import load_model as _load_model
from .commands.common import read_data as _read_data

PROG = "hdnnp"
EXIT_USAGE = 2


def version_string() -> str:
    return f"{PROG} {__version__} (potential format {FORMAT_VERSION})"


# --------------------------------------------------------------------------- predict

PREDICT_EXAMPLES = """\
examples:
  # a potential file on an extended XYZ data set (ASE units: eV, Angstrom)
  hdnnp predict best.hdnnp test.extxyz -o predictions.extxyz

  # an n2p2 potential directory and n2p2 input.data, both in Hartree/Bohr
  hdnnp predict nnp/ input.data -o pred.extxyz --units hartree-bohr

  # the best potential of a training run, every 10th frame of two files, on a GPU
  hdnnp predict runs/water/ a.extxyz@::10 b.extxyz@::10 -o pred.extxyz --device cuda

The predictions file is extended XYZ: ase.io.read(OUT, ":") gives energies, forces,
per-atom energies (get_potential_energies) and, for periodic frames, stress; reference
labels are kept as info["ref_energy"] and arrays["ref_forces"]. When the data have
labels, an error table is printed and written to OUT with suffix .metrics.json.
"""


def _add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument(
        "data",
        metavar="DATA",
        nargs="+",
        help="structure files (n2p2 input.data or any ASE format), optionally PATH@INDEX",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="predictions file (extended XYZ)"
    )
    add_device_options(parser, "n2p2 files: the potential directory and input.data files")
    add_batch_option(parser)


def _check_options(args: argparse.Namespace) -> None:
    """Fail before any file is read when the device cannot be used or OUT is a folder."""
    from .predict import DeviceUnavailableError, resolve_device

    try:
        resolve_device(args.device)
    except (DeviceUnavailableError, ValueError) as err:
        raise UsageError(str(err)) from None
    if Path(args.output).is_dir():
        raise UsageError(f"-o {args.output}: is a directory; give a file name such as pred.extxyz")
    if args.batch_atoms < 1:
        raise UsageError(f"--batch-atoms must be at least 1, got {args.batch_atoms}")


def _run_predict(model, structures: list, args: argparse.Namespace) -> list:
    from .predict import DeviceUnavailableError, predict

    try:
        return predict(
            model,
            structures,
            device=args.device,
            dtype=args.dtype,
            batch_atoms=args.batch_atoms,
            progress=sys.stderr.isatty(),
        )
    except DeviceUnavailableError as err:
        raise UsageError(str(err)) from None
    except ValueError as err:
        raise UsageError(
            f"{err}\n  fix: leave out the frames with other elements (select frames with "
            "PATH@INDEX) or use a potential trained for them"
            if "not known to the potential" in str(err)
            else str(err)
        ) from None


def _has_labels(structures) -> bool:
    return any(s.energy is not None or s.forces is not None for s in structures)


def _write_metrics(path: Path, metrics: dict, args: argparse.Namespace) -> None:
    from .fileio import atomic_write_text

    document = {
        "hdnnp_version": __version__,
        "model": str(args.model),
        "data": list(args.data),
        "units": args.units,
        "predictions": str(args.output),
        **metrics,
    }
    atomic_write_text(path, json.dumps(document, indent=1) + "\n")


def _writing(path: Path, write, *values) -> None:
    try:
        write(path, *values)
    except OSError as err:
        raise UsageError(
            f"cannot write {path}: {err}\n  fix: choose a writable location with -o"
        ) from None


def _predict_command(args: argparse.Namespace) -> int:
    """Predict energies, forces and stress of structures with a potential."""
    from .predict import error_metrics, format_metrics, write_predictions

    _check_options(args)
    model = _load_model(args.model, args.units)
    structures = _read_data(args.data, args.units)
    predictions = _run_predict(model, structures, args)
    out = Path(args.output)
    _writing(out, write_predictions, structures, predictions)
    n_atoms = sum(s.n_atoms for s in structures)
    print(f"wrote predictions for {len(structures)} structures ({n_atoms} atoms) to {out}")
    if _has_labels(structures):
        metrics = error_metrics(structures, predictions)
        metrics_path = out.with_suffix(".metrics.json")
        _writing(metrics_path, _write_metrics, metrics, args)
        print(format_metrics(metrics))
        print(f"wrote metrics to {metrics_path}")
    return 0


# ----------------------------------------------------------------------------- check

CHECK_EXAMPLES = """\
examples:
  # check a training set; exit status 1 when a frame has an error
  hdnnp check train.extxyz

  # several files (duplicates across them are found too) and a JSON report
  hdnnp check train.extxyz test.extxyz --json check.json

  # n2p2 input.data in Hartree/Bohr, a larger distance and an absolute force limit
  hdnnp check input.data --units hartree-bohr --min-distance 0.7 --max-force 50

  # every 10th frame, with frame counts per value of an extended XYZ info key
  hdnnp check zeolites.extxyz@::10 --group-by topology

Errors: invalid, nan, missing_energy, missing_forces, close_atoms, duplicate,
energy_outlier, force_outlier; warnings: single_frame_composition, rare_element. Frames
are named by file and 0-based frame index in that file. The exact rules are in the
documentation of the module hdnnp.check.
"""


def _add_check_arguments(parser: argparse.ArgumentParser) -> None:
    from .units import UNIT_CHOICES

    parser.add_argument(
        "data",
        metavar="DATA",
        nargs="+",
        help="structure files (n2p2 input.data or any ASE format), optionally PATH@INDEX",
    )
    parser.add_argument("--json", metavar="OUT", help="also write the report as JSON to OUT")
    parser.add_argument(
        "--units",
        choices=UNIT_CHOICES,
        default="ev-angstrom",
        help="units of n2p2 input.data files (default: %(default)s)",
    )
    parser.add_argument(
        "--min-distance",
        type=float,
        default=0.5,
        metavar="ANGSTROM",
        help="atoms closer than this (periodic images included) are an error "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--outlier-sigma",
        type=float,
        default=5.0,
        metavar="N",
        help="robust standard deviations beyond which an energy per atom or a log force "
        "magnitude is an outlier (default: %(default)s)",
    )
    parser.add_argument(
        "--max-force",
        type=float,
        metavar="EV_PER_ANGSTROM",
        help="force components larger than this are an error (default: no limit)",
    )
    parser.add_argument(
        "--group-by", metavar="KEY", help="also count frames per value of this info key"
    )


def _check_command(args: argparse.Namespace) -> int:
    """Check data sets for corrupted, duplicated and outlying frames."""
    from .check import check_options, check_structures, format_report, report_to_dict
    from .fileio import atomic_write_text

    try:
        check_options(args.min_distance, args.outlier_sigma, args.max_force)
    except ValueError as err:
        raise UsageError(f"{err} (options --min-distance, --outlier-sigma, --max-force)") from None
    if args.json and Path(args.json).is_dir():
        raise UsageError(f"--json {args.json}: is a directory; give a file name such as check.json")
    structures = _read_data(args.data, args.units)
    report = check_structures(
        structures, args.min_distance, args.outlier_sigma, args.max_force, args.group_by
    )
    print(format_report(report))
    if args.json:
        text = json.dumps(report_to_dict(report), indent=1, ensure_ascii=False) + "\n"
        try:
            atomic_write_text(args.json, text)
        except OSError as err:
            raise UsageError(
                f"cannot write {args.json}: {err}\n  fix: choose another --json"
            ) from None
        print(f"wrote the report to {args.json}")
    return 1 if report.errors else 0


# --------------------------------------------------------------------------- train

TRAIN_EXAMPLES = """\
examples:
  # defaults only: elements from the data, automatic descriptors, 10% validation
  hdnnp train --data train.extxyz -o runs/first

  # a config file, with flags overriding it
  hdnnp train config.yaml --max-epochs 500 --seed 2 -o runs/long

  # SIMPLE-NN's input.yaml as written, its data replaced by an extxyz file
  hdnnp train input.yaml --data ../zeolites/train.extxyz -o runs/sio2

  # continue an interrupted run (same data, split and settings)
  hdnnp train --resume runs/long --max-epochs 800

  # every configuration key with its default and unit
  hdnnp train --print-config

The run directory holds best.hdnnp and last.hdnnp, checkpoint.pt, log.csv, split.json,
report.md/json, learning_curve.png and parity plots. Ctrl-C saves and stops; resume
continues to the same result as an uninterrupted run.
"""


def _add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", help="hdnnp YAML config or SIMPLE-NN input.yaml")
    parser.add_argument("--data", nargs="+", metavar="FILE", help="training data (overrides)")
    parser.add_argument("--test", nargs="+", metavar="FILE", help="test data (overrides)")
    parser.add_argument("-o", "--output", metavar="RUN_DIR", help="run directory")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue a run")
    parser.add_argument("--max-epochs", type=int)
    parser.add_argument("--max-time", type=float, metavar="SECONDS")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", help="cpu or cuda")
    parser.add_argument("--dtype", choices=("float64", "float32"))
    parser.add_argument(
        "--units",
        choices=("ev-angstrom", "hartree-bohr"),
        help="units of n2p2 input.data files (overrides data.units)",
    )
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="print every config key with default and unit, then exit",
    )


def _train_config(args: argparse.Namespace):
    from .config import Source, config_from_dict, load_config, with_overrides

    if args.config is None:
        config = config_from_dict({})
    elif _is_simple_nn(args.config):
        from .descriptors.simple_nn import config_from_simple_nn

        config, notes = config_from_simple_nn(args.config, data_override=args.data)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    else:
        config = load_config(args.config)
    data = {
        "train": tuple(Source(p) for p in args.data) if args.data else None,
        "test": tuple(Source(p) for p in args.test) if args.test else None,
        "units": args.units,
    }
    training = {
        "max_epochs": args.max_epochs,
        "max_time": args.max_time,
        "seed": args.seed,
        "device": args.device,
        "dtype": args.dtype,
    }
    return with_overrides(config, data=data, training=training)


def _is_simple_nn(path: str) -> bool:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and bool(
        {"neural_network", "atom_types", "params", "symmetry_function"} & set(data)
    )


def _train_command(args: argparse.Namespace) -> int:
    """Train a potential from DFT data (or continue a run with --resume)."""
    from .config import reference
    from .training.run import resume, train

    if args.print_config:
        print(reference())
        return 0
    try:
        if args.resume:
            training = {"max_epochs": args.max_epochs, "max_time": args.max_time}
            run_dir = resume(
                args.resume, {"training": {k: v for k, v in training.items() if v is not None}}
            )
        else:
            config = _train_config(args)
            run_dir = train(config, args.output or _default_run_dir())
    except (ValueError, FileNotFoundError) as err:
        raise UsageError(str(err)) from None
    print(f"run directory: {run_dir} (best potential: {Path(run_dir) / 'best.hdnnp'})")
    return 0


def _default_run_dir() -> str:
    import time

    return time.strftime("runs/train-%Y%m%d-%H%M%S")


# -------------------------------------------------------------------------- export

EXPORT_EXAMPLES = """\
examples:
  # the best potential of a run as n2p2 files (eV, Angstrom) for LAMMPS pair_style hdnnp
  hdnnp export runs/sio2/ -o lammps-potential/

  # the same in Hartree/Bohr (LAMMPS then needs cflength/cfenergy, printed for you)
  hdnnp export best.hdnnp -o nnp-bohr/ --units hartree-bohr

Writes input.nn, scaling.data and weights.NNN.data and prints the two LAMMPS lines
(units metal). Refuses, with the reason, potentials n2p2 cannot represent. The order of
the elements on the pair_coeff line must follow your data file's atom types (NULL skips
a type).
"""


def _add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="hdnnp potential file, n2p2 directory or training run directory",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="directory for the n2p2 files"
    )
    parser.add_argument(
        "--units",
        choices=("ev-angstrom", "hartree-bohr"),
        default="ev-angstrom",
        help="units of the written files",
    )
    parser.add_argument(
        "--model-units",
        choices=("ev-angstrom", "hartree-bohr"),
        default="ev-angstrom",
        help="units of MODEL if it is an n2p2 directory",
    )


def _export_command(args: argparse.Namespace) -> int:
    """Write a potential as n2p2 files and print the LAMMPS pair_style lines."""
    from .lammps import pair_style_lines
    from .n2p2 import write_n2p2

    model = _load_model(args.model, args.model_units)
    try:
        paths = write_n2p2(model, args.output, units=args.units)
    except ValueError as err:
        raise UsageError(f"{err}\nfix: keep to settings n2p2 can represent") from None
    print(f"wrote {', '.join(p.name for p in paths)} to {args.output}")
    print("LAMMPS (units metal, package ML-HDNNP):")
    for line in pair_style_lines(model, str(Path(args.output).resolve()), args.units):
        print("  " + line)
    return 0


# ---------------------------------------------------------------------------- parser

COMMANDS: dict[str, Command] = {
    "export": Command(
        _add_export_arguments,
        _export_command,
        "write a potential as n2p2 files and print the LAMMPS pair_style hdnnp lines",
        EXPORT_EXAMPLES,
    ),
    "train": Command(
        _add_train_arguments,
        _train_command,
        "train a potential from DFT data (or continue a run with --resume)",
        TRAIN_EXAMPLES,
    ),
    "predict": Command(
        _add_predict_arguments,
        _predict_command,
        "predict energies, forces, per-atom energies and stress of structures",
        PREDICT_EXAMPLES,
    ),
    "check": Command(
        _add_check_arguments,
        _check_command,
        "check data sets for corrupted, duplicated and outlying frames",
        CHECK_EXAMPLES,
    ),
}


def all_commands() -> dict[str, Command]:
    """The commands of this module and those of the modules of :mod:`hdnnp.commands`
    (every module there but ``common`` exports ``COMMAND``), by name."""
    import importlib
    import pkgutil

    from . import commands as package

    found = dict(COMMANDS)
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name != "common":
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            found[info.name] = module.COMMAND
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Behler-Parrinello neural network potentials (n2p2-compatible).",
        epilog=f"run '{PROG} COMMAND --help' for the options and examples of a command",
    )
    parser.add_argument("--version", action="version", version=version_string())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, command in all_commands().items():
        child = sub.add_parser(
            name,
            help=command.summary,
            description=command.summary,
            epilog=command.examples,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(child)
        child.set_defaults(handler=command.handler, command_parser=child)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error already reported
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except UsageError as err:
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as err:  # e.g. the output cannot be written
        print(f"{PROG} {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
