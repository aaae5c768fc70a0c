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


@pytest.fixture
def one_thread():
    """Run on one thread: tiny models on a shared two-core machine run fastest and steadiest
    so, and float sums then do not depend on the thread count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def restore_settings():
    """Every ``ct.settings`` field as it was before the test."""
    saved = {name: getattr(ct.settings, name) for name in ct.settings.__dataclass_fields__}
    yield
    for name, value in saved.items():
        setattr(ct.settings, name, value)


@pytest.fixture
def close_figures():
    """Every matplotlib figure closed after the test (plot tests use it)."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


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


@pytest.fixture(scope="session")
def sequence_results():
    """Two ChromTransfer models (cell types A and B) on 300 synthetic 100 bp regions,
    with gradient×input, every JASPAR2024 vertebrate CORE site (p < 1e-4) and the
    enrichment of A's model joined with B's. Shared by the plot and round-trip tests;
    copy it before changing it."""
    adata = ct.datasets.synthetic_sequences(300, 100, seed=0)
    ct.pp.split(adata, seed=0)
    for cell_type in ("A", "B"):
        key = f"ct_{cell_type}"
        small = {"filters": 16, "hidden": [16]}
        ct.tl.fit(adata, "chromtransfer", cell_types=cell_type, key_added=key, epochs=3,
                  batch_size=64, seed=0, hyperparameters=small)  # fmt: skip
        ct.tl.attribute(adata, key)
    ct.tl.scan_motifs(adata, pvalue=1e-4)
    ct.tl.motif_enrichment(adata, "ct_A", min_sites=10, positive_only=False, reference="ct_B")
    return adata


def _tmpfs(folder: Path, options: str, what: str):
    """Mount a tmpfs with ``options`` on the new ``folder``, yield it, unmount it; skipped (with
    the reason) where this process may not mount one."""
    import subprocess

    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount {what} here: {mounted.stderr.strip() or 'not root'}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path):
    """A folder on its own 4 MiB tmpfs, to fill up: a full disk, for real."""
    yield from _tmpfs(tmp_path / "small_disk", "size=4m", "a small tmpfs")


def fill(folder: Path, leave: int = 0) -> None:
    """Fill the file system of ``folder`` until at most ``leave`` bytes are free."""
    with open(folder / "filler", "wb") as filler:
        block = b"\0" * 65536
        while True:
            free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
            if free <= leave:
                break
            try:
                filler.write(block[: max(1, min(len(block), free - leave))])
                filler.flush()
            except OSError:
                break


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder on a read-only tmpfs (root may write into a chmod 555 folder; not here)."""
    yield from _tmpfs(tmp_path / "read_only", "size=1m,ro", "a read-only tmpfs")


@pytest.fixture
def fill_up():
    """:func:`fill`, for tests on ``small_disk``: ``fill_up(folder, leave=bytes)``."""
    return fill
