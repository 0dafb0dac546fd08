r"""Vectorised evaluation of a :class:`~hdnnp.descriptors.params.DescriptorSet`.

:class:`SymmetryFunctions` maps pair vectors (with autograd) to the descriptor matrix
``G`` of shape (n_atoms, max_n_sf): row i holds the functions of atom i's element in
canonical order, padded with zeros. The same code runs on CPU and GPU, in float32 and
float64.

Inputs follow :mod:`hdnnp.neighbors`: a full pair list ``(i, j)`` with vectors
``r_ij = r_j - r_i + S @ cell`` (Å) and a triplet list of pair-index pairs ``(p, q)``
with ``i[p] == i[q]`` and ``p < q`` (each unordered neighbour pair {j, k} once, the
``j < k`` sum of n2p2). Formulas: see :mod:`hdnnp.descriptors.params` and
:mod:`hdnnp.descriptors.cutoff`.
"""

from __future__ import annotations

import torch
from torch import nn

from . import fused as fused_kernels
from .angular import AngularParams, angular_sum
from .cutoff import cutoff_function
from .params import DescriptorSet, angular_groups, radial_groups


class SymmetryFunctions(nn.Module):
    """Atom-centred symmetry functions G (n2p2 types 2, 3, 9) as a torch module.

    Parameters live in buffers, so ``.to(device, dtype)`` moves them. Group bookkeeping
    (which element combinations exist) is plain Python, fixed at construction.
    """

    def __init__(self, descriptors: DescriptorSet):
        super().__init__()
        self.descriptors = descriptors
        self.n_elements = len(descriptors.elements)
        self.max_functions = max(descriptors.count(e) for e in descriptors.elements)
        self.cutoff_type = descriptors.cutoff_type
        self.cutoff_alpha = descriptors.cutoff_alpha
        self.radial_keys = []
        for n, (key, items) in enumerate(sorted(radial_groups(descriptors).items())):
            self.radial_keys.append(key)
            self._register_group(f"rad{n}", items)
        self.angular_keys = []
        for n, (key, items) in enumerate(sorted(angular_groups(descriptors).items())):
            self.angular_keys.append(key)
            self._register_group(f"ang{n}", items)
        angular = [sf.rc for sf in descriptors.functions if sf.is_angular]
        self.angular_cutoff = max(angular) if angular else 0.0
        self.cutoff = descriptors.max_cutoff
        self.kernel_tables = fused_kernels.KernelTables.build(descriptors)

    def _register_group(self, name: str, items) -> None:
        cols = [c for c, _ in items]
        sfs = [sf for _, sf in items]
        rcs = sorted({sf.rc for sf in sfs})
        self.register_buffer(f"{name}_col", torch.tensor(cols, dtype=torch.long), False)
        self.register_buffer(f"{name}_rcidx", torch.tensor([rcs.index(sf.rc) for sf in sfs]), False)
        self.register_buffer(f"{name}_rc", torch.tensor(rcs, dtype=torch.float64), False)
        for field in ("eta", "rs", "zeta", "lambda_"):
            values = [float(getattr(sf, field)) for sf in sfs]
            tensor = torch.tensor(values, dtype=torch.float64)
            self.register_buffer(f"{name}_{field}", tensor, False)
        narrow = [sf.type == 3 for sf in sfs]
        self.register_buffer(f"{name}_narrow", torch.tensor(narrow), False)
        setattr(self, f"{name}_has_rs", any(sf.rs != 0.0 for sf in sfs))
        setattr(self, f"{name}_all_narrow", all(narrow))
        setattr(self, f"{name}_all_wide", not any(narrow))

    def _p(self, name: str, field: str) -> torch.Tensor:
        return getattr(self, f"{name}_{field}")

    def _fc(self, r: torch.Tensor, name: str) -> torch.Tensor:
        """Cutoff of r (shape (n,)) for each distinct r_c of a group: (n, n_rc)."""
        return cutoff_function(
            r[:, None],
            self._p(name, "rc").to(r.dtype)[None, :],
            self.cutoff_type,
            self.cutoff_alpha,
        )

    def forward(
        self,
        species: torch.Tensor,
        neighbor_species: torch.Tensor,
        vectors: torch.Tensor,
        pair_i: torch.Tensor,
        trip_p: torch.Tensor,
        trip_q: torch.Tensor,
        fused: bool = False,
    ) -> torch.Tensor:
        """Compute G for a set of centre atoms.

        Args:
            species: (N,) element index of each centre atom (index in
                ``descriptors.elements``).
            neighbor_species: (P,) element index of the neighbour of each pair.
            vectors: (P, 3) pair vectors r_ij, Å (may require grad).
            pair_i: (P,) centre of each pair, an index into ``species``.
            trip_p, trip_q: (T,) pair indices forming the triplets (j, i, k), sorted by
                centre.
            fused: use the fused CPU kernels for the angular part where available
                (:mod:`hdnnp.descriptors.fused`); their backward cannot be differentiated
                again, so pass False when forces enter a loss.

        Returns:
            (N, max_functions) tensor of unscaled symmetry-function values.
        """
        if fused and fused_kernels.available(vectors):
            return fused_kernels.FusedDescriptors.apply(
                vectors,
                pair_i,
                species,
                neighbor_species,
                self.max_functions,
                self.kernel_tables,
            )
        n_atoms = species.shape[0]
        dist = torch.linalg.norm(vectors, dim=1)
        g = vectors.new_zeros((n_atoms, self.max_functions))
        si, sj = species[pair_i], neighbor_species
        for n, (a, b) in enumerate(self.radial_keys):
            sel = torch.nonzero((si == a) & (sj == b)).squeeze(1)
            values = self._radial(dist[sel], f"rad{n}")
            g = g.index_add(1, self._p(f"rad{n}", "col"), _scatter(values, pair_i[sel], n_atoms))
        if self.angular_keys and trip_p.numel():
            g = self._angular_all(g, species, neighbor_species, vectors, pair_i, trip_p, trip_q)
        return g

    def of_batch(self, batch, vectors: torch.Tensor, fused: bool = False) -> torch.Tensor:
        """G (N, max_functions) of every atom of a :class:`~hdnnp.batch.Batch`.

        ``vectors`` are its pair vectors (``hdnnp.potential.pair_vectors``). The torch
        path needs the batch's triplets; the fused kernels make their own.
        """
        uses_kernels = fused and fused_kernels.available(vectors)
        if batch.trip_p is None and self.angular_keys and not uses_kernels:
            raise ValueError(
                "angular functions on the torch path need a batch built with triplets "
                "(make_batch(..., triplets=True))"
            )
        empty = batch.pair_i.new_zeros(0)
        return self(
            batch.species,
            batch.species[batch.pair_j],
            vectors,
            batch.pair_i,
            empty if batch.trip_p is None else batch.trip_p,
            empty if batch.trip_q is None else batch.trip_q,
            fused=fused,
        )

    def _radial(self, d: torch.Tensor, name: str) -> torch.Tensor:
        """exp(-eta (r - rs)^2) f_c(r): (n_pairs, n_functions)."""
        eta, rs = self._p(name, "eta").to(d.dtype), self._p(name, "rs").to(d.dtype)
        fc = self._fc(d, name)[:, self._p(name, "rcidx")]
        return torch.exp(-eta * (d[:, None] - rs) ** 2) * fc

    def _angular_all(self, g, species, neighbor_species, vectors, pair_i, trip_p, trip_q):
        n_atoms = species.shape[0]
        centre = pair_i[trip_p]
        sa = species[centre]
        sb, sc = neighbor_species[trip_p], neighbor_species[trip_q]
        lo, hi = torch.minimum(sb, sc), torch.maximum(sb, sc)
        for n, (a, b, c) in enumerate(self.angular_keys):
            sel = torch.nonzero((sa == a) & (lo == b) & (hi == c)).squeeze(1)
            if sel.numel() == 0:
                continue
            name = f"ang{n}"
            values = angular_sum(
                vectors,
                trip_p[sel],
                trip_q[sel],
                centre[sel],
                n_atoms,
                self._angular_params(name),
            )
            g = g.index_add(1, self._p(name, "col"), values)
        return g

    def _angular_params(self, name: str) -> AngularParams:
        return AngularParams(
            eta=self._p(name, "eta"),
            rs=self._p(name, "rs"),
            zeta=self._p(name, "zeta"),
            lam=self._p(name, "lambda_"),
            narrow=self._p(name, "narrow"),
            rc_unique=self._p(name, "rc"),
            rc_index=self._p(name, "rcidx"),
            cutoff_type=self.cutoff_type,
            cutoff_alpha=self.cutoff_alpha,
            has_rs=getattr(self, f"{name}_has_rs"),
            any_narrow=not getattr(self, f"{name}_all_wide"),
        )


def _scatter(values: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Sum per-pair/per-triplet rows into per-atom rows: (n_rows, n_functions)."""
    out = values.new_zeros((n_rows, values.shape[1]))
    return out.index_add(0, rows, values)
