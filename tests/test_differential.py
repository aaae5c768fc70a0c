"""ct.tl.differential (DeepDiff) on a planted difference and on the real Roadmap pair."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest
import torch

import chromtools as ct
from chromtools.models.deepdiff import VARIANTS
from chromtools.tl import _differential
from chromtools.tl.engine._records import rebuild

MARKS = ["H3K4me3", "H3K36me3", "H3K27me3"]
# Tiny encoders and a high learning rate: every variant converges in a dozen
# epochs of ~175 training genes (the defaults are for thousands of genes).
TINY = {"bin_hidden": 8, "mark_hidden": 8}
FAST = {"marks": MARKS, "epochs": 12, "lr": 1e-2, "hyperparameters": TINY, "seed": 0}


@pytest.fixture(scope="module")
def planted():
    """Two cell types whose expression differs through their histone signal.

    Gene activity ``a`` is shared between the cell types at correlation 0.5
    and sets both the marks (H3K4me3, H3K36me3 up, H3K27me3 down with
    ``sigmoid(2a)``) and the counts (``2 ** (8 + 3a + noise)``), under the same
    rules in both (``rule_shift=0``). So the log fold change is planted as
    ``3 (a_1 - a_0)`` plus noise, and readable only from the difference
    between the two cell types' signal.
    """
    adata = ct.datasets.synthetic_histone(
        2, 300, n_bins=20, shared=0.5, rule_shift=0.0, noise=0.3, seed=1
    )
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    return adata


def _planted_fold_change(adata) -> np.ndarray:
    counts = adata.layers["counts"]
    return np.log2(counts[1] + 1) - np.log2(counts[0] + 1)


def _test_row(adata, key: str = "deepdiff", model: str = "deepdiff") -> pd.Series:
    metrics = adata.uns[key]["metrics"]
    return metrics.set_index(["model", "split"]).loc[(model, "test")]


def test_the_planted_difference_is_what_the_activity_says(planted):
    activity = planted.layers["activity"]
    truth = _planted_fold_change(planted)
    assert np.corrcoef(truth, 3 * (activity[1] - activity[0]))[0, 1] > 0.95
    assert truth.std() > 2  # far from constant: predicting the mean is a poor answer


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_learns_the_planted_difference(planted, variant):
    adata = planted.copy()
    ct.tl.differential(adata, "cell0", "cell1", variant=variant, baselines=False, **FAST)
    test = _test_row(adata)
    truth = _planted_fold_change(adata)[adata.var["split"] == "test"]
    assert test["n"] == len(truth)
    assert test["pearson"] >= 0.7, test
    # far better than predicting one value for every gene (MSE = variance)
    assert test["mse"] < 0.5 * truth.var(), (test["mse"], truth.var())
    assert adata.uns["deepdiff"]["config"]["model"]["variant"] == variant


def test_results_and_baselines_are_stored(planted, caplog):
    adata = planted.copy()
    with caplog.at_level(logging.INFO, logger="chromtools"):
        ct.tl.differential(adata, "cell0", "cell1", key_added="dd", **FAST)
    # where the time went, per part, in words and as numbers (benchmarks/transfer.py part 5)
    timed = re.search(r"differential: deepdiff ([\d.]+) s, attentivechrome_difference "
                      r"([\d.]+) s, svr2 ([\d.]+) s", caplog.text)  # fmt: skip
    assert timed and float(timed.group(1)) > 0  # the SVR may round to 0.0 s on 60 genes
    (record,) = [r for r in caplog.records if hasattr(r, "seconds")]
    assert list(record.seconds) == ["deepdiff", "attentivechrome_difference", "svr2"]
    assert round(record.seconds["deepdiff"], 2) == float(timed.group(1))
    for column in ("dd", "dd_attentivechrome_difference", "dd_svr2"):
        values = adata.var[column].to_numpy()
        assert values.dtype.kind == "f" and np.isfinite(values).all(), column
    record = adata.uns["dd"]
    metrics = record["metrics"]
    assert list(metrics.columns) == ["model", "split", "pearson", "spearman", "mse", "n"]
    assert set(metrics["model"]) == {"deepdiff", "attentivechrome_difference", "svr2"}
    assert len(metrics) == 9 and set(metrics["split"]) == {"train", "valid", "test"}
    for model in ("attentivechrome_difference", "svr2"):
        assert _test_row(adata, "dd", model)["pearson"] > 0.7, model
    # the stored metrics are those of the stored predictions
    test = (adata.var["split"] == "test").to_numpy()
    pearson = np.corrcoef(_planted_fold_change(adata)[test], adata.var["dd"][test])[0, 1]
    assert _test_row(adata, "dd")["pearson"] == pytest.approx(pearson, abs=1e-6)

    with pytest.raises(ValueError, match=r"predictions are in adata.var\['dd'\]"):
        ct.tl.predict(adata, "dd")

    params = record["params"]
    assert (params["a"], params["b"], params["variant"]) == ("cell0", "cell1", "raw_aux_siamese")
    assert params["marks"] == MARKS and params["seed"] == 0 and params["lr"] == 1e-2
    assert params["epochs"] == 12 and params["batch_size"] == 32
    assert params["baselines"] == ["attentivechrome_difference", "svr2"]
    assert 1 <= params["best_epoch"] <= 12 and len(record["history"]) <= 12
    data = record["config"]["data"]
    assert data["cell_types"] == ["cell0", "cell1"] and data["marks"] == MARKS
    assert (data["target"], data["task"], data["input"]) == (
        "log_fold_change",
        "regression",
        "histone_pair",
    )
    assert data["n_bins"] == 20 and data["normalization"]["method"] == "depth_log1p"
    assert data["train_genes"] == list(adata.var_names[adata.var["split"] == "train"])

    # config + state dict rebuild the trained network, which predicts what var holds
    network = rebuild(record).eval()
    signal = ct.get.histone(adata, marks=MARKS)[:2].transpose(1, 0, 2, 3)
    with torch.no_grad():
        again = network(torch.from_numpy(np.ascontiguousarray(signal)))["diff"].numpy()
    np.testing.assert_allclose(again, adata.var["dd"], rtol=1e-4, atol=1e-4)


def test_real_roadmap_pair(remc):
    adata = remc.copy()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.differential(adata, "E123", "E003", epochs=8, lr=1e-2, hyperparameters=TINY, seed=0)
    metrics = adata.uns["deepdiff"]["metrics"].set_index(["model", "split"])
    test = metrics.xs("test", level="split")
    assert set(test.index) == {"deepdiff", "attentivechrome_difference", "svr2"}
    assert np.isfinite(test[["pearson", "spearman", "mse"]].to_numpy()).all()
    assert test.loc["deepdiff", "pearson"] > 0.3, test
    assert np.isfinite(adata.var["deepdiff"]).all()
    assert adata.uns["deepdiff"]["config"]["data"]["window"] == [-5000, 5000]


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if anything reaches the training loop."""

    def refuse(*args, **kwargs):
        raise AssertionError("training started before the bad input was refused")

    monkeypatch.setattr(_differential, "train_samples", refuse)


@pytest.mark.usefixtures("no_training")
def test_bad_inputs_are_refused_before_training(planted, remc):
    adata = planted.copy()
    with pytest.raises(ValueError, match="a and b are both 'cell0'"):
        ct.tl.differential(adata, "cell0", "cell0")
    with pytest.raises(KeyError, match=r"\['E123'\] are not in adata.obs_names"):
        ct.tl.differential(adata, "E123", "cell1")
    with pytest.raises(KeyError, match=r"layers\['raw'\] is missing"):
        ct.tl.differential(adata, "cell0", "cell1", layer="raw")
    with pytest.raises(ValueError, match=r"unknown DeepDiff variant 'siamese'.*'raw_aux_siamese'"):
        ct.tl.differential(adata, "cell0", "cell1", variant="siamese")
    with pytest.raises(ValueError, match=r"\['E004'\] have no histone signal"):
        ct.tl.differential(remc, "E123", "E004")
    with pytest.raises(ValueError, match="hyperparameters \\['variant'\\] are set by"):
        ct.tl.differential(adata, "cell0", "cell1", hyperparameters={"variant": "raw"})
    adata.layers["counts"][1, 3] = np.nan
    with pytest.raises(ValueError, match="of 'cell1' is NaN for 1 genes"):
        ct.tl.differential(adata, "cell0", "cell1")
    assert "deepdiff" not in adata.uns and "deepdiff" not in adata.var


def test_same_seed_same_metrics(planted, monkeypatch):
    options = {**FAST, "epochs": 3, "variant": "raw_d", "baselines": False, "device": "cpu"}
    runs = []
    for seed in (3, 3, 4):
        adata = planted.copy()
        ct.tl.differential(adata, "cell0", "cell1", **{**options, "seed": seed})
        runs.append(adata)
    pd.testing.assert_frame_equal(
        runs[0].uns["deepdiff"]["metrics"], runs[1].uns["deepdiff"]["metrics"]
    )
    np.testing.assert_array_equal(runs[0].var["deepdiff"], runs[1].var["deepdiff"])
    assert not np.array_equal(runs[0].var["deepdiff"], runs[2].var["deepdiff"])
    # seed=None follows ct.settings.seed
    monkeypatch.setattr(ct.settings, "seed", 3)
    adata = planted.copy()
    ct.tl.differential(adata, "cell0", "cell1", **{**options, "seed": None})
    assert adata.uns["deepdiff"]["params"]["seed"] == 3
    np.testing.assert_array_equal(adata.var["deepdiff"], runs[0].var["deepdiff"])
