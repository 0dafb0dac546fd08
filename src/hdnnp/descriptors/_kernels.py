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
        return numba.njit(cache=True, fastmath=True, **kwargs)(fn)

    return wrap


@_jit(inline="always")
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


@_jit(inline="always")
def _power(a, zeta, zeta_int):
    """a^zeta and a^(zeta-1) for a > 0 (integer exponents by multiplication)."""
    if zeta_int > 0:
        p = 1.0
        for _ in range(zeta_int - 1):
            p *= a
        return p * a, p
    p = a ** (zeta - 1.0)
    return p * a, p


@_jit(inline="always")
def _triplet(vectors, pair_r, p, q):
    """r_ij, r_ik, r_jk and cos(theta_ijk) of the triplet of pairs p and q."""
    xij, yij, zij = vectors[p, 0], vectors[p, 1], vectors[p, 2]
    xik, yik, zik = vectors[q, 0], vectors[q, 1], vectors[q, 2]
    rij, rik = pair_r[p], pair_r[q]
    dx, dy, dz = xik - xij, yik - yij, zik - zij
    rjk = math.sqrt(dx * dx + dy * dy + dz * dz)
    cos = (xij * xik + yij * yik + zij * zik) / (rij * rik)
    return rij, rik, rjk, cos


@_jit(inline="always")
def _x(rij, rik, rjk, rs, narrow):
    """Exponent argument X of a triplet (see hdnnp.descriptors.angular)."""
    dij, dik = rij - rs, rik - rs
    x = dij * dij + dik * dik
    if narrow:
        djk = rjk - rs
        x += djk * djk
    return x


@_jit(inline="always")
def _group_of(species_c, species_p, species_q, table):
    b, c = species_p, species_q
    if b > c:
        b, c = c, b
    return table[species_c, b, c]


@_jit(parallel=True)
def pair_cutoffs(vectors, rc_unique, code, alpha, r, fc, dfc):
    """Distances and (f_c, df_c/dr) of every pair for every distinct cutoff radius."""
    for p in prange(vectors.shape[0]):
        x, y, z = vectors[p, 0], vectors[p, 1], vectors[p, 2]
        d = math.sqrt(x * x + y * y + z * z)
        r[p] = d
        for u in range(rc_unique.shape[0]):
            fc[p, u], dfc[p, u] = _cutoff(d, rc_unique[u], code, alpha)


@_jit(inline="always")
def _radial_centre(
    row,
    ps,
    pe,
    pair_r,
    pair_fc,
    pair_dfc,
    neighbor_species,
    sa,
    rad_table,
    rad_offsets,
    rad_col,
    rad_eta,
    rad_rs,
    rad_rc_index,
    g,
    own,
    p0,
):
    """Radial functions of one centre and their derivatives w.r.t. its pair vectors."""
    for p in range(ps, pe):
        grp = rad_table[sa, neighbor_species[p]]
        if grp < 0:
            continue
        r = pair_r[p]
        for s in range(rad_offsets[grp], rad_offsets[grp + 1]):
            u = rad_rc_index[s]
            fc = pair_fc[p, u]
            if fc == 0.0:
                continue
            d = r - rad_rs[s]
            e = math.exp(-rad_eta[s] * d * d)
            col = rad_col[s]
            g[row, col] += e * fc
            own[p - p0, col] += e * (pair_dfc[p, u] - 2.0 * rad_eta[s] * d * fc) / r


@_jit(inline="always")
def _angular_triplet(
    row,
    p,
    q,
    p0,
    vectors,
    pair_r,
    pair_fc,
    pair_dfc,
    grp,
    offsets,
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
    g,
    own,
    cross,
):
    """Values and pair-vector derivatives of every function of one triplet's group."""
    rij, rik, rjk, cos = _triplet(vectors, pair_r, p, q)
    inv_ij, inv_ik, inv_jk = 1.0 / rij, 1.0 / rik, 1.0 / rjk
    inv = inv_ij * inv_ik
    cij = cos * inv_ij * inv_ij
    cik = cos * inv_ik * inv_ik
    last_rc = -1
    fjk = dfjk = 0.0
    last_eta, last_rs, last_narrow = -1.0, 0.0, False
    expo = 0.0
    for s in range(offsets[grp], offsets[grp + 1]):
        u = rc_index[s]
        if u != last_rc:
            last_rc = u
            fjk, dfjk = _cutoff(rjk, rc[s], code, alpha)
        a = 1.0 + lam[s] * cos
        if a <= 0.0:
            continue
        fij, fik = pair_fc[p, u], pair_fc[q, u]
        gjk = fjk if narrow[s] else 1.0
        f = fij * fik * gjk
        if f == 0.0:
            continue
        if eta[s] != last_eta or rs[s] != last_rs or narrow[s] != last_narrow:
            last_eta, last_rs, last_narrow = eta[s], rs[s], narrow[s]
            expo = math.exp(-eta[s] * _x(rij, rik, rjk, rs[s], narrow[s]))
        pa, pm1 = _power(a, zeta[s], zeta_int[s])
        rad = norm[s] * expo
        value = rad * pa
        c = col[s]
        g[row, c] += value * f
        d_cos = rad * zeta[s] * lam[s] * pm1 * f
        two_eta_vf = 2.0 * eta[s] * value * f
        d_rij = (value * pair_dfc[p, u] * fik * gjk - two_eta_vf * (rij - rs[s])) * inv_ij
        d_rik = (value * fij * pair_dfc[q, u] * gjk - two_eta_vf * (rik - rs[s])) * inv_ik
        d_rjk = 0.0
        if narrow[s]:
            d_rjk = (value * fij * fik * dfjk - two_eta_vf * (rjk - rs[s])) * inv_jk
        # d/dr_ij = own_p r_ij + m r_ik and d/dr_ik = own_q r_ik + m r_ij: the parts along
        # a pair's own vector are accumulated as scalars (see FusedDescriptors).
        own[p - p0, c] += d_rij + d_rjk - d_cos * cij
        own[q - p0, c] += d_rik + d_rjk - d_cos * cik
        m = d_cos * inv - d_rjk
        for k in range(3):
            cross[p - p0, c, k] += m * vectors[q, k]
            cross[q - p0, c, k] += m * vectors[p, k]


@_jit(parallel=True)
def descriptors_and_derivatives(
    vectors,
    pair_r,
    pair_fc,
    pair_dfc,
    pair_start,
    centre_species,
    neighbor_species,
    angular_cutoff,
    rad_table,
    rad_offsets,
    rad_col,
    rad_eta,
    rad_rs,
    rad_rc_index,
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
    g,
    own,
    cross,
):
    """G (n_centres, S_max) and its derivatives with respect to every pair vector r_p.

    dG_{i(p), s} / d r_p = own[p, s] r_p + cross[p, s, :] (the part along the pair's own
    vector is a scalar, which halves the vector work).

    Pairs of centre c are pair_start[c] .. pair_start[c + 1] - 1 (a full list sorted by
    centre); triplets are generated on the fly from the pairs of each centre that lie
    within ``angular_cutoff`` (n2p2's sum over j < k). ``own``/``cross`` rows are relative to
    pair_start[0]. One centre per loop iteration, in parallel: each pair vector belongs
    to one centre, so no two threads write the same row.
    """
    p0 = pair_start[0]
    for c in prange(pair_start.shape[0] - 1):
        ps, pe = pair_start[c], pair_start[c + 1]
        sa = centre_species[c]
        _radial_centre(
            c,
            ps,
            pe,
            pair_r,
            pair_fc,
            pair_dfc,
            neighbor_species,
            sa,
            rad_table,
            rad_offsets,
            rad_col,
            rad_eta,
            rad_rs,
            rad_rc_index,
            g,
            own,
            p0,
        )
        for p in range(ps, pe):
            if pair_r[p] >= angular_cutoff:
                continue
            sp = neighbor_species[p]
            for q in range(p + 1, pe):
                if pair_r[q] >= angular_cutoff:
                    continue
                grp = _group_of(sa, sp, neighbor_species[q], table)
                if grp < 0:
                    continue
                if skip_rjk[grp] < 1e300:
                    dx = vectors[q, 0] - vectors[p, 0]
                    dy = vectors[q, 1] - vectors[p, 1]
                    dz = vectors[q, 2] - vectors[p, 2]
                    if dx * dx + dy * dy + dz * dz >= skip_rjk[grp] * skip_rjk[grp]:
                        continue
                _angular_triplet(
                    c,
                    p,
                    q,
                    p0,
                    vectors,
                    pair_r,
                    pair_fc,
                    pair_dfc,
                    grp,
                    offsets,
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
                    g,
                    own,
                    cross,
                )
