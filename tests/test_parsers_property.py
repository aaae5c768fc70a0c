"""Property: whatever bytes a file holds, every parser either returns a valid result
or raises ValueError, KeyError, FileNotFoundError or PermissionError, and leaves
no new file behind.

Inputs are random bytes, random lines of random fields, and valid files broken
by truncation, dropped, repeated or shuffled lines and columns, random fields,
Windows line ends, byte-order marks and (truncated) gzip. The number of
examples per parser is ``CHROMTOOLS_HYPOTHESIS_EXAMPLES`` (200 by default);
``test_report_inputs_tried`` prints how many inputs each parser was tried on.
"""

from __future__ import annotations

import bz2
import collections
import gzip
import lzma
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chromtools as ct
from chromtools._errors import FormatError
from chromtools.io import _bigwig_tracks as _bigwig

# `pytest -m hostile` with CHROMTOOLS_HYPOTHESIS_EXAMPLES=5000 runs just these, longer.
pytestmark = pytest.mark.hostile

N_EXAMPLES = int(os.environ.get("CHROMTOOLS_HYPOTHESIS_EXAMPLES", "200"))
# database=None: no .hypothesis folder is written into the repository.
SETTINGS = settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ALLOWED = (ValueError, KeyError, FileNotFoundError, PermissionError)
TRIED: collections.Counter[str] = collections.Counter()
REFUSED: collections.Counter[str] = collections.Counter()

# Fields that have broken parsers before: numbers at and beyond float32, NaN
# spellings, separators, quotes, comment and FASTA markers, NUL, BOM, non-ASCII.
TOKENS = [
    "", " ", "0", "1", "2", "-1", "1.5", "nan", "NaN", "NA", "inf", "-inf", "Infinity",
    "1e39", "1e400", "-0", "x", "+", "-", ".", "*", "chr1", "chr2", "ENSG1_", "_1", "A_B_",
    '"', "'", "#", ">", "\x00", "\ufeff", "é", "\t", ",", "99999999999999999999", "0x10",
]  # fmt: skip
FIELDS = st.one_of(
    st.sampled_from(TOKENS),
    st.text(max_size=6),
    st.integers(-10, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@st.composite
def broken(draw, valid: str, sep: str | None) -> bytes:
    """``valid`` broken by a few random edits, then maybe re-encoded."""
    lines = valid.splitlines()
    for _ in range(draw(st.integers(0, 4))):
        edit = draw(
            st.sampled_from(
                ["drop", "repeat", "swap", "field", "extra", "short", "columns", "blank", "line"]
            )
        )
        if not lines:
            lines = [draw(st.text(max_size=20))]
        i = draw(st.integers(0, len(lines) - 1))
        if edit == "drop":
            del lines[i]
        elif edit == "repeat":
            lines.insert(i, lines[i])
        elif edit == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif edit == "blank":
            lines.insert(i, draw(st.sampled_from(["", " ", "\t", "  \t "])))
        elif edit == "line" or sep is None:
            lines[i] = draw(st.text(max_size=30))
        else:
            fields = lines[i].split(sep)
            k = draw(st.integers(0, len(fields) - 1))
            if edit == "field":
                fields[k] = draw(FIELDS)
            elif edit == "extra":
                fields.insert(k, draw(FIELDS))
            elif edit == "short":
                del fields[k]
            else:  # the same two columns swapped on every line
                m = draw(st.integers(0, len(fields) - 1))
                for n, line in enumerate(lines):
                    cells = line.split(sep)
                    if max(k, m) < len(cells):
                        cells[k], cells[m] = cells[m], cells[k]
                        lines[n] = sep.join(cells)
                continue
            lines[i] = sep.join(fields)
    text = "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))
    encoding = draw(st.sampled_from(["plain", "windows", "bom", "gzip", "cut", "latin-1"]))
    if encoding == "windows":
        return text.replace("\n", "\r\n").encode()
    if encoding == "bom":
        return ("\ufeff" + text).encode()
    if encoding == "latin-1":
        return text.encode("latin-1", errors="replace")
    data = text.encode()
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "cut":
        packed = draw(st.sampled_from([gzip.compress, bz2.compress, lzma.compress, bytes]))(data)
        return packed[: draw(st.integers(0, len(packed)))]
    return data


def contents(valid: str, sep: str | None) -> st.SearchStrategy[bytes]:
    """Random bytes, random lines of random fields, or ``valid`` broken."""
    joiner = sep or " "
    random_lines = st.lists(st.lists(FIELDS, min_size=1, max_size=9), max_size=8).map(
        lambda rows: "\n".join(joiner.join(row) for row in rows).encode()
    )
    return st.one_of(st.binary(max_size=300), random_lines, broken(valid, sep))


def attempt(parser: str, folder: Path, path: Path, data: bytes, call, valid) -> None:
    """Write ``data`` to ``path``, call the parser: a valid result or an allowed error."""
    path.write_bytes(data)
    before = sorted(os.listdir(folder))
    TRIED[parser] += 1
    try:
        result = call(path)
    except ALLOWED as error:
        REFUSED[parser] += 1
        assert str(error), f"{parser}: {type(error).__name__} without a message"
        if isinstance(error, FormatError):
            assert path.name in str(error), f"{parser}: the error does not name the file"
    else:
        valid(result)
    assert sorted(os.listdir(folder)) == before, f"{parser} left files behind"


# --------------------------------------------------------------------------- valid results


def valid_histone(adata) -> None:
    histone = np.asarray(adata.obsm["histone"])
    assert histone.dtype == np.float32
    has = adata.obs["has_histone"].to_numpy() if "has_histone" in adata.obs else slice(None)
    assert np.isfinite(histone[has]).all() and (histone[has] >= 0).all()
    assert adata.var_names.is_unique and len(adata.var_names) >= 1
    assert histone.shape[:2] == adata.shape


def valid_deepchrome(adata) -> None:
    valid_histone(adata)
    assert np.isin(adata.layers["label"], [0, 1]).all()


def valid_counts(counts: pd.Series) -> None:
    values = counts.to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (values <= np.finfo(np.float32).max).all()
    assert counts.index.is_unique and (counts.index != "").all()


def valid_genes(genes: pd.DataFrame) -> None:
    assert genes.index.is_unique and len(genes) >= 1
    assert genes["tss"].dtype == np.int64 and (genes["tss"] >= 1).all()
    assert genes["strand"].isin(["+", "-"]).all()
    assert (genes["chrom"].str.strip() != "").all()


def valid_regions(adata) -> None:
    onehot = adata.varm["onehot"]
    assert onehot.shape == (adata.n_vars, 4, 4) and onehot.dtype == np.uint8
    assert (onehot.sum(axis=2) <= 1).all()
    assert adata.var_names.is_unique


def valid_tracks(result) -> None:
    table, _ = result
    for column in _bigwig.TRACK_COLUMNS:
        assert (table[column].astype(str).str.strip() != "").all()
    assert not table.duplicated(["cell_type", "mark"]).any()
    assert all(Path(p).is_file() for p in table["path"])


# --------------------------------------------------------------------------- the parsers

DEEPCHROME = "".join(
    f"{gene},{b},{b},0,1.5,{b * 2},0,{label}\n"
    for gene, label in (("000003", 1), ("000007", 0))
    for b in (1, 2, 3)
)
DEEPDIFF = "".join(
    f"{gene}_{b},1,2,{b},0,0.5\n" for gene in ("ENSG1_A", "ENSG2_Y_RNA") for b in (1, 2)
)
EXPRESSION = "ENSG1,10\nENSG2,0\nENSG3,4.5\n"
GTF = (
    "##description: test\n"
    'chr1\tt\tgene\t100\t200\t.\t+\t.\tgene_id "A"; gene_name "ALPHA";\n'
    'chr1\tt\ttranscript\t100\t200\t.\t+\t.\tgene_id "A"; transcript_id "A.1";\n'
    'chr2\tt\tgene\t300\t900\t.\t-\t.\tgene_id "B"; gene_type "lncRNA";\n'
)
BED = "track name=genes\nchr1\t99\t200\tA\t0\t+\nchr2\t299\t900\tB\t0\t-\n"
TSV = "gene_id\tchrom\ttss\tstrand\tgene_name\nA\tchr1\t100\t+\tALPHA\nB\tchr2\t900\t-\tBETA\n"
FASTA = ">chr1:0-4\nACGT\n>chr1:4-10(-)\nacgN\nTT\n>peak::chr2:0-4(+)\nGGCC\n"
REGIONS_BED = "#chrom\tstart\tend\tname\nchr1\t0\t4\tp0\nchr2\t2\t8\tp1\n"
GENOME = ">chr1\nACGTACGTAC\nGTACGTACGT\n>chr2\nGGGGCCCCAA\n"
TRACKS = "cell_type,mark,path\nE1,H3K4me3,E1.bw\nE1,H3K27me3,E1.bw\nE2,H3K4me3,E1.bw\n"


@pytest.fixture
def genome(tmp_path) -> Path:
    """A genome FASTA, already indexed so that reading it writes nothing new."""
    path = tmp_path / "genome.fa"
    path.write_text(GENOME)
    ct.io.read_regions(["chr1:0-4"], path, 4)
    return path


PARSERS = {
    "read_deepchrome": ("cells.csv", DEEPCHROME, ",", ct.io.read_deepchrome, valid_deepchrome),
    "read_deepdiff": (
        "E1.csv",
        DEEPDIFF,
        ",",
        lambda path: ct.io.read_deepdiff({"E1": path}),
        valid_histone,
    ),
    "read_expression": ("E1.expr.csv", EXPRESSION, ",", ct.io.read_expression, valid_counts),
    "read_genes GTF": ("genes.gtf", GTF, "\t", ct.io.read_genes, valid_genes),
    "read_genes BED": ("genes.bed", BED, "\t", ct.io.read_genes, valid_genes),
    "read_genes TSV": ("genes.tsv", TSV, "\t", ct.io.read_genes, valid_genes),
    "read_regions FASTA": (
        "regions.fa",
        FASTA,
        None,
        lambda path: ct.io.read_regions(path, width=4),
        valid_regions,
    ),
    "read_bigwigs tracks table": ("tracks.csv", TRACKS, ",", _bigwig._read_tracks, valid_tracks),
}


@pytest.mark.parametrize("parser", list(PARSERS))
def test_valid_examples_parse(tmp_path, parser):
    name, valid_text, _, call, valid = PARSERS[parser]
    (tmp_path / "E1.bw").write_bytes(b"")
    path = tmp_path / name
    path.write_text(valid_text)
    valid(call(path))


@pytest.mark.parametrize("parser", list(PARSERS))
def test_malformed_files_are_parsed_or_refused_cleanly(tmp_path, parser):
    name, valid_text, sep, call, valid = PARSERS[parser]
    # The tracks table's bigWig paths are only checked for existence here.
    (tmp_path / "E1.bw").write_bytes(b"")

    @SETTINGS
    @given(data=contents(valid_text, sep))
    def run(data: bytes) -> None:
        attempt(parser, tmp_path, tmp_path / name, data, call, valid)

    run()


def test_malformed_region_tables_on_a_genome(tmp_path, genome):
    @SETTINGS
    @given(data=contents(REGIONS_BED, "\t"))
    def run(data: bytes) -> None:
        attempt(
            "read_regions BED on a genome",
            tmp_path,
            tmp_path / "regions.bed",
            data,
            lambda path: ct.io.read_regions(path, genome, 4),
            valid_regions,
        )

    run()


def test_malformed_genome_fasta(tmp_path):
    """A genome FASTA may gain its .fai index when it is read; a refused one may not."""
    folder = tmp_path / "genome"
    folder.mkdir()

    # A quarter of the budget: every example indexes a FASTA on disk.
    @settings(SETTINGS, max_examples=max(1, N_EXAMPLES // 4))
    @given(data=contents(GENOME, None))
    def run(data: bytes) -> None:
        path = folder / "genome.fa"
        for index in folder.glob("genome.fa.*"):
            index.unlink()
        path.write_bytes(data)
        TRIED["read_regions on a genome FASTA"] += 1
        try:
            adata = ct.io.read_regions(["chr1:0-4"], path, 4)
        except ALLOWED as error:
            REFUSED["read_regions on a genome FASTA"] += 1
            assert str(error)
            assert os.listdir(folder) == ["genome.fa"], "a refused FASTA left an index behind"
        else:
            valid_regions(adata)
            assert set(os.listdir(folder)) <= {"genome.fa", "genome.fa.fai", "genome.fa.gzi"}

    run()


def test_report_inputs_tried():
    """How many generated inputs each parser saw (run with -s to see them)."""
    if not TRIED:
        pytest.skip("the property tests did not run in this process")
    width = max(len(parser) for parser in TRIED)
    print(f"\nhypothesis inputs per parser (CHROMTOOLS_HYPOTHESIS_EXAMPLES={N_EXAMPLES}):")
    for parser, count in TRIED.items():
        print(f"  {parser:<{width}}  {count:5d} tried, {REFUSED[parser]:5d} refused")
    assert all(count >= 1 for count in TRIED.values())
