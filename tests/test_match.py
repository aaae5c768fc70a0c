"""ct.pp.match_signal: a target from another pipeline mapped onto a model's training signal."""

from __future__ import annotations

import warnings

import anndata as ad
import dask.array as da
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import chromtools as ct
from chromtools._matching import mapped, quantile_map, shift, signal_quantiles
from chromtools.tl import NormalizationWarning


def other_pipeline(values: np.ndarray) -> np.ndarray:
    """What another lab's pipeline makes of the same reads: another scale, a log of
    coverage, a higher background. Monotone: the ranks of the signal stay."""
    return np.log1p(values * 3.0) * 10.0 + 2.0


@pytest.fixture(scope="module")
def fitted():
    """Raw synthetic signal; DeepChrome and logistic regression fitted on cell0 alone."""
    adata = ct.datasets.synthetic_histone(n_cell_types=3, n_genes=800, n_bins=40, seed=3)
    ct.pp.split(adata, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NormalizationWarning)
        for model in ("deepchrome", "logreg"):
            ct.tl.fit(adata, model, cell_types=["cell0"], epochs=15, seed=0)
    return adata


def shifted(adata, cell: str = "cell1"):
    """A copy whose ``cell`` went through :func:`other_pipeline`."""
    out = adata.copy()
    row = out.obs_names.get_loc(cell)
    out.obsm["histone"][row] = other_pipeline(out.obsm["histone"][row])
    return out


def zero_shot(adata, key: str, cell: str = "cell1") -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NormalizationWarning)
        ct.tl.predict(adata, key, cell_types=[cell])
    row = adata.obs_names.get_loc(cell)
    test = (adata.var["split"] == "test").to_numpy()
    return roc_auc_score(adata.layers["label"][row, test], adata.layers[key][row, test])


@pytest.mark.parametrize("model", ["deepchrome", "logreg"])
def test_matching_recovers_the_zero_shot_accuracy_of_a_shifted_target(fitted, model):
    unshifted = zero_shot(fitted.copy(), model)
    target = shifted(fitted)
    before = zero_shot(target, model)
    ct.pp.match_signal(target, model, "cell1")
    after = zero_shot(target, model)
    assert before < unshifted - 0.03  # the other pipeline costs accuracy
    assert after >= unshifted - 0.01  # and matching wins it back


def test_a_continuous_signal_gets_the_reference_distribution_exactly():
    rng = np.random.default_rng(1)
    reference = signal_quantiles(rng.gamma(0.8, 2.0, (1, 500, 1, 40)), [0])[0]
    target = other_pipeline(rng.gamma(0.8, 2.0, (1, 500, 1, 40)) * 3.0)
    own = signal_quantiles(target, [0])[0]
    assert shift(own, reference) > 0.9  # the other pipeline's values barely overlap
    matched = mapped(target, quantile_map(own, reference))
    assert shift(signal_quantiles(matched, [0])[0], reference) < 0.02
    # monotone: the ranks of the signal are kept
    order = np.argsort(target.ravel(), kind="stable")
    assert (np.diff(matched.ravel()[order]) >= 0).all()


def gaps(adata, cell: str) -> list[float]:
    """Per mark, the KS gap between ``cell``'s signal and the deepchrome model's training."""
    reference = adata.uns["deepchrome"]["config"]["data"]["input_quantiles"]
    own = signal_quantiles(ct.get.histone(adata), [adata.obs_names.get_loc(cell)])
    marks = ct.get.marks(adata)
    return [shift(own[marks.index(m)], np.asarray(q)) for m, q in reference.items()]


def test_matched_signal_has_the_models_training_distribution(fitted):
    target = shifted(fitted)
    before = gaps(target, "cell1")
    ct.pp.match_signal(target, "deepchrome")  # by default: every cell type not trained on
    marks = ct.get.marks(target)
    # read counts are integers: tied values stay tied, so the match is as close as ties allow
    after = gaps(target, "cell1")
    assert min(before) > 0.6 and max(after) < 0.2, (before, after)
    # the source's own signal is untouched; the record says what was done
    np.testing.assert_array_equal(target.obsm["histone"][0], fitted.obsm["histone"][0])
    step = target.uns["chromtools"]["pp"]["match_signal"]
    assert step["params"] == {"reference": "deepchrome", "cell_types": ["cell1", "cell2"],
                              "marks": marks}  # fmt: skip
    assert set(step["quantiles"]) == {"cell1", "cell2"}


def test_matching_reads_the_signal_only_never_the_labels(fitted):
    one, other = shifted(fitted), shifted(fitted)
    row = other.obs_names.get_loc("cell1")
    rng = np.random.default_rng(0)
    other.layers["label"][row] = rng.permutation(other.layers["label"][row])
    other.X[row] = np.nan
    ct.pp.match_signal(one, "deepchrome", "cell1")
    ct.pp.match_signal(other, "deepchrome", "cell1")
    np.testing.assert_array_equal(one.obsm["histone"], other.obsm["histone"])


def test_a_lazy_store_is_matched_lazily_and_alike(fitted, tmp_path):
    target = shifted(fitted)
    ct.io.write_zarr(target, tmp_path / "shifted.zarr")
    lazy = ct.io.read_zarr(tmp_path / "shifted.zarr")
    ct.pp.match_signal(lazy, "deepchrome", "cell1")
    ct.pp.match_signal(target, "deepchrome", "cell1")
    assert isinstance(lazy.obsm["histone"], da.Array)
    np.testing.assert_allclose(
        np.asarray(lazy.obsm["histone"].compute()), target.obsm["histone"], rtol=1e-6
    )


def test_predicting_a_shifted_target_says_so_and_names_the_fix(fitted):
    target = shifted(fitted)
    with pytest.warns(NormalizationWarning, match=r"distributed unlike that of \['cell1'\]") as w:
        ct.tl.predict(target, "deepchrome", cell_types=["cell1"])
    said = [str(x.message) for x in w if "distributed unlike" in str(x.message)]
    assert "ct.pp.match_signal(adata, reference='deepchrome')" in said[0]
    ct.pp.match_signal(target, "deepchrome", "cell1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ct.tl.predict(target, "deepchrome", cell_types=["cell1"])
    assert not [x for x in caught if "distributed unlike" in str(x.message)]


def test_another_cell_type_of_the_same_pipeline_is_no_cause_for_warning(remc):
    """Normalised K562 and H1 signal differ by a KS gap of 0.03-0.16 per mark: below the bar."""
    adata = remc[remc.obs["has_histone"]].copy()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "logreg", cell_types=["E123"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ct.tl.predict(adata, "logreg", cell_types=["E003"])
    assert not [x for x in caught if "distributed unlike" in str(x.message)]
    row = adata.obs_names.get_loc("E003")
    adata.obsm["histone"][row] = other_pipeline(adata.obsm["histone"][row])
    with pytest.warns(NormalizationWarning, match=r"distributed unlike that of \['E003'\]"):
        ct.tl.predict(adata, "logreg", cell_types=["E003"])


def test_bad_references_are_refused_before_any_change(fitted):
    target = shifted(fitted)
    before = target.obsm["histone"].copy()
    with pytest.raises(KeyError, match="reference='nope' is no fitted model"):
        ct.pp.match_signal(target, "nope")
    target.uns["old"] = {**target.uns["deepchrome"]}
    target.uns["old"]["config"] = {
        **target.uns["deepchrome"]["config"],
        "data": {
            k: v
            for k, v in target.uns["deepchrome"]["config"]["data"].items()
            if k != "input_quantiles"
        },
    }
    with pytest.raises(ValueError, match="records no distribution of its training signal"):
        ct.pp.match_signal(target, "old")
    with pytest.raises(KeyError, match=r"cell_types \['E999'\]"):
        ct.pp.match_signal(target, "deepchrome", "E999")
    np.testing.assert_array_equal(target.obsm["histone"], before)


def test_predict_can_match_its_inputs_without_changing_the_object(fitted):
    unshifted = zero_shot(fitted.copy(), "deepchrome")
    target = shifted(fitted)
    before = target.obsm["histone"].copy()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ct.tl.predict(target, "deepchrome", cell_types=["cell1"], match_input=True)
    assert not [x for x in caught if issubclass(x.category, ct.tl.DistributionWarning)]
    row, test = target.obs_names.get_loc("cell1"), (target.var["split"] == "test").to_numpy()
    auroc = roc_auc_score(target.layers["label"][row, test], target.layers["deepchrome"][row, test])
    assert auroc >= unshifted - 0.01
    np.testing.assert_array_equal(target.obsm["histone"], before)
    with pytest.raises(ValueError, match="match_input must be True or False"):
        ct.tl.predict(target, "deepchrome", match_input="yes")


def test_finetune_can_match_its_targets_and_records_it(fitted):
    unshifted = zero_shot(fitted.copy(), "deepchrome")
    target = shifted(fitted)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ct.tl.finetune(target, source_key="deepchrome", target="cell1", scratch=False,
                       match_input=True, epochs=2, seed=0)  # fmt: skip
    # the targets are matched, so their distribution is not called off
    assert not [x for x in caught if issubclass(x.category, ct.tl.DistributionWarning)]
    result = target.uns["finetune"]
    assert result["params"]["match_input"] is True
    scores = result["metrics"].set_index("approach")
    assert scores.loc["zero_shot", "auroc"] >= unshifted - 0.01
    with pytest.warns(ct.tl.DistributionWarning, match="match_input=True"):
        ct.tl.finetune(target, source_key="deepchrome", target="cell1", scratch=False,
                       epochs=1, seed=0, key_added="unmatched")  # fmt: skip
    assert target.uns["unmatched"]["params"]["match_input"] is False


def test_real_k562_from_another_lab_is_recovered_within_001(remc):
    """The planted truth on real signal: K562's own read counts through another pipeline
    (another depth and a background) as a second cell type; TransferChrome fitted on K562
    reads it far worse, and matched it scores as the unshifted copy does."""
    raw = remc[["E123"]].copy()
    ct.pp.crop(raw, (-5000, 5000))
    ct.pp.split(raw, seed=0)
    other = raw.copy()
    other.obs_names = ["E123_lab2"]
    raw = ad.concat([raw, other], merge="same", uns_merge="first")
    unshifted = raw.copy()
    ct.pp.normalize(unshifted)
    ct.tl.fit(unshifted, "transferchrome", cell_types=["E123"], seed=0)
    target = raw.copy()
    row = target.obs_names.get_loc("E123_lab2")
    target.obsm["histone"][row] = target.obsm["histone"][row] * 0.3 + 1.5
    ct.pp.normalize(target)
    target.uns["transferchrome"] = unshifted.uns["transferchrome"]
    anchor = zero_shot(unshifted, "transferchrome", "E123_lab2")
    before = zero_shot(target, "transferchrome", "E123_lab2")
    ct.pp.match_signal(target, "transferchrome", "E123_lab2")
    after = zero_shot(target, "transferchrome", "E123_lab2")
    assert anchor > 0.85 and before < anchor - 0.1
    assert abs(after - anchor) <= 0.01, (anchor, before, after)
