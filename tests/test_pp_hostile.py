"""ct.pp and ct.datasets refuse bad arguments before changing anything."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import chromtools as ct


@pytest.fixture
def adata():
    """Two cell types × 30 genes × 5 marks × 20 bins of 100 bp, split, with labels."""
    adata = ct.datasets.synthetic_histone(2, 30, n_bins=20, seed=1)
    ct.pp.split(adata, seed=0)
    return adata


def snapshot(adata) -> tuple:
    return (
        sorted(adata.layers),
        list(adata.var.columns),
        dict(adata.uns["chromtools"]),
        np.asarray(adata.obsm["histone"]).copy(),
        np.asarray(adata.layers["label"]).copy(),
        np.asarray(adata.layers["counts"]).copy(),
        adata.var.copy(),
    )


def assert_unchanged(adata, before: tuple) -> None:
    after = snapshot(adata)
    assert after[:2] == before[:2]
    assert after[2].keys() == before[2].keys()
    for old, new in zip(before[3:6], after[3:6], strict=True):
        np.testing.assert_array_equal(old, new)
    pd.testing.assert_frame_equal(before[6], after[6])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda a: ct.pp.binarize(a, threshold=True),
            ValueError,
            "threshold must be 'median' or a finite number, got True",
        ),
        (
            lambda a: ct.pp.binarize(a, threshold=math.nan),
            ValueError,
            "threshold must be 'median' or a finite number, got nan",
        ),
        (
            lambda a: ct.pp.binarize(a, threshold=[1.0]),
            ValueError,
            r"threshold must be 'median' or a finite number, got \[1.0\]",
        ),
        (
            lambda a: ct.pp.binarize(a, layer="counts", key_added="counts"),
            ValueError,
            "is the layer being binarised",
        ),
        (
            lambda a: ct.pp.binarize(a, key_added="activity"),
            ValueError,
            r"would overwrite layers\['activity'\], which does not hold labels",
        ),
        (
            lambda a: ct.pp.crop(a, (-500.7, 500)),
            ValueError,
            "crop: window start must be an integer, got -500.7",
        ),
        (lambda a: ct.pp.crop(a, (-500, "500")), ValueError, "crop: window end must be"),
        (lambda a: ct.pp.crop(a, "ab"), ValueError, r"crop: window must be \(start, end\)"),
        (lambda a: ct.pp.crop(a, (-500, 500), copy="yes"), ValueError, "copy must be True or"),
        (
            lambda a: ct.pp.rebin(a, 150),
            ValueError,
            "bin_size 150 is not a multiple of the current bin_size 100",
        ),
        (lambda a: ct.pp.rebin(a, 300), ValueError, "spans 2000 bp, which is not a multiple"),
        (lambda a: ct.pp.rebin(a, True), ValueError, "bin_size must be a positive integer"),
        (lambda a: ct.pp.normalize(a, force="yes"), ValueError, "force must be True or False"),
        (
            lambda a: ct.pp.split(a, fractions=(-0.2, 0.6, 0.6)),
            ValueError,
            "three non-negative numbers",
        ),
        (lambda a: ct.pp.split(a, fractions=(0.6, 0.3, 0.3)), ValueError, "must sum to 1"),
        (
            lambda a: ct.pp.split(a, fractions=(math.nan, 0.5, 0.5)),
            ValueError,
            "three non-negative numbers",
        ),
        (
            lambda a: ct.pp.split(a, fractions=(True, False, False)),
            ValueError,
            "three non-negative numbers",
        ),
        (lambda a: ct.pp.split(a, fractions="abc"), ValueError, "three non-negative numbers"),
        (lambda a: ct.pp.split(a, seed=1.5), ValueError, "split: seed must be .*integer"),
        (lambda a: ct.pp.split(a, seed=True), ValueError, "split: seed must be .*integer"),
        (
            lambda a: ct.pp.split(a, key_added="chrom"),
            ValueError,
            r"would overwrite var\['chrom'\], which holds \['chr1'",
        ),
        (
            lambda a: ct.pp.split(a, test_chromosomes=2),
            ValueError,
            "test_chromosomes must be a chromosome name or a list",
        ),
        (
            lambda a: ct.pp.split(a, test_chromosomes=["chr2", "chr2"]),
            ValueError,
            r"test_chromosomes names \['chr2'\] more than once",
        ),
        (
            lambda a: ct.pp.log_fold_change(a, "cell0", "cell1", key_added="chrom"),
            ValueError,
            r"would overwrite var\['chrom'\], which holds category values",
        ),
    ],
)
def test_pp_refuses_bad_arguments_without_changing_anything(adata, call, error, message):
    before = snapshot(adata)
    with pytest.raises(error, match=message):
        call(adata)
    assert_unchanged(adata, before)


def test_normalize_refuses_an_infinite_bin_naming_its_track(adata):
    adata.obsm["histone"][1, 3, 2, 5] = np.inf
    before = snapshot(adata)
    with pytest.raises(ValueError, match=r"infinite values in the tracks .* cell1 H3K36me3 \(1\)"):
        ct.pp.normalize(adata)
    assert_unchanged(adata, before)
    assert "normalize" not in adata.uns["chromtools"].get("pp", {})


def test_normalize_refuses_negative_signal_for_log_and_depth(adata):
    ct.pp.normalize(adata, "zscore")
    before = snapshot(adata)
    for method in ("log1p", "depth", "depth_log1p"):
        with pytest.raises(ValueError, match=f"method='{method}' needs non-negative"):
            ct.pp.normalize(adata, method, force=True)
    assert_unchanged(adata, before)


def test_normalize_still_keeps_a_cell_type_without_signal(adata):
    adata.obsm["histone"][1] = np.nan
    ct.pp.normalize(adata)
    assert np.isnan(adata.obsm["histone"][1]).all()
    assert np.isfinite(adata.obsm["histone"][0]).all()


def test_a_repeated_split_may_replace_its_own_column(adata):
    first = adata.var["split"].copy()
    ct.pp.split(adata, seed=5)
    assert not adata.var["split"].equals(first)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise": math.nan}, "noise must be a finite number, got nan"),
        ({"noise": -1.0}, "noise must be >= 0"),
        ({"n_cell_types": 2.5}, "n_cell_types must be .*integer.*, got 2.5"),
        ({"n_cell_types": "10"}, "n_cell_types must be .*integer.*, got '10'"),
        ({"n_genes": 1}, "n_genes must be .*2"),
        ({"n_bins": 20.5}, "n_bins must be .*integer"),
        ({"bin_size": 0}, "bin_size must be .*integer"),
        ({"seed": "abc"}, "seed must be .*integer"),
        ({"seed": -2}, "seed must be .*, got -2"),
        ({"shared": math.nan}, "shared must be a finite number"),
        ({"depth": (1.0, math.nan, 1.0)}, "depth must be 3 positive numbers"),
        ({"depth": "abc"}, "depth must be 3 positive numbers"),
        ({"cell_types": ["a", "a", "b"]}, "cell_types must be distinct, non-empty names"),
    ],
)
def test_synthetic_histone_refuses_bad_sizes(kwargs, message):
    options = {"n_cell_types": 3, "n_genes": 20, "n_bins": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        ct.datasets.synthetic_histone(**options)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_regions": 2.5}, "n_regions must be .*integer.*, got 2.5"),
        ({"n_regions": "10"}, "n_regions must be .*integer.*, got '10'"),
        ({"width": "600"}, "width must be .*integer"),
        ({"seed": 1.5}, "seed must be .*integer"),
        ({"gc": math.nan}, "gc must be a finite number"),
        ({"cell_types": ["A", 3]}, "cell_types must be non-empty names"),
        ({"motifs": 3}, "motifs must be a list of JASPAR ids or TF names"),
    ],
)
def test_synthetic_sequences_refuses_bad_sizes(kwargs, message):
    options = {"n_regions": 20, "width": 60, **kwargs}
    with pytest.raises(ValueError, match=message):
        ct.datasets.synthetic_sequences(**options)


def test_one_cell_type_name_is_one_cell_type():
    adata = ct.datasets.synthetic_sequences(20, 60, cell_types="AB", seed=0)
    assert list(adata.obs_names) == ["AB", "any"]
