"""Reading a chromtools Zarr store, lazily, checked against its manifest."""

from __future__ import annotations

import os
from pathlib import Path

import anndata as ad
import dask.array as da
import numpy as np
import zarr
from anndata.experimental import read_elem_lazy
from anndata.io import read_elem

from ..._errors import StoreError
from ._atomic import STORE_MANIFEST, check_readable
from ._manifest import _manifest, restore
from ._verify import _incomplete, _problems


class _SameStore:
    """Checked after each chunk is read: the store is still the one that was opened.

    A lazy object holds no lock. If another write replaces the store, chunks
    read later would come from the new store under the old object's
    metadata and pending transforms; the manifest of a replaced store is a
    new file, so one ``stat`` per chunk notices.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity = self._identity()

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = (self.path / STORE_MANIFEST).stat()
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if self._identity() != self.identity:
            raise StoreError(
                f"the store {self.path} was replaced by another write after this object was "
                "read from it; read it again with ct.io.read_zarr"
            )
        return block


def _lazy(element: zarr.Array | zarr.Group, same: _SameStore | None):
    array = read_elem_lazy(element)
    if same is None or not isinstance(array, da.Array):
        return array
    return array.map_blocks(same, dtype=array.dtype, meta=array._meta)


def _open(path: Path, lazy: bool) -> ad.AnnData:
    if not lazy:
        return ad.read_zarr(path)
    root = zarr.open_group(path, mode="r")
    same = _SameStore(path) if (path / STORE_MANIFEST).exists() else None

    def lazy_dict(slot: str) -> dict:
        if slot not in root:
            return {}
        return {key: _lazy(root[slot][key], same) for key in root[slot]}

    return ad.AnnData(
        X=_lazy(root["X"], same) if "X" in root else None,
        obs=read_elem(root["obs"]),
        var=read_elem(root["var"]),
        uns=read_elem(root["uns"]) if "uns" in root else {},
        layers=lazy_dict("layers"),
        obsm=lazy_dict("obsm"),
        varm=lazy_dict("varm"),
    )


# A read that finds the store replaced (by write_zarr or an append) starts again.
_READ_ATTEMPTS = 10


def read_zarr(path: str | os.PathLike, *, lazy: bool = True) -> ad.AnnData:
    """Read a chromtools Zarr store.

    Before reading, the store is checked against the manifest written with
    it: a missing or truncated file (a chunk, a group such as ``obs``) is an
    error naming the pieces, never zeros or empty names. A store replaced by
    another process while it is read is read again.

    Parameters
    ----------
    path
        Store written by :func:`write_zarr` (or any anndata Zarr store, which
        has no manifest and so is read unchecked).
    lazy
        Keep ``X``, ``layers``, ``obsm`` and ``varm`` as dask arrays over the
        store's chunks (the default); ``obs``, ``var`` and ``uns`` are small and
        always loaded. Call ``.to_memory()`` on the result to load everything.

    Returns
    -------
    The AnnData, backed lazily by the store when ``lazy=True``. Lists and
    tuples in ``uns`` come back as lists and tuples, and text columns with
    missing values (``var['chrom']`` of a gene without a chromosome) as text
    with NaN, not the string ``'nan'`` anndata alone would give.

    Raises
    ------
    FileNotFoundError
        Nothing is at ``path``.
    chromtools.StoreError
        ``path`` is not a Zarr store, or the store is incomplete or damaged.
    """
    if not isinstance(lazy, bool):
        raise ValueError(f"lazy must be True or False, got {lazy!r}")
    path = check_readable(path, "store")
    for _ in range(_READ_ATTEMPTS):
        manifest = _manifest(path)
        problems = [] if manifest is None else _problems(path, manifest, checksums=False)
        failure = None
        if not problems:
            try:
                adata = _open(path, lazy)
            except (KeyError, ValueError, TypeError, OSError) as error:
                failure = error
        now = _manifest(path)
        if manifest is None or now is None or now["write_id"] == manifest["write_id"]:
            break  # not replaced while it was checked and read
    else:
        raise StoreError(
            f"the store {path} was replaced by other writes {_READ_ATTEMPTS} times while it was "
            "read; read it again when they are done"
        )
    if problems:
        raise _incomplete(path, problems)
    if failure is not None:
        raise StoreError(
            f"the store {path} could not be read ({type(failure).__name__}: {failure}); "
            "ct.io.verify(path) checks it in full"
        ) from failure
    if manifest is not None:
        restore(adata, manifest)
    return adata
