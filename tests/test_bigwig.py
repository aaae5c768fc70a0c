"""ct.io.read_bigwigs and ct.io.read_genes on small bigWigs with planted signal."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pyBigWig
import pytest
import zarr

import chromtools as ct
from chromtools.io import _bigwig_windows as _bigwig

WINDOW = (-200, 200)
BIN_SIZE = 100
LENGTHS = {"chr1": 5000, "chr2": 3000}


def _write_bigwig(path: Path, lengths: dict[str, int], entries: list[tuple]) -> Path:
    """entries: (chrom, start, end, value), sorted, 0-based half-open."""
    bigwig = pyBigWig.open(str(path), "w")
    bigwig.addHeader(list(lengths.items()))
    for chrom in lengths:
        rows = [e for e in entries if e[0] == chrom]
        if rows:
            bigwig.addEntries(
                [r[0] for r in rows],
                [r[1] for r in rows],
                ends=[r[2] for r in rows],
                values=[float(r[3]) for r in rows],
            )
    bigwig.close()
    return path


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# chr1: 1.0 on [1000, 1100), 3.0 on [1100, 1150); chr2: 2.0 on [0, 100), 4.0 on
# [2900, 3000) (its last 100 bp). Everything else is uncovered (= 0).
PLANTED = [
    ("chr1", 1000, 1100, 1.0),
    ("chr1", 1100, 1150, 3.0),
    ("chr2", 0, 100, 2.0),
    ("chr2", 2900, 3000, 4.0),
]


@pytest.fixture(scope="module")
def bigwigs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bigwigs")
    renamed = {name.removeprefix("chr"): n for name, n in LENGTHS.items()}
    return {
        "planted": _write_bigwig(folder / "planted.bw", LENGTHS, PLANTED),
        "no_chr": _write_bigwig(
            folder / "no_chr.bw", renamed, [(c[3:], s, e, v) for c, s, e, v in PLANTED]
        ),
        "chr1_only": _write_bigwig(
            folder / "chr1_only.bw", {"chr1": 5000}, [e for e in PLANTED if e[0] == "chr1"]
        ),
        "nan": _write_bigwig(folder / "nan.bw", LENGTHS, [("chr1", 0, 10, float("nan"))]),
        "negative": _write_bigwig(folder / "negative.bw", LENGTHS, [("chr1", 0, 10, -1.0)]),
    }


@pytest.fixture(scope="module")
def random_track(tmp_path_factory) -> tuple[Path, dict[str, np.ndarray]]:
    """Runs of 1-60 bp with random values and 20 % gaps; the per-base truth."""
    rng = np.random.default_rng(3)
    lengths = {"chr1": 20_000, "chr2": 7_000}
    dense, entries = {}, []
    for chrom, length in lengths.items():
        dense[chrom] = np.zeros(length)
        position = 0
        while position < length:
            end = min(length, position + int(rng.integers(1, 60)))
            if rng.random() > 0.2:
                value = float(np.float32(rng.uniform(0, 10)))
                entries.append((chrom, position, end, value))
                dense[chrom][position:end] = value
            position = end
    path = _write_bigwig(tmp_path_factory.mktemp("random") / "random.bw", lengths, entries)
    return path, dense


def _expected(dense: dict[str, np.ndarray], genes: pd.DataFrame) -> np.ndarray:
    """Per-base reference: offset r from the TSS is base tss-1+r on '+', tss-1-r on '-'."""
    offsets = np.arange(*WINDOW)
    windows = []
    for chrom, tss, strand in genes[["chrom", "tss", "strand"]].itertuples(index=False):
        signal = dense[chrom]
        positions = tss - 1 + offsets if strand == "+" else tss - 1 - offsets
        inside = (positions >= 0) & (positions < len(signal))
        values = np.where(inside, signal[np.clip(positions, 0, len(signal) - 1)], 0.0)
        windows.append(values.reshape(-1, BIN_SIZE).mean(axis=1))
    return np.array(windows)


def _genes(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["gene_id", "chrom", "tss", "strand"]).set_index(
        "gene_id", drop=True
    )


def _read(tracks, genes, **kwargs):
    return ct.io.read_bigwigs(tracks, genes, window=WINDOW, bin_size=BIN_SIZE, **kwargs)


# --- binned values ---------------------------------------------------------


@pytest.mark.parametrize("reader", ["pybigtools", "pyBigWig"])
def test_plus_strand_bins_are_mean_signal_with_uncovered_bases_as_zero(bigwigs, reader):
    genes = _genes([("up", "chr1", 1001, "+")])
    adata = _read([("E1", "H3K4me3", bigwigs["planted"])], genes, reader=reader)
    # [800,900) and [900,1000) empty; [1000,1100) all 1.0; [1100,1200) half 3.0, half uncovered
    np.testing.assert_allclose(adata.obsm["histone"][0, 0, 0], [0.0, 0.0, 1.0, 1.5])


@pytest.mark.parametrize("reader", ["pybigtools", "pyBigWig"])
def test_minus_strand_window_is_mirrored_and_reversed(bigwigs, reader):
    genes = _genes([("down", "chr1", 1150, "-")])
    adata = _read([("E1", "H3K4me3", bigwigs["planted"])], genes, reader=reader)
    # genome order [950,1050)=0.5, [1050,1150)=(50*1+50*3)/100=2, then 0, 0; bin 1 upstream
    np.testing.assert_allclose(adata.obsm["histone"][0, 0, 0], [0.0, 0.0, 2.0, 0.5])


@pytest.mark.parametrize("reader", ["pybigtools", "pyBigWig"])
def test_windows_off_chromosome_ends_are_padded_with_zero(bigwigs, reader):
    genes = _genes([("start", "chr2", 41, "+"), ("end", "chr2", 2960, "-")])
    adata = _read([("E1", "H3K4me3", bigwigs["planted"])], genes, reader=reader)
    signal = adata.obsm["histone"][0, :, 0]
    # [-160,-60) off the start; [-60,40): 40 bases of 2.0; [40,140): 60 bases of 2.0
    np.testing.assert_allclose(signal[0], [0.0, 0.8, 1.2, 0.0])
    # genome order [2760,2860)=0, [2860,2960): 60 bases of 4, [2960,3060): 40 of 4, off the end
    np.testing.assert_allclose(signal[1], [0.0, 1.6, 2.4, 0.0])


@pytest.mark.parametrize("reader", ["pybigtools", "pyBigWig"])
def test_random_signal_matches_per_base_numpy_reference(random_track, reader):
    path, dense = random_track
    rng = np.random.default_rng(5)
    chroms = rng.choice(["chr1", "chr2"], 80)
    tss = [int(rng.integers(1, len(dense[c]) + 1)) for c in chroms]
    rows = [
        (f"g{i}", c, t, s)
        for i, (c, t, s) in enumerate(zip(chroms, tss, rng.choice(["+", "-"], 80), strict=True))
    ]
    rows += [("first", "chr1", 1, "+"), ("last", "chr2", 7000, "-"), ("last+", "chr2", 7000, "+")]
    genes = _genes(rows)
    adata = _read([("E1", "H3K27me3", path)], genes, reader=reader, chunk_genes=16)
    np.testing.assert_allclose(adata.obsm["histone"][0, :, 0], _expected(dense, genes), rtol=1e-6)


def test_readers_and_worker_processes_give_the_same_numbers(random_track):
    path, _ = random_track
    genes = _genes([(f"g{i}", "chr1", 150 * i + 1, "+-"[i % 2]) for i in range(130)])
    tracks = [("E1", "H3K4me3", path), ("E1", "H3K27me3", path), ("E2", "H3K4me3", path)]
    with pytest.warns(UserWarning, match="no bigWig for 1"):
        serial = _read(tracks, genes, n_jobs=1, chunk_genes=32)
    with pytest.warns(UserWarning, match="no bigWig for 1"):
        forked = _read(tracks, genes, n_jobs=2, chunk_genes=32)
    with pytest.warns(UserWarning, match="no bigWig for 1"):
        other = _read(tracks, genes, reader="pyBigWig", n_jobs=1, chunk_genes=32)
    np.testing.assert_array_equal(forked.obsm["histone"], serial.obsm["histone"])
    np.testing.assert_allclose(other.obsm["histone"], serial.obsm["histone"], rtol=1e-6)


# --- the AnnData and the store ---------------------------------------------


def test_layout_marks_in_canonical_order_and_missing_pairs_nan(bigwigs):
    genes = _genes([("up", "chr1", 1001, "+"), ("down", "chr1", 1150, "-")])
    tracks = pd.DataFrame(
        {
            "cell_type": ["E2", "E2", "E1"],
            "mark": ["H3K27me3", "H3K4me3", "H3K4me3"],
            "path": [bigwigs["planted"]] * 3,
        }
    )
    with pytest.warns(UserWarning, match=r"\('E1', 'H3K27me3'\).*NaN"):
        adata = _read(tracks, genes, genome="hg38")
    assert list(adata.obs_names) == ["E2", "E1"]
    assert list(adata.var_names) == ["up", "down"]
    assert list(adata.var.columns[:3]) == ["chrom", "tss", "strand"]
    assert ct.get.marks(adata) == ["H3K4me3", "H3K27me3"]
    histone = adata.obsm["histone"]
    assert histone.dtype == np.float32 and histone.shape == (2, 2, 2, 4)
    np.testing.assert_allclose(histone[0, 0, 0], [0.0, 0.0, 1.0, 1.5])
    np.testing.assert_allclose(histone[0, 0, 1], [0.0, 0.0, 1.0, 1.5])
    assert np.isnan(histone[1, :, 1]).all() and not np.isnan(histone[1, :, 0]).any()
    assert np.isnan(adata.X).all()
    meta = adata.uns["chromtools"]
    assert meta["bin_size"] == BIN_SIZE and list(meta["window"]) == list(WINDOW)
    assert meta["genome"] == "hg38" and list(meta["var_names"]) == ["up", "down"]


def test_store_round_trip_equals_in_memory_and_is_chunked(random_track, tmp_path):
    path, _ = random_track
    genes = _genes([(f"g{i}", "chr1", 97 * i + 1, "+-"[i % 3 == 0]) for i in range(150)])
    tracks = [(cell, mark, path) for cell in ("E1", "E2") for mark in ("H3K4me3", "H3K9me3")]
    memory = _read(tracks, genes)
    lazy = _read(tracks, genes, store=tmp_path / "s.zarr", chunk_genes=64)
    assert isinstance(lazy.obsm["histone"], da.Array)
    stored = zarr.open_group(tmp_path / "s.zarr", mode="r")["obsm"]["histone"]
    assert stored.chunks == (1, 64, 2, 4)  # one cell type × 64 genes × all marks and bins
    np.testing.assert_array_equal(lazy.obsm["histone"].compute(), memory.obsm["histone"])
    np.testing.assert_array_equal(ct.get.histone(lazy).compute(), ct.get.histone(memory))
    assert lazy.uns["chromtools"]["marks"] == memory.uns["chromtools"]["marks"]  # a list again
    again = ct.io.read_zarr(tmp_path / "s.zarr").to_memory()
    pd.testing.assert_frame_equal(again.var, memory.var)
    assert np.isnan(np.asarray(again.X)).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_interrupted_import_leaves_the_old_store_intact(random_track, tmp_path, monkeypatch):
    path, _ = random_track
    genes = _genes([(f"g{i}", "chr1", 200 * i + 1, "+") for i in range(90)])
    store = tmp_path / "s.zarr"
    _read([("E1", "H3K4me3", path)], genes, store=store, chunk_genes=32)
    before = _digest(store)

    calls = {"n": 0}
    real_binned = _bigwig._PyBigtoolsTrack.binned

    def interrupted(self, *args):
        calls["n"] += 1
        if calls["n"] > 40:  # half-way through the second block of genes
            raise KeyboardInterrupt
        real_binned(self, *args)

    monkeypatch.setattr(_bigwig._PyBigtoolsTrack, "binned", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _read([("E1", "H3K9me3", path)], genes, store=store, chunk_genes=32, n_jobs=1)
    assert calls["n"] > 32
    assert _digest(store) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


# --- gene annotations ------------------------------------------------------

GENE_ROWS = [
    ("ENSG1", "chr1", 1001, "+", "ALPHA"),
    ("ENSG2", "chr1", 1150, "-", "BETA"),
    ("ENSG3", "chr2", 41, "+", "GAMMA"),
    ("ENSG4", "chr2", 2960, "-", "DELTA"),
]


def _annotation_files(folder: Path) -> dict[str, Path]:
    gtf = ["##description: test", "#!genome-build test"]
    bed = ["track name=genes"]
    for gene_id, chrom, tss, strand, name in GENE_ROWS:
        start, end = (tss, tss + 500) if strand == "+" else (max(1, tss - 500), tss)
        attributes = f'gene_id "{gene_id}"; gene_type "protein_coding"; gene_name "{name}";'
        for feature in ("gene", "transcript", "exon"):
            gtf.append(f"{chrom}\ttest\t{feature}\t{start}\t{end}\t.\t{strand}\t.\t{attributes}")
        bed.append(f"{chrom}\t{start - 1}\t{end}\t{gene_id}\t0\t{strand}")
    table = pd.DataFrame(GENE_ROWS, columns=["gene_id", "chrom", "tss", "strand", "gene_name"])
    files = {
        "gtf": folder / "genes.gtf.gz",
        "bed": folder / "genes.bed",
        "tsv": folder / "genes.tsv.gz",
        "csv": folder / "genes.csv",
    }
    with gzip.open(files["gtf"], "wt") as handle:
        handle.write("\n".join(gtf) + "\n")
    files["bed"].write_text("\n".join(bed) + "\n")
    table.to_csv(files["tsv"], sep="\t", index=False)
    table.to_csv(files["csv"], index=False)
    return files


def test_gtf_bed_tsv_csv_and_dataframe_give_the_same_genes_and_signal(bigwigs, tmp_path):
    files = _annotation_files(tmp_path)
    frame = pd.DataFrame(GENE_ROWS, columns=["id", "chrom", "tss", "strand", "gene_name"])
    sources = {**files, "dataframe": frame.set_index("id")}
    reference = ct.io.read_genes(sources["dataframe"])
    assert list(reference.index) == ["ENSG1", "ENSG2", "ENSG3", "ENSG4"]
    assert reference["tss"].tolist() == [1001, 1150, 41, 2960]
    tracks = [("E1", "H3K4me3", bigwigs["planted"])]
    expected = _read(tracks, reference).obsm["histone"]
    for kind, source in sources.items():
        genes = ct.io.read_genes(source)
        pd.testing.assert_frame_equal(
            genes[["chrom", "tss", "strand"]], reference[["chrom", "tss", "strand"]], obj=kind
        )
        np.testing.assert_array_equal(_read(tracks, source).obsm["histone"], expected)
    assert ct.io.read_genes(files["gtf"])["gene_name"].tolist() == [
        "ALPHA",
        "BETA",
        "GAMMA",
        "DELTA",
    ]
    assert set(ct.io.read_genes(files["gtf"])["gene_type"]) == {"protein_coding"}


def test_gtf_without_gene_lines_spans_transcripts(tmp_path):
    path = tmp_path / "ucsc.gtf"
    path.write_text(
        'chr1\tucsc\texon\t100\t200\t.\t-\t.\tgene_id "A"; transcript_id "A.1";\n'
        'chr1\tucsc\texon\t400\t900\t.\t-\t.\tgene_id "A"; transcript_id "A.2";\n'
        'chr1\tucsc\texon\t50\t80\t.\t+\t.\tgene_id "B"; transcript_id "B.1";\n'
    )
    genes = ct.io.read_genes(path)
    assert genes.loc["A", "tss"] == 900 and genes.loc["B", "tss"] == 50


def test_gencode_tss_table_ids_are_unique_gene_names(shared_data):
    genes = ct.io.read_genes(shared_data / "annotation" / "gencode_hg38_tss.tsv.gz")
    assert len(genes) == 62_703 and genes.index.is_unique
    assert genes.loc["DDX11L2", ["chrom", "tss", "strand"]].tolist() == ["chr1", 11869, "+"]
    assert genes.loc["Y_RNA_1", "gene_name"] == "Y_RNA"
    assert list(genes.columns) == ["chrom", "tss", "strand", "gene_name", "gene_type"]
    # read_csv's row numbers, even after filtering, are not gene ids
    table = pd.read_csv(shared_data / "annotation" / "gencode_hg38_tss.tsv.gz", sep="\t")
    chr2 = ct.io.read_genes(table[table["chrom"] == "chr2"])
    assert chr2.index[0] == "FAM110C" and not chr2.index.str.isdigit().any()
    assert chr2["gene_name"].tolist() == genes.loc[genes["chrom"] == "chr2", "gene_name"].tolist()


# --- bad input: a clear error, and nothing written ---------------------------


GOOD_GENES_FRAME = _genes([("a", "chr1", 1001, "+"), ("b", "chr1", 1150, "-")])


def _track(name: str, cell_type: str = "E1", mark: str = "H3K4me3") -> Callable:
    return lambda bigwigs, folder: [(cell_type, mark, bigwigs[name])]


# case: (tracks from (bigwigs, tmp_path), genes from tmp_path, error, message)
BAD_INPUTS = {
    "missing bigWig": (
        lambda bigwigs, folder: [("E1", "H3K4me3", folder / "missing.bw")],
        GOOD_GENES_FRAME,
        FileNotFoundError,
        r"bigWig files not found: .*missing\.bw \(E1, H3K4me3\)",
    ),
    "missing genes file": (
        _track("planted"),
        lambda folder: folder / "genes.gtf",
        FileNotFoundError,
        r"genes: no such file .*genes\.gtf",
    ),
    "chr1 genes, '1' bigWig": (
        _track("no_chr"),
        GOOD_GENES_FRAME,
        ValueError,
        r"\(E1, H3K4me3\) .*no_chr\.bw: chromosome names do not match.*\['1', '2'\].*"
        r"\['chr1'\].*removeprefix\('chr'\)",
    ),
    "'1' genes, chr1 bigWig": (
        _track("planted"),
        GOOD_GENES_FRAME.assign(chrom="1"),
        ValueError,
        r"planted\.bw: chromosome names do not match.*'chr' \+ genes\['chrom'\]",
    ),
    "chromosome missing from a bigWig": (
        lambda bigwigs, folder: [
            ("E1", "H3K4me3", bigwigs["planted"]),
            ("E2", "H3K4me3", bigwigs["chr1_only"]),
        ],
        _genes([("a", "chr1", 1001, "+"), ("z", "chr2", 500, "+")]),
        ValueError,
        r"\(E2, H3K4me3\) .*chr1_only\.bw: has no chromosome \['chr2'\], on which 1 genes "
        r"lie \(e\.g\. \['z'\]\).*missing_chromosomes='drop'",
    ),
    "NaN signal": (
        _track("nan"),
        GOOD_GENES_FRAME,
        ValueError,
        r"\(E1, H3K4me3\) .*nan\.bw: the signal contains NaN",
    ),
    "negative signal": (
        _track("negative", "E3", "H3K9me3"),
        GOOD_GENES_FRAME,
        ValueError,
        r"\(E3, H3K9me3\) .*negative\.bw: the signal has negative values \(min -1\)",
    ),
    "unknown mark": (
        lambda bigwigs, folder: [
            ("E1", "H3K4me3", bigwigs["planted"]),
            ("E1", "K4me3", bigwigs["planted"]),
        ],
        GOOD_GENES_FRAME,
        ValueError,
        r"tracks list marks: unknown mark names \['K4me3'\]",
    ),
    "repeated track": (
        lambda bigwigs, folder: [("E1", "H3K4me3", bigwigs["planted"])] * 2,
        GOOD_GENES_FRAME,
        ValueError,
        r"\(cell type, mark\) pairs listed more than once: \[\('E1', 'H3K4me3'\)\]",
    ),
    "tracks without a path column": (
        lambda bigwigs, folder: pd.DataFrame({"cell_type": ["E1"], "mark": ["H3K4me3"]}),
        GOOD_GENES_FRAME,
        ValueError,
        r"tracks DataFrame: missing columns \['path'\]",
    ),
    "genes without strand": (
        _track("planted"),
        GOOD_GENES_FRAME.drop(columns="strand"),
        ValueError,
        r"genes DataFrame: missing columns \['strand'\]",
    ),
    "gene without TSS": (
        _track("planted"),
        GOOD_GENES_FRAME.assign(tss=[1001, np.nan]),
        ValueError,
        r"genes DataFrame: 1 genes have no TSS, e\.g\. \['b'\]",
    ),
    "strand not + or -": (
        _track("planted"),
        GOOD_GENES_FRAME.assign(strand=["+", "."]),
        ValueError,
        r"strand must be '\+' or '-'; 1 genes have \['\.'\], e\.g\. \['b'\]",
    ),
    "duplicated gene ids": (
        _track("planted"),
        GOOD_GENES_FRAME.set_axis(["a", "a"]),
        ValueError,
        r"genes DataFrame: 1 gene/region ids appear more than once, e\.g\. \['a'\]",
    ),
    "TSS beyond the chromosome": (
        _track("planted"),
        GOOD_GENES_FRAME.assign(tss=[1001, 9000]),
        ValueError,
        r"planted\.bw: 1 genes have their TSS beyond the chromosome's end \(e\.g\. \['b'\]\)",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_raises_a_clear_error_before_anything_is_written(bigwigs, tmp_path, case):
    make_tracks, genes, error, message = BAD_INPUTS[case]
    if callable(genes):
        genes = genes(tmp_path)
    store = tmp_path / "out.zarr"
    with pytest.raises(error, match=message):
        _read(make_tracks(bigwigs, tmp_path), genes, store=store)
    assert not store.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.zarr")]


def test_window_must_be_a_multiple_of_bin_size(bigwigs):
    genes = _genes([("a", "chr1", 1001, "+")])
    with pytest.raises(ValueError, match=r"spans 450 bp, which is not a multiple of bin_size=100"):
        ct.io.read_bigwigs([("E1", "H3K4me3", bigwigs["planted"])], genes, window=(-200, 250))


def test_missing_chromosomes_drop_leaves_those_genes_out(bigwigs):
    genes = _genes([("a", "chr1", 1001, "+"), ("z", "chr2", 500, "+")])
    tracks = [("E1", "H3K4me3", bigwigs["planted"]), ("E2", "H3K4me3", bigwigs["chr1_only"])]
    with pytest.warns(UserWarning, match=r"left out 1 genes .*\['chr2'\]"):
        adata = _read(tracks, genes, missing_chromosomes="drop")
    assert list(adata.var_names) == ["a"]
    np.testing.assert_allclose(adata.obsm["histone"][:, 0, 0], [[0, 0, 1, 1.5]] * 2)


def test_tracks_table_file_paths_are_relative_to_the_table(bigwigs, tmp_path):
    (tmp_path / "bigwigs").mkdir()
    (tmp_path / "bigwigs" / "E1.bw").write_bytes(bigwigs["planted"].read_bytes())
    (tmp_path / "tables").mkdir()
    table = tmp_path / "tables" / "tracks.csv"
    table.write_text("cell_type,mark,path\nE1,H3K4me3,../bigwigs/E1.bw\n")
    genes = _genes([("a", "chr1", 1001, "+")])
    np.testing.assert_allclose(_read(table, genes).obsm["histone"][0, 0, 0], [0, 0, 1, 1.5])
