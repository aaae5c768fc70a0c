"""Binned histone signal around TSSs from bigWig files (``ct.io.read_bigwigs``).

Each (cell type, mark) bigWig is read window by window: one window of
``window[1] - window[0]`` bp per gene, split into bins of ``bin_size`` bp whose
value is the mean signal over the bin (bases the bigWig does not cover count as
0). Windows follow the gene's strand, so bin 1 is always the most upstream bin.
The tensor is built one chunk (one cell type × a block of genes × all marks)
at a time (one per worker process with ``n_jobs`` > 1) and streamed into the
Zarr store, so memory does not grow with the number of tracks or genes.

pybigtools computes exact bin means in Rust from one call per window; both
readers hold the GIL, so parallel reading uses worker processes: forked ones
(Linux), or those of a dask.distributed cluster. Each reads whole (track, block
of genes) units, described by a picklable ``_Block``, and sends back float32
bins; this process assembles the chunks and writes the store.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import anndata as ad
import dask
import dask.array as da
import numpy as np
import pandas as pd
import pybigtools
import pyBigWig

from .._chromosomes import in_other_style, rename_code
from .._constants import GENOME_MEDIAN
from .._dask import resolve_client
from .._docs import SHARED, doc_params
from .._errors import FormatError
from .._settings import settings
from .._utils import (
    canonical_mark_order,
    check_int,
    check_marks,
    check_signal,
    check_window,
    progress,
)
from ._anndata import new_anndata
from ._expression import checked_counts, on_genes, read_expression
from ._formats import table_sep
from ._genes import read_genes
from ._parse import check_file, describe_lines, parse, read_lines
from .store import CHUNK_GENES, check_destination, read_zarr, write_zarr

if TYPE_CHECKING:
    from distributed import Client

PathLike = str | os.PathLike
TRACK_COLUMNS = ("cell_type", "mark", "path")


class _PyBigtoolsTrack:
    """pybigtools (Rust): exact bin means without a per-base array (the fast reader)."""

    def __init__(self, path: Path) -> None:
        self._file = pybigtools.open(str(path))

    def binned(self, chrom: str, start: int, end: int, out: np.ndarray) -> None:
        # exact=True: means from the raw data, not interpolated from zoom levels.
        self._file.values(
            chrom, start, end, bins=len(out), exact=True, uncovered=0.0, oob=0.0,
            fillna=None, arr=out,
        )  # fmt: skip

    def bases(self, chrom: str, start: int, end: int) -> np.ndarray:
        return self._file.values(chrom, start, end, uncovered=0.0, oob=0.0, fillna=None)

    def close(self) -> None:
        self._file.close()


class _PyBigWigTrack:
    """pyBigWig (libBigWig): per-base values averaged with numpy."""

    def __init__(self, path: Path) -> None:
        self._file = pyBigWig.open(str(path))
        if self._file is None:
            raise OSError(f"pyBigWig cannot open {path}")

    def binned(self, chrom: str, start: int, end: int, out: np.ndarray) -> None:
        values = self.bases(chrom, start, end)
        out[:] = values.reshape(len(out), -1).mean(axis=1, dtype=np.float64)

    def bases(self, chrom: str, start: int, end: int) -> np.ndarray:
        # Uncovered bases come back as NaN; NaN stored in the file is refused
        # earlier, from the file's summary, so every NaN here means "no data".
        return np.nan_to_num(self._file.values(chrom, start, end, numpy=True), nan=0.0)

    def close(self) -> None:
        self._file.close()


_READERS = {"pybigtools": _PyBigtoolsTrack, "pyBigWig": _PyBigWigTrack}


@dataclass
class _Track:
    cell_type: str
    mark: str
    path: Path
    chroms: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"bigWig track ({self.cell_type}, {self.mark}) {self.path}"


@doc_params(**SHARED)
def read_bigwigs(
    tracks: pd.DataFrame | PathLike | Sequence[tuple[str, str, PathLike]],
    genes: pd.DataFrame | PathLike,
    store: PathLike | None = None,
    *,
    window: tuple[int, int] = (-5000, 5000),
    bin_size: int = 100,
    reader: Literal["pybigtools", "pyBigWig"] = "pybigtools",
    genome: str | None = None,
    missing_chromosomes: Literal["error", "drop"] = "error",
    chunk_genes: int = CHUNK_GENES,
    n_jobs: int | None = None,
    overwrite: bool = True,
    expression: Mapping[str, PathLike | pd.Series] | None = None,
    client: Client | None = None,
) -> ad.AnnData:
    """Read binned histone signal around each gene's TSS from bigWig files.

    Every window is taken on the gene's strand: on ``-`` it is mirrored around
    the TSS and reversed, so bin 1 is always the most upstream bin and the bin
    starting at offset 0 starts at the TSS base. A bin's value is the mean
    signal over its bases, bases without bigWig data counting as 0; windows
    running off a chromosome end are padded with 0. All inputs are checked
    before anything is read or written.

    Parameters
    ----------
    tracks
        Table with columns ``cell_type``, ``mark``, ``path``: a DataFrame, a
        CSV/TSV file (``.csv`` comma-, otherwise tab-separated; relative paths
        are relative to the table's folder) or a list of ``(cell_type, mark,
        path)`` tuples. Cell types become ``obs`` in order of first
        appearance; marks are stored in chromtools' canonical order. A (cell
        type, mark) pair absent from the table is filled with NaN, with a
        warning.
    genes
        Gene annotation with chromosome, TSS and strand: anything
        :func:`chromtools.io.read_genes` reads (GTF, BED6, TSV/CSV, DataFrame).
    store
        Zarr store to stream the result into; ``None`` keeps it in memory.
    window
        ``(start, end)`` in bp relative to the TSS, upstream negative.
    bin_size
        Base pairs per bin; must divide the window.
    reader
        ``"pybigtools"`` (fast, the default) or ``"pyBigWig"``; both give the
        same numbers. Each file's header summary (NaN or negative values) is
        checked with pybigtools either way.
    genome
        Genome assembly, recorded in ``uns['chromtools']['genome']``.
    missing_chromosomes
        Genes on a chromosome that a bigWig does not have: ``"error"`` (the
        default) names them; ``"drop"`` leaves them out, with a warning.
    chunk_genes
        Genes per chunk: the signal is read and stored one cell type × this
        many genes at a time.
    n_jobs
        Worker processes reading tracks in parallel (default
        ``ct.settings.n_jobs``). On Linux they are forked, so they start in
        milliseconds without re-importing anything; elsewhere, and with
        ``n_jobs=1``, tracks are read in this process. Not used with a
        dask client: its workers read.
    overwrite
        Replace an existing ``store``; otherwise raise ``FileExistsError``.
    expression
        ``{{cell type: table}}``: RNA-seq of some cell types of ``tracks``, each a
        path read by :func:`chromtools.io.read_expression` (Roadmap format) or
        a Series of counts by gene id, attached as
        :func:`chromtools.pp.add_expression` does (genes matched by id). For
        tables in other shapes, call ``ct.pp.add_expression`` afterwards.
    client
        {client}
        The cluster's workers read the bigWigs (they need the same paths and
        chromtools installed); this process assembles the chunks and writes
        ``store``.

    Returns
    -------
    AnnData with ``obs`` = cell types, ``var`` = genes (``chrom``, ``tss``,
    ``strand``, ``gene_name`` and other annotation columns),
    ``obsm['histone']`` float32 of shape (cell types, genes, marks, bins),
    ``X`` all NaN (no expression) unless ``expression`` gives some: then
    ``X`` = log2(count + 1), ``layers['counts']``, ``layers['label']`` (the
    papers' rule) and ``obs['expression_median']`` (over the whole table),
    NaN for the other cell types; and ``uns['chromtools']`` (``marks``,
    ``bin_size``, ``window``, ``genome``, ``var_names``). With ``store``, the
    object read back lazily from the store (dask arrays); the store is written
    to a temporary path and renamed, so a failed import leaves an existing
    store intact. Raises ``FileNotFoundError`` for missing files and
    ``ValueError`` naming the track or genes for unknown marks, a window that
    is not a multiple of ``bin_size``, chromosome names that do not match
    (``chr1`` vs ``1``), missing chromosomes, TSSs beyond a chromosome end,
    and NaN or negative signal. A damaged, truncated or misnamed bigWig and a
    malformed tracks table (rows without a cell type, mark or path, repeated
    pairs, ragged rows) are a ``FormatError`` or ``ValueError`` naming the
    file and the track or line.
    """
    if reader not in _READERS:
        raise ValueError(f"reader must be one of {list(_READERS)}, got {reader!r}")
    if missing_chromosomes not in ("error", "drop"):
        raise ValueError(
            f"missing_chromosomes must be 'error' or 'drop', got {missing_chromosomes!r}"
        )
    client = resolve_client(client, "read_bigwigs")
    chunk_genes = check_int(chunk_genes, "chunk_genes", minimum=1)
    n_jobs = check_int(settings.n_jobs if n_jobs is None else n_jobs, "n_jobs", minimum=1)
    bin_size = check_int(bin_size, "bin_size", minimum=1)
    window = check_window(window, bin_size)
    if store is not None:  # refuse a destination that is not ours before reading anything
        check_destination(store, overwrite=overwrite, kind="store")
    table, what = _read_tracks(tracks)
    marks = canonical_mark_order(check_marks(pd.unique(table["mark"]), f"{what} marks"))
    var = read_genes(genes)
    tracks_list = [
        _Track(row.cell_type, row.mark, row.path) for row in table.itertuples(index=False)
    ]
    for track in tracks_list:
        _check_track(track)
    var = _genes_on_tracks(var, tracks_list, missing_chromosomes)
    cell_types = list(pd.unique(table["cell_type"]))
    _warn_missing_pairs(table, cell_types, marks, what)
    tables = _expression_tables(expression, cell_types)
    slots = _expression_slots(tables, var, cell_types)

    plan = _Plan(
        var=var,
        tracks=tracks_list,
        cell_types=cell_types,
        marks=marks,
        window=window,
        bin_size=int(bin_size),
        chunk_genes=chunk_genes,
        reader=_READERS[reader],
    )
    try:
        histone = plan.lazy()
        plan.start_workers(n_jobs, client)
        # Chunks in flight at once: one per worker process, or one when reading
        # in this process (both readers hold the GIL, so threads only contend).
        # The chunks' tasks hold the progress bar and the workers, so they run
        # on threads here even with a client; the reads they submit run on its
        # workers.
        with dask.config.set(num_workers=max(1, plan.n_workers)):
            in_memory = store is None
            adata = new_anndata(
                obs_names=cell_types,
                var=var,
                histone=histone.compute(scheduler="threads") if in_memory else histone,
                marks=marks,
                bin_size=bin_size,
                window=window,
                genome=genome,
                X=slots.pop("X", None)
                if in_memory or tables
                else da.full(
                    (len(cell_types), len(var)), np.nan, dtype=np.float32, chunks=(1, chunk_genes)
                ),
                **slots,
            )
            if in_memory:
                return adata
            write_zarr(adata, store, chunk_genes=chunk_genes, overwrite=overwrite)
    finally:
        plan.close()
    return read_zarr(store)


def _read_tracks(
    tracks: pd.DataFrame | PathLike | Sequence[tuple[str, str, PathLike]],
) -> tuple[pd.DataFrame, str]:
    """The tracks table with resolved paths, checked for columns, repeats and files."""
    base, line_numbers = None, None
    if isinstance(tracks, pd.DataFrame):
        what, table = "tracks DataFrame", tracks.copy()
    elif isinstance(tracks, (str, os.PathLike)):
        path = check_file(tracks, "tracks")
        what, base = str(path), path.parent
        lines = read_lines(path, "tracks", table_sep(path))
        table = parse(lines, text=TRACK_COLUMNS)
        line_numbers = lines.numbers[1:]
    elif isinstance(tracks, Iterable):
        what = "tracks list"
        rows = list(tracks)
        if any(
            not isinstance(row, Sequence) or isinstance(row, str) or len(row) != 3 for row in rows
        ):
            raise ValueError(f"{what}: every track must be a (cell_type, mark, path) tuple")
        table = pd.DataFrame([tuple(row) for row in rows], columns=list(TRACK_COLUMNS))
    else:
        raise TypeError(
            "tracks must be a DataFrame, the path of a CSV/TSV table or a list of "
            f"(cell_type, mark, path) tuples, got {type(tracks).__name__}"
        )
    # Rows of a file are a malformed file; rows of a DataFrame or list a bad argument.
    error = ValueError if line_numbers is None else FormatError
    missing = [c for c in TRACK_COLUMNS if c not in table.columns]
    if missing:
        raise error(
            f"{what}: missing columns {missing}; expected {list(TRACK_COLUMNS)} "
            f"(found {list(table.columns)})"
        )
    if not len(table):
        raise error(f"{what}: no tracks")
    table = table[list(TRACK_COLUMNS)].reset_index(drop=True)
    for column in TRACK_COLUMNS:
        table[column] = _track_field(table[column], column, what, line_numbers)
    paths = [Path(p) for p in table["path"]]
    table["path"] = [p if base is None or p.is_absolute() else base / p for p in paths]
    repeated = table[table.duplicated(["cell_type", "mark"], keep=False)]
    if len(repeated):
        pairs = sorted(set(zip(repeated["cell_type"], repeated["mark"], strict=True)))
        where = (
            "" if line_numbers is None else f" (on {describe_lines(line_numbers[repeated.index])})"
        )
        raise error(f"{what}: (cell type, mark) pairs listed more than once: {pairs}{where}")
    folders = [str(p) for p in table["path"] if p.is_dir()]
    if folders:
        raise ValueError(f"{what}: these bigWig paths are folders, not files: {folders[:5]}")
    absent = [
        f"{path} ({cell_type}, {mark})"
        for cell_type, mark, path in table.itertuples(index=False)
        if not path.is_file()
    ]
    if absent:
        raise FileNotFoundError(f"{what}: bigWig files not found: {absent}")
    return table, what


def _track_field(
    values: pd.Series, column: str, what: str, line_numbers: np.ndarray | None
) -> pd.Series:
    """A column of the tracks table as stripped text, refusing empty or missing cells."""
    missing = values.isna().to_numpy()
    text = values.where(~missing, "").astype(str).str.strip()
    empty = missing | (text == "").to_numpy()
    if empty.any():
        index = np.flatnonzero(empty)
        where = (
            f"rows {index[:5].tolist()}"
            if line_numbers is None
            else describe_lines(line_numbers[index])
        )
        raise (ValueError if line_numbers is None else FormatError)(
            f"{what}: {int(empty.sum())} tracks have no {column} (on {where}); every track "
            "needs a cell_type, a mark and a path"
        )
    return text


def _expression_tables(
    expression: Mapping[str, PathLike | pd.Series] | None, cell_types: list[str]
) -> dict[str, pd.Series]:
    """``{cell type: counts}``, every table read and checked before any bigWig is."""
    if expression is None:
        return {}
    if not isinstance(expression, Mapping) or not expression:
        raise ValueError(
            "read_bigwigs: expression must be a non-empty {cell type: table} mapping, got "
            f"{expression!r}"
        )
    unknown = [c for c in expression if c not in cell_types]
    if unknown:
        raise ValueError(
            f"read_bigwigs: expression names cell types {unknown} that have no tracks; the "
            f"tracks' cell types are {cell_types}"
        )
    what = "read_bigwigs expression"
    return {
        cell: checked_counts(table, f"{what}[{cell!r}]")
        if isinstance(table, pd.Series)
        else read_expression(table)
        for cell, table in expression.items()
    }


def _expression_slots(
    tables: dict[str, pd.Series], var: pd.DataFrame, cell_types: list[str]
) -> dict:
    """``X``, ``layers`` and ``obs`` of the expression tables on the genes ``var``."""
    if not tables:
        return {}
    shape = (len(cell_types), len(var))
    X = np.full(shape, np.nan, dtype=np.float32)
    counts, label = X.copy(), X.copy()
    medians = np.full(len(cell_types), np.nan)
    for cell, table in tables.items():
        row = cell_types.index(cell)
        found = on_genes(table, var.index, f"read_bigwigs expression[{cell!r}]")
        if len(found.missing):
            warnings.warn(
                f"read_bigwigs: {len(found.missing)} of the {len(var)} genes are not in "
                f"{cell}'s expression table (e.g. {list(found.missing[:3])}); left NaN",
                UserWarning,
                stacklevel=4,
            )
        X[row], counts[row], label[row] = found.values, found.counts, found.label
        medians[row] = found.median
    return {
        "X": X,
        "layers": {"counts": counts, "label": label},
        "obs": pd.DataFrame({GENOME_MEDIAN: medians}),
    }


def _check_track(track: _Track) -> None:
    """Open a bigWig, record its chromosomes, refuse NaN or negative signal."""
    try:
        with pybigtools.open(str(track.path)) as bigwig:
            is_bigwig = bigwig.is_bigwig
            if is_bigwig:
                summary = bigwig.info()["summary"]
                track.chroms = {str(name): int(size) for name, size in bigwig.chroms().items()}
    except PermissionError:
        raise PermissionError(f"{track}: no permission to read the file") from None
    except (pybigtools.BBIReadError, OSError, ValueError, KeyError) as error:
        # pybigtools refuses a damaged or header-only file with BBIReadError and
        # a name without a bigWig suffix with ValueError.
        raise FormatError(f"{track}: not a readable bigWig file ({error})") from None
    if not is_bigwig:
        raise FormatError(f"{track}: the file is a bigBed, not a bigWig")
    # The header summary covers every value in the file, so a track of
    # log-ratios or z-scores is refused before any window is read.
    if summary["basesCovered"] and not np.isfinite(summary["sum"]):
        raise ValueError(f"{track}: the signal contains NaN or infinite values")
    if summary["basesCovered"] and summary["min"] < 0:
        raise ValueError(
            f"{track}: the signal has negative values (min {summary['min']:g}); histone "
            "signal must be non-negative coverage or read counts, not log-ratios or z-scores"
        )


def _genes_on_tracks(var: pd.DataFrame, tracks: list[_Track], policy: str) -> pd.DataFrame:
    """Check every gene's chromosome is in every bigWig; drop or refuse the others."""
    gene_chroms = pd.unique(var["chrom"])
    keep = np.ones(len(var), dtype=bool)
    for track in tracks:
        absent = [c for c in gene_chroms if c not in track.chroms]
        if not absent:
            continue
        renamed = in_other_style(absent, track.chroms)
        if renamed:
            fix = rename_code(renamed[0], "genes['chrom']")
            raise ValueError(
                f"{track}: chromosome names do not match the genes': the bigWig names them "
                f"{list(track.chroms)[:3]}, the genes {renamed[:3]}. Rename the genes' "
                f"chromosomes to the bigWig's style, e.g. genes = ct.io.read_genes(...); {fix}"
            )
        on_absent = var["chrom"].isin(absent).to_numpy()
        if policy == "error":
            raise ValueError(
                f"{track}: has no chromosome {absent[:10]}, on which {int(on_absent.sum())} "
                f"genes lie (e.g. {list(var.index[on_absent][:5])}); remove these genes or "
                "pass missing_chromosomes='drop'"
            )
        keep &= ~on_absent
    if not keep.all():
        dropped = var[~keep]
        warnings.warn(
            f"read_bigwigs: left out {len(dropped)} genes on chromosomes missing from some "
            f"bigWigs: {sorted(pd.unique(dropped['chrom']))[:10]}",
            UserWarning,
            stacklevel=3,
        )
        var = var[keep]
    if not len(var):
        raise ValueError("read_bigwigs: no gene lies on a chromosome that every bigWig has")
    for track in tracks:
        lengths = var["chrom"].map(track.chroms).to_numpy()
        beyond = var["tss"].to_numpy() > lengths
        if beyond.any():
            raise ValueError(
                f"{track}: {int(beyond.sum())} genes have their TSS beyond the chromosome's "
                f"end (e.g. {list(var.index[beyond][:5])}); are the genes annotated on the "
                "same genome assembly as the bigWig?"
            )
    return var


def _warn_missing_pairs(
    table: pd.DataFrame, cell_types: list[str], marks: list[str], what: str
) -> None:
    present = set(zip(table["cell_type"], table["mark"], strict=True))
    missing = [(c, m) for c in cell_types for m in marks if (c, m) not in present]
    if missing:
        warnings.warn(
            f"{what}: no bigWig for {len(missing)} (cell type, mark) pairs {missing[:10]}; "
            "their signal is NaN in obsm['histone']",
            UserWarning,
            stacklevel=3,
        )


@dataclass(frozen=True)
class _Block:
    """One read: a track's windows for one block of genes.

    Plain data, so a worker process (forked, or of a dask cluster) can be sent
    it; the worker opens the file itself.
    """

    track: str  # the track described, for errors
    path: Path
    reader: type
    chrom: np.ndarray  # per gene: chromosome name
    start: np.ndarray  # 0-based first base of the window, in genome order
    length: np.ndarray  # length of the gene's chromosome in this bigWig
    minus: np.ndarray  # on the "-" strand
    span: int
    n_bins: int


def _read_block(block: _Block) -> np.ndarray:
    """One track's windows for one block of genes: (genes, bins) float32, upstream first."""
    # A handle per read: pybigtools caches the blocks it decompressed, so a
    # handle kept open per track would hold memory growing with the tracks.
    try:
        handle = block.reader(block.path)
        try:
            signal = _windows(handle, block)
        finally:
            handle.close()
    except (pybigtools.BBIReadError, RuntimeError, OSError) as error:
        # A file whose header is intact but whose data are truncated or
        # damaged fails only here, when its blocks are read.
        raise FormatError(f"{block.track}: damaged bigWig data ({error})") from None
    signal[block.minus] = signal[block.minus, ::-1]
    check_signal(signal, block.track)
    return signal.astype(np.float32)


def _windows(handle, block: _Block) -> np.ndarray:
    """Bin means of the block's genes in genome order (not yet strand-flipped)."""
    ends = block.start + block.span
    inside = (block.start >= 0) & (ends <= block.length)
    signal = np.empty((len(block.start), block.n_bins), dtype=np.float64)
    rows = np.flatnonzero(inside)
    for row, chrom, start, end in zip(
        rows.tolist(),
        block.chrom[rows].tolist(),
        block.start[rows].tolist(),
        ends[rows].tolist(),
        strict=True,
    ):
        handle.binned(chrom, start, end, signal[row])
    for row in np.flatnonzero(~inside).tolist():
        signal[row] = _padded(handle, block, row)
    return signal


def _padded(handle, block: _Block, row: int) -> np.ndarray:
    """Bin means of a window running off a chromosome end, padded with 0."""
    start, length = int(block.start[row]), int(block.length[row])
    values = np.zeros(block.span, dtype=np.float64)
    inner_start, inner_end = max(start, 0), min(start + block.span, length)
    if inner_end > inner_start:
        values[inner_start - start : inner_end - start] = handle.bases(
            block.chrom[row], inner_start, inner_end
        )
    return values.reshape(block.n_bins, -1).mean(axis=1)


class _Plan:
    """What to read for each chunk (one cell type × a block of genes × all marks)."""

    def __init__(
        self,
        *,
        var: pd.DataFrame,
        tracks: list[_Track],
        cell_types: list[str],
        marks: list[str],
        window: tuple[int, int],
        bin_size: int,
        chunk_genes: int,
        reader: type,
    ) -> None:
        self.n_genes = len(var)
        self.n_bins = (window[1] - window[0]) // bin_size
        self.n_marks = len(marks)
        self.chunk_genes = chunk_genes
        self.reader = reader
        self.tracks = tracks
        self.chrom = var["chrom"].to_numpy(dtype=object)
        self.minus = (var["strand"] == "-").to_numpy()
        # 0-based first base of each window in genome order; on "-" offset r
        # from the TSS is base (tss - 1) - r, so the window is mirrored.
        tss0 = var["tss"].to_numpy(dtype=np.int64) - 1
        self.start = np.where(self.minus, tss0 - window[1] + 1, tss0 + window[0])
        self.span = window[1] - window[0]
        self.tracks_of = {
            i: [(marks.index(t.mark), k) for k, t in enumerate(tracks) if t.cell_type == cell]
            for i, cell in enumerate(cell_types)
        }
        self.n_cell_types = len(cell_types)
        self.n_reads = len(tracks) * -(-self.n_genes // chunk_genes)  # (track, gene block)
        self.n_workers = 0
        self._pool: ProcessPoolExecutor | None = None
        # Sends a _Block to a worker process, returning a future of its bins.
        self._submit: Callable[[_Block], Future] | None = None
        self._bar = progress(
            total=self.n_reads,
            desc="reading bigWigs",
            unit="block",
        )

    def start_workers(self, n_jobs: int, client: Client | None) -> None:
        """Read on the workers of ``client``, or fork ``n_jobs`` reader processes
        (Linux), unless there is too little to read.

        Not from a daemonic process (a worker of another pool), which may not
        have children.
        """
        if client is not None:
            # pure=False: a rerun reads the files again (they may have changed).
            self._submit = partial(client.submit, _read_block, pure=False)
            self.n_workers = max(1, sum(client.nthreads().values()))
            return
        n_workers = min(n_jobs, self.n_reads)
        if n_workers < 2 or not sys.platform.startswith("linux") or mp.current_process().daemon:
            return
        with warnings.catch_warnings():
            self._pool = ProcessPoolExecutor(n_workers, mp_context=mp.get_context("fork"))
            # Python ≥ 3.12 warns about fork in a process with threads; the
            # workers only read bigWigs and touch no lock another thread holds.
            warnings.filterwarnings("ignore", ".*fork.*", DeprecationWarning)
            # Fork every worker now, from this thread, before dask starts threads.
            self._pool.submit(int).result()
        self._submit = partial(self._pool.submit, _read_block)
        self.n_workers = n_workers

    def lazy(self) -> da.Array:
        """The (cell types, genes, marks, bins) tensor as a dask array of chunks."""
        gene_blocks = tuple(
            min(self.chunk_genes, self.n_genes - g)
            for g in range(0, self.n_genes, self.chunk_genes)
        )
        return da.map_blocks(
            self._chunk,
            chunks=((1,) * self.n_cell_types, gene_blocks, (self.n_marks,), (self.n_bins,)),
            dtype=np.float32,
            meta=np.empty((0, 0, 0, 0), dtype=np.float32),
            name=f"read_bigwigs-{uuid.uuid4().hex}",
        )

    def close(self) -> None:
        self._bar.close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _chunk(self, block_info: dict | None = None) -> np.ndarray:
        cell, block = block_info[None]["chunk-location"][:2]
        first = block * self.chunk_genes
        last = min(first + self.chunk_genes, self.n_genes)
        chunk = np.full((1, last - first, self.n_marks, self.n_bins), np.nan, dtype=np.float32)
        marks = [mark for mark, _ in self.tracks_of[cell]]
        blocks = [self.block(track, block) for _, track in self.tracks_of[cell]]
        if self._submit is None:
            signals = map(_read_block, blocks)
        else:
            # All marks of the chunk at once; one chunk per worker is in flight.
            futures = [self._submit(b) for b in blocks]
            signals = (future.result() for future in futures)
        for mark, signal in zip(marks, signals, strict=True):
            chunk[0, :, mark] = signal
            self._bar.update(1)
        return chunk

    def block(self, track_index: int, block: int) -> _Block:
        """The read of one track's windows for one block of genes."""
        track = self.tracks[track_index]
        genes = slice(block * self.chunk_genes, min((block + 1) * self.chunk_genes, self.n_genes))
        chrom = self.chrom[genes]
        return _Block(
            track=str(track),
            path=track.path,
            reader=self.reader,
            chrom=chrom,
            start=self.start[genes],
            length=np.array([track.chroms[c] for c in chrom], dtype=np.int64),
            minus=self.minus[genes],
            span=self.span,
            n_bins=self.n_bins,
        )
