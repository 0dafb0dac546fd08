r"""SIMPLE-NN compatibility: ``params_XX`` files, structure lists and ``input.yaml``.

SIMPLE-NN (Lee, Yoo, Jeong and Han, Comput. Phys. Commun. 242, 95 (2019);
github.com/MDIL-SNU/SIMPLE-NN and SIMPLE-NN_v2) trains Behler-Parrinello potentials from
the same atom-centred symmetry functions hdnnp uses. This module reads its inputs into
hdnnp objects. Nothing here is derived from SIMPLE-NN's (GPL) code; the conventions below
were established by reading it and its documentation:

* SIMPLE-NN ``docs/features/symmetry_function/symmetry_function.rst`` (v1) and
  SIMPLE-NN_v2 ``docs/inputs/params_XX.rst`` and ``docs/inputs/structure_list.rst``;
* the evaluation code ``simple_nn/features/symmetry_function/symmetry_functions.h``
  (functions ``cutf``, ``G2``, ``G4``, ``G5``) and ``calculate_sf.cpp`` of both
  repositories (v1 at commits 220ca46 and 8c9f958, v2 ``simple_nn_v2/.../calculate_sf.cpp``);
* the readers ``_read_params`` (v1 ``features/symmetry_function/__init__.py``, v2
  ``features/symmetry_function/utils.py``), ``_parse_strlist`` (v1) and
  ``parse_structure_list`` (v2 ``features/data_generator.py``);
* the input defaults of v1 (``Symmetry_function.default_inputs``,
  ``Neural_network.default_inputs``) and v2 (``simple_nn/init_inputs.py``) and the v2 loss
  (``simple_nn/models/loss.py``).

params_XX
---------
One file per central element, one function per line, seven whitespace-separated fields::

    type  atom_idx1  atom_idx2  rc  p1  p2  p3

``type`` is 2 (G2), 4 (G4) or 5 (G5). ``atom_idx1``/``atom_idx2`` are 1-based indices of
the neighbour elements into the element order of ``input.yaml`` (v1: the ``atom_types``
list; v2: the key order of ``params``, or ``atom_types`` when it lists the same
elements). G2 uses only ``atom_idx1``; SIMPLE-NN ignores ``atom_idx2`` (written as 0).
For G4/G5 the order of the two indices does not matter. ``rc`` is the cutoff radius (Å).

======  ======  ======  ======================
type    p1      p2      p3
======  ======  ======  ======================
2 (G2)  eta     R_s     unused (written as 0)
4 (G4)  eta     zeta    lambda
5 (G5)  eta     zeta    lambda
======  ======  ======  ======================

SIMPLE-NN reads the first three fields with ``int`` and the other four with ``float``; it
accepts no comments or blank lines. This reader also skips blank lines and lines starting
with ``#``.

Formulas (``symmetry_functions.h``, ``calculate_sf.cpp``)
---------------------------------------------------------
``f_c(r) = 0.5 [cos(pi r / r_c) + 1]`` for r < r_c, else 0 (function ``cutf``)::

    G2 = sum_j            exp(-eta (R_ij - R_s)^2) f_c(R_ij)
    G4 = 2^(1-zeta) sum_{j<k} (1 + lambda cos theta_ijk)^zeta
             exp(-eta (R_ij^2 + R_ik^2 + R_jk^2)) f_c(R_ij) f_c(R_ik) f_c(R_jk)
    G5 = 2^(1-zeta) sum_{j<k} (1 + lambda cos theta_ijk)^zeta
             exp(-eta (R_ij^2 + R_ik^2)) f_c(R_ij) f_c(R_ik)

* eta is an absolute Gaussian exponent in Å^-2 applied to R^2 (not scaled by r_c^2);
* the prefactor is ``pow(2, 1 - zeta)`` (``powtwo``), zeta >= 1 is enforced;
* the angular loop is ``for (k = j + 1; ...)`` over the neighbour list: each unordered
  neighbour pair {j, k} is counted **once**, exactly like n2p2's j<k sum; a pair matches
  a function when its elements are {idx1, idx2} in either order. So there is **no**
  factor 2 between SIMPLE-NN and n2p2;
* G4 multiplies by f_c(R_jk) with the same r_c (pairs with R_jk > r_c are skipped,
  consistent since f_c = 0 there); G5 has no R_jk term;
* G4/G5 have no shift R_s.

Mapping to hdnnp (:class:`~hdnnp.descriptors.params.SymmetryFunction`, n2p2 definitions)
-----------------------------------------------------------------------------------------
G2 -> type 2 (eta, r_s = R_s, r_c); G4 -> type 3 (narrow) and G5 -> type 9 (wide), each
with eta, zeta, lambda, r_c and r_s = 0; cutoff type ``cos`` with alpha = 0. With these
the values are **identical**, function by function (``tests/descriptors/test_simple_nn.py``
checks this against a from-the-definition evaluation). Differences that remain:

* order: SIMPLE-NN feeds the network in file-line order; hdnnp sorts each element's
  functions into n2p2's canonical order (:class:`~hdnnp.descriptors.params.DescriptorSet`).
  The function set is the same; trained SIMPLE-NN weights cannot be reused as they are;
* old SIMPLE-NN v1 builds (e.g. commit 220ca46) tested the neighbour elements with
  ``type == 4 && (a) || (b)`` (C precedence), so a G5 function of two *different*
  neighbour elements was evaluated with the G4 formula for pairs found in the reversed
  order; later versions fixed this. hdnnp evaluates the documented G5 definition.

Structure lists (``str_list`` v1, ``structure_list`` v2)
--------------------------------------------------------
::

    [ group_name ]                    # group header, weight 1.0
    /path/OUTCAR_md 100:2000:20       # PATH INDEX: START:END:STEP, ':' = all, 'N' = one frame
    [ other_group : 3.0 ]             # header with a weight (rsplit at the last ':')
    /path/run{1..10}/OUTCAR ::        # bash-style brace expansion (braceexpand package)

Lines before any header belong to the group ``None`` with weight 1. A header whose text
after the last ``:`` is not a number is a name with weight 1; a negative weight is an
error; a group named again keeps its first weight (as SIMPLE-NN). Blank lines are skipped
(v2 semantics: the current group continues; v1 reset it to ``None``). SIMPLE-NN resolves
relative paths against its working directory, which is the directory of ``input.yaml``
and the list; here they are resolved against the list file's directory. Extensions: lines
starting with ``#`` are comments, and a path without an index means all frames (SIMPLE-NN
rejects such a line).
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import (
    Config,
    DataConfig,
    DescriptorConfig,
    GDFConfig,
    LossConfig,
    NetworkConfig,
    ScalingConfig,
    Source,
    TrainingConfig,
    validate,
)
from .params import ANGULAR_NARROW, ANGULAR_WIDE, RADIAL, DescriptorSet, SymmetryFunction

#: SIMPLE-NN function type -> n2p2/hdnnp type, and back.
SIMPLE_NN_TO_N2P2 = {2: RADIAL, 4: ANGULAR_NARROW, 5: ANGULAR_WIDE}
N2P2_TO_SIMPLE_NN = {v: k for k, v in SIMPLE_NN_TO_N2P2.items()}

#: 1 eV/Å^3 in kbar: SIMPLE-NN's stress loss is in kbar (``-stress / units.GPa * 10``).
KBAR_PER_EV_A3 = 1602.1766208

_COLUMNS = ("type", "atom_idx1", "atom_idx2", "rc", "p1", "p2", "p3")
_P_NAMES = {2: ("eta", "R_s", "p3 (unused)"), 4: ("eta", "zeta", "lambda")}
_P_NAMES[5] = _P_NAMES[4]


# ---------------------------------------------------------------------------- params_XX


def parse_params_line(tokens: Sequence[str], elements: Sequence[str], central: str):
    """One ``params_XX`` line (already split) -> :class:`SymmetryFunction`.

    Raises ValueError naming the offending field (without file and line).
    """
    if len(tokens) != 7:
        raise ValueError(
            f"expected 7 fields '{' '.join(_COLUMNS)}', got {len(tokens)}: {' '.join(tokens)!r}"
        )
    ints = []
    for column, token in zip(_COLUMNS[:3], tokens[:3], strict=True):
        try:
            ints.append(int(token))
        except ValueError:
            raise ValueError(f"field '{column}' is not an integer: {token!r}") from None
    sf_type, idx1, idx2 = ints
    if sf_type not in SIMPLE_NN_TO_N2P2:
        raise ValueError(
            f"field 'type': SIMPLE-NN symmetry function type {sf_type} is not supported "
            "(2 = G2, 4 = G4, 5 = G5)"
        )
    names = ("rc", *_P_NAMES[sf_type])
    values = []
    for name, column, token in zip(names, _COLUMNS[3:], tokens[3:], strict=True):
        try:
            value = float(token)
        except ValueError:
            raise ValueError(f"field '{name}' ({column}) is not a number: {token!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"field '{name}' ({column}) is not finite: {token!r}")
        values.append(value)
    rc, p1, p2, p3 = values
    n = len(elements)
    neighbour_idx = (idx1,) if sf_type == 2 else (idx1, idx2)
    for column, idx in zip(("atom_idx1", "atom_idx2"), neighbour_idx, strict=False):
        if not 1 <= idx <= n:
            raise ValueError(
                f"field '{column}': element index {idx} outside 1..{n} "
                f"(element order {list(elements)})"
            )
    neighbours = tuple(elements[i - 1] for i in neighbour_idx)
    if rc <= 0.0:
        raise ValueError(f"field 'rc' must be positive, got {rc}")
    if p1 < 0.0:
        raise ValueError(f"field 'eta' (p1) must be >= 0, got {p1}")
    if sf_type == 2:
        return SymmetryFunction(central, RADIAL, neighbours, eta=p1, rc=rc, rs=p2)
    if p2 < 1.0:
        raise ValueError(f"field 'zeta' (p2) must be >= 1, got {p2}")
    if p3 not in (-1.0, 1.0):
        raise ValueError(f"field 'lambda' (p3) must be +1 or -1, got {p3}")
    return SymmetryFunction(
        central, SIMPLE_NN_TO_N2P2[sf_type], neighbours, eta=p1, rc=rc, zeta=p2, lambda_=p3
    )


def read_params(
    path: str | os.PathLike, elements: Sequence[str], central: str
) -> list[SymmetryFunction]:
    """Read a SIMPLE-NN ``params_XX`` file of the central element ``central``.

    Args:
        path: the file.
        elements: the element order of ``input.yaml`` (``atom_types`` / ``params`` keys);
            ``atom_idx`` values are 1-based indices into it.
        central: symbol of the central element the file belongs to.

    Returns:
        The functions in file order (hdnnp's :class:`DescriptorSet` sorts them).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: ``PATH:LINE: field 'NAME' ...`` for a malformed line, an element
            index out of range, a value out of range or a duplicate function.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: SIMPLE-NN params file for {central} not found")
    elements = [str(e) for e in elements]
    if central not in elements:
        raise ValueError(f"{path}: central element {central!r} is not in {elements}")
    functions: list[SymmetryFunction] = []
    seen: dict[SymmetryFunction, int] = {}
    with path.open() as handle:
        for lineno, line in enumerate(handle, start=1):
            tokens = line.split()
            if not tokens or tokens[0].startswith("#"):
                continue
            try:
                sf = parse_params_line(tokens, elements, central)
            except ValueError as err:
                raise ValueError(f"{path}:{lineno}: {err}") from None
            if sf in seen:
                raise ValueError(
                    f"{path}:{lineno}: duplicate symmetry function (same as line {seen[sf]})"
                )
            seen[sf] = lineno
            functions.append(sf)
    if not functions:
        raise ValueError(f"{path}: no symmetry functions")
    return functions


def format_params_line(sf: SymmetryFunction, elements: Sequence[str]) -> str:
    """The ``params_XX`` line of one function (inverse of :func:`parse_params_line`)."""
    elements = list(elements)
    for symbol in sf.neighbors:
        if symbol not in elements:
            raise ValueError(f"neighbour element {symbol} of {sf} is not in {elements}")
    idx = sorted(elements.index(s) + 1 for s in sf.neighbors)  # angular: smaller index first
    if sf.type == RADIAL:
        return f"2 {idx[0]} 0 {sf.rc!r} {sf.eta!r} {sf.rs!r} 0.0"
    if sf.rs != 0.0:
        raise ValueError(f"SIMPLE-NN G4/G5 have no shift R_s; cannot write {sf}")
    return (
        f"{N2P2_TO_SIMPLE_NN[sf.type]} {idx[0]} {idx[1]} {sf.rc!r} "
        f"{sf.eta!r} {sf.zeta!r} {sf.lambda_!r}"
    )


def write_params(
    path: str | os.PathLike, functions: Sequence[SymmetryFunction], elements: Sequence[str]
) -> None:
    """Write the functions of one central element as a SIMPLE-NN ``params_XX`` file.

    ``elements`` is the element order of the target ``input.yaml`` (index 1 = first).
    Lines are written in the given order. Angular functions must have r_s = 0 and the
    functions one central element.
    """
    centrals = {sf.element for sf in functions}
    if len(centrals) > 1:
        raise ValueError(f"a params file holds one central element, got {sorted(centrals)}")
    lines = [format_params_line(sf, elements) for sf in functions]
    Path(path).write_text("".join(line + "\n" for line in lines))


def descriptor_set_from_simple_nn(
    params: Mapping[str, str | os.PathLike],
    elements: Sequence[str] | None = None,
    *,
    order: Sequence[str] | None = None,
) -> DescriptorSet:
    """:class:`DescriptorSet` (cutoff ``cos``, alpha 0) from SIMPLE-NN params files.

    Args:
        params: {central element: params file}, **in SIMPLE-NN's element order**: the
            files' 1-based ``atom_idx`` refer to the key order of this mapping (as
            ``params`` in a v2 ``input.yaml``; :func:`config_from_simple_nn` stores it in
            ``atom_types`` order). Keep the order when storing the mapping (YAML:
            ``sort_keys=False``).
        elements: the potential's elements, in any order (e.g. sorted by atomic number,
            as found in the data); only checked to be the same set as the keys of
            ``params``. They do not define the index order.
        order: an explicit SIMPLE-NN element order (``atom_types``) that replaces the key
            order of ``params``.
    """
    order = [str(e) for e in (order if order is not None else params)]
    if len(set(order)) != len(order):
        raise ValueError(f"repeated element in SIMPLE-NN element order {order}")
    missing = [e for e in order if e not in params]
    extra = [e for e in params if e not in order]
    if missing or extra:
        raise ValueError(
            f"SIMPLE-NN params files {dict(params)} do not match the element order {order}: "
            + (f"missing {missing} " if missing else "")
            + (f"unexpected {extra}" if extra else "")
        )
    if elements is not None and set(map(str, elements)) != set(order):
        raise ValueError(
            f"the potential's elements {sorted(map(str, elements))} differ from the elements "
            f"with SIMPLE-NN params files {order}"
        )
    functions = []
    for element in order:
        functions.extend(read_params(params[element], order, element))
    return DescriptorSet(tuple(order), tuple(functions), cutoff_type="cos", cutoff_alpha=0.0)


# ------------------------------------------------------------------------ structure list


@dataclass(frozen=True)
class StructureEntry:
    """One structure file of a SIMPLE-NN structure list (after brace expansion).

    Attributes:
        path: the file, resolved against the list file's directory.
        index: SIMPLE-NN's frame index text (``':'`` = all frames).
        group: name of the ``[ group ]`` it belongs to (``'None'`` before any header).
        weight: the group's weight.
        line: line number in the list file.
    """

    path: str
    index: str
    group: str
    weight: float
    line: int

    @property
    def spec(self) -> str:
        """hdnnp structure spec: ``PATH`` (all frames) or ``PATH@INDEX``."""
        from ..io import parse_index

        index = parse_index(self.index)
        if index == slice(None):
            return self.path
        return f"{self.path}@{self.index}"


def parse_structure_list(path: str | os.PathLike) -> list[StructureEntry]:
    """Parse a SIMPLE-NN ``str_list`` / ``structure_list`` (format in the module docstring).

    Raises:
        FileNotFoundError: the list does not exist.
        ValueError: ``PATH:LINE: ...`` for a malformed header, index or weight.
    """
    from ..io import parse_index

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: SIMPLE-NN structure list not found")
    base = path.parent
    weights: dict[str, float] = {"None": 1.0}
    group = "None"
    entries: list[StructureEntry] = []
    for lineno, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{lineno}"
        if line.startswith("[") and line.endswith("]"):
            name, weight = _group_header(line[1:-1])
            if not name:
                raise ValueError(f"{where}: empty group name in {line!r}")
            if weight < 0 or not math.isfinite(weight):
                raise ValueError(f"{where}: group weight must be >= 0, got {weight}")
            if name in weights and weights[name] != weight:
                warnings.warn(
                    f"{where}: group {name!r} already has weight {weights[name]}; "
                    f"the new weight {weight} is ignored (as in SIMPLE-NN)",
                    stacklevel=2,
                )
            weights.setdefault(name, weight)
            group = name
            continue
        if line.startswith("["):
            raise ValueError(f"{where}: group header must end with ']': {line!r}")
        tokens = line.split()
        if len(tokens) > 2:
            warnings.warn(
                f"{where}: extra fields {tokens[2:]} ignored (as in SIMPLE-NN)", stacklevel=2
            )
        index = tokens[1] if len(tokens) > 1 else ":"
        try:
            parse_index(index)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        for name in brace_expand(tokens[0]):
            resolved = name if os.path.isabs(name) else os.path.normpath(str(base / name))
            entries.append(StructureEntry(resolved, index, group, weights[group], lineno))
    return entries


def read_structure_list(path: str | os.PathLike) -> list[Source]:
    """SIMPLE-NN structure list -> hdnnp :class:`~hdnnp.config.Source` list.

    Each file becomes ``Source(PATH[@INDEX], weight=group weight)``; paths are resolved
    against the list's directory.
    """
    return [Source(entry.spec, entry.weight) for entry in parse_structure_list(path)]


def _group_header(text: str) -> tuple[str, float]:
    if ":" in text:
        name, _, weight = text.rpartition(":")
        try:
            return name.strip(), float(weight.strip())
        except ValueError:
            pass
    return text.strip(), 1.0


_SEQUENCE = re.compile(r"^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$")


def brace_expand(text: str) -> list[str]:
    """Bash-style brace expansion as SIMPLE-NN's ``braceexpand``: ``a{1,2}`` -> a1 a2,
    ``f{1..3}`` -> f1 f2 f3, ``f{01..10..3}`` (zero-padded, step), ``{a..c}``, nesting.

    Braces that are not a list (no top-level comma) or a sequence are kept literally.
    """
    start = 0
    while True:
        i = text.find("{", start)
        if i < 0:
            return [text]
        j = _matching_brace(text, i)
        if j < 0:
            return [text]
        alternatives = _alternatives(text[i + 1 : j])
        if alternatives is None:
            start = i + 1
            continue
        out = []
        for alt in alternatives:
            for head in brace_expand(alt):
                out.extend(brace_expand(text[:i] + head + text[j + 1 :]))
        return out


def _matching_brace(text: str, i: int) -> int:
    depth = 0
    for k in range(i, len(text)):
        if text[k] == "{":
            depth += 1
        elif text[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return -1


def _alternatives(inner: str) -> list[str] | None:
    parts, depth, last = [], 0, 0
    for k, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[last:k])
            last = k + 1
    if parts:
        return [*parts, inner[last:]]
    match = _SEQUENCE.match(inner)
    if match is None:
        return None
    first, last_, step_text = match.groups()
    step = abs(int(step_text)) if step_text else 1
    step = step or 1
    if first.isalpha() != last_.isalpha():
        return None
    if first.isalpha():
        a, b = ord(first), ord(last_)
        sign = 1 if b >= a else -1
        return [chr(c) for c in range(a, b + sign, sign * step)]
    a, b = int(first), int(last_)
    sign = 1 if b >= a else -1
    padded = any(len(t.lstrip("-")) > 1 and t.lstrip("-").startswith("0") for t in (first, last_))
    width = max(len(first), len(last_)) if padded else 0
    return [f"{v:0{width}d}" if width else str(v) for v in range(a, b + sign, sign * step)]


# --------------------------------------------------------------------------- input.yaml

_MISSING = object()

#: SIMPLE-NN activation names -> n2p2 letters (``acti_func``, default sigmoid).
_ACTIVATIONS = {"sigmoid": "s", "tanh": "t", "relu": "r", "softplus": "p", "linear": "l"}

#: Defaults of the keys this converter reads that both layouts share.
_COMMON_DEFAULTS = {
    "learning_rate": 1e-4,
    "acti_func": "sigmoid",
    "nodes": "30-30",
    "use_force": True,
    "use_stress": True,
    "energy_coeff": 1.0,
    "force_coeff": 0.1,
    "stress_coeff": 1e-6,
    "valid_rate": 0.1,
    "method": "Adam",
    "scale_type": "minmax",
    "scale_width": 1.0,
}

#: Defaults per layout (v1: SIMPLE-NN, v2: SIMPLE-NN_v2).
_DEFAULTS = {
    "v1": {
        **_COMMON_DEFAULTS,
        "batch_size": 64,
        "total_epoch": 10000,
        "struct_list": "str_list",
        "pca": False,
    },
    "v2": {
        **_COMMON_DEFAULTS,
        "batch_size": 8,
        "total_epoch": 1000,
        "struct_list": "structure_list",
        "pca": True,
    },
}

#: Keys that only steer SIMPLE-NN's own workflow or files; reported briefly.
_WORKFLOW_KEYS = {
    "generate_features",
    "preprocess",
    "train_model",
    "data.type",
    "data.absolute_path",
    "data.save_directory",
    "data.save_list",
    "data.compress_outcar",
    "data.read_force",
    "data.read_stress",
    "data.dx_save_sparse",
    "data.refdata_format",
    "descriptor.type",
    "descriptor.absolute_path",
    "descriptor.save_directory",
    "descriptor.save_list",
    "descriptor.compress_outcar",
    "descriptor.read_force",
    "descriptor.read_stress",
    "descriptor.dx_save_sparse",
    "descriptor.refdata_format",
    "symmetry_function.refdata_format",
    "symmetry_function.compress_outcar",
    "symmetry_function.data_per_tfrecord",
    "symmetry_function.num_parallel_calls",
    "symmetry_function.remain_pickle",
    "preprocessing.calc_scale",
    "preprocessing.data_list",
    "preprocessing.train_list",
    "preprocessing.valid_list",
    "preprocessing.shuffle",
    "neural_network.train",
    "neural_network.test",
    "neural_network.train_list",
    "neural_network.valid_list",
    "neural_network.test_list",
    "neural_network.show_interval",
    "neural_network.save_interval",
    "neural_network.use_gpu",
    "neural_network.GPU_number",
    "neural_network.subprocesses",
    "neural_network.inter_op_threads",
    "neural_network.intra_op_threads",
    "neural_network.inter_op_parallelism_threads",
    "neural_network.intra_op_parallelism_threads",
    "neural_network.load_data_to_gpu",
    "neural_network.shuffle_dataloader",
    "neural_network.print_structure_rmse",
    "neural_network.accurate_train_rmse",
    "neural_network.cache",
}


@dataclass
class _Reader:
    """Looks up dotted keys in the parsed YAML and remembers which ones were consumed."""

    data: dict
    layout: str
    used: set = field(default_factory=set)
    notes: list = field(default_factory=list)

    def has(self, key: str) -> bool:
        return self._lookup(key) is not _MISSING

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """Value of a dotted key; when absent ``default``, or SIMPLE-NN's default."""
        value = self._lookup(key)
        self.used.add(key)
        if value is not _MISSING:
            return value
        if default is _MISSING:
            return _DEFAULTS[self.layout][key.rsplit(".", 1)[-1]]
        return default

    def first(self, keys: Sequence[str], default: Any = _MISSING) -> Any:
        for key in keys:
            if self.has(key):
                return self.get(key)
        return self.get(keys[0], default)

    def _lookup(self, key: str) -> Any:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return _MISSING
            node = node[part]
        return node

    def unused(self) -> list[tuple[str, Any]]:
        out = []

        def walk(node, prefix):
            for key, value in node.items():
                dotted = f"{prefix}{key}"
                parts = dotted.split(".")
                if any(".".join(parts[: n + 1]) in self.used for n in range(len(parts))):
                    continue
                if isinstance(value, dict) and value:
                    walk(value, dotted + ".")
                else:
                    out.append((dotted, value))

        walk(self.data, "")
        return out


def config_from_simple_nn(
    path: str | os.PathLike, data_override: Sequence[str] | None = None
) -> tuple[Config, list[str]]:
    """Translate a SIMPLE-NN ``input.yaml`` (v1 or v2 layout) into an hdnnp :class:`Config`.

    Layout: v1 when the file has a ``symmetry_function`` section (``params``,
    ``valid_rate``, ``atomic_weights``, ``weight_modifier`` there; ``neural_network.method``),
    else v2 (top-level ``params``, ``preprocessing``, ``neural_network.optimizer.method``).
    Keys absent from the file take SIMPLE-NN's defaults of that version (e.g. learning
    rate 1e-4, force_coeff 0.1, sigmoid activation), so the result describes the run
    SIMPLE-NN would do.

    Mapping:

    * descriptors: ``descriptors.simple_nn`` = {element: absolute params path} in the
      SIMPLE-NN element order (``atom_types`` / ``params`` key order; the files' atom
      indices refer to it, so keep that order); the files are parsed here, so errors
      surface now; ``cutoff`` = largest r_c, cutoff ``cos``, alpha 0;
    * network: ``nodes`` ``"30-30"`` -> hidden (30, 30) (a per-element mapping ->
      ``hidden_per_element``); ``acti_func`` sigmoid/tanh/relu/softplus -> s/t/r/p;
    * training: ``learning_rate`` (v1 decay mapping: its initial ``learning_rate``),
      ``batch_size``, ``total_epoch`` -> max_epochs, ``method`` Adam/L-BFGS -> adam/lbfgs,
      ``random_seed`` -> seed, ``double_precision`` -> dtype, ``energy_criteria`` /
      ``force_criteria`` -> target RMSEs; v1 ``total_iteration`` counts optimiser steps and
      is reported, not converted (it needs the number of training structures);
    * loss: energy_weight = ``energy_coeff``; force_weight = ``force_coeff`` (0 without
      ``use_force``); stress_weight = ``stress_coeff`` * 1602.18^2 (0 without
      ``use_stress``), because SIMPLE-NN's terms are the mean squared per-atom energy
      error, the mean squared force component error (eV/Å) and the mean squared stress
      component error in **kbar**, each times its coefficient (v2 ``models/loss.py``);
    * scaling: ``scale_type`` minmax -> ``scale`` with [-w, w] (w = ``scale_width``),
      meanstd -> ``sigma`` with [0, w]; ``use_scale: false`` -> ``none``;
    * GDF (Jeong et al., J. Phys. Chem. C 122, 22790 (2018)): enabled when the atomic
      weights are ``gdf`` and used for force training; sigma ``Auto`` -> ``auto``;
      the ``modified sigmoid`` b, c of the weight modifier, per element (one number
      when all elements share it);
    * data: ``valid_rate`` -> validation_fraction; train from the structure list (v1
      ``str_list``, v2 ``data.struct_list`` / ``descriptor.struct_list``), group weights as
      source weights; ``data_override`` (paths or ``PATH@INDEX`` specs, relative to the
      current directory) replaces the list.

    Returns:
        ``(config, notes)``: notes list every setting that was not carried over (PCA,
        workflow switches, unsupported options, per-element values merged) and what
        was assumed.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: SIMPLE-NN input file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a mapping")
    layout = "v1" if isinstance(data.get("symmetry_function"), dict) else "v2"
    reader = _Reader(data, layout)
    reader.notes.append(f"read {path} as a SIMPLE-NN {'v1' if layout == 'v1' else 'v2'} input")
    base = path.parent

    elements, params = _elements_and_params(reader, path)
    descriptor_set = descriptor_set_from_simple_nn(params, order=elements)
    counts = ", ".join(
        f"{e}: {descriptor_set.count(e)} ("
        f"{sum(sf.type == RADIAL for sf in descriptor_set.for_element(e))} radial)"
        for e in elements
    )
    reader.notes.append(f"descriptors from the params files (functions per element {counts})")
    descriptors = DescriptorConfig(
        cutoff=descriptor_set.max_cutoff,
        cutoff_type="cos",
        cutoff_alpha=0.0,
        simple_nn={e: str(params[e]) for e in elements},
    )
    config = Config(
        data=_data_config(reader, base, data_override),
        descriptors=descriptors,
        scaling=_scaling_config(reader),
        network=_network_config(reader, elements),
        loss=_loss_config(reader, elements),
        training=_training_config(reader),
    )
    validate(config, str(path))
    _report_unused(reader)
    return config, reader.notes


def _elements_and_params(reader: _Reader, path: Path) -> tuple[list[str], dict[str, Path]]:
    key = "symmetry_function.params" if reader.layout == "v1" else "params"
    raw = reader.get(key, None)
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f"{path}: '{key}' must map each element to its params file")
    params = {}
    for element, file in raw.items():
        file_path = Path(str(file))
        params[str(element)] = file_path if file_path.is_absolute() else path.parent / file_path
    atom_types = reader.get("atom_types", None)
    if atom_types is None:
        if reader.layout == "v1":
            raise ValueError(f"{path}: SIMPLE-NN v1 input needs 'atom_types'")
        return list(params), params
    if not isinstance(atom_types, list):
        raise ValueError(f"{path}: 'atom_types' must be a list of element symbols")
    atom_types = [str(e) for e in atom_types]
    if set(atom_types) == set(params) and len(atom_types) == len(params):
        return atom_types, params
    if reader.layout == "v1":
        raise ValueError(
            f"{path}: atom_types {atom_types} and the params elements {list(params)} differ"
        )
    reader.notes.append(
        f"atom_types {atom_types} differ from the params elements; SIMPLE-NN v2 then uses "
        f"the params order {list(params)}, and so does hdnnp"
    )
    return list(params), params


def _data_config(reader: _Reader, base: Path, data_override) -> DataConfig:
    valid_key = (
        "symmetry_function.valid_rate" if reader.layout == "v1" else ("preprocessing.valid_rate")
    )
    valid_rate = float(reader.get(valid_key))
    if reader.layout == "v1":
        list_path = base / _DEFAULTS["v1"]["struct_list"]
    else:
        list_path = base / str(reader.first(["data.struct_list", "descriptor.struct_list"]))
    if data_override is not None:
        if isinstance(data_override, (str, os.PathLike)):
            data_override = [data_override]
        train = tuple(Source(os.fspath(p)) for p in data_override)
        reader.notes.append(
            f"training data replaced by data_override {[s.path for s in train]} "
            f"(structure list {list_path} not read)"
        )
    else:
        train = tuple(read_structure_list(list_path))
        reader.notes.append(f"training data from the structure list {list_path}")
    return DataConfig(train=train, validation_fraction=valid_rate)


def _scaling_config(reader: _Reader) -> ScalingConfig:
    if reader.layout == "v1":
        scale_type = reader.get("symmetry_function.scale_type")
        width = float(reader.get("symmetry_function.scale_scale", 1.0))
        use_scale = True
    else:
        scale_type = reader.get("preprocessing.scale_type")
        width = float(reader.get("preprocessing.scale_width"))
        use_scale = bool(reader.get("neural_network.use_scale", True))
        reader.get("preprocessing.scale_rho", None)
    if not use_scale:
        return ScalingConfig(mode="none")
    if scale_type == "meanstd":
        return ScalingConfig(mode="sigma", min=0.0, max=width)
    if scale_type != "minmax":
        reader.notes.append(
            f"scale_type {scale_type!r} is not supported; using minmax (hdnnp 'scale')"
        )
    return ScalingConfig(mode="scale", min=-width, max=width)


def _nodes(value, where: str) -> tuple[int, ...]:
    text = str(value).strip()
    try:
        sizes = tuple(int(n) for n in text.split("-"))
    except ValueError:
        raise ValueError(f"{where}: nodes must look like '30-30', got {value!r}") from None
    if not sizes or min(sizes) <= 0:
        raise ValueError(f"{where}: nodes must be positive, got {value!r}")
    return sizes


def _network_config(reader: _Reader, elements: list[str]) -> NetworkConfig:
    nodes = reader.get("neural_network.nodes")
    if isinstance(nodes, dict):
        per_element = {str(e): _nodes(v, f"neural_network.nodes.{e}") for e, v in nodes.items()}
        missing = [e for e in elements if e not in per_element]
        if missing:
            raise ValueError(f"neural_network.nodes has no entry for {missing}")
        hidden = per_element[elements[0]]
    else:
        per_element = {}
        hidden = _nodes(nodes, "neural_network.nodes")
    acti = str(reader.get("neural_network.acti_func")).lower()
    activation = _ACTIVATIONS.get(acti)
    if activation is None:
        reader.notes.append(
            f"activation {acti!r} has no n2p2 equivalent in hdnnp; using tanh ('t')"
        )
        activation = "t"
    pca_key = "neural_network.pca" if reader.layout == "v1" else "neural_network.use_pca"
    pca = reader.get(pca_key, _DEFAULTS[reader.layout]["pca"])
    reader.get("preprocessing.calc_pca", None)
    reader.get("preprocessing.pca_whiten", None)
    reader.get("preprocessing.min_whiten_level", None)
    reader.get("neural_network.pca_whiten", None)
    reader.get("neural_network.pca_min_whiten_level", None)
    if pca:
        reader.notes.append(
            "SIMPLE-NN applies PCA (whitening) to the scaled descriptors; hdnnp has no PCA "
            "layer: the network inputs are the scaled descriptors"
        )
    return NetworkConfig(hidden=hidden, activation=activation, hidden_per_element=per_element)


def _training_config(reader: _Reader) -> TrainingConfig:
    kwargs: dict[str, Any] = {}
    method = reader.first(["neural_network.optimizer.method", "neural_network.method"])
    optimizer = {"adam": "adam", "l-bfgs": "lbfgs", "lbfgs": "lbfgs"}.get(str(method).lower())
    if optimizer is None:
        reader.notes.append(f"optimizer {method!r} is not supported; using adam")
        optimizer = "adam"
    kwargs["optimizer"] = optimizer
    if reader.has("neural_network.optimizer.params") and reader.get(
        "neural_network.optimizer.params"
    ):
        reader.notes.append("optimizer.params (optimizer options) not carried over")
    lr = reader.get("neural_network.learning_rate")
    if isinstance(lr, dict):
        reader.notes.append(
            f"learning-rate decay {lr} not carried over (hdnnp reduces the rate on plateaus)"
        )
        lr = lr.get("learning_rate", _DEFAULTS[reader.layout]["learning_rate"])
    kwargs["learning_rate"] = float(lr)
    if reader.get("neural_network.decay_rate", None) is not None:
        reader.notes.append(
            "neural_network.decay_rate (exponential decay per epoch) not carried over "
            "(hdnnp reduces the rate on plateaus)"
        )
    kwargs["batch_size"] = int(reader.get("neural_network.batch_size"))
    if reader.get("neural_network.full_batch", False):
        reader.notes.append(
            "full_batch: set training.batch_size to the number of training structures "
            "(or use lbfgs, which is full batch)"
        )
    if reader.has("neural_network.total_iteration"):
        iterations = reader.get("neural_network.total_iteration")
        reader.notes.append(
            f"total_iteration = {iterations} counts optimiser steps (batches of "
            f"{kwargs['batch_size']}), not epochs; max_epochs left at hdnnp's default "
            f"{TrainingConfig().max_epochs} (steps x batch size / training structures "
            "would be the equivalent)"
        )
        reader.used.add("neural_network.total_epoch")
    else:
        kwargs["max_epochs"] = int(reader.get("neural_network.total_epoch"))
    seed = reader.get("random_seed", None)
    if seed is None:
        reader.notes.append("no random_seed (SIMPLE-NN seeds from the clock); seed 0 used")
    else:
        kwargs["seed"] = int(seed)
    if not reader.get("neural_network.double_precision", True):
        kwargs["dtype"] = "float32"
    for key, target in (
        ("energy_criteria", "target_energy_rmse"),
        ("force_criteria", "target_force_rmse"),
    ):
        value = reader.get(f"neural_network.{key}", None)
        if value is not None:
            kwargs[target] = float(value)
    return TrainingConfig(**kwargs)


def _loss_config(reader: _Reader, elements: list[str]) -> LossConfig:
    nn = "neural_network"
    use_force = bool(reader.get(f"{nn}.use_force"))
    use_stress = bool(reader.get(f"{nn}.use_stress"))
    energy = float(reader.get(f"{nn}.energy_coeff"))
    force = float(reader.get(f"{nn}.force_coeff")) if use_force else 0.0
    stress_coeff = float(reader.get(f"{nn}.stress_coeff"))
    stress = stress_coeff * KBAR_PER_EV_A3**2 if use_stress else 0.0
    if use_stress and stress_coeff:
        reader.notes.append(
            f"stress_coeff {stress_coeff} (per kbar^2) -> stress_weight {stress:.6g} "
            "(per (eV/Å^3)^2)"
        )
    default_e_loss = 0 if reader.layout == "v1" else 1
    e_key = f"{nn}.E_loss" if reader.layout == "v1" else f"{nn}.E_loss_type"
    f_key = f"{nn}.F_loss" if reader.layout == "v1" else f"{nn}.F_loss_type"
    if reader.get(e_key, default_e_loss) != default_e_loss:
        reader.notes.append(f"{e_key} = {reader.get(e_key)}: hdnnp uses the per-atom energy loss")
    if reader.get(f_key, 1) != 1:
        reader.notes.append(f"{f_key} = {reader.get(f_key)}: hdnnp uses the plain force loss")
    if float(reader.get(f"{nn}.loss_scale", 1.0)) != 1.0:
        reader.notes.append("loss_scale (overall loss factor) not carried over")
    return LossConfig(
        energy_weight=energy,
        force_weight=force,
        stress_weight=stress,
        gdf=_gdf_config(reader, elements, use_force),
    )


def _gdf_config(reader: _Reader, elements: list[str], use_force: bool) -> GDFConfig:
    if reader.layout == "v1":
        weights = reader.get("symmetry_function.atomic_weights", None)
        modifier = reader.get("symmetry_function.weight_modifier", None)
        used = True
    else:
        weights = reader.get("preprocessing.calc_atomic_weights", False)
        modifier = reader.get("neural_network.weight_modifier", None)
        used = bool(reader.get("neural_network.use_atomic_weights", False))
    kind = weights.get("type") if isinstance(weights, dict) else None
    if kind is None:
        return GDFConfig()
    if kind != "gdf":
        reader.notes.append(f"atomic weights of type {kind!r} are not supported; GDF off")
        return GDFConfig()
    if not used or not use_force:
        reader.notes.append(
            "GDF atomic weights are computed but not used for training "
            + ("(use_atomic_weights is false)" if not used else "(no force training)")
            + "; GDF off"
        )
        return GDFConfig()
    sigma = _gdf_sigma(reader, weights.get("params"), elements)
    b, c = GDFConfig().modifier_b, GDFConfig().modifier_c
    if isinstance(modifier, dict) and modifier.get("type") == "modified sigmoid":
        per = modifier.get("params") or {}
        values = {e: per[e] for e in elements if isinstance(per.get(e), dict)}
        if not values:
            raise ValueError("weight_modifier 'modified sigmoid' needs params {element: {b, c}}")
        missing = [e for e in elements if e not in values]
        if missing:
            raise ValueError(
                f"weight_modifier 'modified sigmoid' has no params for {', '.join(missing)}"
            )
        b = _one_or_per_element({e: float(v.get("b", b)) for e, v in values.items()})
        c = _one_or_per_element({e: float(v.get("c", c)) for e, v in values.items()})
    else:
        reader.notes.append(
            "GDF without a weight modifier in SIMPLE-NN; hdnnp always applies the modified "
            f"sigmoid, with its defaults b = {b}, c = {c}"
        )
    return GDFConfig(enabled=True, sigma=sigma, modifier_b=b, modifier_c=c)


def _one_or_per_element(values: dict[str, float]) -> float | dict[str, float]:
    """One number when all elements share it, else the mapping."""
    return next(iter(values.values())) if len(set(values.values())) == 1 else values


def _gdf_sigma(reader: _Reader, params, elements: list[str]) -> float | str | dict:
    if params is None or (isinstance(params, str) and params.lower() == "auto"):
        return "auto"
    if isinstance(params, dict) and "sigma" in params:
        params = params["sigma"]
    if isinstance(params, (int, float)):
        return float(params)
    if isinstance(params, dict):
        # SIMPLE-NN gives elements missing from the mapping its default sigma, 0.02
        return _one_or_per_element({e: float(params.get(e, 0.02)) for e in elements})
    reader.notes.append(f"GDF params {params!r} not understood; sigma auto")
    return "auto"


def _report_unused(reader: _Reader) -> None:
    workflow = []
    for key, value in reader.unused():
        if key in _WORKFLOW_KEYS:
            workflow.append(key)
        else:
            reader.notes.append(f"{key} = {value!r}: not used by hdnnp")
    if workflow:
        reader.notes.append(
            "SIMPLE-NN workflow/file settings not needed by hdnnp: " + ", ".join(workflow)
        )
