"""Gene annotation (TSS and strand) from GTF, BED, TSV/CSV tables or a DataFrame.

Every reader of windows around TSSs goes through :func:`read_genes`, so a gene
is placed the same way whatever the annotation format: ``tss`` is 1-based (as
GENCODE and GTF files count) and ``strand`` is ``"+"`` or ``"-"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from anndata.utils import make_index_unique

from .._errors import FormatError
from ._anndata import check_var
from ._bed import BED_COLUMNS, read_bed
from ._formats import Format, Readers
from ._parse import MAX_POSITION, Lines, booleans, check_file, describe_lines, parse, read_lines

if TYPE_CHECKING:
    from pandas.core.groupby import DataFrameGroupBy

REQUIRED = ("chrom", "tss", "strand")
_GTF_COLUMNS = ("chrom", "source", "feature", "start", "end", "score", "strand", "frame", "attr")
# GTF attributes kept as columns; Ensembl GTFs call gene_type gene_biotype.
_GTF_ATTRIBUTES = {
    "gene_id": "gene_id",
    "gene_name": "gene_name",
    "gene_type": "gene_type",
    "gene_biotype": "gene_type",
}


def read_genes(genes: pd.DataFrame | str | os.PathLike) -> pd.DataFrame:
    """Read a gene annotation: chromosome, TSS and strand of each gene.

    Parameters
    ----------
    genes
        One of

        - a DataFrame with columns ``chrom``, ``tss`` (1-based) and ``strand``;
          the gene id is the ``gene_id`` column if there is one, else the index
          unless it holds integers (the row numbers ``pd.read_csv`` leaves,
          also after filtering rows);
        - a GTF file (``.gtf``): ``gene`` features, TSS = ``start`` on ``+``,
          ``end`` on ``-``; ids from the ``gene_id`` attribute, ``gene_name``
          and ``gene_type`` (or ``gene_biotype``) kept when present. A GTF
          without ``gene`` lines (as UCSC writes them) spans each ``gene_id``
          over all its transcripts/exons;
        - a BED6 file (``.bed``): TSS = ``start + 1`` on ``+``, ``end`` on
          ``-`` (BED starts are 0-based); the name column is the id;
        - a table with a header (``.tsv``, ``.txt``, ``.tab`` tab-separated,
          ``.csv`` comma-separated) holding ``chrom``, ``tss``, ``strand``;
          other columns are kept.

        Files may be gzipped (``.gz``). Without a gene id (no ``gene_id``
        column, e.g. ``gencode_hg38_tss.tsv.gz``) the id is ``gene_name``,
        with names that repeat made unique by anndata's rule (``Y_RNA``,
        ``Y_RNA_1``, ``Y_RNA_2`` … in file order); without ``gene_name``
        either it is ``chrom:tss:strand``.

    Returns
    -------
    DataFrame indexed by unique gene id (str) with columns ``chrom`` (str),
    ``tss`` (int64, 1-based), ``strand`` (``"+"``/``"-"``), ``gene_name`` when
    known, then any other annotation columns. Raises ``FileNotFoundError`` for
    a missing file and ``ValueError`` naming the input for missing columns,
    genes without a TSS, a strand other than ``+``/``-``, or repeated ids; for
    a file, :class:`~chromtools._errors.FormatError` (a ``ValueError``) also
    names the lines, and refuses rows with the wrong number of columns,
    coordinates that are not whole positions or run backwards, features
    without a ``gene_id``, and a ``gene_id`` spread over two chromosomes or
    strands.
    """
    lines = None
    if isinstance(genes, pd.DataFrame):
        what = "genes DataFrame"
        table = genes.copy()
        if "gene_id" not in table.columns and not pd.api.types.is_integer_dtype(table.index):
            table.insert(0, "gene_id", table.index.to_numpy())
        table = table.reset_index(drop=True)
    elif isinstance(genes, (str, os.PathLike)):
        path = check_file(genes, "genes")
        what = str(path)
        table, lines = GENE_TABLES.read(path)
    else:
        raise TypeError(
            f"genes must be a DataFrame or the path of a GTF, BED, TSV or CSV file, "
            f"got {type(genes).__name__}"
        )
    return _checked(table, what, lines)


GENE_TABLES = Readers("genes")


@GENE_TABLES.register("tsv", "csv")
def _read_table(path: Path, table_format: Format) -> tuple[pd.DataFrame, np.ndarray]:
    lines = read_lines(path, "genes", table_format.sep)
    table = parse(lines, text=["chrom", "gene_id", "gene_name", "strand"], numeric=["tss"])
    return table, lines.numbers[1:]


@GENE_TABLES.register("gtf")
def _read_gtf(path: Path, _: Format) -> tuple[pd.DataFrame, np.ndarray]:
    # Header lines ("##description: …") are comments; a '#' inside a line is
    # kept, as attribute values may contain one.
    lines = read_lines(path, "genes", "\t", comments=(b"#",))
    if not len(lines):
        raise lines.error("the GTF holds no features (only blank or '#' lines)")
    lines.require_fields(len(_GTF_COLUMNS), "GTF: " + ", ".join(_GTF_COLUMNS))
    text = [c for c in _GTF_COLUMNS if c not in ("start", "end")]
    table = parse(lines, _GTF_COLUMNS, text=text, numeric=["start", "end"])
    table["line"] = lines.numbers
    genes = table[table["feature"] == "gene"]
    features = genes if len(genes) else table
    _check_span(features, lines, first=1)
    found = {}
    for key, column in _GTF_ATTRIBUTES.items():
        attributes = features["attr"].fillna("")
        values = attributes.str.extract(rf'(?:^|;)\s*{key} "([^"]*)"', expand=False)
        if values.notna().any() and column not in found:
            found[column] = values
    if "gene_id" not in found:
        raise lines.error("no gene_id attribute in the GTF's column 9")
    no_id = (found["gene_id"].isna() | (found["gene_id"] == "")).to_numpy()
    if no_id.any():
        raise lines.error(
            f"{int(no_id.sum())} features have no gene_id attribute, on "
            f"{describe_lines(features['line'].to_numpy()[no_id])}"
        )
    parsed = features[["chrom", "start", "end", "strand", "line"]].assign(**found)
    if not len(genes):
        # No gene lines: a gene spans all its transcripts and exons.
        parsed = _span_transcripts(parsed, lines, [c for c in found if c != "gene_id"])
    parsed["tss"] = five_prime(parsed, first=1)
    return parsed.drop(columns=["start", "end", "line"]), parsed["line"].to_numpy()


def _span_transcripts(parsed: pd.DataFrame, lines: Lines, attributes: list[str]) -> pd.DataFrame:
    """One row per gene_id from its features, refusing genes on two chromosomes or strands."""
    grouped = parsed.groupby("gene_id", sort=False)
    for column in ("chrom", "strand"):
        split = grouped[column].nunique(dropna=False)
        if (split > 1).any():
            gene = split.index[split > 1][0]
            rows = (parsed["gene_id"] == gene).to_numpy()
            raise lines.error(
                f"gene_id {gene!r} has features on {column}s "
                f"{sorted(parsed.loc[rows, column].astype(str).unique())}, on "
                f"{describe_lines(parsed['line'].to_numpy()[rows])}; a gene lies on one {column}"
            )
    return spans(grouped, attributes)


def spans(grouped: DataFrameGroupBy, attributes: list[str]) -> pd.DataFrame:
    """Each gene from its first to its last base, with its first feature's attributes and line.

    Genes come in the order of their first feature; ``start`` and ``end`` stay
    as the GTF counts them (1-based, inclusive).
    """
    aggregations = {"chrom": "first", "start": "min", "end": "max", "strand": "first"}
    aggregations.update({c: "first" for c in attributes})
    aggregations["line"] = "first"
    return grouped.agg(aggregations).reset_index()


@GENE_TABLES.register("bed")
def _read_bed(path: Path, _: Format) -> tuple[pd.DataFrame, np.ndarray]:
    table, lines = read_bed(path, "genes", "genes", min_columns=len(BED_COLUMNS))
    table["line"] = lines.numbers
    _check_span(table, lines, first=0)
    tss = five_prime(table, first=0)
    genes = pd.DataFrame(
        {"gene_id": table["name"], "chrom": table["chrom"], "tss": tss, "strand": table["strand"]}
    )
    return genes, lines.numbers


def five_prime(table: pd.DataFrame, first: int) -> np.ndarray:
    """The 1-based TSS of each feature: its first base on ``+``, its last on ``-``.

    ``first`` is the position a file counts from: 1 for GTF (``start`` is the
    first base), 0 for BED (``start`` is 0-based, ``end`` exclusive, so the
    first base is ``start + 1``). Ends are the last base in both. A strand
    other than ``-`` counts as ``+`` here; :func:`_checked` refuses it.
    """
    return np.where(table["strand"] == "-", table["end"], table["start"] + (1 - first))


def _check_span(table: pd.DataFrame, lines: Lines, first: int) -> None:
    """Refuse starts and ends that are not whole positions (≥ ``first``), or end before start.

    BED (``first=0``) ends are exclusive, so a feature needs end > start; GTF
    (``first=1``) ends are inclusive, so end ≥ start.
    """
    line = table["line"].to_numpy()
    for column in ("start", "end"):
        values = table[column].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values != np.round(values)) | (values < first)
        bad |= values > MAX_POSITION
        if bad.any():
            raise lines.error(
                f"{column} must be a whole position ≥ {first}, found {values[bad][0]:g} on "
                f"{describe_lines(line[bad])}"
            )
    exclusive = first == 0
    backwards = (table["end"] < table["start"] + exclusive).to_numpy()
    if backwards.any():
        raise lines.error(
            f"end must be {'greater than' if exclusive else 'at least'} start; "
            f"{int(backwards.sum())} features are not, on {describe_lines(line[backwards])}"
        )


def _checked(table: pd.DataFrame, what: str, lines: np.ndarray | None) -> pd.DataFrame:
    """var of genes from a table, naming the file's lines (``lines``) of bad rows."""

    # Rows of a file are a malformed file; rows of a DataFrame a bad argument.
    error = ValueError if lines is None else FormatError

    def where(bad: np.ndarray) -> str:
        return "" if lines is None else f" (on {describe_lines(lines[bad])})"

    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise error(
            f"{what}: missing columns {missing}; expected {list(REQUIRED)} "
            f"(found {list(table.columns)})"
        )
    ids = _gene_ids(table)
    no_id = pd.isna(ids) | (pd.Series(ids, dtype=object).astype(str).str.strip() == "").to_numpy()
    if no_id.any():
        raise error(f"{what}: {int(no_id.sum())} genes have no gene id{where(no_id)}")
    tss = pd.to_numeric(table["tss"], errors="coerce").to_numpy(dtype=np.float64)
    no_tss = ~np.isfinite(tss)
    if no_tss.any():
        raise error(
            f"{what}: {int(no_tss.sum())} genes have no TSS, e.g. {list(ids[no_tss][:5])}"
            f"{where(no_tss)}"
        )
    bad_tss = (tss != np.round(tss)) | (tss < 1) | (tss > MAX_POSITION) | booleans(table["tss"])
    if bad_tss.any():
        raise error(
            f"{what}: TSS must be whole 1-based positions ≥ 1; {int(bad_tss.sum())} genes "
            f"have others, e.g. {dict(zip(ids[bad_tss][:5], tss[bad_tss][:5], strict=True))}"
            f"{where(bad_tss)}"
        )
    given = table["strand"].astype(object)
    strand = given.where(given.notna(), "").astype(str).str.strip().to_numpy()
    bad_strand = ~np.isin(strand, ["+", "-"])
    if bad_strand.any():
        raise error(
            f"{what}: strand must be '+' or '-'; {int(bad_strand.sum())} genes have "
            f"{sorted(set(strand[bad_strand]))[:5]}, e.g. {list(ids[bad_strand][:5])}"
            f"{where(bad_strand)}"
        )
    chrom = table["chrom"]
    no_chrom = chrom.isna().to_numpy() | (chrom.astype(str).str.strip() == "").to_numpy()
    if no_chrom.any():
        raise error(
            f"{what}: {int(no_chrom.sum())} genes have no chromosome, "
            f"e.g. {list(ids[no_chrom][:5])}{where(no_chrom)}"
        )
    repeated = pd.Index(ids.astype(str)).duplicated(keep=False)
    if lines is not None and repeated.any():
        raise error(
            f"{what}: {len(set(ids[repeated]))} gene/region ids appear more than once, e.g. "
            f"{list(pd.unique(ids[repeated]))[:5]}{where(repeated)}; ids must be unique"
        )
    var = pd.DataFrame(
        {"chrom": chrom.astype(str).to_numpy(), "tss": tss.astype(np.int64), "strand": strand},
        index=pd.Index(ids, name=None),
    )
    others = [c for c in table.columns if c not in (*REQUIRED, "gene_id")]
    for column in sorted(others, key=lambda c: c != "gene_name"):
        var[column] = table[column].to_numpy()
    return check_var(var, what)


def _gene_ids(table: pd.DataFrame) -> np.ndarray:
    """``gene_id``; else ``gene_name`` made unique; else ``chrom:tss:strand``."""
    if "gene_id" in table.columns:
        ids = table["gene_id"]
        return np.asarray(ids.where(ids.isna(), ids.astype(str)), dtype=object)
    if "gene_name" in table.columns and table["gene_name"].notna().all():
        # "_" rather than anndata's default "-": GENCODE names such as
        # MIR6859-1 already end in "-<number>".
        return np.asarray(make_index_unique(pd.Index(table["gene_name"].astype(str)), join="_"))
    position = table[["chrom", "tss", "strand"]].astype(str)
    return np.asarray(position.agg(":".join, axis=1), dtype=object)
