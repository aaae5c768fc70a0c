"""ct.pp: windows and bins, signal normalisation, labels, splits, log fold change."""

from __future__ import annotations

import warnings

import anndata as ad
import dask.array as da
import numpy as np
import pandas as pd
import pytest

import chromtools as ct
from chromtools.io._anndata import new_anndata

MARKS = ["H3K4me3", "H3K27me3"]


def _binned(histone: np.ndarray, *, window=(-1000, 1000), bin_size=100, var=None, **kwargs):
    """A small object around ``histone`` of shape (cell types, genes, marks, bins)."""
    n_cells, n_genes = histone.shape[:2]
    var = var if var is not None else pd.DataFrame(index=[f"g{i}" for i in range(n_genes)])
    return new_anndata(
        obs_names=[f"cell{i}" for i in range(n_cells)],
        var=var,
        histone=histone.astype(np.float32),
        marks=MARKS[: histone.shape[2]],
        bin_size=bin_size,
        window=window,
        **kwargs,
    )


def _bin_index_signal(n_cells=2, n_genes=3, n_bins=20) -> np.ndarray:
    """Signal whose value is 1000·cell + 100·gene + 10·mark + bin: every entry says where it is."""
    c, g, m, b = np.meshgrid(
        np.arange(n_cells), np.arange(n_genes), np.arange(2), np.arange(n_bins), indexing="ij"
    )
    return (1000 * c + 100 * g + 10 * m + b).astype(np.float32)


def _track_means(adata) -> np.ndarray:
    return np.asarray(ct.get.histone(adata)).mean(axis=(1, 3))


# crop ------------------------------------------------------------------------------------


def test_crop_keeps_exactly_the_bins_inside_the_window():
    adata = _binned(_bin_index_signal())
    assert ct.pp.crop(adata, (-500, 500)) is None
    histone = ct.get.histone(adata)
    assert histone.shape == (2, 3, 2, 10)
    np.testing.assert_array_equal(histone, _bin_index_signal()[..., 5:15])
    meta = adata.uns["chromtools"]
    assert meta["window"] == [-500, 500]
    assert meta["pp"]["crop"] == {
        "window": [-500, 500],
        "previous_window": [-1000, 1000],
        "bins": [5, 15],
    }


def test_crop_to_the_deepchrome_window_keeps_bins_51_to_150(remc):
    cropped = ct.pp.crop(remc, (-5000, 5000), copy=True)
    full = ct.get.histone(remc)
    np.testing.assert_array_equal(ct.get.histone(cropped), full[..., 50:150])
    assert ct.get.histone(cropped).shape[3] == 100
    assert list(remc.uns["chromtools"]["window"]) == [-10000, 10000]  # copy left remc alone


def test_crop_after_a_gene_mask_and_reordering_stays_aligned():
    adata = _binned(_bin_index_signal(n_genes=6))
    subset = adata[:, ["g4", "g1", "g5"]]
    cropped = ct.pp.crop(subset, (0, 300), copy=True)
    histone = ct.get.histone(cropped)
    for i, gene in enumerate([4, 1, 5]):
        np.testing.assert_array_equal(
            histone[:, i], _bin_index_signal(n_genes=6)[:, gene, :, 10:13]
        )


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ((-2000, 500), r"not inside the current window \(-1000, 1000\)"),
        ((-450, 550), r"does not fall on bin edges \(\[-450, 550\] bp\)"),
        ((500, -500), "end must be greater than its start"),
        ((0,), r"must be \(start, end\)"),
    ],
)
def test_crop_refuses_a_window_it_cannot_cut(window, message):
    adata = _binned(_bin_index_signal())
    with pytest.raises(ValueError, match=message):
        ct.pp.crop(adata, window)
    assert adata.uns["chromtools"]["window"] == [-1000, 1000]
    assert "pp" not in adata.uns["chromtools"]


def test_crop_and_rebin_refuse_objects_without_signal_or_with_model_results():
    no_signal = new_anndata(obs_names=["a"], var=pd.DataFrame(index=["g0"]))
    with pytest.raises(KeyError, match=r"crop: adata.obsm\['histone'\] does not exist"):
        ct.pp.crop(no_signal, (-500, 500))
    adata = _binned(_bin_index_signal())
    adata.obsm["deepchrome_attr"] = np.zeros_like(adata.obsm["histone"])
    with pytest.raises(ValueError, match=r"obsm \['deepchrome_attr'\] hold model results"):
        ct.pp.rebin(adata, 200)


# rebin -----------------------------------------------------------------------------------


def test_rebin_takes_the_mean_of_merged_bins():
    adata = _binned(_bin_index_signal())
    ct.pp.rebin(adata, 500)
    histone = ct.get.histone(adata)
    assert histone.shape == (2, 3, 2, 4)
    # bins 0-4 of gene 0, mark 0, cell 0 hold 0..4: mean 2; then 7, 12, 17
    np.testing.assert_allclose(histone[0, 0, 0], [2, 7, 12, 17])
    np.testing.assert_allclose(histone[1, 2, 1], 1000 + 200 + 10 + np.array([2, 7, 12, 17]))
    meta = adata.uns["chromtools"]
    assert meta["bin_size"] == 500 and meta["window"] == [-1000, 1000]
    assert meta["pp"]["rebin"] == {"bin_size": 500, "previous_bin_size": 100, "aggregation": "mean"}


@pytest.mark.parametrize(
    ("bin_size", "message"),
    [
        (150, "bin_size 150 is not a multiple of the current bin_size 100"),
        (300, "spans 2000 bp, which is not a multiple of bin_size=300"),
        (0, "bin_size must be a positive integer"),
        (2.5, "bin_size must be a positive integer"),
    ],
)
def test_rebin_refuses_bins_it_cannot_merge(bin_size, message):
    adata = _binned(_bin_index_signal())
    with pytest.raises(ValueError, match=message):
        ct.pp.rebin(adata, bin_size)
    assert adata.uns["chromtools"]["bin_size"] == 100


def test_rebin_after_a_log_normalisation_warns():
    adata = _binned(_bin_index_signal())
    ct.pp.normalize(adata)
    with pytest.warns(UserWarning, match="rebin before normalize"):
        ct.pp.rebin(adata, 200)


# normalize -------------------------------------------------------------------------------


def _depth_object() -> tuple:
    """cell1 = cell0 × a planted depth factor per mark; cell2 has no ChIP-seq (NaN)."""
    rng = np.random.default_rng(0)
    base = rng.poisson(3.0, size=(40, 2, 20)).astype(np.float32)
    depth = np.array([3.0, 2.0], dtype=np.float32)
    histone = np.stack([base, base * depth[None, :, None], np.full_like(base, np.nan)])
    return _binned(histone), base


def test_default_normalize_removes_a_planted_depth_factor():
    adata, base = _depth_object()
    raw = _track_means(adata)
    np.testing.assert_allclose(raw[1] / raw[0], [3.0, 2.0], rtol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the NaN cell type must not warn
        ct.pp.normalize(adata)
    histone = ct.get.histone(adata)
    np.testing.assert_allclose(histone[1], histone[0], rtol=1e-5)
    expected = np.log1p(base / base.mean(axis=(0, 2))[None, :, None])
    np.testing.assert_allclose(histone[0], expected, rtol=1e-5)
    assert np.isnan(histone[2]).all()
    record = adata.uns["chromtools"]["pp"]["normalize"]
    assert record["method"] == "depth_log1p" and record["n_genes"] == 40
    factors = record["scale_factors"]
    assert list(factors.columns) == MARKS and list(factors.index) == ["cell0", "cell1", "cell2"]
    np.testing.assert_allclose(factors.loc["cell1"] / factors.loc["cell0"], [3.0, 2.0], rtol=1e-5)
    assert factors.loc["cell2"].isna().all()


def test_normalize_leaves_an_all_zero_track_at_zero():
    histone = np.ones((1, 4, 2, 20), dtype=np.float32)
    histone[0, :, 1] = 0
    adata = _binned(histone)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ct.pp.normalize(adata, "depth")
    np.testing.assert_array_equal(ct.get.histone(adata)[0, :, 1], 0)
    np.testing.assert_array_equal(ct.get.histone(adata)[0, :, 0], 1)
    np.testing.assert_array_equal(
        adata.uns["chromtools"]["pp"]["normalize"]["scale_factors"].to_numpy(), [[1.0, 1.0]]
    )


def test_normalize_methods_give_their_known_values():
    adata, base = _depth_object()
    raw = np.asarray(ct.get.histone(adata))
    log1p = ct.pp.normalize(adata, "log1p", copy=True)
    np.testing.assert_allclose(ct.get.histone(log1p), np.log1p(raw), rtol=1e-6)
    depth = ct.pp.normalize(adata, "depth", copy=True)
    np.testing.assert_allclose(_track_means(depth)[:2], 1.0, rtol=1e-5)
    zscore = ct.pp.normalize(adata, "zscore", copy=True)
    values = ct.get.histone(zscore)[:2]
    np.testing.assert_allclose(values.mean(axis=(1, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(values.std(axis=(1, 3)), 1.0, rtol=1e-4)
    record = zscore.uns["chromtools"]["pp"]["normalize"]
    np.testing.assert_allclose(record["centers"].to_numpy()[:2], raw.mean(axis=(1, 3))[:2])
    unchanged = ct.pp.normalize(adata, None, copy=True)
    np.testing.assert_array_equal(ct.get.histone(unchanged), raw)
    assert unchanged.uns["chromtools"]["pp"]["normalize"]["method"] is None
    ct.pp.normalize(unchanged)  # a deliberate "raw" record does not block normalising
    assert unchanged.uns["chromtools"]["pp"]["normalize"]["method"] == "depth_log1p"


def test_normalize_refuses_to_normalise_twice_unless_forced():
    adata, _ = _depth_object()
    ct.pp.normalize(adata)
    once = np.asarray(ct.get.histone(adata)).copy()
    with pytest.raises(ValueError, match="already normalised with 'depth_log1p'.*force=True"):
        ct.pp.normalize(adata, "log1p")
    np.testing.assert_array_equal(ct.get.histone(adata), once)
    with pytest.raises(ValueError, match="method=None would record it as raw"):
        ct.pp.normalize(adata, None, force=True)
    ct.pp.normalize(adata, "log1p", force=True)
    np.testing.assert_allclose(ct.get.histone(adata), np.log1p(once), rtol=1e-6)
    record = adata.uns["chromtools"]["pp"]["normalize"]
    assert record["method"] == "log1p" and record["previous"] == "depth_log1p"
    with pytest.raises(ValueError, match=r"unknown method 'tpm'; expected one of \['depth_log1p'"):
        ct.pp.normalize(adata, "tpm")


def test_normalize_refuses_a_concatenation_of_differently_normalised_objects():
    first, _ = _depth_object()
    second = first.copy()
    ct.pp.normalize(first)
    ct.pp.normalize(second, "log1p")
    combined = ad.concat([first[:1], second[1:]], uns_merge="same")
    assert "method" not in combined.uns["chromtools"]["pp"]["normalize"]
    with pytest.raises(ValueError, match="already normalised with 'unknown"):
        ct.pp.normalize(combined)


def test_normalize_takes_statistics_over_the_genes_of_var():
    adata, base = _depth_object()
    genes = ["g7", "g3", "g30", "g12"]
    subset = adata[:, genes]  # a view; the stored array keeps all 40 genes
    ct.pp.normalize(subset, "depth")
    assert not subset.is_view
    chosen = base[[7, 3, 30, 12]]
    expected = chosen / chosen.mean(axis=(0, 2))[None, :, None]
    np.testing.assert_allclose(ct.get.histone(subset)[0], expected, rtol=1e-5)
    np.testing.assert_allclose(ct.get.histone(subset)[1], expected, rtol=1e-5)
    assert subset.uns["chromtools"]["pp"]["normalize"]["n_genes"] == 4
    assert "pp" not in adata.uns["chromtools"]  # the parent object is untouched


def test_default_normalize_makes_e003_and_e123_comparable(remc):
    names = list(remc.obs_names)
    e003, e123 = names.index("E003"), names.index("E123")
    marks = ct.get.marks(remc)
    raw = _track_means(remc)
    raw_ratio = raw[e003] / raw[e123]
    assert 2.5 < raw_ratio[marks.index("H3K27me3")] < 3.5
    assert 1.7 < raw_ratio[marks.index("H3K4me3")] < 2.3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # seven cell types without ChIP-seq: no warnings
        normalized = ct.pp.normalize(remc, copy=True)
    means = _track_means(normalized)
    ratio = means[e003] / means[e123]
    assert np.all((ratio > 0.75) & (ratio < 1.25)), dict(zip(marks, ratio, strict=True))
    assert np.abs(np.log(ratio)).max() < 0.5 * np.abs(np.log(raw_ratio)).max()
    no_chip = ~remc.obs["has_histone"].to_numpy()
    assert np.isnan(np.asarray(ct.get.histone(normalized))[no_chip]).all()


# lazy signal -----------------------------------------------------------------------------


def test_lazy_signal_stays_lazy_and_gives_the_eager_values(tmp_path):
    adata, _ = _depth_object()
    ct.io.write_zarr(adata, tmp_path / "s.zarr", chunk_genes=16)
    lazy = ct.io.read_zarr(tmp_path / "s.zarr")
    assert isinstance(lazy.obsm["histone"], da.Array)

    steps = [
        (ct.pp.crop, ((-500, 500),), {}),
        (ct.pp.rebin, (200,), {}),
        (ct.pp.normalize, (), {}),
    ]
    eager = adata
    for function, args, kwargs in steps:
        lazy = function(lazy, *args, copy=True, **kwargs)
        eager = function(eager, *args, copy=True, **kwargs)
        assert isinstance(lazy.obsm["histone"], da.Array), function.__name__
        assert isinstance(ct.get.histone(lazy), da.Array), function.__name__
    np.testing.assert_allclose(ct.get.histone(lazy).compute(), ct.get.histone(eager), rtol=1e-5)
    pd.testing.assert_frame_equal(
        lazy.uns["chromtools"]["pp"]["normalize"]["scale_factors"],
        eager.uns["chromtools"]["pp"]["normalize"]["scale_factors"],
    )
    subset = lazy[:, ["g5", "g2"]]
    np.testing.assert_allclose(
        ct.get.histone(subset).compute(), np.asarray(ct.get.histone(eager))[:, [5, 2]], rtol=1e-5
    )


def test_records_survive_a_zarr_round_trip(tmp_path):
    adata, _ = _depth_object()
    ct.pp.crop(adata, (-500, 500))
    ct.pp.normalize(adata)
    ct.io.write_zarr(adata, tmp_path / "s.zarr")
    back = ct.io.read_zarr(tmp_path / "s.zarr")
    steps = back.uns["chromtools"]["pp"]
    assert steps["normalize"]["method"] == "depth_log1p"
    assert list(back.uns["chromtools"]["window"]) == [-500, 500]
    with pytest.raises(ValueError, match="already normalised"):
        ct.pp.normalize(back)


# binarize --------------------------------------------------------------------------------


def _expression_object(x: np.ndarray, medians) -> object:
    var = pd.DataFrame(index=[f"g{i}" for i in range(x.shape[1])])
    obs = pd.DataFrame({"expression_median": medians})
    return new_anndata(
        obs_names=[f"cell{i}" for i in range(x.shape[0])],
        var=var,
        X=x.astype(np.float32),
        layers={"counts": (2.0 ** x.astype(np.float32) - 1)},
        obs=obs,
    )


def test_binarize_uses_the_genome_wide_median_not_the_subsets():
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, np.nan, 4.0, 5.0]])
    # the whole tables' medians: 1.5 (cell0) and 4.0 (cell1); the 5 genes' own would be 3
    adata = _expression_object(x, [1.5, 4.0])
    ct.pp.binarize(adata)
    label = adata.layers["label"]
    np.testing.assert_array_equal(label[0], [0, 1, 1, 1, 1])
    # 4.0 equals the threshold: strictly greater is high, so a tie is low
    np.testing.assert_array_equal(label[1], [0, 0, np.nan, 0, 1])
    assert label.dtype == np.float32
    thresholds = adata.uns["chromtools"]["pp"]["binarize"]["thresholds"]
    np.testing.assert_array_equal(thresholds["threshold"], [1.5, 4.0])
    assert thresholds["source"].str.startswith("genome-wide median").all()
    # the same cut on raw counts gives the same labels
    ct.pp.binarize(adata, layer="counts", key_added="from_counts")
    np.testing.assert_array_equal(adata.layers["from_counts"], label)


def test_binarize_falls_back_to_the_genes_present_and_records_it():
    x = np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [np.nan] * 5])
    adata = _expression_object(x, [np.nan, np.nan])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ct.pp.binarize(adata)
    np.testing.assert_array_equal(adata.layers["label"][0], [0, 0, 0, 1, 1])
    assert np.isnan(adata.layers["label"][1]).all()
    sources = adata.uns["chromtools"]["pp"]["binarize"]["thresholds"]["source"]
    assert list(sources) == ["median over the 5 genes present", "no expression"]
    ct.pp.binarize(adata, threshold=1.5, key_added="fixed")
    np.testing.assert_array_equal(adata.layers["fixed"][0], [0, 1, 1, 1, 1])


def test_binarize_reproduces_the_papers_labels_on_a_subset_of_real_genes(remc):
    subset = remc[:, remc.var_names[:50]]
    labelled = ct.pp.binarize(subset, key_added="relabel", copy=True)
    np.testing.assert_array_equal(labelled.layers["relabel"], remc.layers["label"][:, :50])
    own_median = np.nanmedian(np.array(subset.X), axis=1)
    assert not np.allclose(own_median, remc.obs["expression_median"])


def test_binarize_refuses_bad_input():
    adata = _expression_object(np.ones((1, 3)), [0.5])
    with pytest.raises(KeyError, match=r"adata.layers\['rpkm'\] does not exist"):
        ct.pp.binarize(adata, layer="rpkm")
    with pytest.raises(ValueError, match="threshold must be 'median' or a number, got 'mean'"):
        ct.pp.binarize(adata, threshold="mean")
    assert "pp" not in adata.uns["chromtools"]


# split -----------------------------------------------------------------------------------


def _genes(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    chromosomes = [f"chr{i}" for i in range(1, 23)]
    var = pd.DataFrame(
        {"chrom": rng.choice(chromosomes, n)}, index=[f"ENSG{i:011d}" for i in range(n)]
    )
    return new_anndata(obs_names=["a", "b"], var=var)


def test_split_by_chromosome_holds_out_every_gene_of_chr2_and_chr3():
    adata = _genes(3000)
    ct.pp.split(adata, test_chromosomes=["chr2", "chr3"], seed=1)
    split = adata.var["split"]
    on_test = adata.var["chrom"].isin(["chr2", "chr3"])
    assert (split[on_test] == "test").all()
    assert (split[~on_test] != "test").all()
    assert list(split.cat.categories) == ["train", "valid", "test"]
    # the rest is divided train:valid = 0.6:0.2
    assert abs((split[~on_test] == "valid").mean() - 0.25) < 0.03
    record = adata.uns["chromtools"]["pp"]["split"]
    assert record["test_chromosomes"] == ["chr2", "chr3"] and record["seed"] == 1
    assert record["n_genes"]["test"] == on_test.sum()


def test_split_with_test_and_valid_chromosomes_trains_on_the_rest():
    adata = _genes(500)
    ct.pp.split(adata, test_chromosomes="chr2", valid_chromosomes=["chr1"])
    expected = np.where(
        adata.var["chrom"] == "chr2",
        "test",
        np.where(adata.var["chrom"] == "chr1", "valid", "train"),
    )
    np.testing.assert_array_equal(adata.var["split"].astype(str), expected)


def test_split_leaves_genes_of_unknown_chromosome_out_with_a_warning():
    adata = _genes(200)
    adata.var.loc[adata.var_names[:3], "chrom"] = np.nan
    with pytest.warns(UserWarning, match="3 genes have no chromosome"):
        ct.pp.split(adata, test_chromosomes=["chr2"])
    assert adata.var["split"].iloc[:3].isna().all()
    assert adata.var["split"].iloc[3:].notna().all()


def test_random_split_is_reproducible_order_independent_and_has_the_fractions():
    adata = _genes(5000)
    first = ct.pp.split(adata, fractions=(0.7, 0.1, 0.2), seed=3, copy=True).var["split"]
    again = ct.pp.split(adata, fractions=(0.7, 0.1, 0.2), seed=3, copy=True).var["split"]
    pd.testing.assert_series_equal(first, again)
    shares = first.value_counts(normalize=True)
    np.testing.assert_allclose(shares[["train", "valid", "test"]], [0.7, 0.1, 0.2], atol=0.02)
    other = ct.pp.split(adata, fractions=(0.7, 0.1, 0.2), seed=4, copy=True).var["split"]
    assert (other != first).mean() > 0.3
    # a shuffled subset of the genes gets the same split for every gene it holds
    genes = np.random.default_rng(0).permutation(adata.var_names)[:700]
    subset = ct.pp.split(adata[:, genes], fractions=(0.7, 0.1, 0.2), seed=3, copy=True)
    pd.testing.assert_series_equal(subset.var["split"], first[genes], check_categorical=True)


def test_random_split_defaults_to_the_global_seed():
    adata = _genes(300)
    before = ct.settings.seed
    try:
        ct.settings.seed = 11
        default = ct.pp.split(adata, copy=True)
    finally:
        ct.settings.seed = before
    explicit = ct.pp.split(adata, seed=11, copy=True)
    pd.testing.assert_series_equal(default.var["split"], explicit.var["split"])
    assert default.uns["chromtools"]["pp"]["split"]["seed"] == 11


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"test_chromosomes": ["2", "3"]}, ValueError, r"no gene is on test_chromosomes \['2'"),
        (
            {"test_chromosomes": ["chr2"], "valid_chromosomes": ["chr2"]},
            ValueError,
            r"\['chr2'\] are in both",
        ),
        ({"fractions": (0.5, 0.2, 0.2)}, ValueError, "must sum to 1"),
        ({"fractions": (0.8, 0.2)}, ValueError, "three non-negative numbers"),
        ({"seed": "one"}, ValueError, "seed must be an integer"),
    ],
)
def test_split_refuses_bad_input(kwargs, error, message):
    adata = _genes(100)
    with pytest.raises(error, match=message):
        ct.pp.split(adata, **kwargs)
    assert "split" not in adata.var


def test_split_by_chromosome_needs_var_chrom():
    adata = new_anndata(obs_names=["a"], var=pd.DataFrame(index=["g0", "g1"]))
    with pytest.raises(KeyError, match=r"need the chromosome of each gene in var\['chrom'\]"):
        ct.pp.split(adata, test_chromosomes=["chr2"])


# log_fold_change -------------------------------------------------------------------------


def _counts_object():
    counts = np.array([[0, 1, 3, 7], [1, 3, 7, 0], [np.nan, 1, 1, 1]], dtype=np.float32)
    return new_anndata(
        obs_names=["E123", "E003", "E116"],
        var=pd.DataFrame(index=[f"g{i}" for i in range(4)]),
        layers={"counts": counts},
    )


def test_log_fold_change_is_log2_of_the_count_ratio():
    adata = _counts_object()
    ct.pp.log_fold_change(adata, "E123", "E003")
    np.testing.assert_allclose(adata.var["log2fc_E003_vs_E123"], [1.0, 1.0, 1.0, -3.0])
    ct.pp.log_fold_change(adata, "E003", "E123", key_added="reverse")
    np.testing.assert_allclose(adata.var["reverse"], [-1.0, -1.0, -1.0, 3.0])
    assert adata.uns["chromtools"]["pp"]["log_fold_change"] == {
        "a": "E003",
        "b": "E123",
        "layer": "counts",
        "key_added": "reverse",
    }


def test_log_fold_change_of_real_counts(remc):
    result = ct.pp.log_fold_change(remc, "E123", "E003", copy=True)
    counts = remc.layers["counts"]
    names = list(remc.obs_names)
    expected = np.log2(
        (counts[names.index("E003")].astype(np.float64) + 1)
        / (counts[names.index("E123")].astype(np.float64) + 1)
    )
    np.testing.assert_allclose(result.var["log2fc_E003_vs_E123"], expected, rtol=1e-12)
    assert "log2fc_E003_vs_E123" not in remc.var


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("E123", "E123"), {}, ValueError, "a and b are both 'E123'"),
        (("E123", "E999"), {}, KeyError, r"cell types \['E999'\] are not in adata.obs_names"),
        (("E123", "E003"), {"layer": "raw"}, KeyError, r"layers\['raw'\] does not exist"),
        (("E116", "E003"), {}, ValueError, "of 'E116' is NaN for 1 genes"),
    ],
)
def test_log_fold_change_refuses_bad_input(args, kwargs, error, message):
    adata = _counts_object()
    with pytest.raises(error, match=message):
        ct.pp.log_fold_change(adata, *args, **kwargs)
    assert adata.var.shape[1] == 0


# conventions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "args"),
    [
        (ct.pp.crop, ((-500, 500),)),
        (ct.pp.rebin, (200,)),
        (ct.pp.normalize, ()),
        (ct.pp.binarize, ()),
        (ct.pp.split, ()),
        (ct.pp.log_fold_change, ("cell0", "cell1")),
    ],
)
def test_copy_returns_a_changed_copy_and_leaves_the_input_alone(function, args):
    adata = _binned(
        _bin_index_signal(),
        X=np.log2(np.arange(6, dtype=np.float32).reshape(2, 3) + 1),
        layers={"counts": np.arange(6, dtype=np.float32).reshape(2, 3)},
    )
    before = adata.copy()
    result = function(adata, *args, copy=True)
    assert result is not adata
    assert function.__name__ in result.uns["chromtools"]["pp"]
    np.testing.assert_array_equal(adata.obsm["histone"], before.obsm["histone"])
    assert "pp" not in adata.uns["chromtools"]
    assert adata.var.equals(before.var) and list(adata.layers) == list(before.layers)
