"""One training configuration for every ct.tl function, one default model, renamed keywords."""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd
import pytest

import chromtools as ct
from chromtools.tl import TrainingConfig

FIELDS = ("epochs", "batch_size", "lr", "weight_decay", "patience", "device", "precision", "seed")


@pytest.fixture(scope="module")
def planted():
    adata = ct.datasets.synthetic_histone(3, 300, n_bins=20, seed=4, expression_missing=["cell2"])
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    return adata


def _metrics(adata, key):
    return adata.uns[key]["metrics"].set_index(["cell_type", "split"])


def test_a_config_a_dict_and_keywords_train_the_same_model(planted):
    adata = planted.copy()
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", key_added="a",
              training=TrainingConfig(epochs=3, lr=2e-3, seed=1))  # fmt: skip
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", key_added="b",
              training={"epochs": 3, "lr": 2e-3, "seed": 1})  # fmt: skip
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", key_added="c", epochs=3, lr=2e-3, seed=1)
    # a keyword wins over the same field of training=
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", key_added="d",
              training={"epochs": 9, "lr": 2e-3, "seed": 1}, epochs=3)  # fmt: skip
    for key in "bcd":
        pd.testing.assert_frame_equal(_metrics(adata, key), _metrics(adata, "a"))
        np.testing.assert_array_equal(adata.layers[key], adata.layers["a"])
    params = adata.uns["a"]["params"]
    defaults = ct.models.get_model("deepchrome").training_defaults
    # recorded in full: given fields as given, the rest the model's defaults and the settings',
    # the device as resolved
    assert params["device"] == "cpu" or params["device"].startswith("cuda")
    assert {k: params[k] for k in FIELDS if k != "device"} == {
        "epochs": 3,
        "batch_size": defaults["batch_size"],
        "lr": 2e-3,
        "weight_decay": defaults["weight_decay"],
        "patience": 10,
        "precision": "auto",
        "seed": 1,
    }


def test_each_model_trains_with_its_own_defaults(planted):
    adata = planted.copy()
    ct.tl.fit(adata, "attentivechrome", cell_types="cell0", epochs=1, seed=0)
    params = adata.uns["attentivechrome"]["params"]
    assert params["batch_size"] == 64 == ct.models.AttentiveChrome.training_defaults["batch_size"]
    assert params["epochs"] == 1 and len(adata.uns["attentivechrome"]["history"]) == 1


def test_the_settings_seed_fills_an_unset_seed(planted):
    adata = planted.copy()
    before = ct.settings.seed
    try:
        ct.settings.seed = 7
        ct.tl.fit(adata, "deepchrome", cell_types="cell0", key_added="s", epochs=2)
    finally:
        ct.settings.seed = before
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", key_added="t", epochs=2, seed=7)
    assert adata.uns["s"]["params"]["seed"] == 7
    np.testing.assert_array_equal(adata.layers["s"], adata.layers["t"])


@pytest.mark.parametrize(
    ("training", "error", "message"),
    [
        ({"epoch": 3}, TypeError, r"unexpected options \['epoch'\]; the training options are"),
        ("fast", ValueError, "training must be a ct.tl.TrainingConfig or a dict"),
        ({"epochs": 0}, ValueError, r"epochs must be .*integer"),
    ],
)
def test_a_bad_training_argument_is_refused_before_work(planted, training, error, message):
    adata = planted.copy()
    with pytest.raises(error, match=message):
        ct.tl.fit(adata, "deepchrome", training=training)
    assert "deepchrome" not in adata.uns


SEED_RANGE = r"seed must be an integer from 0 to 2\*\*32 - 1 \(4294967295\), got "


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64, 2**64 + 5, 1.5])
def test_a_seed_no_generator_takes_is_refused_naming_the_range(seed):
    with pytest.raises(ValueError, match=SEED_RANGE + re.escape(repr(seed))):
        TrainingConfig(seed=seed)


def test_the_largest_seed_trains_and_is_recorded(planted):
    """2**32 - 1 reaches torch.manual_seed, the batch order's generator and, in
    differential, scikit-learn's random_state: each takes it."""
    adata = planted.copy()
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", epochs=1, seed=2**32 - 1)
    assert adata.uns["deepchrome"]["params"]["seed"] == 2**32 - 1
    ct.tl.differential(adata, "cell0", "cell1", epochs=1, seed=2**32 - 1)
    assert set(adata.uns["deepdiff"]["metrics"]["model"]) >= {"svr2"}


def test_a_config_is_checked_when_made_and_resolves_per_model():
    with pytest.raises(ValueError, match="lr must be > 0"):
        TrainingConfig(lr=0)
    with pytest.raises(TypeError):
        TrainingConfig(30)  # keyword-only: no silent mix-up of epochs and batch size
    resolved = TrainingConfig(epochs=4).resolved("chromtransfer")
    assert (resolved.epochs, resolved.batch_size) == (4, 256)
    assert TrainingConfig().resolved("transferchrome").weight_decay == 1e-4


def test_a_batchnorm_model_refuses_a_batch_of_one_before_work():
    message = r"batch_size=1: chromtransfer trains BatchNorm layers, which need at least 2 samples"
    with pytest.raises(ValueError, match=message):
        TrainingConfig(batch_size=1).resolved("chromtransfer")
    assert TrainingConfig(batch_size=1).resolved("deepchrome").batch_size == 1
    sequences = ct.datasets.synthetic_sequences(20, 60, seed=0)
    ct.pp.split(sequences, seed=0)
    with pytest.raises(ValueError, match=message):
        ct.tl.fit(sequences, "chromtransfer", cell_types="A", batch_size=1, epochs=1)
    assert "chromtransfer" not in sequences.uns


def test_old_target_keyword_still_works_with_a_future_warning(planted):
    adata = planted.copy()
    with pytest.warns(FutureWarning, match=r"target=.* is renamed y="):
        ct.tl.fit(adata, "deepchrome", cell_types="cell0", target="expression", key_added="old",
                  epochs=2, seed=0)  # fmt: skip
    ct.tl.fit(adata, "deepchrome", cell_types="cell0", y="expression", key_added="new",
              epochs=2, seed=0)  # fmt: skip
    pd.testing.assert_frame_equal(_metrics(adata, "old"), _metrics(adata, "new"))
    assert adata.uns["old"]["params"]["y"] == "expression"
    with pytest.raises(ValueError, match="pass y= alone"):
        ct.tl.fit(adata, "deepchrome", y="expression", target="label", epochs=1)


def test_one_default_model_everywhere(planted):
    adata = planted.copy()
    ct.tl.fit(adata, cell_types="cell0", epochs=1, seed=0)
    assert adata.uns["deepchrome"]["params"]["model"] == "deepchrome"
    ct.tl.pretrain(adata, cell_types=["cell0", "cell1"], epochs=1, seed=0)
    assert adata.uns["pretrain"]["params"]["model"] == "deepchrome"
    sequences = ct.datasets.synthetic_sequences(60, 200, seed=0)
    assert ct.tl.engine.default_model(sequences) == "chromtransfer"


def test_differential_names_its_cell_types(planted):
    with pytest.raises(TypeError, match="'a' and 'b'"):
        ct.tl.differential(planted.copy())


def test_finetune_announces_the_source_model_it_fitted(planted, caplog):
    adata = planted.copy()
    with caplog.at_level(logging.WARNING, logger="chromtools"):
        ct.tl.finetune(adata, source="cell0", target="cell1", scratch=False, epochs=2, seed=0)
    assert "uns['deepchrome_cell0']" in caplog.text and "fitted now" in caplog.text
    params = adata.uns["finetune"]["params"]
    assert params["source_key"] == "deepchrome_cell0" and params["source_fitted"] is True
    assert adata.uns["deepchrome_cell0"]["params"]["cell_types"] == ["cell0"]
    # the source trains at the model's own rate; fine-tuning at the one given
    ct.tl.finetune(adata, source="cell0", target="cell1", scratch=False, key_added="again",
                   epochs=2, lr=5e-4, seed=0)  # fmt: skip
    again = adata.uns["again"]["params"]
    assert again["source_fitted"] is False and again["finetune"]["lr"] == 5e-4
    assert again["scratch_training"]["lr"] == adata.uns["deepchrome_cell0"]["params"]["lr"]
    assert adata.uns["again"]["models"]["cell1"]["params"]["lr"] == 5e-4


def test_a_source_without_labels_is_refused_before_fitting(planted):
    adata = planted.copy()
    with pytest.raises(ValueError, match=r"'cell2' has no fitted model .* no training labels"):
        ct.tl.finetune(adata, source="cell2", target="cell1", epochs=1)
    assert not any(str(k).startswith("deepchrome") for k in adata.uns)


@pytest.mark.parametrize("model", ["deepchrome", "attentivechrome"])
def test_bf16_autocast_trains_to_the_fp32_scores(planted, model):
    # The CUDA path's autocast (bf16) runs on the CPU too: same data, seed and epochs.
    adata = planted.copy()
    for precision in ("fp32", "bf16"):
        ct.tl.fit(adata, model, cell_types=["cell0", "cell1"], key_added=precision, epochs=4,
                  seed=0, device="cpu", precision=precision)  # fmt: skip
    fp32, bf16 = _metrics(adata, "fp32"), _metrics(adata, "bf16")
    assert adata.uns["bf16"]["params"]["precision"] == "bf16"
    # bf16 really ran: its predictions are not fp32's, but stored as float32 all the same
    assert not np.array_equal(adata.layers["bf16"], adata.layers["fp32"], equal_nan=True)
    assert adata.layers["bf16"].dtype == np.float32
    test = fp32.xs("test", level="split")["auroc"]
    assert (test > 0.8).all()
    np.testing.assert_allclose(bf16.xs("test", level="split")["auroc"], test, atol=0.03)
