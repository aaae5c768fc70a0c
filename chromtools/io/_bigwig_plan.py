"""Running the reads of ``ct.io.read_bigwigs``: its execution options, and the plan of
chunks (one cell type × a block of genes × all marks) read in this process, by
forked worker processes or on a dask cluster's workers.

Both readers hold the GIL, so parallel reading uses worker processes: forked
ones (Linux), or those of a dask.distributed cluster. Each reads whole
(track, block of genes) units and sends back float32 bins; this process
assembles the chunks.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import uuid
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypedDict

import dask.array as da
import numpy as np

from .._dask import resolve_client
from .._settings import settings
from .._utils import check_int, progress
from ._bigwig_tracks import Tracks
from ._bigwig_windows import _Block, _read_block
from .store import CHUNK_GENES

if TYPE_CHECKING:
    from distributed import Client


class Execution(TypedDict, total=False):
    """How ``ct.io.read_bigwigs`` runs, given as its keywords ``**execution``.

    None of them changes the numbers read; they set how much is read at once
    and where.
    """

    chunk_genes: int
    n_jobs: int | None
    client: Client | None


@dataclass(frozen=True)
class Run:
    """The checked :class:`Execution` options of one import."""

    chunk_genes: int
    n_jobs: int
    client: Client | None


def execution_options(options: Mapping[str, Any], step: str) -> Run:
    """Check the execution keywords of ``step``, refusing names it does not take."""
    accepted = list(Execution.__annotations__)
    unknown = [name for name in options if name not in accepted]
    if unknown:
        raise TypeError(
            f"{step}() got unexpected keyword arguments {unknown}; besides its named "
            f"parameters it takes the execution options {accepted}"
        )
    client = resolve_client(options.get("client"), step)
    chunk_genes = check_int(options.get("chunk_genes", CHUNK_GENES), "chunk_genes", minimum=1)
    n_jobs = options.get("n_jobs")
    n_jobs = check_int(settings.n_jobs if n_jobs is None else n_jobs, "n_jobs", minimum=1)
    return Run(chunk_genes=chunk_genes, n_jobs=n_jobs, client=client)


class _Plan:
    """What to read for each chunk (one cell type × a block of genes × all marks)."""

    def __init__(
        self,
        inputs: Tracks,
        *,
        window: tuple[int, int],
        bin_size: int,
        chunk_genes: int,
        reader: type,
    ) -> None:
        var, tracks, cell_types, marks = inputs.var, inputs.tracks, inputs.cell_types, inputs.marks
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
        self._bar = None

    def start_reading(self, n_jobs: int, client: Client | None) -> None:
        """Start reading: on the workers of ``client``, or on ``n_jobs`` forked reader
        processes (Linux), unless there is too little to read, else in this process.

        Not from a daemonic process (a worker of another pool), which may not
        have children.
        """
        self._bar = progress(total=self.n_reads, desc="reading bigWigs", unit="block")
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
        if self._bar is not None:
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
