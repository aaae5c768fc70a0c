"""One-hot DNA: the base encoding every sequence of chromtools shares, and padding.

Axis 2 is A, C, G, T (in that order); lowercase (soft-masked) bases count as
their uppercase letter; ``N`` and any other letter, and positions beyond a
sequence's end, are all-zero rows. Because the complement of A, C, G, T is
T, G, C, A, a reverse complement is a flip of both the position and the base
axis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BASES = "ACGT"
# Byte → one-hot row. Every byte that is not A/C/G/T in either case (N, IUPAC
# codes, gaps) maps to the all-zero row.
_LOOKUP = np.zeros((256, 4), dtype=np.uint8)
for _i, _base in enumerate(BASES):
    _LOOKUP[ord(_base), _i] = 1
    _LOOKUP[ord(_base.lower()), _i] = 1
PAD = ord("N")
#: var columns of :func:`read_regions`: padded bases at the start and at the end
#: of each region's window, as read (after any reverse complement).
PADDED = ("n_padded_start", "n_padded_end")
# Regions fetched per vectorised gather: 4,096 × 600 bp of int64 byte offsets
# is 20 MB, whatever the number of regions.
CHUNK = 4096


def encode(sequences: np.ndarray, minus: np.ndarray | None = None) -> np.ndarray:
    """One-hot encode ASCII sequences of equal length.

    Parameters
    ----------
    sequences
        uint8 array (regions, length) of ASCII letters.
    minus
        Boolean per region: reverse-complement these.

    Returns
    -------
    uint8 array (regions, length, 4) in A, C, G, T order.
    """
    onehot = _LOOKUP[np.asarray(sequences, dtype=np.uint8)]
    if minus is not None and np.any(minus):
        # Flipping the base axis turns A,C,G,T into T,G,C,A: the complement.
        onehot[minus] = onehot[minus, ::-1, ::-1]
    return onehot


def padding(
    start: np.ndarray, width: int, length: np.ndarray, minus: np.ndarray | None = None
) -> pd.DataFrame:
    """How many bases of each window lie beyond its sequence: the padded (all-zero) rows.

    Parameters
    ----------
    start
        0-based start of each window on its sequence; may be negative.
    width
        Length of every window.
    length
        Length of each window's sequence (chromosome or FASTA record).
    minus
        Boolean per window: read reverse-complemented, so its first padded
        bases are those beyond the sequence's end.

    Returns
    -------
    :data:`PADDED` columns: per window, the padded bases at the start and at
    the end of the window as read.
    """
    before = np.clip(-start, 0, width)
    after = np.clip(start + width - length, 0, width)
    if minus is not None:
        before, after = np.where(minus, after, before), np.where(minus, before, after)
    return pd.DataFrame(dict(zip(PADDED, (before, after), strict=True)), dtype=np.int64)


def with_padding(var: pd.DataFrame, padded: pd.DataFrame) -> pd.DataFrame:
    """``var`` with the :data:`PADDED` columns (replacing any of the same names)."""
    var = var.drop(columns=[c for c in PADDED if c in var.columns])
    return var.assign(**{c: padded[c].to_numpy() for c in PADDED})
