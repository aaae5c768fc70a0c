"""One data-access layer for the three kinds of object ``ct.tl`` reads.

An in-memory AnnData, a lazy one from ``ct.io.read_zarr`` (dask arrays) and
one from ``anndata.experimental.read_lazy`` (xarray/dask) hold the same data
in different containers. The arrays (``X``, ``layers``, ``obsm``, ``varm``)
stay lazy and are read chunk by chunk; the small parts that ``ct.tl`` reads as
metadata (``uns``, ``obs``, ``var``) are made concrete once, in place, by
:func:`concrete`, as ``ct.io.read_zarr`` reads them. :func:`values_at` reads
single entries of a lazy 2-D array without nd fancy indexing, which dask
does not support.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
from anndata import AnnData

from .._results import materialised


def _is_lazy(value: object) -> bool:
    """A value that ``read_lazy`` leaves unread: a dask array or an xarray container."""
    return isinstance(value, da.Array) or type(value).__module__.startswith(
        ("xarray.", "anndata._core.xarray")
    )


def _has_lazy(value: object) -> bool:
    if isinstance(value, MutableMapping):
        return any(_has_lazy(v) for v in value.values())
    return _is_lazy(value)


def _loaded(value: object) -> object:
    """``value`` with every lazy part read: arrays as numpy, tables as pandas, dicts as dicts."""
    if isinstance(value, MutableMapping):
        return {key: _loaded(v) for key, v in value.items()}
    if hasattr(value, "to_memory"):  # anndata's Dataset2D: a lazily read DataFrame
        frame = value.to_memory()
        if frame.index.name == "_index":  # anndata's on-disk name of an unnamed index
            frame.index.name = None
        return frame
    if isinstance(value, da.Array):
        return value.compute()
    if _is_lazy(value):  # an xarray DataArray
        return np.asarray(value)
    return value


def _store_of(value: object) -> Path | None:
    """The Zarr store a lazily read uns entry comes from, found through its dask graph."""
    if isinstance(value, MutableMapping):
        return next((p for p in map(_store_of, value.values()) if p is not None), None)
    if not isinstance(value, da.Array):
        return None
    for layer in value.dask.layers.values():
        for source in layer.values():
            root = getattr(getattr(source, "store", None), "root", None)
            if root is not None and hasattr(source, "shape"):
                return Path(root)
    return None


def concrete(adata: AnnData) -> AnnData:
    """``adata`` with ``uns``, ``obs`` and ``var`` read into memory, in place.

    Objects in memory and from ``ct.io.read_zarr`` are returned unchanged. For
    an object from ``anndata.experimental.read_lazy``, lazily read ``uns``
    values become numpy arrays and pandas tables, lists and tuples are
    restored as ``ct.io.read_zarr`` restores them (from the store's
    manifest), and ``obs``/``var`` become DataFrames. Arrays stay lazy.
    """
    lazy_uns = _has_lazy(dict(adata.uns))
    lazy_frames = not isinstance(adata.obs, pd.DataFrame) or not isinstance(adata.var, pd.DataFrame)
    if not lazy_uns and not lazy_frames:
        return adata
    # a view's uns and frames cannot be replaced; the arrays stay lazy
    materialised(adata)
    if lazy_frames:
        adata.obs = _loaded(adata.obs)
        adata.var = _loaded(adata.var)
    if lazy_uns:
        store = _store_of(dict(adata.uns))
        for key in list(adata.uns):
            if _has_lazy(adata.uns[key]):
                adata.uns[key] = _loaded(adata.uns[key])
        if store is not None:
            from ..io.store import restore_from_manifest

            restore_from_manifest(adata, store)
    return adata


def values_at(array, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``array[rows[i], columns[i]]`` of a 2-D array in memory or lazy.

    A lazy array is read only in the rows used and the span of columns used,
    by plain per-axis indexing (dask refuses nd fancy indexing).
    """
    rows = np.asarray(rows, dtype=np.int64)
    columns = np.asarray(columns, dtype=np.int64)
    if not isinstance(array, da.Array) and not hasattr(array, "toarray"):
        return np.asarray(array[rows, columns])
    if not len(rows):
        return np.empty(0, dtype=array.dtype)
    used, at = np.unique(rows, return_inverse=True)
    first, last = int(columns.min()), int(columns.max()) + 1
    part = array[used][:, first:last]
    part = part.compute() if isinstance(part, da.Array) else part
    part = np.asarray(part.toarray() if hasattr(part, "toarray") else part)
    return part[at, columns - first]
