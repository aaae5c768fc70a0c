"""Aligned accessors: the one way to read per-(cell type, gene) arrays."""

from ._aligned import attention, attributions, histone, marks, metadata, onehot, realign
from ._features import as_features

__all__ = [
    "as_features",
    "attention",
    "attributions",
    "histone",
    "marks",
    "metadata",
    "onehot",
    "realign",
]
