"""Readers and writers: bigWig, DeepChrome/DeepDiff CSV, regions + FASTA, Zarr."""

from ._zarr import read_zarr, write_zarr

__all__ = ["read_zarr", "write_zarr"]
