"""How alike two explanations are: Pearson per sample, between models, per cell type.

:func:`pearson_rows` correlates each sample's map with another's;
:func:`pairwise_agreement` averages it over every pair of several models
(``keys=`` of ``ct.tl.attention`` and ``ct.tl.attribute``), and
:func:`pearson_summary` is the count, mean and median of the correlations
of one cell type that their tables report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def pearson_rows(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` (NaN if constant)."""
    a = a.flatten(start_dim=1).double()
    b = b.flatten(start_dim=1).double()
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))


def pairwise_agreement(maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean pairwise Pearson correlation between several models' maps of each sample.

    Parameters
    ----------
    maps
        Two or more (batch, ...) maps of the same samples.

    Returns
    -------
    (batch,) float: the mean over model pairs of the Pearson correlation of
    their flattened maps; NaN where a map is constant.
    """
    pairs = [
        pearson_rows(maps[i], maps[j]) for i in range(len(maps)) for j in range(i + 1, len(maps))
    ]
    return torch.stack(pairs).mean(dim=0)


def pearson_summary(r: np.ndarray, count: str = "n") -> dict[str, float]:
    """How many of the correlations ``r`` are finite (under ``count``), their mean and median."""
    r = r[np.isfinite(r)]
    return {
        count: len(r),
        "mean_pearson": float(r.mean()) if len(r) else np.nan,
        "median_pearson": float(np.median(r)) if len(r) else np.nan,
    }
