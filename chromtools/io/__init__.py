"""Readers and writers: bigWig, DeepChrome/DeepDiff CSV, regions + FASTA, Zarr."""

from ._csv import read_deepchrome, read_deepdiff, read_expression
from ._zarr import read_zarr, write_zarr

__all__ = [
    "read_deepchrome",
    "read_deepdiff",
    "read_expression",
    "read_zarr",
    "write_zarr",
]
