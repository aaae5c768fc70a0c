"""Safe replacement of a store or model folder on disk.

Every chromtools write goes through :func:`atomic_write`:

- only a folder that is recognisably ours (a chromtools or anndata Zarr
  store, a saved chromtools model) may be replaced; anything else at the
  path, a user's folder or a regular file, is refused before any work;
- the new content is written into a temporary sibling and switched in with
  one atomic ``renameat2(RENAME_EXCHANGE)``, so at every instant the path
  holds either the complete old or the complete new version. Where the
  kernel or filesystem lacks the exchange, two renames are used and a
  store left only in its ``.old-*`` sibling by a kill between them is put
  back by the next read or write of that path;
- one writer per path at a time: an exclusive lock on a sibling lock file
  serialises writers, so of two writers with ``overwrite=False`` the second
  fails with ``FileExistsError`` instead of silently replacing the first;
- temporaries left behind by a killed write are removed by the next write
  of the same path (the lock proves no writer is still using them).

A single file chromtools writes for the user (a figure, a CSV of the command
line, a training checkpoint) goes the same way through :func:`atomic_file`:
checked before any work, written to a hidden sibling and renamed over the
path, so a failed or killed write (a full disk) leaves the previous file as
it was and no debris.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from ..._errors import StoreError

STORE_MANIFEST = "chromtools-manifest.json"
STORE_FORMAT = "chromtools-store/1"
MODEL_CONFIG = "config.json"
MODEL_WEIGHTS = "model.safetensors"
MODEL_FORMAT = "chromtools-model/1"

# What may sit at the top of an anndata Zarr store (both Zarr formats).
_STORE_ENTRIES = {
    ".zattrs", ".zgroup", ".zmetadata", "zarr.json", STORE_MANIFEST,
    "X", "obs", "var", "uns", "layers", "obsm", "varm", "obsp", "varp", "raw",
}  # fmt: skip
_MODEL_ENTRIES = {MODEL_CONFIG, MODEL_WEIGHTS}

_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-[0-9a-f]{32}$")

# Called with the name of each step of a replacement; tests set it to kill the
# process between steps. ``None`` in normal use.
step_hook: Callable[[str], None] | None = None


def _step(name: str) -> None:
    if step_hook is not None:
        step_hook(name)


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is a write's temporary or backup sibling, never a store."""
    return _TEMPORARY.match(path.name) is not None


def _siblings(path: Path, kind: str) -> list[Path]:
    return [
        p
        for p in path.parent.glob(f".{glob_escape(path.name)}.{kind}-*")
        if (m := _TEMPORARY.match(p.name)) and m["name"] == path.name and m["kind"] == kind
    ]


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _is_anndata_store(path: Path) -> bool:
    for name in (".zattrs", "zarr.json"):
        meta = _read_json(path / name)
        if meta is None:
            continue
        attrs = meta.get("attributes", meta) if name == "zarr.json" else meta
        if isinstance(attrs, dict) and attrs.get("encoding-type") == "anndata":
            return True
    return _read_json(path / STORE_MANIFEST) is not None


def _is_model_folder(path: Path) -> bool:
    config = _read_json(path / MODEL_CONFIG)
    return config is not None and config.get("format") == MODEL_FORMAT


RECOGNISERS: dict[str, tuple[Callable[[Path], bool], set[str], str]] = {
    "store": (_is_anndata_store, _STORE_ENTRIES, "Zarr store"),
    "model": (_is_model_folder, _MODEL_ENTRIES, "saved chromtools model"),
}


def enclosing_store(path: Path) -> tuple[Path, str] | None:
    """The store or saved model that ``path`` is (or lies inside), and what it is; None if none.

    A file of another program inside one would make its next write refuse it.
    """
    for folder in (path.absolute(), *path.absolute().parents):
        for recognise, _, what in RECOGNISERS.values():
            if folder.is_dir() and recognise(folder):
                return folder, what
    return None


def _listing(path: Path, limit: int = 8) -> str:
    names = sorted(p.name for p in path.iterdir())
    shown = ", ".join(names[:limit]) + (f", … ({len(names)} entries)" if len(names) > limit else "")
    return f"[{shown}]"


def as_path(path: object, name: str) -> Path:
    """``path`` as a ``Path``; a clear error for ``None``, numbers and the like."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a file system path (str or os.PathLike), got {path!r}")
    return Path(path)


def check_destination(path: str | os.PathLike, *, overwrite: bool, kind: str) -> Path:
    """Refuse, before any work, a destination that may not be written.

    Returns ``path`` as a ``Path``. Raises ``FileExistsError`` when something is
    there and ``overwrite`` is false, ``ValueError`` when what is there is not
    ours to replace (a regular file, a link, a folder of other files), and
    ``FileNotFoundError``/``PermissionError`` when the parent folder is missing
    or not writable.
    """
    path = as_path(path, "path")
    if not isinstance(overwrite, bool):
        raise ValueError(f"overwrite must be True or False, got {overwrite!r}")
    if not path.name or path.name in (".", ".."):
        raise ValueError(f"{str(path)!r} names no folder to write; give a path like 'data.zarr'")
    if is_temporary(path):
        raise ValueError(f"{path} is the temporary sibling of a write, not a destination")
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"cannot write {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: the folder {parent} is not writable")
    if not os.path.lexists(path):
        return path
    if not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    recognise, entries, what = RECOGNISERS[kind]
    if path.is_symlink() or not path.is_dir():
        raise ValueError(
            f"{path} is {'a symbolic link' if path.is_symlink() else 'a file'}, not a {what}; "
            "chromtools replaces only its own folders. Remove it yourself or choose another path."
        )
    if not any(path.iterdir()):
        return path  # an empty folder holds nothing to lose
    foreign = sorted(p.name for p in path.iterdir() if p.name not in entries)
    if not recognise(path) or foreign:
        detail = f"; it also holds {foreign[:8]}" if recognise(path) else ""
        raise ValueError(
            f"{path} holds {_listing(path)}, which is not a {what}{detail}; chromtools replaces "
            "only its own folders. Remove it yourself or choose another path."
        )
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``path`` (a sibling lock file, removed afterwards).

    The lock file is unlinked while still held; a waiter that then wakes up on
    the unlinked file notices (its inode is no longer the one at the path) and
    takes the lock on the new file instead.
    """
    lock = path.with_name(f".{path.name}.chromtools-lock")
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError as error:
            raise PermissionError(f"cannot write {path}: {error.strerror}") from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def recover(path: Path) -> None:
    """Undo what a kill mid-replacement left: put a lone backup back at ``path``.

    Only reached with the two-rename fallback; the atomic exchange leaves no
    state in which ``path`` is missing. Call with the path's lock held.
    """
    backups = sorted(_siblings(path, "old"), key=lambda p: p.stat().st_mtime)
    if backups and not os.path.lexists(path):
        os.rename(backups.pop(), path)
    for stale in backups:
        _remove(stale)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` in one atomic step; ``False`` where unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _named(error: OSError, path: Path, what: str = "") -> OSError:
    """``error`` naming ``path`` (and the option it came from), not the hidden temporary."""
    prefix = f"{what}: " if what else ""
    return type(error)(error.errno, f"{prefix}cannot write {path}: {error.strerror}")


def probe_writable(folder: Path, path: Path, what: str) -> None:
    """Refuse, by creating and removing a file in it, a ``folder`` that cannot be written to.

    ``os.access`` says yes to root in a read-only folder; a real file says what
    the write will meet (read-only mounts, permissions, no inodes left).
    """
    probe = folder / f".{path.name}.tmp-{uuid.uuid4().hex}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        raise _named(error, path, what) from None
    probe.unlink()


def check_file_destination(
    path: object, what: str, *, ours: Callable[[Path], bool] | None = None, kind: str = "file"
) -> Path:
    """Refuse, before any work, a file destination that cannot be written.

    ``what`` names the option in messages (``"save='fig.png'"``). A folder at
    the path, a missing or unwritable parent folder, and, when ``ours`` is
    given, an existing file that ``ours`` does not recognise (a user's own
    file, never replaced) are refused. Returns ``path`` as a ``Path``.
    """
    path = as_path(path, what)
    if not path.name or path.name in (".", ".."):
        raise ValueError(f"{what}: {str(path)!r} names no file to write; give a file name")
    if is_temporary(path):
        raise ValueError(f"{what}: {path} is the temporary sibling of a write, not a destination")
    if path.is_dir():
        raise IsADirectoryError(f"{what}: {path} is a folder; give a {kind} name")
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"{what}: cannot write {path}: the folder {parent} does not exist")
    if os.path.lexists(path) and ours is not None and not ours(path):
        raise ValueError(
            f"{what}: {path} exists and is not a {kind}; chromtools replaces only its own "
            "files. Remove it yourself or choose another path."
        )
    probe_writable(parent, path, what)
    return path


@contextlib.contextmanager
def atomic_file(
    path: object, what: str, *, ours: Callable[[Path], bool] | None = None, kind: str = "file"
) -> Iterator[Path]:
    """Yield a hidden temporary sibling of the file ``path`` that replaces it only on success.

    The destination is checked first (:func:`check_file_destination`). If the
    body raises (a full disk) or the process dies, the file at ``path`` is left
    as it was; the temporary is removed now or, after a kill, by the next
    write of ``path``. An ``OSError`` names ``path`` and ``what``.
    """
    path = check_file_destination(path, what, ours=ours, kind=kind)
    with _locked(path):
        for stale in _siblings(path, "tmp"):
            _remove(stale)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
        try:
            yield tmp
            with open(tmp, "rb+") as written:
                os.fsync(written.fileno())  # on disk before it replaces the old file
            os.replace(tmp, path)
        except OSError as error:
            _remove(tmp)
            if error.errno is None:
                raise
            raise _named(error, path, what) from error
        except BaseException:
            _remove(tmp)
            raise


def _switch(tmp: Path, path: Path) -> None:
    """Put ``tmp`` at ``path``, atomically, and remove what was there."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
        return
    if _exchange(tmp, path):
        _step("exchanged")
        _remove(tmp)  # now the previous version
        return
    backup = path.with_name(f".{path.name}.old-{uuid.uuid4().hex}")
    os.rename(path, backup)
    _step("moved-aside")
    os.rename(tmp, path)
    _remove(backup)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, *, overwrite: bool, kind: str) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` that replaces it only on success.

    ``kind`` (``"store"`` or ``"model"``) says what may be replaced. If the body
    raises or the process dies, whatever was at ``path`` is left as it was; the
    temporary is removed now or, after a kill, by the next write of ``path``.
    """
    path = check_destination(path, overwrite=overwrite, kind=kind)
    with _locked(path):
        recover(path)
        for stale in _siblings(path, "tmp"):
            _remove(stale)
        # Another writer may have finished while this one waited for the lock.
        check_destination(path, overwrite=overwrite, kind=kind)
        tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
        try:
            yield tmp
            _step("written")
            _switch(tmp, path)
        except OSError as error:
            _remove(tmp)
            if error.errno is None:
                raise
            # Name the destination, not the hidden temporary the library saw.
            raise _named(error, path) from error
        except BaseException:
            _remove(tmp)
            raise


def check_readable(path: str | os.PathLike, kind: str) -> Path:
    """Refuse a missing path, a temporary, or a folder that is not ``kind``."""
    path = as_path(path, "path")
    if is_temporary(path):
        raise StoreError(
            f"{path} is the unfinished temporary of a write, not a store; read {path.parent}/"
            f"{_TEMPORARY.match(path.name)['name']} instead"
        )
    if not os.path.lexists(path):
        backups = _siblings(path, "old")
        if backups:
            with _locked(path):
                recover(path)
    if not path.exists():
        raise FileNotFoundError(f"no {RECOGNISERS[kind][2]} at {path}")
    if not path.is_dir():
        raise StoreError(f"{path} is a file, not a {RECOGNISERS[kind][2]} (a folder)")
    if not RECOGNISERS[kind][0](path):
        content = _listing(path) if any(path.iterdir()) else "nothing"
        raise StoreError(f"{path} holds {content}, which is not a {RECOGNISERS[kind][2]}")
    return path
