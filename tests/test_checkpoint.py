"""fit(checkpoint_dir=, resume=True): a run killed with SIGKILL and resumed ends as an
uninterrupted run with the same seed would, weights and history alike."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

import chromtools as ct

EPOCHS = 40
CHILD = """
import sys, torch, chromtools as ct
torch.set_num_threads(1)
ct.settings.progress = False
adata = ct.datasets.synthetic_histone(2, 400, n_bins=20, seed=0)
ct.pp.split(adata, seed=0)
ct.tl.fit(adata, "deepchrome", cell_types="cell0", epochs={epochs}, seed=0, patience=None,
          checkpoint_dir=sys.argv[1])
"""


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the child's; float sums depend on the thread count
    yield
    torch.set_num_threads(before)


def _data():
    adata = ct.datasets.synthetic_histone(2, 400, n_bins=20, seed=0)
    ct.pp.split(adata, seed=0)
    return adata


def _checkpoint_epoch(path) -> tuple[int, bool]:
    if not path.exists():
        return 0, False
    state = torch.load(path, map_location="cpu", weights_only=True)
    return int(state["epoch"]), bool(state["finished"])


def test_a_killed_fit_resumes_to_the_uninterrupted_result(tmp_path, one_thread):
    folder = tmp_path / "checkpoints"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(epochs=EPOCHS), str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    checkpoint = folder / "fit_deepchrome.pt"
    deadline = time.monotonic() + 240
    while _checkpoint_epoch(checkpoint)[0] < 3 and child.poll() is None:
        assert time.monotonic() < deadline, "the child wrote no checkpoint"
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()[-2000:]
    killed_at, finished = _checkpoint_epoch(checkpoint)
    assert 3 <= killed_at < EPOCHS and not finished  # killed mid-run

    adata = _data()
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", key_added="resumed", epochs=EPOCHS,
              seed=0, patience=None, checkpoint_dir=folder, resume=True)  # fmt: skip
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", key_added="straight", epochs=EPOCHS,
              seed=0, patience=None)  # fmt: skip
    resumed, straight = adata.uns["resumed"], adata.uns["straight"]
    for name, weights in straight["state_dict"].items():
        np.testing.assert_array_equal(resumed["state_dict"][name], weights, err_msg=name)
    pd.testing.assert_frame_equal(resumed["history"], straight["history"])
    pd.testing.assert_frame_equal(resumed["metrics"], straight["metrics"])
    np.testing.assert_array_equal(adata.layers["resumed"], adata.layers["straight"])
    assert _checkpoint_epoch(checkpoint) == (EPOCHS, True)


def test_a_finished_checkpoint_resumes_without_training(tmp_path, one_thread):
    adata = _data()
    options = {"cell_types": "cell0", "epochs": 4, "seed": 0, "checkpoint_dir": tmp_path}
    ct.tl.fit(adata, "deepchrome", key_added="first", **options)
    ct.tl.fit(adata, "deepchrome", key_added="again", resume=True, **options)
    for name, weights in adata.uns["first"]["state_dict"].items():
        np.testing.assert_array_equal(adata.uns["again"]["state_dict"][name], weights)
    pd.testing.assert_frame_equal(adata.uns["again"]["history"], adata.uns["first"]["history"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resume": True}, r"resume=True needs checkpoint_dir="),
        ({"resume": "yes", "checkpoint_dir": "x"}, r"resume must be True or False"),
        ({"checkpoint_dir": 3}, r"checkpoint_dir must be a folder path"),
    ],
)
def test_bad_checkpoint_options_are_refused(tmp_path, options, message):
    adata = _data()
    with pytest.raises(ValueError, match=message):
        ct.tl.fit(adata, "deepchrome", cell_types="cell0", epochs=1, **options)
    assert "deepchrome" not in adata.uns


def test_another_trainings_checkpoint_is_refused(tmp_path):
    adata = _data()
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", epochs=1, checkpoint_dir=tmp_path)
    (tmp_path / "fit_deepchrome.pt").rename(tmp_path / "fit_attentivechrome.pt")
    with pytest.raises(ValueError, match=r"cannot resume from .*checkpoint of 'fit deepchrome'"):
        ct.tl.fit(adata, "attentivechrome", cell_types="cell0", key_added="a", epochs=1,
                  checkpoint_dir=tmp_path, resume=True)  # fmt: skip
