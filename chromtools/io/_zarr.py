"""Chunked, atomic Zarr storage of a chromtools AnnData and its lazy reading."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import anndata as ad
import dask.array as da
import numpy as np
import zarr
from anndata.experimental import read_elem_lazy
from anndata.io import read_elem, write_elem

from .._utils import dask_progress

# Genes per chunk along the gene axis of every array: one chunk of histone
# signal for 1,024 genes × 5 marks × 100 bins is 2 MB of float32.
CHUNK_GENES = 1024


def _chunks(shape: tuple[int, ...], gene_axis: int, chunk_genes: int) -> tuple[int, ...]:
    """One cell type (or gene) per chunk on axis 0, a block of genes on ``gene_axis``."""
    chunks = list(shape)
    if gene_axis == 1:
        chunks[0] = 1
    chunks[gene_axis] = max(1, min(chunk_genes, shape[gene_axis]))
    return tuple(max(1, c) for c in chunks)


def _write_array(group: zarr.Group, key: str, array, chunks: tuple[int, ...]) -> None:
    if isinstance(array, da.Array):
        array = array.rechunk(chunks)
        with dask_progress(f"writing {key}"):
            write_elem(group, key, array, dataset_kwargs={"chunks": chunks})
    else:
        write_elem(group, key, np.asarray(array), dataset_kwargs={"chunks": chunks})


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` that replaces ``path`` only on success.

    If the body raises (or is interrupted), the temporary store is removed and
    an existing store at ``path`` is left exactly as it was.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    backup = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    if path.exists():
        os.rename(path, backup)
    try:
        os.rename(tmp, path)
    except BaseException:
        if backup.exists():
            os.rename(backup, path)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def write_zarr(
    adata: ad.AnnData,
    path: str | os.PathLike,
    *,
    chunk_genes: int = CHUNK_GENES,
    overwrite: bool = True,
) -> None:
    """Write ``adata`` to a chunked Zarr store, atomically.

    Histone signal and other 4-D ``obsm`` arrays are chunked one cell type ×
    ``chunk_genes`` genes × all marks × all bins, ``X`` and ``layers`` one cell
    type × ``chunk_genes``, ``varm`` (one-hot DNA) ``chunk_genes`` regions.
    Lazy (dask) arrays are streamed chunk by chunk, never held whole in memory.
    The store is written to a temporary path and renamed into place, so a
    failed or interrupted write leaves any previous store at ``path`` intact.

    Parameters
    ----------
    adata
        The object to write.
    path
        Directory of the Zarr store (conventionally ending in ``.zarr``).
    chunk_genes
        Genes (or regions) per chunk.
    overwrite
        Replace an existing store at ``path``; otherwise raise ``FileExistsError``.

    Returns
    -------
    ``None``; the store at ``path`` holds ``obs``, ``var``, ``uns``, ``X``,
    ``layers``, ``obsm`` and ``varm`` in anndata's Zarr encoding.
    """
    if chunk_genes < 1:
        raise ValueError(f"chunk_genes must be a positive integer, got {chunk_genes}")
    with atomic_path(path, overwrite=overwrite) as tmp:
        root = zarr.open_group(tmp, mode="w", zarr_format=ad.settings.zarr_write_format)
        root.attrs.update({"encoding-type": "anndata", "encoding-version": "0.1.0"})
        write_elem(root, "obs", adata.obs)
        write_elem(root, "var", adata.var)
        write_elem(root, "uns", dict(adata.uns))
        for key in ("obsp", "varp"):
            write_elem(root, key, dict(getattr(adata, key)))
        if adata.X is not None:
            _write_array(root, "X", adata.X, _chunks(adata.X.shape, 1, chunk_genes))
        for slot, gene_axis in (("layers", 1), ("obsm", 1), ("varm", 0)):
            write_elem(root, slot, {})
            for key, value in getattr(adata, slot).items():
                if slot == "obsm" and getattr(value, "ndim", 2) < 3:
                    # 2-D embeddings (e.g. a PCA of cell types) are not per gene
                    write_elem(root[slot], key, value)
                    continue
                _write_array(root[slot], key, value, _chunks(value.shape, gene_axis, chunk_genes))
        zarr.consolidate_metadata(tmp)


def read_zarr(path: str | os.PathLike, *, lazy: bool = True) -> ad.AnnData:
    """Read a chromtools Zarr store.

    Parameters
    ----------
    path
        Store written by :func:`write_zarr` (or any anndata Zarr store).
    lazy
        Keep ``X``, ``layers``, ``obsm`` and ``varm`` as dask arrays over the
        store's chunks (the default); ``obs``, ``var`` and ``uns`` are small and
        always loaded. Call ``.to_memory()`` on the result to load everything.

    Returns
    -------
    The AnnData, backed lazily by the store when ``lazy=True``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no Zarr store at {path}")
    if not lazy:
        return ad.read_zarr(path)
    root = zarr.open_group(path, mode="r")

    def lazy_dict(slot: str) -> dict:
        if slot not in root:
            return {}
        return {key: read_elem_lazy(root[slot][key]) for key in root[slot]}

    return ad.AnnData(
        X=read_elem_lazy(root["X"]) if "X" in root else None,
        obs=read_elem(root["obs"]),
        var=read_elem(root["var"]),
        uns=read_elem(root["uns"]) if "uns" in root else {},
        layers=lazy_dict("layers"),
        obsm=lazy_dict("obsm"),
        varm=lazy_dict("varm"),
    )
