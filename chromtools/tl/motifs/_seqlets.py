"""Seqlets and the patterns they form: the core of ``denovo_motifs`` on plain arrays.

TF-MoDISco's idea, compact. A *seqlet* is a window of ``width`` bases whose
summed contribution is high: windows centred on local maxima of the window
sums, kept above a threshold whose false discovery rate is estimated from the
negative tail (noise is as likely negative as positive, a motif is not),
taken greedily without overlap. Each seqlet is compared with every other at
every offset up to ``max_shift`` and on both strands (cosine of their
contribution matrices); average-linkage clustering of those similarities
gives the patterns, each aligned to its most central member, and patterns
that are the same motif are merged.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.ndimage import maximum_filter1d

FLANK = 5  # bases kept on each side of a seqlet's core, so that alignment can shift it
TRIM = 0.3  # a pattern's flanks below this share of its most important column are trimmed
PSEUDOCOUNT = 0.01  # added to a pattern's base frequencies, so no probability is zero
MIN_NULL = 50  # fewer negative windows than this: the threshold is a high quantile instead
NULL_QUANTILE = 0.99


def window_sums(scores: np.ndarray, width: int) -> np.ndarray:
    """Sum of ``scores`` (regions, length) over each window of ``width`` bases."""
    cumulative = np.concatenate([np.zeros((len(scores), 1)), np.cumsum(scores, axis=1)], axis=1)
    return cumulative[:, width:] - cumulative[:, :-width]


def seqlet_threshold(sums: np.ndarray, fdr: float) -> float:
    """The least window sum whose estimated false discovery rate is at most ``fdr``.

    At a threshold ``t`` the false discoveries are estimated as the windows
    below ``-t``; without enough negative windows, the ``NULL_QUANTILE`` of
    the sums is the threshold.
    """
    values = sums[np.isfinite(sums)].ravel()
    positive = np.sort(values[values > 0])[::-1]
    negative = np.sort(-values[values < 0])
    if len(negative) < MIN_NULL or not len(positive):
        return float(np.quantile(values, NULL_QUANTILE)) if len(values) else np.inf
    null = len(negative) - np.searchsorted(negative, positive, side="left")
    ratio = null / np.arange(1, len(positive) + 1)
    qvalue = np.minimum.accumulate(ratio[::-1])[::-1]
    passing = np.flatnonzero(qvalue <= fdr)
    return float(positive[passing[-1]]) if len(passing) else np.inf


def call_seqlets(
    scores: np.ndarray, width: int, fdr: float, max_seqlets: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Seqlet cores in ``scores`` (regions, length; a base's summed contribution).

    Returns each seqlet's region row, core start and window sum (best first,
    at most ``max_seqlets``), and the threshold used.
    """
    sums = window_sums(np.nan_to_num(scores), width)
    threshold = seqlet_threshold(sums, fdr)
    peaks = (sums == maximum_filter1d(sums, size=width, axis=1, mode="nearest")) & (
        sums >= threshold
    )
    region, start = np.nonzero(peaks)
    order = np.argsort(-sums[region, start], kind="stable")
    taken: dict[int, list[int]] = {}
    kept = []
    for i in order:
        others = taken.setdefault(int(region[i]), [])
        if all(abs(int(start[i]) - s) >= width for s in others):
            others.append(int(start[i]))
            kept.append(i)
            if len(kept) == max_seqlets:
                break
    kept = np.array(kept, dtype=np.int64)
    return region[kept], start[kept], sums[region[kept], start[kept]], threshold


def reverse_complement(values: np.ndarray) -> np.ndarray:
    """(…, length, 4) A, C, G, T arrays read on the other strand."""
    return values[..., ::-1, ::-1]


def windows(values: np.ndarray, region: np.ndarray, start: np.ndarray, minus: np.ndarray,
            length: int) -> np.ndarray:  # fmt: skip
    """(seqlets, length, 4) windows of ``values`` (regions, bases, 4) from ``start``,
    reverse-complemented where ``minus``; bases beyond a region are zero."""
    pad = length + 2 * FLANK + 1
    padded = np.pad(np.nan_to_num(np.asarray(values, np.float32)), ((0, 0), (pad, pad), (0, 0)))
    first = np.clip(start + pad, 0, padded.shape[1] - length)
    out = padded[region[:, None], first[:, None] + np.arange(length)]
    out[minus] = reverse_complement(out[minus])
    return out


def aligned_similarity(matrices: np.ndarray, max_shift: int):
    """Best cosine of every pair of ``matrices`` (n, length, 4) over offsets and strands.

    Returns the similarity, the offset ``d`` and whether the second is
    reverse-complemented: position ``p`` of ``matrices[a]`` faces position
    ``p + d`` of ``matrices[b]`` (read on the other strand when so).
    """
    n, length, _ = matrices.shape
    norms = np.sqrt((matrices**2).sum(axis=(1, 2)))
    norms[norms == 0] = 1.0
    best = np.full((n, n), -np.inf)
    offset = np.zeros((n, n), dtype=np.int64)
    minus = np.zeros((n, n), dtype=bool)
    for strand, other in ((False, matrices), (True, reverse_complement(matrices))):
        for d in range(-max_shift, max_shift + 1):
            a = matrices[:, max(0, -d) : length - max(0, d)].reshape(n, -1)
            b = other[:, max(0, d) : length - max(0, -d)].reshape(n, -1)
            similarity = (a @ b.T) / np.outer(norms, norms)
            better = similarity > best
            best[better], offset[better], minus[better] = similarity[better], d, strand
    return best, offset, minus


@dataclasses.dataclass
class Pattern:
    """A cluster of seqlets aligned to its seed: where each comes from, and its matrices."""

    members: np.ndarray  # seqlet indices
    start: np.ndarray  # each member's aligned window start in its region (may pass its ends)
    minus: np.ndarray  # each member read on the minus strand
    contributions: np.ndarray  # (length, 4) mean contribution of the aligned, trimmed windows
    frequencies: np.ndarray  # (length, 4) base frequencies of the same windows


def _aligned(members: np.ndarray, similarity: np.ndarray, offset: np.ndarray, minus: np.ndarray,
             start: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Each member's window start and strand aligned to the most central member (the seed)."""
    inner = similarity[np.ix_(members, members)]
    seed = members[int(np.argmax(inner.sum(axis=1)))]
    d = offset[seed, members]
    flipped = minus[seed, members]
    # forward: the seed's position p faces the member's p + d; minus: the member read
    # reverse-complemented, whose window then starts d before its own
    return np.where(flipped, start[members] - d, start[members] + d), flipped


def _pattern(members, similarity, offset, minus, seqlets, contributions, onehot) -> Pattern:
    """The pattern of ``members``, aligned to its seed (see :func:`trimmed_pattern`)."""
    region, start, length = seqlets
    first, flipped = _aligned(members, similarity, offset, minus, start)
    return trimmed_pattern(members, region[members], first, flipped, length, contributions, onehot)


def trimmed_pattern(members: np.ndarray, region: np.ndarray, first: np.ndarray,
                    flipped: np.ndarray, length: int, contributions: np.ndarray,
                    onehot: np.ndarray) -> Pattern:  # fmt: skip
    """The pattern of aligned windows (``region``, ``first``, ``flipped``, ``length``): mean
    contribution and base frequencies, both trimmed to the columns that carry at least
    ``TRIM`` of the top column's weight."""
    window = windows(contributions, region, first, flipped, length)
    mean = window.mean(axis=0)
    weight = np.abs(mean).sum(axis=1)
    kept = np.flatnonzero(weight >= TRIM * weight.max())
    lo, hi = (int(kept[0]), int(kept[-1]) + 1) if len(kept) else (0, length)
    bases = windows(onehot, region, first + np.where(flipped, length - hi, lo), flipped,
                    hi - lo)  # fmt: skip
    counts = bases.sum(axis=0) + PSEUDOCOUNT
    return Pattern(
        members=members,
        start=first + np.where(flipped, length - hi, lo),
        minus=flipped,
        contributions=mean[lo:hi],
        frequencies=counts / counts.sum(axis=1, keepdims=True),
    )


def _merged(labels: np.ndarray, patterns: list[Pattern], min_similarity: float) -> np.ndarray:
    """``labels`` with patterns whose contribution matrices are alike given one label."""
    longest = max(len(p.contributions) for p in patterns)
    padded = np.zeros((len(patterns), longest, 4))
    for i, p in enumerate(patterns):
        padded[i, : len(p.contributions)] = p.contributions
    alike, _, _ = aligned_similarity(padded, max_shift=longest // 2)
    labels = labels.copy()
    for i in range(len(patterns)):
        for j in range(i):
            if alike[j, i] >= min_similarity:
                labels[patterns[i].members] = labels[patterns[j].members[0]]
                return labels
    return labels


def find_patterns(
    contributions: np.ndarray,
    onehot: np.ndarray,
    region: np.ndarray,
    core_start: np.ndarray,
    *,
    width: int,
    min_similarity: float,
    min_seqlets: int,
) -> list[Pattern]:
    """Cluster the seqlets (``region``, ``core_start``) of ``contributions`` into patterns,
    largest first; patterns of fewer than ``min_seqlets`` seqlets are dropped."""
    length = width + 2 * FLANK
    start = core_start - FLANK
    if len(region) < max(2, min_seqlets):
        return []
    matrices = windows(contributions, region, start, np.zeros(len(region), bool), length)
    similarity, offset, minus = aligned_similarity(matrices, max_shift=FLANK)
    similarity = np.maximum(similarity, similarity.T)  # alike either way round
    distance = np.clip(1 - similarity[np.triu_indices(len(region), k=1)], 0, 2)
    labels = fcluster(linkage(distance, "average"), t=1 - min_similarity, criterion="distance")
    seqlets = (region, start, length)
    while True:
        groups = [np.flatnonzero(labels == label) for label in np.unique(labels)]
        groups = sorted((g for g in groups if len(g) >= min_seqlets), key=len, reverse=True)
        args = (similarity, offset, minus, seqlets, contributions, onehot)
        patterns = [_pattern(g, *args) for g in groups]
        if len(patterns) < 2:
            return patterns
        merged = _merged(labels, patterns, min_similarity)
        if (merged == labels).all():
            return patterns
        labels = merged
