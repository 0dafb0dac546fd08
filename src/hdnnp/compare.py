"""A potential against the reference labels of the frames of a trajectory or data set.

* :func:`compare` evaluates the potential on labelled frames and returns a
  :class:`Comparison`: per frame the energy per atom of the potential and of the
  reference, their difference and the force RMSE, plus the overall metrics of
  :func:`hdnnp.predict.error_metrics`.
* :func:`plot_timeseries` draws energy per atom (potential and reference), its difference
  and the force RMSE against the frame index, or against time when every frame has
  ``info["time"]`` (fs), as in figure 6a of the SIMPLE-NN paper (Lee et al., Comput.
  Phys. Commun. 242, 95 (2019)); :func:`plot_parity` draws predicted against reference
  energy per atom and force components.
* :func:`comparison_to_dict` gives the per-frame series and metrics as JSON-ready data.

Units: eV/atom for energies, eV/Å for forces, meV/atom for plotted energy differences.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .predict import Prediction, error_metrics, predict
from .structures import Structure

#: ``info`` key holding the simulation time of a frame, fs.
#: info keys holding a frame's time in fs: ``hdnnp md`` writes ``time_fs``.
TIME_KEYS = ("time_fs", "time")


@dataclass
class Comparison:
    """Per-frame comparison of a potential with reference labels.

    Attributes:
        structures: the frames, with their reference labels.
        predictions: the potential's prediction for each frame.
        time: ``info["time"]`` of each frame (fs), or None unless every frame has one.
        energy_pred: energy per atom of the potential, eV/atom, per frame.
        energy_ref: reference energy per atom, eV/atom, per frame.
        force_rmse: RMSE over the force components of each frame, eV/Å.
        metrics: :func:`hdnnp.predict.error_metrics` over all frames.
    """

    structures: list[Structure]
    predictions: list[Prediction]
    time: np.ndarray | None
    energy_pred: np.ndarray
    energy_ref: np.ndarray
    force_rmse: np.ndarray
    metrics: dict

    @property
    def energy_diff(self) -> np.ndarray:
        """Energy per atom of the potential minus the reference, eV/atom."""
        return self.energy_pred - self.energy_ref


def _has(value) -> bool:
    return value is not None and bool(np.all(np.isfinite(np.asarray(value, dtype=float))))


def missing_labels(structures: Sequence[Structure]) -> list[str]:
    """One line per frame without a finite reference energy or forces, naming the frame."""
    lines = []
    for s in structures:
        missing = [name for name, v in (("energy", s.energy), ("forces", s.forces)) if not _has(v)]
        if missing:
            lines.append(f"{s.where}: no reference {' and '.join(missing)}")
    return lines


def check_labels(structures: Sequence[Structure]) -> None:
    """ValueError naming the frames (up to 5) without reference energy and forces."""
    lines = missing_labels(structures)
    if lines:
        more = f"\n  ... and {len(lines) - 5} more" if len(lines) > 5 else ""
        raise ValueError(
            f"{len(lines)} of {len(structures)} frames lack reference labels:\n  "
            + "\n  ".join(lines[:5])
            + more
        )


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def frame_times(structures: Sequence[Structure]) -> np.ndarray | None:
    """``info["time_fs"]`` (``hdnnp md`` trajectories) or ``info["time"]`` of every frame,
    fs, or None when a frame has neither."""
    times = [next((s.info[k] for k in TIME_KEYS if k in s.info), None) for s in structures]
    if not times or not all(_is_number(t) for t in times):
        return None
    return np.array(times, dtype=float)


def frame_force_rmse(reference: np.ndarray, predicted: np.ndarray) -> float:
    """sqrt(mean over atoms and components of (F_pred - F_ref)^2), eV/Å."""
    diff = np.asarray(predicted, dtype=float) - np.asarray(reference, dtype=float)
    return float(np.sqrt(np.mean(diff * diff))) if diff.size else 0.0


def compare(
    model,
    structures: Sequence[Structure],
    device: str = "cpu",
    dtype: str = "float64",
    batch_atoms: int = 20000,
    progress: bool = False,
) -> Comparison:
    """Evaluate ``model`` on labelled ``structures`` and compare frame by frame.

    Every frame needs a reference energy and forces (ValueError naming the frames
    otherwise, see :func:`check_labels`). ``device``, ``dtype``, ``batch_atoms`` and
    ``progress`` are passed to :func:`hdnnp.predict.predict` (stress is not computed).
    """
    structures = list(structures)
    if not structures:
        raise ValueError("no frames to compare")
    check_labels(structures)
    predictions = predict(
        model,
        structures,
        device=device,
        dtype=dtype,
        batch_atoms=batch_atoms,
        stress=False,
        progress=progress,
    )
    pairs = list(zip(structures, predictions, strict=True))
    return Comparison(
        structures=structures,
        predictions=predictions,
        time=frame_times(structures),
        energy_pred=np.array([p.energy / s.n_atoms for s, p in pairs]),
        energy_ref=np.array([s.energy / s.n_atoms for s, _ in pairs]),
        force_rmse=np.array([frame_force_rmse(s.forces, p.forces) for s, p in pairs]),
        metrics=error_metrics(structures, predictions),
    )


def comparison_to_dict(comparison: Comparison) -> dict:
    """Per-frame series (one entry per frame) and the overall metrics, JSON-ready."""
    c = comparison
    return {
        "units": {"energy": "eV/atom", "force_rmse": "eV/Angstrom", "time": "fs"},
        "n_frames": len(c.structures),
        "frames": [{"source": s.source, "index": int(s.index)} for s in c.structures],
        "n_atoms": [s.n_atoms for s in c.structures],
        "time": None if c.time is None else c.time.tolist(),
        "energy_per_atom_pred": c.energy_pred.tolist(),
        "energy_per_atom_ref": c.energy_ref.tolist(),
        "energy_per_atom_diff": c.energy_diff.tolist(),
        "force_rmse": c.force_rmse.tolist(),
        "metrics": c.metrics,
    }


def _x_axis(comparison: Comparison) -> tuple[np.ndarray, str]:
    if comparison.time is not None:
        return comparison.time, "time (fs)"
    return np.arange(len(comparison.structures)), "frame"


def plot_timeseries(comparison: Comparison, path: str | Path) -> Path:
    """PNG of energy per atom (potential, reference), their difference (meV/atom) and the
    force RMSE (eV/Å) per frame, against time or frame index."""
    from .training.report import _pyplot, _save

    plt = _pyplot()
    x, label = _x_axis(comparison)
    fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
    axes[0].plot(x, comparison.energy_ref, "k-", lw=1.2, label="reference")
    axes[0].plot(x, comparison.energy_pred, "r--", lw=1.2, label="potential")
    axes[0].set_ylabel("energy (eV/atom)")
    axes[0].legend()
    axes[1].plot(x, 1000.0 * comparison.energy_diff, "b-", lw=1.0)
    axes[1].axhline(0.0, color="0.6", lw=0.8)
    axes[1].set_ylabel("potential - ref.\n(meV/atom)")
    axes[2].plot(x, comparison.force_rmse, "g-", lw=1.0)
    axes[2].set_ylabel("force RMSE (eV/Å)")
    axes[2].set_xlabel(label)
    return _save(fig, Path(path))


def _forces_by_element(comparison: Comparison) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Reference and predicted force components, flattened, per atomic number."""
    out: dict[int, tuple[list, list]] = {}
    for s, p in zip(comparison.structures, comparison.predictions, strict=True):
        numbers = np.asarray(s.numbers)
        for z in np.unique(numbers):
            ref, pred = out.setdefault(int(z), ([], []))
            ref.append(np.asarray(s.forces)[numbers == z].ravel())
            pred.append(np.asarray(p.forces)[numbers == z].ravel())
    return {z: (np.concatenate(r), np.concatenate(q)) for z, (r, q) in sorted(out.items())}


def plot_parity(comparison: Comparison, path: str | Path) -> Path:
    """PNG of predicted against reference energy per atom and force components (per
    element), with the RMSEs in the titles."""
    from ase.data import chemical_symbols

    from .training.report import _diagonal, _pyplot, _save

    plt = _pyplot()
    e, f = comparison.metrics["energy_per_atom"], comparison.metrics["forces"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    axes[0].scatter(comparison.energy_ref, comparison.energy_pred, s=8, alpha=0.7, label="frames")
    _diagonal(axes[0], "reference energy (eV/atom)", "potential energy (eV/atom)")
    axes[0].set_title(f"energy RMSE {1000.0 * e['rmse']:.3g} meV/atom")
    for z, (ref, pred) in _forces_by_element(comparison).items():
        axes[1].scatter(ref, pred, s=3, alpha=0.5, label=chemical_symbols[z])
    _diagonal(axes[1], "reference force (eV/Å)", "potential force (eV/Å)")
    axes[1].set_title(f"force RMSE {f['rmse']:.3g} eV/Å")
    return _save(fig, Path(path))
