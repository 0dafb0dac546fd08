"""n2p2 potential directories: ``input.nn``, ``scaling.data``, ``weights.NNN.data``.

:func:`read_n2p2` turns such a directory into an :class:`~hdnnp.potential.HDNNP` in eV
and Å; :func:`write_n2p2` writes any potential that n2p2 can represent, so that n2p2's
``nnp-predict`` and LAMMPS ``pair_style hdnnp`` reproduce hdnnp's predictions.

Conventions (n2p2 documentation, "Files" and "Keywords" pages):

* ``#`` starts a comment anywhere on a line; training keywords are ignored here.
* Elements are indexed by atomic number, not by their order on the ``elements`` line.
* Symmetry functions are sorted per element (see :mod:`hdnnp.descriptors.params`);
  ``scaling.data`` rows and network inputs follow that order.
* ``weights.NNN.data`` (NNN = atomic number): per layer, for each neuron of the
  previous layer the weights to every neuron of this layer, then this layer's biases.
* With ``mean_energy``/``conv_energy``/``conv_length`` (all three: n2p2's
  normalisation) ``E = sum_i NN_i / conv_energy + N mean_energy + sum_i atom_energy``;
  symmetry-function parameters in ``input.nn`` stay in physical units.
* Files carry no units: ``units="hartree-bohr"`` says they are in Hartree and Bohr.

What cannot be exported (:func:`export_problems` lists the reasons for a potential):
different numbers of hidden layers or different activations per element (n2p2 has
only global layer counts and activations), and scaled descriptors that were constant
over the training data (n2p2 would divide by G_max - G_min = 0).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ._version import __version__
from .descriptors.cutoff import N2P2_CUTOFF_CODES, N2P2_CUTOFF_TYPES
from .descriptors.params import (
    DescriptorSet,
    atomic_number,
    format_n2p2_symfunction,
    parse_n2p2_symfunction,
    sort_elements,
)
from .fileio import atomic_write_text
from .potential import HDNNP, NetworkSpec
from .scaling import ScalingStats
from .units import get_units


@dataclass
class InputNN:
    """The settings of an ``input.nn`` that define a potential (file units)."""

    elements: tuple[str, ...] = ()
    atom_energy: dict[str, float] = field(default_factory=dict)
    cutoff_type: str = "cos"
    cutoff_alpha: float = 0.0
    scaling: str = "none"
    scale_min: float = 0.0
    scale_max: float = 1.0
    hidden_layers: int | None = None
    nodes: tuple[int, ...] = ()
    element_nodes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    activations: tuple[str, ...] = ()
    normalize_nodes: bool = False
    mean_energy: float | None = None
    conv_energy: float | None = None
    conv_length: float | None = None
    symfunctions: list = field(default_factory=list)
    symfunction_lines: list = field(default_factory=list)


def _strip(line: str) -> list[str]:
    return line.split("#", 1)[0].split()


def _number(tokens, k, what, where, kind=float):
    try:
        return kind(tokens[k])
    except (IndexError, ValueError):
        got = tokens[k] if k < len(tokens) else "nothing"
        message = f"{where}: field '{what}' expects a {kind.__name__}, got {got!r}"
        raise ValueError(message) from None


def _set_atom_energy(out, args, where):
    out.atom_energy[_symbol(args[0] if args else "", where, "atom_energy")] = _number(
        args, 1, "atom_energy", where
    )


def _set_cutoff(out, args, where):
    code = _number(args, 0, "cutoff_type", where, int)
    if code not in N2P2_CUTOFF_TYPES:
        raise ValueError(f"{where}: unknown cutoff_type {code} (valid: 0-8)")
    out.cutoff_type = N2P2_CUTOFF_TYPES[code]
    out.cutoff_alpha = _number(args, 1, "cutoff alpha", where) if len(args) > 1 else 0.0


def _set_elements(out, args, where):
    for symbol in args:
        _symbol(symbol, where, "elements")
    out.elements = tuple(args)


def _set_element_nodes(out, args, where):
    symbol = _symbol(args[0] if args else "", where, "element_nodes_short")
    nodes = tuple(_number(args, k, "element_nodes_short", where, int) for k in range(1, len(args)))
    out.element_nodes[symbol] = nodes


def _add_symfunction(out, args, where):
    try:
        out.symfunctions.append(parse_n2p2_symfunction(args))
    except ValueError as err:
        raise ValueError(f"{where}: symfunction_short: {err}") from None
    out.symfunction_lines.append(where)


def _check_nnp_type(_out, args, where):
    if args and args[0] not in ("1", "2"):
        raise ValueError(f"{where}: nnp_type {args[0]} (charges/electrostatics) is not supported")


def _refuse_neuron_activations(_out, _args, where):
    raise ValueError(
        f"{where}: per-neuron activations (element_activation_short) are not supported"
    )


def _setter(field, kind=float, many=False):
    def handler(out, args, where):
        if many:
            value = tuple(_number(args, k, field, where, kind) for k in range(len(args)))
        else:
            value = _number(args, 0, field, where, kind)
        setattr(out, field, value)

    return handler


_HANDLERS = {
    "elements": _set_elements,
    "atom_energy": _set_atom_energy,
    "cutoff_type": _set_cutoff,
    "scale_min_short": _setter("scale_min"),
    "scale_max_short": _setter("scale_max"),
    "global_hidden_layers_short": _setter("hidden_layers", int),
    "global_nodes_short": _setter("nodes", int, many=True),
    "element_nodes_short": _set_element_nodes,
    "global_activation_short": lambda out, args, _where: setattr(out, "activations", tuple(args)),
    "mean_energy": _setter("mean_energy"),
    "conv_energy": _setter("conv_energy"),
    "conv_length": _setter("conv_length"),
    "symfunction_short": _add_symfunction,
    "nnp_type": _check_nnp_type,
    "nnp_generation": _check_nnp_type,
    "element_activation_short": _refuse_neuron_activations,
}
_FLAGS = (
    "scale_symmetry_functions",
    "center_symmetry_functions",
    "scale_symmetry_functions_sigma",
    "normalize_nodes",
)


def parse_input_nn(path: str | Path) -> InputNN:
    """Parse the potential-defining keywords of an n2p2 ``input.nn``.

    Training keywords are ignored. Errors name the file, the line number and the keyword.
    """
    path = Path(path)
    out = InputNN()
    flags = set()
    n_elements = None
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        tokens = _strip(line)
        if not tokens:
            continue
        key, args, where = tokens[0], tokens[1:], f"{path}:{lineno}"
        if key == "number_of_elements":
            n_elements = (_number(args, 0, key, where, int), lineno)
        elif key in _FLAGS:
            flags.add(key)
        elif key in _HANDLERS:
            _HANDLERS[key](out, args, where)
    _finish_input_nn(out, flags, n_elements, path)
    return out


def _symbol(symbol: str, where: str, keyword: str = "") -> str:
    try:
        atomic_number(symbol)
    except ValueError:
        field = f" in '{keyword}'" if keyword else ""
        raise ValueError(f"{where}: unknown element symbol {symbol!r}{field}") from None
    return symbol


def _finish_input_nn(out: InputNN, flags: set, n_elements, path: Path) -> None:
    if not out.elements:
        raise ValueError(f"{path}: keyword 'elements' is missing")
    if n_elements is not None and n_elements[0] != len(out.elements):
        raise ValueError(
            f"{path}:{n_elements[1]}: number_of_elements {n_elements[0]} does not match the "
            f"{len(out.elements)} elements listed ({' '.join(out.elements)})"
        )
    if "scale_symmetry_functions" in flags and "center_symmetry_functions" in flags:
        out.scaling = "scale_center"
    elif "scale_symmetry_functions" in flags:
        out.scaling = "scale"
    elif "center_symmetry_functions" in flags:
        out.scaling = "center"
    elif "scale_symmetry_functions_sigma" in flags:
        out.scaling = "sigma"
    out.normalize_nodes = "normalize_nodes" in flags
    if not out.symfunctions:
        raise ValueError(f"{path}: no symfunction_short lines")
    for sf, where in zip(out.symfunctions, out.symfunction_lines, strict=True):
        unknown = sorted({sf.element, *sf.neighbors} - set(out.elements))
        if unknown:
            raise ValueError(
                f"{where}: symfunction_short uses element(s) {', '.join(unknown)} that are "
                f"not on the 'elements' line ({' '.join(out.elements)})"
            )
    if out.hidden_layers is None or not out.activations:
        raise ValueError(
            f"{path}: keywords 'global_hidden_layers_short', 'global_nodes_short' and "
            "'global_activation_short' are required"
        )
    if len(out.nodes) != out.hidden_layers or len(out.activations) != out.hidden_layers + 1:
        raise ValueError(
            f"{path}: global_hidden_layers_short {out.hidden_layers} needs that many "
            f"global_nodes_short ({len(out.nodes)} given) and one more "
            f"global_activation_short ({len(out.activations)} given)"
        )
    norm = (out.mean_energy, out.conv_energy, out.conv_length)
    if any(v is not None for v in norm) and not all(v is not None for v in norm):
        raise ValueError(
            f"{path}: normalisation needs all of mean_energy, conv_energy, conv_length"
        )


def read_scaling_data(path: str | Path, counts: list[int]) -> list[ScalingStats]:
    """Read ``scaling.data``: rows ``element_index sf_index min max mean sigma``.

    ``counts`` is the number of functions per element (atomic-number order).
    """
    path = Path(path)
    rows = {e: {} for e in range(len(counts))}
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        tokens = _strip(line)
        if not tokens:
            continue
        where = f"{path}:{lineno}"
        if len(tokens) != 6:
            raise ValueError(
                f"{where}: expected 6 columns (e_index sf_index min max mean "
                f"sigma), got {len(tokens)}"
            )
        e = _number(tokens, 0, "e_index", where, int) - 1
        k = _number(tokens, 1, "sf_index", where, int) - 1
        if e not in rows or not 0 <= k < counts[e]:
            raise ValueError(
                f"{where}: element index {e + 1} / function index {k + 1} out of "
                "range for this input.nn"
            )
        rows[e][k] = [
            _number(tokens, c, n, where)
            for c, n in zip(range(2, 6), ("sf_min", "sf_max", "sf_mean", "sf_sigma"), strict=True)
        ]
    stats = []
    for e, n in enumerate(counts):
        missing = [k + 1 for k in range(n) if k not in rows[e]]
        if missing:
            raise ValueError(f"{path}: element index {e + 1} lacks rows for functions {missing}")
        table = np.array([rows[e][k] for k in range(n)])
        stats.append(ScalingStats(table[:, 0], table[:, 1], table[:, 2], table[:, 3]))
    return stats


def read_weights(path: str | Path) -> list[float]:
    """First column of a ``weights.NNN.data`` file, in file order."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: weights file missing")
    values = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        tokens = _strip(line)
        if tokens:
            values.append(_number(tokens, 0, "connection", f"{path}:{lineno}"))
    return values


def read_n2p2(directory: str | Path, units: str = "ev-angstrom") -> HDNNP:
    """Load an n2p2 potential directory as an HDNNP in eV and Å (float64)."""
    directory = Path(directory)
    unit = get_units(units)
    settings = parse_input_nn(directory / "input.nn")
    elements = sort_elements(settings.elements)
    descriptors = DescriptorSet(
        elements, tuple(settings.symfunctions), settings.cutoff_type, settings.cutoff_alpha
    ).scaled(unit.length_to_angstrom)
    hidden = {e: settings.element_nodes.get(e, settings.nodes) for e in elements}
    spec = NetworkSpec(
        hidden, {e: settings.activations for e in elements}, settings.normalize_nodes
    )
    normalized = settings.conv_energy is not None
    mean = settings.mean_energy if normalized else 0.0
    scale = unit.energy_to_ev / (settings.conv_energy if normalized else 1.0)
    offsets = {e: (mean + settings.atom_energy.get(e, 0.0)) * unit.energy_to_ev for e in elements}
    metadata = {
        "source": {"format": "n2p2", "path": str(directory.resolve()), "units": units},
        "n2p2": {
            "mean_energy": settings.mean_energy,
            "conv_energy": settings.conv_energy,
            "conv_length": settings.conv_length,
            "atom_energy": dict(settings.atom_energy),
            "units": units,
        },
    }
    model = HDNNP(descriptors, spec, scale, offsets, metadata)
    counts = [descriptors.count(e) for e in elements]
    stats = read_scaling_data(directory / "scaling.data", counts)
    model.scaler.set_stats(stats, settings.scaling, settings.scale_min, settings.scale_max)
    for e in elements:
        path = directory / f"weights.{atomic_number(e):03d}.data"
        model.nets[e].load_flat_parameters(read_weights(path), where=str(path))
    return model


def export_problems(model: HDNNP) -> list[str]:
    """Reasons why n2p2 cannot represent ``model`` exactly (empty list: exportable)."""
    problems = []
    spec = model.network_spec
    layers = {len(spec.hidden[e]) for e in model.elements}
    if len(layers) > 1:
        problems.append(
            "elements have different numbers of hidden layers; n2p2's "
            "global_hidden_layers_short is one number for all elements"
        )
    if len({spec.activations[e] for e in model.elements}) > 1:
        problems.append(
            "elements use different activation functions; n2p2's "
            "global_activation_short is shared by all elements"
        )
    if model.scaler.mode != "none":
        for k, e in enumerate(model.elements):
            st = model.scaler.stats(k, model.descriptors.count(e))
            width = st.sigma if model.scaler.mode == "sigma" else st.maximum - st.minimum
            flat = np.flatnonzero(width <= 0) + 1
            if model.scaler.mode != "center" and len(flat):
                problems.append(
                    f"element {e}: descriptor(s) {flat.tolist()} were constant in "
                    "training; n2p2 would divide by zero when scaling them"
                )
    return problems


def write_n2p2(model: HDNNP, directory: str | Path, units: str = "ev-angstrom") -> list[Path]:
    """Write ``input.nn``, ``scaling.data`` and ``weights.NNN.data`` into ``directory``.

    Raises ValueError listing :func:`export_problems` when n2p2 cannot represent the model.
    Each file is written atomically. Returns the paths written.
    """
    problems = export_problems(model)
    if problems:
        raise ValueError("cannot export to n2p2: " + "; ".join(problems))
    directory = Path(directory)
    unit = get_units(units)
    texts = {"input.nn": _input_nn_text(model, unit, units), "scaling.data": _scaling_text(model)}
    for e in model.elements:
        texts[f"weights.{atomic_number(e):03d}.data"] = _weights_text(model, e)
    paths = []
    for name, text in texts.items():
        atomic_write_text(directory / name, text)
        paths.append(directory / name)
    return paths


def _energy_terms(model: HDNNP, unit, units: str):
    """(normalisation keywords or None, atom_energy per element) in file units."""
    scale = float(model.energy_scale) / unit.energy_to_ev  # file energy per NN unit
    old = model.metadata.get("n2p2", {})
    same_units = old.get("units") == units and old.get("conv_energy") is not None
    mean = float(old["mean_energy"]) if same_units else 0.0
    offsets = {
        e: float(model.atom_energy[k]) / unit.energy_to_ev - mean
        for k, e in enumerate(model.elements)
    }
    if scale == 1.0 and mean == 0.0:
        return None, offsets
    conv_length = float(old["conv_length"]) if same_units else 1.0
    return (mean, 1.0 / scale, conv_length), offsets


def _input_nn_text(model: HDNNP, unit, units: str) -> str:
    spec = model.network_spec
    first = model.elements[0]
    norm, offsets = _energy_terms(model, unit, units)
    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    lines = [
        f"# Written by hdnnp {__version__} on {stamp}",
        f"# Units: {units} (length 1 = {unit.length_to_angstrom!r} A, "
        f"energy 1 = {unit.energy_to_ev!r} eV)",
    ]
    if norm is not None:
        lines += [
            f"mean_energy {norm[0]!r}",
            f"conv_energy {norm[1]!r}",
            f"conv_length {norm[2]!r}",
        ]
    lines += [
        f"number_of_elements {len(model.elements)}",
        f"elements {' '.join(model.elements)}",
    ]
    lines += [f"atom_energy {e} {v!r}" for e, v in offsets.items() if v != 0.0]
    lines.append(
        f"cutoff_type {N2P2_CUTOFF_CODES[model.descriptors.cutoff_type]} "
        f"{model.descriptors.cutoff_alpha!r}"
    )
    lines += _scaling_keywords(model)
    hidden = spec.hidden[first]
    lines += [
        f"global_hidden_layers_short {len(hidden)}",
        f"global_nodes_short {' '.join(map(str, hidden))}",
        f"global_activation_short {' '.join(spec.activations[first])}",
    ]
    lines += [
        f"element_nodes_short {e} {' '.join(map(str, spec.hidden[e]))}"
        for e in model.elements
        if spec.hidden[e] != hidden
    ]
    if spec.normalize_nodes:
        lines.append("normalize_nodes")
    scaled = model.descriptors.scaled(1.0 / unit.length_to_angstrom)
    lines += [format_n2p2_symfunction(sf) for sf in scaled.functions]
    return "\n".join(lines) + "\n"


def _scaling_keywords(model: HDNNP) -> list[str]:
    mode = model.scaler.mode
    keys = {
        "none": [],
        "scale": ["scale_symmetry_functions"],
        "center": ["center_symmetry_functions"],
        "scale_center": ["scale_symmetry_functions", "center_symmetry_functions"],
        "sigma": ["scale_symmetry_functions_sigma"],
    }[mode]
    return keys + [
        f"scale_min_short {model.scaler.smin!r}",
        f"scale_max_short {model.scaler.smax!r}",
    ]


def _scaling_text(model: HDNNP) -> str:
    lines = [
        "# Symmetry function scaling data written by hdnnp",
        "# e_index sf_index sf_min sf_max sf_mean sf_sigma",
    ]
    for k, e in enumerate(model.elements):
        st = model.scaler.stats(k, model.descriptors.count(e))
        for n in range(len(st.minimum)):
            lines.append(
                f"{k + 1:10d} {n + 1:10d} {st.minimum[n]:24.16E} {st.maximum[n]:24.16E} "
                f"{st.mean[n]:24.16E} {st.sigma[n]:24.16E}"
            )
    return "\n".join(lines) + "\n"


def _weights_text(model: HDNNP, element: str) -> str:
    net = model.nets[element]
    lines = [
        f"# Neural network weights of element {element} written by hdnnp",
        "# connection t index l_s n_s l_e n_e",
    ]
    index = 1
    for layer, (w, b) in enumerate(zip(net.weights, net.biases, strict=True), start=1):
        w = w.detach().cpu().to(torch.float64).numpy()
        for s in range(w.shape[0]):
            for t in range(w.shape[1]):
                lines.append(
                    f"{w[s, t]:24.16E} a {index:9d} {layer - 1:5d} {s + 1:5d} {layer:5d} {t + 1:5d}"
                )
                index += 1
        for t, value in enumerate(b.detach().cpu().to(torch.float64).tolist()):
            lines.append(f"{value:24.16E} b {index:9d} {layer:5d} {t + 1:5d}")
            index += 1
    return "\n".join(lines) + "\n"
