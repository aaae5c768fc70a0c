"""fit, pretrain and finetune with checkpoint_dir= and resume=True: a run killed with
SIGKILL and resumed ends as an uninterrupted run with the same seed would, weights,
histories, metrics and predictions alike; finished trainings are not run again."""

from __future__ import annotations

import io
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

import chromtools as ct
from chromtools.tl.engine._checkpoint import read_checkpoint

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


def _checkpoint_epoch(path: Path) -> tuple[int, bool]:
    if not path.exists():
        return 0, False
    _, state = read_checkpoint(path)
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
    with pytest.raises(
        ValueError, match=r"cannot resume from .*what is trained \('fit deepchrome' then"
    ):
        ct.tl.fit(adata, "attentivechrome", cell_types="cell0", key_added="a", epochs=1,
                  checkpoint_dir=tmp_path, resume=True)  # fmt: skip


@pytest.mark.parametrize(
    ("other", "differs"),
    [
        ({"cell_types": "cell1"}, r"the samples \(cell types, genes or targets\)"),
        ({"seed": 5}, r"the training options \(seed 0 then, 5 now\)"),
        ({"lr": 0.01}, r"the training options \(lr 0\.001 then, 0\.01 now\)"),
    ],
    ids=["other cell types", "other seed", "other options"],
)
def test_the_checkpoint_of_another_training_of_the_same_model_is_refused(tmp_path, other, differs):
    adata = data()
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", epochs=1, seed=0, checkpoint_dir=tmp_path)
    options = {"cell_types": "cell0", "epochs": 1, "seed": 0, **other}
    with pytest.raises(ValueError, match=rf"written by another run; what differs: .*{differs}"):
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
        ValueError, match=rf"cannot resume from .*what is trained \('{re.escape(refused)}' then"
    ):
        ct.tl.finetune(again, "cell0", ["cell1", "cell2"], epochs=1, checkpoint_dir=tmp_path,
                       resume=True, **options)  # fmt: skip
    assert "finetune" not in again.uns


# --- a checkpoint resumes only its own run ------------------------------------------------


def _normalised(method):
    def change(adata):
        ct.pp.normalize(adata, method)

    return change


def _other_marks(adata):
    return {"marks": ct.get.marks(adata)[1:4]}


def _same_names_other_values(adata):
    adata.obsm["histone"][0] += 0.5  # cell0's signal, nothing else changed


@pytest.mark.parametrize(
    ("first", "then", "differs"),
    [
        pytest.param(
            lambda a: {"marks": ct.get.marks(a)[:3]},
            _other_marks,
            r"the data \(marks \[.*\] then, \[.*\] now\).*the input values",
            id="other marks",
        ),
        pytest.param(
            lambda a: {"hyperparameters": {"pool_size": 5}},
            lambda a: {"hyperparameters": {"pool_size": 4}},
            r"the model \(pool_size 5 then, 4 now\)",
            id="pool_size 5 then 4",
        ),
        pytest.param(
            lambda a: None,
            _normalised("depth_log1p"),
            r"the data \(normalization \{'method': 'none'\} then, \{'method': 'depth_log1p'",
            id="raw then depth_log1p",
        ),
        pytest.param(
            _normalised("log1p"),
            _normalised("depth_log1p"),
            r"the data \(normalization \{'method': 'log1p'.* then, \{'method': 'depth_log1p'",
            id="log1p then depth_log1p",
        ),
        pytest.param(
            lambda a: None,
            _same_names_other_values,
            r"what differs: the input values \(the signal",
            id="same names, other values",
        ),
    ],
)
def test_resume_refuses_a_checkpoint_of_other_data_or_hyperparameters(
    tmp_path, first, then, differs
):
    """The weights of a run on other marks, signal or architecture never come back."""
    before = data()
    options = first(before) or {}
    fit(before, epochs=2, checkpoint_dir=tmp_path, **options)
    after = data()
    options = then(after) or options
    written = (tmp_path / "fit_deepchrome.pt").read_bytes()
    with pytest.raises(ValueError, match=rf"cannot resume from .*another run; .*{differs}"):
        fit(after, epochs=2, checkpoint_dir=tmp_path, resume=True, **options)
    assert "deepchrome" not in after.uns
    assert (tmp_path / "fit_deepchrome.pt").read_bytes() == written


def test_resume_refuses_a_checkpoint_of_another_chromtools_major_version(tmp_path, monkeypatch):
    adata = data()
    fit(adata, epochs=1, checkpoint_dir=tmp_path)
    monkeypatch.setattr("chromtools.tl.engine._checkpoint.VERSION", "1.0.0")
    with pytest.raises(ValueError, match=r"the chromtools major version \('chromtools 0' then"):
        fit(data(), epochs=1, checkpoint_dir=tmp_path, resume=True)


def test_finetune_refuses_the_checkpoint_of_a_fine_tune_from_another_source(tmp_path):
    """Same target, strategy and fraction; only the source model (its weights) differs."""
    adata = data()
    for key, cell_type in (("srcA", "cell0"), ("srcB", "cell2")):
        ct.tl.fit(adata, "deepchrome", cell_types=cell_type, key_added=key, epochs=1, seed=0)
    options = {"target": "cell1", "epochs": 1, "seed": 0, "scratch": False}
    ct.tl.finetune(adata, source_key="srcA", checkpoint_dir=tmp_path, **options)
    with pytest.raises(ValueError, match=r"what differs: .*the source model \(its weights\)"):
        ct.tl.finetune(adata, source_key="srcB", checkpoint_dir=tmp_path, resume=True, **options)


def _tensor_data(payload: bytes) -> list[tuple[int, int]]:
    """(offset, size) of each tensor's bytes inside torch.save's zip archive."""
    import struct
    import zipfile

    spans = []
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        for info in archive.infolist():
            if "/data/" in info.filename:
                header = payload[info.header_offset : info.header_offset + 30]
                name_length, extra_length = struct.unpack("<HH", header[26:30])
                start = info.header_offset + 30 + name_length + extra_length
                spans.append((start, info.file_size))
    return spans


def test_a_checkpoint_with_overwritten_tensor_bytes_is_refused(tmp_path):
    """64 bytes overwritten inside every tensor of a finished checkpoint: resume refuses it
    as a StoreError naming the file, instead of training on from the planted values."""
    adata = data()
    fit(adata, epochs=2, checkpoint_dir=tmp_path)
    path = tmp_path / "fit_deepchrome.pt"
    raw = bytearray(path.read_bytes())
    payload_start = raw.index(b"\n", len(b"chromtools-checkpoint/1\n")) + 1
    spans = _tensor_data(bytes(raw[payload_start:]))
    assert len(spans) > 10  # weights, best weights, optimizer moments, random states
    for start, size in spans:
        at = payload_start + start + max(0, size // 2 - 32)
        raw[at : at + min(64, size)] = b"\x7f" * min(64, size)
    path.write_bytes(bytes(raw))
    again = data()
    with pytest.raises(ct.StoreError, match=rf"checkpoint {re.escape(str(path))} is damaged"):
        fit(again, epochs=2, checkpoint_dir=tmp_path, resume=True)
    assert "deepchrome" not in again.uns


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "is an empty file"), (b"PK\x03\x04 a user's torch file", "is not a chromtools")],
    ids=["empty", "not ours"],
)
def test_a_file_that_is_not_a_checkpoint_is_refused_and_kept(tmp_path, content, message):
    path = tmp_path / "fit_deepchrome.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))} (exists and )?is"):
        fit(data(), epochs=1, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(ValueError, match=r"is not a chromtools checkpoint; chromtools replaces"):
        fit(data(), epochs=1, checkpoint_dir=tmp_path)  # nor overwritten by a fresh run
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit_deepchrome.pt"]


# --- checkpoint destinations are checked before any work -----------------------------------


def _untouched(adata) -> bool:
    return "deepchrome" not in adata.uns and "deepchrome" not in adata.layers


def test_an_empty_checkpoint_dir_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    adata = data()
    with pytest.raises(ValueError, match=r"checkpoint_dir='' names no folder"):
        fit(adata, epochs=1, checkpoint_dir="")
    assert _untouched(adata) and not any(tmp_path.iterdir())


def test_a_folder_where_the_checkpoint_goes_is_refused_before_training(tmp_path):
    (tmp_path / "fit_deepchrome.pt").mkdir()
    adata = data()
    with pytest.raises(IsADirectoryError, match=r"fit_deepchrome.pt is a folder"):
        fit(adata, epochs=1, checkpoint_dir=tmp_path)
    assert _untouched(adata)
    assert [p.name for p in tmp_path.iterdir()] == ["fit_deepchrome.pt"]


def test_an_unwritable_checkpoint_dir_is_refused_before_training(read_only_folder):
    adata = data()
    for folder in (read_only_folder, read_only_folder / "new" / "deeper"):
        with pytest.raises(OSError, match=r"checkpoint_dir: cannot write .*Read-only"):
            fit(adata, epochs=1, checkpoint_dir=folder)
    assert _untouched(adata)


def test_a_checkpoint_dir_below_a_file_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    adata = data()
    with pytest.raises(ValueError, match=r"cannot be created: '.*notes.txt' is a file"):
        fit(adata, epochs=1, checkpoint_dir=tmp_path / "notes.txt" / "checkpoints")
    assert _untouched(adata) and (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("inside", ["", "checkpoints"])
def test_a_checkpoint_dir_in_a_store_is_refused(tmp_path, inside):
    store = tmp_path / "s.zarr"
    ct.io.write_zarr(data(), store)
    listing = sorted(p.name for p in store.iterdir())
    adata = data()
    with pytest.raises(ValueError, match=r"is inside the Zarr store"):
        fit(adata, epochs=1, checkpoint_dir=store / inside)
    assert _untouched(adata) and sorted(p.name for p in store.iterdir()) == listing
    ct.io.write_zarr(adata, store, overwrite=True)  # the store is still ours to replace


def test_the_command_line_refuses_a_checkpoint_dir_in_its_store(tmp_path, capsys):
    from chromtools.__main__ import main

    store = tmp_path / "s.zarr"
    ct.io.write_zarr(data(), store)
    status = main(["fit", str(store), "--out", str(tmp_path / "model"), "--epochs", "1",
                   "--checkpoint-dir", str(store)])  # fmt: skip
    assert status == 2
    assert "is inside the Zarr store" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


def test_a_full_disk_keeps_the_previous_checkpoint_and_leaves_no_debris(small_disk, fill_up):
    fit(data(), epochs=1, checkpoint_dir=small_disk)
    path = small_disk / "fit_deepchrome.pt"
    before = path.read_bytes()
    fill_up(small_disk, leave=len(before) // 2)
    adata = data()
    with pytest.raises(OSError, match=rf"cannot write {re.escape(str(path))}: No space left"):
        fit(adata, epochs=2, checkpoint_dir=small_disk)
    assert path.read_bytes() == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "fit_deepchrome.pt"]
    assert _untouched(adata)
