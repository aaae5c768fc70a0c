"""Where the dask work of a ``ct.io`` or ``ct.pp`` step runs: a dask.distributed
cluster, or threads in this process.

A step that takes ``client=`` resolves it once, before any work, with
:func:`resolve_client`, and runs its computations through :func:`compute` (or,
for ``read_bigwigs``, submits its reads to the client). ``distributed`` is
imported only when a client is passed, or when it is already imported and a
client may be active, so ``import chromtools`` stays fast.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import dask

if TYPE_CHECKING:
    from distributed import Client

# Values of dask's "scheduler" setting that mean "the distributed client".
_DISTRIBUTED = (None, "dask.distributed", "distributed")


def resolve_client(client: object, step: str) -> Client | None:
    """The client ``step`` runs on: ``client``, else the active one, else ``None``.

    As in ``dask.compute``, the active client is the default one (the latest
    ``Client()`` created, or the one of a ``with Client(...)`` block), unless
    dask's ``scheduler`` setting names a local scheduler (``"threads"``,
    ``"sync"``, ``"processes"``). ``None`` means threads in this process.
    """
    if client is None:
        return _active_client()
    from distributed import Client

    if not isinstance(client, Client):
        raise ValueError(
            f"{step}: client= must be a dask.distributed.Client (or None for the active "
            f"client, else threads in this process), got {type(client).__name__} {client!r:.80}"
        )
    if client.status != "running":
        raise ValueError(
            f"{step}: client= is {client.status}, not running; pass a connected "
            "dask.distributed.Client"
        )
    return client


def _active_client() -> Client | None:
    if "distributed" not in sys.modules:  # no client exists before distributed is imported
        return None
    if dask.config.get("scheduler", None) not in _DISTRIBUTED:
        return None
    from distributed import default_client

    try:
        return default_client()
    except ValueError:  # no client was started
        return None


def compute(*collections, client: Client | None) -> tuple:
    """``dask.compute`` on ``client``'s cluster, or on this process's threads."""
    if client is None:
        return dask.compute(*collections)
    return dask.compute(*collections, scheduler=client)
