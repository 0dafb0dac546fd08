"""Training configuration: typed, frozen dataclasses loaded from YAML with strict keys.

Every key has a default and a unit; an unknown key is an error that names it (and
suggests the closest known key). The reference with all keys is :func:`reference`,
printed by ``hdnnp train --print-config`` and reproduced in the README.

Sections: ``data``, ``descriptors``, ``scaling``, ``network``, ``loss``, ``training``.
Units: energies eV, lengths Å, forces eV/Å, stress eV/Å^3, times s.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Source:
    """One data file with its weight in the loss (SIMPLE-NN structure groups).

    ``path`` may carry an index: ``file.extxyz@::10`` or SIMPLE-NN's ``OUTCAR ::10``.
    """

    path: str
    weight: float = 1.0  # multiplies the loss terms of its structures


@dataclass(frozen=True)
class DataConfig:
    train: tuple[Source, ...] = ()  # training files (validation split from them)
    validation: tuple[Source, ...] = ()  # explicit validation files (no random split)
    test: tuple[Source, ...] = ()  # test files, only reported
    validation_fraction: float = 0.1  # random validation share when no files given
    units: str = "ev-angstrom"  # units of n2p2 input.data files
    drop_corrupted: bool = False  # drop frames `hdnnp check` calls errors (else refuse)
    min_distance: float = 0.5  # Å, closer atoms are an error in the data check


@dataclass(frozen=True)
class DescriptorConfig:
    cutoff: float = 6.0  # Å, radius of the automatic set
    cutoff_type: str = "cos"  # n2p2 cutoff name: hard cos tanhu tanh exp poly1..poly4
    cutoff_alpha: float = 0.0  # inner cutoff radius as a fraction of the cutoff
    n_radial: int = 12  # radial functions per element pair (automatic set)
    n_angular: int = 6  # angular eta values per element triple (automatic set)
    zetas: tuple[float, ...] = (1.0, 4.0, 16.0)  # angular zeta values (automatic set)
    angular_type: int = 3  # 3 = narrow (G4), 9 = wide (G5)
    n2p2: str | None = None  # input.nn whose symfunction_short lines define the set
    simple_nn: dict[str, str] | None = None  # SIMPLE-NN params files per element


@dataclass(frozen=True)
class ScalingConfig:
    mode: str = "scale_center"  # none, scale, center, scale_center, sigma (n2p2)
    min: float = -1.0  # S_min
    max: float = 1.0  # S_max


@dataclass(frozen=True)
class NetworkConfig:
    hidden: tuple[int, ...] = (25, 25)  # hidden layer sizes
    activation: str = "t"  # n2p2 letter for hidden layers (output is linear)
    hidden_per_element: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class GDFConfig:
    enabled: bool = False  # Gaussian density function weights (Jeong et al. 2018)
    sigma: float | str | dict = "auto"  # RMS distance per scaled descriptor; auto: SIMPLE-NN's
    modifier_b: float | dict = 1.0  # modified sigmoid b (or {element: b})
    modifier_c: float | str | dict = "auto"  # modified sigmoid c; auto: SIMPLE-NN's fit
    max_reference_atoms: int = 5000  # atoms per element used as the density reference
    max_weight: float | None = None  # cap on the weights (mean 1); none: SIMPLE-NN's


@dataclass(frozen=True)
class LossConfig:
    energy_weight: float = 1.0  # multiplies RMSE(E/atom)^2, (eV/atom)^-2
    force_weight: float = 0.1  # mu in mu/3 RMSE(F)^2 per component sum, (eV/Å)^-2
    stress_weight: float = 0.0  # w_S, (eV/Å^3)^-2, on the six stress components
    gdf: GDFConfig = field(default_factory=GDFConfig)  # atomic weights of the force loss


@dataclass(frozen=True)
class TrainingConfig:
    optimizer: str = "auto"  # adam, lbfgs (full batch), or auto (see AUTO_LBFGS_ATOMS)
    learning_rate: float = 1e-3  # Adam initial learning rate
    lr_decay: float = 0.5  # factor of the plateau schedule
    lr_patience: int = 10  # epochs without validation improvement before decay
    min_learning_rate: float = 1e-6
    batch_size: int = 8  # structures per Adam step
    max_epochs: int = 200
    max_time: float | None = None  # s, wall-time limit
    patience: int = 50  # early stopping: epochs without validation improvement
    target_energy_rmse: float | None = None  # eV/atom, stop when validation reaches it
    target_force_rmse: float | None = None  # eV/Å, stop when validation reaches it
    seed: int = 0  # split, initial weights, batch order
    device: str = "cpu"  # cpu or cuda
    dtype: str = "float64"  # float64 or float32
    derivative_dtype: str = "auto"  # stored dG/dr: float32, float64, auto (float32 on CPU)
    threads: int | None = None  # CPU threads (default: all cores)


#: With ``training.optimizer: auto``: full-batch L-BFGS below this many training atoms
#: (it converged best on the mlearn sets, ~10k atoms), Adam on mini-batches above (it
#: converged far faster on the 75k-atom zeolite set).
AUTO_LBFGS_ATOMS = 30000


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    descriptors: DescriptorConfig = field(default_factory=DescriptorConfig)
    scaling: ScalingConfig = field(default_factory=ScalingConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)


_NESTED = {
    "data": DataConfig,
    "descriptors": DescriptorConfig,
    "scaling": ScalingConfig,
    "network": NetworkConfig,
    "loss": LossConfig,
    "training": TrainingConfig,
    "gdf": GDFConfig,
}


def _sources(value, where: str) -> tuple[Source, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, dict)):
        value = [value]
    out = []
    for item in value:
        if isinstance(item, str):
            out.append(Source(item))
        elif isinstance(item, dict):
            _check_keys(item, {"path", "weight"}, where)
            if "path" not in item:
                raise ValueError(f"{where}: each source needs a 'path'")
            out.append(Source(str(item["path"]), float(item.get("weight", 1.0))))
        else:
            raise ValueError(f"{where}: a source is a path or {{path, weight}}, got {item!r}")
    return tuple(out)


def _check_keys(data: dict, known, where: str) -> None:
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), list(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ValueError(
                f"{where}: unknown key '{key}'{hint}; known keys: {', '.join(sorted(known))}"
            )


def _convert(value: Any, current: Any, name: str, where: str):
    """Coerce a YAML value to the type of the field's default."""
    if isinstance(current, tuple):
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(type(current[0])(v) if current else v for v in value)
    if isinstance(current, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}.{name}: expected true or false, got {value!r}")
        return value
    if isinstance(current, (int, float)) and not isinstance(current, bool) and value is not None:
        try:
            return type(current)(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}.{name}: expected a number, got {value!r}") from None
    return value


def _per_element(value: dict, current: Any, name: str, where: str) -> dict:
    """{element: value} of a GDF key, each value coerced like the default."""
    if name not in ("sigma", "modifier_b", "modifier_c"):
        raise ValueError(f"{where}: expected a single value, not a mapping")
    out = {}
    for element, item in value.items():
        auto = name in ("sigma", "modifier_c")
        if auto and item == "auto":
            out[str(element)] = item
            continue
        try:
            out[str(element)] = _convert(item, 1.0, str(element), where)
        except ValueError:
            expected = "a number or auto" if auto else "a number"
            raise ValueError(f"{where}.{element}: expected {expected}, got {item!r}") from None
    del current
    return out


def _build(cls, data: dict | None, where: str):
    data = dict(data or {})
    types = {f.name: str(f.type) for f in fields(cls)}
    _check_keys(data, set(types), where)
    defaults = cls()
    kwargs = {}
    for key, value in data.items():
        here = f"{where}.{key}"
        if key in _NESTED:
            if value is not None and not isinstance(value, dict):
                raise ValueError(f"{here}: expected a mapping")
            kwargs[key] = _build(_NESTED[key], value, here)
        elif cls is DataConfig and key in ("train", "validation", "test"):
            kwargs[key] = _sources(value, here)
        elif cls is GDFConfig and isinstance(value, dict):
            kwargs[key] = _per_element(value, getattr(defaults, key), key, here)
        elif cls is NetworkConfig and key == "hidden_per_element":
            kwargs[key] = {e: tuple(int(n) for n in v) for e, v in (value or {}).items()}
        else:
            kwargs[key] = _convert(value, getattr(defaults, key), key, where)
            if getattr(defaults, key) is None and value is not None:
                kwargs[key] = _optional(value, types[key], f"{where}.{key}")
    return cls(**kwargs)


def _optional(value, annotation: str, where: str):
    """Coerce values of fields whose default is None (``float | None`` and friends)."""
    for kind in (int, float):
        if annotation.startswith(kind.__name__):
            try:
                return kind(value)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: expected a number or null, got {value!r}") from None
    return value


def config_from_dict(data: dict | None, where: str = "config") -> Config:
    """Build and validate a :class:`Config` from a (YAML) mapping."""
    config = _build(Config, data, where)
    validate(config, where)
    return config


def load_config(path: str | Path) -> Config:
    """Read a YAML config; relative data paths are taken relative to the file."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level must be a mapping of sections")
    config = config_from_dict(data, str(path))
    return resolve_paths(config, path.parent)


def resolve_paths(config: Config, base: Path) -> Config:
    """Make relative file paths in ``config`` relative to ``base``."""

    def fix(p: str) -> str:
        head, sep, tail = p.partition("@")
        first, space, rest = head.partition(" ")
        resolved = first if Path(first).is_absolute() else str(base / first)
        return resolved + space + rest + sep + tail

    data = config.data
    new_data = dataclasses.replace(
        data,
        train=tuple(Source(fix(s.path), s.weight) for s in data.train),
        validation=tuple(Source(fix(s.path), s.weight) for s in data.validation),
        test=tuple(Source(fix(s.path), s.weight) for s in data.test),
    )
    desc = config.descriptors
    new_desc = dataclasses.replace(
        desc,
        n2p2=fix(desc.n2p2) if desc.n2p2 else None,
        simple_nn={e: fix(p) for e, p in desc.simple_nn.items()} if desc.simple_nn else None,
    )
    return dataclasses.replace(config, data=new_data, descriptors=new_desc)


def validate(config: Config, where: str = "config") -> None:
    """Cross-field checks; raises ValueError naming the key."""
    from .descriptors.cutoff import CUTOFF_NAMES
    from .networks import ACTIVATIONS
    from .scaling import SCALING_MODES
    from .units import UNIT_CHOICES

    d, t = config.descriptors, config.training
    checks = [
        (
            0.0 <= config.data.validation_fraction < 1.0,
            "data.validation_fraction",
            "must be in [0, 1)",
        ),
        (config.data.units in UNIT_CHOICES, "data.units", f"must be one of {UNIT_CHOICES}"),
        (d.cutoff > 0, "descriptors.cutoff", "must be positive (Å)"),
        (
            d.cutoff_type in CUTOFF_NAMES,
            "descriptors.cutoff_type",
            f"must be one of {CUTOFF_NAMES}",
        ),
        (d.angular_type in (3, 9), "descriptors.angular_type", "must be 3 or 9"),
        (not (d.n2p2 and d.simple_nn), "descriptors", "give n2p2 or simple_nn, not both"),
        (config.scaling.mode in SCALING_MODES, "scaling.mode", f"must be one of {SCALING_MODES}"),
        (
            config.network.activation in ACTIVATIONS,
            "network.activation",
            f"must be one of {ACTIVATIONS}",
        ),
        (all(h > 0 for h in config.network.hidden), "network.hidden", "sizes must be positive"),
        (
            t.optimizer in ("adam", "lbfgs", "auto"),
            "training.optimizer",
            "must be adam, lbfgs or auto",
        ),
        (t.batch_size > 0, "training.batch_size", "must be positive"),
        (t.max_epochs >= 0, "training.max_epochs", "must be >= 0"),
        (t.dtype in ("float64", "float32"), "training.dtype", "must be float64 or float32"),
        (
            t.derivative_dtype in ("auto", "float64", "float32"),
            "training.derivative_dtype",
            "must be auto, float64 or float32",
        ),
        (t.device.split(":")[0] in ("cpu", "cuda"), "training.device", "must be cpu or cuda"),
        (
            min(config.loss.energy_weight, config.loss.force_weight, config.loss.stress_weight)
            >= 0,
            "loss",
            "weights must be >= 0",
        ),
    ]
    for ok, key, message in checks:
        if not ok:
            raise ValueError(f"{where}: {key} {message}")
    _validate_gdf(config.loss.gdf, f"{where}: loss.gdf")


def _validate_gdf(gdf: GDFConfig, where: str) -> None:
    """sigma and modifier_c: positive numbers or auto; modifier_b a number; max_weight
    none or at least 1 (the mean)."""
    for name, auto in (("sigma", True), ("modifier_c", True), ("modifier_b", False)):
        value = getattr(gdf, name)
        for element, item in value.items() if isinstance(value, dict) else [(None, value)]:
            label = f"{where}.{name}" + (f".{element}" if element else "")
            if auto and item == "auto":
                continue
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                expected = "a number or auto" if auto else "a number"
                raise ValueError(f"{label}: expected {expected}, got {item!r}")
            if name != "modifier_b" and item < 0:
                raise ValueError(f"{label}: must be >= 0, got {item!r}")
    if gdf.max_weight is not None and gdf.max_weight < 1:
        raise ValueError(f"{where}.max_weight: must be at least 1 (the mean weight) or null")


def to_dict(config: Config) -> dict:
    """Plain mapping (YAML/JSON-ready) of a config."""

    def convert(value):
        if dataclasses.is_dataclass(value):
            return {f.name: convert(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, tuple):
            return [convert(v) for v in value]
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return convert(config)


def reference() -> str:
    """Every key with its default and the comment (unit, meaning) from this module."""
    lines = []
    for section, cls in list(_NESTED.items())[:-1]:
        lines.append(f"{section}:")
        lines += _reference_lines(cls, "  ")
    return "\n".join(lines)


def _reference_lines(cls, indent: str) -> list[str]:
    """The keys of one dataclass; nested dataclass sections are expanded below their key."""
    import inspect
    import re

    lines = []
    block = inspect.getsource(cls)
    for match in re.finditer(r"^    (\w+): [^=\n]+= (.+?)(?:  # (.+))?$", block, re.M):
        name, default, comment = match.groups()
        nested = re.fullmatch(r"field\(default_factory=(\w+Config)\)", default)
        if nested:
            lines.append(f"{indent}{name}:" + (f"  # {comment}" if comment else ""))
            lines += _reference_lines(globals()[nested.group(1)], indent + "  ")
            continue
        default = _yaml_literal(default.replace("field(default_factory=dict)", "{}"))
        lines.append(f"{indent}{name}: {default}" + (f"  # {comment}" if comment else ""))
    return lines


def _yaml_literal(text: str) -> str:
    """Python default literal -> YAML spelling (None -> null, tuples -> lists, ...)."""
    text = text.replace("None", "null").replace("False", "false").replace("True", "true")
    if text.startswith("(") and text.endswith(")"):
        text = "[" + text[1:-1].rstrip(",") + "]"
    return text


def with_overrides(config: Config, **sections: dict) -> Config:
    """Replace keys of sections (e.g. ``training={"seed": 3}``); None values are ignored."""
    changes = {}
    for name, values in sections.items():
        current = getattr(config, name)
        kept = {k: v for k, v in (values or {}).items() if v is not None}
        names = {f.name for f in fields(current)}
        _check_keys(kept, names, f"overrides.{name}")
        changes[name] = dataclasses.replace(current, **kept)
    config = dataclasses.replace(config, **changes)
    validate(config, "command line")
    return config
