"""Aligned accessors: the one way to read per-(cell type, gene) arrays."""

from ._aligned import attention, attributions, histone, marks, metadata, onehot, realign
from ._aligned import attributed_cell_type as attributed_cell_type  # for ct.tl and ct.pl
from ._features import as_features
from ._motifs import motif_site_scores

__all__ = [
    "as_features",
    "attention",
    "attributions",
    "histone",
    "marks",
    "metadata",
    "motif_site_scores",
    "onehot",
    "realign",
]
