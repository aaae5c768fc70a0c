"""ct.tl refuses bad arguments before any work, and never stores a silently wrong result."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest

import chromtools as ct
from chromtools._results import RESERVED_KEYS
from chromtools.tl import NormalizationWarning
from chromtools.tl.engine._data import Batches, Inputs
from chromtools.tl.engine._metrics import bootstrap_interval, score

TINY = {"epochs": 1, "seed": 0}


@pytest.fixture(scope="module")
def planted():
    """Three cell types; cell2 has ChIP-seq but no RNA-seq; a DeepChrome fitted on cell0."""
    adata = ct.datasets.synthetic_histone(3, 80, n_bins=20, seed=3, expression_missing=["cell2"])
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", cell_types=["cell0"], key_added="source", **TINY)
    return adata


@pytest.fixture
def adata(planted):
    return planted.copy()


def snapshot(adata) -> tuple:
    """What a refused call must leave as it was."""
    return (
        sorted(adata.uns),
        sorted(adata.layers),
        sorted(adata.obsm),
        list(adata.var.columns),
        np.asarray(adata.layers["label"]).copy(),
        np.asarray(adata.layers.get("source", np.zeros(1))).copy(),
    )


def assert_unchanged(adata, before: tuple) -> None:
    after = snapshot(adata)
    assert after[:4] == before[:4]
    for old, new in zip(before[4:], after[4:], strict=True):
        np.testing.assert_array_equal(old, new)


# 1. training options: one check for every training function ------------------------------

CALLS = {
    "fit": lambda a, **o: ct.tl.fit(a, "deepchrome", cell_types=["cell0"], key_added="x", **o),
    "finetune": lambda a, **o: ct.tl.finetune(a, source_key="source", target="cell1", **o),
    "pretrain": lambda a, **o: ct.tl.pretrain(a, "deepchrome", ["cell0", "cell1"], **o),
    "subsample_curve": lambda a, **o: ct.tl.subsample_curve(
        a, None, "cell1", source_key="source", fractions=(0.5,), n_boot=1, **o
    ),
    "transfer_matrix": lambda a, **o: ct.tl.transfer_matrix(a, ["cell1"], ["cell0"], **o),
    "differential": lambda a, **o: ct.tl.differential(a, "cell0", "cell1", **o),
}

BAD_OPTIONS = [
    ({"epochs": 0}, r"epochs must be .*integer.*, got 0"),
    ({"epochs": -3}, r"epochs must be .*integer.*, got -3"),
    ({"epochs": 2.5}, r"epochs must be .*integer.*, got 2.5"),
    ({"batch_size": -5}, r"batch_size must be .*integer.*, got -5"),
    ({"batch_size": 0}, r"batch_size must be .*integer.*, got 0"),
    ({"lr": -0.1}, "lr must be > 0, got -0.1"),
    ({"lr": math.nan}, "lr must be a finite number, got nan"),
    ({"weight_decay": -1e-4}, "weight_decay must be >= 0"),
    ({"patience": -1}, r"patience must be .*integer.*, got -1; pass patience=None"),
    ({"patience": 1.5}, r"patience must be .*integer.*, got 1.5"),
    ({"device": "tpu"}, r"device must be one of \['auto', 'cpu', 'cuda', 'mps'\]"),
    ({"seed": "abc"}, r"seed must be .*integer.*, got 'abc'"),
    ({"seed": -1}, r"seed must be .*, got -1"),
    ({"precision": "fp16"}, r"precision must be one of \['auto', 'bf16', 'fp32'\], got 'fp16'"),
]


@pytest.mark.parametrize("function", list(CALLS))
@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_training_options_are_refused_before_training(adata, function, options, message):
    before = snapshot(adata)
    with pytest.raises(ValueError, match=message):
        CALLS[function](adata, **options)
    assert_unchanged(adata, before)


def test_direct_callers_of_the_loader_get_the_same_check():
    adata = ct.datasets.synthetic_histone(1, 10, n_bins=10, seed=0)
    with pytest.raises(ValueError, match=r"batch_size must be .*integer.*, got 0"):
        Batches(Inputs.histone(adata), np.zeros(10), np.arange(10), batch_size=0)


def test_a_diverged_network_is_not_stored(adata):
    before = snapshot(adata)
    with pytest.raises(ValueError, match=r"training diverged, \d+ weights are NaN or infinite"):
        ct.tl.fit(adata, "deepchrome", cell_types=["cell0"], epochs=2, lr=1e30)
    assert_unchanged(adata, before)


# 2. key_added ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", RESERVED_KEYS)
def test_fit_refuses_a_reserved_key(adata, key):
    before = snapshot(adata)
    with pytest.raises(ValueError, match=f"key_added='{key}' is a reserved name"):
        ct.tl.fit(adata, "deepchrome", key_added=key, **TINY)
    assert_unchanged(adata, before)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda a: ct.tl.fit(a, "deepchrome", key_added="activity", **TINY),
            r"would overwrite layers\['activity'\], which is not a model result",
        ),
        (
            lambda a: ct.tl.fit(a, "deepchrome", key_added="deep/chrome", **TINY),
            "contains '/', which Zarr and HDF5 cannot store",
        ),
        (
            lambda a: ct.tl.fit(a, "deepchrome", key_added="", **TINY),
            "key_added must be a non-empty string",
        ),
        (
            lambda a: ct.tl.finetune(a, source_key="source", key_added="label", **TINY),
            "key_added='label' is a reserved name",
        ),
        (
            lambda a: ct.tl.finetune(a, source_key="source", key_added="source", **TINY),
            r"would overwrite uns\['source'\] \(a model result\)",
        ),
        (
            lambda a: ct.tl.transfer_matrix(a, key_added="synthetic", **TINY),
            r"would overwrite uns\['synthetic'\] \(not a result\)",
        ),
        (
            lambda a: ct.tl.subsample_curve(
                a, None, "cell1", source_key="source", key_added="histone", **TINY
            ),
            "key_added='histone' is a reserved name",
        ),
        (
            lambda a: ct.tl.differential(a, "cell0", "cell1", key_added="source", **TINY),
            r"would overwrite uns\['source'\] \(a model result\)",
        ),
    ],
)
def test_results_never_overwrite_what_is_not_theirs(adata, call, message):
    before = snapshot(adata)
    with pytest.raises(ValueError, match=message):
        call(adata)
    assert_unchanged(adata, before)


def test_refitting_under_one_key_leaves_no_rows_of_the_old_model(adata):
    ct.tl.fit(adata, "deepchrome", cell_types=["cell0", "cell1"], key_added="again", **TINY)
    ct.tl.fit(adata, "deepchrome", cell_types=["cell1"], key_added="again", **TINY)
    assert np.isnan(adata.layers["again"][0]).all()
    assert set(adata.uns["again"]["metrics"]["cell_type"]) == {"cell1"}


# 3. marks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("marks", "error", "message"),
    [
        (["H3K4me3", "H3K4me3"], ValueError, r"marks \['H3K4me3'\] appear more than once"),
        (
            ["H3K27ac"],
            KeyError,
            r"marks \['H3K27ac'\] are not in this object's marks \['H3K4me3', 'H3K4me1'",
        ),
        ([], ValueError, "marks is empty"),
    ],
)
def test_fit_refuses_repeated_or_absent_marks(adata, marks, error, message):
    before = snapshot(adata)
    with pytest.raises(error, match=message):
        ct.tl.fit(adata, "deepchrome", marks=marks, **TINY)
    assert_unchanged(adata, before)


def test_one_mark_may_be_named_as_a_string(adata):
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", marks="H3K4me3", key_added="k4", **TINY)
    assert adata.uns["k4"]["params"]["marks"] == ["H3K4me3"]


# 4. the target is not the source -----------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda a: ct.tl.finetune(a, source="cell0", target="cell0", **TINY),
        lambda a: ct.tl.finetune(a, source_key="source", target=["cell1", "cell0"], **TINY),
        lambda a: ct.tl.subsample_curve(a, "cell0", "cell0", **TINY),
    ],
)
def test_transfer_to_the_source_itself_is_refused(adata, call):
    before = snapshot(adata)
    with pytest.raises(ValueError, match=r"targets \['cell0'\] are cell types the source model"):
        call(adata)
    assert_unchanged(adata, before)


# 5. an unambiguous source model ------------------------------------------------------------


def test_the_source_model_is_never_guessed(adata, caplog):
    ct.tl.fit(adata, "attentivechrome", cell_types=["cell1"], key_added="att", **TINY)
    before = snapshot(adata)
    with pytest.raises(ValueError, match=r"uns\['att'\] \(attentivechrome\), but none of the "):
        ct.tl.finetune(adata, source="cell1", target="cell0", **TINY)
    adata.uns["source2"] = adata.uns["source"]
    with pytest.raises(ValueError, match=r"fitted on 'cell0' alone: \['source', 'source2'\]"):
        ct.tl.finetune(adata, source="cell0", target="cell1", **TINY)
    del adata.uns["source2"]
    assert_unchanged(adata, before)
    with pytest.raises(ValueError, match="holds a 'attentivechrome' model"):
        ct.tl.finetune(adata, source_key="att", model="deepchrome", target="cell0", **TINY)
    with pytest.raises(ValueError, match=r"fitted on \['cell1'\]; pass source_key alone"):
        ct.tl.finetune(adata, source="cell0", source_key="att", target="cell2", **TINY)
    with caplog.at_level(logging.INFO, logger="chromtools"):
        ct.tl.finetune(adata, source="cell0", target="cell1", scratch=False, **TINY)
    assert "source model uns['source'] (the deepchrome model fitted on cell0)" in caplog.text
    params = adata.uns["finetune"]["params"]
    assert params["source_key"] == "source"
    assert params["source_selection"] == "the deepchrome model fitted on cell0"


# 6. targets without labels say what they got -----------------------------------------------


def test_a_target_without_labels_is_reported_and_predict_points_at_its_layer(adata, caplog):
    with caplog.at_level(logging.WARNING, logger="chromtools"):
        ct.tl.finetune(adata, source_key="source", target=["cell1", "cell2"], scratch=False, **TINY)
    assert "target 'cell2' has no training labels" in caplog.text
    targets = adata.uns["finetune"]["targets"].set_index("target")
    assert targets.loc["cell2", "approach"] == "zero_shot"
    assert not targets.loc["cell2", "evaluated"] and targets.loc["cell2", "model"] == "source"
    assert targets.loc["cell1", "approach"] == "finetuned"
    assert targets.loc["cell1", "model"] == "finetune/cell1"
    assert set(adata.uns["finetune"]["metrics"]["target"]) == {"cell1"}
    with pytest.raises(KeyError, match=r"no model was fine-tuned to 'cell2'.*layers\['finetune'\]"):
        ct.tl.predict(adata, "finetune/cell2")
    with pytest.raises(KeyError, match=r"ct.tl.predict\(adata, 'source'\)"):
        ct.tl.predict(adata, "finetune/cell2")
    with pytest.raises(KeyError, match=r"fitted models: \['source', 'finetune/cell1'\]"):
        ct.tl.predict(adata, "nope")
    with pytest.raises(KeyError, match=r"uns\['finetune'\] is a finetune result, not a model"):
        ct.tl.predict(adata, "finetune")


# 7. cell types without histone signal ------------------------------------------------------


def test_a_source_without_chip_seq_is_named_up_front(remc):
    adata = remc.copy()
    before = (sorted(adata.uns), sorted(adata.layers))
    with pytest.raises(ValueError, match="source 'E116' has no histone signal in this object"):
        ct.tl.finetune(adata, source="E116")
    with pytest.raises(ValueError, match=r"cell types with signal: \['E123', 'E003'\]"):
        ct.tl.finetune(adata, source="E116")
    with pytest.raises(ValueError, match=r"cell_types \['E116'\]: no histone signal"):
        ct.tl.fit(adata, "deepchrome", cell_types="E116")
    with pytest.raises(ValueError, match=r"var\['split'\] has no 'test' genes.*ct.pp.split"):
        ct.tl.finetune(adata, source="E123")
    assert (sorted(adata.uns), sorted(adata.layers)) == before


def test_a_target_without_chip_seq_is_named_up_front(adata):
    adata.obsm["histone"][2] = np.nan
    adata.obs["has_histone"] = [True, True, False]
    before = snapshot(adata)
    with pytest.raises(ValueError, match=r"targets \['cell2'\]: no histone signal.*\['cell0', "):
        ct.tl.finetune(adata, source_key="source", target="cell2", **TINY)
    with pytest.raises(ValueError, match=r"cell_types \['cell2'\]: no histone signal"):
        ct.tl.predict(adata, "source", cell_types="cell2")
    assert_unchanged(adata, before)


def test_cell_types_without_chip_seq_are_found_in_a_lazy_store(tmp_path):
    from chromtools.tl.engine._signal import has_signal

    adata = ct.datasets.synthetic_histone(4, 300, n_bins=20, seed=3)
    adata.obsm["histone"][1] = np.nan  # no ChIP-seq
    adata.obsm["histone"][2, :200] = np.nan  # signal only from the 7th gene block on
    adata.obsm["histone"][3, :299, :, 0] = np.nan  # in the first bin of the last gene only
    ct.pp.split(adata, seed=0)
    ct.io.write_zarr(adata, tmp_path / "s.zarr", chunk_genes=32)
    lazy = ct.io.read_zarr(tmp_path / "s.zarr")
    assert "has_histone" not in lazy.obs and lazy.obsm["histone"].numblocks[1] == 10
    expected = [True, False, True, True]
    np.testing.assert_array_equal(has_signal(adata), expected)
    np.testing.assert_array_equal(has_signal(lazy), expected)
    np.testing.assert_array_equal(has_signal(lazy), expected)  # again, from the cache
    # another gene subset is another array: without the last gene cell3 has no signal
    np.testing.assert_array_equal(has_signal(lazy[:, :299]), [True, False, True, False])
    with pytest.raises(ValueError, match=r"cell_types \['cell1'\]: no histone signal"):
        ct.tl.fit(lazy, "deepchrome", cell_types="cell1")


# 8. predict checks the model against the data as finetune does -----------------------------


def test_predict_warns_when_the_model_saw_other_normalisation(planted):
    raw = ct.datasets.synthetic_histone(3, 80, n_bins=20, seed=3, expression_missing=["cell2"])
    ct.pp.split(raw, seed=0)
    raw.uns["source"] = planted.uns["source"]
    message = "'depth_log1p', but this object's signal .*'none'"
    with pytest.warns(NormalizationWarning, match=message):
        ct.tl.predict(raw, "source", cell_types="cell0")


def test_predict_warns_when_a_raw_model_moves_to_another_cell_type():
    raw = ct.datasets.synthetic_histone(2, 80, n_bins=20, seed=3)
    ct.pp.split(raw, seed=0)
    ct.tl.fit(raw, "deepchrome", cell_types="cell0", **TINY)  # its own cell type: no warning
    with pytest.warns(NormalizationWarning, match="raw, unnormalised signal"):
        ct.tl.predict(raw, "deepchrome", cell_types="cell1")


def test_predict_refuses_a_shifted_window(adata):
    adata.uns["chromtools"]["window"] = [-900, 1100]
    before = snapshot(adata)
    with pytest.raises(ValueError, match=r"trained on the window \[-1000, 1000\] bp"):
        ct.tl.predict(adata, "source")
    assert_unchanged(adata, before)


def test_a_model_with_non_finite_weights_is_refused(adata):
    record = dict(adata.uns["source"])
    state = {k: np.array(v, copy=True) for k, v in record["state_dict"].items()}
    first = next(iter(state))
    state[first].flat[:2] = [np.nan, np.inf]
    adata.uns["broken"] = {**record, "state_dict": state}
    before = snapshot(adata)
    message = r"the model under uns\['broken'\] has 2 non-finite weights"
    with pytest.raises(ValueError, match=message):
        ct.tl.predict(adata, "broken")
    with pytest.raises(ValueError, match="has 2 non-finite weights"):
        ct.tl.finetune(adata, source_key="broken", target="cell1", **TINY)
    assert_unchanged(adata, before)


# 10. siblings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda a: ct.tl.fit(a, "deepchrome", cell_types=[], **TINY),
            ValueError,
            "cell_types is empty",
        ),
        (
            lambda a: ct.tl.fit(a, "deepchrome", cell_types=["cell0", "cell0"], **TINY),
            ValueError,
            r"cell_types names \['cell0'\] more than once",
        ),
        (
            lambda a: ct.tl.fit(a, "deepchrome", cell_types=["liver"], **TINY),
            KeyError,
            r"cell_types \['liver'\] are not in adata.obs_names",
        ),
        (
            lambda a: ct.tl.fit(a, "deepchrome", hyperparameters={"n_marks": 3}, **TINY),
            ValueError,
            r"hyperparameters \['n_marks'\] are set from the data",
        ),
        (
            lambda a: ct.tl.fit(a, "deepchrome", hyperparameters="big", **TINY),
            ValueError,
            "hyperparameters must be a dict",
        ),
        (
            lambda a: ct.tl.predict(a, "source", batch_size=0),
            ValueError,
            r"batch_size must be .*integer",
        ),
        (
            lambda a: ct.tl.predict(a, "source", cell_types=["cell1", "cell1"]),
            ValueError,
            "names ['cell1'] more than once".replace("[", r"\[").replace("]", r"\]"),
        ),
        (
            lambda a: ct.tl.finetune(a, source_key="source", target=["cell1", "cell1"], **TINY),
            ValueError,
            r"target names \['cell1'\] more than once",
        ),
        (
            lambda a: ct.tl.finetune(a, source_key="source", target=[], **TINY),
            ValueError,
            "target is empty",
        ),
        (
            lambda a: ct.tl.finetune(a, source_key="source", scratch="no", **TINY),
            ValueError,
            "scratch must be True or False",
        ),
        (
            lambda a: ct.tl.finetune(a, source_key="source", fraction="0.5", **TINY),
            ValueError,
            "fraction must be a finite number",
        ),
        (
            lambda a: ct.tl.transfer_matrix(a, ["cell0", "cell0"], **TINY),
            ValueError,
            r"sources names \['cell0'\] more than once",
        ),
        (
            lambda a: ct.tl.transfer_matrix(a, ["cell0"], colour="red"),
            ValueError,
            r"\['colour'\] are not options of ct.tl.fit",
        ),
        (
            lambda a: ct.tl.transfer_matrix(a, ["cell0"], model="logreg"),
            ValueError,
            "needs a PyTorch model",
        ),
        (
            lambda a: ct.tl.subsample_curve(a, None, "cell1", source_key="source", fractions=()),
            ValueError,
            "fractions must be a non-empty list",
        ),
        (
            lambda a: ct.tl.subsample_curve(
                a, None, "cell1", source_key="source", fractions=(0.5, 0.5)
            ),
            ValueError,
            r"fractions \[0.5\] appear more than once",
        ),
        (
            lambda a: ct.tl.subsample_curve(a, None, "cell1", source_key="source", n_boot=1.5),
            ValueError,
            r"n_boot must be .*integer",
        ),
        (
            lambda a: ct.tl.subsample_curve(a, None, ["cell1"], source_key="source"),
            ValueError,
            "target must be one cell type name",
        ),
        (
            lambda a: ct.tl.differential(a, "cell0", "cell1", baselines="yes", **TINY),
            ValueError,
            "baselines must be True or False",
        ),
        (
            lambda a: ct.tl.differential(a, "cell0", "cell1", marks=["H3K4me3"] * 2, **TINY),
            ValueError,
            "appear more than once",
        ),
    ],
)
def test_siblings_are_refused_before_any_work(adata, call, error, message):
    before = snapshot(adata)
    with pytest.raises(error, match=message):
        call(adata)
    assert_unchanged(adata, before)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric": "pearson"}, r"metric 'pearson' is not one of \['auroc'"),
        ({"n_boot": 0}, r"n_boot must be .*integer"),
        ({"level": 1.5}, "level must be < 1"),
        ({"level": math.nan}, "level must be a finite number"),
    ],
)
def test_bootstrap_interval_refuses_bad_options(kwargs, message):
    options = {"metric": "auroc", **kwargs}
    with pytest.raises(ValueError, match=message):
        bootstrap_interval([0, 1, 0, 1], [0.2, 0.8, 0.3, 0.6], "classification", **options)


def test_score_refuses_mismatched_lengths_and_non_binary_labels():
    with pytest.raises(ValueError, match="3 true values but 2 predictions"):
        score([0, 1, 1], [0.5, 0.5], "classification")
    with pytest.raises(ValueError, match="classification truth must be 0/1 labels"):
        score([0, 2, 2], [0.5, 0.5, 0.1], "classification")
    with pytest.raises(ValueError, match="task must be 'classification' or 'regression'"):
        score([0, 1], [0.5, 0.5], "ranking")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("seed", True, "seed must be an integer"),
        ("n_jobs", True, "n_jobs must be a positive integer"),
        ("verbosity", True, "verbosity must be 0, 1, 2 or 3"),
        ("device", "cuda:first", "device must be one of"),
        ("progress", "yes", "progress must be True or False"),
    ],
)
def test_settings_refuse_bools_and_malformed_devices(name, value, message):
    before = getattr(ct.settings, name)
    with pytest.raises(ValueError, match=message):
        setattr(ct.settings, name, value)
    assert getattr(ct.settings, name) == before


def test_subsample_curve_refuses_an_unlabelled_target_before_fitting_the_source(adata):
    del adata.uns["source"]
    before = snapshot(adata)
    with pytest.raises(ValueError, match="target 'cell2' has no training labels to subsample"):
        ct.tl.subsample_curve(adata, "cell0", "cell2", **TINY)
    assert_unchanged(adata, before)


def test_transfer_matrix_refuses_an_unlabelled_source_before_fitting_any(adata):
    before = snapshot(adata)
    with pytest.raises(ValueError, match=r"sources \['cell2'\] have no 'deepchrome' model"):
        ct.tl.transfer_matrix(adata, ["cell1", "cell2"], ["cell0"], **TINY)
    assert_unchanged(adata, before)


def test_labels_other_than_0_and_1_are_refused(adata):
    adata.layers["label"][0, :3] = 2.0
    with pytest.raises(ValueError, match=r"must hold 0/1 labels .*found values \[2.0\]"):
        ct.tl.fit(adata, "deepchrome", **TINY)
    assert "deepchrome" not in adata.uns


def test_predict_never_writes_over_a_reserved_layer(adata):
    adata.uns["counts"] = adata.uns["source"]
    counts = adata.layers["counts"].copy()
    with pytest.raises(ValueError, match=r"would write its predictions over layers\['counts'\]"):
        ct.tl.predict(adata, "counts")
    np.testing.assert_array_equal(adata.layers["counts"], counts)


def test_a_split_without_valid_genes_trains_without_early_stopping(adata):
    adata.var["no_valid"] = adata.var["split"].astype(str).replace("valid", "train")
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", split_key="no_valid", key_added="nv", **TINY)
    assert "valid_auroc" not in adata.uns["nv"]["history"]


def test_a_new_finetune_drops_the_predictions_of_the_models_it_replaces(adata):
    ct.tl.finetune(adata, source_key="source", target="cell1", scratch=False, **TINY)
    ct.tl.predict(adata, "finetune/cell1", cell_types="cell1")
    assert "finetune_cell1" in adata.layers
    ct.tl.finetune(adata, source_key="source", target="cell2", scratch=False, **TINY)
    assert "finetune_cell1" not in adata.layers
    assert set(adata.uns["finetune"]["models"]) == set()


def test_a_differential_rerun_without_baselines_drops_their_old_columns(adata):
    small = {"hyperparameters": {"bin_hidden": 4, "mark_hidden": 4}, **TINY}
    ct.tl.differential(adata, "cell0", "cell1", layer="counts", key_added="dd", **small)
    assert "dd_svr2" in adata.var
    ct.tl.differential(adata, "cell0", "cell1", key_added="dd", baselines=False, **small)
    assert "dd_svr2" not in adata.var and "dd_attentivechrome_difference" not in adata.var
    assert "dd" in adata.var
    with pytest.raises(ValueError, match=r"DeepDiff model: its metrics are in adata.uns\['dd'\]"):
        ct.tl.evaluate(adata, "dd")


@pytest.mark.parametrize(
    "call",
    [
        lambda a: ct.tl.finetune(a, source_key="source", target="cell1", **TINY),
        lambda a: ct.tl.subsample_curve(a, None, "cell1", source_key="source", **TINY),
        lambda a: ct.tl.transfer_matrix(a, ["cell0"], ["cell1"], **TINY),
    ],
)
def test_transfers_without_test_genes_are_refused(adata, call):
    adata.var["split"] = adata.var["split"].astype(str).replace("test", "train")
    before = snapshot(adata)
    with pytest.raises(ValueError, match=r"var\['split'\] has no 'test' genes"):
        call(adata)
    assert_unchanged(adata, before)


def test_a_target_with_one_class_is_refused(adata):
    adata.layers["label"][1] = np.where(np.isnan(adata.layers["label"][1]), np.nan, 1.0)
    before = snapshot(adata)
    with pytest.raises(ValueError, match="target 'cell1': all .* training labels are 1"):
        ct.tl.finetune(adata, source_key="source", target="cell1", **TINY)
    assert_unchanged(adata, before)
