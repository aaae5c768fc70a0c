"""ct.tl.fit / predict / evaluate / save_model / load_model on planted and real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import chromtools as ct


@pytest.fixture(scope="module")
def planted():
    """Two labelled cell types and one with ChIP-seq but no RNA-seq."""
    adata = ct.datasets.synthetic_histone(3, 800, n_bins=40, seed=2, expression_missing=["cell2"])
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    return adata


@pytest.mark.parametrize("model", ["deepchrome", "attentivechrome", "transferchrome", "logreg"])
def test_models_learn_the_planted_rules(planted, model):
    adata = planted.copy()
    ct.tl.fit(adata, model, epochs=6, seed=0)
    metrics = adata.uns[model]["metrics"]
    test = metrics[metrics["split"] == "test"].set_index("cell_type")
    assert list(test.index) == ["cell0", "cell1"]
    assert (test["auroc"] >= 0.95).all(), test
    prediction = adata.layers[model]
    assert np.isfinite(prediction[:2]).all() and np.isnan(prediction[2]).all()
    assert ((prediction[:2] >= 0) & (prediction[:2] <= 1)).all()
    assert adata.uns[model]["params"]["cell_types"] == ["cell0", "cell1"]


def test_regression_on_expression(planted):
    adata = planted.copy()
    ct.tl.fit(adata, "deepchrome", y="expression", epochs=8, key_added="expr")
    metrics = adata.uns["expr"]["metrics"].set_index(["cell_type", "split"])
    assert metrics.loc[("cell0", "test"), "pearson"] > 0.85
    history = adata.uns["expr"]["history"]
    assert {"train_loss", "valid_mse"} <= set(history.columns)
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]


def test_same_seed_same_metrics(planted):
    runs = []
    for _ in range(2):
        adata = planted.copy()
        ct.tl.fit(adata, "deepchrome", epochs=2, seed=5)
        runs.append(adata.uns["deepchrome"]["metrics"])
    pd.testing.assert_frame_equal(runs[0], runs[1])


def test_predict_a_cell_type_without_expression_and_reload(planted, tmp_path):
    adata = planted.copy()
    ct.tl.fit(adata, "attentivechrome", cell_types=["cell0"], epochs=3)
    ct.tl.predict(adata, "attentivechrome", cell_types=["cell2"])
    cell2 = adata.layers["attentivechrome"][2]
    assert np.isfinite(cell2).all()
    # the hidden truth of cell2 is its planted activity: predictions follow it
    assert np.corrcoef(cell2, adata.layers["activity"][2])[0, 1] > 0.7
    ct.tl.save_model(adata, "attentivechrome", tmp_path / "model")
    other = planted.copy()
    ct.tl.load_model(other, tmp_path / "model", key_added="loaded")
    ct.tl.predict(other, "loaded", cell_types=["cell2"])
    np.testing.assert_allclose(other.layers["loaded"][2], cell2, rtol=1e-5, atol=1e-6)
    assert other.uns["loaded"]["config"]["data"]["cell_types"] == ["cell0"]


def test_real_remc_beats_chance(remc):
    adata = remc.copy()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "logreg")
    test = adata.uns["logreg"]["metrics"].query("split == 'test'").set_index("cell_type")
    assert test.loc["E123", "auroc"] > 0.8 and test.loc["E003", "auroc"] > 0.65


def test_bad_input_is_refused_before_training(planted, tmp_path):
    adata = planted.copy()
    with pytest.raises(ValueError, match="unknown model 'deepchrom'; known models"):
        ct.tl.fit(adata, "deepchrom")
    with pytest.raises(ValueError, match="'cell2' has no labels"):
        ct.tl.fit(adata, "deepchrome", cell_types=["cell2"])
    one_class = adata.copy()
    one_class.layers["label"][0] = 1.0
    with pytest.raises(ValueError, match="all .* training labels are 1"):
        ct.tl.fit(one_class, "deepchrome", cell_types=["cell0"])
    with pytest.raises(ValueError, match="model 'svr' does only regression"):
        ct.tl.fit(adata, "svr")
    with pytest.raises(ValueError, match="'deepdiff' reads histone pair input"):
        ct.tl.fit(adata, "deepdiff")
    holes = adata.copy()
    holes.obsm["histone"][0, 3, 0, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite values"):
        ct.tl.fit(holes, "deepchrome", cell_types=["cell0"], epochs=1)
    assert "deepchrome" not in holes.uns
    ct.tl.fit(adata, "deepchrome", cell_types=["cell0"], epochs=1)
    ct.tl.save_model(adata, "deepchrome", tmp_path / "m")
    cropped = ct.pp.crop(adata, (-1000, 1000), copy=True)
    with pytest.raises(ValueError, match="trained on 40 bins of 100 bp"):
        ct.tl.load_model(cropped, tmp_path / "m")
    with pytest.raises(KeyError, match="no fitted model under adata.uns\\['nope'\\]"):
        ct.tl.predict(adata, "nope")


def test_chromtransfer_learns_a_planted_motif_through_fit():
    """Open regions carry a CTCF site and closed ones none: the ResNet must find it."""
    adata = ct.datasets.synthetic_sequences(
        1200, 100, cell_types=("A",), motifs={"A": "MA0139.2"}, shared_fraction=0, seed=0
    )
    ct.pp.split(adata, seed=0)
    ct.tl.fit(
        adata,
        "chromtransfer",
        cell_types="A",
        epochs=10,
        batch_size=64,
        seed=0,
        hyperparameters={"filters": 32, "hidden": [32]},
    )
    metrics = adata.uns["chromtransfer"]["metrics"].set_index("split")
    assert metrics.loc["test", "auroc"] >= 0.95
    assert adata.uns["chromtransfer"]["config"]["data"]["length"] == 100
    predicted = adata.layers["chromtransfer"][adata.obs_names.get_loc("A")]
    assert np.isfinite(predicted).all()
    with pytest.raises(ValueError, match="learns one cell type at a time"):
        ct.tl.fit(adata, "chromtransfer", cell_types=["A", "any"])
