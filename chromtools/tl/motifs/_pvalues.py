"""Exact p-values of motif scores under a uniform background.

memelite's FIMO scores a window by the log-odds of its bases (:func:`_log_odds`)
and reads its p-value from a binned table that ends at the largest sum of
rounded column scores, so the top of a motif's distribution reads p = 0.
:func:`tail_pvalue` counts the sequences that reach a score exactly;
:func:`_exact_zeros` puts its values where memelite's table has none, and
:func:`_reachable` finds the motifs whose consensus can pass a threshold at all.
"""

from __future__ import annotations

import numpy as np

_PSEUDOCOUNT = 1e-4  # memelite's default eps
# Scores are sums of float64 log-odds; one computed in another order may differ by this.
_SCORE_TOLERANCE = 1e-9


def _log_odds(pwm: np.ndarray) -> np.ndarray:
    """(length, 4) log2 odds of a (4, length) frequency matrix, exactly as memelite scores."""
    return (np.log2(pwm + _PSEUDOCOUNT) - np.log2(0.25)).T


def tail_pvalue(log_odds: np.ndarray, score: float, limit: int = 1_000_000) -> float | None:
    """Exact chance that a uniformly random sequence scores ``score`` or more.

    Every sequence that can still reach ``score`` is followed base by base, so
    the cost grows with the number of such sequences: cheap for the top of the
    distribution, where memelite's binned table has nothing.

    Parameters
    ----------
    log_odds
        (length, 4) score of each base at each position.
    score
        The window score.
    limit
        Give up (return ``None``) when more partial sequences than this remain.

    Returns
    -------
    The p-value, or ``None`` past ``limit``.
    """
    best_rest = np.append(np.cumsum(log_odds.max(axis=1)[::-1])[::-1], 0.0)
    partial = np.zeros(1)
    for i, row in enumerate(log_odds):
        partial = (partial[:, None] + row[None, :]).ravel()
        partial = partial[partial + best_rest[i + 1] >= score - _SCORE_TOLERANCE]
        if len(partial) > limit:
            return None
    return len(partial) / 4.0 ** len(log_odds)


def _exact_zeros(
    pwms: list[np.ndarray], motif: np.ndarray, score: np.ndarray, p: np.ndarray
) -> np.ndarray:
    """memelite's p-values with its zeros replaced by exact ones.

    memelite's table ends at the largest sum of rounded column scores, so a
    window scoring above it (a motif's consensus, often) reads p = 0, and
    passes any threshold even when no window of the motif can reach it.
    """
    zero = np.flatnonzero(p == 0)
    if not len(zero):
        return p
    p = p.copy()
    pairs, inverse = np.unique(np.stack([motif[zero], score[zero]]), axis=1, return_inverse=True)
    exact = np.array([_tail_or_best(_log_odds(pwms[int(m)]), s) for m, s in pairs.T])
    p[zero] = exact[inverse.ravel()]
    return p


def _tail_or_best(log_odds: np.ndarray, score: float) -> float:
    """``tail_pvalue``, or where too many sequences score that high, the consensus' p-value
    (a lower bound, so the site is kept)."""
    exact = tail_pvalue(log_odds, score)
    return _best_pvalue(log_odds) if exact is None else exact


def _best_pvalue(log_odds: np.ndarray) -> float:
    """The p-value of a motif's consensus score.

    Every sequence with a top base at each position reaches it: the product
    of each column's share of tied top bases (``tail_pvalue`` at the largest
    score, column by column).
    """
    top = log_odds >= log_odds.max(axis=1, keepdims=True) - _SCORE_TOLERANCE
    return float(np.prod(top.sum(axis=1) / 4))


def _reachable(pwms: list[np.ndarray], pvalue: float) -> np.ndarray:
    """The motifs whose best window (the consensus) has a p-value below ``pvalue``."""
    best = np.array([_best_pvalue(_log_odds(pwm)) for pwm in pwms])
    return np.flatnonzero(best < pvalue)
