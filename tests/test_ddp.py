"""Data-parallel training under torchrun: two CPU processes (gloo) against one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import chromtools as ct

TORCHRUN = Path(sys.executable).with_name("torchrun")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    adata = ct.datasets.synthetic_histone(2, 2000, n_bins=40, seed=0)
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    path = tmp_path_factory.mktemp("ddp") / "signal.zarr"
    ct.io.write_zarr(adata, path, chunk_genes=256)
    return path


def _fit(store: Path, out: Path, launcher: list[str]) -> pd.DataFrame:
    """Run ``python -m chromtools fit`` under ``launcher``; the metrics it printed."""
    command = [
        *launcher, "-m", "chromtools", "fit", str(store), "--out", str(out),
        "--epochs", "4", "--seed", "0", "--metrics", str(out.with_suffix(".csv")),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert len(printed) == 1  # rank 0 alone reports
    return pd.DataFrame(json.loads(printed[0]))


@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun is not installed next to python")
def test_two_processes_reach_the_metrics_of_one(store, tmp_path):
    one = _fit(store, tmp_path / "one", [sys.executable])
    two = _fit(store, tmp_path / "two", [str(TORCHRUN), "--nproc-per-node", "2", "--standalone"])
    test_one = one[one["split"] == "test"].set_index("cell_type")["auroc"]
    test_two = two[two["split"] == "test"].set_index("cell_type")["auroc"]
    assert (test_one > 0.95).all() and (test_two > 0.95).all()
    np.testing.assert_allclose(test_two, test_one, atol=0.01)
    # the model each saved is the one trained: it loads and predicts what was scored
    adata = ct.io.read_zarr(store, lazy=False)
    ct.tl.load_model(adata, tmp_path / "two", key_added="two")
    ct.tl.predict(adata, "two")
    again = ct.tl.evaluate(adata, "two")
    again = again[again["split"] == "test"].set_index("cell_type")["auroc"]
    np.testing.assert_allclose(again, test_two, rtol=1e-6)
