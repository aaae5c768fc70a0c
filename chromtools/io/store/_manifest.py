"""The manifest of a store: the files it holds, and what Zarr does not keep.

Written last into every store, the manifest lists each file with its size and
checksum (checked by :mod:`._verify`), a ``write_id`` that tells readers the
store was replaced, and what anndata's Zarr encoding loses: which ``uns``
entries were lists or tuples, and which text columns held missing values
(written as categories, restored as text with NaN on read).
"""

from __future__ import annotations

import json
import os
import uuid
import zlib
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ..._errors import StoreError
from ._atomic import STORE_FORMAT, STORE_MANIFEST


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


def restore(adata: ad.AnnData, manifest: dict) -> None:
    """Give ``adata`` the ``uns`` types and text columns that ``manifest`` records."""
    _restore_types(adata.uns, manifest.get("uns_types", {}))
    _restore_text(adata, manifest.get("text_columns", {}))


def restore_from_manifest(adata: ad.AnnData, store: Path) -> None:
    """Give an object read lazily from ``store`` the ``uns`` types and text columns that Zarr
    does not keep, as recorded in the store's manifest (nothing when it has none)."""
    manifest = _manifest(store)
    if manifest is not None:
        restore(adata, manifest)
