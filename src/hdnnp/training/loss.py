r"""Loss functions (pure): energy per atom, forces, stress.

    L = w_E RMSE(E/atom)^2 + (mu / 3) RMSE(F)^2 + w_S RMSE(sigma)^2

with RMSE(E/atom)^2 = sum_b w_b ((E_b - E_b^ref) / N_b)^2 / sum_b w_b,
RMSE(F)^2 = sum_i w_i |F_i - F_i^ref|^2 / sum_i w_i (the squared norm of the force error
per atom, so that mu/3 weighs one force component like SIMPLE-NN's ``force_coeff``),
w_b the structure weights (data-source weights) and w_i = w_b(i) times the optional GDF
atomic weights. Frames without a label (NaN) do not contribute to that term.
Units: eV/atom, eV/Å, eV/Å^3.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LossTerms:
    """Scalar tensors of one evaluation: total loss and the weighted squared errors."""

    loss: torch.Tensor
    energy_mse: torch.Tensor  # (eV/atom)^2
    force_mse: torch.Tensor  # (eV/Å)^2 per atom (|dF|^2)
    stress_mse: torch.Tensor  # (eV/Å^3)^2 per component


def _weighted_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    mask = torch.isfinite(values)
    w = torch.where(mask, weights, torch.zeros_like(weights))
    v = torch.where(mask, values, torch.zeros_like(values))
    total = w.sum()
    return (w * v).sum() / torch.clamp(total, min=torch.finfo(values.dtype).tiny)


def loss_terms(
    energy: torch.Tensor,
    forces: torch.Tensor | None,
    stress: torch.Tensor | None,
    energy_ref: torch.Tensor,
    forces_ref: torch.Tensor | None,
    stress_ref: torch.Tensor | None,
    n_atoms: torch.Tensor,
    image: torch.Tensor,
    structure_weight: torch.Tensor,
    atom_weight: torch.Tensor | None = None,
    energy_weight: float = 1.0,
    force_weight: float = 1.0,
    stress_weight: float = 0.0,
) -> LossTerms:
    """The loss of the module docstring and its parts."""
    de = (energy - energy_ref) / n_atoms.to(energy.dtype)
    e_mse = _weighted_mean(de * de, structure_weight)
    zero = energy.new_zeros(())
    f_mse = s_mse = zero
    if forces is not None and forces_ref is not None and force_weight > 0.0:
        w = structure_weight[image]
        if atom_weight is not None:
            w = w * atom_weight
        f_mse = _weighted_mean(((forces - forces_ref) ** 2).sum(1), w)
    if stress is not None and stress_ref is not None and stress_weight > 0.0:
        ds = ((stress - stress_ref) ** 2).mean(dim=(1, 2))
        s_mse = _weighted_mean(ds, structure_weight)
    loss = energy_weight * e_mse + force_weight / 3.0 * f_mse + stress_weight * s_mse
    return LossTerms(loss, e_mse, f_mse, s_mse)
