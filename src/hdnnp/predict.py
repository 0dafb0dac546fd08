"""Predictions of a potential for many structures, error metrics, and the predictions file.

* :func:`predict` evaluates structures in batches and returns one :class:`Prediction`
  (energy, forces, atomic energies, stress) per structure, in input order.
* :func:`error_metrics` compares predictions with the reference labels of the structures
  (energy per atom and force components, overall and per element).
* :func:`write_predictions` writes an extended XYZ file that ASE reads back with the
  predictions as calculator results and the reference labels beside them.

Units are the package units: eV, Å, eV/Å, eV/Å^3 (ASE stress sign convention).
"""

from __future__ import annotations

import copy
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .fileio import atomic_write
from .potential import HDNNP
from .structures import VOIGT_COLS, VOIGT_ROWS, Structure

#: Keys of ``atoms.info`` / ``atoms.arrays`` used for the reference labels in the
#: predictions file (the predictions themselves are calculator results).
REF_ENERGY, REF_FORCES, REF_STRESS = "ref_energy", "ref_forces", "ref_stress"

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass
class Prediction:
    """The potential's prediction for one structure.

    Attributes:
        energy: total energy, eV.
        forces: (n_atoms, 3) forces, eV/Å.
        atomic_energies: (n_atoms,) per-atom energies, eV (they sum to ``energy``).
        stress: (3, 3) stress, eV/Å^3 (ASE sign convention), for structures periodic in
            all three directions; None otherwise (or when not requested).
    """

    energy: float
    forces: np.ndarray
    atomic_energies: np.ndarray
    stress: np.ndarray | None = None


class DeviceUnavailableError(RuntimeError):
    """The requested device (e.g. CUDA) is not available."""


def resolve_device(device: str | torch.device) -> torch.device:
    """``torch.device`` for ``device``; :class:`DeviceUnavailableError` (a RuntimeError)
    naming the fix when CUDA is requested but unavailable."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"invalid device {device!r}: {err} (use 'cpu' or 'cuda')") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"device {str(device)!r} requested but CUDA is not available in this torch "
            f"installation (torch {torch.__version__}, built with CUDA: "
            f"{torch.version.cuda or 'no'}); use device 'cpu' or install a CUDA build of torch"
        )
    return dev


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``torch.float64``/``torch.float32`` from a dtype or its name."""
    if isinstance(dtype, torch.dtype) and dtype in _DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype.strip().lower() in _DTYPES:
        return _DTYPES[dtype.strip().lower()]
    raise ValueError(f"unsupported dtype {dtype!r}; use 'float64' or 'float32'")


def batch_ranges(sizes: Sequence[int], batch_atoms: int) -> list[tuple[int, int]]:
    """Split consecutive items into ranges [a, b) of at most ``batch_atoms`` atoms each.

    A structure larger than ``batch_atoms`` gets a range of its own.
    """
    if batch_atoms < 1:
        raise ValueError(f"batch_atoms must be at least 1, got {batch_atoms}")
    ranges, start, atoms = [], 0, 0
    for k, n in enumerate(sizes):
        if k > start and atoms + n > batch_atoms:
            ranges.append((start, k))
            start, atoms = k, 0
        atoms += n
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def _prepared_model(model: HDNNP, device: torch.device, dtype: torch.dtype) -> HDNNP:
    """The model on ``device``/``dtype``; a copy when it lives elsewhere (the caller's
    model is never converted in place, so float32 evaluation cannot round its weights)."""
    if model.device != device or model.dtype != dtype:
        model = copy.deepcopy(model).to(device=device, dtype=dtype)
    return model


def _check_stress_request(structures: Sequence[Structure], stress: bool | None) -> None:
    if stress is True:
        for s in structures:
            if not all(s.pbc):
                raise ValueError(
                    f"{s.where}: stress requested but the structure is not periodic in all "
                    "three directions (use stress=None to get stress where it is defined)"
                )


def _split_output(out, chunk: Sequence[Structure], with_stress: bool) -> list[Prediction]:
    energy = out.energy.detach().cpu().double().numpy()
    atomic = out.atomic_energies.detach().cpu().double().numpy()
    forces = out.forces.detach().cpu().double().numpy()
    stress = out.stress.detach().cpu().double().numpy() if with_stress else None
    result, first = [], 0
    for b, s in enumerate(chunk):
        last = first + s.n_atoms
        result.append(
            Prediction(
                energy=float(energy[b]),
                forces=forces[first:last].copy(),
                atomic_energies=atomic[first:last].copy(),
                stress=stress[b].copy() if with_stress and all(s.pbc) else None,
            )
        )
        first = last
    return result


def predict(
    model: HDNNP,
    structures: Sequence[Structure],
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = torch.float64,
    batch_atoms: int = 20000,
    stress: bool | None = None,
    progress: bool = False,
) -> list[Prediction]:
    """Evaluate ``model`` on ``structures``; one :class:`Prediction` each, in input order.

    Consecutive structures are grouped into batches of up to ``batch_atoms`` atoms (a
    larger structure is a batch of its own). ``device`` is ``"cpu"``, ``"cuda"`` or
    ``"cuda:N"`` (:class:`DeviceUnavailableError` when CUDA is not available); ``dtype``
    is ``torch.float64``/``torch.float32`` or its name. When the model is not already on
    that device and dtype it is evaluated as a converted copy, so ``model`` itself is
    left unchanged (its train/eval mode too). ``stress``: None computes the stress of every
    structure periodic in all three directions (None for the others); False computes no
    stress; True requires every structure to be fully periodic (ValueError naming the
    frame otherwise). ``progress`` shows a tqdm bar (atoms/s and ETA) on stderr.
    Unknown elements raise ValueError naming the frame.
    """
    from tqdm.auto import tqdm

    dev, dt = resolve_device(device), resolve_dtype(dtype)
    structures = list(structures)
    _check_stress_request(structures, stress)
    if not structures:
        return []
    net = _prepared_model(model, dev, dt)
    was_training = net.training
    net.eval()
    ranges = batch_ranges([s.n_atoms for s in structures], batch_atoms)
    total = sum(s.n_atoms for s in structures)
    bar = tqdm(total=total, unit="atom", unit_scale=True, file=sys.stderr, disable=not progress)
    results: list[Prediction] = []
    try:
        with torch.enable_grad(), bar:
            for first, last in ranges:
                chunk = structures[first:last]
                with_stress = stress is not False and any(all(s.pbc) for s in chunk)
                batch = net.make_batch(chunk, device=dev)  # triplets only where needed
                out = net.evaluate(batch, forces=True, stress=with_stress)
                results.extend(_split_output(out, chunk, with_stress))
                bar.update(sum(s.n_atoms for s in chunk))
    finally:
        net.train(was_training)
    return results


# --------------------------------------------------------------------------- metrics


def _finite(value) -> bool:
    return value is not None and bool(np.all(np.isfinite(np.asarray(value, dtype=float))))


def _rmse_mae(errors: list[np.ndarray]) -> tuple[float | None, float | None]:
    if not errors:
        return None, None
    e = np.concatenate([np.ravel(x) for x in errors])
    if e.size == 0:
        return None, None
    return float(math.sqrt(np.mean(e * e))), float(np.mean(np.abs(e)))


def error_metrics(structures: Sequence[Structure], predictions: Sequence[Prediction]) -> dict:
    """Errors of ``predictions`` against the reference labels of ``structures``.

    Energy: RMSE and MAE of (E_pred - E_ref) / n_atoms over structures with a reference
    energy (eV/atom). Forces: RMSE and MAE over all Cartesian components of structures
    with reference forces, overall and per element (eV/Å). Stress: RMSE and MAE over the six
    independent components (xx, yy, zz, yz, xz, xy) of periodic structures with a
    reference stress, in GPa. Structures without a (finite) label are skipped for that
    quantity and counted. Returns::

        {"n_structures": N,
         "energy_per_atom": {"rmse", "mae", "unit": "eV/atom", "n_structures",
                             "n_skipped"},
         "forces": {"rmse", "mae", "unit": "eV/Angstrom", "n_structures", "n_atoms",
                    "n_skipped"},
         "forces_per_element": {symbol: {"rmse", "mae", "n_atoms"}},
         "stress": {"rmse", "mae", "unit": "GPa", "n_structures", "n_skipped"}}

    with None for an RMSE/MAE that has no data.
    """
    from ase.data import chemical_symbols

    if len(structures) != len(predictions):
        raise ValueError(
            f"{len(structures)} structures but {len(predictions)} predictions; they must "
            "correspond one to one"
        )
    from ase.units import GPa

    e_err, f_err, s_err, per_element = [], [], [], {}
    n_f_atoms = 0
    for s, p in zip(structures, predictions, strict=True):
        if _finite(s.energy):
            e_err.append(np.array([(p.energy - float(s.energy)) / s.n_atoms]))
        if _finite(s.forces):
            diff = np.asarray(p.forces, dtype=float) - np.asarray(s.forces, dtype=float)
            f_err.append(diff)
            n_f_atoms += s.n_atoms
            for z in np.unique(s.numbers):
                per_element.setdefault(int(z), []).append(diff[np.asarray(s.numbers) == z])
        if _finite(s.stress) and p.stress is not None and _finite(p.stress):
            diff = (np.asarray(p.stress, dtype=float) - np.asarray(s.stress, dtype=float)) / GPa
            s_err.append(diff[list(VOIGT_ROWS), list(VOIGT_COLS)])
    e_rmse, e_mae = _rmse_mae(e_err)
    f_rmse, f_mae = _rmse_mae(f_err)
    s_rmse, s_mae = _rmse_mae(s_err)
    elements = {}
    for z in sorted(per_element):
        rmse, mae = _rmse_mae(per_element[z])
        n = sum(len(x) for x in per_element[z])
        elements[chemical_symbols[z]] = {"rmse": rmse, "mae": mae, "n_atoms": n}
    n = len(structures)
    return {
        "n_structures": n,
        "energy_per_atom": {
            "rmse": e_rmse,
            "mae": e_mae,
            "unit": "eV/atom",
            "n_structures": len(e_err),
            "n_skipped": n - len(e_err),
        },
        "forces": {
            "rmse": f_rmse,
            "mae": f_mae,
            "unit": "eV/Angstrom",
            "n_structures": len(f_err),
            "n_atoms": n_f_atoms,
            "n_skipped": n - len(f_err),
        },
        "forces_per_element": elements,
        "stress": {
            "rmse": s_rmse,
            "mae": s_mae,
            "unit": "GPa",
            "n_structures": len(s_err),
            "n_skipped": n - len(s_err),
        },
    }


def format_metrics(metrics: dict) -> str:
    """A small text table of :func:`error_metrics` (energy in meV/atom, forces in eV/Å)."""

    def fmt(value, scale=1.0):
        return "-" if value is None else f"{value * scale:.6g}"

    e, f = metrics["energy_per_atom"], metrics["forces"]
    rows = [("quantity", "RMSE", "MAE", "count")]
    rows.append(
        ("energy (meV/atom)", fmt(e["rmse"], 1e3), fmt(e["mae"], 1e3), f"{e['n_structures']}")
    )
    rows.append(("forces (eV/Å)", fmt(f["rmse"]), fmt(f["mae"]), f"{f['n_atoms']} atoms"))
    for symbol, m in metrics["forces_per_element"].items():
        rows.append((f"  forces {symbol}", fmt(m["rmse"]), fmt(m["mae"]), f"{m['n_atoms']} atoms"))
    st = metrics.get("stress")
    if st and st["n_structures"]:
        rows.append(("stress (GPa)", fmt(st["rmse"]), fmt(st["mae"]), f"{st['n_structures']}"))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = [
        "  ".join(
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    skipped = [
        f"{e['n_skipped']} structure(s) without reference energy" if e["n_skipped"] else "",
        f"{f['n_skipped']} structure(s) without reference forces" if f["n_skipped"] else "",
    ]
    lines += [f"skipped: {s}" for s in skipped if s]
    return "\n".join(lines)


# ---------------------------------------------------------------------- output file


def prediction_atoms(structure: Structure, prediction: Prediction):
    """:class:`ase.Atoms` of a structure with its prediction as calculator results.

    Results: ``energy``, ``forces``, ``energies`` (per-atom) and ``stress`` (periodic
    only). Reference labels, when present, go to ``info["ref_energy"]``,
    ``arrays["ref_forces"]`` and ``info["ref_stress"]`` (3x3). ``info`` also keeps the
    structure's own info (minus keys that would clash with calculator results) and its
    origin as ``source``/``source_index``.
    """
    from ase import Atoms
    from ase.calculators.calculator import all_properties
    from ase.calculators.singlepoint import SinglePointCalculator

    atoms = Atoms(
        numbers=structure.numbers,
        positions=structure.positions,
        cell=structure.cell,
        pbc=structure.pbc,
    )
    reserved = set(all_properties) | {REF_ENERGY, REF_STRESS, "pbc", "Lattice", "Properties"}
    atoms.info.update({k: v for k, v in structure.info.items() if k not in reserved})
    if structure.source:
        atoms.info["source"] = os.fspath(structure.source)
        atoms.info["source_index"] = int(structure.index)
    if structure.charges is not None:
        atoms.set_initial_charges(structure.charges)
    if structure.energy is not None:
        atoms.info[REF_ENERGY] = float(structure.energy)
    if structure.stress is not None:
        atoms.info[REF_STRESS] = np.asarray(structure.stress, dtype=float).reshape(3, 3)
    if structure.forces is not None:
        atoms.new_array(REF_FORCES, np.asarray(structure.forces, dtype=float).reshape(-1, 3))
    results = {
        "energy": float(prediction.energy),
        "forces": np.asarray(prediction.forces, dtype=float),
        "energies": np.asarray(prediction.atomic_energies, dtype=float),
    }
    if prediction.stress is not None:
        results["stress"] = np.asarray(prediction.stress, dtype=float)
    atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def write_predictions(
    path: str | os.PathLike,
    structures: Sequence[Structure],
    predictions: Sequence[Prediction],
) -> None:
    """Write structures with their predictions as extended XYZ, atomically, in order.

    ``ase.io.read(path, ":")`` gives Atoms whose ``get_potential_energy()``,
    ``get_forces()``, ``get_potential_energies()`` and (periodic frames)
    ``get_stress()`` are the predictions; reference labels are in
    ``info["ref_energy"]``, ``arrays["ref_forces"]`` and ``info["ref_stress"]``.
    Per-atom columns are written by ASE with 8 decimals; scalars at full precision.
    """
    from ase.io import write

    if len(structures) != len(predictions):
        raise ValueError(
            f"{len(structures)} structures but {len(predictions)} predictions; they must "
            "correspond one to one"
        )
    images = [prediction_atoms(s, p) for s, p in zip(structures, predictions, strict=True)]
    with atomic_write(path, "w", encoding="utf-8") as handle:
        write(handle, images, format="extxyz")
