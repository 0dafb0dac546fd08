"""Shared test fixtures: float64 default and the location of ``../shared/data``.

Tests that need the shared DFT data call :func:`shared_path`; it skips the test when the
data is absent, except in CI (environment variable ``CI`` set), where a missing file is
an error: CI always has ``../shared`` beside the clone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

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
