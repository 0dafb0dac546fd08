"""Attach GDF atomic weights (:mod:`hdnnp.training.gdf`) to the training frames.

Writes ``gdf_histogram.png`` (distribution of 1/rho and of the weights per element).
"""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..config import Config
from ..potential import HDNNP
from .gdf import gdf_weights
from .trainer import FrameSet


def attach_gdf_weights(model: HDNNP, frames: FrameSet, config: Config, run_dir: Path) -> None:
    """Set ``frames.atom_weights`` (one tensor per frame) from the scaled descriptors."""
    cfg = config.loss.gdf
    species = torch.cat([f.batch.species for f in frames.features])
    with torch.no_grad():
        scaled = torch.cat([model.scaler(f.g.double(), f.batch.species) for f in frames.features])
    weights = torch.ones(species.shape[0], dtype=torch.float64)
    inverse = torch.ones_like(weights)
    for k, element in enumerate(model.elements):
        rows = torch.nonzero(species == k).squeeze(1)
        if rows.numel() == 0:
            continue
        n = model.descriptors.count(element)
        b, c = for_element(cfg.modifier_b, element, "b"), for_element(cfg.modifier_c, element, "c")
        w, x, used = gdf_weights(
            scaled[rows, :n],
            for_element(cfg.sigma, element, "sigma"),
            b,
            c,
            cfg.max_reference_atoms,
            config.training.seed,
        )
        weights[rows], inverse[rows] = w, x
        tqdm.write(f"GDF {element}: sigma = {used:.4g}, b = {b}, c = {c}")
    sizes = [f.batch.species.shape[0] for f in frames.features]
    frames.atom_weights = list(torch.split(weights, sizes))
    _histogram(model, species, inverse, weights, run_dir / "gdf_histogram.png")


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
