"""Shared test fixtures: float64 default and the location of ``../shared/data``.

Tests that need the shared DFT data call :func:`shared_path`; it skips the test when the
data is absent, except in CI (environment variable ``CI`` set), where a missing file is
an error: CI always has ``../shared`` beside the clone.
"""

from __future__ import annotations

import os

# 3x3 matrix functions (ASE's cell filters call scipy's expm/logm) become ~100x slower
# with OpenBLAS threads on a loaded 2-core machine; must be set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from pathlib import Path

import numpy as np
import pytest
import torch

from hdnnp.descriptors.params import DescriptorSet, SymmetryFunction
from hdnnp.potential import HDNNP, NetworkSpec
from hdnnp.scaling import ScalingStats

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """Path under ``../shared/data``; skip (or fail in CI) when it does not exist."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        message = f"shared data not available: {path}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must have ../shared beside the clone)")
        pytest.skip(message)
    return path


@pytest.fixture(autouse=True)
def _float64_default():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def cu_potential() -> HDNNP:
    """A small smooth Cu potential (radial + angular, cutoff 4.5 Å) for MD and ASE tests."""
    sfs = [SymmetryFunction("Cu", 2, ("Cu",), eta=2.0, rs=rs, rc=4.5) for rs in (2.2, 2.6, 3.4)]
    sfs += [
        SymmetryFunction("Cu", 3, ("Cu", "Cu"), eta=0.05, zeta=z, lambda_=lam, rc=4.5)
        for z in (1.0, 2.0)
        for lam in (-1.0, 1.0)
    ]
    model = HDNNP(
        DescriptorSet(("Cu",), tuple(sfs)),
        NetworkSpec.uniform(("Cu",), (6,)),
        generator=torch.Generator().manual_seed(5),
    )
    n = len(sfs)
    model.scaler.set_stats(
        [ScalingStats(np.zeros(n), np.full(n, 5.0), np.full(n, 2.0), np.ones(n))], "scale_center"
    )
    return model


def run_cli(capsys, *argv):
    """``hdnnp ARGV...`` in-process: (exit status, stdout, stderr); never a traceback."""
    from hdnnp.cli import main

    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err
