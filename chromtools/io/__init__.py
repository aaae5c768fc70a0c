"""Readers and writers: bigWig, DeepChrome/DeepDiff CSV, expression tables, regions + FASTA,
Zarr."""

from ._append import append_cell_types
from ._atomic import atomic_file as atomic_file  # for ct.pl's figures
from ._atomic import check_file_destination as check_file_destination
from ._bigwig import read_bigwigs
from ._csv import read_deepchrome, read_deepdiff
from ._expression import read_expression
from ._fasta import read_regions
from ._genes import read_genes
from ._motifs import read_jaspar
from ._zarr import read_zarr, verify, write_zarr

__all__ = [
    "append_cell_types",
    "read_bigwigs",
    "read_deepchrome",
    "read_deepdiff",
    "read_expression",
    "read_genes",
    "read_jaspar",
    "read_regions",
    "read_zarr",
    "verify",
    "write_zarr",
]
