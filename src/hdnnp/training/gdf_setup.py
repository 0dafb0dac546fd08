"""Attach GDF atomic weights (:mod:`hdnnp.training.gdf`) to the training frames.

Writes ``gdf_histogram.png`` (distribution of 1/rho and of the weights per element) and
``gdf.json`` (per element: sigma, b, c, the effective number of atoms, the largest weight
and quantiles of 1/rho), and warns when the weights leave fewer than
:data:`MIN_EFFECTIVE_FRACTION` of an element's atoms effectively in the force loss.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..config import Config
from ..fileio import atomic_write_text
from ..potential import HDNNP
from .gdf import GDFResult, gdf_weights
from .trainer import FrameSet

#: Warn when the effective number of atoms of an element (Kish) is below this fraction.
MIN_EFFECTIVE_FRACTION = 0.01


def attach_gdf_weights(model: HDNNP, frames: FrameSet, config: Config, run_dir: Path) -> None:
    """Set ``frames.atom_weights`` (one tensor per frame) from the scaled descriptors."""
    cfg = config.loss.gdf
    species = torch.cat([f.batch.species for f in frames.features])
    with torch.no_grad():
        scaled = torch.cat([model.scaler(f.g.double(), f.batch.species) for f in frames.features])
    weights = torch.ones(species.shape[0], dtype=torch.float64)
    inverse = torch.ones_like(weights)
    summary = {}
    for k, element in enumerate(model.elements):
        rows = torch.nonzero(species == k).squeeze(1)
        if rows.numel() == 0:
            continue
        n = model.descriptors.count(element)
        b = for_element(cfg.modifier_b, element, "b")
        result = gdf_weights(
            scaled[rows, :n],
            for_element(cfg.sigma, element, "sigma"),
            b,
            for_element(cfg.modifier_c, element, "c"),
            cfg.max_reference_atoms,
            config.training.seed,
            cfg.max_weight,
        )
        weights[rows], inverse[rows] = result.weights, result.inverse_density
        summary[element] = _summary(result, b)
        tqdm.write(_describe(element, result, b, cfg.max_weight))
        warning = _warning(element, result, cfg.max_weight)
        if warning:
            tqdm.write("warning: " + warning)
    sizes = [f.batch.species.shape[0] for f in frames.features]
    frames.atom_weights = list(torch.split(weights, sizes))
    atomic_write_text(run_dir / "gdf.json", json.dumps(summary, indent=2) + "\n")
    _histogram(model, species, inverse, weights, run_dir / "gdf_histogram.png")


def _summary(result: GDFResult, b: float) -> dict:
    x = result.inverse_density.double()
    quantiles = torch.quantile(x, torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95, 0.99], dtype=x.dtype))
    return {
        "atoms": int(x.numel()),
        "sigma": result.sigma,
        "b": b,
        "c": result.c,
        "effective_atoms": result.effective_atoms,
        "max_weight": float(result.weights.max()),
        "inverse_density_quantiles": dict(
            zip(("5%", "25%", "50%", "75%", "95%", "99%"), map(float, quantiles), strict=True)
        ),
        "inverse_density_max": float(x.max()),
    }


def _describe(element: str, result: GDFResult, b: float, max_weight: float | None) -> str:
    n = result.weights.numel()
    cap = f", capped at {max_weight:g}" if max_weight is not None else ""
    return (
        f"GDF {element}: sigma = {result.sigma:.4g}, b = {b:g}, c = {result.c:.4g}; "
        f"effective atoms {result.effective_atoms:.0f} of {n} "
        f"({100 * result.effective_atoms / n:.2g} %), largest weight "
        f"{float(result.weights.max()):.4g}{cap}"
    )


def _warning(element: str, result: GDFResult, max_weight: float | None) -> str | None:
    """A warning when few atoms carry the element's force loss."""
    n = result.weights.numel()
    if n == 0 or result.effective_atoms >= MIN_EFFECTIVE_FRACTION * n:
        return None
    x = result.inverse_density
    above = float((x > result.c).double().mean())
    advice = "lower loss.gdf.max_weight" if max_weight is not None else "set loss.gdf.max_weight"
    return (
        f"GDF weights leave {result.effective_atoms:.0f} of {n} {element} atoms effectively in "
        f"the force loss (largest weight {float(result.weights.max()):.4g} times the mean; "
        f"{100 * above:.2g} % of the atoms have 1/rho above c = {result.c:.4g}, median 1/rho "
        f"{float(x.median()):.4g}); the fit of {element} forces will rest on those few atoms. "
        f"Consider loss.gdf.modifier_c: auto (SIMPLE-NN's fit to this data) or {advice} "
        "(e.g. 20); see gdf.json and gdf_histogram.png"
    )


def for_element(value, element: str, name: str):
    """A GDF setting for one element: the value itself, or its entry in {element: value}."""
    if not isinstance(value, dict):
        return value if value == "auto" else float(value)
    if element not in value:
        raise ValueError(
            f"loss.gdf.{name} gives no value for element {element} (it has "
            f"{', '.join(value) or 'none'}); add '{element}: ...' or give one number"
        )
    return value[element] if value[element] == "auto" else float(value[element])


def _histogram(model: HDNNP, species, inverse, weights, path: Path) -> None:
    from .report import _pyplot, _save

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for k, element in enumerate(model.elements):
        mask = species == k
        if mask.any():
            axes[0].hist(torch.log10(inverse[mask]).numpy(), bins=60, alpha=0.6, label=element)
            axes[1].hist(weights[mask].numpy(), bins=60, alpha=0.6, label=element, log=True)
    axes[0].set_xlabel("log10(1 / rho(G))")
    axes[1].set_xlabel("GDF atomic weight (mean 1)")
    for ax in axes:
        ax.set_ylabel("atoms")
        ax.legend()
    _save(fig, path)
