"""ChromTransfer's enrichment test on arrays: site scores and signed Kolmogorov–Smirnov.

:func:`site_scores` summarises an attribution over each site's bases;
:func:`ks_enrichment` compares, per motif, its sites' scores with those of the
other motifs' sites that share no base with its own (Salvatore et al. 2022).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ...get._motifs import overlapping

#: The smallest p-value stored. A KS p-value below it underflows to 0.0 in float64, which
#: reads as certainty and ranks nothing: it is stored as this bound instead.
SMALLEST_PVALUE = float(np.finfo(np.float64).tiny)


def site_scores(
    per_base: np.ndarray, row: np.ndarray, start: np.ndarray, end: np.ndarray, score: str
) -> np.ndarray:
    """Each site's ``score`` (``"max"``, ``"min"`` or ``"mean"``) of ``per_base`` over its bases.

    Parameters
    ----------
    per_base
        (regions, length) attribution of each base.
    row, start, end
        Each site's row in ``per_base`` and its bases ``start`` to ``end`` (exclusive).
    score
        How a site's bases are summarised.

    Returns
    -------
    One float per site.
    """
    reduce = {"max": np.max, "min": np.min, "mean": np.mean}[score]
    out = np.empty(len(row), dtype=np.float64)
    width = end - start
    # Sites of one motif share a length: gather each length's sites as one block.
    for w in np.unique(width):
        sites = np.flatnonzero(width == w)
        bases = per_base[row[sites, None], start[sites, None] + np.arange(w)]
        out[sites] = reduce(bases, axis=1)
    return out


def ks_enrichment(
    scores: np.ndarray,
    motif: np.ndarray,
    *,
    flat_start: np.ndarray,
    flat_end: np.ndarray,
    tested: Sequence[int],
) -> pd.DataFrame:
    """Signed two-sample KS of each tested motif's site scores against the others' sites.

    The background of motif ``m`` is every site of another motif that shares
    no base with a site of ``m``. ``D`` is positive when ``m``'s sites rank
    higher on average than the background's (Mann–Whitney's U above half).

    Parameters
    ----------
    scores
        One score per site.
    motif
        Each site's motif (integer code).
    flat_start, flat_end
        Each site's bases as positions along all regions laid end to end
        (``region * length + start``), so sites of different regions never overlap.
    tested
        Motif codes to test.

    Returns
    -------
    DataFrame indexed by motif code with ``n_sites``, ``ks_d`` (signed) and
    ``pvalue``; a motif without background sites gets NaN. A p-value too small
    for float64 is stored as ``np.finfo(np.float64).tiny`` (about 2.2e-308), an
    upper bound, never as 0.
    """
    from scipy.stats import ks_2samp

    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    rows = []
    for m in tested:
        own = np.flatnonzero(motif == m)
        background = (motif != m) & ~overlapping(flat_start, flat_end, own)
        foreground = sorted_scores[(motif == m)[order]]
        others = sorted_scores[background[order]]
        if not len(others):
            rows.append((m, len(own), np.nan, np.nan))
            continue
        test = ks_2samp(foreground, others)
        # U: per own site, the background sites below it, ties counted half.
        below = np.searchsorted(others, foreground, "left") + np.searchsorted(
            others, foreground, "right"
        )
        higher = below.sum() / 2 >= len(foreground) * len(others) / 2
        pvalue = max(float(test.pvalue), SMALLEST_PVALUE)
        rows.append((m, len(own), test.statistic * (1 if higher else -1), pvalue))
    return pd.DataFrame(rows, columns=["motif", "n_sites", "ks_d", "pvalue"]).set_index("motif")
