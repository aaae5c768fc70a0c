"""The Zarr store: write, read, append, atomic writes."""

from ._append import append_cell_types
from ._atomic import (
    MODEL_CONFIG,
    MODEL_FORMAT,
    MODEL_WEIGHTS,
    atomic_file,
    atomic_write,
    check_destination,
    check_file_destination,
    enclosing_store,
    probe_writable,
)
from ._manifest import restore_from_manifest
from ._read import read_zarr
from ._verify import verify
from ._write import CHUNK_GENES, write_zarr

__all__ = [
    "CHUNK_GENES",
    "MODEL_CONFIG",
    "MODEL_FORMAT",
    "MODEL_WEIGHTS",
    "append_cell_types",
    "atomic_file",
    "atomic_write",
    "check_destination",
    "check_file_destination",
    "enclosing_store",
    "probe_writable",
    "read_zarr",
    "restore_from_manifest",
    "verify",
    "write_zarr",
]
