"""The one data loader: batches of (cell type, gene) samples from AnnData or Zarr.

A sample is a gene (or region) together with one cell type, or with several
cell types for paired models (DeepDiff reads the same gene in cell types A
and B). Its input is the histone signal ``ct.get.histone(adata)[cell, gene]``
or the one-hot sequence ``ct.get.onehot(adata)[gene]``.

Two ways of feeding the model, chosen by size:

* the cell types' signal fits in ``memory_budget``: it is loaded once (one
  ``compute`` for a lazy store) and every batch is one fancy-indexing gather;
* otherwise batches stream from the store's gene blocks (its chunks): blocks
  come in a random order, and samples are shuffled inside a window of
  ``window_blocks`` blocks, so each chunk is read once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import dask.array as da
import numpy as np
import torch
from anndata import AnnData

from .. import get
from .._utils import check_int

# Signal of the selected cell types up to this size is loaded into memory once.
MEMORY_BUDGET = 2 * 1024**3
# Gene block of in-memory arrays, for the same streaming code path when forced.
DEFAULT_BLOCK = 1024


@dataclass
class Inputs:
    """What a model reads: the aligned array and whether it has a cell-type axis."""

    array: np.ndarray | da.Array
    per_cell: bool

    @classmethod
    def histone(cls, adata: AnnData, marks: list[str] | None = None) -> Inputs:
        return cls(get.histone(adata, marks=marks), per_cell=True)

    @classmethod
    def onehot(cls, adata: AnnData) -> Inputs:
        return cls(get.onehot(adata), per_cell=False)

    @property
    def gene_axis(self) -> int:
        return 1 if self.per_cell else 0

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[self.gene_axis + 1 :])

    def blocks(self) -> list[tuple[int, int]]:
        """Gene ranges that match the store's chunks (or fixed blocks in memory)."""
        n = self.array.shape[self.gene_axis]
        if isinstance(self.array, da.Array):
            edges = np.cumsum((0, *self.array.chunks[self.gene_axis]))
        else:
            edges = np.append(np.arange(0, n, DEFAULT_BLOCK), n)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]

    def load(self, cells: np.ndarray, genes: slice | np.ndarray) -> np.ndarray:
        """Materialise the inputs of ``cells`` (positions) × ``genes`` as float32."""
        if self.per_cell:
            part = self.array[cells][:, genes]
        else:
            part = self.array[genes][None]
        if isinstance(part, da.Array):
            part = part.compute()
        return np.asarray(part, dtype=np.float32)


class Batches:
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
        Batching; a new permutation each epoch from ``seed``.

    ``x`` is a float32 tensor of shape (batch, *sample_shape) for k = 1 or
    (batch, k, *sample_shape) for k > 1; ``rows`` are the sample positions.
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
        memory_budget: int = MEMORY_BUDGET,
        window_blocks: int = 8,
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
        self.window_blocks = check_int(window_blocks, "window_blocks", minimum=1)
        self._rng = np.random.default_rng(seed)
        self._used_cells = np.unique(self.cells) if inputs.per_cell else np.zeros(1, np.int64)
        size = len(self._used_cells) * np.prod(inputs.sample_shape) * 4
        size *= inputs.array.shape[inputs.gene_axis]
        self.in_memory = not isinstance(inputs.array, da.Array) or size <= memory_budget
        self._cache: np.ndarray | None = None

    def __len__(self) -> int:
        return -(-len(self.genes) // self.batch_size)

    def rng_state(self) -> dict:
        """The batch-order generator's state (plain ints), for a checkpoint."""
        return self._rng.bit_generator.state

    def set_rng_state(self, state: dict) -> None:
        """Continue the batch order from a :meth:`rng_state`."""
        self._rng.bit_generator.state = state

    @property
    def n_samples(self) -> int:
        return len(self.genes)

    def cached(self) -> np.ndarray:
        """Inputs of every used cell type, loaded once: (used cells, genes, ...)."""
        if self._cache is None:
            everything = slice(None)
            self._cache = self.inputs.load(self._used_cells, everything)
        return self._cache

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor | None, np.ndarray]]:
        if self.in_memory:
            yield from self._from_memory()
        else:
            yield from self._from_blocks()

    def _gather(self, data: np.ndarray, rows: np.ndarray, gene_offset: int = 0):
        cell_slot = (
            np.searchsorted(self._used_cells, self.cells[rows])
            if self.inputs.per_cell
            else (np.zeros_like(self.cells[rows]))
        )
        x = data[cell_slot, (self.genes[rows] - gene_offset)[:, None]]
        x = torch.from_numpy(x[:, 0] if x.shape[1] == 1 else x)
        y = None if self.target is None else torch.from_numpy(self.target[rows])
        return x, y, rows

    def _order(self, n: int) -> np.ndarray:
        return self._rng.permutation(n) if self.shuffle else np.arange(n)

    def _from_memory(self):
        data = self.cached()
        order = self._order(len(self.genes))
        for start in range(0, len(order), self.batch_size):
            yield self._gather(data, order[start : start + self.batch_size])

    def _from_blocks(self):
        blocks = self.inputs.blocks()
        edges = np.array([b[0] for b in blocks] + [blocks[-1][1]])
        block_of = np.searchsorted(edges, self.genes, side="right") - 1
        pending: list[tuple[torch.Tensor, torch.Tensor | None, np.ndarray]] = []
        block_order = self._order(len(blocks))
        for first in range(0, len(block_order), self.window_blocks):
            window = block_order[first : first + self.window_blocks]
            parts = []
            for b in window:
                rows = np.flatnonzero(block_of == b)
                if len(rows) == 0:
                    continue
                start, end = blocks[b]
                data = self.inputs.load(self._used_cells, slice(start, end))
                parts.append(self._gather(data, rows, gene_offset=start))
            if not parts:
                continue
            pending.extend(parts)
            x = torch.cat([p[0] for p in pending])
            y = None if self.target is None else torch.cat([p[1] for p in pending])
            rows = np.concatenate([p[2] for p in pending])
            order = self._order(len(rows))
            last_window = first + self.window_blocks >= len(block_order)
            n_full = len(order) if last_window else len(order) // self.batch_size * self.batch_size
            for start in range(0, n_full, self.batch_size):
                pick = order[start : start + self.batch_size]
                yield x[pick], None if y is None else y[pick], rows[pick]
            rest = order[n_full:]
            pending = [(x[rest], None if y is None else y[rest], rows[rest])] if len(rest) else []
