"""Building the initial potential of a training run from its config and data.

* descriptors: the config's n2p2 ``input.nn`` lines, SIMPLE-NN params files, or the
  automatic set (:mod:`hdnnp.descriptors.auto`) for the elements found in the data;
* per-element energy offsets: least squares E_b ~ sum_e n_{b,e} mu_e over the training
  frames (eV/atom), so the networks learn the residual;
* energy scale: the standard deviation of the residual energy per atom (eV), so that
  network outputs of order one cover the data;
* scaling statistics of the descriptors over the training atoms, per element.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import Config
from ..descriptors.params import DescriptorSet, atomic_number
from ..features import Features
from ..potential import HDNNP, NetworkSpec
from ..scaling import ScalingStats
from ..structures import Structure


def build_descriptors(config: Config, elements: tuple[str, ...]) -> DescriptorSet:
    """The descriptor set named by the config (see the module docstring)."""
    d = config.descriptors
    if d.n2p2:
        from ..n2p2 import parse_input_nn

        settings = parse_input_nn(d.n2p2)
        return DescriptorSet(
            elements, tuple(settings.symfunctions), settings.cutoff_type, settings.cutoff_alpha
        )
    if d.simple_nn:
        from ..descriptors.simple_nn import descriptor_set_from_simple_nn

        return descriptor_set_from_simple_nn(d.simple_nn, elements)
    from ..descriptors.auto import automatic_descriptors

    return automatic_descriptors(
        elements,
        d.cutoff,
        n_radial=d.n_radial,
        n_angular=d.n_angular,
        zetas=d.zetas,
        angular_type=d.angular_type,
        cutoff_type=d.cutoff_type,
        cutoff_alpha=d.cutoff_alpha,
    )


def fit_atom_energies(structures: list[Structure], elements) -> tuple[dict[str, float], float]:
    """Least-squares per-element energies (eV/atom) and the residual std per atom (eV)."""
    z = [atomic_number(e) for e in elements]
    labelled = [s for s in structures if s.energy is not None and np.isfinite(s.energy)]
    if not labelled:
        raise ValueError("no training frame has an energy label")
    counts = np.array(
        [[np.count_nonzero(s.numbers == zz) for zz in z] for s in labelled], dtype=np.float64
    )
    energies = np.array([s.energy for s in labelled])
    mu, *_ = np.linalg.lstsq(counts, energies, rcond=None)
    residual = (energies - counts @ mu) / counts.sum(1)
    scale = float(np.std(residual)) if len(labelled) > 1 else 1.0
    return {e: float(m) for e, m in zip(elements, mu, strict=True)}, max(scale, 1e-3)


def network_spec(config: Config, elements) -> NetworkSpec:
    net = config.network
    hidden = {e: tuple(net.hidden_per_element.get(e, net.hidden)) for e in elements}
    acts = {e: (net.activation,) * len(hidden[e]) + ("l",) for e in elements}
    return NetworkSpec(hidden, acts)


def fit_scaling(model: HDNNP, features: list[Features], config: Config) -> list[str]:
    """Install descriptor statistics of the training atoms; returns warnings."""
    per_element: list[list[torch.Tensor]] = [[] for _ in model.elements]
    for f in features:
        for k in range(len(model.elements)):
            rows = f.g[f.batch.species == k, : model.descriptors.count(model.elements[k])]
            if rows.numel():
                per_element[k].append(rows)
    stats, warnings = [], []
    for k, e in enumerate(model.elements):
        if not per_element[k]:
            raise ValueError(f"element {e} has no atoms in the training data")
        g = torch.cat(per_element[k]).double().numpy()
        st = ScalingStats.from_values(g)
        flat = np.flatnonzero(st.maximum - st.minimum <= 1e-12 * np.maximum(1, abs(st.maximum)))
        if len(flat):
            warnings.append(
                f"element {e}: descriptor(s) {(flat + 1).tolist()} are constant "
                "over the training data (they carry no information)"
            )
        stats.append(st)
    s = config.scaling
    model.scaler.set_stats(stats, s.mode, s.min, s.max)
    return warnings


def initial_model(config: Config, elements, train: list[Structure]) -> HDNNP:
    """The untrained potential (float64, CPU) with offsets and energy scale set."""
    descriptors = build_descriptors(config, elements)
    offsets, scale = fit_atom_energies(train, elements)
    generator = torch.Generator().manual_seed(config.training.seed)
    return HDNNP(
        descriptors,
        network_spec(config, elements),
        energy_scale=scale,
        atom_energies=offsets,
        generator=generator,
    )
