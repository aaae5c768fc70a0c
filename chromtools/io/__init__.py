"""Readers and writers: bigWig, DeepChrome/DeepDiff CSV, expression tables, regions + FASTA,
Zarr."""

from ._bigwig import read_bigwigs
from ._csv import read_deepchrome, read_deepdiff
from ._expression import read_expression
from ._genes import read_genes
from ._motifs import read_jaspar
from .sequence import read_regions
from .store import append_cell_types, read_zarr, verify, write_zarr
from .store import atomic_file as atomic_file  # for ct.pl's figures
from .store import check_file_destination as check_file_destination

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
