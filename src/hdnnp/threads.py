"""CPU threads of the two parallel runtimes hdnnp uses: PyTorch and the numba kernels."""

from __future__ import annotations

import torch


def set_threads(threads: int) -> int:
    """Use ``threads`` CPU threads in torch and in the numba kernels (numba's share is
    capped at the pool it started with, ``NUMBA_NUM_THREADS``); returns ``threads``."""
    torch.set_num_threads(threads)
    try:
        import numba
    except ImportError:
        return threads
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return threads
