"""Gene annotation (TSS and strand) from GTF, BED, TSV/CSV tables or a DataFrame.

Every reader of windows around TSSs goes through :func:`read_genes`, so a gene
is placed the same way whatever the annotation format: ``tss`` is 1-based (as
GENCODE and GTF files count) and ``strand`` is ``"+"`` or ``"-"``.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pandas as pd
from anndata.utils import make_index_unique

from ._anndata import check_var

REQUIRED = ("chrom", "tss", "strand")
_GTF_COLUMNS = ("chrom", "source", "feature", "start", "end", "score", "strand", "frame", "attr")
_BED_COLUMNS = ("chrom", "start", "end", "name", "score", "strand")
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
    genes without a TSS, a strand other than ``+``/``-``, or repeated ids.
    """
    if isinstance(genes, pd.DataFrame):
        what = "genes DataFrame"
        table = genes.copy()
        if "gene_id" not in table.columns and not pd.api.types.is_integer_dtype(table.index):
            table.insert(0, "gene_id", table.index.to_numpy())
        table = table.reset_index(drop=True)
    elif isinstance(genes, (str, os.PathLike)):
        path = Path(genes)
        what = str(path)
        if not path.is_file():
            raise FileNotFoundError(f"genes: no such file {path}")
        table = _read_file(path)
    else:
        raise TypeError(
            f"genes must be a DataFrame or the path of a GTF, BED, TSV or CSV file, "
            f"got {type(genes).__name__}"
        )
    return _checked(table, what)


def _read_file(path: Path) -> pd.DataFrame:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix == ".gtf":
        return _read_gtf(path)
    if suffix == ".bed":
        return _read_bed(path)
    if suffix in (".tsv", ".txt", ".tab", ".csv"):
        sep = "," if suffix == ".csv" else "\t"
        return pd.read_csv(path, sep=sep, dtype={"chrom": str, "gene_id": str, "gene_name": str})
    raise ValueError(
        f"{path}: unknown gene annotation format {suffix!r}; expected .gtf, .bed, .tsv, "
        ".txt, .tab or .csv (optionally .gz)"
    )


def _read_gtf(path: Path) -> pd.DataFrame:
    # Header lines ("##description: …") have no tabs: they come out as rows with
    # an empty feature column and are dropped. comment="#" would also cut
    # attribute values that contain '#'.
    table = pd.read_csv(
        path, sep="\t", header=None, names=_GTF_COLUMNS, dtype={"chrom": str}, quoting=3
    )
    table = table[table["feature"].notna() & ~table["chrom"].str.startswith("#")]
    genes = table[table["feature"] == "gene"]
    attributes = genes if len(genes) else table
    found = {}
    for key, column in _GTF_ATTRIBUTES.items():
        values = attributes["attr"].str.extract(rf'(?:^|;)\s*{key} "([^"]*)"', expand=False)
        if values.notna().any() and column not in found:
            found[column] = values
    if "gene_id" not in found:
        raise ValueError(f"{path}: no gene_id attribute in the GTF's column 9")
    parsed = attributes[["chrom", "start", "end", "strand"]].assign(**found)
    parsed["start"] = pd.to_numeric(parsed["start"], errors="coerce")
    parsed["end"] = pd.to_numeric(parsed["end"], errors="coerce")
    if not len(genes):
        # No gene lines: a gene spans all its transcripts and exons.
        aggregations = {"chrom": "first", "start": "min", "end": "max", "strand": "first"}
        aggregations.update({c: "first" for c in found if c != "gene_id"})
        parsed = parsed.groupby("gene_id", sort=False).agg(aggregations).reset_index()
    parsed["tss"] = np.where(parsed["strand"] == "-", parsed["end"], parsed["start"])
    return parsed.drop(columns=["start", "end"])


def _read_bed(path: Path) -> pd.DataFrame:
    table = pd.read_csv(
        path, sep="\t", header=None, dtype={0: str, 3: str}, skiprows=_bed_header_lines(path)
    )
    if table.shape[1] < 6:
        raise ValueError(
            f"{path}: a BED of genes needs 6 columns ({', '.join(_BED_COLUMNS)}) with the "
            f"strand in column 6, found {table.shape[1]}"
        )
    table = table.iloc[:, :6].set_axis(list(_BED_COLUMNS), axis=1)
    start = pd.to_numeric(table["start"], errors="coerce")
    end = pd.to_numeric(table["end"], errors="coerce")
    # BED starts are 0-based and ends exclusive: the first base is start + 1.
    tss = np.where(table["strand"] == "-", end, start + 1)
    return pd.DataFrame(
        {"gene_id": table["name"], "chrom": table["chrom"], "tss": tss, "strand": table["strand"]}
    )


def _bed_header_lines(path: Path) -> int:
    """Leading ``track``, ``browser`` and ``#`` lines of a BED file."""
    with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as handle:
        for count, line in enumerate(handle):
            if not line.startswith(("track", "browser", "#")):
                return count
    return 0


def _checked(table: pd.DataFrame, what: str) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(
            f"{what}: missing columns {missing}; expected {list(REQUIRED)} "
            f"(found {list(table.columns)})"
        )
    ids = _gene_ids(table)
    tss = pd.to_numeric(table["tss"], errors="coerce").to_numpy(dtype=np.float64)
    no_tss = ~np.isfinite(tss)
    if no_tss.any():
        raise ValueError(
            f"{what}: {int(no_tss.sum())} genes have no TSS, e.g. {list(ids[no_tss][:5])}"
        )
    bad_tss = (tss != np.round(tss)) | (tss < 1)
    if bad_tss.any():
        raise ValueError(
            f"{what}: TSS must be whole 1-based positions ≥ 1; {int(bad_tss.sum())} genes "
            f"have others, e.g. {dict(zip(ids[bad_tss][:5], tss[bad_tss][:5], strict=True))}"
        )
    strand = table["strand"].astype(str).str.strip().to_numpy()
    bad_strand = ~np.isin(strand, ["+", "-"])
    if bad_strand.any():
        raise ValueError(
            f"{what}: strand must be '+' or '-'; {int(bad_strand.sum())} genes have "
            f"{sorted(set(strand[bad_strand]))[:5]}, e.g. {list(ids[bad_strand][:5])}"
        )
    chrom = table["chrom"]
    no_chrom = chrom.isna().to_numpy() | (chrom.astype(str).str.strip() == "").to_numpy()
    if no_chrom.any():
        raise ValueError(
            f"{what}: {int(no_chrom.sum())} genes have no chromosome, "
            f"e.g. {list(ids[no_chrom][:5])}"
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
