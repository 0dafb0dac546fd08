"""Training data: read the configured sources, check them, split, and save the split.

The split is reproducible: a permutation drawn from ``numpy.random.default_rng(seed)``
over the training frames in file order; the first ``round(fraction * n)`` frames of the
permutation (at least one when the fraction is positive and n > 1) form the validation
set. ``split.json`` in the run directory lists every frame as (source, index).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config import DataConfig, Source
from ..fileio import atomic_write_text
from ..io import read_structures
from ..structures import Structure


@dataclass
class Dataset:
    """Structures of the three roles; weights travel in ``Structure.weight``."""

    train: list[Structure]
    validation: list[Structure]
    test: list[Structure]
    dropped: list[dict]

    @property
    def elements(self) -> tuple[str, ...]:
        from ase.data import chemical_symbols

        from ..descriptors.params import sort_elements

        numbers = {int(z) for s in self.train for z in s.numbers}
        return sort_elements(chemical_symbols[z] for z in numbers)


def read_sources(sources: tuple[Source, ...], units: str) -> list[Structure]:
    """All frames of the sources, in order, each carrying its source weight."""
    out = []
    for source in sources:
        for s in read_structures(source.path, units=units):
            out.append(dataclasses.replace(s, weight=source.weight))
    return out


def split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) index arrays of a reproducible random split."""
    if fraction <= 0.0 or n < 2:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    n_val = min(max(1, int(round(fraction * n))), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


#: Data-check findings that make a frame unusable for training. Duplicates and
#: statistical outliers are reported as warnings (high-temperature frames are often
#: legitimate outliers); ``hdnnp check`` lists all of them.
CORRUPTION_KINDS = ("missing_energy", "missing_forces", "nan", "close_atoms")


def _warn(message: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write("warning: " + message)


def check_and_filter(structures: list[Structure], config: DataConfig, role: str):
    """Run the dataset checks; refuse corrupted frames or drop them (listed).

    Corrupted: the kinds in :data:`CORRUPTION_KINDS`; other findings are printed.
    """
    from ..check import check_structures, corrupted_frames

    report = check_structures(structures, min_distance=config.min_distance)
    bad = corrupted_frames(report, CORRUPTION_KINDS)
    for issue in report.errors:
        if issue.kind not in CORRUPTION_KINDS:
            _warn(f"{issue.source}, frame {issue.frame}: {issue.kind}: {issue.message}")
    if not bad:
        return structures, []
    errors = [dataclasses.asdict(e) for e in report.errors if (e.source, e.frame) in bad]
    if not config.drop_corrupted:
        lines = "\n".join(
            f"  {e['source']}, frame {e['frame']}: {e['kind']}: {e['message']}" for e in errors[:20]
        )
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise ValueError(
            f"{len(bad)} corrupted {role} frame(s):\n{lines}{more}\n"
            "fix the data, or set data.drop_corrupted: true to drop them (they are listed "
            "in the report)"
        )
    kept = [s for s in structures if (s.source, s.index) not in bad]
    return kept, errors


def load_dataset(config: DataConfig, seed: int) -> Dataset:
    """Read, check and split the data of a training configuration."""
    if not config.train:
        raise ValueError("no training data: give data.train in the config or --data FILE")
    frames = read_sources(config.train, config.units)
    frames, dropped = check_and_filter(frames, config, "training")
    if config.validation:
        validation = read_sources(config.validation, config.units)
        validation, more = check_and_filter(validation, config, "validation")
        dropped += more
        train = frames
    else:
        t_idx, v_idx = split_indices(len(frames), config.validation_fraction, seed)
        train = [frames[k] for k in t_idx]
        validation = [frames[k] for k in v_idx]
    test = read_sources(config.test, config.units) if config.test else []
    if test:
        test, more = check_and_filter(test, config, "test")
        dropped += more
    if not train:
        raise ValueError("no training frames left after the split")
    return Dataset(train, validation, test, dropped)


def save_split(dataset: Dataset, path: Path) -> None:
    """Write split.json: for each role, the (source, index) of every frame."""

    def frames(items):
        return [{"source": s.source, "index": s.index} for s in items]

    data = {
        "train": frames(dataset.train),
        "validation": frames(dataset.validation),
        "test": frames(dataset.test),
        "dropped": dataset.dropped,
    }
    atomic_write_text(path, json.dumps(data, indent=1) + "\n")
