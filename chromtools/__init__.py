"""chromtools: learn how chromatin controls genes, on AnnData and Zarr."""

from . import datasets, get, io, models, pl, pp, tl
from ._errors import FormatError, StoreError
from ._settings import settings

__version__ = "0.1.0"
__all__ = [
    "FormatError",
    "StoreError",
    "datasets",
    "get",
    "io",
    "models",
    "pl",
    "pp",
    "settings",
    "tl",
]
