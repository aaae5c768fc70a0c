"""``python -m chromtools``: bad input is refused before any training, in one line."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd
import pytest

import chromtools as ct
from chromtools.__main__ import _parser, main


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    adata = ct.datasets.synthetic_histone(2, 120, n_bins=20, seed=1)
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    path = tmp_path_factory.mktemp("cli") / "s.zarr"
    ct.io.write_zarr(adata, path)
    return path


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if anything is trained."""

    def refuse(*args, **kwargs):
        raise AssertionError("trained before checking where the results go")

    monkeypatch.setattr(ct.tl, "fit", refuse)


def _error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    return captured.err


def test_a_folder_of_the_users_files_is_refused_before_training(
    store, tmp_path, capsys, no_training
):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    err = _error(capsys, ["fit", str(store), "--out", str(mine), "--overwrite"])
    assert err.startswith("python -m chromtools fit: error: ")
    assert f"{mine} holds [notes.txt], which is not a saved chromtools model" in err
    assert (mine / "notes.txt").read_text() == "precious" and len(list(mine.iterdir())) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metrics", "{tmp}/no/m.csv"], "the folder {tmp}/no does not exist"),
        (["--metrics", "{tmp}"], "--metrics: {tmp} is a folder; give a CSV file name"),
        (["--metrics", "{tmp}/old.csv"], "--metrics: {tmp}/old.csv exists; pass --overwrite"),
        (["--seed", "18446744073709551616"], "seed must be an integer from 0 to 2**32 - 1"),
        (["--seed", "4294967296"], "seed must be an integer from 0 to 2**32 - 1 (4294967295)"),
        (["--seed", "-1"], "seed must be an integer from 0 to 2**32 - 1 (4294967295), got -1"),
        (["--out", "{tmp}/old.csv"], "{tmp}/old.csv exists; pass overwrite=True"),
        (["--out", "{tmp}/gone/model"], "the folder {tmp}/gone does not exist"),
    ],
)  # fmt: skip
def test_where_results_go_is_checked_first(store, tmp_path, capsys, no_training, extra, message):
    (tmp_path / "old.csv").write_text("kept")
    if "--out" not in extra:
        extra = ["--out", "{tmp}/model", *extra]
    argv = ["fit", str(store), *[a.format(tmp=tmp_path) for a in extra]]
    assert message.format(tmp=tmp_path) in _error(capsys, argv)
    assert (tmp_path / "old.csv").read_text() == "kept"


def test_bad_store_and_options_are_one_line_errors(store, tmp_path, capsys):
    out = str(tmp_path / "model")
    err = _error(capsys, ["fit", str(tmp_path / "none.zarr"), "--out", out])
    assert f"no Zarr store at {tmp_path / 'none.zarr'}" in err
    err = _error(capsys, ["fit", str(store), "--out", out, "--model", "nope"])
    assert "unknown model 'nope'; known models: [" in err
    err = _error(capsys, ["fit", str(store), "--out", out, "--cell-types", "ZZ"])
    assert "cell_types ['ZZ'] are not in adata.obs_names ['cell0', 'cell1']" in err
    assert not (tmp_path / "model").exists()


def test_a_fit_saves_its_model_and_prints_its_metrics(store, tmp_path, capsys):
    out, csv = tmp_path / "model", tmp_path / "m.csv"
    argv = ["fit", str(store), "--out", str(out), "--epochs", "2", "--metrics", str(csv)]
    assert main(argv) == 0
    printed = pd.DataFrame(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    pd.testing.assert_frame_equal(pd.read_csv(csv), printed, check_dtype=False)
    # the saved model scores as printed
    adata = ct.io.read_zarr(store)
    ct.tl.load_model(adata, out, key_added="loaded")
    ct.tl.predict(adata, "loaded")
    again = ct.tl.evaluate(adata, "loaded")
    np.testing.assert_allclose(again["auroc"], printed["auroc"], rtol=1e-6)
    assert set(printed["split"]) == {"train", "valid", "test"}


def test_a_full_disk_leaves_the_previous_metrics_file_intact(
    store, tmp_path, small_disk, fill_up, capsys
):
    csv = small_disk / "m.csv"
    csv.write_text("the previous run's metrics\n")
    fill_up(small_disk)
    argv = ["fit", str(store), "--out", str(tmp_path / "model"), "--epochs", "1"]
    err = _error(capsys, [*argv, "--metrics", str(csv), "--overwrite"])
    assert err == (
        f"python -m chromtools fit: error: --metrics: cannot write {csv}: No space left on device\n"
    )
    assert csv.read_text() == "the previous run's metrics\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "m.csv"]  # no .tmp-*


def test_a_full_disk_while_the_model_is_saved_is_one_error_line(store, small_disk, fill_up, capsys):
    fill_up(small_disk)
    out = small_disk / "model"
    err = _error(capsys, ["fit", str(store), "--out", str(out), "--epochs", "1"])
    assert err.startswith("python -m chromtools fit: error: ") and err.count("\n") == 1
    assert str(out) in err and "No space left on device" in err
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def _fit_options() -> dict[str, str]:
    """``{option: help}`` of ``python -m chromtools fit``."""
    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    options = commands.choices["fit"]._actions
    return {a.option_strings[-1]: a.help for a in options if a.option_strings}


@pytest.mark.parametrize(
    "option",
    ["--epochs", "--batch-size", "--lr", "--weight-decay", "--patience", "--seed", "--device",
     "--precision", "--y", "--cell-types", "--metrics"],
)  # fmt: skip
def test_every_training_option_says_what_it_is_and_its_default(option):
    text = _fit_options()[option]
    assert "(default: " in text and "TrainingConfig field" not in text


def test_the_seed_option_gives_its_range():
    assert "from 0 to 2**32 - 1 (4294967295)" in _fit_options()["--seed"]
