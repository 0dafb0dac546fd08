"""``hdnnp train``: from a config to a run directory with a validated potential.

read data -> check -> split -> descriptors -> offsets and scaling -> features ->
training -> final report. :func:`train` starts a run, :func:`resume` continues one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import torch
import yaml

from ..config import Config, config_from_dict, to_dict
from ..contraction import kernels_available
from ..fileio import atomic_write_text
from ..potential_file import from_dict
from ..potential_file import to_dict as potential_to_dict
from ..threads import set_threads
from .data import Dataset, load_dataset, save_split
from .setup import fit_scaling, initial_model
from .trainer import FrameSet, Trainer, frame_features, physical_memory

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _log(message: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(message)


def _threads(config: Config) -> None:
    set_threads(config.training.threads or os.cpu_count() or 1)


def prepare(config: Config, run_dir: Path):
    """Dataset, initial model (scaling fitted) and the frame sets; writes split.json."""
    _device(config.training.device)  # fail before the expensive steps
    dataset = load_dataset(config.data, config.training.seed)
    save_split(dataset, run_dir / "split.json")
    elements = dataset.elements
    _log(
        f"data: {len(dataset.train)} training, {len(dataset.validation)} validation, "
        f"{len(dataset.test)} test frames; elements {' '.join(elements)}"
        + (f"; {len(dataset.dropped)} corrupted frame(s) dropped" if dataset.dropped else "")
    )
    if config.loss.stress_weight > 0:
        with_stress = sum(s.stress is not None and all(s.pbc) for s in dataset.train)
        _log(
            f"stress: {with_stress} of {len(dataset.train)} training frames have a stress label "
            f"(weight {config.loss.stress_weight:g} per (eV/A^3)^2)"
            + ("; loss.stress_weight has no effect" if not with_stress else "")
        )
    model = initial_model(config, elements, dataset.train)
    _log(
        "descriptors: "
        + ", ".join(f"{e} {model.descriptors.count(e)}" for e in elements)
        + f"; cutoff {model.cutoff:.2f} A"
    )
    dtype = DTYPES[config.training.dtype]
    dg_dtype = derivative_dtype(config)
    memory = physical_memory()
    budget = None if memory is None else int(0.6 * memory)
    train = frame_features(
        model, dataset.train, dtype, "features (train)", budget, derivative_dtype=dg_dtype
    )
    val = frame_features(
        model, dataset.validation, dtype, "features (validation)", derivative_dtype=dg_dtype
    )
    for warning in fit_scaling(model, train.features, config):
        _log("warning: " + warning)
    if config.loss.gdf.enabled:
        from .gdf_setup import attach_gdf_weights

        attach_gdf_weights(model, train, config, run_dir)
    nbytes = sum(f.nbytes for f in train.features + val.features)
    _log(f"features in memory: {nbytes / 2**20:.0f} MiB (dG/dr in {str(dg_dtype)[6:]})")
    device = _device(config.training.device)
    if device.type != "cpu":  # features are computed on the CPU, then moved once
        for frames in (train, val):
            frames.features = [f.to(device=device) for f in frames.features]
    return dataset, model.to(device=device, dtype=dtype), train, val


def derivative_dtype(config: Config) -> torch.dtype:
    """The dtype in which the descriptor derivatives dG/dr are kept (most of the memory
    of training; ``training.derivative_dtype``).

    ``auto`` is float32 where the fused CPU loops of :mod:`hdnnp.contraction` read them
    (numba, CPU), whatever ``training.dtype`` is: half the memory of float64 training and
    faster epochs, for a relative error of at most 2^-24 (6e-8) in each stored
    derivative, far below any fitting error; the loops accumulate in the training dtype
    and the potential itself is evaluated exactly as ever. Elsewhere (GPU, no numba)
    ``auto`` is ``training.dtype``. Never higher than ``training.dtype``.
    """
    dtype = DTYPES[config.training.dtype]
    name = config.training.derivative_dtype
    if name == "auto":
        fused = torch.device(config.training.device).type == "cpu" and kernels_available(
            torch.zeros(1)
        )
        return torch.float32 if fused else dtype
    return torch.float32 if torch.float32 in (dtype, DTYPES[name]) else torch.float64


def _device(name: str) -> torch.device:
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"training.device is {name!r} but no CUDA device is available; use --device cpu"
        )
    return device


def train(config: Config, run_dir: str | Path) -> Path:
    """Train a potential; returns the run directory."""
    run_dir = Path(run_dir)
    if (run_dir / "checkpoint.pt").exists():
        raise ValueError(
            f"{run_dir} already holds a run; resume it with "
            f"'hdnnp train --resume {run_dir}' or choose another -o"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(to_dict(config), sort_keys=False))
    _threads(config)
    started = time.perf_counter()
    dataset, model, train_set, val_set = prepare(config, run_dir)
    trainer = Trainer(model, train_set, val_set, config, run_dir)
    _log(f"optimizer: {trainer.optimizer_name}")
    return _finish(trainer, dataset, run_dir, started)


def resume(run_dir: str | Path, overrides: dict | None = None) -> Path:
    """Continue a run from its checkpoint (same data, split and settings)."""
    run_dir = Path(run_dir)
    checkpoint = run_dir / "checkpoint.pt"
    if not checkpoint.exists():
        raise ValueError(f"{run_dir}: no checkpoint.pt to resume from")
    data = yaml.safe_load((run_dir / "config.yaml").read_text())
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    config = config_from_dict(data, str(run_dir / "config.yaml"))
    _threads(config)
    started = time.perf_counter()
    dataset, model, train_set, val_set = prepare(config, run_dir)
    trainer = Trainer(model, train_set, val_set, config, run_dir)
    trainer.load_checkpoint(checkpoint)
    _log(f"resuming at epoch {trainer.epoch}")
    return _finish(trainer, dataset, run_dir, started)


def _finish(trainer: Trainer, dataset: Dataset, run_dir: Path, started: float) -> Path:
    from .report import write_report

    reason = trainer.fit()
    _log(f"stopped: {reason}")
    best = from_dict(potential_to_dict(trainer.model), "best")
    best_path = run_dir / "best.hdnnp"
    if best_path.exists():
        best = from_dict(json.loads(best_path.read_text()), str(best_path))
    summary = write_report(
        best, dataset, trainer.history.rows, run_dir, reason, time.perf_counter() - started
    )
    _log(summary)
    return run_dir


def apply_overrides(config: Config, **flags) -> Config:
    """Command-line flags over the config (None means: keep the config's value)."""
    t = config.training
    changes = {k: v for k, v in flags.items() if v is not None}
    return dataclasses.replace(config, training=dataclasses.replace(t, **changes))


__all__ = ["FrameSet", "apply_overrides", "prepare", "resume", "train"]
