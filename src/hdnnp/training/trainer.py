"""The training loop: features once, then epochs of Adam (or full-batch L-BFGS).

A run directory holds::

    config.yaml          the full configuration used (all defaults filled in)
    split.json           which frames are training, validation, test, dropped
    checkpoint.pt        state after the last finished epoch (written atomically)
    best.hdnnp           potential with the lowest validation loss so far
    last.hdnnp           potential after the last epoch
    log.csv              one row per epoch
    report.md/json, *.png  written at the end by :mod:`hdnnp.training.report`

Descriptors and their derivatives are computed once per frame and kept in memory
(:mod:`hdnnp.features`); nothing else is written. Each epoch ends with a checkpoint, so
a killed run loses at most one epoch, and ``resume`` continues to the same result as an
uninterrupted run (same seed, float64, CPU): the checkpoint holds the weights, the
optimiser and schedule state, the batch-order random state and the history.
Ctrl-C stops after saving the state.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..config import Config
from ..features import Features, collate_features, compute_features, evaluate_features
from ..fileio import atomic_write, atomic_write_text
from ..potential import HDNNP
from ..potential_file import save
from ..structures import Structure
from .loss import loss_terms, voigt_mean_square

LOG_COLUMNS = (
    "epoch",
    "time_s",
    "learning_rate",
    "train_loss",
    "train_energy_rmse",
    "train_force_rmse",
    "val_loss",
    "val_energy_rmse",
    "val_force_rmse",
    "train_stress_rmse",
    "val_stress_rmse",
)


@dataclass
class FrameSet:
    """Per-frame features with their structure weights (and optional atom weights)."""

    features: list[Features]
    weights: list[float]
    atom_weights: list[torch.Tensor] | None = None
    _whole: tuple | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.features)

    def whole(self) -> tuple[Features, torch.Tensor, torch.Tensor | None]:
        """All frames as one batch, collated once and kept (full-batch L-BFGS and its
        evaluation reuse it every epoch instead of copying dG/dr again)."""
        if self._whole is None:
            self._whole = self.batch(range(len(self)))
        return self._whole

    def batch(self, indices) -> tuple[Features, torch.Tensor, torch.Tensor | None]:
        feats = collate_features([self.features[k] for k in indices])
        weights = torch.tensor(
            [self.weights[k] for k in indices], dtype=feats.g.dtype, device=feats.g.device
        )
        atom_w = None
        if self.atom_weights is not None:
            atom_w = torch.cat([self.atom_weights[k] for k in indices])
            atom_w = atom_w.to(device=feats.g.device, dtype=feats.g.dtype)
        return feats, weights, atom_w


@dataclass
class History:
    rows: list[dict] = field(default_factory=list)
    best_val: float = math.inf
    best_epoch: int = -1
    stale_epochs: int = 0


def frame_features(
    model: HDNNP,
    structures: list[Structure],
    dtype,
    desc: str,
    memory_budget: int | None = None,
    derivative_dtype=None,
) -> FrameSet:
    """Features of every frame (progress bar), in ``dtype``, the dG/dr in
    ``derivative_dtype`` (default ``dtype``). With ``memory_budget`` (bytes), the total
    is estimated from the first twentieth of the frames (at least 16) and a warning
    printed when it exceeds the budget, before the memory runs out."""
    stored = dtype if derivative_dtype is None else derivative_dtype
    out = []
    total_atoms = sum(s.n_atoms for s in structures)
    check_at = min(len(structures), max(16, len(structures) // 20))
    done_atoms = done_bytes = 0
    for k, s in enumerate(tqdm(structures, desc=desc, unit="frame", leave=False, mininterval=1.0)):
        batch = model.make_batch([s])
        features = compute_features(model, batch)
        out.append(features.to(dtype=dtype, derivative_dtype=stored))
        done_atoms += s.n_atoms
        done_bytes += out[-1].nbytes
        if memory_budget is not None and k + 1 == check_at and check_at < len(structures):
            estimate = done_bytes / max(done_atoms, 1) * total_atoms
            if estimate > memory_budget:
                tqdm.write("warning: " + memory_warning(estimate, memory_budget, stored))
    return FrameSet(out, [s.weight for s in structures])


def memory_warning(estimate: float, budget: float, derivative_dtype) -> str:
    """The warning of :func:`frame_features` (sizes in GiB); ``derivative_dtype`` is the
    dtype the dG/dr are stored in."""
    advice = (
        "training.derivative_dtype float32 (or --dtype float32) halves it; "
        if derivative_dtype == torch.float64
        else ""
    )
    return (
        f"the descriptors and their derivatives of the training frames will take about "
        f"{estimate / 2**30:.1f} GiB, more than the {budget / 2**30:.1f} GiB set aside for "
        f"them (60 % of this machine's memory); {advice}fewer descriptors "
        "(descriptors.n_radial, n_angular) or a shorter cutoff reduce it further"
    )


def physical_memory() -> int | None:
    """Bytes of physical memory, or None where the OS does not say (e.g. Windows)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _terms(model: HDNNP, feats: Features, weights, atom_w, config: Config, create_graph: bool):
    loss_cfg = config.loss
    want_forces = loss_cfg.force_weight > 0.0
    out = evaluate_features(
        model,
        feats,
        forces=True,
        stress=loss_cfg.stress_weight > 0.0,
        create_graph=create_graph and want_forces,
    )
    b = feats.batch
    return loss_terms(
        out.energy,
        out.forces,
        out.stress,
        b.energy,
        b.forces,
        b.stress,
        b.n_atoms,
        b.image,
        weights,
        atom_w,
        loss_cfg.energy_weight,
        loss_cfg.force_weight,
        loss_cfg.stress_weight,
    )


def evaluate_set(model: HDNNP, frames: FrameSet, config: Config, chunk: int = 64) -> dict:
    """Weighted loss and RMSEs over a frame set: energy per atom (eV/atom), force
    component (eV/Å) and, where frames have a reference stress, stress component (GPa;
    NaN without stress labels). The stress enters the loss only with a stress weight."""
    from ase.units import GPa

    if len(frames) == 0:
        return dict.fromkeys(("loss", "energy_rmse", "force_rmse", "stress_rmse"), math.nan)
    loss_cfg = config.loss
    sums = dict.fromkeys(("e", "e_w", "f", "f_w", "s", "s_w"), 0.0)
    if frames._whole is not None:  # already collated: one pass, no copies
        chunks = [frames.whole()]
    else:
        starts = range(0, len(frames), chunk)
        chunks = (frames.batch(range(k, min(k + chunk, len(frames)))) for k in starts)
    for feats, w, aw in chunks:
        b = feats.batch
        has_stress = b.stress is not None and bool(torch.isfinite(b.stress).any())
        out = evaluate_features(model, feats, forces=True, stress=has_stress)
        _accumulate(sums, "e", ((out.energy - b.energy) / b.n_atoms.to(out.energy.dtype)) ** 2, w)
        wa = w[b.image] * (aw if aw is not None else 1.0)
        _accumulate(sums, "f", ((out.forces - b.forces) ** 2).sum(1), wa)
        if has_stress:
            _accumulate(sums, "s", voigt_mean_square(out.stress - b.stress), w)
    e_mse, f_mse, s_mse = (sums[k] / sums[k + "_w"] if sums[k + "_w"] else math.nan for k in "efs")
    loss = loss_cfg.energy_weight * e_mse + loss_cfg.force_weight / 3.0 * (
        f_mse if sums["f_w"] else 0.0
    )
    if loss_cfg.stress_weight > 0.0 and sums["s_w"]:
        loss += loss_cfg.stress_weight * s_mse
    return {
        "loss": loss,
        "energy_rmse": math.sqrt(e_mse),
        "force_rmse": math.sqrt(f_mse / 3.0),
        "stress_rmse": math.sqrt(s_mse) / GPa,
    }


def _accumulate(sums: dict, key: str, values: torch.Tensor, weights: torch.Tensor) -> None:
    """Add the weighted sum of the finite ``values`` and their weight to ``sums``."""
    ok = torch.isfinite(values)
    sums[key] += float((weights * values)[ok].sum())
    sums[key + "_w"] += float(weights[ok].sum())


def resolve_optimizer(name: str, train: FrameSet) -> str:
    """``auto`` -> lbfgs below :data:`~hdnnp.config.AUTO_LBFGS_ATOMS` training atoms."""
    from ..config import AUTO_LBFGS_ATOMS

    if name != "auto":
        return name
    n_atoms = sum(f.batch.species.shape[0] for f in train.features)
    return "lbfgs" if n_atoms < AUTO_LBFGS_ATOMS else "adam"


class Trainer:
    """Runs epochs on prepared frame sets; owns optimiser, schedule and history."""

    def __init__(self, model: HDNNP, train: FrameSet, val: FrameSet, config: Config, run_dir: Path):
        self.model, self.train, self.val = model, train, val
        self.config, self.run_dir = config, Path(run_dir)
        t = config.training
        self.generator = torch.Generator().manual_seed(t.seed)
        self.optimizer_name = resolve_optimizer(t.optimizer, train)
        if self.optimizer_name == "adam":
            self.optimizer = torch.optim.Adam(model.parameters(), lr=t.learning_rate)
        else:
            self.optimizer = torch.optim.LBFGS(
                model.parameters(),
                lr=1.0,
                max_iter=20,
                history_size=20,
                line_search_fn="strong_wolfe",
            )
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, factor=t.lr_decay, patience=t.lr_patience, min_lr=t.min_learning_rate
        )
        self.history = History()
        self.epoch = 0
        self.elapsed = 0.0

    # -- one epoch ---------------------------------------------------------------------
    def _adam_epoch(self, bar) -> None:
        order = torch.randperm(len(self.train), generator=self.generator).tolist()
        size = self.config.training.batch_size
        for start in range(0, len(order), size):
            feats, w, aw = self.train.batch(order[start : start + size])
            self.optimizer.zero_grad()
            terms = _terms(self.model, feats, w, aw, self.config, create_graph=True)
            terms.loss.backward()
            self.optimizer.step()
            bar.update(len(order[start : start + size]))

    def _lbfgs_epoch(self, bar) -> None:
        everything = self.train.whole()

        def closure():
            self.optimizer.zero_grad()
            terms = _terms(self.model, *everything, self.config, create_graph=True)
            terms.loss.backward()
            return terms.loss

        self.optimizer.step(closure)
        bar.update(len(self.train))

    def run_epoch(self) -> dict:
        t0 = time.perf_counter()
        desc = f"epoch {self.epoch + 1}/{self.config.training.max_epochs}"
        with tqdm(
            total=len(self.train), desc=desc, unit="frame", leave=False, mininterval=0.5
        ) as bar:
            if self.optimizer_name == "adam":
                self._adam_epoch(bar)
            else:
                self._lbfgs_epoch(bar)
        train_m = evaluate_set(self.model, self.train, self.config)
        val_m = evaluate_set(self.model, self.val, self.config) if len(self.val) else train_m
        self.scheduler.step(val_m["loss"])
        self.epoch += 1
        self.elapsed += time.perf_counter() - t0
        row = {
            "epoch": self.epoch,
            "time_s": self.elapsed,
            "learning_rate": self.optimizer.param_groups[0]["lr"],
            "train_loss": train_m["loss"],
            "train_energy_rmse": train_m["energy_rmse"],
            "train_force_rmse": train_m["force_rmse"],
            "val_loss": val_m["loss"],
            "val_energy_rmse": val_m["energy_rmse"],
            "val_force_rmse": val_m["force_rmse"],
            "train_stress_rmse": train_m["stress_rmse"],
            "val_stress_rmse": val_m["stress_rmse"],
        }
        self._record(row)
        return row

    def _record(self, row: dict) -> None:
        h = self.history
        h.rows.append(row)
        if row["val_loss"] < h.best_val:
            h.best_val, h.best_epoch, h.stale_epochs = row["val_loss"], row["epoch"], 0
            save(self.model, self.run_dir / "best.hdnnp")
        else:
            h.stale_epochs += 1
        save(self.model, self.run_dir / "last.hdnnp")
        write_log(self.run_dir / "log.csv", h.rows)
        self.save_checkpoint()

    # -- stopping ------------------------------------------------------------------------
    def stop_reason(self, started: float) -> str | None:
        t, h = self.config.training, self.history
        last = h.rows[-1] if h.rows else None
        if self.epoch >= t.max_epochs:
            return f"reached max_epochs ({t.max_epochs})"
        if t.max_time is not None and time.perf_counter() - started >= t.max_time:
            return f"reached max_time ({t.max_time} s)"
        if h.stale_epochs >= t.patience:
            return f"early stopping: no validation improvement for {t.patience} epochs"
        if last and _reached(last, t.target_energy_rmse, t.target_force_rmse):
            return "reached the target validation RMSE"
        return None

    # -- checkpoints ---------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        state = {
            "epoch": self.epoch,
            "elapsed": self.elapsed,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "history": {
                "rows": self.history.rows,
                "best_val": self.history.best_val,
                "best_epoch": self.history.best_epoch,
                "stale_epochs": self.history.stale_epochs,
            },
        }
        buffer = io.BytesIO()
        torch.save(state, buffer)
        with atomic_write(self.run_dir / "checkpoint.pt", "wb") as handle:
            handle.write(buffer.getvalue())

    def load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        self.epoch, self.elapsed = int(state["epoch"]), float(state["elapsed"])
        h = state["history"]
        self.history = History(
            list(h["rows"]), float(h["best_val"]), int(h["best_epoch"]), int(h["stale_epochs"])
        )

    def fit(self) -> str:
        """Epochs until a stop criterion; returns the reason. Ctrl-C saves and stops."""
        started = time.perf_counter()
        reason = self.stop_reason(started)
        try:
            while reason is None:
                row = self.run_epoch()
                tqdm.write(_epoch_line(row))
                reason = self.stop_reason(started)
        except KeyboardInterrupt:
            self.save_checkpoint()
            reason = "interrupted (Ctrl-C); resume with: hdnnp train --resume " + str(self.run_dir)
        return reason


def _reached(row: dict, energy_target, force_target) -> bool:
    if energy_target is None and force_target is None:
        return False
    ok_e = energy_target is None or row["val_energy_rmse"] <= energy_target
    ok_f = force_target is None or row["val_force_rmse"] <= force_target
    return ok_e and ok_f


def _epoch_line(row: dict) -> str:
    def stress(key: str) -> str:
        value = row.get(key, math.nan)
        return f"  S {value:.3f} GPa" if math.isfinite(value) else ""

    return (
        f"epoch {row['epoch']:4d}  {row['time_s']:7.1f} s  lr {row['learning_rate']:.2e}  "
        f"train E {1000 * row['train_energy_rmse']:7.2f} meV/atom  "
        f"F {row['train_force_rmse']:.4f} eV/A{stress('train_stress_rmse')}  |  val E "
        f"{1000 * row['val_energy_rmse']:7.2f} meV/atom  F {row['val_force_rmse']:.4f} eV/A"
        f"{stress('val_stress_rmse')}"
    )


def write_log(path: Path, rows: list[dict]) -> None:
    """log.csv with one row per epoch (rewritten atomically each epoch)."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=LOG_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, math.nan) for k in LOG_COLUMNS})  # older rows: NaN
    atomic_write_text(path, text.getvalue())
