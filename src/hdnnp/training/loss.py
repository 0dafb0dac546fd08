r"""Loss functions (pure): energy per atom, forces, stress.

    L = w_E RMSE(E/atom)^2 + (mu / 3) RMSE(F)^2 + w_S RMSE(sigma)^2

with RMSE(E/atom)^2 = sum_b w_b ((E_b - E_b^ref) / N_b)^2 / sum_b w_b,
RMSE(F)^2 = sum_i w_i |F_i - F_i^ref|^2 / sum_i w_i (the squared norm of the force error
per atom, so that mu/3 weighs one force component like SIMPLE-NN's ``force_coeff``),
w_b the structure weights (data-source weights) and w_i = w_b(i) times the optional GDF
atomic weights, and RMSE(sigma)^2 = sum_b w_b mean_v (sigma_v - sigma_v^ref)^2 / sum_b w_b
(v the six Voigt components xx yy zz yz xz xy) over the periodic frames with a stress
label (SIMPLE-NN's stress loss; n2p2 fits no stress). Frames without a label (NaN) do
not contribute to that term, and their NaN never reaches the gradient. Units: eV/atom,
eV/Å, eV/Å^3 (1 GPa = 6.2415e-3 eV/Å^3, so w_S = 1 (eV/Å^3)^-2 weighs a 1 GPa stress
error like 6.2 meV/atom of energy error).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..structures import VOIGT_COLS, VOIGT_ROWS


@dataclass
class LossTerms:
    """Scalar tensors of one evaluation: total loss and the weighted squared errors."""

    loss: torch.Tensor
    energy_mse: torch.Tensor  # (eV/atom)^2
    force_mse: torch.Tensor  # (eV/Å)^2 per atom (|dF|^2)
    stress_mse: torch.Tensor  # (eV/Å^3)^2 per component


def _labelled(pred: torch.Tensor, ref: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """(B,) True where every entry of the label and the prediction is finite."""
    ok = torch.isfinite(ref) & torch.isfinite(pred.detach())
    return ok.all(dim=dims) if dims else ok


def _difference(pred: torch.Tensor, ref: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    """pred - ref where ``ok`` (broadcast over trailing axes), 0 elsewhere, with a gradient
    free of NaN: missing labels (NaN) are replaced before the subtraction, since
    torch.where after it would still send NaN * 0 = NaN into the gradient."""
    mask = ok.reshape(ok.shape + (1,) * (pred.dim() - ok.dim()))
    zero = torch.zeros((), dtype=pred.dtype, device=pred.device)
    return torch.where(mask, pred, zero) - torch.where(mask, ref.to(pred.dtype), zero)


def voigt_mean_square(d: torch.Tensor) -> torch.Tensor:
    """(B,) mean of the squares of the six independent components of (B, 3, 3) tensors."""
    return (d[:, VOIGT_ROWS, VOIGT_COLS] ** 2).mean(dim=1)


def _masked_mean(values: torch.Tensor, weights: torch.Tensor, ok: torch.Tensor) -> torch.Tensor:
    w = torch.where(ok, weights, torch.zeros_like(weights))
    return (w * values).sum() / torch.clamp(w.sum(), min=torch.finfo(values.dtype).tiny)


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
    e_ok = _labelled(energy, energy_ref, ())
    de = _difference(energy, energy_ref, e_ok) / n_atoms.to(energy.dtype)
    e_mse = _masked_mean(de * de, structure_weight, e_ok)
    zero = energy.new_zeros(())
    f_mse = s_mse = zero
    if forces is not None and forces_ref is not None and force_weight > 0.0:
        w = structure_weight[image]
        if atom_weight is not None:
            w = w * atom_weight
        f_ok = _labelled(forces, forces_ref, (1,))
        f_mse = _masked_mean((_difference(forces, forces_ref, f_ok) ** 2).sum(1), w, f_ok)
    if stress is not None and stress_ref is not None and stress_weight > 0.0:
        s_ok = _labelled(stress, stress_ref, (1, 2))
        ds = voigt_mean_square(_difference(stress, stress_ref, s_ok))
        s_mse = _masked_mean(ds, structure_weight, s_ok)
    loss = energy_weight * e_mse + force_weight / 3.0 * f_mse + stress_weight * s_mse
    return LossTerms(loss, e_mse, f_mse, s_mse)
