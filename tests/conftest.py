"""Shared fixtures: the real Roadmap data of ../shared/data and small synthetic objects."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import chromtools as ct

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def pytest_configure(config: pytest.Config) -> None:
    """One torch thread per xdist worker: two workers × two threads on two cores
    oversubscribe them, and spinning OpenMP threads then slow training ~5×."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _quiet_progress():
    """Progress bars off in tests; restored afterwards."""
    before = ct.settings.progress
    ct.settings.progress = False
    yield
    ct.settings.progress = before


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real data are not at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def synthetic():
    """Three cell types × 60 genes × 5 marks × 20 bins, planted rules."""
    return ct.datasets.synthetic_histone(3, 60, n_bins=20, seed=7)


@pytest.fixture(scope="session")
def remc():
    return ct.datasets.remc_sample()
