"""What a model reads: :class:`Inputs`, the aligned input array of a set of samples.

Its ``histone`` and ``onehot`` constructors are the one bridge from an
AnnData. Inputs read the store chunk by chunk (:meth:`Inputs.load_units`: a
window of chunks in one dask pass) or, when the used cell types fit in
memory, load them once into one buffer (:meth:`Inputs.resident`) that every
loader over the same array shares, training, validation and prediction alike.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import dask
import dask.array as da
import numpy as np
import torch
from anndata import AnnData

from ... import get
from ..._matching import matched_array, track_maps

# Gene block of in-memory arrays, for the same streaming code path when forced.
DEFAULT_BLOCK = 1024


# Buffers of lazy arrays loaded by any live Inputs, by (dask name, cell positions):
# a prediction right after training (``fit``) reads the training's buffer instead
# of loading a second copy. Held weakly: a buffer goes with the last Inputs using it.
_LOADED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def _loaded_elsewhere(array: da.Array) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Buffers other live inputs hold of the same lazy ``array`` (same dask name)."""
    return [(have, data) for (name, have), data in list(_LOADED.items()) if name == array.name]


@dataclass
class Inputs:
    """What a model reads: the aligned array and whether it has a cell-type axis.

    Lazy cell types loaded into memory are kept here, so that every loader
    over the same inputs shares one copy.

    Parameters
    ----------
    array
        (cell types, genes, ...) when ``per_cell``, else (genes, ...): one
        input per gene (or region, or plain sample), in memory or lazy (dask).
    per_cell
        Whether axis 0 is the cell type (histone signal) or not (DNA, plain
        samples).
    """

    array: np.ndarray | da.Array
    per_cell: bool
    _resident: dict[tuple[int, ...], np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def histone(cls, adata: AnnData, marks: list[str] | None = None) -> Inputs:
        return cls(get.histone(adata, marks=marks), per_cell=True)

    @classmethod
    def onehot(cls, adata: AnnData) -> Inputs:
        return cls(get.onehot(adata), per_cell=False)

    @property
    def lazy(self) -> bool:
        return isinstance(self.array, da.Array)

    @property
    def gene_axis(self) -> int:
        return 1 if self.per_cell else 0

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[self.gene_axis + 1 :])

    def nbytes(self, n_cells: int) -> int:
        """Bytes of ``n_cells`` cell types' inputs as float32."""
        n_genes = self.array.shape[self.gene_axis]
        return int(n_cells * n_genes * np.prod(self.sample_shape) * 4)

    def blocks(self) -> list[tuple[int, int]]:
        """Gene ranges that match the store's chunks (or fixed blocks in memory)."""
        n = self.array.shape[self.gene_axis]
        if self.lazy:
            edges = np.cumsum((0, *self.array.chunks[self.gene_axis]))
        else:
            edges = np.append(np.arange(0, n, DEFAULT_BLOCK), n)
        return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]

    def load(self, cells: np.ndarray, genes: slice) -> np.ndarray:
        """Materialise the inputs of ``cells`` (positions) × ``genes`` as float32."""
        return self.load_units([(cells, genes.start, genes.stop)])[0]

    def load_units(self, units: list[tuple[np.ndarray, int, int]]) -> list[np.ndarray]:
        """Inputs of several ``(cells, gene start, gene end)`` units, as float32.

        Lazy inputs are read in one dask pass, a plain slice per cell type:
        one scheduler call for a window of chunks instead of one per chunk.
        """
        if not self.lazy:
            return [np.asarray(self._part(c, a, b), np.float32) for c, a, b in units]
        parts = [
            [self._part(np.array([c]), start, end) for c in cells] if self.per_cell
            else [self._part(cells, start, end)]
            for cells, start, end in units
        ]  # fmt: skip
        # A data-loader worker is a forked copy of a process whose dask thread
        # pool may be mid-use: compute in the worker's own thread instead.
        in_worker = torch.utils.data.get_worker_info() is not None
        flat = dask.compute(
            *[p for unit in parts for p in unit], scheduler="synchronous" if in_worker else None
        )
        out, at = [], 0
        for unit in parts:
            chunk = flat[at : at + len(unit)]
            at += len(unit)
            out.append(
                np.asarray(chunk[0] if len(chunk) == 1 else np.concatenate(chunk), np.float32)
            )
        return out

    def _part(self, cells: np.ndarray, start: int, end: int):
        """``cells`` × genes ``start:end`` (a plain slice for one cell type)."""
        if not self.per_cell:
            return self.array[start:end][None]
        if len(cells) == 1:
            return self.array[int(cells[0]) : int(cells[0]) + 1, start:end]
        return self.array[cells][:, start:end]

    def resident(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inputs of ``cells`` (sorted positions) for every gene, loaded once and shared.

        Returns the float32 buffer (cell types, genes, ...) and the cell
        positions along its axis 0. A buffer already holding every one of
        ``cells`` is reused; otherwise the cells are read block by block into
        one new buffer (never a second copy of the whole).
        """
        for have, data in [*self._resident.items(), *_loaded_elsewhere(self.array)]:
            if np.isin(cells, have).all():
                self._resident[have] = data
                return data, np.asarray(have, dtype=np.int64)
        shape = (len(cells), self.array.shape[self.gene_axis], *self.sample_shape)
        data = np.empty(shape, dtype=np.float32)
        for start, end in self.blocks():
            data[:, start:end] = self.load(cells, slice(start, end))
        have = tuple(int(c) for c in cells)
        self._resident[have] = data
        _LOADED[self.array.name, have] = data
        return data, cells


def matched_inputs(inputs: Inputs, data_config: dict, rows: list[int], what: str) -> Inputs:
    """``inputs`` (histone, laid out by the model's ``data_config``: its marks along axis
    2) with the cell types at ``rows`` mapped onto the model's training distribution
    (``input_quantiles``: mark → quantiles), as ``ct.pp.match_signal`` maps them; the
    other rows as they are."""
    marks, reference = data_config.get("marks", []), data_config.get("input_quantiles")
    if reference is None:
        raise ValueError(
            f"{what}: match_input=True needs the distribution of the model's training signal, "
            "which this model does not record (a sequence model, or fitted before chromtools "
            "recorded it): fit it again with ct.tl.fit"
        )
    tables = {}
    for row in rows:
        maps = track_maps(inputs.array, row, marks, reference, what)
        tables.update({(row, position): table for position, table in (maps or {}).items()})
    return Inputs(matched_array(inputs.array, tables), per_cell=True)
