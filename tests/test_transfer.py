"""Transfer across cell types: pretrain, finetune, transfer_matrix, subsample_curve."""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import chromtools as ct
from chromtools.tl import LeakageWarning, NormalizationWarning

FAST = {"epochs": 6, "seed": 0}


@pytest.fixture(scope="module")
def planted():
    """Three cell types with shifted rules; cell2 has ChIP-seq but no RNA-seq."""
    adata = ct.datasets.synthetic_histone(3, 800, n_bins=40, seed=3, expression_missing=["cell2"])
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", cell_types=["cell0"], key_added="source", **FAST)
    return adata


def test_finetune_scores_three_approaches_and_predicts_every_target(planted, tmp_path):
    adata = planted.copy()
    ct.tl.finetune(adata, source="cell0", **FAST)
    result = adata.uns["finetune"]
    metrics = result["metrics"].set_index(["target", "approach"])
    assert set(metrics.index) == {("cell1", a) for a in ("zero_shot", "finetuned", "scratch")}
    assert metrics.loc[("cell1", "zero_shot"), "auroc"] > 0.8  # shared rules carry over
    assert metrics.loc[("cell1", "finetuned"), "n_train"] == (adata.var["split"] == "train").sum()
    assert metrics.loc[("cell1", "zero_shot"), "n_train"] == 0
    # cell2 has no labels: zero-shot predictions that follow its hidden activity
    assert "no training labels" in result["not_evaluated"]["cell2"]
    layer = adata.layers["finetune"]
    assert np.isfinite(layer[1:]).all() and np.isnan(layer[0]).all()
    assert np.corrcoef(layer[2], adata.layers["activity"][2])[0, 1] > 0.7
    # the fine-tuned model is stored and usable by name
    ct.tl.predict(adata, "finetune/cell1", cell_types="cell1")
    np.testing.assert_allclose(adata.layers["finetune_cell1"][1], layer[1], rtol=1e-5, atol=1e-6)
    assert result["params"]["source_key"] == "source"  # the model already fitted on cell0
    table = result["test_predictions"].query("approach == 'zero_shot'")
    assert len(table) == (adata.var["split"] == "test").sum()
    truth = adata.layers["label"][1][adata.var_names.get_indexer(table["gene"])]
    np.testing.assert_array_equal(table["truth"], truth)
    # everything it wrote survives a Zarr round trip, and the stored model still predicts
    ct.io.write_zarr(adata, tmp_path / "tuned.zarr")
    back = ct.io.read_zarr(tmp_path / "tuned.zarr", lazy=False)
    pd.testing.assert_frame_equal(back.uns["finetune"]["metrics"], result["metrics"])
    ct.tl.predict(back, "finetune/cell1", cell_types="cell1")
    np.testing.assert_allclose(back.layers["finetune_cell1"][1], layer[1], rtol=1e-5, atol=1e-6)


def test_finetune_reuses_the_model_fitted_on_the_source(planted):
    adata = planted.copy()
    ct.tl.finetune(adata, source_key="source", target="cell1", scratch=False, **FAST)
    approaches = set(adata.uns["finetune"]["metrics"]["approach"])
    assert approaches == {"zero_shot", "finetuned"}
    assert adata.uns["finetune"]["params"]["source_key"] == "source"
    assert "deepchrome_cell0" not in adata.uns  # nothing new fitted


def test_pretrain_pools_cell_types_and_transfers_to_a_new_one(planted):
    adata = planted.copy()
    ct.tl.pretrain(adata, "deepchrome", ["cell0", "cell1"], **FAST)
    record = adata.uns["pretrain"]
    assert record["config"]["data"]["cell_types"] == ["cell0", "cell1"]
    n_train = (adata.var["split"] == "train").sum()
    assert record["params"]["pretrained"] is True
    test = record["metrics"].query("split == 'test'").set_index("cell_type")["auroc"]
    assert (test > 0.9).all() and len(record["history"]) >= 1
    # the default targets are the cell types it was not trained on: cell2, without labels
    ct.tl.finetune(adata, source_key="pretrain", **FAST)
    assert adata.uns["finetune"]["params"]["targets"] == ["cell2"]
    assert adata.uns["finetune"]["metrics"].empty
    assert np.corrcoef(adata.layers["finetune"][2], adata.layers["activity"][2])[0, 1] > 0.7
    assert n_train == len(record["config"]["data"]["train_genes"])


@pytest.mark.parametrize("strategy", ["full", "freeze_encoder", "discriminative_lr", "head_only"])
def test_strategies_train_what_they_say(planted, strategy):
    adata = planted.copy()
    ct.tl.finetune(
        adata, source_key="source", target="cell1", strategy=strategy, scratch=False, **FAST
    )
    source = adata.uns["source"]["state_dict"]
    tuned = adata.uns["finetune"]["models"]["cell1"]["state_dict"]
    encoder = [k for k in source if k.startswith("encoder")]
    head = [k for k in source if k.startswith("head")]
    encoder_moved = max(np.abs(tuned[k] - source[k]).max() for k in encoder)
    head_moved = max(np.abs(tuned[k] - source[k]).max() for k in head)
    if strategy in ("freeze_encoder", "head_only"):
        assert encoder_moved == 0.0
    else:
        assert encoder_moved > 0.0
    assert head_moved > 0.0
    auroc = adata.uns["finetune"]["metrics"].set_index("approach").loc["finetuned", "auroc"]
    assert auroc > 0.8


def test_batchnorm_statistics_stay_those_of_the_source():
    """ChromTransfer's rule: BatchNorm running statistics are not updated when fine-tuning."""
    adata = ct.datasets.synthetic_sequences(
        500, 60, cell_types=("A",), motifs={"A": "MA0139.2"}, shared_fraction=0, seed=1
    )
    ct.pp.split(adata, seed=0)
    small = {"filters": 16, "hidden": [16]}
    ct.tl.pretrain(
        adata, "chromtransfer", "any", key_added="pre", epochs=2, hyperparameters=small, seed=0
    )
    assert adata.uns["pre"]["params"]["pretrained"] is True
    ct.tl.finetune(adata, source_key="pre", target="A", strategy="full", scratch=False, epochs=2)
    source = adata.uns["pre"]["state_dict"]
    tuned = adata.uns["finetune"]["models"]["A"]["state_dict"]
    running = [k for k in source if k.startswith("encoder") and "running_" in k]
    assert running
    for k in running:
        np.testing.assert_array_equal(tuned[k], source[k])
    weights = [k for k in source if k.startswith("encoder") and k.endswith("weight")]
    assert any(np.abs(tuned[k] - source[k]).max() > 0 for k in weights)


def test_fine_tuning_saves_target_labels():
    """With 2 % or 10 % of the target's labels, transfer beats training from scratch."""
    adata = ct.datasets.synthetic_histone(2, 1200, n_bins=40, depth=(0.05, 0.05), seed=1)
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    summary = ct.tl.subsample_curve(
        adata, "cell0", "cell1", fractions=(0.02, 0.1), n_boot=3, model="deepchrome", epochs=10
    )
    table = summary.set_index(["fraction", "approach"])
    for fraction in (0.02, 0.1):
        finetuned = table.loc[(fraction, "finetuned"), "auroc_mean"]
        scratch = table.loc[(fraction, "scratch"), "auroc_mean"]
        assert finetuned > scratch + 0.03, (fraction, finetuned, scratch)
    assert table.loc[(0.0, "zero_shot"), "auroc_mean"] > 0.75
    assert table.loc[(0.02, "finetuned"), "n_train"] == pytest.approx(14, abs=1)
    runs = adata.uns["subsample_curve"]["runs"]
    assert len(runs) == 1 + 2 * 3 * 2  # zero-shot once; 2 fractions × 3 boots × 2 approaches
    # different subsamples give different scratch models
    assert runs.query("fraction == 0.02 and approach == 'scratch'")["auroc"].nunique() == 3


def test_transfer_matrix_has_the_within_cell_type_diagonal(planted):
    adata = planted.copy()
    matrix = ct.tl.transfer_matrix(adata, model="deepchrome", **FAST)
    assert list(matrix.index) == ["cell0", "cell1"] and list(matrix.columns) == ["cell0", "cell1"]
    assert (matrix.to_numpy() > 0.8).all()
    # cell0's model is the one already fitted on it; cell1's is fitted here
    assert "deepchrome_cell1" in adata.uns
    for cell_type, key in (("cell0", "source"), ("cell1", "deepchrome_cell1")):
        within = adata.uns[key]["metrics"].set_index(["cell_type", "split"])
        diagonal = matrix.loc[cell_type, cell_type]
        assert diagonal == pytest.approx(within.loc[(cell_type, "test"), "auroc"])
    scores = adata.uns["transfer_matrix"]["scores"]
    assert {"source", "target", "auroc", "auprc", "n"} <= set(scores.columns)
    pd.testing.assert_frame_equal(adata.uns["transfer_matrix"]["matrix"], matrix)


def test_a_new_cell_type_without_expression_joins_by_concat(planted):
    """A cell type with ChIP-seq only is concatenated in, then predicted by transfer."""
    reference = planted[["cell0", "cell1"]].copy()
    for key in list(reference.uns):
        if key != "chromtools":
            del reference.uns[key]
    new = ct.datasets.synthetic_histone(3, 800, n_bins=40, seed=3)[["cell2"]].copy()
    new.obs_names = ["new"]
    ct.pp.normalize(new)
    new.X[:] = np.nan
    new.layers["label"][:] = np.nan
    new.var["split"] = reference.var["split"]
    combined = ad.concat([reference, new], uns_merge="same", merge="same")
    combined.uns["chromtools"] = reference.uns["chromtools"]
    ct.tl.finetune(combined, source="cell0", **FAST)
    assert "new" in combined.uns["finetune"]["not_evaluated"]
    predicted = combined.layers["finetune"][combined.obs_names.get_loc("new")]
    assert np.isfinite(predicted).all()
    ct.tl.predict(combined, "finetune/cell1", cell_types="new")
    assert np.isfinite(combined.layers["finetune_cell1"][2]).all()


def test_normalisation_mismatch_and_raw_signal_warn(planted, tmp_path):
    raw = ct.datasets.synthetic_histone(3, 800, n_bins=40, seed=3, expression_missing=["cell2"])
    ct.pp.split(raw, seed=0)
    ct.tl.fit(raw, "deepchrome", cell_types=["cell0"], key_added="raw_model", **FAST)
    with pytest.warns(NormalizationWarning, match="raw, unnormalised signal") as caught:
        ct.tl.finetune(raw, source_key="raw_model", target="cell1", scratch=False, **FAST)
    # the warning points at the user's line, not at the package's internals
    assert {w.filename for w in caught if w.category is NormalizationWarning} == {__file__}
    ct.tl.save_model(raw, "raw_model", tmp_path / "raw")
    adata = planted.copy()
    ct.tl.load_model(adata, tmp_path / "raw", key_added="raw_model")
    with pytest.warns(NormalizationWarning, match="normalised with 'none'.*'depth_log1p'"):
        ct.tl.finetune(adata, source_key="raw_model", target="cell1", scratch=False, **FAST)


def test_default_normalisation_removes_the_depth_difference_of_remc(remc):
    """E003 has ~3x the H3K27me3 and ~2x the H3K4me3 reads of E123; normalize evens them."""
    adata = remc[remc.obs["has_histone"]].copy()
    marks = ct.get.marks(adata)

    def ratio(a: ad.AnnData) -> pd.Series:
        means = np.asarray(ct.get.histone(a)).mean(axis=(1, 3))
        rows = [a.obs_names.get_loc(c) for c in ("E003", "E123")]
        return pd.Series(means[rows[0]] / means[rows[1]], index=marks)

    before = ratio(adata)
    assert before["H3K27me3"] > 2.5 and before["H3K4me3"] > 1.7
    ct.pp.normalize(adata, "depth")
    np.testing.assert_allclose(ratio(adata), 1.0, rtol=1e-5)


def test_leakage_between_splits_is_named(planted):
    adata = planted.copy()
    ct.pp.split(adata, seed=7, key_added="other_split")
    with pytest.warns(LeakageWarning, match=r"trained on \d+ genes that are in the test split"):
        ct.tl.finetune(
            adata, source_key="source", target="cell1", split_key="other_split", scratch=False,
            **FAST,
        )  # fmt: skip
    # the same split: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", LeakageWarning)
        ct.tl.finetune(adata, source_key="source", target="cell1", scratch=False, **FAST)


def test_real_remc_transfer_from_k562_to_h1(remc):
    """E123 → E003 over three splits: zero-shot near the within-E003 model, fine-tuned ≥ it."""
    rows = []
    for seed in (0, 1, 2):
        adata = remc[remc.obs["has_histone"]].copy()
        ct.pp.crop(adata, (-5000, 5000))
        ct.pp.normalize(adata)
        ct.pp.split(adata, seed=seed)
        ct.tl.finetune(adata, source="E123", target="E003", model="deepchrome", seed=seed)
        rows.append(adata.uns["finetune"]["metrics"].set_index("approach")["auroc"])
    mean = pd.DataFrame(rows).mean()
    within = mean["scratch"]  # trained on E003's own training genes
    assert abs(mean["zero_shot"] - within) < 0.03, mean
    # fine-tuning on all of E003's labels is no worse than training on them alone
    # (both near 0.82 on 400 genes; seed-to-seed noise is a few thousandths)
    assert mean["finetuned"] >= within - 0.005, mean
    assert mean["zero_shot"] > 0.75


def test_bad_input_is_refused_before_training(planted, tmp_path):
    adata = planted.copy()
    with pytest.raises(KeyError, match="source='E116' is not in adata.obs_names"):
        ct.tl.finetune(adata, source="E116")
    with pytest.raises(ValueError, match="'cell2' has no fitted model .* no training labels"):
        ct.tl.finetune(adata, source="cell2")
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\], got 0.0"):
        ct.tl.finetune(adata, source_key="source", fraction=0.0)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\], got 1.5"):
        ct.tl.subsample_curve(adata, None, "cell1", source_key="source", fractions=(0.1, 1.5))
    with pytest.raises(ValueError, match="unknown strategy 'freeze'"):
        ct.tl.finetune(adata, source_key="source", strategy="freeze")
    with pytest.raises(KeyError, match="target='nope' is not in adata.obs_names"):
        ct.tl.finetune(adata, source_key="source", target="nope")
    ct.tl.save_model(adata, "source", tmp_path / "m")
    cropped = ct.pp.crop(adata, (-1000, 1000), copy=True)
    cropped.uns["source"] = adata.uns["source"]
    with pytest.raises(ValueError, match="trained on 40 bins of 100 bp .* this object has 20 bins"):
        ct.tl.finetune(cropped, source_key="source", target="cell1")
    fewer = adata.copy()
    fewer.uns["chromtools"]["marks"] = [
        m.replace("H3K9me3", "H3K27ac") for m in ct.get.marks(adata)
    ]
    with pytest.raises(ValueError, match=r"\['H3K9me3'\] are not in this object's marks"):
        ct.tl.finetune(fewer, source_key="source", target="cell1")
    with pytest.raises(ValueError, match="scikit-learn"):
        ct.tl.pretrain(adata, "logreg")
    with pytest.raises(ValueError, match=r"targets \['cell2'\] have no training labels"):
        ct.tl.transfer_matrix(adata, ["cell0"], ["cell2"])
    with pytest.raises(ValueError, match="metric 'pearson' is not one of"):
        ct.tl.transfer_matrix(adata, ["cell0"], ["cell1"], metric="pearson")
    with pytest.raises(ValueError, match="n_boot must be at least 1"):
        ct.tl.subsample_curve(adata, None, "cell1", source_key="source", n_boot=0)


def test_a_cell_type_given_by_its_name_is_refused_with_its_code(remc):
    adata = remc.copy()
    with pytest.raises(KeyError, match=r"'GM12878' is obs\['name'\] of 'E116': pass the code"):
        ct.tl.finetune(adata, source="GM12878", target="E003")
    with pytest.raises(KeyError, match=r"'k562' is obs\['name'\] of 'E123'"):
        ct.tl.finetune(adata, source="E003", target=["k562"])
    with pytest.raises(KeyError, match=r"'H1_Cell_Line' is obs\['name'\] of 'E003'"):
        ct.tl.fit(adata, cell_types=["H1_Cell_Line"])
    # a name that is no cell type's gets no hint
    with pytest.raises(KeyError) as error:
        ct.tl.finetune(adata, source="HeLa", target="E003")
    assert "obs['name']" not in str(error.value)
    assert set(adata.uns) == set(remc.uns)  # refused before any fitting


def test_a_target_without_one_mark_is_refused_naming_the_mark(planted):
    adata = planted.copy()
    target = adata.obs_names.get_loc("cell1")
    adata.obsm["histone"][target, :, 2, :] = np.nan  # cell1 lost its third mark
    adata.obsm["histone"][target, :5, 0, :] = np.nan  # and the first on five genes
    mark, first = ct.get.marks(adata)[2], ct.get.marks(adata)[0]
    ct.tl.fit(adata, "deepchrome", cell_types=["cell0"], key_added="source", **FAST)
    before = set(adata.uns)
    expected = rf"cell1: {first} on 5 of {adata.n_vars} genes, {mark} on {adata.n_vars} of"
    with pytest.raises(ValueError, match=expected):
        ct.tl.finetune(adata, source_key="source", target="cell1", **FAST)
    assert set(adata.uns) == before and "finetune" not in adata.layers
