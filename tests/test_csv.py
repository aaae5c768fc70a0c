"""DeepChrome/AttentiveChrome and DeepDiff CSV importers, on the real files."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

import chromtools as ct

CANONICAL = ["H3K4me3", "H3K4me1", "H3K36me3", "H3K27me3", "H3K9me3"]


@pytest.fixture
def toy(shared_data):
    folder = shared_data / "remc" / "attentivechrome_toy"
    return {split: folder / f"{split}.csv" for split in ("train", "valid", "test")}


def test_read_deepchrome_toy(toy):
    adata = ct.io.read_deepchrome(toy, cell_type="E999")
    assert adata.shape == (1, 30)
    assert ct.get.marks(adata) == CANONICAL
    assert adata.uns["chromtools"]["window"] == [-5000, 5000]
    assert list(adata.var["split"].value_counts().sort_index()) == [10, 10, 10]
    # first row of train.csv: 000003,1,H3K27me3=0,H3K36me3=1,H3K4me1=0,H3K4me3=2,H3K9me3=0,label=1
    first = ct.get.histone(adata[:, ["000003"]])[0, 0, :, 0]
    np.testing.assert_array_equal(first, [2, 0, 1, 0, 0])
    raw = pd.read_csv(toy["train"], header=None, dtype={0: str})
    expected_labels = raw.groupby(0)[7].first()
    np.testing.assert_array_equal(
        adata[:, expected_labels.index].layers["label"][0], expected_labels.to_numpy()
    )
    assert np.isnan(adata.X).all()


def test_both_formats_give_identical_objects(shared_data, tmp_path):
    """The same signal written in the two formats' different mark orders reads the same."""
    deepdiff_file = shared_data / "remc" / "histone" / "E123.train.csv.gz"
    via_deepdiff = ct.io.read_deepdiff({"E123": deepdiff_file})

    table = pd.read_csv(deepdiff_file, header=None)
    table.columns = ["id", "H3K4me1", "H3K4me3", "H3K9me3", "H3K27me3", "H3K36me3"]
    ids = table["id"].str.rsplit("_", n=1, expand=True)
    deepchrome = pd.DataFrame(
        {
            "gene": ids[0].str.split("_").str[0],
            "bin": ids[1].astype(int),
            **{m: table[m] for m in ("H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3", "H3K9me3")},
            "label": 0,
        }
    )
    path = tmp_path / "E123.csv"
    deepchrome.to_csv(path, header=False, index=False)
    via_deepchrome = ct.io.read_deepchrome(path, cell_type="E123")
    # DeepChrome's own window convention is centred; DeepDiff's 200 bins span ±10 kb
    assert via_deepchrome.uns["chromtools"]["window"] == [-10000, 10000]
    assert ct.get.marks(via_deepchrome) == ct.get.marks(via_deepdiff) == CANONICAL
    assert list(via_deepchrome.var_names) == list(via_deepdiff.var_names)
    np.testing.assert_array_equal(ct.get.histone(via_deepchrome), ct.get.histone(via_deepdiff))
    # spot check one value against the file: gene 1, bin 105, H3K4me3 column
    gene = via_deepdiff.var_names[0]
    row = table[table["id"] == f"{gene}_{via_deepdiff.var['gene_name'].iloc[0]}_105"]
    assert ct.get.histone(via_deepdiff)[0, 0, 0, 104] == row["H3K4me3"].item()


def test_read_deepdiff_labels_use_the_genome_wide_median(shared_data):
    remc = shared_data / "remc"
    adata = ct.io.read_deepdiff(
        {
            "E003": {
                "train": remc / "histone" / "E003.train.csv.gz",
                "valid": remc / "histone" / "E003.valid.csv.gz",
            }
        },
        {
            "E003": remc / "expression" / "E003.expr.csv.gz",
            "E116": remc / "expression" / "E116.expr.csv.gz",
        },
    )
    assert list(adata.obs_names) == ["E003", "E116"]
    assert adata.obs["has_histone"].tolist() == [True, False]
    assert np.isnan(ct.get.histone(adata)[1]).all()
    for cell_type in ("E003", "E116"):
        with gzip.open(remc / "expression" / f"{cell_type}.expr.csv.gz", "rt") as handle:
            table = pd.read_csv(handle, header=None, index_col=0)[1]
        counts = table.reindex(adata.var_names).to_numpy()
        row = adata.obs_names.get_loc(cell_type)
        np.testing.assert_array_equal(adata.layers["counts"][row], counts)
        np.testing.assert_allclose(adata.X[row], np.log2(counts + 1), rtol=1e-6)
        # the label threshold is the median over all 19,795 genes, not over these 400
        expected = counts > np.median(table.to_numpy())
        np.testing.assert_array_equal(adata.layers["label"][row], expected)
        subset_rule = counts > np.median(counts)
        assert (expected != subset_rule).any()


def test_bad_csv_input_is_named(toy, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        ct.io.read_deepchrome(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match=r"unknown mark names \['H3K4m3'\]"):
        ct.io.read_deepchrome(
            toy["train"], marks=["H3K27me3", "H3K36me3", "H3K4me1", "H3K4m3", "H3K9me3"]
        )
    table = pd.read_csv(toy["train"], header=None)
    table.iloc[3, 4] = -2
    table.to_csv(tmp_path / "negative.csv", header=False, index=False)
    with pytest.raises(ValueError, match="negative.csv: 1 values are negative"):
        ct.io.read_deepchrome(tmp_path / "negative.csv")
    table.iloc[3, 4] = np.nan
    table.to_csv(tmp_path / "nan.csv", header=False, index=False)
    with pytest.raises(ValueError, match="nan.csv: 1 values are NaN"):
        ct.io.read_deepchrome(tmp_path / "nan.csv")
    with pytest.raises(ValueError, match="appear more than once"):
        ct.io.read_deepchrome([toy["train"], toy["train"]])
    with pytest.raises(ValueError, match="expected 7 columns .* found 8"):
        ct.io.read_deepchrome(toy["train"], marks=["H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3"])


def test_read_deepdiff_expression_equals_add_expression(shared_data):
    """Expression read with the histone files or attached afterwards is the same."""
    remc = shared_data / "remc"
    histone = {"E123": remc / "histone" / "E123.train.csv.gz"}
    tables = {c: remc / "expression" / f"{c}.expr.csv.gz" for c in ("E123", "E116")}
    together = ct.io.read_deepdiff(histone, tables)
    later = ct.io.read_deepdiff(histone, {"E116": tables["E116"]})
    ct.pp.add_expression(later, tables["E123"], cell_type="E123")
    for layer in ("counts", "label"):
        np.testing.assert_array_equal(later.layers[layer], together.layers[layer])
    np.testing.assert_array_equal(later.X, together.X)
    np.testing.assert_array_equal(later.obs["expression_median"], together.obs["expression_median"])


def test_read_deepdiff_labels_are_binarize_labels(shared_data):
    """read_deepdiff labels by the same rule as ct.pp.binarize with the genome-wide median."""
    remc = shared_data / "remc"
    adata = ct.io.read_deepdiff(
        {"E003": remc / "histone" / "E003.valid.csv.gz"},
        {"E003": remc / "expression" / "E003.expr.csv.gz"},
    )
    relabelled = ct.pp.binarize(adata, key_added="relabel", copy=True)
    np.testing.assert_array_equal(relabelled.layers["relabel"], adata.layers["label"])
    assert 0 < np.nanmean(adata.layers["label"]) < 1


def test_read_expression_of_the_real_tables_keeps_every_gene(shared_data):
    path = shared_data / "remc" / "expression" / "E116.expr.csv.gz"
    with gzip.open(path, "rt") as handle:
        table = pd.read_csv(handle, header=None, index_col=0, dtype={0: str})[1]
    counts = ct.io.read_expression(path)
    assert len(counts) == len(table) == 19795
    np.testing.assert_array_equal(counts.reindex(table.index).to_numpy(), table.to_numpy())
