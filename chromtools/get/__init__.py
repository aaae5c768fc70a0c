"""Aligned accessors: the one way to read per-(cell type, gene) arrays."""

from ._aligned import attention, attributions, histone, marks, metadata, onehot, realign

__all__ = ["attention", "attributions", "histone", "marks", "metadata", "onehot", "realign"]
