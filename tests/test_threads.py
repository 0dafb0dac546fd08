"""CPU thread settings of torch and the numba kernels."""

from __future__ import annotations

import numba
import torch

from hdnnp.threads import set_threads


def test_set_threads_sets_both_runtimes_and_caps_numba():
    before = torch.get_num_threads(), numba.get_num_threads()
    try:
        assert set_threads(1) == 1
        assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
        set_threads(numba.config.NUMBA_NUM_THREADS + 7)  # more than numba's pool: no error
        assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS
    finally:
        torch.set_num_threads(before[0])
        numba.set_num_threads(before[1])
