"""Regions for sequence models (``ct.io.read_regions``): tables, name lists or FASTA of
regions, and their labels, read into a sequence AnnData.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ..._constants import META
from ..._errors import FormatError
from ..._utils import check_int
from .._anndata import check_var, new_anndata
from .._bed import read_bed
from .._formats import FORMATS, Format, Readers
from .._parse import check_file, parse, read_lines
from ._genome import genome_onehot, new_index_removed_on_error, windows
from ._onehot import with_padding
from ._records import REGION, fasta_onehot, is_fasta, parse_names


def _check_source(path: Path) -> Path:
    """The file of a source of regions, which must exist."""
    if not path.exists():
        # A lone "chr1:100-700" string is read as a path; say how to pass regions.
        hint = (
            f"; to read one region pass a list, [{str(path)!r}]" if REGION.match(str(path)) else ""
        )
        raise FileNotFoundError(f"regions: no such file {path}{hint}")
    return check_file(path, "regions")


REGION_TABLES = Readers("regions")
_SEQUENCES = f" (regions) or {', '.join(FORMATS['fasta'].suffixes)} (sequences)"


@REGION_TABLES.register("bed")
def _read_bed(path: Path, _: Format) -> tuple[pd.DataFrame, np.ndarray]:
    # Coordinates are checked by windows(), as for every other source of regions.
    table, lines = read_bed(path, "regions", "regions", named_by_header=True, numeric=())
    return table, lines.numbers


@REGION_TABLES.register("csv", "tsv")
def _read_region_table(path: Path, table_format: Format) -> tuple[pd.DataFrame, np.ndarray]:
    lines = read_lines(path, "regions", table_format.sep)
    return parse(lines, text=["chrom"]), lines.numbers[1:]


def _read_table(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """A region table and the line number of each of its rows."""
    return REGION_TABLES.read(_check_source(path), also=_SEQUENCES)


def _region_var(
    table: pd.DataFrame, what: str, labels: list[str], lines: np.ndarray | None = None
) -> pd.DataFrame:
    """var of regions, indexed ``chrom:start-end``; label columns are kept out.

    ``lines``: the file's line number of each row, named in errors.
    """
    missing = [c for c in ("chrom", "start", "end") if c not in table.columns]
    if missing:
        raise ValueError(
            f"{what}: missing columns {missing}; regions need chrom, start, end (0-based, "
            f"half-open as in BED), found {list(table.columns)}"
        )
    var = table.drop(columns=labels).reset_index(drop=True)
    var["chrom"] = var["chrom"].astype(str)
    if lines is not None:
        var.index = [f"line {n}" for n in lines]
    # windows() checks that start and end are whole numbers and end > start.
    try:
        windows(var[["chrom", "start", "end"]], 1, what)
    except ValueError as error:
        if lines is None:
            raise
        raise FormatError(str(error)) from None
    var["start"] = pd.to_numeric(var["start"]).astype(np.int64)
    var["end"] = pd.to_numeric(var["end"]).astype(np.int64)
    var.index = var["chrom"] + ":" + var["start"].astype(str) + "-" + var["end"].astype(str)
    return check_var(var, what)


def _label_values(table: pd.DataFrame, labels: list[str], what: str) -> np.ndarray:
    absent = [c for c in labels if c not in table.columns]
    if absent:
        raise KeyError(f"{what}: label columns {absent} are not among {list(table.columns)}")
    values = table[labels].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32).T
    given = table[labels].notna().to_numpy().T
    bad = (np.isnan(values) & given) | (~np.isin(values, [0, 1]) & ~np.isnan(values))
    if bad.any():
        examples = sorted({str(v) for v in table[labels].to_numpy().T[bad][:20]})[:5]
        raise ValueError(
            f"{what}: labels must be 1 (open), 0 (closed) or empty (unknown); columns "
            f"{labels} hold {examples}"
        )
    return values


def _table(source, what: str) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The region table of a source and, for a file, the line number of each row."""
    if isinstance(source, pd.DataFrame):
        return source.copy(), None
    if isinstance(source, (str, os.PathLike)):
        return _read_table(Path(source))
    if isinstance(source, (list, tuple, pd.Index, np.ndarray, pd.Series)):
        return parse_names([str(s) for s in source], what), None
    raise TypeError(
        f"{what} must be a BED/CSV/TSV/FASTA path, a DataFrame, a list of 'chr:start-end' "
        f"strings or a dict {{class: source}}, got {type(source).__name__}"
    )


def _source(
    source, fasta: str | os.PathLike | None, width: int, labels: list[str], what: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """``(var, onehot, label values or None)`` of one source of regions."""
    if is_fasta(source):
        if fasta is not None:
            raise ValueError(
                f"{what}: {source} is a FASTA of the regions themselves, so no genome is "
                f"needed; leave out fasta={fasta!r}"
            )
        if labels:
            raise ValueError(
                f"{what}: labels={labels} names table columns, but {source} is a FASTA; give "
                "classes as a dict {1: 'open.fa', 0: 'closed.fa'}"
            )
        table, onehot, lines, padded = fasta_onehot(Path(source), width)
        var = _region_var(table, f"{what}: {source}", [], lines)
        return with_padding(var, padded), onehot, None
    table, lines = _table(source, what)
    if lines is not None:
        what = f"{what}: {source}"
    values = _label_values(table, labels, what) if labels else None
    var = _region_var(table, what, labels, lines)
    if fasta is None:
        raise ValueError(
            f"{what}: regions given as coordinates need a genome FASTA to read their "
            "sequence: pass fasta='genome.fa'"
        )
    onehot, _, padded = genome_onehot(var, fasta, width, what)
    return with_padding(var, padded), onehot, values


def read_regions(
    regions: str | os.PathLike | pd.DataFrame | Sequence[str] | Mapping,
    fasta: str | os.PathLike | None = None,
    width: int = 600,
    *,
    labels: str | Sequence[str] | None = None,
    cell_type: str | Sequence[str] | None = None,
    genome: str | None = None,
) -> ad.AnnData:
    """Read regions and their one-hot DNA into a sequence AnnData.

    Every region is re-centred to ``width`` bp around its midpoint
    ``(start + end) // 2`` (the window starts ``width // 2`` before it) and
    read on its strand (``-`` reverse-complemented) when a ``strand`` column
    or a ``(-)`` suffix gives one. Bases are one-hot in A, C, G, T order;
    lowercase counts, ``N`` and other letters are all-zero rows, and so are
    the positions of a window beyond its chromosome's ends (or a short
    FASTA record's): padding, counted per region in ``var``. An all-zero
    row is no base, so :func:`~chromtools.tl.scan_motifs` finds no site over
    padding or ``N``.

    Parameters
    ----------
    regions
        Either coordinates, read with the genome ``fasta``:

        - a BED file (``.bed``; columns chrom, start, end, name, score,
          strand, or the names of a last ``#`` header line);
        - a table with a header (``.csv`` comma-, ``.tsv``/``.txt``/``.tab``
          tab-separated) or a DataFrame with columns ``chrom``, ``start``,
          ``end`` (0-based, half-open) and optionally ``strand``;
        - a list of ``"chr1:100-700"`` strings (0-based start, as BED);

        or a FASTA (``.fa``, ``.fasta``, ``.fna``, ``.fas``) whose records are
        the regions, named as ``bedtools getfasta`` writes them
        (``>chr1:100-700``, ``>chr1:100-700(-)``, ``>name::chr1:100-700``).
        A record is taken as it is (getfasta ``-s`` already
        reverse-complemented ``(-)`` records); one longer than ``width`` is
        cut to its central ``width`` bases, a shorter one padded with
        all-zero rows on both sides, so it matches the genome read of the
        same region. Files may be gzipped. Or a dict ``{class: source}``
        (e.g. ``{1: "open.fa", 0: "closed.fa"}``) of any of these: each
        source's regions get its class (1 open, 0 closed) as label.
    fasta
        Genome FASTA (plain or bgzipped, indexed by pyfaidx; the ``.fai`` is
        written next to it when missing) for regions given as coordinates;
        leave out for a FASTA of regions.
    width
        Length in bp of every sequence.
    labels
        Column name(s) of the table holding labels (1 open, 0 closed, empty
        unknown): one obs row per column, e.g. one per cell line.
    cell_type
        obs names: one per label column (the column names by default), or
        one name for a dict of classes or no labels (``"any"`` by default,
        the cell-type-agnostic target).
    genome
        Genome assembly, e.g. ``"hg38"``, recorded in ``uns['chromtools']``.

    Returns
    -------
    AnnData with ``obs`` = cell types (label columns, or ``cell_type``),
    ``var`` = regions indexed ``chrom:start-end`` with ``chrom``, ``start``,
    ``end`` (the regions as given, before re-centring), ``strand`` when known,
    other table columns, and ``n_padded_start`` and ``n_padded_end`` (int64:
    how many of the first and of the last bases of the window, as read, lie
    beyond the chromosome or record and are padding; 0 for most regions),
    ``varm['onehot']`` uint8 (regions, width, 4),
    ``layers['label']`` and ``X`` float32 labels (NaN where unknown), and
    ``uns['chromtools']`` with ``genome``, ``sequence_width`` and ``fasta``
    (the genome or the FASTA(s) read). Raises ``FileNotFoundError`` for a
    missing file, ``KeyError`` for unknown label columns and ``ValueError``
    for missing columns, repeated regions, labels other than 0/1,
    chromosome names the FASTA lacks (``chr1`` vs ``1``) or regions beyond
    a chromosome end; a malformed file (ragged rows, a FASTA record without
    a name or sequence, a repeated record, characters that are not bases, an
    unreadable genome FASTA) is a ``FormatError`` (a ``ValueError``) naming
    the file and the line or record.
    """
    width = check_int(width, "width", minimum=1)
    if isinstance(labels, str):
        labels = [labels]
    labels = [str(label) for label in labels] if labels is not None else []
    # Every file must exist before any is read (and a genome index written).
    sources = regions.values() if isinstance(regions, Mapping) else [regions]
    for source in sources:
        if isinstance(source, (str, os.PathLike)):
            _check_source(Path(source))
    if fasta is not None:
        check_file(fasta, "fasta")
    # A genome index written by this call is removed again if the call fails.
    with new_index_removed_on_error(fasta):
        if isinstance(regions, Mapping):
            if labels:
                raise ValueError(
                    "read_regions: labels come either from table columns (labels=) or from a "
                    "dict {class: source}, not both"
                )
            classes = pd.to_numeric(pd.Series(list(regions)), errors="coerce").tolist()
            for label, value in zip(regions, classes, strict=True):
                if value not in (0, 1):
                    raise ValueError(
                        f"read_regions: dict keys are classes 1 (open) or 0 (closed), got {label!r}"
                    )
            parts = []
            for (label, source), value in zip(regions.items(), classes, strict=True):
                var, onehot, _ = _source(source, fasta, width, [], f"regions[{label!r}]")
                parts.append((var, onehot, np.full((1, len(var)), value, dtype=np.float32)))
            var = check_var(pd.concat([p[0] for p in parts]), "regions (all classes)")
            onehot = np.concatenate([p[1] for p in parts])
            values = np.concatenate([p[2] for p in parts], axis=1)
            # Without a genome every source is a FASTA of regions: record their paths.
            read_from = {str(label): str(source) for label, source in regions.items()}
        else:
            var, onehot, values = _source(regions, fasta, width, labels, "regions")
            if values is None:
                values = np.full((1, len(var)), np.nan, dtype=np.float32)
            read_from = str(regions)
        names = labels or ["any"]
        if cell_type is not None:
            names = [cell_type] if isinstance(cell_type, str) else [str(c) for c in cell_type]
        if len(names) != values.shape[0]:
            raise ValueError(
                f"read_regions: cell_type gives {len(names)} names for {values.shape[0]} rows of "
                f"labels ({labels or 'one class per region'})"
            )
        adata = new_anndata(
            obs_names=names,
            var=var,
            genome=genome,
            X=values.copy(),
            layers={"label": values},
            varm={"onehot": onehot},
        )
        adata.uns[META].update(
            sequence_width=width, fasta=str(fasta) if fasta is not None else read_from
        )
        return adata
