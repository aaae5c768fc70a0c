"""The temporary store a write goes through, and the gate that ends its writes.

A write into a temporary store (:func:`~chromtools.io.store._write.write_zarr`,
:func:`~chromtools.io.store._append.append_cell_types`) goes through
:func:`writing`: on leaving it, no write into the temporary is still running
or will start, so the temporary of a failed write is removed after its last
writer stopped.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

from zarr.storage import LocalStore

from ..._errors import StoreError


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
