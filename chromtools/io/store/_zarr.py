"""Chunked, atomic Zarr storage of a chromtools AnnData and its lazy reading."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import anndata as ad
import dask.array as da
import numpy as np
import pandas as pd
import zarr
from anndata._io.specs.registry import IORegistryError
from anndata.experimental import read_elem_lazy
from anndata.io import read_elem, write_elem
from zarr.storage import LocalStore

from ..._errors import StoreError
from ..._utils import check_int, dask_progress
from ._atomic import STORE_FORMAT, STORE_MANIFEST, atomic_write, check_destination, check_readable

# Genes per chunk along the gene axis of every array: one chunk of histone
# signal for 1,024 genes × 5 marks × 100 bins is 2 MB of float32.
CHUNK_GENES = 1024


class _Gate:
    """The writes in flight into one temporary store, and the end of them.

    A write that fails (a full disk) raises from the first chunk that fails
    while dask's threads and zarr's event loop are still writing other
    chunks; a chunk written after the temporary was removed makes its folders
    again, and that debris outlives the write. Every write into the store
    passes the gate: :meth:`close` refuses the writes still to come and
    returns once the last one in flight has ended, so the temporary is removed
    only after its last writer stopped.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._changed = threading.Condition()
        self._in_flight = 0
        self._closed = False

    @contextlib.contextmanager
    def passage(self) -> Iterator[None]:
        with self._changed:
            if self._closed:
                raise StoreError(f"the write into {self.root} has ended; nothing more is written")
            self._in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.wait_for(lambda: self._in_flight == 0)


class _WriteStore(LocalStore):
    """The temporary of a write: a ``LocalStore`` whose every write passes one :class:`_Gate`."""

    def __init__(self, root: Path | str, *, read_only: bool = False, gate: _Gate | None = None):
        super().__init__(root, read_only=read_only)
        self.gate = _Gate(self.root) if gate is None else gate

    def with_read_only(self, read_only: bool = False) -> _WriteStore:
        return type(self)(self.root, read_only=read_only, gate=self.gate)

    async def set(self, key, value) -> None:
        with self.gate.passage():
            await super().set(key, value)

    async def set_if_not_exists(self, key, value) -> None:
        with self.gate.passage():
            await super().set_if_not_exists(key, value)

    def set_sync(self, key, value) -> None:
        with self.gate.passage():
            super().set_sync(key, value)


@contextlib.contextmanager
def writing(tmp: Path) -> Iterator[_WriteStore]:
    """The store to write the temporary ``tmp`` through; on leaving, whether the body
    succeeded or raised, no write into ``tmp`` is still running or will start.

    Enter it inside :func:`~chromtools.io.store._atomic.atomic_write`, so that its removal
    of a failed temporary comes after the last write into it.
    """
    store = _WriteStore(tmp)
    try:
        yield store
    finally:
        store.gate.close()


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


def _sequence_types(uns: dict, prefix: str = "") -> dict[str, str]:
    """Where ``uns`` holds lists or tuples: anndata reads them back as arrays."""
    types = {}
    for key, value in uns.items():
        if isinstance(value, dict):
            types.update(_sequence_types(value, f"{prefix}{key}/"))
        elif isinstance(value, (list, tuple)):
            types[f"{prefix}{key}"] = type(value).__name__
    return types


def _text_with_missing(frame: pd.DataFrame) -> list[str]:
    """Object columns holding text and missing values (anndata would write NaN as 'nan')."""
    columns = []
    for column in frame.columns:
        values = frame[column]
        if values.dtype != object or not values.isna().any():
            continue
        known = values[values.notna()]
        if all(isinstance(v, str) for v in known):
            columns.append(str(column))
    return columns


def _frame_writable(frame: pd.DataFrame, where: str, text: dict[str, list[str]]) -> pd.DataFrame:
    """``frame`` with its text-with-missing columns categorical (missing kept as missing);
    the columns are recorded in ``text`` under ``where`` and made text again on read."""
    columns = _text_with_missing(frame)
    if not columns:
        return frame
    text[where] = columns
    frame = frame.copy()
    for column in columns:
        frame[column] = pd.Categorical(frame[column])
    return frame


def _writable(uns: dict, text: dict[str, list[str]] | None = None, prefix: str = "uns/") -> dict:
    """``uns`` with tuples as lists, which anndata can write (their type is recorded),
    and data frames' text columns with missing values made categorical (recorded in ``text``)."""
    text = {} if text is None else text
    out = {}
    for key, value in uns.items():
        if isinstance(value, dict):
            out[key] = _writable(value, text, f"{prefix}{key}/")
        elif isinstance(value, tuple):
            out[key] = list(value)
        elif isinstance(value, pd.DataFrame):
            out[key] = _frame_writable(value, f"{prefix}{key}", text)
        else:
            out[key] = value
    return out


def _restore_text(adata: ad.AnnData, text: dict[str, list[str]]) -> None:
    """Undo :func:`_frame_writable`: the recorded columns as text again, missing as NaN."""
    for where, columns in text.items():
        *parents, leaf = where.split("/")
        if not parents:  # obs or var
            frame = getattr(adata, leaf, None)
        else:  # uns/…/leaf
            node = adata.uns
            for parent in parents[1:]:
                node = node.get(parent) if isinstance(node, dict) else None
            frame = node.get(leaf) if isinstance(node, dict) else None
        if not isinstance(frame, pd.DataFrame):
            continue
        for column in columns:
            if column in frame.columns and isinstance(frame[column].dtype, pd.CategoricalDtype):
                values = frame[column].astype(object)
                frame[column] = values.where(values.notna(), np.nan)


def _restore_types(uns: dict, types: dict[str, str]) -> None:
    for name, kind in types.items():
        *parents, leaf = name.split("/")
        node = uns
        for parent in parents:
            node = node.get(parent) if isinstance(node, dict) else None
        if not isinstance(node, dict) or leaf not in node:
            continue
        value = node[leaf]
        value = value.tolist() if isinstance(value, np.ndarray) else list(value)
        node[leaf] = tuple(value) if kind == "tuple" else value


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            crc = zlib.crc32(block, crc)
    return crc


def _store_files(root: Path, known: dict[str, list[int]]) -> dict[str, list[int]]:
    """Size and checksum of every file under ``root``; the ``known`` entries of files
    carried over unchanged from a previous store are taken as they are, unread."""
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            full = Path(folder) / name
            relative = full.relative_to(root).as_posix()
            if relative == STORE_MANIFEST:
                continue
            size = full.stat().st_size
            if relative in known and known[relative][0] == size:
                files[relative] = list(known[relative])
            else:
                files[relative] = [size, _crc32(full)]
    return files


def _write_manifest(
    root: Path,
    uns_types: dict[str, str],
    text: dict[str, list[str]],
    known: dict[str, list[int]] | None = None,
) -> None:
    """Record every file of the store at ``root`` (see :func:`_store_files`) under a new
    ``write_id``, which tells readers that the store was replaced."""
    manifest = {
        "format": STORE_FORMAT,
        "write_id": uuid.uuid4().hex,
        "uns_types": uns_types,
        "text_columns": text,
        "files": _store_files(root, known or {}),
    }
    (root / STORE_MANIFEST).write_text(json.dumps(manifest, separators=(",", ":")))


def _manifest(path: Path) -> dict | None:
    """The store's manifest; ``None`` for a store written by anndata itself."""
    file = path / STORE_MANIFEST
    if not file.exists():
        return None
    try:
        manifest = json.loads(file.read_text())
        if manifest.get("format") != STORE_FORMAT or not isinstance(manifest.get("files"), dict):
            raise ValueError(f"format {manifest.get('format')!r}, expected {STORE_FORMAT!r}")
    except (OSError, ValueError, AttributeError) as error:
        raise StoreError(f"{file} is damaged ({error}); the store cannot be trusted") from None
    return manifest


def _problems(path: Path, manifest: dict, *, checksums: bool) -> list[str]:
    """Files the manifest lists that are missing, truncated or (with checksums) altered."""
    problems = []
    for relative, expected in manifest["files"].items():
        file = path / relative
        try:
            size = file.stat().st_size
        except OSError:
            problems.append(f"{relative} is missing")
            continue
        if size != expected[0]:
            problems.append(f"{relative} has {size} bytes, {expected[0]} were written")
        elif checksums and _crc32(file) != expected[1]:
            problems.append(f"{relative} was altered after it was written (checksum differs)")
    return problems


def _incomplete(path: Path, problems: list[str]) -> StoreError:
    more = f"; … {len(problems) - 10} more" if len(problems) > 10 else ""
    shown = "; ".join(problems[:10]) + more
    return StoreError(
        f"the store {path} is incomplete or damaged: {len(problems)} of its files do not match "
        f"what was written ({shown}). Its data cannot be trusted: write it again from the source."
    )


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
    target = path.resolve()
    reading_target = [
        (slot, key) for slot, key, value in _lazy_slots(adata) if target in _zarr_sources(value)
    ]
    if reading_target and adata.is_view:
        raise ValueError(
            f"this object is a view of data read lazily from {path}, which the write would "
            "replace under its parent; write adata.copy() there, or write to another path"
        )
    uns_types = _sequence_types(adata.uns)
    with (
        atomic_write(path, overwrite=overwrite, kind="store") as tmp,
        _unwritable(path),
        writing(tmp) as store,
    ):
        root = zarr.open_group(store, mode="w", zarr_format=ad.settings.zarr_write_format)
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
        zarr.consolidate_metadata(store)
        _write_manifest(tmp, uns_types, text)
    if reading_target:
        _rebind(adata, path, reading_target)


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
        _restore_types(adata.uns, manifest.get("uns_types", {}))
        _restore_text(adata, manifest.get("text_columns", {}))
    return adata


def checked_manifest(path: Path, *, checksums: bool, unmanaged: str) -> dict:
    """The manifest of the store at ``path`` once every file it lists is found as listed.

    ``unmanaged`` is the message for a store without a manifest; ``checksums``
    also compares every file's checksum, not only its size.
    """
    manifest = _manifest(path)
    if manifest is None:
        raise StoreError(unmanaged)
    problems = _problems(path, manifest, checksums=checksums)
    if problems:
        raise _incomplete(path, problems)
    return manifest


def verify(path: str | os.PathLike) -> dict[str, int]:
    """Check that a store holds exactly what was written: every file, size and checksum.

    Parameters
    ----------
    path
        Store written by :func:`write_zarr`.

    Returns
    -------
    ``{"files": n, "bytes": total}`` for a complete store.

    Raises
    ------
    chromtools.StoreError
        Naming every missing, truncated or altered file, or saying that the
        store has no manifest to check against (written by anndata or an
        older chromtools: write it again with :func:`write_zarr`).
    """
    path = check_readable(path, "store")
    manifest = checked_manifest(
        path,
        checksums=True,
        unmanaged=f"{path} has no {STORE_MANIFEST}: it was not written by this chromtools, so "
        "what it should hold is unknown; write it again with ct.io.write_zarr to make it "
        "checkable",
    )
    return {
        "files": len(manifest["files"]),
        "bytes": sum(entry[0] for entry in manifest["files"].values()),
    }


def restore_from_manifest(adata: ad.AnnData, store: Path) -> None:
    """Give an object read lazily from ``store`` the ``uns`` types and text columns that Zarr
    does not keep, as recorded in the store's manifest (nothing when it has none)."""
    manifest = _manifest(store)
    if manifest is not None:
        _restore_types(adata.uns, manifest.get("uns_types", {}))
        _restore_text(adata, manifest.get("text_columns", {}))
