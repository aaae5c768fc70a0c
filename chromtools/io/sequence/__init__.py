"""DNA sequence: the genome, one-hot encoding and regions."""

from ._fasta import PADDED, genome_onehot, read_regions

__all__ = [
    "PADDED",
    "genome_onehot",
    "read_regions",
]
