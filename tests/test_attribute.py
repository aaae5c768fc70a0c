"""ct.tl.attribute on histone models: planted driver mark and bins, completeness, references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from test_attention import DRIVER, informative_only

import chromtools as ct
from chromtools._results import RESULTS
from chromtools.tl.interpret._interpreted import interpreted_model, scalar_output
from chromtools.tl.interpret._methods import deeplift_shap, grad_x_input, integrated_gradients
from chromtools.tl.interpret._shuffle import shuffled_references

GENES = 120  # genes explained in the slower tests


@pytest.fixture(scope="module")
def planted():
    """Only H3K4me3 carries the planted rule (a peak at the TSS, bins 18–21 of 40)."""
    adata = informative_only(ct.datasets.synthetic_histone(2, 600, n_bins=40, seed=3))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", epochs=6, seed=0)
    ct.tl.fit(adata, "deepchrome", epochs=6, seed=1, key_added="seed1")
    ct.tl.fit(adata, "attentivechrome", epochs=8, lr=1e-2, seed=0)
    return adata


def _network(adata, key):
    return interpreted_model(adata, key, what="test").network


def _signal(adata, cell=0, genes=slice(0, 16)):
    return torch.from_numpy(np.asarray(ct.get.histone(adata)[cell, genes], dtype=np.float32))


@pytest.mark.parametrize(
    ("model", "method"),
    [
        ("deepchrome", "grad_x_input"),
        ("deepchrome", "integrated_gradients"),
        ("deepchrome", "deeplift_shap"),
        ("attentivechrome", "grad_x_input"),
        ("attentivechrome", "deeplift_shap"),
    ],
)
def test_the_planted_mark_and_bins_carry_the_largest_attribution(planted, model, method):
    adata = planted.copy()
    genes = list(adata.var_names[:GENES])
    steps = {"integrated_gradients": 16, "deeplift_shap": 4}.get(method)
    ct.tl.attribute(adata, model, method=method, genes=genes, steps=steps)
    values = ct.get.attributions(adata, model)
    assert values.shape == (2, 600, 5, 40)
    assert np.isfinite(values[:, :GENES]).all() and np.isnan(values[:, GENES:]).all()
    by_mark = pd.Series(np.abs(values[:, :GENES]).mean(axis=(0, 1, 3)), index=ct.get.marks(adata))
    assert by_mark.idxmax() == DRIVER and by_mark[DRIVER] > 2 * by_mark.drop(DRIVER).max(), by_mark
    by_bin = np.abs(values[:, :GENES, 0]).mean(axis=(0, 1))
    assert 17 <= by_bin.argmax() <= 22, by_bin.round(3)
    # one result per method: integrated gradients go under "deepchrome_integrated_gradients"
    stored = RESULTS["attribution"].record_name(RESULTS["attribution"].default(model, method))
    params = adata.uns[stored]["params"]
    assert params["method"] == method and params["cell_types"] == ["cell0", "cell1"]
    assert params["steps"] == steps


def test_grad_x_input_is_the_gradient_times_the_input(planted):
    network = _network(planted, "deepchrome")
    x = _signal(planted)
    got = grad_x_input(network, x)
    for i in range(3):
        xi = x[i : i + 1].clone().requires_grad_(True)
        scalar_output(network, xi).sum().backward()
        torch.testing.assert_close(got[i], (xi.grad * xi)[0].detach())


def test_integrated_gradients_are_complete_and_match_captum(planted):
    from captum.attr import IntegratedGradients

    network = _network(planted, "deepchrome")
    x = _signal(planted)
    with torch.no_grad():
        gap = scalar_output(network, x) - scalar_output(network, torch.zeros_like(x))
    ours = integrated_gradients(network, x, steps=300)
    np.testing.assert_allclose(ours.sum(dim=(1, 2)), gap, rtol=0.02, atol=0.02)
    captum = IntegratedGradients(lambda v: scalar_output(network, v))
    theirs = captum.attribute(x, n_steps=40, method="riemann_middle")
    torch.testing.assert_close(
        integrated_gradients(network, x, steps=40), theirs, atol=1e-5, rtol=1e-4
    )


def test_deeplift_sums_to_the_change_from_the_reference(planted):
    # exact for a zero reference; captum's max-pooling rule is only approximately
    # complete when the input and the reference pool different positions
    network = _network(planted, "deepchrome")
    x = _signal(planted)
    got = deeplift_shap(network, x, torch.zeros(1, *x.shape))
    with torch.no_grad():
        gap = scalar_output(network, x) - scalar_output(network, torch.zeros_like(x))
    np.testing.assert_allclose(got.sum(dim=(1, 2)), gap, atol=1e-4)
    references = shuffled_references(x, 3, np.random.default_rng(0), sequence=False)
    assert references.shape == (3, *x.shape)
    # each reference is another gene's signal of the batch
    flat = x.reshape(len(x), -1)
    for reference in references:
        matches = (reference.reshape(len(x), 1, -1) == flat[None]).all(dim=-1)
        assert matches.any(dim=1).all()
    with pytest.raises(ValueError, match="n_references"):
        deeplift_shap(network, x, references[0])


def test_an_ensemble_is_the_mean_and_scores_agreement(planted):
    adata = planted.copy()
    genes = list(adata.var_names[:40])
    for key in ("deepchrome", "seed1"):
        ct.tl.attribute(adata, key, genes=genes)
    ct.tl.attribute(adata, "both", keys=["deepchrome", "seed1"], genes=genes)
    one, two = (ct.get.attributions(adata, k)[:, :40] for k in ("deepchrome", "seed1"))
    np.testing.assert_allclose(
        ct.get.attributions(adata, "both")[:, :40], (one + two) / 2, atol=1e-6
    )
    agreement = adata.layers["both_attr_agreement"]
    expected = np.corrcoef(one[1, 5].ravel(), two[1, 5].ravel())[0, 1]
    assert agreement[1, 5] == pytest.approx(expected, abs=1e-5)
    assert np.isnan(agreement[:, 40:]).all()


def test_attributions_follow_the_gene_order_of_the_stored_signal(planted):
    adata = planted.copy()
    genes = list(adata.var_names[:20])
    ct.tl.attribute(adata, "deepchrome", genes=genes)
    reference = ct.get.attributions(adata, "deepchrome")[:, :20]
    reordered = adata[:, ::-1].copy()
    ct.tl.attribute(reordered, "deepchrome", genes=genes)
    np.testing.assert_allclose(
        ct.get.attributions(reordered, "deepchrome")[:, -20:][:, ::-1], reference
    )


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"method": "ism"}, ValueError, "in_silico_deletion"),
        ({"compare": "ism"}, ValueError, "in_silico_deletion"),
        ({"method": "saliency"}, ValueError, "method must be one of"),
        ({"baseline": "zero"}, ValueError, "takes no baseline"),
        ({"method": "integrated_gradients", "baseline": "mean"}, ValueError, "baseline must be"),
        ({"steps": 5}, ValueError, "takes no steps"),
        ({"method": "integrated_gradients", "steps": 0}, ValueError, "steps must be"),
        ({"genes": ["nope"]}, KeyError, "nope"),
        ({"cell_types": ["cell7"]}, KeyError, "cell7"),
        ({"keys": ["deepchrome", "deepchrome"]}, ValueError, "more than once"),
        ({"keys": "deepchrome"}, ValueError, "list"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(planted, options, error, match):
    adata = planted.copy()
    before = (set(adata.obsm), set(adata.layers), set(adata.uns))
    with pytest.raises(error, match=match):
        ct.tl.attribute(adata, "deepchrome", **options)
    assert (set(adata.obsm), set(adata.layers), set(adata.uns)) == before


def test_unknown_keys_baselines_and_foreign_entries_are_refused(planted):
    adata = planted.copy()
    with pytest.raises(KeyError, match="absent"):
        ct.tl.attribute(adata, "absent")
    ct.tl.fit(adata, "logreg", cell_types=["cell0"])
    with pytest.raises(ValueError, match="scikit-learn baseline"):
        ct.tl.attribute(adata, "logreg")
    adata.obsm["deepchrome_attr"] = np.ones((2, 1))
    with pytest.raises(ValueError, match="did not write"):
        ct.tl.attribute(adata, "deepchrome")
    assert adata.obsm["deepchrome_attr"].shape == (2, 1)


def test_two_methods_keep_both_results(planted):
    """Each method has its own key by default: integrated gradients after gradient×input
    adds a result instead of replacing it, and each is read back by method."""
    adata = planted.copy()
    genes = list(adata.var_names[:GENES])
    ct.tl.attribute(adata, "deepchrome", genes=genes)
    first = np.array(ct.get.attributions(adata, "deepchrome"))
    ct.tl.attribute(adata, "deepchrome", method="integrated_gradients", genes=genes, steps=8)
    assert {"deepchrome_attr", "deepchrome_integrated_gradients_attr"} <= set(adata.uns)
    np.testing.assert_array_equal(ct.get.attributions(adata, "deepchrome"), first)
    integrated = ct.get.attributions(adata, "deepchrome", method="integrated_gradients")
    np.testing.assert_array_equal(
        integrated, ct.get.attributions(adata, "deepchrome_integrated_gradients")
    )
    assert np.isfinite(integrated[:, :GENES]).all() and not np.allclose(
        integrated[:, :GENES], first[:, :GENES]
    )
    ct.tl.attribute(adata, "deepchrome", method="integrated_gradients", genes=genes[:2],
                    steps=8, key_added="few_genes")  # fmt: skip
    with pytest.raises(ValueError, match="several attribution results"):
        ct.get.attributions(adata, "deepchrome", method="integrated_gradients")
