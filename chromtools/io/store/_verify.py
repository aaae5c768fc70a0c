"""Checking a store against its manifest: every file present, whole and unaltered."""

from __future__ import annotations

import os
from pathlib import Path

from ..._errors import StoreError
from ._atomic import STORE_MANIFEST, check_readable
from ._manifest import _crc32, _manifest


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
