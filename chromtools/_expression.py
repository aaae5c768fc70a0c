"""The papers' expression rules, shared by the readers (``io``) and ``pp``.

DeepChrome, AttentiveChrome and DeepDiff model log2(count + 1) and call a gene
*high* in a cell type when its expression is above that cell type's median
over ALL genes of its RNA-seq table. The rules are plain functions of arrays,
so that ``ct.io.read_deepdiff``, ``ct.pp.add_expression`` and
``ct.pp.binarize`` apply the same rule without importing each other.
"""

from __future__ import annotations

import numpy as np


def log_counts(counts):
    """log2(count + 1), the papers' expression scale; NaN stays NaN.

    float32 counts give float32 values; numpy or dask arrays alike.
    """
    return np.log2(counts + 1.0)


def genome_median(counts: np.ndarray) -> float:
    """Median of log2(count + 1) over every gene of a whole expression table.

    This is the papers' threshold: taken over the table, not over the genes
    an object happens to hold.
    """
    return float(np.median(log_counts(np.asarray(counts, dtype=np.float64))))


def high_low(values, threshold):
    """float32 1 where ``values`` > ``threshold`` (a tie is low), 0 otherwise, NaN
    where ``values`` is NaN.

    ``threshold`` broadcasts against ``values`` (e.g. one per cell type as a
    column); numpy or dask arrays alike.
    """
    return np.where(np.isnan(values), np.nan, values > threshold).astype(np.float32)


def on_status(label: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """ON per sample: label 1 where the label is known, else a predicted probability > 0.5.

    The rule by which ``ct.tl.attention``, ``ct.tl.in_silico_deletion`` and
    ``ct.pl.attention`` split genes into ON and OFF.
    """
    return np.where(np.isfinite(label), label == 1, predicted > 0.5)
