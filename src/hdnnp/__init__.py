"""hdnnp: Behler-Parrinello high-dimensional neural network potentials in PyTorch.

Public API: :func:`load`, :class:`HDNNP`, :class:`Calculator` (ASE), :class:`Output`,
:func:`read_structures`.

Imports are lazy: ASE imports :mod:`hdnnp.io` (our ``n2p2`` file-format plugin) while it
is itself importing ``ase.io``, so importing this package must not pull in torch or
anything that imports ``ase.io`` at module level.
"""

from ._version import FORMAT_VERSION, __version__

__all__ = [
    "FORMAT_VERSION",
    "HDNNP",
    "Calculator",
    "Output",
    "__version__",
    "load",
    "read_structures",
]

_LAZY = {
    "load": ("hdnnp.api", "load"),
    "HDNNP": ("hdnnp.potential", "HDNNP"),
    "Calculator": ("hdnnp.calculator", "Calculator"),
    "Output": ("hdnnp.potential", "Output"),
    "read_structures": ("hdnnp.io", "read_structures"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'hdnnp' has no attribute {name!r}")
