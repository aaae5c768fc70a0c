"""A model chromtools has never seen, defined here, runs through every ``ct.tl`` step.

``TinyConv`` subclasses ``ct.models.ChromModel`` and declares only its name and
layers; everything else (histone input, training defaults, how it is
explained) comes from the base class. Registered for this module only, it is
fitted, evaluated, saved, loaded, fine-tuned and explained with no change
under ``chromtools/tl``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import chromtools as ct


class TinyConv(ct.models.ChromModel):
    """One convolution over bins, then a linear layer on the flattened features.

    Parameters
    ----------
    n_marks
        Histone marks.
    n_bins
        Bins per mark.
    n_outputs
        Logits.
    filters
        Convolution filters.
    """

    name = "tinyconv"

    def __init__(self, n_marks: int, n_bins: int, n_outputs: int = 1, *, filters: int = 4) -> None:
        super().__init__(locals())
        self.encoder = nn.Sequential(
            nn.Conv1d(n_marks, filters, 5, padding=2), nn.ReLU(), nn.Flatten()
        )
        self.head = nn.Linear(filters * n_bins, n_outputs)


@pytest.fixture(scope="module")
def registered():
    """TinyConv in the registry for this module only; tiny models run fastest on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    ct.models.register(TinyConv)
    yield TinyConv
    ct.models.MODELS.pop(TinyConv.name)
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def fitted(registered):
    adata = ct.datasets.synthetic_histone(3, 120, n_bins=20, seed=0)
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "tinyconv", cell_types=["cell0", "cell1"], epochs=15, lr=1e-2, seed=0)
    return adata


def _network(adata, key: str) -> nn.Module:
    """The model stored under ``uns[key]``, rebuilt by hand, in eval mode."""
    record = adata.uns[key]
    network = ct.models.build(**record["config"]["model"])
    state = {k: torch.from_numpy(np.asarray(v)) for k, v in record["state_dict"].items()}
    network.load_state_dict(state)
    return network.eval()


def test_the_plain_model_declares_the_defaults_of_a_histone_model(registered):
    assert ct.models.get_model("tinyconv") is TinyConv
    assert TinyConv.input_kind == ct.models.HISTONE
    assert TinyConv.training_defaults == ct.models.ChromModel.training_defaults
    assert "ism" not in TinyConv.attribution_methods
    assert TinyConv.deletion_targets == ("marks", "bins")
    assert TinyConv.attention_descriptions == {}
    model = ct.models.build("tinyconv", n_marks=5, n_bins=20)
    assert ct.models.build(**model.config).config == model.config


def test_fit_learns_the_planted_rule(fitted):
    metrics = fitted.uns["tinyconv"]["metrics"]
    test = metrics[metrics["split"] == "test"].set_index("cell_type")
    assert set(test.index) == {"cell0", "cell1"}
    assert (test["auroc"] > 0.8).all(), test
    assert fitted.uns["tinyconv"]["config"]["model"] == {
        "name": "tinyconv",
        "n_marks": 5,
        "n_bins": 20,
        "n_outputs": 1,
        "filters": 4,
    }


def test_predict_and_evaluate_a_cell_type_it_was_not_trained_on(fitted):
    adata = fitted.copy()
    ct.tl.predict(adata, "tinyconv", cell_types=["cell2"])
    predicted = adata.layers["tinyconv"]
    assert np.isfinite(predicted).all() and ((predicted >= 0) & (predicted <= 1)).all()
    table = ct.tl.evaluate(adata, "tinyconv").set_index(["cell_type", "split"])
    assert table.loc[("cell2", "test"), "auroc"] > 0.7


def test_a_saved_model_loads_and_predicts_the_same(fitted, tmp_path):
    adata = fitted.copy()
    ct.tl.save_model(adata, "tinyconv", tmp_path / "tiny")
    ct.tl.load_model(adata, tmp_path / "tiny", key_added="loaded")
    ct.tl.predict(adata, "loaded", cell_types=["cell0", "cell1"])
    np.testing.assert_array_equal(adata.layers["loaded"], adata.layers["tinyconv"])


def test_finetune_moves_the_model_to_another_cell_type(fitted):
    adata = fitted.copy()
    ct.tl.finetune(adata, source_key="tinyconv", target="cell2", scratch=False, epochs=3, seed=0)
    metrics = adata.uns["finetune"]["metrics"].set_index("approach")
    assert set(metrics.index) == {"zero_shot", "finetuned"}
    assert (metrics["auroc"] > 0.8).all(), metrics
    assert adata.uns["finetune"]["models"]["cell2"]["config"]["model"]["name"] == "tinyconv"
    ct.tl.predict(adata, "finetune/cell2", cell_types=["cell2"])
    assert np.isfinite(adata.layers["finetune_cell2"][2]).all()


def test_attribute_equals_gradient_times_input(fitted):
    adata = fitted.copy()
    ct.tl.attribute(adata, "tinyconv", cell_types=["cell1"], genes=list(adata.var_names[:10]))
    values = ct.get.attributions(adata, "tinyconv")
    assert values.shape == (3, 120, 5, 20)
    explained = np.asarray(values[1, :10])
    assert np.isfinite(explained).all() and np.abs(explained).max() > 0
    assert np.isnan(np.asarray(values[0])).all()

    x = torch.from_numpy(np.asarray(ct.get.histone(adata)[1, :10], dtype=np.float32))
    x.requires_grad_(True)
    _network(adata, "tinyconv")(x)[:, 0].sum().backward()
    np.testing.assert_allclose(explained, (x.grad * x).detach().numpy(), rtol=1e-4, atol=1e-6)


def test_ism_and_attention_are_refused_as_the_declarations_say(fitted):
    adata = fitted.copy()
    with pytest.raises(ValueError, match="needs a sequence model"):
        ct.tl.attribute(adata, "tinyconv", method="ism")
    with pytest.raises(
        ValueError, match=r"no attention; models with attention are \[.*'attentivechrome'"
    ):
        ct.tl.attention(adata, "tinyconv")


def test_deleting_a_mark_moves_predictions_as_planted(fitted):
    adata = fitted.copy()
    marks = ["H3K27me3", "H3K36me3"]
    ct.tl.in_silico_deletion(adata, "tinyconv", marks=marks, cell_types=["cell0"])
    repressive = adata.layers["tinyconv_deletion_H3K27me3"]
    assert np.isfinite(repressive[0]).all() and np.isnan(repressive[1:]).all()
    x = torch.from_numpy(np.asarray(ct.get.histone(adata)[0], dtype=np.float32))
    deleted = x.clone()
    deleted[:, ct.get.marks(adata).index("H3K27me3")] = 0
    with torch.no_grad():
        network = _network(adata, "tinyconv")
        expected = torch.sigmoid(network(deleted)) - torch.sigmoid(network(x))
    np.testing.assert_allclose(repressive[0], expected[:, 0].numpy(), atol=1e-5)
    # over training seeds 0-3 removing the repressive mark raised OFF genes by 0.05-0.6
    # and removing the gene-body mark lowered ON genes by 0.04-0.2
    summary = adata.uns["tinyconv_deletion"]["summary"].set_index(["perturbation", "status"])
    assert summary.loc[("tinyconv_deletion_H3K27me3", "OFF"), "mean_change"] > 0
    assert summary.loc[("tinyconv_deletion_H3K36me3", "ON"), "mean_change"] < 0


def test_the_registry_refuses_a_taken_name_and_an_unknown_input_kind(registered):
    class Other(TinyConv):
        """Another class under the same name."""

    with pytest.raises(ValueError, match="'tinyconv' is taken by TinyConv"):
        ct.models.register(Other)
    with pytest.raises(ValueError, match="input_kind is 'rna'"):

        class Rna(ct.models.ChromModel):  # noqa: F841
            """A model of an input chromtools does not feed."""

            name = "rna"
            input_kind = "rna"


class TinyAttention(TinyConv):
    """TinyConv that declares an attention map: the softmax over bins of each mark's signal."""

    name = "tinyattention"
    attention_descriptions = {"alpha": "softmax over bins of each mark's signal"}

    def attention_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"alpha": torch.softmax(x, dim=-1)}


def test_a_declared_attention_map_is_stored_by_ct_tl_attention(fitted):
    adata = fitted.copy()
    ct.models.register(TinyAttention)
    try:
        ct.tl.fit(adata, "tinyattention", cell_types=["cell0"], epochs=1, seed=0)
        ct.tl.attention(adata, "tinyattention", cell_types=["cell0"])
    finally:
        ct.models.MODELS.pop(TinyAttention.name)
    alpha, beta = ct.get.attention(adata, "tinyattention")
    assert beta is None and alpha.shape == (3, 120, 5, 20)
    signal = torch.from_numpy(np.asarray(ct.get.histone(adata)[0], dtype=np.float32))
    np.testing.assert_allclose(alpha[0], torch.softmax(signal, dim=-1).numpy(), atol=1e-6)
    assert np.isnan(alpha[1:]).all()
    assert (
        adata.uns["tinyattention_attention"]["alpha"]
        == TinyAttention.attention_descriptions["alpha"]
    )
