"""Scanning one-hot DNA for motifs (FIMO, via memelite): the array-level core.

:func:`scan` is a function of a one-hot array and a list of motifs. It checks
both, scans batches of motifs over chunks of sequences (:func:`_scan_chunks`),
drops the windows that cover an unknown base (N or padding: an all-zero
position, :func:`unknown_bases`) and gathers every hit into one site table
(:func:`_site_table`). :func:`~chromtools.tl.scan_motifs` runs the same steps
over ``varm['onehot']``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..._utils import check_int, check_number
from ._pvalues import _exact_zeros, _reachable

# Motifs per FIMO call: memelite's cost beyond the scan is a p-value table per
# motif plus a pass over the sequences per call, so a batch of 100 motifs keeps
# the second small and gives a progress bar 9 steps for JASPAR's 879.
MOTIFS_PER_CALL = 100
# Bases per FIMO call, so that memelite's per-position codes stay within memory.
_BASES_PER_CALL = 50_000_000


def _check_onehot(onehot: object, what: str) -> None:
    """Refuse anything but a (sequences, length, 4) array of 0 and 1."""
    shape = getattr(onehot, "shape", None)
    if shape is None or len(shape) != 3 or shape[2] != 4 or shape[1] < 1:
        raise ValueError(
            f"{what} must be one-hot DNA of shape (sequences, length, 4) with channels "
            f"A, C, G, T, got shape {shape}"
        )
    dtype = np.dtype(getattr(onehot, "dtype", object))
    if dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold 0 and 1 (bool, integer or float), got dtype {dtype}")


def _as_bool(onehot: np.ndarray, what: str) -> np.ndarray:
    """``onehot`` as booleans, refused unless every position has at most one 1 and 0 elsewhere."""
    if onehot.dtype.kind == "u":
        binary = onehot.max(initial=0) <= 1
    else:
        binary = bool(((onehot == 0) | (onehot == 1)).all())
    if not binary or not (onehot.sum(axis=2, dtype=np.uint8) <= 1).all():
        raise ValueError(
            f"{what} is not one-hot: every position needs one 1 (or none, for N) among "
            "its 4 channels and 0 elsewhere"
        )
    # memelite reads booleans fastest (uint8 of 0 and 1 has the same bytes).
    return onehot.view(bool) if onehot.dtype.itemsize == 1 else onehot.astype(bool)


def _check_motifs(motifs: object) -> list[np.ndarray]:
    """Each motif's frequencies as (4, length), the layout memelite reads."""
    if not isinstance(motifs, Sequence) or isinstance(motifs, str) or not motifs:
        raise ValueError(
            "motifs must be a non-empty list of dicts with 'matrix_id', 'name' and "
            f"'frequencies' (ct.io.read_jaspar), got {type(motifs).__name__}"
        )
    pwms = []
    for i, motif in enumerate(motifs):
        if not isinstance(motif, dict) or not {"matrix_id", "name", "frequencies"} <= set(motif):
            raise ValueError(
                f"motifs[{i}] must be a dict with 'matrix_id', 'name' and 'frequencies', "
                f"got {motif!r:.80}"
            )
        frequencies = np.asarray(motif["frequencies"], dtype=np.float64)
        if frequencies.ndim != 2 or frequencies.shape[1] != 4 or len(frequencies) == 0:
            raise ValueError(
                f"motifs[{i}] ({motif['matrix_id']}): frequencies must be (length, 4), "
                f"got shape {frequencies.shape}"
            )
        pwms.append(np.ascontiguousarray(frequencies.T))
    # The values of every motif at once: one check instead of 879 small ones.
    columns = np.concatenate(pwms, axis=1)
    bad = ~np.isfinite(columns).all(axis=0) | (columns < 0).any(axis=0)
    bad |= np.abs(columns.sum(axis=0) - 1) > 1e-3
    if bad.any():
        i = int(np.searchsorted(np.cumsum([p.shape[1] for p in pwms]), np.argmax(bad), "right"))
        raise ValueError(
            f"motifs[{i}] ({motifs[i]['matrix_id']}): frequencies must be non-negative with "
            "rows summing to 1"
        )
    ids = [str(m["matrix_id"]) for m in motifs]
    repeated = sorted({m for m in ids if ids.count(m) > 1})
    if repeated:
        raise ValueError(f"motifs repeat the matrix ids {repeated}")
    return pwms


def _no_hits() -> list[np.ndarray]:
    """The columns of :func:`_fimo_hits` with no row."""
    return [np.empty(0, dtype) for dtype in (np.int64,) * 4 + (bool, np.float64, np.float64)]


def _fimo_hits(
    sequences: np.ndarray,
    pwms: list[np.ndarray],
    motifs: np.ndarray,
    pvalue: float,
    unknown: np.ndarray,
) -> list[np.ndarray]:
    """memelite FIMO on both strands: ``[sequence, motif, start, end, minus, score, pvalue]``.

    ``unknown`` (:func:`unknown_bases` of ``sequences``): windows holding one
    of these bases are dropped, whatever their score.
    """
    from memelite import fimo

    # memelite takes frequencies and adds its own pseudocount before the log2.
    hits = fimo(
        {str(i): pwms[m] for i, m in enumerate(motifs)},
        sequences,
        threshold=pvalue,
        reverse_complement=True,
    )
    hits = [h for h in hits if len(h)]
    if not hits:
        return _no_hits()
    # One concat, then whole columns: 5× faster than a column of each motif's table.
    hits = pd.concat(hits, ignore_index=True)
    columns = ("sequence_name", "motif_idx", "start", "end", "strand", "score", "p-value")
    sequence, motif, start, end, strand, score, p = (hits[c].to_numpy() for c in columns)
    sequence, start, end = (c.astype(np.int64) for c in (sequence, start, end))
    # memelite scores an unknown base 0, so a window of N scores as well as a
    # good match to a long motif: such windows are never sites.
    known = ~_hold_unknown(unknown, sequences.shape[2], sequence, start, end)
    sequence, motif, start, end, strand, score, p = (
        c[known] for c in (sequence, motif, start, end, strand, score, p)
    )
    motif = motifs[motif.astype(np.int64)]
    score = score.astype(np.float64)
    p = _exact_zeros(pwms, motif, score, p.astype(np.float64))
    keep = p < pvalue
    return [column[keep] for column in (sequence, motif, start, end, strand == "-", score, p)]


# ---------------------------------------------------------------- unknown bases


def unknown_bases(onehot: np.ndarray) -> np.ndarray:
    """Where ``onehot`` holds no base: its all-zero positions, flat and sorted.

    N, every other letter that is not A, C, G or T, and the padding of a
    window beyond a chromosome end (:func:`~chromtools.io.read_regions`) are
    all-zero positions; no binding site may cover one.

    Parameters
    ----------
    onehot
        (sequences, length, 4) booleans (as :func:`_as_bool` returns them).

    Returns
    -------
    int64 positions ``sequence * length + position``, ascending.
    """
    return np.flatnonzero(~onehot.any(axis=2))


def _hold_unknown(
    unknown: np.ndarray, length: int, sequence: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Which windows ``[start, end)`` of ``sequence`` cover a position of ``unknown``."""
    if not len(unknown):
        return np.zeros(len(sequence), dtype=bool)
    first = sequence * length
    return np.searchsorted(unknown, first + start) < np.searchsorted(unknown, first + end)


def windows_with_unknown(unknown: np.ndarray, length: int, widths: Sequence[int]) -> int:
    """How many windows of motifs of ``widths`` cover a position of ``unknown``.

    A window is one motif at one start in one sequence (its two strands are one
    window). Per sequence with an unknown base, the windows of width ``w`` that
    cover none are those inside its runs of known bases, ``max(run - w + 1, 0)``
    per run; every other window is counted.

    Parameters
    ----------
    unknown
        :func:`unknown_bases` of (sequences, ``length``, 4) DNA.
    length
        Bases per sequence.
    widths
        One length per motif scanned.

    Returns
    -------
    The number of windows, summed over the motifs.
    """
    if not len(unknown):
        return 0
    sequence, position = np.divmod(unknown, length)
    first = np.r_[True, sequence[1:] != sequence[:-1]]  # first unknown base of its sequence
    last = np.r_[first[1:], True]
    # Known runs: before a sequence's first unknown base, between two, after its last.
    between = np.diff(position)[~first[1:]] - 1
    runs = np.concatenate([position[first], between, length - 1 - position[last]])
    n_sequences = int(first.sum())
    widths, motifs = np.unique(np.asarray(widths, dtype=np.int64), return_counts=True)
    total = 0
    for width, count in zip(widths, motifs, strict=True):
        if width > length:
            continue
        clear = int(np.maximum(runs - width + 1, 0).sum())
        total += int(count) * (n_sequences * int(length - width + 1) - clear)
    return total


def _scan_chunks(
    onehot, pwms: list[np.ndarray], pvalue: float, batches: list[np.ndarray], what: str
) -> Iterable[tuple[list[np.ndarray], int]]:
    """FIMO hits of every batch of motifs over every chunk of sequences, each with the
    number of that batch's windows skipped for covering an unknown base."""
    n, length, _ = onehot.shape
    for offset in range(0, n, _sequences_per_call(length)):
        chunk = _as_bool(np.asarray(onehot[offset : offset + _sequences_per_call(length)]), what)
        unknown = unknown_bases(chunk)
        sequences = np.ascontiguousarray(chunk.transpose(0, 2, 1))
        for motifs in batches:
            hits = _fimo_hits(sequences, pwms, motifs, pvalue, unknown)
            hits[0] += offset
            widths = [pwms[m].shape[1] for m in motifs]
            yield hits, windows_with_unknown(unknown, length, widths)


def _sequences_per_call(length: int) -> int:
    """Sequences of ``length`` bases per FIMO call (at least one)."""
    return max(1, _BASES_PER_CALL // length)


def _batches(pwms: list[np.ndarray], pvalue: float, batch_size: int) -> list[np.ndarray]:
    """The motifs that can reach ``pvalue``, ``batch_size`` at a time."""
    reachable = _reachable(pwms, pvalue)
    return [reachable[i : i + batch_size] for i in range(0, len(reachable), batch_size)]


def _unreachable(pwms: list[np.ndarray], batches: list[np.ndarray]) -> list[int]:
    """The motifs left out of ``batches`` (their consensus misses the threshold)."""
    scanned = np.concatenate(batches) if batches else []
    return sorted(set(range(len(pwms))) - {int(i) for i in scanned})


def _site_table(
    hits: list[list[np.ndarray]], motifs: Sequence[dict], regions: pd.Index | None
) -> pd.DataFrame:
    """One sorted table of every hit, with categorical ids, names, strands and regions."""
    if not hits:
        hits = [_no_hits()]
    sequence, motif, start, end, minus, score, p = (
        np.concatenate(c) for c in zip(*hits, strict=True)
    )
    order = np.lexsort((minus, motif, start, sequence))
    ids = [str(m["matrix_id"]) for m in motifs]
    names = pd.Index([str(m["name"]) for m in motifs])
    name_codes, name_categories = pd.factorize(names)
    motif = motif[order]
    sequence = sequence[order]
    region = sequence if regions is None else pd.Categorical.from_codes(sequence, regions)
    return pd.DataFrame(
        {
            "region": region,
            "motif_id": pd.Categorical.from_codes(motif, ids),
            "tf_name": pd.Categorical.from_codes(name_codes[motif], name_categories),
            "start": start[order],
            "end": end[order],
            "strand": pd.Categorical.from_codes(minus[order].astype(np.int8), ["+", "-"]),
            "score": score[order],
            "pvalue": p[order],
        }
    )


def scan(
    onehot: np.ndarray,
    motifs: Sequence[dict],
    pvalue: float = 1e-5,
    *,
    batch_size: int = MOTIFS_PER_CALL,
) -> pd.DataFrame:
    """Binding sites of motifs in one-hot DNA, on both strands (FIMO, via memelite).

    A window's score is the sum over its bases of ``log2((frequency + 1e-4) /
    0.25)`` (memelite's pseudocount, a uniform background); its p-value is the
    chance of that score or more under the background. Minus-strand sites are
    those of the reverse-complement matrix, reported in forward coordinates.
    A window that covers a position with no base (N: all four channels 0) is
    never a site: memelite scores such a base 0, which over a long motif beats
    most real sequence.

    Parameters
    ----------
    onehot
        (sequences, length, 4) DNA, channels A, C, G, T; an all-zero position is N.
    motifs
        Dicts with ``matrix_id``, ``name`` and ``frequencies`` (length × 4), as
        :func:`~chromtools.io.read_jaspar` returns them.
    pvalue
        Keep sites with a p-value below this.
    batch_size
        Motifs per FIMO call.

    Returns
    -------
    Sites sorted by sequence and start: ``region`` (position of the sequence
    in ``onehot``), ``motif_id`` and ``tf_name`` (categorical), ``start`` and
    ``end`` (0-based, end exclusive, forward-strand coordinates), ``strand``
    (``"+"``/``"-"``), ``score`` (log2 odds) and ``pvalue``. Its
    ``attrs['n_windows_unknown']`` is the number of windows not scanned for
    covering an N (a motif at one start in one sequence, both strands; summed
    over the motifs scanned).
    """
    _check_onehot(onehot, "onehot")
    pwms = _check_motifs(motifs)
    pvalue = check_number(pvalue, "pvalue", minimum=0, maximum=1, strict_minimum=True)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    batches = _batches(pwms, pvalue, batch_size)
    hits, skipped = _gathered(_scan_chunks(onehot, pwms, pvalue, batches, "onehot"))
    table = _site_table(hits, motifs, None)
    table.attrs["n_windows_unknown"] = skipped
    return table


def _gathered(steps: Iterable[tuple[list[np.ndarray], int]]) -> tuple[list[list[np.ndarray]], int]:
    """The hits of every step of :func:`_scan_chunks`, and the windows they skipped in all."""
    hits, skipped = [], 0
    for step, n in steps:
        hits.append(step)
        skipped += n
    return hits, skipped
