"""Malformed and hostile files: every parser answers with an error naming the file,
the line and what was expected (a FormatError for a malformed file), never a
pandas, gzip, pyfaidx or pybigtools traceback."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import struct
import zipfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pyBigWig
import pytest

import chromtools as ct
from chromtools._errors import FormatError
from chromtools.io import _bigwig_tracks as _bigwig

# DeepChrome column order: GeneID, BinID, H3K27me3, H3K36me3, H3K4me1, H3K4me3, H3K9me3, label
GOOD_DEEPCHROME = "g1,1,0,1,2,3,4,1\ng1,2,0,1,2,3,4,1\ng2,1,5,0,0,0,0,0\ng2,2,5,0,0,0,0,0\n"
GOOD_DEEPDIFF = (
    "ENSG1_A_1,1,2,3,4,5\nENSG1_A_2,1,2,3,4,5\nENSG2_B_1,0,0,0,0,0\nENSG2_B_2,0,0,0,0,1\n"
)


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode()
    if path.suffix == ".gz":
        content = gzip.compress(content)
    path.write_bytes(content)
    return path


def truncated_gzip(path: Path, content: str) -> Path:
    path.write_bytes(gzip.compress(content.encode())[:-12])
    return path


# --------------------------------------------------------------------------- DeepChrome

DEEPCHROME_CASES = {
    "label differs within a gene": (
        GOOD_DEEPCHROME.replace("g2,2,5,0,0,0,0,0", "g2,2,5,0,0,0,0,1"),
        r"gene 'g2' has label 0 on line 3 but 1 on line 4; a gene has one label",
    ),
    "float32 overflow": (
        GOOD_DEEPCHROME.replace("g1,2,0,1", "g1,2,1e39,1"),
        r"1 values are too large for float32, first 1e\+39 in column 'H3K27me3' on line 2",
    ),
    "infinite signal": (
        GOOD_DEEPCHROME.replace("g1,2,0,1", "g1,2,inf,1"),
        r"1 values are NaN or infinite, first inf in column 'H3K27me3' on line 2",
    ),
    "empty file": ("", "holds no data"),
    "blank lines only": ("\n\n   \n\t\n", "holds no data"),
    "non-numeric field": (
        GOOD_DEEPCHROME.replace("g2,1,5", "g2,1,five"),
        r"column 'H3K27me3' must hold numbers, found 'five' on line 3",
    ),
    "ragged row": (
        GOOD_DEEPCHROME.replace("g1,2,0,1,2,3,4,1", "g1,2,0,1,2,3,4,1,9"),
        r"expected 8 columns .* found 9 on line 2",
    ),
    "short row": (
        GOOD_DEEPCHROME.replace("g2,1,5,0,0,0,0,0", "g2,1,5"),
        r"expected 8 columns .* found 3 on line 3",
    ),
    "fractional bin": (GOOD_DEEPCHROME.replace("g1,2,", "g1,1.5,"), "bin ids must be whole"),
    "repeated bin": (
        GOOD_DEEPCHROME.replace("g1,2,", "g1,1,"),
        r"gene 'g1' has bin 1 more than once, on lines 1, 2",
    ),
    "bin beyond the others": (
        GOOD_DEEPCHROME.replace("g1,2,", "g1,3,"),
        r"bin ids must run 1..2 for every gene; gene 'g1' has bin 3 on line 2",
    ),
    "gene missing a bin": (
        GOOD_DEEPCHROME.replace("g2,2,5,0,0,0,0,0\n", ""),
        r"genes \['g2'\] do not have 2 bins like the others \('g2' has 1, on line 3\)",
    ),
    "empty gene id": (GOOD_DEEPCHROME.replace("g2,1,", ",1,"), r"1 rows have no gene, on line 3"),
    "label other than 0/1": (
        GOOD_DEEPCHROME.replace("0,0,0,0,0\ng2,2", "0,0,0,0,2\ng2,2"),
        r"labels must be 0 or 1, found 2 on line 3",
    ),
    "not UTF-8": (b"g1,1,0,1,2,3,4,1\n\xff\xfe,2\n", r"not UTF-8 text \(byte 0xff on line 2\)"),
    "binary": (b"g1,1,0\x00", "holds binary data"),
}


@pytest.mark.parametrize("case", list(DEEPCHROME_CASES))
def test_malformed_deepchrome_csv_is_named(tmp_path, case):
    content, match = DEEPCHROME_CASES[case]
    path = write(tmp_path / "cells.csv", content)
    with pytest.raises(FormatError, match=match) as error:
        ct.io.read_deepchrome(path)
    assert "cells.csv" in str(error.value)


def test_truncated_gzip_is_named(tmp_path):
    path = truncated_gzip(tmp_path / "cells.csv.gz", GOOD_DEEPCHROME * 50)
    with pytest.raises(FormatError, match=r"cells\.csv\.gz is a damaged or truncated gzip"):
        ct.io.read_deepchrome(path)


def _zip(data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("cells.csv", data)
    return buffer.getvalue()


COMPRESSIONS = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress, "zip": _zip}


@pytest.mark.parametrize("kind", list(COMPRESSIONS))
def test_compressed_tables_read_like_plain_ones_and_truncated_ones_are_named(tmp_path, kind):
    packed = COMPRESSIONS[kind](GOOD_DEEPCHROME.encode())
    plain = ct.io.read_deepchrome(write(tmp_path / "plain.csv", GOOD_DEEPCHROME))
    (tmp_path / "packed.csv").write_bytes(packed)
    other = ct.io.read_deepchrome(tmp_path / "packed.csv")
    np.testing.assert_array_equal(other.obsm["histone"], plain.obsm["histone"])
    (tmp_path / "cut.csv").write_bytes(packed[: len(packed) - 12])
    with pytest.raises(FormatError, match=rf"cut\.csv is a damaged or truncated {kind} file"):
        ct.io.read_deepchrome(tmp_path / "cut.csv")


def test_windows_line_ends_and_byte_order_mark_read_like_plain_text(tmp_path):
    plain = ct.io.read_deepchrome(write(tmp_path / "plain.csv", GOOD_DEEPCHROME))
    windows = "\ufeff" + GOOD_DEEPCHROME.replace("\n", "\r\n")
    other = ct.io.read_deepchrome(write(tmp_path / "windows.csv", windows))
    assert list(other.var_names) == list(plain.var_names) == ["g1", "g2"]
    np.testing.assert_array_equal(other.obsm["histone"], plain.obsm["histone"])
    np.testing.assert_array_equal(other.layers["label"], [[1, 0]])


def test_deepchrome_files_with_different_bin_counts(tmp_path):
    two = write(tmp_path / "two.csv", GOOD_DEEPCHROME)
    one = write(tmp_path / "one.csv", "g3,1,0,0,0,0,0,1\n")
    with pytest.raises(FormatError, match=r"same bins per gene, found \{.*two\.csv': 2, .*: 1\}"):
        ct.io.read_deepchrome({"train": two, "test": one})


@pytest.mark.parametrize(
    ("files", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "read_deepchrome: no files given"),
        ({}, {}, ValueError, "read_deepchrome: no files given"),
        ("folder", {}, ValueError, r"folder is a folder; expected a file"),
        ("missing.csv", {}, FileNotFoundError, r"no such file .*missing\.csv"),
        ("good.csv", {"bin_size": 2.5}, ValueError, r"bin_size must be .*integer, got 2\.5"),
        ("good.csv", {"cell_type": ""}, ValueError, "cell_type must be a non-empty string"),
        ("good.csv", {"window": (0, 150)}, ValueError, "not a multiple of bin_size=100"),
        (42, {}, TypeError, "got int"),
    ],
)
def test_bad_deepchrome_arguments_are_named(tmp_path, files, kwargs, error, match):
    (tmp_path / "folder").mkdir()
    write(tmp_path / "good.csv", GOOD_DEEPCHROME)
    if isinstance(files, str):
        files = tmp_path / files
    with pytest.raises(error, match=match):
        ct.io.read_deepchrome(files, **kwargs)


# --------------------------------------------------------------------------- expression

EXPRESSION_CASES = {
    "infinite count": ("ENSG1,3\nENSG2,inf\n", r"1 values are NaN or infinite.* on line 2"),
    "float32 overflow": ("ENSG1,3\nENSG2,1e39\n", r"too large for float32.* on line 2"),
    "negative count": ("ENSG1,-3\nENSG2,4\n", r"1 values are negative \(min -3\).* on line 1"),
    "missing count": ("ENSG1,\nENSG2,4\n", r"NaN or infinite.* on line 1"),
    "header line": ("gene,count\nENSG1,3\n", r"must hold numbers, found 'count' on line 1"),
    "ragged row": ("ENSG1,3\nENSG2,4,5\n", r"expected 2 columns .*found 3 on line 2"),
    "repeated gene": ("ENSG1,3\nENSG2,4\nENSG1,5\n", r"\['ENSG1'\] repeat, on lines 1, 3"),
    "empty gene id": ("ENSG1,3\n ,4\n", r"1 rows have no gene id, on line 2"),
    "empty file": ("", "holds no data"),
}


@pytest.mark.parametrize("case", list(EXPRESSION_CASES))
def test_malformed_expression_table_is_named(tmp_path, case):
    content, match = EXPRESSION_CASES[case]
    path = write(tmp_path / "E1.expr.csv", content)
    with pytest.raises(FormatError, match=match) as error:
        ct.io.read_expression(path)
    assert "E1.expr.csv" in str(error.value)


def test_expression_counts_read_exactly(tmp_path):
    counts = ct.io.read_expression(write(tmp_path / "E1.expr.csv.gz", "000012,3\nENSG2,4.5\n"))
    assert counts.to_dict() == {"000012": 3.0, "ENSG2": 4.5}


# --------------------------------------------------------------------------- DeepDiff


def test_deepdiff_name_without_symbol_is_named(tmp_path):
    path = write(tmp_path / "E1.csv", GOOD_DEEPDIFF.replace("ENSG2_B_2", "ENSG2_2"))
    with pytest.raises(FormatError, match=r"ENSG_SYMBOL_bin .*found 'ENSG2_2' on line 4"):
        ct.io.read_deepdiff({"E1": path})


def test_deepdiff_symbols_may_hold_underscores(tmp_path):
    path = write(tmp_path / "E1.csv", GOOD_DEEPDIFF.replace("_B_", "_Y_RNA_"))
    adata = ct.io.read_deepdiff({"E1": path})
    assert adata.var["gene_name"].tolist() == ["A", "Y_RNA"]


def test_deepdiff_cell_types_with_different_bin_counts(tmp_path):
    two = write(tmp_path / "E1.csv", GOOD_DEEPDIFF)
    one = write(tmp_path / "E2.csv", "ENSG1_A_1,1,2,3,4,5\nENSG2_B_1,0,0,0,0,0\n")
    with pytest.raises(FormatError, match=r"same bins per gene.*E1\.csv': 2.*E2\.csv': 1"):
        ct.io.read_deepdiff({"E1": two, "E2": one})


def test_deepdiff_gene_in_two_splits(tmp_path):
    train = write(tmp_path / "train.csv", GOOD_DEEPDIFF)
    valid = write(tmp_path / "valid.csv", GOOD_DEEPDIFF.replace("ENSG1_A", "ENSG3_C"))
    with pytest.raises(FormatError, match=r"genes \['ENSG2_B'\] are both in .*train\.csv"):
        ct.io.read_deepdiff({"E1": {"train": train, "valid": valid}})


def test_deepdiff_infinite_expression_is_refused(tmp_path):
    histone = write(tmp_path / "E1.csv", GOOD_DEEPDIFF)
    expression = write(tmp_path / "E1.expr.csv", "ENSG1,3\nENSG2,Infinity\n")
    with pytest.raises(FormatError, match=r"E1\.expr\.csv: 1 values are NaN or infinite"):
        ct.io.read_deepdiff({"E1": histone}, {"E1": expression})


@pytest.mark.parametrize(
    ("histone", "expression", "error", "match"),
    [
        ({}, None, ValueError, "give at least one"),
        ("E1.csv", None, TypeError, r"histone must be \{cell type: files\}, got str"),
        ({"E1": []}, None, ValueError, r"histone\['E1'\]: no files given"),
        ({"E1": "E1.csv"}, {"E1": "nope.csv"}, FileNotFoundError, r"nope\.csv"),
        ({"E1": "E1.csv"}, {}, ValueError, "mapping {cell type: path} is empty"),
    ],
)
def test_bad_deepdiff_arguments_are_named(tmp_path, histone, expression, error, match):
    write(tmp_path / "E1.csv", GOOD_DEEPDIFF)
    if isinstance(histone, dict):
        histone = {k: tmp_path / v if isinstance(v, str) else v for k, v in histone.items()}
    if expression:
        expression = {k: tmp_path / v for k, v in expression.items()}
    with pytest.raises(error, match=match):
        ct.io.read_deepdiff(histone, expression)


# --------------------------------------------------------------------------- gene annotation

GTF_LINE = 'chr1\tt\tgene\t{start}\t{end}\t.\t{strand}\t.\tgene_id "{id}"; gene_name "N{id}";'


def gtf(*rows: tuple) -> str:
    return "##header\n" + "".join(
        GTF_LINE.format(id=i, start=s, end=e, strand=d) + "\n" for i, s, e, d in rows
    )


GENE_CASES = {
    "GTF with five columns": (
        "genes.gtf",
        "##h\nchr1\tt\tgene\t10\t20\n",
        r"expected 9 columns \(GTF: chrom, source.*found 5 on line 2",
    ),
    "GTF non-integer start": (
        "genes.gtf",
        gtf(("A", 10, 20, "+"), ("B", "ten", 30, "+")),
        r"column 'start' must hold numbers, found 'ten' on line 3",
    ),
    "GTF fractional end": (
        "genes.gtf",
        gtf(("A", 10, 20.5, "+")),
        r"end must be a whole position ≥ 1, found 20.5 on line 2",
    ),
    "GTF end before start": (
        "genes.gtf",
        gtf(("A", 10, 20, "+"), ("B", 30, 20, "-")),
        r"end must be at least start; 1 features are not, on line 3",
    ),
    "GTF feature without gene_id": (
        "genes.gtf",
        gtf(("A", 10, 20, "+")) + 'chr1\tt\tgene\t5\t9\t.\t+\t.\tgene_name "X";\n',
        r"1 features have no gene_id attribute, on line 3",
    ),
    "GTF only comments": ("genes.gtf", "##a\n#b\n", "holds no features"),
    "GTF gene on two chromosomes": (
        "ucsc.gtf",
        'chr1\tu\texon\t1\t9\t.\t+\t.\tgene_id "A";\nchr2\tu\texon\t5\t9\t.\t+\t.\tgene_id "A";\n',
        r"gene_id 'A' has features on chroms \['chr1', 'chr2'\], on lines 1, 2",
    ),
    "GTF strand '.'": (
        "genes.gtf",
        gtf(("A", 10, 20, "+"), ("B", 30, 40, ".")),
        r"strand must be '\+' or '-'; 1 genes have \['\.'\], e\.g\. \['B'\] \(on line 3\)",
    ),
    "GTF repeated gene id": (
        "genes.gtf",
        gtf(("A", 10, 20, "+"), ("A", 30, 40, "+")),
        r"1 gene/region ids appear more than once, e\.g\. \['A'\] \(on lines 2, 3\)",
    ),
    "BED with four columns": ("genes.bed", "chr1\t0\t10\tA\n", "needs 6 columns"),
    "BED ragged": (
        "genes.bed",
        "chr1\t0\t10\tA\t0\t+\nchr1\t0\t10\tB\t0\n",
        r"expected 6 columns .*found 5 on line 2",
    ),
    "BED non-integer start": (
        "genes.bed",
        "chr1\t0\t10\tA\t0\t+\nchr1\tx\t10\tB\t0\t+\n",
        r"column 'start' must hold numbers, found 'x' on line 2",
    ),
    "BED negative start": (
        "genes.bed",
        "track name=x\nchr1\t-5\t10\tA\t0\t+\n",
        r"start must be a whole position ≥ 0, found -5 on line 2",
    ),
    "BED empty feature": (
        "genes.bed",
        "chr1\t5\t5\tA\t0\t+\n",
        r"end must be greater than start; 1 features are not, on line 1",
    ),
    "BED strand '*'": ("genes.bed", "chr1\t0\t10\tA\t0\t*\n", r"\['\*'\].*\(on line 1\)"),
    "TSV missing column": (
        "genes.tsv",
        "chrom\ttss\ngene\tchr1\t5\n",
        r"expected 2 columns \(one per header name \['chrom', 'tss'\]\), found 3 on line 2",
    ),
    "TSV without strand": ("genes.tsv", "chrom\ttss\nchr1\t5\n", r"missing columns \['strand'\]"),
    "TSV fractional TSS": (
        "genes.tsv",
        "gene_id\tchrom\ttss\tstrand\nA\tchr1\t5\t+\nB\tchr1\t5.5\t-\n",
        r"TSS must be whole 1-based positions ≥ 1; 1 genes .*\(on line 3\)",
    ),
    "TSV TSS beyond any genome": (
        "genes.tsv",
        "gene_id\tchrom\ttss\tstrand\nA\tchr1\t1e30\t+\n",
        r"TSS must be whole 1-based positions",
    ),
    "TSV non-numeric TSS": (
        "genes.csv",
        "gene_id,chrom,tss,strand\nA,chr1,five,+\n",
        r"column 'tss' must hold numbers, found 'five' on line 2",
    ),
    "TSV header only": ("genes.tsv", "chrom\ttss\tstrand\n", "no rows below the header"),
    "TSV repeated header name": (
        "genes.tsv",
        "chrom\ttss\ttss\tstrand\nchr1\t5\t6\t+\n",
        r"names \['tss'\] more than once",
    ),
    "TSV empty gene id": (
        "genes.tsv",
        "gene_id\tchrom\ttss\tstrand\nA\tchr1\t5\t+\n\tchr1\t9\t+\n",
        r"1 genes have no gene id \(on line 3\)",
    ),
    "TSV truncated gzip": ("genes.tsv.gz", None, "damaged or truncated gzip"),
}


@pytest.mark.parametrize("case", list(GENE_CASES))
def test_malformed_gene_annotation_is_named(tmp_path, case):
    name, content, match = GENE_CASES[case]
    if content is None:
        path = truncated_gzip(tmp_path / name, "chrom\ttss\tstrand\n" + "chr1\t5\t+\n" * 500)
    else:
        path = write(tmp_path / name, content)
    with pytest.raises(FormatError, match=match) as error:
        ct.io.read_genes(path)
    assert name in str(error.value)


def test_gene_annotation_with_windows_line_ends_and_bom(tmp_path):
    text = "gene_id\tchrom\ttss\tstrand\nA\tchr1\t5\t+\nB\tchr2\t9\t-\n"
    plain = ct.io.read_genes(write(tmp_path / "plain.tsv", text))
    other = ct.io.read_genes(write(tmp_path / "win.tsv", "\ufeff" + text.replace("\n", "\r\n")))
    pd.testing.assert_frame_equal(other, plain)
    assert plain["strand"].tolist() == ["+", "-"]


def test_gene_annotation_folder_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match=r"genes: .* is a folder; expected a file"):
        ct.io.read_genes(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"genes: no such file .*nope\.gtf"):
        ct.io.read_genes(tmp_path / "nope.gtf")


# --------------------------------------------------------------------------- FASTA and regions


@pytest.fixture
def genome(tmp_path) -> Path:
    return write(tmp_path / "genome.fa", ">chr1\nACGTACGTAC\nGTACGTACGT\n>chr2\nGGGGCCCC\n")


REGION_FASTA_CASES = {
    "record without sequence": (
        ">chr1:0-4\nACGT\n>chr1:4-8\n>chr1:8-12\nACGT\n",
        r"record 'chr1:4-8' \(the record on line 3\) has no sequence",
    ),
    "last record without sequence": (">chr1:0-4\nACGT\n>chr1:4-8\n", r"'chr1:4-8'.*no sequence"),
    "repeated record": (
        ">chr1:0-4\nACGT\n>chr1:4-8\nACGT\n>chr1:0-4\nACGT\n",
        r"record name 'chr1:0-4' appears twice, on lines 1 and 5",
    ),
    "record without name": (">chr1:0-4\nACGT\n> \nACGT\n", r"line 3 has no name"),
    "digits in a sequence": (">chr1:0-4\nAC1T\n", r"'chr1:0-4' .* holds '1', which is not a base"),
    "only a header": (">chr1:0-4\n", "no sequence"),
    "empty file": ("", r"not a FASTA file"),
    "coordinates beyond any genome": (
        ">chr1:99999999999999999999-199999999999999999999\nACGT\n",
        r"start must be whole numbers",
    ),
}


@pytest.mark.parametrize("case", list(REGION_FASTA_CASES))
def test_malformed_fasta_of_regions_is_named(tmp_path, case):
    content, match = REGION_FASTA_CASES[case]
    path = write(tmp_path / "regions.fa", content)
    with pytest.raises(ValueError, match=match) as error:
        ct.io.read_regions(path, width=4)
    assert "regions.fa" in str(error.value)


def test_fasta_of_regions_with_windows_line_ends_bom_and_soft_masking(tmp_path):
    text = ">chr1:0-6\nACgt\nNA\n>chr1:6-10(-)\nacgt\n"
    plain = ct.io.read_regions(write(tmp_path / "plain.fa", text), width=6)
    other = ct.io.read_regions(
        write(tmp_path / "win.fa.gz", "\ufeff" + text.replace("\n", "\r\n")), width=6
    )
    np.testing.assert_array_equal(other.varm["onehot"], plain.varm["onehot"])
    # A, C, g, t count; N is all-zero
    np.testing.assert_array_equal(plain.varm["onehot"][0].argmax(1)[:4], [0, 1, 2, 3])
    assert plain.varm["onehot"][0, 4].sum() == 0


def test_truncated_gzipped_fasta_is_named(tmp_path):
    path = truncated_gzip(tmp_path / "regions.fa.gz", ">chr1:0-4\nACGT\n" * 200)
    with pytest.raises(FormatError, match=r"regions\.fa\.gz is a damaged or truncated gzip"):
        ct.io.read_regions(path, width=4)


@pytest.mark.parametrize("width", [2.7, "8", True])
def test_width_must_be_an_integer(genome, width):
    with pytest.raises(ValueError, match="width must be a positive integer"):
        ct.io.read_regions(["chr1:0-8"], genome, width)
    adata = ct.io.read_regions(["chr1:0-8"], genome, 8)
    with pytest.raises(ValueError, match="width must be a positive integer"):
        ct.pp.one_hot(adata, genome, width)


def test_whole_float_width_is_accepted(genome):
    assert ct.io.read_regions(["chr1:0-8"], genome, 8.0).varm["onehot"].shape == (1, 8, 4)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (">chr1\nACGT\n>chr1\nACGT\n", r"genome\.fa is not a readable FASTA.*Duplicate key"),
        (b"\x1f\x8bgarbage", r"genome\.fa is not a readable FASTA"),
        (">chr1\nACGTACGT\nAC\nACGT\n", r"genome\.fa is not a readable FASTA.*Line length"),
        (b">\x00\n\n\x00", r"genome\.fa is not a readable FASTA"),
        (">chr2\nACGT\n", r"\['chr1'\] are not in the FASTA"),
        ("\ufeff>chr1\nACGT\n", r"not a readable FASTA.*byte-order mark"),
    ],
)
def test_malformed_genome_fasta_is_named_and_leaves_no_index(tmp_path, content, match):
    path = write(tmp_path / "genome.fa", content)
    with pytest.raises(ValueError, match=match):
        ct.io.read_regions(["chr1:0-4"], path, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genome.fa"]


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("regions.bed", "chr1\t0\t4\nchr1\t4\n", r"expected 3 columns .*found 2 on line 2"),
        ("regions.bed", "track x\n#chrom\tstart\tend\n", "has no regions"),
        ("regions.csv", "chrom,start,end\nchr1,0,four\n", r"end must be whole .*'line 2'"),
        ("regions.csv", "chrom,start,end\nchr1,0,4\nchr1,-3,4\n", r"start .* ≥ 0.*'line 3'"),
        ("regions.tsv", "chrom\tstart\tend\n", "no rows below the header"),
        ("regions.csv", "chrom,start,end\nchr1,0,4,7\n", r"found 4 on line 2"),
        ("regions.bed", "chr1\t0\t4\tp\t0\t\n", r"strand must be one of .*have \[''\]"),
        ("regions.csv", "chrom,start,end,strand\nchr1,0,4,*\n", r"have \['\*'\]"),
    ],
)
def test_malformed_region_tables_are_named(genome, tmp_path, name, content, match):
    path = write(tmp_path / name, content)
    with pytest.raises(ValueError, match=match) as error:
        ct.io.read_regions(path, genome, 4)
    assert name in str(error.value)


def test_a_failed_read_keeps_an_index_that_was_already_there(genome):
    ct.io.read_regions(["chr1:0-4"], genome, 4)
    index = Path(f"{genome}.fai").read_bytes()
    with pytest.raises(ValueError, match="not in the FASTA"):
        ct.io.read_regions(["chr3:0-4"], genome, 4)
    assert Path(f"{genome}.fai").read_bytes() == index


def test_regions_on_chromosomes_missing_from_the_fasta_or_beyond_its_end(genome):
    with pytest.raises(ValueError, match=r"\['chr3'\] are not in the FASTA"):
        ct.io.read_regions(["chr3:0-4"], genome, 4)
    with pytest.raises(ValueError, match="1 regions end beyond their chromosome"):
        ct.io.read_regions(["chr2:4-9"], genome, 4)


def test_region_folder_is_named(genome, tmp_path):
    (tmp_path / "peaks.bed").mkdir()
    with pytest.raises(ValueError, match=r"peaks\.bed is a folder; expected a file"):
        ct.io.read_regions(tmp_path / "peaks.bed", genome, 4)


# --------------------------------------------------------------------------- bigWig tracks


@pytest.fixture
def bigwig(tmp_path) -> Path:
    path = tmp_path / "E1.bw"
    handle = pyBigWig.open(str(path), "w")
    handle.addHeader([("chr1", 5000)])
    starts = list(range(0, 4000, 100))
    handle.addEntries(
        ["chr1"] * 40, starts, ends=[s + 50 for s in starts], values=[1.0 + s for s in starts]
    )
    handle.close()
    return path


def tracks_file(tmp_path: Path, body: str, name: str = "tracks.csv") -> Path:
    return write(tmp_path / name, "cell_type,mark,path\n" + body)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (",H3K4me3,E1.bw\n", r"1 tracks have no cell_type \(on line 2\)"),
        ("E1,,E1.bw\n", r"1 tracks have no mark \(on line 2\)"),
        ("E1,H3K4me3, \n", r"1 tracks have no path \(on line 2\)"),
        (
            "E1,H3K4me3,E1.bw\nE2,H3K4me3,E1.bw\nE1,H3K4me3,E1.bw\n",
            r"listed more than once: \[\('E1', 'H3K4me3'\)\] \(on lines 2, 4\)",
        ),
        ("E1,H3K4me3\n", r"expected 3 columns .*found 2 on line 2"),
        ("", "no rows below the header"),
    ],
)
def test_malformed_tracks_table_is_named(tmp_path, bigwig, body, match):
    path = tracks_file(tmp_path, body)
    with pytest.raises(FormatError, match=match) as error:
        _bigwig._read_tracks(path)
    assert "tracks.csv" in str(error.value)


def test_tracks_table_naming_a_folder(tmp_path, bigwig):
    with pytest.raises(ValueError, match=r"tracks\.csv: these bigWig paths are folders"):
        _bigwig._read_tracks(tracks_file(tmp_path, "E1,H3K4me3,.\n"))


@pytest.mark.parametrize(
    ("cell_type", "match"),
    [(np.nan, r"no cell_type \(on rows \[1\]\)"), (None, "no cell_type"), ("  ", "no cell_type")],
)
def test_tracks_dataframe_without_cell_type(bigwig, cell_type, match):
    table = pd.DataFrame(
        {"cell_type": ["E1", cell_type], "mark": ["H3K4me3"] * 2, "path": [bigwig] * 2}
    )
    with pytest.raises(ValueError, match=rf"tracks DataFrame: 1 tracks have {match}"):
        _bigwig._read_tracks(table)


def test_tracks_list_of_strings_is_refused(bigwig):
    with pytest.raises(ValueError, match=r"every track must be a \(cell_type, mark, path\)"):
        _bigwig._read_tracks(["E1H3K4me3"])


def test_tracks_table_cells_are_stripped(tmp_path, bigwig):
    table, _ = _bigwig._read_tracks(tracks_file(tmp_path, " E1 , H3K4me3 ,E1.bw\r\n"))
    assert table[["cell_type", "mark"]].values.tolist() == [["E1", "H3K4me3"]]
    assert table["path"].tolist() == [bigwig]


GENES = pd.DataFrame({"chrom": ["chr1"], "tss": [1001], "strand": ["+"]}, index=["a"])


def _data_offset(path: Path) -> int:
    # bigWig header: magic, version, zoom levels, chromosome tree offset, data offset
    return struct.unpack_from("<Q", path.read_bytes(), 16)[0]


# Cut to nothing, within the header, or just after it (header intact, data lost:
# only reading the windows finds out).
TRUNCATIONS = {"none": "not a readable bigWig", "half header": "not a readable bigWig"}
TRUNCATIONS["header"] = "damaged bigWig data"


@pytest.mark.parametrize("keep", list(TRUNCATIONS))
@pytest.mark.parametrize("reader", ["pybigtools", "pyBigWig"])
def test_truncated_bigwig_is_named_and_nothing_written(tmp_path, bigwig, keep, reader):
    data = bigwig.read_bytes()
    cut = {"none": 0, "half header": 32, "header": _data_offset(bigwig) + 8}[keep]
    broken = tmp_path / "broken.bw"
    broken.write_bytes(data[:cut])
    store = tmp_path / "out.zarr"
    with pytest.raises(FormatError, match=rf"\(E1, H3K4me3\) .*broken\.bw: {TRUNCATIONS[keep]}"):
        ct.io.read_bigwigs(
            [("E1", "H3K4me3", broken)], GENES, store, window=(-200, 200), reader=reader, n_jobs=1
        )
    assert not store.exists()


def test_bigwig_without_bigwig_suffix_is_named(tmp_path, bigwig):
    renamed = tmp_path / "E1.txt"
    renamed.write_bytes(bigwig.read_bytes())
    with pytest.raises(FormatError, match=r"E1\.txt: not a readable bigWig file"):
        ct.io.read_bigwigs([("E1", "H3K4me3", renamed)], GENES, window=(-200, 200))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bin_size": 2.5}, r"bin_size must be .*integer, got 2\.5"),
        ({"chunk_genes": 0}, r"chunk_genes must be .*integer, got 0"),
        ({"n_jobs": 1.5}, r"n_jobs must be .*integer, got 1\.5"),
    ],
)
def test_bad_bigwig_arguments_are_named(bigwig, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ct.io.read_bigwigs([("E1", "H3K4me3", bigwig)], GENES, window=(-200, 200), **kwargs)


@pytest.mark.parametrize("tss", ["3", 3.0, "3.0"])
def test_one_hot_reads_whole_positions_written_as_text(genome, tss):
    genes = ad.AnnData(
        var=pd.DataFrame({"chrom": ["chr1"], "tss": [tss], "strand": ["+"]}, index=["g"])
    )
    ct.pp.one_hot(genes, genome, 4)
    # TSS base 3 (1-based) at position width // 2: window ACGT starting at base 1
    np.testing.assert_array_equal(genes.varm["onehot"][0].argmax(1), [0, 1, 2, 3])


def test_one_hot_refuses_true_as_a_position(genome):
    genes = ad.AnnData(
        var=pd.DataFrame({"chrom": ["chr1"], "tss": [True], "strand": ["+"]}, index=["g"])
    )
    with pytest.raises(ValueError, match="tss must be whole numbers ≥ 1"):
        ct.pp.one_hot(genes, genome, 4)
    with pytest.raises(ValueError, match="TSS must be whole 1-based positions"):
        ct.io.read_genes(genes.var)


def test_region_coordinates_written_as_text(genome):
    regions = pd.DataFrame({"chrom": ["chr1"], "start": ["0.0"], "end": ["4"]})
    assert ct.io.read_regions(regions, genome, 4).var_names.tolist() == ["chr1:0-4"]


def test_every_region_file_is_checked_before_the_genome_is_indexed(tmp_path):
    genome = write(tmp_path / "genome.fa", ">chr1\nACGTACGTAC\n")
    present = write(tmp_path / "open.bed", "chr1\t0\t4\n")
    with pytest.raises(FileNotFoundError, match=r"closed\.bed"):
        ct.io.read_regions({1: present, 0: tmp_path / "closed.bed"}, genome, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genome.fa", "open.bed"]


def test_a_failed_read_of_several_sources_leaves_no_genome_index(tmp_path):
    genome = write(tmp_path / "genome.fa", ">chr1\nACGTACGTAC\n")
    good = write(tmp_path / "open.bed", "chr1\t0\t4\n")
    bad = write(tmp_path / "closed.bed", "chr1\t0\tfour\n")
    with pytest.raises(ValueError, match="end must be whole numbers"):
        ct.io.read_regions({1: good, 0: bad}, genome, 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["closed.bed", "genome.fa", "open.bed"]
