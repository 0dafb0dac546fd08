"""Final report of a training run: errors per data set, learning curve and parity plots.

Writes ``report.json`` and ``report.md`` (energy per atom RMSE/MAE in eV/atom, force
RMSE/MAE overall and per element in eV/Å, stress RMSE/MAE in GPa where the data have
stresses; per set: train, validation, test),
``learning_curve.png`` (RMSE per epoch), ``parity_energy.png`` and
``parity_forces_<element>.png`` (predicted vs reference, validation and test sets, or
train when there are none). Uses matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..fileio import atomic_write, atomic_write_text
from ..predict import error_metrics, predict


def _sets(dataset) -> dict:
    return {
        name: frames
        for name, frames in (
            ("train", dataset.train),
            ("validation", dataset.validation),
            ("test", dataset.test),
        )
        if frames
    }


def write_report(
    model, dataset, history: list[dict], run_dir: Path, reason: str, wall_time: float
) -> str:
    """Evaluate ``model`` on every set, write report files and plots; return a summary."""
    run_dir = Path(run_dir)
    model = model.eval()
    results, predictions = {}, {}
    for name, frames in _sets(dataset).items():
        predictions[name] = predict(model, frames)
        results[name] = error_metrics(frames, predictions[name])
    best_epoch = min(history, key=lambda r: r["val_loss"])["epoch"] if history else 0
    data = {
        "stop_reason": reason,
        "wall_time_s": wall_time,
        "epochs": len(history),
        "best_epoch": best_epoch,
        "sets": results,
        "dropped_frames": dataset.dropped,
        "descriptor_statistics": descriptor_statistics(model),
    }
    atomic_write_text(run_dir / "report.json", json.dumps(data, indent=1) + "\n")
    text = _markdown(data)
    atomic_write_text(run_dir / "report.md", text)
    plots = [learning_curve(history, run_dir / "learning_curve.png")]
    shown = {k: v for k, v in predictions.items() if k != "train"} or predictions
    plots += parity_plots({k: (_sets(dataset)[k], v) for k, v in shown.items()}, run_dir)
    lines = [text, "plots: " + ", ".join(str(p) for p in plots if p)]
    return "\n".join(lines)


def descriptor_statistics(model) -> dict:
    """Per element, each function's n2p2 line and its training min/max/mean/sigma."""
    from ..descriptors.params import format_n2p2_symfunction

    out = {}
    for k, element in enumerate(model.elements):
        functions = model.descriptors.for_element(element)
        st = model.scaler.stats(k, len(functions))
        out[element] = [
            {
                "function": format_n2p2_symfunction(sf).split(maxsplit=1)[1],
                "min": float(st.minimum[n]),
                "max": float(st.maximum[n]),
                "mean": float(st.mean[n]),
                "sigma": float(st.sigma[n]),
                "constant": bool(
                    st.maximum[n] - st.minimum[n] <= 1e-12 * max(1.0, abs(st.maximum[n]))
                ),
            }
            for n, sf in enumerate(functions)
        ]
    return out


def _fmt(value, scale=1.0, digits=4) -> str:
    return "n/a" if value is None else f"{value * scale:.{digits}f}"


def _markdown(data: dict) -> str:
    lines = [
        "# Training report",
        "",
        f"Stopped: {data['stop_reason']} after {data['epochs']} epochs "
        f"({data['wall_time_s']:.0f} s); best validation at epoch {data['best_epoch']}.",
        "",
        "| set | frames | E RMSE (meV/atom) | E MAE (meV/atom) | F RMSE (eV/Å) | F MAE (eV/Å) |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in data["sets"].items():
        e, f = m["energy_per_atom"], m["forces"]
        lines.append(
            f"| {name} | {m['n_structures']} | {_fmt(e['rmse'], 1000, 2)} | "
            f"{_fmt(e['mae'], 1000, 2)} | {_fmt(f['rmse'])} | {_fmt(f['mae'])} |"
        )
    lines += ["", "Forces per element (RMSE / MAE, eV/Å):", ""]
    for name, m in data["sets"].items():
        parts = [
            f"{el} {_fmt(v['rmse'])} / {_fmt(v['mae'])}"
            for el, v in m["forces_per_element"].items()
        ]
        lines.append(f"- {name}: " + "; ".join(parts))
    stressed = {k: m["stress"] for k, m in data["sets"].items() if m["stress"]["n_structures"]}
    if stressed:
        lines += ["", "Stress (RMSE / MAE over the six components, GPa):", ""]
        lines += [
            f"- {name}: {_fmt(st['rmse'])} / {_fmt(st['mae'])} ({st['n_structures']} frames)"
            for name, st in stressed.items()
        ]
    if data["dropped_frames"]:
        lines += ["", f"Dropped corrupted frames: {len(data['dropped_frames'])}"]
        lines += [
            f"- {d['source']}, frame {d['frame']}: {d['kind']}: {d['message']}"
            for d in data["dropped_frames"]
        ]
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=120, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def learning_curve(history: list[dict], path: Path) -> Path | None:
    """RMSE of energy per atom and forces per epoch, train and validation (log scale)."""
    if not history:
        return None
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, unit, scale in (
        (axes[0], "energy_rmse", "meV/atom", 1000.0),
        (axes[1], "force_rmse", "eV/Å", 1.0),
    ):
        for split, style in (("train", "-"), ("val", "--")):
            ax.plot(
                epochs,
                [scale * r[f"{split}_{key}"] for r in history],
                style,
                label="validation" if split == "val" else split,
            )
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"RMSE ({unit})")
        ax.legend()
    axes[0].set_title("energy per atom")
    axes[1].set_title("force components")
    return _save(fig, path)


def parity_plots(sets: dict, run_dir: Path) -> list[Path]:
    """Energy-per-atom parity and force parity per element."""
    from ase.data import chemical_symbols

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, (frames, preds) in sets.items():
        ref = [s.energy / s.n_atoms for s in frames if s.energy is not None]
        pred = [
            p.energy / s.n_atoms for s, p in zip(frames, preds, strict=True) if s.energy is not None
        ]
        ax.scatter(ref, pred, s=6, label=name, alpha=0.7)
    _diagonal(ax, "reference energy (eV/atom)", "predicted energy (eV/atom)")
    paths = [_save(fig, run_dir / "parity_energy.png")]
    elements = sorted({int(z) for frames, _ in sets.values() for s in frames for z in s.numbers})
    for z in elements:
        fig, ax = plt.subplots(figsize=(5, 5))
        for name, (frames, preds) in sets.items():
            ref = [s.forces[s.numbers == z].ravel() for s in frames if s.forces is not None]
            pred = [
                p.forces[s.numbers == z].ravel()
                for s, p in zip(frames, preds, strict=True)
                if s.forces is not None
            ]
            if ref:
                ax.scatter(np.concatenate(ref), np.concatenate(pred), s=3, alpha=0.5, label=name)
        symbol = chemical_symbols[z]
        _diagonal(ax, f"reference force {symbol} (eV/Å)", f"predicted force {symbol} (eV/Å)")
        paths.append(_save(fig, run_dir / f"parity_forces_{symbol}.png"))
    return paths


def _diagonal(ax, xlabel: str, ylabel: str) -> None:
    lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
    hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
