"""io's shared pieces: the format table, the one BED reader, the chromosome-name
helper, and where the shared constants and the papers' rule live."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import chromtools as ct
from chromtools import _chromosomes, _constants, _expression
from chromtools._errors import FormatError
from chromtools.io import _bed, _formats, _genes
from chromtools.io.sequence import _regions as _fasta

PACKAGE = Path(ct.__file__).parent

# --------------------------------------------------------------------------- the format table


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("genes.gtf", "gtf"),
        ("genes.GTF.gz", "gtf"),
        ("peaks.bed.bgz", "bed"),
        ("a.b.tsv.bz2", "tsv"),
        ("table.txt", "tsv"),
        ("table.tab.xz", "tsv"),
        ("regions.csv.zip", "csv"),
        ("seqs.fa.gz", "fasta"),
        ("seqs.fna", "fasta"),
        ("genome.fasta", "fasta"),
        ("table.xlsx", None),
        ("no_suffix", None),
        ("archive.gz", None),
    ],
)
def test_detect_tells_the_format_from_the_name(name, expected):
    assert _formats.detect(name) == expected


def test_every_suffix_names_one_format():
    suffixes = [s for f in _formats.FORMATS.values() for s in f.suffixes]
    assert len(suffixes) == len(set(suffixes))


@pytest.mark.parametrize(
    ("name", "default", "sep"),
    [("t.csv", "\t", ","), ("t.tsv.gz", ",", "\t"), ("t.sf", "\t", "\t"), ("t.sf", None, None)],
)
def test_table_sep(name, default, sep):
    assert _formats.table_sep(name, default=default) == sep


def test_registries_list_their_formats():
    assert set(_genes.GENE_TABLES.formats) == {"gtf", "bed", "tsv", "csv"}
    assert set(_fasta.REGION_TABLES.formats) == {"bed", "tsv", "csv"}


def test_a_reader_for_an_unknown_format_is_refused():
    readers = _formats.Readers("things")
    with pytest.raises(ValueError, match=r"formats \['xlsx'\] are not among"):
        readers.register("xlsx")


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (ct.io.read_genes, "genes.xlsx"),
        (lambda path: ct.io.read_regions(path, width=4), "regions.xlsx"),
    ],
)
def test_unknown_formats_are_named_with_what_is_expected(tmp_path, call, name):
    path = tmp_path / name
    path.write_text("x\n")
    with pytest.raises(
        ValueError, match=r"unknown format '\.xlsx' .*expected (?=.*\.bed)(?=.*\.csv)"
    ):
        call(path)


# --------------------------------------------------------------------------- one BED reader

BED6 = "track name=x\n#chrom\tstart\tend\tname\tscore\tstrand\nchr1\t99\t200\t0001\t0\t+\n"


def test_one_bed_reader_serves_genes_and_regions(tmp_path):
    path = tmp_path / "features.bed"
    path.write_text(BED6 + "chr2\t299\t900\tB\t0\t-\n")
    table, lines = _bed.read_bed(path, "genes", "genes", min_columns=6)
    assert table.columns.tolist() == list(_bed.BED_COLUMNS)
    assert table["name"].tolist() == ["0001", "B"]  # names stay text
    assert lines.numbers.tolist() == [3, 4]
    genes = ct.io.read_genes(path)
    assert genes.index.tolist() == ["0001", "B"]
    assert genes["tss"].tolist() == [100, 900]
    regions = _fasta._read_table(path)[0]
    assert regions[["chrom", "start", "end"]].values.tolist() == [
        ["chr1", 99, 200],
        ["chr2", 299, 900],
    ]


def test_bed_columns_named_by_a_header_line_only_when_asked(tmp_path):
    path = tmp_path / "peaks.bed"
    path.write_text("#chrom\tstart\tend\tK562\nchr1\t0\t4\t1\n")
    named, _ = _bed.read_bed(path, "regions", "regions", named_by_header=True)
    positional, _ = _bed.read_bed(path, "regions", "regions")
    assert named.columns.tolist() == ["chrom", "start", "end", "K562"]
    assert positional.columns.tolist() == ["chrom", "start", "end", "name"]


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("track x\n", {}, r"the BED file has no peaks"),
        ("chr1\t0\n", {}, r"a BED of peaks needs 3 columns \(chrom, start, end\), found 2"),
        ("chr1\t0\t4\nchr1\t0\n", {}, r"expected 3 columns .*found 2 on line 2"),
        ("chr1\tzero\t4\n", {}, r"column 'start' must hold numbers, found 'zero' on line 1"),
    ],
)
def test_bed_reader_refuses_malformed_files_by_line(tmp_path, text, kwargs, match):
    path = tmp_path / "peaks.bed"
    path.write_text(text)
    with pytest.raises(FormatError, match=match) as error:
        _bed.read_bed(path, "regions", "peaks", **kwargs)
    assert "peaks.bed" in str(error.value)


# --------------------------------------------------------------------------- chromosome names


@pytest.mark.parametrize(("name", "other"), [("chr1", "1"), ("1", "chr1"), ("chrX", "X")])
def test_other_style(name, other):
    assert _chromosomes.other_style(name) == other


def test_in_other_style_and_the_fix():
    assert _chromosomes.in_other_style(["1", "2", "chrM", "chr3"], {"chr1", "chr2", "chr3"}) == [
        "1",
        "2",
    ]
    fix = _chromosomes.rename_code("chr1", "genes['chrom']")
    genes = pd.DataFrame({"chrom": ["chr1", "chr10"]})
    exec(fix, {"genes": genes})
    assert genes["chrom"].tolist() == ["1", "10"]
    genes = pd.DataFrame({"chrom": ["1"]})
    exec(_chromosomes.rename_code("1", "genes['chrom']"), {"genes": genes})
    assert genes["chrom"].tolist() == ["chr1"]


def test_no_other_module_toggles_chr_itself():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "_chromosomes.py":
            continue
        assert "name[3:]" not in path.read_text(), path


# --------------------------------------------------------------------------- layering


def _imports(path: Path) -> set[str]:
    """Relative imports of a module, as dotted names resolved from the package root."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            found.add(".".join((*base, node.module or "")))
    return found


def test_io_does_not_import_get():
    for path in (PACKAGE / "io").glob("*.py"):
        assert not any(name.startswith("chromtools.get") for name in _imports(path)), path


def test_meta_and_the_median_key_have_one_home():
    assert ct.get._aligned.META is _constants.META == "chromtools"
    for path in PACKAGE.rglob("*.py"):
        if path.name != "_constants.py":
            text = path.read_text()
            assert 'META = "chromtools"' not in text, path
            assert 'GENOME_MEDIAN = "expression_median"' not in text, path


def test_the_papers_label_rule_is_written_once():
    """read_deepdiff, binarize and add_expression all call the one rule."""
    for path in [*(PACKAGE / "io").glob("*.py"), *(PACKAGE / "pp").glob("*.py")]:
        assert "np.where(np.isnan(" not in path.read_text(), path


@pytest.mark.parametrize("lazy", [False, True])
def test_high_low(lazy):
    import dask.array as da

    values = np.array([[1.0, 2.0, np.nan, 3.0]], dtype=np.float32)
    if lazy:
        values = da.from_array(values)
    label = _expression.high_low(values, np.array([[2.0]]))
    assert isinstance(label, da.Array) == lazy
    np.testing.assert_array_equal(np.asarray(label), [[0, 0, np.nan, 1]])
    assert label.dtype == np.float32


def test_genome_median_is_of_log_counts():
    assert _expression.genome_median(np.array([0, 1, 3, 7, 15])) == pytest.approx(2.0)
