"""CPU kernels (numba) for the angular symmetry functions: forward sum and its VJP.

These are loop versions of :func:`hdnnp.descriptors.angular.angular_terms` and
:func:`~hdnnp.descriptors.angular.angular_vjp` (same formulas, same n2p2 conventions),
fused so that nothing of size (triplets x functions) is ever stored. They run in one
pass over the triplets of each centre atom, in parallel over centre atoms (each pair
vector belongs to exactly one centre, so threads never write the same output row).
Tests check them against the torch implementation, which remains the reference and the
path used on GPUs and whenever gradients of gradients are needed (training on forces).

numba is optional: without it (``AVAILABLE`` is False) the torch path is used.
"""

from __future__ import annotations

import math

import numpy as np

try:
    import numba

    AVAILABLE = True
    prange = numba.prange
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None
    AVAILABLE = False
    prange = range

CUTOFF_CODES = {
    "hard": 0,
    "cos": 1,
    "tanhu": 2,
    "tanh": 3,
    "exp": 4,
    "poly1": 5,
    "poly2": 6,
    "poly3": 7,
    "poly4": 8,
}
_TANH_NORM = 1.0 / math.tanh(1.0) ** 3


def _jit(**kwargs):
    def wrap(fn):
        if not AVAILABLE:
            return fn
        return numba.njit(cache=True, fastmath=False, **kwargs)(fn)

    return wrap


@_jit()
def _cutoff(r, rc, code, alpha):
    """(f_c, df_c/dr) for one distance (see hdnnp.descriptors.cutoff)."""
    if r >= rc:
        return 0.0, 0.0
    if code == 0:
        return 1.0, 0.0
    if code == 2 or code == 3:
        t = math.tanh(1.0 - r / rc)
        norm = _TANH_NORM if code == 3 else 1.0
        return norm * t * t * t, -3.0 * norm * t * t * (1.0 - t * t) / rc
    rci = alpha * rc
    if r < rci:
        return 1.0, 0.0
    iw = 1.0 / (rc - rci)
    x = (r - rci) * iw
    if code == 1:
        return 0.5 * (math.cos(math.pi * x) + 1.0), -0.5 * math.pi * math.sin(math.pi * x) * iw
    if code == 4:
        om = 1.0 - x * x
        f = math.exp(1.0 - 1.0 / om)
        return f, f * (-2.0 * x / (om * om)) * iw
    y = x - 1.0
    if code == 5:
        return (2.0 * x - 3.0) * x * x + 1.0, 6.0 * x * y * iw
    if code == 6:
        return ((15.0 - 6.0 * x) * x - 10.0) * x**3 + 1.0, -30.0 * x**2 * y**2 * iw
    if code == 7:
        return ((x * (x * (20.0 * x - 70.0) + 84.0) - 35.0) * x**4 + 1.0, 140.0 * x**3 * y**3 * iw)
    return (
        (x * (x * ((315.0 - 70.0 * x) * x - 540.0) + 420.0) - 126.0) * x**5 + 1.0,
        -630.0 * x**4 * y**4 * iw,
    )


@_jit()
def _power(a, zeta, zeta_int):
    """a^zeta and a^(zeta-1) for a > 0 (integer exponents by multiplication)."""
    if zeta_int > 0:
        p = 1.0
        for _ in range(zeta_int - 1):
            p *= a
        return p * a, p
    p = a ** (zeta - 1.0)
    return p * a, p


@_jit()
def _triplet(vectors, pair_r, p, q):
    """r_ij, r_ik, r_jk and cos(theta_ijk) of the triplet of pairs p and q."""
    xij, yij, zij = vectors[p, 0], vectors[p, 1], vectors[p, 2]
    xik, yik, zik = vectors[q, 0], vectors[q, 1], vectors[q, 2]
    rij, rik = pair_r[p], pair_r[q]
    dx, dy, dz = xik - xij, yik - yij, zik - zij
    rjk = math.sqrt(dx * dx + dy * dy + dz * dz)
    cos = (xij * xik + yij * yik + zij * zik) / (rij * rik)
    return rij, rik, rjk, cos


@_jit()
def _x(rij, rik, rjk, rs, narrow):
    """Exponent argument X of a triplet (see hdnnp.descriptors.angular)."""
    dij, dik = rij - rs, rik - rs
    x = dij * dij + dik * dik
    if narrow:
        djk = rjk - rs
        x += djk * djk
    return x


@_jit()
def _group_of(species_c, species_p, species_q, table):
    b, c = species_p, species_q
    if b > c:
        b, c = c, b
    return table[species_c, b, c]


@_jit(parallel=True)
def angular_forward(
    vectors,
    pair_r,
    pair_fc,
    trip_p,
    trip_q,
    seg,
    rows,
    centre_species,
    neighbor_species,
    table,
    offsets,
    skip_rjk,
    col,
    eta,
    rs,
    zeta,
    zeta_int,
    lam,
    narrow,
    rc,
    rc_index,
    norm,
    code,
    alpha,
    out,
):
    """out[row, col[s]] += term_s for every triplet, all element groups in one pass.

    seg: triplet offsets per centre; rows: the output row of each centre segment.
    table[a, b, c] (b <= c): group of a centre element a with neighbour elements {b, c}
    or -1; offsets: function range of each group; skip_rjk: r_jk beyond which every
    function of the group vanishes (narrow groups) or +inf.
    """
    for c_idx in prange(seg.shape[0] - 1):
        row = rows[c_idx]
        sa = centre_species[c_idx]
        for t in range(seg[c_idx], seg[c_idx + 1]):
            p, q = trip_p[t], trip_q[t]
            grp = _group_of(sa, neighbor_species[p], neighbor_species[q], table)
            if grp < 0:
                continue
            rij, rik, rjk, cos = _triplet(vectors, pair_r, p, q)
            if rjk >= skip_rjk[grp]:
                continue
            last_rc = -1
            fjk = 0.0
            last_eta, last_rs, last_narrow = -1.0, 0.0, False
            expo = 0.0
            for s in range(offsets[grp], offsets[grp + 1]):
                u = rc_index[s]
                if u != last_rc:
                    last_rc = u
                    fjk = _cutoff(rjk, rc[s], code, alpha)[0]
                a = 1.0 + lam[s] * cos
                if a <= 0.0:
                    continue
                f = pair_fc[p, u] * pair_fc[q, u]
                if narrow[s]:
                    f *= fjk
                if f == 0.0:
                    continue
                if eta[s] != last_eta or rs[s] != last_rs or narrow[s] != last_narrow:
                    last_eta, last_rs, last_narrow = eta[s], rs[s], narrow[s]
                    expo = math.exp(-eta[s] * _x(rij, rik, rjk, rs[s], narrow[s]))
                pa = _power(a, zeta[s], zeta_int[s])[0]
                out[row, col[s]] += norm[s] * pa * expo * f


@_jit(parallel=True)
def angular_backward(
    vectors,
    pair_r,
    pair_fc,
    pair_dfc,
    trip_p,
    trip_q,
    seg,
    rows,
    centre_species,
    neighbor_species,
    table,
    offsets,
    skip_rjk,
    col,
    eta,
    rs,
    zeta,
    zeta_int,
    lam,
    narrow,
    rc,
    rc_index,
    norm,
    code,
    alpha,
    grad,
    dvec,
):
    """dvec[p] += sum_s grad[row, col[s]] d term_s / d r_ij (and likewise for q)."""
    for c_idx in prange(seg.shape[0] - 1):
        row = rows[c_idx]
        sa = centre_species[c_idx]
        for t in range(seg[c_idx], seg[c_idx + 1]):
            p, q = trip_p[t], trip_q[t]
            grp = _group_of(sa, neighbor_species[p], neighbor_species[q], table)
            if grp < 0:
                continue
            rij, rik, rjk, cos = _triplet(vectors, pair_r, p, q)
            if rjk >= skip_rjk[grp]:
                continue
            d_cos = d_rij = d_rik = d_rjk = 0.0
            last_rc = -1
            fjk = dfjk = 0.0
            last_eta, last_rs, last_narrow = -1.0, 0.0, False
            expo = 0.0
            for s in range(offsets[grp], offsets[grp + 1]):
                g = grad[row, col[s]]
                if g == 0.0:
                    continue
                u = rc_index[s]
                if u != last_rc:
                    last_rc = u
                    fjk, dfjk = _cutoff(rjk, rc[s], code, alpha)
                a = 1.0 + lam[s] * cos
                if a <= 0.0:
                    continue
                fij, fik = pair_fc[p, u], pair_fc[q, u]
                dfij, dfik = pair_dfc[p, u], pair_dfc[q, u]
                dij, dik, djk = rij - rs[s], rik - rs[s], rjk - rs[s]
                gjk = fjk if narrow[s] else 1.0
                f = fij * fik * gjk
                if f == 0.0 and (dfij == 0.0 and dfik == 0.0 and (dfjk == 0.0 or not narrow[s])):
                    continue
                if eta[s] != last_eta or rs[s] != last_rs or narrow[s] != last_narrow:
                    last_eta, last_rs, last_narrow = eta[s], rs[s], narrow[s]
                    expo = math.exp(-eta[s] * _x(rij, rik, rjk, rs[s], narrow[s]))
                pa, pm1 = _power(a, zeta[s], zeta_int[s])
                rad = g * norm[s] * expo
                gv = rad * pa
                d_cos += rad * zeta[s] * lam[s] * pm1 * f
                two_eta_gvf = 2.0 * eta[s] * gv * f
                d_rij += gv * dfij * fik * gjk - two_eta_gvf * dij
                d_rik += gv * fij * dfik * gjk - two_eta_gvf * dik
                if narrow[s]:
                    d_rjk += gv * fij * fik * dfjk - two_eta_gvf * djk
            _accumulate(vectors, p, q, rij, rik, rjk, cos, d_cos, d_rij, d_rik, d_rjk, dvec)


@_jit()
def _accumulate(vectors, p, q, rij, rik, rjk, cos, d_cos, d_rij, d_rik, d_rjk, dvec):
    """Chain rule from (cos, r_ij, r_ik, r_jk) to the pair vectors r_ij and r_ik."""
    inv = 1.0 / (rij * rik)
    cij = cos / (rij * rij)
    cik = cos / (rik * rik)
    ujk = d_rjk / rjk
    for k in range(3):
        vij, vik = vectors[p, k], vectors[q, k]
        vjk = vik - vij
        dvec[p, k] += d_cos * (vik * inv - vij * cij) + vij * (d_rij / rij) - vjk * ujk
        dvec[q, k] += d_cos * (vij * inv - vik * cik) + vik * (d_rik / rik) + vjk * ujk


@_jit(parallel=True)
def pair_cutoffs(vectors, rc_unique, code, alpha, r, fc, dfc):
    """Distances and (f_c, df_c/dr) of every pair for every distinct cutoff radius."""
    for p in prange(vectors.shape[0]):
        x, y, z = vectors[p, 0], vectors[p, 1], vectors[p, 2]
        d = math.sqrt(x * x + y * y + z * z)
        r[p] = d
        for u in range(rc_unique.shape[0]):
            fc[p, u], dfc[p, u] = _cutoff(d, rc_unique[u], code, alpha)


def segments(centre: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets of runs of equal values in a sorted centre array, and the run values."""
    if centre.size == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, centre[1:] != centre[:-1]])
    return np.r_[starts, centre.size].astype(np.int64), centre[starts].astype(np.int64)
