r"""Angular symmetry functions (n2p2 types 3 and 9) as pure functions with exact derivatives.

For a triplet with centre i and neighbours j, k (vectors r_ij, r_ik, Å), and one function
with parameters eta (1/Å^2), r_s (Å), zeta, lambda and cutoff r_c::

    term = 2^(1-zeta) (1 + lambda cos theta_ijk)^zeta exp(-eta X) F
    narrow (type 3): X = (r_ij-r_s)^2 + (r_ik-r_s)^2 + (r_jk-r_s)^2,
                     F = f_c(r_ij) f_c(r_ik) f_c(r_jk)
    wide   (type 9): X = (r_ij-r_s)^2 + (r_ik-r_s)^2,  F = f_c(r_ij) f_c(r_ik)

and the term is 0 where 1 + lambda cos theta <= 0 (as n2p2). G_i sums the terms of the
unordered neighbour pairs {j, k} of atom i.

:class:`AngularFunction` is a fused ``torch.autograd.Function``: its backward applies the
analytic derivatives (the chain rule of n2p2's ``SymFncExpAngn::calculate``, written
anew) instead of storing every intermediate of the (triplets x functions) arrays. The
backward is itself made of differentiable torch operations, so gradients of forces with
respect to network weights (training on forces) still work.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .cutoff import cutoff_and_derivative


@dataclass(frozen=True)
class AngularParams:
    """Parameters of the S angular functions of one element combination (tensors (S,)).

    ``rc_unique`` (U,) holds the distinct cutoff radii and ``rc_index`` (S,) maps each
    function to one of them, so that cutoffs are evaluated once per distinct radius.
    """

    eta: torch.Tensor
    rs: torch.Tensor
    zeta: torch.Tensor
    lam: torch.Tensor
    narrow: torch.Tensor
    rc_unique: torch.Tensor
    rc_index: torch.Tensor
    cutoff_type: str
    cutoff_alpha: float
    has_rs: bool
    any_narrow: bool


def _cutoffs(r: torch.Tensor, p: AngularParams):
    """(fc, dfc) of distances r (T,) for every function: (T, S) or (T, 1) if one radius."""
    fc, dfc = cutoff_and_derivative(
        r[:, None], p.rc_unique[None, :].to(r.dtype), p.cutoff_type, p.cutoff_alpha
    )
    if p.rc_unique.numel() == 1:
        return fc, dfc
    return fc[:, p.rc_index], dfc[:, p.rc_index]


def _geometry(vij: torch.Tensor, vik: torch.Tensor):
    rij = torch.linalg.norm(vij, dim=1)
    rik = torch.linalg.norm(vik, dim=1)
    vjk = vik - vij
    rjk = torch.linalg.norm(vjk, dim=1)
    cos = (vij * vik).sum(dim=1) / (rij * rik)
    return rij, rik, rjk, vjk, cos


def _parts(vij, vik, p: AngularParams):
    """Shared pieces of value and derivative: everything per (triplet, function)."""
    dtype = vij.dtype
    eta, rs = p.eta.to(dtype), p.rs.to(dtype)
    zeta, lam = p.zeta.to(dtype), p.lam.to(dtype)
    rij, rik, rjk, vjk, cos = _geometry(vij, vik)
    a = 1.0 + lam * cos[:, None]
    positive = a > 0.0
    a_safe = torch.where(positive, a, torch.ones_like(a))
    power = torch.where(positive, a_safe**zeta, torch.zeros_like(a))
    if p.has_rs:
        dij, dik, djk = rij[:, None] - rs, rik[:, None] - rs, rjk[:, None] - rs
    else:
        dij, dik, djk = rij[:, None], rik[:, None], rjk[:, None]
    x = dij * dij + dik * dik
    fij, dfij = _cutoffs(rij, p)
    fik, dfik = _cutoffs(rik, p)
    if p.any_narrow:
        fjk, dfjk = _cutoffs(rjk, p)
        narrow = p.narrow
        x = torch.where(narrow, x + djk * djk, x)
        fjk = torch.where(narrow, fjk, torch.ones_like(fjk))
        dfjk = torch.where(narrow, dfjk, torch.zeros_like(dfjk))
    else:
        fjk, dfjk = torch.ones_like(fij), torch.zeros_like(fij)
    radial = (2.0 ** (1.0 - zeta)) * torch.exp(-eta * x)
    return {
        "rij": rij,
        "rik": rik,
        "rjk": rjk,
        "vjk": vjk,
        "cos": cos,
        "eta": eta,
        "zeta": zeta,
        "lam": lam,
        "a": a_safe,
        "positive": positive,
        "power": power,
        "radial": radial,
        "dij": dij,
        "dik": dik,
        "djk": djk,
        "fij": fij,
        "fik": fik,
        "fjk": fjk,
        "dfij": dfij,
        "dfik": dfik,
        "dfjk": dfjk,
    }


def angular_terms(vij: torch.Tensor, vik: torch.Tensor, p: AngularParams) -> torch.Tensor:
    """Per-triplet values (T, S) of all S functions (see the module docstring)."""
    q = _parts(vij, vik, p)
    return q["power"] * q["radial"] * (q["fij"] * q["fik"] * q["fjk"])


def angular_vjp(
    vij: torch.Tensor, vik: torch.Tensor, grad: torch.Tensor, p: AngularParams
) -> tuple[torch.Tensor, torch.Tensor]:
    """sum_s grad[t, s] d term[t, s] / d r_ij and / d r_ik: two (T, 3) tensors."""
    q = _parts(vij, vik, p)
    f = q["fij"] * q["fik"] * q["fjk"]
    g_radial = grad * q["radial"]
    g_value = g_radial * q["power"]
    d_power = torch.where(
        q["positive"], q["zeta"] * q["lam"] * q["a"] ** (q["zeta"] - 1.0), torch.zeros_like(f)
    )
    d_cos = (g_radial * d_power * f).sum(1)
    two_eta_gvf = 2.0 * q["eta"] * g_value * f
    d_rij = (g_value * q["dfij"] * q["fik"] * q["fjk"] - two_eta_gvf * q["dij"]).sum(1)
    d_rik = (g_value * q["fij"] * q["dfik"] * q["fjk"] - two_eta_gvf * q["dik"]).sum(1)
    if p.any_narrow:
        narrow_gv = torch.where(p.narrow, g_value, torch.zeros_like(g_value))
        d_rjk = (
            narrow_gv * q["fij"] * q["fik"] * q["dfjk"] - 2.0 * q["eta"] * narrow_gv * f * q["djk"]
        ).sum(1)
    else:
        d_rjk = torch.zeros_like(d_cos)
    rij, rik, rjk, cos = q["rij"], q["rik"], q["rjk"], q["cos"]
    inv = 1.0 / (rij * rik)
    u_jk = q["vjk"] * (d_rjk / rjk)[:, None]
    grad_ij = (
        d_cos[:, None] * (vik * inv[:, None] - vij * (cos / rij**2)[:, None])
        + vij * (d_rij / rij)[:, None]
        - u_jk
    )
    grad_ik = (
        d_cos[:, None] * (vij * inv[:, None] - vik * (cos / rik**2)[:, None])
        + vik * (d_rik / rik)[:, None]
        + u_jk
    )
    return grad_ij, grad_ik


class AngularFunction(torch.autograd.Function):
    """G (n_centres, S) = sum over triplets of :func:`angular_terms`, fused backward."""

    @staticmethod
    def forward(ctx, vectors, trip_p, trip_q, centre, n_centres: int, params: AngularParams):
        ctx.save_for_backward(vectors, trip_p, trip_q, centre)
        ctx.params = params
        terms = angular_terms(vectors[trip_p], vectors[trip_q], params)
        out = terms.new_zeros((n_centres, terms.shape[1]))
        return out.index_add_(0, centre, terms)

    @staticmethod
    def backward(ctx, grad_out):
        vectors, trip_p, trip_q, centre = ctx.saved_tensors
        grad_ij, grad_ik = angular_vjp(
            vectors[trip_p], vectors[trip_q], grad_out[centre], ctx.params
        )
        grad = torch.zeros_like(vectors).index_add(0, trip_p, grad_ij).index_add(0, trip_q, grad_ik)
        return grad, None, None, None, None, None


def angular_sum(vectors, trip_p, trip_q, centre, n_centres: int, params: AngularParams):
    """G (n_centres, S): angular functions of triplets (vectors[trip_p], vectors[trip_q]).

    ``centre`` (T,) gives each triplet's centre row.
    """
    return AngularFunction.apply(vectors, trip_p, trip_q, centre, n_centres, params)
