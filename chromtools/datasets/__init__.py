"""Datasets: the embedded real Roadmap sample and synthetic data with planted truth."""

from ._remc import chromtransfer_reference, deepchrome_reference, remc_genes, remc_sample
from ._synthetic_histone import synthetic_histone
from ._synthetic_sequences import synthetic_sequences

__all__ = [
    "chromtransfer_reference",
    "deepchrome_reference",
    "remc_genes",
    "remc_sample",
    "synthetic_histone",
    "synthetic_sequences",
]
