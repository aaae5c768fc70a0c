"""Adding cell types (rows of ``obs``) to a chromtools Zarr store without rewriting it.

Per-cell-type arrays (``X``, ``layers``, the 4-D ``obsm``) are chunked one cell
type per chunk, so the chunks of the cell types already stored stay valid
when rows are added. The appended store is built in the temporary sibling of
:func:`~chromtools.io.store._atomic.atomic_write`: every chunk file of the old store
is hard-linked into it (never written again: new rows get new chunk files),
the small metadata files are copied and updated, and only ``obs``, the new
rows' chunks and the manifest are written. The switch is the same atomic
exchange as every other write, so readers see the old or the new store whole.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import dask.array as da
import numpy as np
import pandas as pd
import zarr
from anndata.io import read_elem, write_elem
from zarr.storage import LocalStore

from ..._constants import META
from ..._utils import dask_progress
from ._append_checks import (
    _check_elements,
    _check_genes,
    _check_layout,
    _check_names,
    _check_signal,
)
from ._atomic import STORE_MANIFEST, as_path, atomic_write, check_readable
from ._gate import writing
from ._manifest import _frame_writable, _restore_text, _write_manifest
from ._verify import checked_manifest
from ._write import _unwritable

# Zarr's metadata files (both formats): small, rewritten by an append, so copied.
_METADATA = {".zarray", ".zattrs", ".zgroup", ".zmetadata", "zarr.json"}
# Where hard links are not supported, the chunk files are copied instead.
_NO_LINKS = {errno.EPERM, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}
# Tables of the pp records with one row per cell type: the new cell types' rows join them.
_ROW_RECORDS = {"normalize": ("scale_factors", "centers"), "binarize": ("thresholds",)}


@dataclass
class _Plan:
    """What an append does, worked out (and checked) before anything is written."""

    manifest: dict
    n_old: int
    # Row-chunked arrays (X, layers, 4-D obsm): new chunks are added, old ones kept.
    grown: dict[str, object]
    # The rest (2-D obsm, like obs itself): small, read whole and written again.
    rewritten: list[str]
    old: ad.AnnData
    new: ad.AnnData
    # Per-cell-type tables of uns' pp records (scale factors), by path: the rows of both.
    records: dict[str, pd.DataFrame]


def _stored_elements(root: zarr.Group) -> dict[str, zarr.Array | zarr.Group]:
    """The store's per-cell-type elements by path: ``X``, ``layers/…``, ``obsm/…``."""
    elements = {"X": root["X"]} if "X" in root else {}
    for slot in ("layers", "obsm"):
        if slot in root:
            elements.update({f"{slot}/{key}": root[slot][key] for key in root[slot]})
    return elements


def _new_elements(adata: ad.AnnData) -> dict[str, object]:
    elements = {"X": adata.X} if adata.X is not None else {}
    for slot in ("layers", "obsm"):
        elements.update({f"{slot}/{key}": value for key, value in getattr(adata, slot).items()})
    return elements


def _grows_by_chunks(element: zarr.Array | zarr.Group) -> bool:
    """One row per chunk: new rows need new chunk files only."""
    return isinstance(element, zarr.Array) and element.ndim >= 1 and element.chunks[0] == 1


def _only(obs: pd.DataFrame, var_names: pd.Index, elements: dict[str, object]) -> ad.AnnData:
    """An AnnData of ``obs`` and the given elements, for :func:`anndata.concat` to merge."""
    adata = ad.AnnData(obs=obs, var=pd.DataFrame(index=var_names))
    for name, value in elements.items():
        if name == "X":
            adata.X = value
        else:
            slot, key = name.split("/")
            getattr(adata, slot)[key] = value
    return adata


def _row_records(new: dict, stored: dict) -> dict[str, pd.DataFrame]:
    """The store's per-cell-type record tables (``scale_factors`` of ``normalize``…) with
    the new cell types' rows added, by their path in the store."""
    records = {}
    for step, keys in _ROW_RECORDS.items():
        ours, theirs = new.get("pp", {}).get(step, {}), stored.get("pp", {}).get(step, {})
        for key in keys:
            if isinstance(ours.get(key), pd.DataFrame) and isinstance(
                theirs.get(key), pd.DataFrame
            ):
                frame = pd.concat([theirs[key], ours[key]], join="outer")
                records[f"uns/{META}/pp/{step}/{key}"] = frame
    return records


def _plan(adata_new: ad.AnnData, path: Path) -> _Plan:
    """Check ``adata_new`` against the store at ``path``; read what will be rewritten."""
    manifest = checked_manifest(
        path,
        checksums=False,
        unmanaged=f"{path} is not a chromtools store (it has no {STORE_MANIFEST}); "
        "append_cell_types adds only to stores written by ct.io.write_zarr: write this one "
        "again with it first",
    )
    root = zarr.open_group(path, mode="r", use_consolidated=False)
    obs = read_elem(root["obs"])
    var_names = read_elem(root["var"]).index
    _check_names(adata_new, obs.index, path)
    _check_genes(adata_new, var_names, path)
    if ("obsp" in root and len(root["obsp"])) or len(adata_new.obsp):
        raise ValueError(
            f"obsp (cell type × cell type) of adata_new or {path} cannot be extended by rows; "
            "write the union with ct.io.write_zarr"
        )
    stored = _stored_elements(root)
    new = _new_elements(adata_new)
    _check_elements(stored, new, len(obs), path)
    stored_meta = read_elem(root["uns"][META]) if "uns" in root and META in root["uns"] else {}
    new_meta = adata_new.uns.get(META, {})
    _check_layout(new_meta, stored_meta, path)
    _check_signal(new_meta, stored_meta, path)
    grown = {name: new[name] for name, element in stored.items() if _grows_by_chunks(element)}
    rewritten = {name: read_elem(stored[name]) for name in stored if name not in grown}
    old = _only(obs, var_names, rewritten)
    _restore_text(old, {"obs": manifest.get("text_columns", {}).get("obs", [])})
    return _Plan(
        manifest=manifest,
        n_old=len(obs),
        grown=grown,
        rewritten=list(rewritten),
        old=old,
        new=_only(adata_new.obs, var_names, {name: new[name] for name in rewritten}),
        records=_row_records(new_meta, stored_meta),
    )


def _reuse_files(source: Path, target: Path, manifest: dict, skip: list[str]) -> dict:
    """Give ``target`` the files of the store at ``source``, except those under ``skip``.

    Chunks are hard-linked (copied where links are not supported) and never
    written again; metadata files are copied, since the append rewrites them
    and they must not change under the old store's readers. Returns the
    manifest entries of the linked chunks, which stay valid.
    """
    reused = {}
    for relative, entry in manifest["files"].items():
        if any(relative == name or relative.startswith(f"{name}/") for name in skip):
            continue
        origin, copy = source / relative, target / relative
        copy.parent.mkdir(parents=True, exist_ok=True)
        if copy.name in _METADATA:
            shutil.copyfile(origin, copy)
            continue
        try:
            os.link(origin, copy)
        except OSError as error:
            if error.errno not in _NO_LINKS:
                raise
            shutil.copyfile(origin, copy)
        reused[relative] = entry
    return reused


def _write_rows(array: zarr.Array, values: np.ndarray | da.Array, start: int, name: str) -> None:
    """Write ``values`` as rows ``start``… of ``array``: whole new chunks, one a row.

    Lazy values are computed and written by threads of this process, as anndata
    writes them: the write's temporary refuses writers once the append ended.
    """
    rows = slice(start, start + values.shape[0])
    if isinstance(values, da.Array):
        values = values.astype(array.dtype).rechunk((1, *array.chunks[1:]))
        with dask_progress(f"appending {name}"):
            da.store(values, array, regions=(rows,), lock=False, scheduler="threads")
    else:
        array[rows] = np.asarray(values, dtype=array.dtype)


def _append(plan: _Plan, path: Path, tmp: Path, store: LocalStore) -> None:
    skip = ["obs", *plan.rewritten, *plan.records]
    reused = _reuse_files(path, tmp, plan.manifest, skip)
    root = zarr.open_group(store, mode="r+", use_consolidated=False)
    n_new = plan.new.n_obs
    for name, values in plan.grown.items():
        array = root[name]
        array.resize((plan.n_old + n_new, *array.shape[1:]))
        _write_rows(array, values, plan.n_old, name)
    # anndata's own rules for obs columns (union, categories merged) and small arrays.
    merged = ad.concat([plan.old, plan.new], join="outer")
    text = {k: v for k, v in plan.manifest.get("text_columns", {}).items() if k != "obs"}
    write_elem(root, "obs", _frame_writable(merged.obs, "obs", text))
    for where, frame in plan.records.items():
        parent, _, key = where.rpartition("/")
        text.pop(where, None)
        write_elem(root[parent], key, _frame_writable(frame, where, text))
    for name in plan.rewritten:
        slot, _, key = name.partition("/")
        if key:
            write_elem(root[slot], key, getattr(merged, slot)[key])
        else:
            write_elem(root, slot, merged.X)
    zarr.consolidate_metadata(store)
    _write_manifest(tmp, plan.manifest.get("uns_types", {}), text, reused)


def append_cell_types(adata_new: ad.AnnData, store: str | os.PathLike) -> None:
    """Append the cell types (rows of ``obs``) of ``adata_new`` to an existing store.

    Only the new rows are written: each per-cell-type array (``X``,
    ``layers``, 4-D ``obsm`` such as ``histone``) is chunked one cell type per
    chunk, so the chunks of the stored cell types are kept as they are
    (hard-linked into the new version, never rewritten) and the new cell
    types get new chunks; ``obs``, small 2-D ``obsm`` arrays, the metadata and
    the manifest are written again. The append is atomic like
    :func:`write_zarr`: it builds the new version beside the store and
    switches it in with one step, so a failed or killed append leaves the
    previous store, and a reader sees either the old or the new store, whole.
    ``var``, ``varm`` and ``uns`` stay the store's. The result reads as
    ``ad.concat([stored, adata_new], join="outer")``: ``obs`` columns are the
    union, NaN where a cell type has no value.

    Parameters
    ----------
    adata_new
        The cell types to add: the store's genes (``var_names``, same order),
        the same ``X``, ``layers`` and ``obsm`` keys with the same shape per
        cell type, the same ``uns['chromtools']`` marks, bin size, window and
        signal genes, the same signal state (raw, or normalised with the
        store's method and options; binarised as the store's or not), and
        names not yet in the store. Arrays may be lazy
        (dask); they are streamed chunk by chunk.
    store
        A chromtools Zarr store written by :func:`write_zarr` (or
        :func:`read_bigwigs`).

    Returns
    -------
    ``None``; the store at ``store`` holds the old and the new cell types in
    ``obs``, ``X``, ``layers`` and ``obsm``, and its manifest lists the new
    files, so :func:`verify` passes.

    Raises
    ------
    ValueError
        ``adata_new`` does not match the store (genes, marks, bins, bin size,
        keys, shapes or dtypes), names a cell type the store holds, or holds
        values on another scale: its :func:`ct.pp.normalize` or
        :func:`ct.pp.binarize` record (raw or normalised, the method and its
        options, binarised or not) differs from the store's.
    chromtools.StoreError
        ``store`` is not a chromtools store (no manifest), or it is incomplete
        or damaged.
    FileNotFoundError
        Nothing is at ``store``.
    """
    if not isinstance(adata_new, ad.AnnData):
        raise TypeError(f"adata_new must be an AnnData, got {type(adata_new).__name__}")
    path = check_readable(as_path(store, "store"), "store")
    _plan(adata_new, path)  # every check before any work
    with (
        atomic_write(path, overwrite=True, kind="store") as tmp,
        _unwritable(path),
        writing(tmp) as written,
    ):
        # Again under the writers' lock: another append may have finished meanwhile.
        _append(_plan(adata_new, path), path, tmp, written)
