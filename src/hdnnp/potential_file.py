"""The hdnnp potential file: one self-describing JSON document, no code execution.

Layout (``format_version`` 1.x)::

    {
      "format": "hdnnp-potential", "format_version": "1.0", "hdnnp_version": "...",
      "created": ISO-8601 time, "units": {"energy": "eV", "length": "Angstrom"},
      "descriptors": {elements, cutoff_type, cutoff_alpha, functions: [...]},
      "scaling": {mode, smin, smax, stats: {element: {min, max, mean, sigma}}},
      "networks": {normalize_nodes, elements: {element: {hidden, activations,
                   parameters (n2p2 weight order)}}},
      "energy_scale": eV per network output, "atom_energies": {element: eV},
      "metadata": {provenance: where the potential came from, ...}
    }

Floats are written by Python's ``repr`` (shortest exact form), so a file read back
reproduces the potential bit for bit. Files written by a newer major format version are
refused with a clear message. Writes are atomic.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import numpy as np

from ._version import FORMAT_VERSION, __version__
from .descriptors.params import DescriptorSet
from .fileio import atomic_write_text
from .potential import HDNNP, NetworkSpec
from .scaling import ScalingStats

FORMAT_NAME = "hdnnp-potential"


def to_dict(model: HDNNP) -> dict:
    """The JSON-ready description of a potential."""
    stats = {}
    for k, e in enumerate(model.elements):
        st = model.scaler.stats(k, model.descriptors.count(e))
        stats[e] = {
            "min": st.minimum.tolist(),
            "max": st.maximum.tolist(),
            "mean": st.mean.tolist(),
            "sigma": st.sigma.tolist(),
        }
    spec = model.network_spec
    nets = {
        e: {
            "hidden": list(spec.hidden[e]),
            "activations": "".join(spec.activations[e]),
            "parameters": model.nets[e].flat_parameters(),
        }
        for e in model.elements
    }
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "hdnnp_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "units": {
            "energy": "eV",
            "length": "Angstrom",
            "forces": "eV/Angstrom",
            "stress": "eV/Angstrom^3",
        },
        "descriptors": model.descriptors.to_dict(),
        "scaling": {
            "mode": model.scaler.mode,
            "smin": model.scaler.smin,
            "smax": model.scaler.smax,
            "stats": stats,
        },
        "networks": {"normalize_nodes": spec.normalize_nodes, "elements": nets},
        "energy_scale": float(model.energy_scale),
        "atom_energies": {e: float(model.atom_energy[k]) for k, e in enumerate(model.elements)},
        "metadata": model.metadata,
    }


def from_dict(data: dict, where: str = "<dict>") -> HDNNP:
    """Build a float64 CPU potential from :func:`to_dict` output."""
    check_format(data, where)
    try:
        descriptors = DescriptorSet.from_dict(data["descriptors"])
        nets = data["networks"]["elements"]
        spec = NetworkSpec(
            {e: tuple(nets[e]["hidden"]) for e in descriptors.elements},
            {e: tuple(nets[e]["activations"]) for e in descriptors.elements},
            bool(data["networks"].get("normalize_nodes", False)),
        )
        model = HDNNP(
            descriptors,
            spec,
            float(data["energy_scale"]),
            data["atom_energies"],
            data.get("metadata", {}),
        )
        scaling = data["scaling"]
        stats = [
            ScalingStats(
                *(
                    np.asarray(scaling["stats"][e][k], dtype=np.float64)
                    for k in ("min", "max", "mean", "sigma")
                )
            )
            for e in descriptors.elements
        ]
        model.scaler.set_stats(stats, scaling["mode"], scaling["smin"], scaling["smax"])
        for e in descriptors.elements:
            model.nets[e].load_flat_parameters(nets[e]["parameters"], where=f"{where}: {e}")
    except KeyError as err:
        raise ValueError(f"{where}: potential file lacks the field {err}") from None
    return model


def check_format(data: dict, where: str) -> None:
    """Refuse documents that are not hdnnp potentials or come from a newer format."""
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise ValueError(f'{where}: not an hdnnp potential file (no "format": "{FORMAT_NAME}")')
    version = str(data.get("format_version", ""))
    try:
        major = int(version.split(".")[0])
    except ValueError:
        raise ValueError(f"{where}: invalid format_version {version!r}") from None
    supported = int(FORMAT_VERSION.split(".")[0])
    if major > supported:
        raise ValueError(
            f"{where}: written with potential format {version} (hdnnp "
            f"{data.get('hdnnp_version', '?')}); this hdnnp {__version__} reads format "
            f"{FORMAT_VERSION} and older. Upgrade hdnnp: pip install -U hdnnp"
        )


def save(model: HDNNP, path: str | Path) -> Path:
    """Write the potential to ``path`` atomically (JSON)."""
    path = Path(path)
    atomic_write_text(path, json.dumps(to_dict(model), indent=1) + "\n")
    return path


def load_file(path: str | Path) -> HDNNP:
    """Read a potential file written by :func:`save`."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path}: not a valid hdnnp potential file (JSON error at line {err.lineno}: {err.msg})"
        ) from None
    return from_dict(data, str(path))
