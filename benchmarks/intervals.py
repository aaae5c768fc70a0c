"""Benchmark chromtools' interval steps against pyranges (issue 25: use pyranges where it helps).

chromtools reads intervals defensively (``chromtools.io._parse``: every
malformed byte is refused naming its line) and then does three kinds of
interval work, each measured here against the same work done by pyranges
0.1.x on the same data, with the results checked equal:

- **TSS of each feature** (GTF ``gene`` lines, BED6 genes): the 5' end on its
  strand; chromtools takes ``np.where(strand == "-", end, start)``, pyranges
  ``PyRanges.five_end()``.
- **A gene spanning its features** (a GTF without ``gene`` lines, as UCSC
  writes them): chromtools groups by ``gene_id`` (min start, max end),
  pyranges ``PyRanges.boundaries("gene_id")``.
- **Sites against sites** (``ct.tl.motif_enrichment``'s background: every
  site that shares no base with one of the tested motif's sites): chromtools
  binary-searches the sorted own sites, pyranges ``PyRanges.overlap``.

The first two are timed alone and inside ``ct.io.read_genes`` end to end
(with every check), swapping in the pyranges step; the pyranges import is
timed on top of ``import chromtools`` in fresh interpreters. Data are
synthetic at GENCODE's scale: 60,000 genes in a GTF of about 200,000 lines,
a BED of 100,000 genes, 500,000 motif sites in 10,000 regions of 1 kb.
Timings are the best of ``--repeats`` runs, the two paths taking turns; on a
shared machine they still move with its load: the steps timed alone are the
steadier measure.

Run ``python benchmarks/intervals.py --help`` for the options. Needs
pyranges (``pip install 'chromtools[bench]'``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pyranges as pr

import chromtools as ct

# The reader's interval steps have no public face: they are compared here as
# the reader runs them, and swapped for pyranges' inside ct.io.read_genes.
from chromtools.get._motifs import flat_positions, overlapping
from chromtools.io import _genes

CHROMOSOMES = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY"]


# ------------------------------------------------------------------ the pyranges path


def five_prime_pyranges(table: pd.DataFrame, first: int) -> np.ndarray:
    """:func:`chromtools.io._genes.five_prime` by ``PyRanges.five_end()``.

    Rows pyranges cannot hold (a strand other than ``+``/``-``, no chromosome)
    keep the ``+`` rule, as chromtools' own step does, for the reader to refuse.
    """
    tss = (table["start"] + (1 - first)).to_numpy(dtype=np.float64)
    rows = np.flatnonzero(table["strand"].isin(["+", "-"]) & table["chrom"].notna())
    ranges = pr.PyRanges(
        pd.DataFrame(
            {
                "Chromosome": table["chrom"].to_numpy()[rows],
                # 0-based half-open: a GTF's 1-based start is one less, a BED's as it is.
                "Start": table["start"].to_numpy()[rows].astype(np.int64) - first,
                "End": table["end"].to_numpy()[rows].astype(np.int64),
                "Strand": table["strand"].to_numpy()[rows],
                "row": rows,
            }
        )
    )
    five = ranges.five_end().df
    # The 5' base [s, s + 1) is base s + 1 counted from 1.
    tss[five["row"].to_numpy()] = five["End"].to_numpy()
    return tss


def spans_pyranges(grouped, attributes: list[str]) -> pd.DataFrame:
    """:func:`chromtools.io._genes.spans` by ``PyRanges.boundaries("gene_id")``."""
    parsed = grouped.obj
    ranges = pr.PyRanges(
        parsed.rename(
            columns={"chrom": "Chromosome", "start": "Start", "end": "End", "strand": "Strand"}
        ).assign(
            Start=lambda d: d["Start"].astype(np.int64) - 1, End=lambda d: d["End"].astype(np.int64)
        )
    )
    agg = {c: "first" for c in attributes} | {"line": "first"}
    spans = ranges.boundaries("gene_id", agg=agg).df.sort_values("line", kind="stable")
    return pd.DataFrame(
        {
            "gene_id": spans["gene_id"].to_numpy(),
            "chrom": spans["Chromosome"].astype(str).to_numpy(),
            "start": (spans["Start"] + 1).to_numpy(np.float64),
            "end": spans["End"].to_numpy(np.float64),
            "strand": spans["Strand"].astype(str).to_numpy(),
            **{c: spans[c].to_numpy() for c in attributes},
            "line": spans["line"].to_numpy(),
        }
    )


def overlapping_pyranges(sites: pr.PyRanges, n_sites: int, flat_start, flat_end, own) -> np.ndarray:
    """:func:`chromtools.get._motifs.overlapping` by ``PyRanges.overlap``."""
    own_ranges = pr.PyRanges(
        pd.DataFrame({"Chromosome": "all", "Start": flat_start[own], "End": flat_end[own]})
    )
    hit = np.zeros(n_sites, dtype=bool)
    hit[sites.overlap(own_ranges).df["row"].to_numpy()] = True
    return hit


# ------------------------------------------------------------------------------ data


def synthetic_genes(n_genes: int, seed: int = 0) -> pd.DataFrame:
    """Genes on human-sized chromosomes: chrom, 1-based start and end, strand."""
    rng = np.random.default_rng(seed)
    start = rng.integers(1, 150_000_000, n_genes)
    return pd.DataFrame(
        {
            "gene_id": [f"ENSG{i:011d}.{i % 9 + 1}" for i in range(n_genes)],
            "gene_name": [f"GENE{i}" for i in range(n_genes)],
            "chrom": rng.choice(CHROMOSOMES, n_genes),
            "start": start,
            "end": start + rng.integers(200, 100_000, n_genes),
            "strand": rng.choice(["+", "-"], n_genes),
            "exons": rng.integers(1, 3, n_genes),
        }
    )


def write_gtf(genes: pd.DataFrame, path: Path, gene_lines: bool) -> int:
    """A GENCODE-like GTF (gene, transcript and exon lines); returns its line count."""
    out = ["##description: synthetic\n", "##format: gtf\n"]
    for g in genes.itertuples(index=False):
        attr = f'gene_id "{g.gene_id}"; gene_type "protein_coding"; gene_name "{g.gene_name}"; '
        columns = f"{g.chrom}\tHAVANA\t{{}}\t{{}}\t{{}}\t.\t{g.strand}\t.\t"
        if gene_lines:
            out.append(columns.format("gene", g.start, g.end) + attr + "level 2;\n")
        transcript = f'transcript_id "{g.gene_id}-201"; transcript_type "protein_coding"; '
        out.append(columns.format("transcript", g.start, g.end) + attr + transcript + "\n")
        bounds = np.linspace(g.start, g.end, 2 * g.exons).astype(int)
        for number, (a, b) in enumerate(zip(bounds[::2], bounds[1::2], strict=True)):
            exon = transcript + f"exon_number {number + 1};"
            out.append(columns.format("exon", a, b) + attr + exon + "\n")
    path.write_text("".join(out))
    return len(out)


def write_bed(genes: pd.DataFrame, path: Path) -> None:
    """The genes as BED6 (0-based starts)."""
    table = genes.assign(start=genes["start"] - 1, score=0)
    columns = ["chrom", "start", "end", "gene_id", "score", "strand"]
    table[columns].to_csv(path, sep="\t", header=False, index=False)


def synthetic_sites(n_sites: int, n_regions: int, length: int, n_motifs: int, seed: int = 0):
    """Motif sites (motif code, flat start, flat end) in regions laid end to end."""
    rng = np.random.default_rng(seed)
    motif = rng.integers(0, n_motifs, n_sites)
    width = 8 + motif % 12
    start = rng.integers(0, length - 20, n_sites)
    region = rng.integers(0, n_regions, n_sites)
    return (motif, *flat_positions(region, start, start + width, length))


# --------------------------------------------------------------------------- timing


def compare(old, new, repeats: int) -> tuple[float, float, object, object]:
    """The shortest of ``repeats`` runs of ``old()`` and of ``new()`` in seconds, and
    their results; runs alternate, so a change of the machine's load hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    results = [None, None]
    for _ in range(repeats):
        for i, function in enumerate((old, new)):
            began = time.perf_counter()
            results[i] = function()
            times[i].append(time.perf_counter() - began)
    return min(times[0]), min(times[1]), results[0], results[1]


def with_pyranges(function):
    """``function`` run with read_genes' interval steps done by pyranges."""

    def run():
        with (
            mock.patch.object(_genes, "five_prime", five_prime_pyranges),
            mock.patch.object(_genes, "spans", spans_pyranges),
        ):
            return function()

    return run


def report(name: str, old: float, new: float) -> dict:
    ratio = new / old
    print(f"{name:<52} {old * 1e3:9.1f} {new * 1e3:9.1f} {ratio:7.2f}x", flush=True)
    return {"step": name, "chromtools_ms": old * 1e3, "pyranges_ms": new * 1e3, "ratio": ratio}


def bench_read_genes(folder: Path, n_genes: int, n_bed: int, repeats: int) -> list[dict]:
    """The TSS and span steps, alone and inside ``ct.io.read_genes``."""
    genes = synthetic_genes(n_genes)
    rows = []
    for gene_lines, label in ((True, "GTF with gene lines"), (False, "GTF without gene lines")):
        gtf = folder / f"genes_{gene_lines}.gtf"
        n_lines = write_gtf(genes, gtf, gene_lines)
        label = f"{label}, {n_lines:,} lines"
        old, new, expected, found = compare(
            lambda gtf=gtf: ct.io.read_genes(gtf),
            with_pyranges(lambda gtf=gtf: ct.io.read_genes(gtf)),
            repeats,
        )
        pd.testing.assert_frame_equal(expected, found)
        rows.append(report(f"read_genes: {label}", old, new))
    table = genes.assign(start=genes["start"].astype(np.float64), end=genes["end"] * 1.0)
    old, new, expected, found = compare(
        lambda: _genes.five_prime(table, first=1),
        lambda: five_prime_pyranges(table, first=1),
        repeats,
    )
    np.testing.assert_array_equal(expected, found)
    rows.append(report(f"  TSS step alone, {n_genes:,} genes", old, new))
    features = table.loc[table.index.repeat(3)].assign(line=np.arange(3 * n_genes) + 1)
    grouped = features.groupby("gene_id", sort=False)
    old, new, expected, found = compare(
        lambda: _genes.spans(grouped, ["gene_name"]),
        lambda: spans_pyranges(grouped, ["gene_name"]),
        repeats,
    )
    pd.testing.assert_frame_equal(expected, found, check_dtype=False)
    rows.append(report(f"  span step alone, {3 * n_genes:,} features", old, new))
    bed = folder / "genes.bed"
    write_bed(synthetic_genes(n_bed, seed=1), bed)
    old, new, expected, found = compare(
        lambda: ct.io.read_genes(bed), with_pyranges(lambda: ct.io.read_genes(bed)), repeats
    )
    pd.testing.assert_frame_equal(expected, found)
    rows.append(report(f"read_genes: BED6, {n_bed:,} genes", old, new))
    return rows


def bench_overlaps(n_sites: int, n_motifs: int, repeats: int) -> dict:
    """The background of ``n_motifs`` motifs: sites sharing no base with the motif's own."""
    motif, flat_start, flat_end = synthetic_sites(n_sites, 10_000, 1000, 50)
    tested = range(n_motifs)

    def chromtools_path():
        return [overlapping(flat_start, flat_end, np.flatnonzero(motif == m)) for m in tested]

    def pyranges_path():
        # One chromosome of flat positions: a region per chromosome makes pyranges
        # split 10,000 ways (seconds to build, tens of seconds to overlap).
        sites = pr.PyRanges(
            pd.DataFrame(
                {
                    "Chromosome": "all",
                    "Start": flat_start,
                    "End": flat_end,
                    "row": np.arange(n_sites),
                }
            )
        )
        return [
            overlapping_pyranges(sites, n_sites, flat_start, flat_end, np.flatnonzero(motif == m))
            for m in tested
        ]

    old, new, expected, found = compare(chromtools_path, pyranges_path, repeats)
    for a, b in zip(expected, found, strict=True):
        np.testing.assert_array_equal(a, b)
    return report(f"sites vs own sites: {n_sites:,} sites, {n_motifs} motifs", old, new)


def bench_import(repeats: int) -> dict:
    """``import pyranges`` after ``import chromtools``, in fresh interpreters (median)."""
    code = (
        "import time; import chromtools; t = time.perf_counter(); import pyranges; "
        "print(time.perf_counter() - t)"
    )
    seconds = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
        for _ in range(max(repeats, 3))
    ]
    median = statistics.median(seconds)
    print(f"{'import pyranges after import chromtools':<52} {'':>9} {median * 1e3:9.1f}")
    return {"step": "import pyranges", "pyranges_ms": median * 1e3}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--genes", type=int, default=60_000, help="genes in the GTF")
    parser.add_argument("--bed", type=int, default=100_000, help="genes in the BED")
    parser.add_argument("--sites", type=int, default=500_000, help="motif sites")
    parser.add_argument("--motifs", type=int, default=10, help="motifs tested for overlaps")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"pyranges {pr.__version__}, pandas {pd.__version__}, numpy {np.__version__}")
    print(f"{'step':<52} {'ct (ms)':>9} {'pr (ms)':>9} {'pr/ct':>8}")
    with tempfile.TemporaryDirectory() as folder:
        bench_read_genes(Path(folder), args.genes, args.bed, args.repeats)
    bench_overlaps(args.sites, args.motifs, args.repeats)
    bench_import(args.repeats)


if __name__ == "__main__":
    main()
