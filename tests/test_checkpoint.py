"""fit, pretrain and finetune with checkpoint_dir= and resume=True: a run killed with
SIGKILL and resumed ends as an uninterrupted run with the same seed would, weights,
histories, metrics and predictions alike; finished trainings are not run again."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import chromtools as ct

EPOCHS = 20
# The child imports this module and runs one of its trainings below, so both sides train
# on the same data with the same options; only the checkpoint options differ.
CHILD = """
import sys, torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
import test_checkpoint as here
here.ct.settings.progress = False
here.{run}(here.data(), checkpoint_dir=sys.argv[2])
"""


def data():
    adata = ct.datasets.synthetic_histone(3, 200, n_bins=20, seed=0)
    ct.pp.split(adata, seed=0)
    return adata


def fit(adata, epochs=EPOCHS, **options):
    ct.tl.fit(
        adata, "deepchrome", cell_types="cell0", epochs=epochs, seed=0, patience=None, **options
    )


def pretrain(adata, epochs=EPOCHS, **options):
    ct.tl.pretrain(
        adata, "deepchrome", ["cell0", "cell1"], epochs=epochs, seed=0, patience=None, **options
    )


def finetune(adata, epochs=EPOCHS, **options):
    # three trainings in this order: the source model on cell0 (fitted now), then the target
    # cell1 fine-tuned and trained from scratch
    ct.tl.finetune(adata, "cell0", "cell1", epochs=epochs, seed=0, patience=None, **options)


TRAININGS = {"fit": fit, "pretrain": pretrain, "finetune": finetune}
FILES = {
    "fit": ["fit_deepchrome.pt"],
    "pretrain": ["fit_deepchrome.pt"],
    "finetune": ["fit_deepchrome.pt", "finetune_cell1_finetuned.pt", "finetune_cell1_scratch.pt"],
}


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the child's; float sums depend on the thread count
    yield
    torch.set_num_threads(before)


def _checkpoint_epoch(path: Path) -> tuple[int, bool]:
    if not path.exists():
        return 0, False
    state = torch.load(path, map_location="cpu", weights_only=True)
    return int(state["epoch"]), bool(state["finished"])


def _kill_mid_training(run: str, folder: Path, checkpoint: str) -> None:
    """Run ``TRAININGS[run]`` in a child process and SIGKILL it once ``checkpoint`` holds
    epoch 2 or later, before that training finished."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(run=run), str(Path(__file__).parent), str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    path = folder / checkpoint
    deadline = time.monotonic() + 240
    while _checkpoint_epoch(path)[0] < 2 and child.poll() is None:
        assert time.monotonic() < deadline, f"the child wrote no {checkpoint}"
        time.sleep(0.01)
    child.kill()
    child.wait()
    assert child.returncode == -signal.SIGKILL, child.stderr.read().decode()[-2000:]
    killed_at, finished = _checkpoint_epoch(path)
    assert 2 <= killed_at < EPOCHS and not finished  # killed mid-training


def _assert_same(resumed: object, straight: object, where: str = "") -> None:
    """Equal to the last bit: mappings entry by entry, tables exactly, arrays and values."""
    if isinstance(straight, Mapping):
        assert set(resumed) == set(straight), where
        for name in straight:
            _assert_same(resumed[name], straight[name], f"{where}[{name!r}]")
    elif isinstance(straight, pd.DataFrame):
        pd.testing.assert_frame_equal(resumed, straight, check_exact=True, obj=where)
    else:
        np.testing.assert_array_equal(resumed, straight, err_msg=where)


def _written(folder: Path) -> dict[str, int]:
    """When each checkpoint was last written (ns): unchanged if its training did not run.
    A kill may leave the partial file of a write under way (``.<name>.partial``): not one."""
    return {
        path.name: path.stat().st_mtime_ns
        for path in folder.iterdir()
        if not path.name.startswith(".")
    }


@pytest.mark.parametrize(
    ("run", "killed_in"),
    [
        ("fit", "fit_deepchrome.pt"),
        ("pretrain", "fit_deepchrome.pt"),
        # the source fit and the fine-tuning are done when the from-scratch training is killed
        ("finetune", "finetune_cell1_scratch.pt"),
    ],
)
def test_a_killed_training_resumes_to_the_uninterrupted_result(
    tmp_path, one_thread, run, killed_in
):
    folder = tmp_path / "checkpoints"
    _kill_mid_training(run, folder, killed_in)
    done = FILES[run][: FILES[run].index(killed_in)]
    before = _written(folder)
    assert sorted(before) == sorted([*done, killed_in])
    assert all(_checkpoint_epoch(folder / name) == (EPOCHS, True) for name in done)

    resumed, straight = data(), data()
    TRAININGS[run](resumed, checkpoint_dir=folder, resume=True)
    TRAININGS[run](straight)
    _assert_same(resumed.uns, straight.uns, "uns")
    _assert_same(dict(resumed.layers), dict(straight.layers), "layers")
    after = _written(folder)
    assert {name: after[name] for name in done} == {name: before[name] for name in done}
    assert after[killed_in] != before[killed_in]
    assert {name: _checkpoint_epoch(folder / name) for name in after} == {
        name: (EPOCHS, True) for name in FILES[run]
    }


@pytest.mark.parametrize("run", list(TRAININGS))
def test_a_finished_checkpoint_resumes_without_training(tmp_path, one_thread, run):
    first, again = data(), data()
    TRAININGS[run](first, epochs=3, checkpoint_dir=tmp_path)
    written = _written(tmp_path)
    assert sorted(written) == sorted(FILES[run])
    TRAININGS[run](again, epochs=3, checkpoint_dir=tmp_path, resume=True)
    assert _written(tmp_path) == written  # no training ran, so no checkpoint was rewritten
    _assert_same(again.uns, first.uns, "uns")
    _assert_same(dict(again.layers), dict(first.layers), "layers")


@pytest.mark.parametrize("run", list(TRAININGS))
@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"resume": True}, r"resume=True needs checkpoint_dir="),
        ({"resume": "yes", "checkpoint_dir": "checkpoints"}, r"resume must be True or False"),
        ({"checkpoint_dir": 3}, r"checkpoint_dir must be a folder path"),
        ({"checkpoint_dir": "notes.txt"}, r"checkpoint_dir='notes.txt' exists and is not a folder"),
    ],
)
def test_bad_checkpoint_options_are_refused(tmp_path, monkeypatch, run, options, message):
    monkeypatch.chdir(tmp_path)
    Path("notes.txt").write_text("not a folder")
    adata = data()
    uns, layers = set(adata.uns), set(adata.layers)
    with pytest.raises(ValueError, match=message):
        TRAININGS[run](adata, epochs=1, **options)
    # refused before any work: no source model fitted, nothing stored, nothing written
    assert (set(adata.uns), set(adata.layers)) == (uns, layers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert Path("notes.txt").read_text() == "not a folder"


def test_another_models_checkpoint_is_refused(tmp_path):
    adata = data()
    fit(adata, epochs=1, checkpoint_dir=tmp_path)
    (tmp_path / "fit_deepchrome.pt").rename(tmp_path / "fit_attentivechrome.pt")
    with pytest.raises(ValueError, match=r"cannot resume from .*checkpoint of 'fit deepchrome'"):
        ct.tl.fit(adata, "attentivechrome", cell_types="cell0", key_added="a", epochs=1,
                  checkpoint_dir=tmp_path, resume=True)  # fmt: skip


@pytest.mark.parametrize(
    "other",
    [{"cell_types": "cell1"}, {"seed": 5}, {"lr": 0.01}],
    ids=["other cell types", "other seed", "other options"],
)
def test_the_checkpoint_of_another_training_of_the_same_model_is_refused(tmp_path, other):
    adata = data()
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", epochs=1, checkpoint_dir=tmp_path)
    options = {"cell_types": "cell0", "epochs": 1, **other}
    with pytest.raises(ValueError, match="written by a training of other samples"):
        ct.tl.fit(adata, "deepchrome", checkpoint_dir=tmp_path, resume=True, **options)


FINETUNED_CELL1 = "finetune → cell1 (discriminative_lr, fraction 1)"


@pytest.mark.parametrize(
    ("moved", "options", "refused"),
    [
        pytest.param(
            ("finetune_cell1_scratch.pt", "finetune_cell1_finetuned.pt"),
            {},
            "scratch cell1 (fraction 1)",
            id="another approach",
        ),
        pytest.param(
            ("finetune_cell1_finetuned.pt", "finetune_cell2_finetuned.pt"),
            {},
            FINETUNED_CELL1,
            id="another target",
        ),
        pytest.param(None, {"strategy": "full"}, FINETUNED_CELL1, id="another strategy"),
        pytest.param(None, {"fraction": 0.5}, FINETUNED_CELL1, id="another fraction"),
    ],
)
def test_another_transfers_checkpoint_is_refused(tmp_path, moved, options, refused):
    adata = data()
    ct.tl.finetune(adata, "cell0", "cell1", epochs=1, checkpoint_dir=tmp_path)
    if moved is not None:
        (tmp_path / moved[0]).replace(tmp_path / moved[1])
    again = data()
    with pytest.raises(
        ValueError, match=rf"cannot resume from .*checkpoint of '{re.escape(refused)}'"
    ):
        ct.tl.finetune(again, "cell0", ["cell1", "cell2"], epochs=1, checkpoint_dir=tmp_path,
                       resume=True, **options)  # fmt: skip
    assert "finetune" not in again.uns
