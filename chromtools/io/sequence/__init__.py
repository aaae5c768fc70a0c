"""DNA sequence: the genome, one-hot encoding and regions.

``_onehot`` (the base encoding and padding), ``_genome`` (windows of genes or
regions read from a genome FASTA), ``_records`` (FASTA files whose records are
the regions) and ``_regions`` (``ct.io.read_regions``).
"""

from ._genome import genome_onehot
from ._onehot import PADDED
from ._regions import read_regions

__all__ = [
    "PADDED",
    "genome_onehot",
    "read_regions",
]
