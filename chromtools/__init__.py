"""chromtools: learn how chromatin controls genes, on AnnData and Zarr."""

from . import get, io
from ._settings import settings

__version__ = "0.1.0"
__all__ = ["get", "io", "settings"]
