"""``hdnnp analyze``: radial and angle distributions and coordination of trajectories.

Every trajectory is analysed with the same settings and cutoffs; the trajectories after
the first are compared with the first (curve differences, peak shifts, coordination
changes). The library functions are in :mod:`hdnnp.analysis`.

Default neighbour cutoffs: for each element pair, the first minimum after the first peak
of its partial g(r) (:func:`hdnnp.analysis.first_minimum`), taken from the first
trajectory in which the pair has one, so that all trajectories use the same cutoffs.
``--cutoff R`` sets every pair, ``--cutoff A-B=R`` one pair (this wins over ``R``).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from .._version import __version__
from ..fileio import atomic_write, atomic_write_text
from .common import Command, UsageError, read_data

EXAMPLES = """\
examples:
  # RDF, ADFs and coordination of an MD trajectory (first 100 frames dropped)
  hdnnp analyze md.extxyz --skip 100 -o analysis/

  # a potential's MD against the DFT (AIMD) reference, every 5th frame
  hdnnp analyze aimd.extxyz nnp-md.extxyz --labels DFT NNP --every 5 -o compare/

  # given triplets and cutoffs (one for all pairs, then Si-O alone)
  hdnnp analyze md.extxyz --triplets O-Si-O Si-O-Si --cutoff 3.0 Si-O=2.0

  # frames 0-99 of an n2p2 input.data, up to 8 Angstrom in 400 bins
  hdnnp analyze input.data@:100 --r-max 8 --bins 400

Writes rdf.png (total and partial g(r)), adf.png (angle densities), cn.png (histograms of
coordination counts) and analysis.json (all curves, first peaks, mean coordination and the
differences of each trajectory to the first). Frames must be periodic in 3D. Default
cutoffs are the first minimum of each partial g(r) after its first peak.
"""

SUMMARY = "radial and angle distributions and coordination of trajectories, compared"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..units import UNIT_CHOICES

    parser.add_argument(
        "trajectories",
        metavar="TRAJ",
        nargs="+",
        help="trajectory files (any ASE format or n2p2 input.data), optionally PATH@INDEX",
    )
    parser.add_argument("--labels", nargs="+", metavar="LABEL", help="one name per TRAJ")
    parser.add_argument(
        "-o",
        "--output",
        default="analysis",
        metavar="OUTDIR",
        help="output directory (default: %(default)s)",
    )
    parser.add_argument(
        "--r-max",
        type=float,
        default=6.0,
        metavar="ANGSTROM",
        help="largest distance of g(r) (default: %(default)s)",
    )
    parser.add_argument("--bins", type=int, default=200, help="g(r) bins (default: %(default)s)")
    parser.add_argument(
        "--angle-bins", type=int, default=180, help="bins on 0-180 degrees (default: %(default)s)"
    )
    parser.add_argument(
        "--every", type=int, default=1, metavar="N", help="use every N-th frame after --skip"
    )
    parser.add_argument(
        "--skip",
        type=int,
        default=0,
        metavar="N",
        help="drop the first N frames (equilibration), after PATH@INDEX",
    )
    parser.add_argument(
        "--triplets",
        nargs="+",
        metavar="A-B-C",
        help="angle triplets, centre in the middle (default: every triplet found)",
    )
    parser.add_argument(
        "--cutoff",
        nargs="+",
        metavar="R|A-B=R",
        help="neighbour cutoffs in Angstrom (default: first minimum of each partial g(r))",
    )
    parser.add_argument(
        "--units",
        choices=UNIT_CHOICES,
        default="ev-angstrom",
        help="units of n2p2 input.data files (default: %(default)s)",
    )


# ------------------------------------------------------------------------ options


def _check_options(args: argparse.Namespace) -> None:
    if not args.r_max > 0 or args.bins < 1 or args.angle_bins < 1:
        raise UsageError("--r-max must be positive, --bins and --angle-bins at least 1")
    if args.every < 1 or args.skip < 0:
        raise UsageError(f"need --every >= 1 and --skip >= 0, got {args.every} and {args.skip}")
    if args.labels is not None and len(args.labels) != len(args.trajectories):
        raise UsageError(
            f"{len(args.labels)} --labels for {len(args.trajectories)} trajectories\n"
            "  fix: give one label per TRAJ, in the same order"
        )
    if Path(args.output).exists() and not Path(args.output).is_dir():
        raise UsageError(f"-o {args.output}: is a file; give a directory")


def parse_cutoffs(specs: list[str] | None) -> tuple[float | None, dict[str, float]]:
    """``["3.0", "Si-O=2.0"]`` -> ``(3.0, {"Si-O": 2.0})``; UsageError for bad syntax."""
    default, pairs = None, {}
    for spec in specs or []:
        name, equals, value = spec.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not number > 0 or not math.isfinite(number) or (equals and name.count("-") != 1):
            raise UsageError(
                f"--cutoff {spec!r}: not a cutoff\n  fix: give a positive number of Angstrom "
                "for all pairs (--cutoff 2.0) or per pair (--cutoff Si-O=2.0)"
            )
        if equals:
            pairs[name] = number
        else:
            default = number
    return default, pairs


def _library(name: str, *args):
    """Call the function ``name`` of :mod:`hdnnp.analysis` (imported when first needed:
    it imports torch); its ValueError is the user's to fix."""
    from .. import analysis

    try:
        return getattr(analysis, name)(*args)
    except ValueError as err:
        raise UsageError(
            f"{err}\n  fix: check TRAJ, --triplets and --cutoff (elements must be in the frames)"
        ) from None


# ------------------------------------------------------------------------ reading


def _read_trajectory(spec: str, args: argparse.Namespace) -> list:
    frames = [s.to_atoms() for s in read_data([spec], args.units)][args.skip :: args.every]
    if not frames:
        raise UsageError(
            f"{spec}: no frames left after --skip {args.skip} --every {args.every}\n"
            "  fix: lower --skip or --every"
        )
    if not all(atoms.pbc.all() and atoms.cell.volume > 0 for atoms in frames):
        raise UsageError(
            f"{spec}: frames are not periodic in 3D, so g(r) has no volume\n  fix: analyse "
            "periodic trajectories (extended XYZ with Lattice and pbc='T T T')"
        )
    return frames


def _default_labels(specs: list[str]) -> list[str]:
    """File names (with any @INDEX), or the specs as given when two names are equal."""
    names = [Path(spec).name for spec in specs]
    return names if len(set(names)) == len(names) else list(specs)


def _elements_of(frames: list) -> tuple[str, ...]:
    return tuple(sorted({s for atoms in frames for s in atoms.get_chemical_symbols()}))


# ------------------------------------------------------------------------ cutoffs


def _rdf_cutoff(rdfs: list, a: str, b: str, labels: list[str]) -> tuple[float, str] | None:
    """First minimum of g_ab from the first trajectory that has one."""
    from .. import analysis

    for result, label in zip(rdfs, labels, strict=True):
        curve = result.partial.get(f"{a}-{b}")
        minimum = None if curve is None else analysis.first_minimum(result.r, curve)
        if minimum is not None:
            return minimum, f"first minimum of g_{a}-{b}(r) of {label}"
    return None


def resolve_cutoffs(
    specs: list[str] | None, elements: tuple[str, ...], rdfs: list, labels: list[str]
) -> dict[str, tuple[float, str]]:
    """``"A-B"`` (sorted) -> ``(cutoff, where it comes from)`` for every pair that has one."""
    default, pairs = parse_cutoffs(specs)
    explicit = _library("cutoff_table", pairs, elements)
    found = {}
    for k, a in enumerate(elements):
        for b in elements[k:]:
            if (a, b) in explicit:
                found[f"{a}-{b}"] = (explicit[(a, b)], "--cutoff")
            elif default is not None:
                found[f"{a}-{b}"] = (default, "--cutoff")
            elif (minimum := _rdf_cutoff(rdfs, a, b, labels)) is not None:
                found[f"{a}-{b}"] = minimum
    return found


def _default_triplets(elements: tuple[str, ...], cutoffs: dict) -> list[str]:
    """Every A-B-C (A <= C) whose pairs B-A and B-C have a cutoff."""
    has = {tuple(name.split("-")) for name in cutoffs}
    has |= {(b, a) for a, b in has}
    return [
        f"{a}-{b}-{c}"
        for b in elements
        for k, a in enumerate(elements)
        for c in elements[k:]
        if (b, a) in has and (b, c) in has
    ]


def _present(names, elements) -> list[str]:
    return [name for name in names if set(name.split("-")) <= set(elements)]


# ------------------------------------------------------------------------ JSON


def _peak(found) -> dict | None:
    return None if found is None else {"position": found[0], "height": found[1]}


def _record(label: str, spec: str, frames: list, results: tuple, triplets: list[str]) -> dict:
    """Curves, peaks and coordination of one trajectory, as JSON-ready values."""
    from .. import analysis

    rdf, adf, cn = results
    curves = {"total": rdf.total, **rdf.partial}
    density = {k: v for k, v in adf.density.items() if k in triplets}
    return {
        "label": label,
        "source": spec,
        "n_frames": len(frames),
        "elements": list(rdf.elements),
        "rdf": {
            "r": rdf.r.tolist(),
            "total": rdf.total.tolist(),
            "partial": {k: v.tolist() for k, v in rdf.partial.items()},
            "running_cn": {k: v.tolist() for k, v in rdf.running_cn.items()},
        },
        "adf": {
            "angle": adf.angle.tolist(),
            "density": {k: v.tolist() for k, v in density.items()},
            "counts": {k: adf.counts[k] for k in density},
        },
        "coordination": {
            "mean": cn.mean,
            "histogram": {k: v.tolist() for k, v in cn.histogram.items()},
        },
        "peaks": {
            "rdf": {k: _peak(analysis.first_peak(rdf.r, v)) for k, v in curves.items()},
            "adf": {k: _peak(analysis.main_peak(adf.angle, v)) for k, v in density.items()},
        },
    }


def _curve_changes(edges, ref: tuple[dict, dict], other: tuple[dict, dict]) -> dict:
    """Per curve present in both: integrated and max absolute difference, peak changes.

    ``ref`` and ``other`` are ``(curves, peaks)`` by curve name.
    """
    from .. import analysis

    changes = {}
    for name in sorted(ref[0].keys() & other[0].keys()):
        entry = analysis.curve_difference(edges, ref[0][name], other[0][name])
        a, b = ref[1].get(name), other[1].get(name)
        both = a is not None and b is not None
        entry["peak_shift"] = b["position"] - a["position"] if both else None
        entry["peak_height_change"] = b["height"] - a["height"] if both else None
        changes[name] = entry
    return changes


def _padded(a: list, b: list) -> tuple[np.ndarray, np.ndarray]:
    size = max(len(a), len(b))
    return np.pad(np.array(a, float), (0, size - len(a))), np.pad(
        np.array(b, float), (0, size - len(b))
    )


def _coordination_changes(ref: dict, other: dict) -> dict:
    """Per centre-neighbour pair: change of the mean and sum of |histogram changes|."""
    changes = {}
    for name in sorted(ref["mean"].keys() & other["mean"].keys()):
        h_ref, h_other = _padded(ref["histogram"][name], other["histogram"][name])
        changes[name] = {
            "mean_change": other["mean"][name] - ref["mean"][name],
            "histogram_abs_sum": float(np.abs(h_other - h_ref).sum()),
        }
    return changes


def _rdf_curves(record: dict) -> tuple[dict, dict]:
    return {"total": record["rdf"]["total"], **record["rdf"]["partial"]}, record["peaks"]["rdf"]


def _adf_curves(record: dict) -> tuple[dict, dict]:
    return record["adf"]["density"], record["peaks"]["adf"]


def _differences(ref: dict, other: dict, rdf_edges, adf_edges) -> dict:
    """How ``other`` differs from ``ref`` (the first trajectory)."""
    return {
        "label": other["label"],
        "reference": ref["label"],
        "rdf": _curve_changes(rdf_edges, _rdf_curves(ref), _rdf_curves(other)),
        "adf": _curve_changes(adf_edges, _adf_curves(ref), _adf_curves(other)),
        "coordination": _coordination_changes(ref["coordination"], other["coordination"]),
    }


# ------------------------------------------------------------------------ plots


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(n_panels: int):
    """A figure with ``n_panels`` axes, three per row; margins in inches (no layout engine,
    which would draw every figure twice)."""
    cols = min(3, n_panels)
    rows = -(-n_panels // cols)
    width, height = 4.2 * cols, 3.3 * rows
    fig, axes = _pyplot().subplots(rows, cols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(
        left=0.75 / width,
        right=1 - 0.15 / width,
        bottom=0.55 / height,
        top=1 - 0.35 / height,
        hspace=0.38,
        wspace=0.3,
    )
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, axes.flat


def _save(fig, path: Path) -> Path:
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100)
    _pyplot().close(fig)
    return path


def _plot_curves(path: Path, x: list, curves: list[tuple[str, dict]], labels: tuple[str, str]):
    """One panel per curve name, the curves of every trajectory ``(label, curves)`` overlaid."""
    names = list(dict.fromkeys(name for _, named in curves for name in named))
    fig, axes = _grid(len(names))
    for ax, name in zip(axes, names, strict=False):
        for label, named in curves:
            if name in named:
                ax.plot(x, named[name], label=label, lw=1.2)
        ax.set(title=name, xlabel=labels[0], ylabel=labels[1])
        ax.legend(fontsize="small")
    return _save(fig, path)


def _plot_coordination(path: Path, records: list) -> Path:
    """Histogram of coordination counts per centre-neighbour pair, bars side by side."""
    names = sorted({name for r in records for name in r["coordination"]["histogram"]})
    from matplotlib.ticker import MaxNLocator

    fig, axes = _grid(len(names))
    width = 0.8 / len(records)
    for ax, name in zip(axes, names, strict=False):
        for k, record in enumerate(records):
            fractions = record["coordination"]["histogram"].get(name, [])
            counts = np.arange(len(fractions)) - 0.4 + width * (k + 0.5)
            ax.bar(counts, fractions, width=width, label=record["label"])
        ax.set(title=f"{name} (centre-neighbour)", xlabel="neighbours", ylabel="fraction of atoms")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize="small")
    return _save(fig, path)


def _write(outdir: Path, document: dict) -> list[Path]:
    """analysis.json, rdf.png, adf.png (if any triplet) and cn.png (if any pair)."""
    records = document["trajectories"]
    outdir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(outdir / "analysis.json", json.dumps(document, indent=1) + "\n")
    rdfs = [(r["label"], _rdf_curves(r)[0]) for r in records]
    paths = [outdir / "analysis.json"]
    paths.append(_plot_curves(outdir / "rdf.png", records[0]["rdf"]["r"], rdfs, ("r (Å)", "g(r)")))
    adfs = [(r["label"], r["adf"]["density"]) for r in records]
    if any(named for _, named in adfs):
        labels = ("angle (degrees)", "probability density (1/degree)")
        paths.append(_plot_curves(outdir / "adf.png", records[0]["adf"]["angle"], adfs, labels))
    if any(r["coordination"]["histogram"] for r in records):
        paths.append(_plot_coordination(outdir / "cn.png", records))
    return paths


# ------------------------------------------------------------------------ table


def _row(name: str, cells: list[str]) -> str:
    return f"  {name:<16}" + "".join(f"{cell:>20}" for cell in cells)


def _table(records: list, cutoffs: dict) -> str:
    """First peaks of every g(r) and mean coordination numbers, one column per trajectory."""
    labels = [r["label"] for r in records]
    lines = ["first peak of g(r), position (Å) / height:", _row("", labels)]
    for name in records[0]["peaks"]["rdf"]:
        lines.append(_row(name, [_peak_text(r["peaks"]["rdf"].get(name)) for r in records]))
    lines += ["mean coordination, centre-neighbour (cutoff Å):", _row("", labels)]
    for name in sorted({k for r in records for k in r["coordination"]["mean"]}):
        cutoff = cutoffs["-".join(sorted(name.split("-")))][0]
        means = [r["coordination"]["mean"].get(name) for r in records]
        cells = ["-" if m is None else f"{m:.3f}" for m in means]
        lines.append(_row(f"{name} ({cutoff:.2f})", cells))
    return "\n".join(lines)


def _peak_text(peak: dict | None) -> str:
    return "-" if peak is None else f"{peak['position']:.3f} / {peak['height']:.3f}"


# ------------------------------------------------------------------------ command


def _triplets(requested: list[str] | None, elements: tuple[str, ...], cutoffs: dict) -> list:
    """The requested triplets (checked) or every triplet whose pairs have a cutoff."""
    if requested is None:
        return _default_triplets(elements, cutoffs)
    for name in requested:
        a, b, c = _library("parse_triplet", name, elements)
        missing = sorted({"-".join(sorted((b, a))), "-".join(sorted((b, c)))} - cutoffs.keys())
        if missing:
            raise UsageError(
                f"triplet {name}: no cutoff for {' and '.join(missing)} (no minimum of g(r) "
                f"after its first peak below --r-max)\n  fix: give --cutoff {missing[0]}=R "
                "or a larger --r-max"
            )
    return list(dict.fromkeys(requested))


def _analyse(frames: list, rdf, args, cutoffs: dict, triplets: list[str]) -> tuple:
    """``(rdf, adf, coordination)`` of one trajectory, with the elements it has."""
    elements = set(rdf.elements)
    mapping = {k: value for k, (value, _) in cutoffs.items() if set(k.split("-")) <= elements}
    adf = _library("adf", frames, _present(triplets, elements), mapping, args.angle_bins)
    return rdf, adf, _library("coordination", frames, mapping)


def _document(args, labels: list, trajectories: list, results: list, cutoffs, triplets) -> dict:
    records = [
        _record(label, spec, frames, result, triplets)
        for label, spec, frames, result in zip(
            labels, args.trajectories, trajectories, results, strict=True
        )
    ]
    rdf_edges, adf_edges = results[0][0].edges, results[0][1].edges
    settings = ("r_max", "bins", "angle_bins", "skip", "every", "units")
    return {
        "hdnnp_version": __version__,
        "settings": {key: getattr(args, key) for key in settings},
        "cutoffs": {k: {"value": v, "source": source} for k, (v, source) in cutoffs.items()},
        "trajectories": records,
        "differences": [_differences(records[0], r, rdf_edges, adf_edges) for r in records[1:]],
    }


def handler(args: argparse.Namespace) -> int:
    """Analyse trajectories and compare them with the first; write plots and JSON."""
    _check_options(args)
    parse_cutoffs(args.cutoff)  # syntax errors before any file is read
    labels = args.labels or _default_labels(args.trajectories)
    trajectories = [_read_trajectory(spec, args) for spec in args.trajectories]
    rdfs = [_library("rdf", frames, args.r_max, args.bins) for frames in trajectories]
    elements = _elements_of([atoms for frames in trajectories for atoms in frames])
    cutoffs = resolve_cutoffs(args.cutoff, elements, rdfs, labels)
    triplets = _triplets(args.triplets, elements, cutoffs)
    results = [
        _analyse(frames, rdf, args, cutoffs, triplets)
        for frames, rdf in zip(trajectories, rdfs, strict=True)
    ]
    if args.triplets is None:  # only the triplets that occur
        triplets = [t for t in triplets if any(r[1].counts.get(t, 0) for r in results)]
    document = _document(args, labels, trajectories, results, cutoffs, triplets)
    paths = _write(Path(args.output), document)
    print(_table(document["trajectories"], cutoffs))
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


COMMAND = Command(add_arguments, handler, SUMMARY, EXAMPLES)
