"""Expression in, the papers' way: ct.io.read_expression's table shapes and
ct.pp.add_expression, on planted tables and on the real Roadmap tables."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest

import chromtools as ct
from chromtools._errors import FormatError
from chromtools.io._anndata import new_anndata

# Nine genes with counts 0..80: median count 40, so genes with count > 40 are high.
PLANTED = {f"ENSG{i:011d}": float(10 * i) for i in range(9)}
MEDIAN = np.log2(40 + 1)


def write(path, text: str):
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def roadmap_text(counts: dict[str, float]) -> str:
    return "".join(f"{gene},{count:g}\n" for gene, count in counts.items())


# --------------------------------------------------------------------------- read_expression

TABLES = {
    "Roadmap CSV, no header": ("E1.expr.csv", roadmap_text(PLANTED), {}),
    "TSV with header, guessed columns": (
        "quant.tsv",
        "gene_id\tgene_name\tlength\tcount\n"
        + "".join(f"{g}\tG{i}\t{100 + i}\t{c:g}\n" for i, (g, c) in enumerate(PLANTED.items())),
        {"header": True},
    ),
    "named columns imply a header": (
        "rsem.genes.results",
        "gene_id\tTPM\tFPKM\n" + "".join(f"{g}\t{c:g}\t{2 * c:g}\n" for g, c in PLANTED.items()),
        {"gene_column": "gene_id", "value_column": "TPM"},
    ),
    "positions without a header, sniffed tab": (
        "table.txt.gz",
        "".join(f"x{i}\t{g}\t{c:g}\n" for i, (g, c) in enumerate(PLANTED.items())),
        {"gene_column": 1, "value_column": 2},
    ),
    "the one numeric column of a headerless CSV": (
        "counts.csv",
        "".join(f"{g},sym{i},{c:g}\n" for i, (g, c) in enumerate(PLANTED.items())),
        {},
    ),
    "value named TPM in any case": (
        "salmon.sf",
        "Name\tLength\ttpm\n" + "".join(f"{g}\t1000\t{c:g}\n" for g, c in PLANTED.items()),
        {"header": True},
    ),
}


@pytest.mark.parametrize("case", list(TABLES))
def test_read_expression_reads_the_tables_users_have(tmp_path, case):
    name, text, options = TABLES[case]
    counts = ct.io.read_expression(write(tmp_path / name, text), **options)
    assert counts.to_dict() == PLANTED
    assert counts.dtype == np.float64


def test_read_expression_names_the_series_after_a_header(tmp_path):
    path = write(tmp_path / "t.tsv", "gene\tTPM\nENSG1\t2.5\n")
    counts = ct.io.read_expression(path, header=True)
    assert counts.name == "TPM"
    assert counts.to_dict() == {"ENSG1": 2.5}


BAD_TABLES = {
    "several value names": (
        "t.tsv",
        "gene\tTPM\tFPKM\nENSG1\t1\t2\n",
        {"header": True},
        FormatError,
        r"2 columns named like an expression value \['TPM', 'FPKM'\]; pass value_column=",
    ),
    "several numeric columns": (
        "t.tsv",
        "gene\tstart\tend\tsample.bam\nENSG1\t1\t2\t3\n",
        {"header": True},
        FormatError,
        r"3 columns of numbers \['start', 'end', 'sample.bam'\]; pass value_column=",
    ),
    "no gene-like column": (
        "t.csv",
        "1,2,3\n4,5,6\n",
        {},
        FormatError,
        r"no column looks like gene ids .*pass gene_column=",
    ),
    "name not in header": (
        "t.tsv",
        "gene\tcount\nENSG1\t1\n",
        {"value_column": "TPM"},
        KeyError,
        r"value_column='TPM' is not in the table's header \['gene', 'count'\]",
    ),
    "name without header": (
        "t.tsv",
        "gene\tcount\nENSG1\t1\n",
        {"value_column": "count", "header": False},
        ValueError,
        r"names a column, which needs a header",
    ),
    "position out of range": (
        "t.csv",
        "ENSG1,1\n",
        {"value_column": 5},
        ValueError,
        r"value_column=5 is not a column position; the table has 2 columns",
    ),
    "header left unsaid": (
        "t.tsv",
        "gene\tcount\nENSG1\t1\n",
        {},
        FormatError,
        r"found 'count' on line 1; if line 1 is a header, pass header=True",
    ),
    "negative TPM on its line": (
        "t.tsv",
        "gene\tTPM\nENSG1\t1\nENSG2\t-2\n",
        {"header": True},
        FormatError,
        r"negative .*column 'TPM' on line 3; expression values must be non-negative",
    ),
    "repeated gene under a header": (
        "t.tsv",
        "gene\tTPM\nENSG1\t1\nENSG1\t2\n",
        {"header": True},
        FormatError,
        r"\['ENSG1'\] repeat, on lines 2, 3",
    ),
    "ragged row of a wide table": (
        "t.csv",
        "ENSG1,a,1\nENSG2,b\n",
        {},
        FormatError,
        r"expected 3 columns \(as many as on line 1\), found 2 on line 2",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TABLES))
def test_read_expression_refuses_what_it_cannot_tell(tmp_path, case):
    name, text, options, error, match = BAD_TABLES[case]
    with pytest.raises(error, match=match):
        ct.io.read_expression(write(tmp_path / name, text), **options)


# --------------------------------------------------------------------------- add_expression


def genes_object(genes: list[str], cell_types=("A", "B")) -> object:
    """An object like read_bigwigs gives: genes, no expression."""
    return new_anndata(obs_names=list(cell_types), var=pd.DataFrame(index=genes))


@pytest.fixture
def planted_file(tmp_path):
    return write(tmp_path / "A.expr.csv.gz", roadmap_text(PLANTED))


def test_add_expression_writes_the_papers_slots(planted_file):
    genes = list(PLANTED)
    # Only the three highest genes and one low gene are in the object, plus one
    # gene the table lacks: their own median is not the genome-wide one.
    chosen = [genes[8], genes[7], genes[6], genes[0], "ENSG_ABSENT"]
    adata = genes_object(chosen)
    with pytest.warns(UserWarning, match=r"1 of the 5 genes .*\['ENSG_ABSENT'\]"):
        ct.pp.add_expression(adata, planted_file, cell_type="A")
    counts = np.array([80, 70, 60, 0, np.nan], dtype=np.float32)
    np.testing.assert_array_equal(adata.layers["counts"][0], counts)
    np.testing.assert_array_equal(adata.X[0], np.log2(counts + 1).astype(np.float32))
    np.testing.assert_array_equal(adata.layers["label"][0], [1, 1, 1, 0, np.nan])
    assert adata.obs.loc["A", "expression_median"] == pytest.approx(MEDIAN)
    # the other cell type is untouched: no expression
    assert np.isnan(adata.X[1]).all() and np.isnan(adata.layers["label"][1]).all()
    assert np.isnan(adata.obs.loc["B", "expression_median"])
    assert adata.X.dtype == adata.layers["label"].dtype == np.float32
    params = adata.uns["chromtools"]["pp"]["add_expression"]
    assert params["n_matched"] == 4 and params["n_table_genes"] == 9
    assert params["cell_type"] == "A" and params["source"] == str(planted_file)


def test_a_count_equal_to_the_median_is_low(planted_file):
    genes = list(PLANTED)
    adata = genes_object([genes[4], genes[5]])
    ct.pp.add_expression(adata, planted_file, cell_type="A")
    np.testing.assert_array_equal(adata.layers["label"][0], [0, 1])


def test_binarize_after_add_expression_uses_the_genome_wide_median(planted_file):
    """The bigWig workflow: expression attached later, labels by binarize."""
    genes = list(PLANTED)
    adata = genes_object(genes[6:])
    ct.pp.add_expression(adata, planted_file, cell_type="A")
    before = adata.layers["label"].copy()
    ct.pp.binarize(adata)
    np.testing.assert_array_equal(adata.layers["label"], before)
    thresholds = adata.uns["chromtools"]["pp"]["binarize"]["thresholds"]
    assert thresholds.loc["A", "source"].startswith("genome-wide median")
    assert thresholds.loc["A", "threshold"] == pytest.approx(MEDIAN)


def test_add_expression_takes_a_series_and_copies():
    adata = genes_object(["g1", "g2"])
    table = pd.Series({"g1": 3.0, "g2": 0.0, "g3": 5.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = ct.pp.add_expression(adata, table, cell_type="B", copy=True)
    assert np.isnan(adata.X).all()
    np.testing.assert_array_equal(result.layers["counts"][1], [3, 0])
    np.testing.assert_array_equal(result.layers["label"][1], [0, 0])
    assert result.obs.loc["B", "expression_median"] == pytest.approx(2.0)


def test_add_expression_keeps_a_lazy_x_lazy(planted_file):
    import dask.array as da

    genes = list(PLANTED)
    adata = genes_object(genes[:3])
    adata.X = da.full((2, 3), np.nan, dtype=np.float32, chunks=(1, 2))
    ct.pp.add_expression(adata, planted_file, cell_type="B")
    assert isinstance(adata.X, da.Array)
    np.testing.assert_array_equal(adata.X.compute()[1], np.log2([1, 11, 21]).astype(np.float32))
    assert np.isnan(adata.X.compute()[0]).all()


@pytest.mark.parametrize(
    ("table", "kwargs", "error", "match"),
    [
        (pd.Series({"x1": 1.0}), {"cell_type": "A"}, ValueError, r"none of the 2 genes"),
        (pd.Series({"g1": 1.0}), {"cell_type": "C"}, KeyError, r"'C' is not in adata.obs_names"),
        (pd.Series({"g1": -1.0}), {"cell_type": "A"}, ValueError, r"not finite non-negative"),
        (pd.DataFrame({"g": [1]}), {"cell_type": "A"}, TypeError, r"df.set_index"),
        (
            pd.Series({"g1": 1.0}),
            {"cell_type": "A", "header": True},
            ValueError,
            r"\['header'\] say how to read a file",
        ),
    ],
)
def test_add_expression_refuses_bad_input(table, kwargs, error, match):
    adata = genes_object(["g1", "g2"])
    with pytest.raises(error, match=match):
        ct.pp.add_expression(adata, table, **kwargs)
    assert np.isnan(adata.X).all()


def test_no_match_names_examples_of_both_and_the_version_fix():
    adata = genes_object(["ENSG00000141510.16", "ENSG00000000003.14"])
    table = pd.Series({"ENSG00000141510": 4.0, "ENSG00000000005": 1.0})
    with pytest.raises(ValueError, match=r"ENSG00000141510\.16.*ENSG00000000005.*version"):
        ct.pp.add_expression(adata, table, cell_type="A")


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def remc():
    return ct.datasets.remc_sample()


@pytest.mark.parametrize("cell_type", ["E003", "E116", "E123"])
def test_add_expression_reproduces_the_shipped_sample(shared_data, remc, cell_type):
    """The real table attached to the sample's genes gives what remc_sample holds."""
    path = shared_data / "remc" / "expression" / f"{cell_type}.expr.csv.gz"
    adata = remc.copy()
    row = list(adata.obs_names).index(cell_type)
    for slot in (adata.X, adata.layers["counts"], adata.layers["label"]):
        slot[row] = np.nan
    adata.obs.loc[cell_type, "expression_median"] = np.nan
    ct.pp.add_expression(adata, path, cell_type=cell_type)
    assert adata.uns["chromtools"]["pp"]["add_expression"]["n_table_genes"] == 19795
    assert adata.uns["chromtools"]["pp"]["add_expression"]["n_matched"] == 400
    np.testing.assert_array_equal(adata.X, remc.X)
    np.testing.assert_array_equal(adata.layers["counts"], remc.layers["counts"])
    np.testing.assert_array_equal(adata.layers["label"], remc.layers["label"])
    np.testing.assert_array_equal(adata.obs["expression_median"], remc.obs["expression_median"])
    # the genome-wide median, not the 400 genes' own
    own = np.median(adata.X[row])
    assert adata.obs.loc[cell_type, "expression_median"] != pytest.approx(own)


def test_real_table_read_with_a_header_and_as_tsv(shared_data, tmp_path):
    """The same Roadmap table rewritten as a TSV with a header reads the same."""
    path = shared_data / "remc" / "expression" / "E003.expr.csv.gz"
    plain = ct.io.read_expression(path)
    assert len(plain) == 19795
    tsv = tmp_path / "E003.tsv.gz"
    text = "gene_id\tsymbol\tcounts\n" + "".join(
        f"{gene}\tS{i}\t{value!r}\n" for i, (gene, value) in enumerate(plain.items())
    )
    write(tsv, text)
    rewritten = ct.io.read_expression(tsv, header=True)
    pd.testing.assert_series_equal(rewritten, plain, check_names=False)


# --------------------------------------------------------------------------- bigWig workflow


@pytest.fixture
def bigwig_inputs(tmp_path):
    """One flat bigWig for two cell types and three genes on chr1."""
    import pyBigWig

    path = tmp_path / "flat.bw"
    bigwig = pyBigWig.open(str(path), "w")
    bigwig.addHeader([("chr1", 10_000)])
    bigwig.addEntries(["chr1"], [0], ends=[10_000], values=[1.0])
    bigwig.close()
    tracks = [("A", "H3K4me3", path), ("B", "H3K4me3", path)]
    genes = pd.DataFrame(
        {"chrom": "chr1", "tss": [2000, 5000, 8000], "strand": ["+", "-", "+"]},
        index=list(PLANTED)[6:],
    )
    return tracks, genes


@pytest.mark.parametrize("to_store", [False, True])
def test_read_bigwigs_attaches_expression_the_papers_way(
    bigwig_inputs, planted_file, tmp_path, to_store
):
    tracks, genes = bigwig_inputs
    store = tmp_path / "store.zarr" if to_store else None
    kwargs = {"window": (-500, 500), "bin_size": 100}
    adata = ct.io.read_bigwigs(tracks, genes, store, expression={"A": planted_file}, **kwargs)
    np.testing.assert_array_equal(np.asarray(adata.layers["counts"])[0], [60, 70, 80])
    np.testing.assert_array_equal(np.asarray(adata.layers["label"])[0], [1, 1, 1])
    assert np.isnan(np.asarray(adata.X)[1]).all()
    assert adata.obs["expression_median"].tolist()[0] == pytest.approx(MEDIAN)
    # the same as attaching it afterwards
    later = ct.io.read_bigwigs(tracks, genes, **kwargs)
    ct.pp.add_expression(later, planted_file, cell_type="A")
    np.testing.assert_array_equal(np.asarray(adata.X), later.X)
    np.testing.assert_array_equal(np.asarray(adata.layers["label"]), later.layers["label"])


def test_read_bigwigs_refuses_expression_of_unknown_cell_types(bigwig_inputs, planted_file):
    tracks, genes = bigwig_inputs
    with pytest.raises(ValueError, match=r"cell types \['C'\] that have no tracks"):
        ct.io.read_bigwigs(tracks, genes, expression={"C": planted_file})
