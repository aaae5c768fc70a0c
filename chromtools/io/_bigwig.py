"""Binned histone signal around TSSs from bigWig files (``ct.io.read_bigwigs``).

Each (cell type, mark) bigWig is read window by window: one window of
``window[1] - window[0]`` bp per gene, split into bins of ``bin_size`` bp whose
value is the mean signal over the bin (bases the bigWig does not cover count as
0). Windows follow the gene's strand, so bin 1 is always the most upstream bin.
The tensor is built one chunk (one cell type × a block of genes × all marks)
at a time (one per worker process with ``n_jobs`` > 1) and streamed into the
Zarr store, so memory does not grow with the number of tracks or genes.

This module checks the arguments and assembles the object; the tracks and
genes are checked in ``_bigwig_tracks``, windows read in ``_bigwig_windows``
and the chunks run (here, on forked workers or a dask cluster) in
``_bigwig_plan``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Literal

import anndata as ad
import dask
import dask.array as da
import numpy as np
import pandas as pd

from .._docs import SHARED, doc_params
from .._utils import check_int, check_window
from ._anndata import new_anndata
from ._attach import attach_expression
from ._bigwig_plan import _Plan, execution_options
from ._bigwig_tracks import Tracks, tracks_on_genes
from ._bigwig_windows import _READERS
from ._expression import checked_counts, read_expression
from .store import check_destination, read_zarr, write_zarr

PathLike = str | os.PathLike


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
    overwrite: bool = True,
    expression: Mapping[str, PathLike | pd.Series] | None = None,
    **execution: object,
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
    overwrite
        Replace an existing ``store``; otherwise raise ``FileExistsError``.
    expression
        ``{{cell type: table}}``: RNA-seq of some cell types of ``tracks``, each a
        path read by :func:`chromtools.io.read_expression` (Roadmap format) or
        a Series of counts by gene id, attached as
        :func:`chromtools.pp.add_expression` does (genes matched by id). For
        tables in other shapes, call ``ct.pp.add_expression`` afterwards.
    **execution
        How the import runs, never what it reads: the keywords
        ``chunk_genes``, ``n_jobs`` and ``client`` (e.g. ``n_jobs=4``),
        described under Other Parameters. They are one group, checked
        together; any other keyword is refused with a ``TypeError`` naming
        the accepted ones.

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

    Other Parameters
    ----------------
    chunk_genes
        Genes per chunk: the signal is read and stored one cell type × this
        many genes at a time.
    n_jobs
        Worker processes reading tracks in parallel (default
        ``ct.settings.n_jobs``). On Linux they are forked, so they start in
        milliseconds without re-importing anything; elsewhere, and with
        ``n_jobs=1``, tracks are read in this process. Not used with a
        dask client: its workers read.
    client
        {client}
        The cluster's workers read the bigWigs (they need the same paths and
        chromtools installed); this process assembles the chunks and writes
        ``store``.
    """
    if reader not in _READERS:
        raise ValueError(f"reader must be one of {list(_READERS)}, got {reader!r}")
    if missing_chromosomes not in ("error", "drop"):
        raise ValueError(
            f"missing_chromosomes must be 'error' or 'drop', got {missing_chromosomes!r}"
        )
    run = execution_options(execution, "read_bigwigs")
    bin_size = check_int(bin_size, "bin_size", minimum=1)
    window = check_window(window, bin_size)
    if store is not None:  # refuse a destination that is not ours before reading anything
        check_destination(store, overwrite=overwrite, kind="store")
    inputs = tracks_on_genes(tracks, genes, missing_chromosomes)
    tables = _expression_tables(expression, inputs.cell_types)
    plan = _Plan(
        inputs,
        window=window,
        bin_size=bin_size,
        chunk_genes=run.chunk_genes,
        reader=_READERS[reader],
    )
    try:
        # Every input, expression included, is checked before a bigWig is read.
        adata = _new_object(
            inputs,
            plan.lazy(),
            tables,
            window=window,
            bin_size=bin_size,
            genome=genome,
            nan_chunks=None if store is None or tables else run.chunk_genes,
        )
        plan.start_reading(run.n_jobs, run.client)
        # Chunks in flight at once: one per worker process, or one when reading
        # in this process (both readers hold the GIL, so threads only contend).
        # The chunks' tasks hold the progress bar and the workers, so they run
        # on threads here even with a client; the reads they submit run on its
        # workers.
        with dask.config.set(num_workers=max(1, plan.n_workers)):
            if store is None:
                adata.obsm["histone"] = adata.obsm["histone"].compute(scheduler="threads")
                return adata
            write_zarr(adata, store, chunk_genes=run.chunk_genes, overwrite=overwrite)
    finally:
        plan.close()
    return read_zarr(store)


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


def _new_object(
    inputs: Tracks,
    histone: da.Array,
    tables: dict[str, pd.Series],
    *,
    window: tuple[int, int],
    bin_size: int,
    genome: str | None,
    nan_chunks: int | None,
) -> ad.AnnData:
    """The object of the import, its signal still lazy, with the expression ``tables``
    attached; with ``nan_chunks``, ``X`` is a lazy all-NaN array in chunks of that many
    genes (an object bound for a store, without expression)."""
    X = None
    if nan_chunks is not None:
        shape = (len(inputs.cell_types), len(inputs.var))
        X = da.full(shape, np.nan, dtype=np.float32, chunks=(1, nan_chunks))
    adata = new_anndata(
        obs_names=inputs.cell_types,
        var=inputs.var,
        histone=histone,
        marks=inputs.marks,
        bin_size=bin_size,
        window=window,
        genome=genome,
        X=X,
    )
    attach_expression(
        adata,
        tables,
        what="read_bigwigs expression[{cell!r}]",
        missing="read_bigwigs: {n_missing} of the {n_genes} genes are not in {cell}'s "
        "expression table (e.g. {examples}); left NaN",
    )
    return adata
