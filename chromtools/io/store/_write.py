"""Writing an AnnData to a chunked Zarr store, atomically, with its manifest."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import anndata as ad
import dask.array as da
import numpy as np
import zarr
from anndata._io.specs.registry import IORegistryError
from anndata.io import write_elem

from ..._utils import check_int, dask_progress
from ._atomic import atomic_write, check_destination
from ._gate import writing
from ._manifest import _frame_writable, _sequence_types, _writable, _write_manifest
from ._read import _lazy, _SameStore

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
def _unwritable(path: Path) -> Iterator[None]:
    """anndata's refusal of an element it cannot encode, as a ValueError naming it."""
    try:
        yield
    except IORegistryError as error:
        detail = " ".join(" ".join([str(error), *getattr(error, "__notes__", [])]).split())
        raise ValueError(f"adata cannot be written to {path}: {detail}") from None
    except ValueError as error:
        if "inhomogeneous" not in str(error):
            raise
        raise ValueError(
            f"adata cannot be written to {path}: an uns entry is a ragged list ({error}); "
            "store it as a list of equal-length lists or as a DataFrame"
        ) from None


def _check_keys(mapping, where: str) -> None:
    """Zarr nests groups by ``/``: a key holding one cannot be written or read back."""
    for key, value in mapping.items():
        if not isinstance(key, str) or not key or "/" in key or key in (".", ".."):
            raise ValueError(
                f"{where}[{key!r}] cannot be written: Zarr needs keys that are non-empty "
                "strings without '/'; rename it (e.g. replace '/' with '_')"
            )
        if isinstance(value, dict):
            _check_keys(value, f"{where}[{key!r}]")


def _check_names(adata: ad.AnnData) -> None:
    _check_keys(adata.uns, "uns")
    for slot in ("layers", "obsm", "varm", "obsp", "varp"):
        _check_keys(getattr(adata, slot), slot)
    for frame in ("obs", "var"):
        _check_keys({str(c): None for c in getattr(adata, frame).columns}, f"{frame}.columns")


def _zarr_sources(array) -> set[Path]:
    """Folders of the Zarr stores a dask array reads from."""
    if not isinstance(array, da.Array):
        return set()
    sources = set()
    for value in array.__dask_graph__().values():
        if isinstance(value, zarr.Array) and getattr(value.store, "root", None) is not None:
            sources.add(Path(value.store.root).resolve())
    return sources


def _lazy_slots(adata: ad.AnnData) -> Iterator[tuple[str, str | None, object]]:
    yield "X", None, adata.X
    for slot in ("layers", "obsm", "varm"):
        for key, value in getattr(adata, slot).items():
            yield slot, key, value


def _reading(adata: ad.AnnData, path: Path) -> list[tuple[str, str | None]]:
    """The arrays of ``adata`` that read lazily from the store at ``path``, which the
    write replaces; refused for a view, whose parent would keep reading the old store."""
    target = path.resolve()
    reading_target = [
        (slot, key) for slot, key, value in _lazy_slots(adata) if target in _zarr_sources(value)
    ]
    if reading_target and adata.is_view:
        raise ValueError(
            f"this object is a view of data read lazily from {path}, which the write would "
            "replace under its parent; write adata.copy() there, or write to another path"
        )
    return reading_target


def _rebind(adata: ad.AnnData, path: Path, slots: list[tuple[str, str | None]]) -> None:
    """Point arrays that read the replaced store at the new one.

    They read ``path`` lazily, with their pending transforms (e.g. a
    normalisation) on top; the new store holds the transformed values, so
    reading it through the same graph would apply the transform twice.
    """
    root = zarr.open_group(path, mode="r")
    same = _SameStore(path)
    for slot, key in slots:
        array = _lazy(root[slot] if key is None else root[slot][key], same)
        if key is None:
            adata.X = array
        else:
            getattr(adata, slot)[key] = array


def _write_elements(root: zarr.Group, adata: ad.AnnData, chunk_genes: int) -> dict[str, list[str]]:
    """Every element of ``adata`` into ``root``, in anndata's encoding; returns the text
    columns made categorical (see :func:`~chromtools.io.store._manifest._frame_writable`)."""
    root.attrs.update({"encoding-type": "anndata", "encoding-version": "0.1.0"})
    text: dict[str, list[str]] = {}
    write_elem(root, "obs", _frame_writable(adata.obs, "obs", text))
    write_elem(root, "var", _frame_writable(adata.var, "var", text))
    write_elem(root, "uns", _writable(adata.uns, text))
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
    return text


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
    The store is written to a temporary sibling and switched into place in
    one atomic step, so a failed, interrupted or killed write leaves any
    previous store at ``path`` intact. Only a Zarr store (or an empty folder)
    is ever replaced: a regular file or a folder of other files is refused.
    The store records every file it holds (a manifest with sizes and
    checksums), so :func:`read_zarr` refuses a store with a missing or
    truncated piece and :func:`verify` checks it in full. If ``adata`` reads
    lazily from ``path`` itself, its arrays are pointed at the new store
    afterwards, so pending transforms are not applied twice.

    Parameters
    ----------
    adata
        The object to write.
    path
        Directory of the Zarr store (conventionally ending in ``.zarr``).
    chunk_genes
        Genes (or regions) per chunk.
    overwrite
        Replace an existing store at ``path``; otherwise raise ``FileExistsError``
        (also when another process creates ``path`` while this one writes).

    Returns
    -------
    ``None``; the store at ``path`` holds ``obs``, ``var``, ``uns``, ``X``,
    ``layers``, ``obsm`` and ``varm`` in anndata's Zarr encoding, plus
    ``chromtools-manifest.json``.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false.
    ValueError
        ``path`` holds something that is not a Zarr store; a key cannot be
        stored in Zarr (it contains ``/``); ``chunk_genes`` is not a positive
        integer.
    """
    if not isinstance(adata, ad.AnnData):
        raise TypeError(f"adata must be an AnnData, got {type(adata).__name__}")
    chunk_genes = check_int(chunk_genes, "chunk_genes", minimum=1)
    _check_names(adata)
    path = check_destination(path, overwrite=overwrite, kind="store")
    reading_target = _reading(adata, path)
    uns_types = _sequence_types(adata.uns)
    with (
        atomic_write(path, overwrite=overwrite, kind="store") as tmp,
        _unwritable(path),
        writing(tmp) as store,
    ):
        root = zarr.open_group(store, mode="w", zarr_format=ad.settings.zarr_write_format)
        text = _write_elements(root, adata, chunk_genes)
        zarr.consolidate_metadata(store)
        _write_manifest(tmp, uns_types, text)
    if reading_target:
        _rebind(adata, path, reading_target)
