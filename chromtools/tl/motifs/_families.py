"""Families of similar motifs: paralogous TFs whose matrices match the same sites.

JASPAR holds several matrices for one binding preference (TP53, TP63 and
TP73; the ETS factors; the bHLH E-box), and a site of one is a site of the
others. An enrichment test then ranks the whole family together, and which
member comes first is chance. :func:`motif_similarity` compares two matrices
and :func:`motif_families` groups a ranked list of them, so a user (and a
test) can read the ranking one family at a time.

The similarity of two matrices is the cosine of their centred frequencies
(frequency - 0.25, so an uninformative column counts for nothing) over the
columns where they overlap, times the overlap over the longer length, at
the best offset and strand. Identical matrices score 1, a matrix and its
reverse complement 1, unrelated ones about 0.3–0.6.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._seqlets import reverse_complement

FAMILY_SIMILARITY = 0.75  # JASPAR's p53 family: 0.78–0.87; unrelated pairs ≤ 0.6


def _centred(frequencies: np.ndarray) -> np.ndarray:
    frequencies = np.asarray(frequencies, dtype=np.float64)
    if frequencies.ndim != 2 or frequencies.shape[1] != 4 or not len(frequencies):
        raise ValueError(
            f"a motif's frequencies must be a (length, 4) array, got shape {frequencies.shape}"
        )
    return frequencies - 0.25


def _min_overlap(length_a: np.ndarray | int, length_b: int) -> np.ndarray:
    """Columns two motifs must share for an alignment to count: half the shorter."""
    return np.maximum(1, (np.minimum(length_a, length_b) + 1) // 2)


def _best_alignment(padded: np.ndarray, lengths: np.ndarray, motif: np.ndarray) -> np.ndarray:
    """Similarity of ``motif`` (one strand, centred) with each of ``padded``'s motifs.

    ``padded`` is (motifs, longest, 4), centred and zero beyond each length.
    For an offset ``d``, column ``j`` of ``motif`` faces column ``j + d``.
    """
    n = len(motif)
    longest = padded.shape[1]
    dots = np.einsum("fik,jk->fij", padded, motif)  # (motifs, longest, n)
    own = np.cumsum((padded**2).sum(axis=2), axis=1)
    own = np.concatenate([np.zeros((len(padded), 1)), own], axis=1)  # own[:, i]: columns < i
    other = np.concatenate([[0.0], np.cumsum((motif**2).sum(axis=1))])
    best = np.zeros(len(padded))
    rows = np.arange(len(padded))
    for d in range(-(n - 1), longest):
        first = max(0, d)  # first column of the padded motifs in the overlap
        stop = np.minimum(lengths, n + d)  # one past the last, per motif
        overlap = stop - first
        valid = overlap >= _min_overlap(lengths, n)
        if not valid.any():
            continue
        dot = dots.diagonal(offset=-d, axis1=1, axis2=2).sum(axis=1)
        stop_clipped = np.clip(stop, first, longest)
        norm_a = own[rows, stop_clipped] - own[:, first]
        norm_b = other[np.clip(stop - d, 0, n)] - other[max(0, -d)]
        with np.errstate(invalid="ignore", divide="ignore"):
            cosine = dot / np.sqrt(norm_a * norm_b)
        score = np.where(valid, np.nan_to_num(cosine) * overlap / np.maximum(lengths, n), 0.0)
        best = np.maximum(best, score)
    return best


def _both_strands(padded: np.ndarray, lengths: np.ndarray, motif: np.ndarray) -> np.ndarray:
    forward = _best_alignment(padded, lengths, motif)
    reverse = _best_alignment(padded, lengths, reverse_complement(motif))
    return np.maximum(forward, reverse)


def _padded(motifs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.array([len(m) for m in motifs], dtype=np.int64)
    padded = np.zeros((len(motifs), int(lengths.max(initial=1)), 4))
    for i, m in enumerate(motifs):
        padded[i, : len(m)] = m
    return padded, lengths


def similarities(motif: np.ndarray, others: Sequence[np.ndarray]) -> np.ndarray:
    """:func:`motif_similarity` of ``motif`` with each of ``others``, in one pass."""
    motif = _centred(motif)
    if not len(others):
        return np.zeros(0)
    padded, lengths = _padded([_centred(o) for o in others])
    return _both_strands(padded, lengths, motif)


def motif_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """How alike two position frequency matrices are, from 0 to 1 (1: the same motif).

    The cosine of the centred frequencies over the overlapping columns,
    times the overlap over the longer length, maximised over offsets (at
    least half the shorter motif overlapping) and both strands of ``b``.

    Parameters
    ----------
    a, b
        (length, 4) frequencies, A, C, G, T.
    """
    return float(similarities(a, [b])[0])


def motif_families(
    frequencies: Sequence[np.ndarray], names: Sequence[str], threshold: float = FAMILY_SIMILARITY
) -> list[str]:
    """Group ranked motifs into families, named by their best-ranked member.

    Motifs are taken in the order given (an enrichment table's, best
    first). The first founds a family; each later one joins the family whose
    founder it is most similar to, if that similarity is at least
    ``threshold``, and otherwise founds its own.

    Parameters
    ----------
    frequencies
        (length, 4) matrices, best-ranked first.
    names
        The motifs' TF names; a family is named by its founder's.
    threshold
        Least :func:`motif_similarity` to a founder to join its family.

    Returns
    -------
    Each motif's family name, in the order given.
    """
    if len(frequencies) != len(names):
        raise ValueError(f"{len(frequencies)} motifs but {len(names)} names")
    founders: list[int] = []
    family: list[str] = []
    centred = [_centred(f) for f in frequencies]
    padded, lengths = _padded(centred) if centred else (np.zeros((0, 1, 4)), np.zeros(0, int))
    for i, motif in enumerate(centred):
        if founders:
            chosen = np.array(founders)
            similarity = _both_strands(padded[chosen], lengths[chosen], motif)
            best = int(np.argmax(similarity))
            if similarity[best] >= threshold:
                family.append(family[founders[best]])
                continue
        founders.append(i)
        family.append(str(names[i]))
    return family
