"""The small public API: :func:`load` a potential from any of its forms."""

from __future__ import annotations

from pathlib import Path

from .potential import HDNNP

#: File name of the best potential inside a training run directory.
RUN_BEST = "best.hdnnp"


def load(path: str | Path, units: str = "ev-angstrom") -> HDNNP:
    """Load a potential as a ``torch.nn.Module`` (float64, CPU, eval mode).

    ``path`` may be an hdnnp potential file, an n2p2 potential directory (``input.nn``,
    ``scaling.data``, ``weights.NNN.data``; ``units`` says whether its files are in
    ``ev-angstrom`` or ``hartree-bohr``) or a training run directory (its best potential).
    Call the result on a list of structures (``ase.Atoms`` or
    :class:`hdnnp.structures.Structure`) or on a :class:`hdnnp.batch.Batch` to get an
    :class:`hdnnp.potential.Output` with energies, forces and stress.
    """
    from .n2p2 import read_n2p2
    from .potential_file import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such potential file or directory")
    if path.is_dir():
        if (path / "input.nn").exists():
            model = read_n2p2(path, units=units)
        elif (path / RUN_BEST).exists():
            model = load_file(path / RUN_BEST)
        else:
            raise ValueError(
                f"{path}: directory holds neither an n2p2 potential (input.nn) nor a "
                f"training run ({RUN_BEST})"
            )
    else:
        model = load_file(path)
    return model.eval()
