"""chromtools: learn how chromatin controls genes, on AnnData and Zarr."""

from . import datasets, functional, get, io, models, pl, pp, tl
from ._constants import VERSION as __version__  # noqa: F401 (the package version)
from ._errors import FormatError, StoreError
from ._settings import settings

__all__ = [
    "FormatError",
    "StoreError",
    "datasets",
    "functional",
    "get",
    "io",
    "models",
    "pl",
    "pp",
    "settings",
    "tl",
]
