"""The one data loader: batches of (cell type, gene) samples from AnnData or Zarr.

A sample is a gene (or region) together with one cell type, or with several
cell types for paired models (DeepDiff reads the same gene in cell types A
and B). Its input is the histone signal ``ct.get.histone(adata)[cell, gene]``
or the one-hot sequence ``ct.get.onehot(adata)[gene]``.

Two ways of feeding the model, chosen by size:

* arrays in memory, and lazy arrays whose used cell types fit in
  ``ct.settings.memory_budget``: batches are gathered from memory (a lazy
  array is loaded once, block by block into one buffer, and shared by every
  loader over the same inputs: training, validation and prediction);
* otherwise batches stream from the store's chunks. A *unit* is one chunk's
  worth of samples: the samples of one cell type (or one pair) in one gene
  block. Units come in a random order and samples are shuffled inside a
  window of ``window_blocks`` units, so each chunk is read once per epoch and
  at most a window of chunks is in memory.

:class:`Batches` is a :class:`torch.utils.data.IterableDataset`: it shards
its units (or samples, in memory) by distributed rank and data-loader worker,
and a background thread prepares the next batches while the model computes.
The order of an epoch depends only on ``seed`` and the epoch number, so every
rank draws the same permutation and takes its own part of it, and a resumed
run continues the order of an uninterrupted one. A last batch that would hold
one sample alone joins the batch before it: BatchNorm cannot train on one.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import numpy as np
import torch

from ..._settings import check_seed, settings
from ..._utils import check_int
from ._inputs import Inputs

Batch = tuple[torch.Tensor, torch.Tensor | None, np.ndarray]
# Inputs and sample positions of a batch, before it becomes tensors.
Piece = tuple[np.ndarray, np.ndarray]


class Batches(torch.utils.data.IterableDataset):
    """Iterable of ``(x, y, rows)`` batches over a fixed set of samples.

    Parameters
    ----------
    inputs
        The aligned input array.
    cells
        (samples, k) positions along ``obs`` of each sample's cell types; k = 1
        for single-cell-type models, 2 for paired ones.
    genes
        (samples,) positions along ``var``.
    target
        (samples,) or (samples, t) float32 targets, or None for prediction.
    batch_size, shuffle, seed
        Batching; epoch ``e`` is shuffled by a generator seeded with
        ``(seed, e)``.
    memory_budget
        Lazy inputs of the used cell types up to this many bytes are loaded
        into memory; larger ones stream. Default ``ct.settings.memory_budget``.
    window_blocks
        Units (chunks) whose samples are shuffled together when streaming.
    rank, world_size
        This process's shard of the units (distributed training): the same
        permutation on every rank, every ``world_size``-th unit from ``rank``.
    prefetch
        Batches prepared ahead on a background thread (0: none).

    ``x`` is a float32 tensor of shape (batch, *sample_shape) for k = 1 or
    (batch, k, *sample_shape) for k > 1; ``rows`` are the sample positions.
    Batches hold ``batch_size`` samples but the last of a pass (of each
    shard): fewer, or ``batch_size + 1`` where one sample would be left alone
    (BatchNorm cannot train on a batch of one; with ``batch_size=1`` every
    batch is one sample, as asked).
    In a :class:`~torch.utils.data.DataLoader` (``batch_size=None``), workers
    split the units further; start them with
    ``multiprocessing_context="spawn"`` (a forked copy of a process that has
    read a Zarr store can hang on the store's I/O threads) and call
    :meth:`set_epoch` before each epoch. After each pass,
    :attr:`wait_seconds` is the time the consumer waited for a batch and
    :attr:`load_seconds` the time spent reading the store. With
    :attr:`pin_memory` set, batches come in page-locked memory (for a GPU).
    """

    def __init__(
        self,
        inputs: Inputs,
        cells: np.ndarray,
        genes: np.ndarray,
        target: np.ndarray | None = None,
        *,
        batch_size: int = 128,
        shuffle: bool = False,
        seed: int = 0,
        memory_budget: int | None = None,
        window_blocks: int = 16,
        rank: int = 0,
        world_size: int = 1,
        prefetch: int = 4,
    ) -> None:
        self.inputs = inputs
        cells = np.asarray(cells, dtype=np.int64)
        # (samples,) for one cell type per sample; kept 2-D so that an empty set works too
        self.cells = cells[:, None] if cells.ndim == 1 else cells
        self.genes = np.asarray(genes, dtype=np.int64)
        self.target = None if target is None else np.asarray(target, dtype=np.float32)
        if len(self.cells) != len(self.genes) or (
            self.target is not None and len(self.target) != len(self.genes)
        ):
            raise ValueError(
                f"Batches: {len(self.genes)} genes, {len(self.cells)} cell-type rows and "
                f"{'no' if self.target is None else len(self.target)} targets; one of each "
                "per sample"
            )
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.shuffle = shuffle
        self.seed = check_seed(seed)
        self.window_blocks = check_int(window_blocks, "window_blocks", minimum=1)
        self.world_size = check_int(world_size, "world_size", minimum=1)
        self.rank = check_int(rank, "rank", minimum=0)
        if self.rank >= self.world_size:
            raise ValueError(f"rank must be below world_size={world_size}, got {rank}")
        self.prefetch = check_int(prefetch, "prefetch", minimum=0)
        self.epoch = 0
        # set by the training engine for a CUDA device
        self.pin_memory = False
        self.wait_seconds = 0.0
        self.load_seconds = 0.0
        self._used_cells = np.unique(self.cells) if inputs.per_cell else np.zeros(1, np.int64)
        budget = settings.memory_budget if memory_budget is None else memory_budget
        # Arrays already in memory are gathered from as they are; lazy ones are
        # loaded when they fit, unless each rank is to read only its own shard.
        self.in_memory = not inputs.lazy or (
            world_size == 1 and inputs.nbytes(len(self._used_cells)) <= budget
        )

    @classmethod
    def from_arrays(
        cls,
        x: np.ndarray | torch.Tensor,
        target: np.ndarray | torch.Tensor | None = None,
        **options,
    ) -> Batches:
        """Batches over plain samples: ``x[i]`` is sample ``i``'s input, ``target[i]`` its target.

        Parameters
        ----------
        x
            (samples, ...) inputs.
        target
            (samples,) or (samples, t) targets; None for prediction.
        **options
            Any keyword of :class:`Batches` (``batch_size``, ``shuffle``, ``seed`` …).

        Returns
        -------
        The loader :func:`~chromtools.functional.train` and
        :func:`~chromtools.functional.predict_batches` read.
        """
        if isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        if isinstance(target, torch.Tensor):
            target = target.detach().cpu().numpy()
        x = np.asarray(x, dtype=np.float32)
        samples = np.arange(len(x))
        return cls(Inputs(x, per_cell=False), np.zeros_like(samples), samples, target, **options)

    def __len__(self) -> int:
        """Batches of one unsharded pass (a lone last sample joins the batch before)."""
        n, size = len(self.genes), self.batch_size
        return -(-n // size) - int(size > 1 and n > size and n % size == 1)

    @property
    def n_samples(self) -> int:
        return len(self.genes)

    def rng_state(self) -> dict:
        """Where the batch order stands (the next epoch), for a checkpoint."""
        return {"epoch": self.epoch}

    def set_rng_state(self, state: dict) -> None:
        """Continue the batch order from a :meth:`rng_state`."""
        self.epoch = int(state["epoch"])

    def set_epoch(self, epoch: int) -> None:
        """Draw the order of ``epoch`` next (as ``DistributedSampler.set_epoch``)."""
        self.epoch = check_int(epoch, "epoch", minimum=0)

    def __iter__(self) -> Iterator[Batch]:
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.shuffle:
            self.epoch += 1
        shard, n_shards = self.rank, self.world_size
        worker = torch.utils.data.get_worker_info()
        if worker is not None:
            shard, n_shards = shard * worker.num_workers + worker.id, n_shards * worker.num_workers
        self.wait_seconds = self.load_seconds = 0.0
        if self.in_memory:
            pieces = self._from_memory(rng, shard, n_shards)
        else:
            pieces = self._from_units(rng, shard, n_shards)
        batches = (self._batch(x, rows) for x, rows in self._no_lone_sample(pieces))
        if self.prefetch == 0 or worker is not None:
            yield from batches
        else:
            yield from self._prefetched(batches)

    def _prefetched(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """``batches`` produced on a background thread, up to ``prefetch`` ahead."""
        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()
        done = object()

        def produce() -> None:
            try:
                for item in batches:
                    while not stop.is_set():
                        try:
                            ready.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                ready.put(done)
            except BaseException as error:  # handed to the consumer, raised there
                ready.put(error)

        thread = threading.Thread(target=produce, name="chromtools-loader", daemon=True)
        thread.start()
        try:
            while True:
                started = time.perf_counter()
                item = ready.get()
                self.wait_seconds += time.perf_counter() - started
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            thread.join()

    def _no_lone_sample(self, pieces: Iterator[Piece]) -> Iterator[Piece]:
        """``pieces`` with one that holds a single sample joined to the one before.

        Only the last piece of a pass is short, so this merges a last batch of
        one (257 samples at batch 256: one batch of 257). The samples keep their
        order, so an epoch's batches still depend only on (seed, epoch) and the
        shard: a resumed run draws those of an uninterrupted one, each sample once.
        """
        held = None
        for x, rows in pieces:
            if held is not None and len(rows) == 1 and self.batch_size > 1:
                held = (np.concatenate([held[0], x]), np.concatenate([held[1], rows]))
                continue
            if held is not None:
                yield held
            held = (x, rows)
        if held is not None:
            yield held

    def _order(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.permutation(n) if self.shuffle else np.arange(n)

    def _batch(self, x: np.ndarray, rows: np.ndarray) -> Batch:
        x = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        y = None if self.target is None else torch.from_numpy(self.target[rows])
        if self.pin_memory:  # page-locked on the loader thread: the copy to the GPU overlaps
            x, y = x.pin_memory(), None if y is None else y.pin_memory()
        return x, y, rows

    def _gather(self, data: np.ndarray, slots: np.ndarray, rows: np.ndarray, offset: int = 0):
        """Inputs of ``rows`` from ``data`` (cell slots × genes from ``offset``)."""
        if self.inputs.per_cell:
            cell_slot = np.searchsorted(slots, self.cells[rows])
        else:
            cell_slot = np.zeros_like(self.cells[rows])
        x = data[cell_slot, (self.genes[rows] - offset)[:, None]]
        return x[:, 0] if x.shape[1] == 1 else x

    def _from_memory(self, rng, shard: int, n_shards: int) -> Iterator[Piece]:
        if self.inputs.lazy:
            started = time.perf_counter()
            data, slots = self.inputs.resident(self._used_cells)
            self.load_seconds += time.perf_counter() - started
        elif self.inputs.per_cell:
            data, slots = self.inputs.array, np.arange(self.inputs.array.shape[0])
        else:
            data, slots = self.inputs.array[None], np.zeros(1, np.int64)
        order = self._order(rng, len(self.genes))[shard::n_shards]
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            yield self._gather(data, slots, rows), rows

    def units(self) -> list[tuple[np.ndarray, int, int, np.ndarray]]:
        """(cells, gene start, gene end, sample rows) of each chunk's worth of samples."""
        blocks = self.inputs.blocks()
        edges = np.array([b[0] for b in blocks] + [blocks[-1][1]])
        block_of = np.searchsorted(edges, self.genes, side="right") - 1
        cells = self.cells if self.inputs.per_cell else np.zeros((len(self.genes), 1), np.int64)
        keys, inverse = np.unique(
            np.column_stack([block_of, np.sort(cells, axis=1)]), axis=0, return_inverse=True
        )
        members = np.argsort(inverse.ravel(), kind="stable")
        bounds = np.searchsorted(inverse.ravel()[members], np.arange(len(keys) + 1))
        return [
            (np.unique(key[1:]), *blocks[key[0]], members[a:b])
            for key, a, b in zip(keys, bounds[:-1], bounds[1:], strict=True)
        ]

    def _from_units(self, rng, shard: int, n_shards: int) -> Iterator[Piece]:
        if not self.n_samples:
            return
        units = self.units()
        unit_order = self._order(rng, len(units))[shard::n_shards]
        pending_x, pending_rows = [], []
        for first in range(0, len(unit_order), self.window_blocks):
            window = [units[u] for u in unit_order[first : first + self.window_blocks]]
            started = time.perf_counter()
            loaded = self.inputs.load_units([unit[:3] for unit in window])
            self.load_seconds += time.perf_counter() - started
            for (unit_cells, start, _, rows), data in zip(window, loaded, strict=True):
                pending_x.append(self._gather(data, unit_cells, rows, offset=start))
                pending_rows.append(rows)
            x, rows = np.concatenate(pending_x), np.concatenate(pending_rows)
            order = self._order(rng, len(rows))
            last_window = first + self.window_blocks >= len(unit_order)
            n_full = len(order) if last_window else len(order) // self.batch_size * self.batch_size
            for start in range(0, n_full, self.batch_size):
                pick = order[start : start + self.batch_size]
                yield x[pick], rows[pick]
            rest = order[n_full:]
            pending_x, pending_rows = ([x[rest]], [rows[rest]]) if len(rest) else ([], [])
