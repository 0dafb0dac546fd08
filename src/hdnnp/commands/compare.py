"""``hdnnp compare``: a potential against the reference labels along a trajectory or data set."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import (
    Command,
    UsageError,
    add_batch_option,
    add_device_options,
    add_model_argument,
    check_device,
    load_model,
    read_data,
)

EXAMPLES = """\
examples:
  # an AIMD trajectory with DFT energies and forces; plots and JSON in the current folder
  hdnnp compare best.hdnnp aimd.extxyz

  # every 5th frame of two trajectories, results in compare/, on a GPU
  hdnnp compare runs/sio2/ md1.extxyz@::5 md2.extxyz@::5 -o compare/ --device cuda

  # an n2p2 potential and input.data in Hartree/Bohr
  hdnnp compare nnp/ input.data --units hartree-bohr -o compare/

Writes compare_timeseries.png (energy per atom of the potential and the reference, their
difference and the force RMSE per frame, against info['time'] in fs when every frame has
one, else the frame number), compare_parity.png and compare.json (the per-frame series and
the error metrics). Every frame needs reference energy and forces.
"""

TIMESERIES, PARITY, JSON_NAME = "compare_timeseries.png", "compare_parity.png", "compare.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument(
        "data",
        metavar="DATA",
        nargs="+",
        help="labelled frames (n2p2 input.data or any ASE format), optionally PATH@INDEX",
    )
    parser.add_argument(
        "-o", "--output", default=".", metavar="OUTDIR", help="output folder (default: here)"
    )
    add_device_options(parser, "n2p2 files: the potential directory and input.data files")
    add_batch_option(parser)


def _check_options(args: argparse.Namespace) -> Path:
    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"-o {outdir}: is a file; give a folder for the plots and JSON")
    if args.batch_atoms < 1:
        raise UsageError(f"--batch-atoms must be at least 1, got {args.batch_atoms}")
    return outdir


def _check_labels(structures) -> None:
    from ..compare import check_labels

    try:
        check_labels(structures)
    except ValueError as err:
        raise UsageError(
            f"{err}\n  fix: compare needs frames labelled with energy and forces (e.g. extended "
            "XYZ written from DFT results); leave out unlabelled frames with PATH@INDEX"
        ) from None


def _compared(model, structures, device: str, args: argparse.Namespace):
    from ..compare import compare

    try:
        return compare(
            model,
            structures,
            device=device,
            dtype=args.dtype,
            batch_atoms=args.batch_atoms,
            progress=sys.stderr.isatty(),
        )
    except ValueError as err:
        unknown = "not known to the potential" in str(err)
        fix = (
            "\n  fix: leave out the frames with other elements (select frames with "
            "PATH@INDEX) or use a potential trained for them"
        )
        raise UsageError(f"{err}{fix if unknown else ''}") from None


def _write_outputs(comparison, outdir: Path, args: argparse.Namespace) -> list[Path]:
    from .._version import __version__
    from ..compare import comparison_to_dict, plot_parity, plot_timeseries
    from ..fileio import atomic_write_text

    document = {
        "hdnnp_version": __version__,
        "model": str(args.model),
        "data": list(args.data),
        **comparison_to_dict(comparison),
    }
    atomic_write_text(outdir / JSON_NAME, json.dumps(document, indent=1) + "\n")
    return [
        plot_timeseries(comparison, outdir / TIMESERIES),
        plot_parity(comparison, outdir / PARITY),
        outdir / JSON_NAME,
    ]


def run(args: argparse.Namespace) -> int:
    """Compare a potential with the reference labels of trajectory or data frames."""
    from ..predict import format_metrics

    outdir = _check_options(args)
    device = check_device(args.device)
    model = load_model(args.model, args.units)
    structures = read_data(args.data, args.units)
    if not structures:
        raise UsageError("DATA selects no frames; fix: check the files and PATH@INDEX")
    _check_labels(structures)
    comparison = _compared(model, structures, device, args)
    n_atoms = sum(s.n_atoms for s in structures)
    print(f"compared {len(structures)} frames ({n_atoms} atoms)")
    print(format_metrics(comparison.metrics))
    diff = comparison.energy_diff
    print(f"energy difference (potential - reference): mean {1000 * diff.mean():.4g} meV/atom")
    for path in _write_outputs(comparison, outdir, args):
        print(f"wrote {path}")
    return 0


COMMAND = Command(
    add_arguments,
    run,
    "compare a potential with the reference energies and forces of a trajectory or data set",
    EXAMPLES,
)
