"""Input matching: the distribution of a model's training signal, and the monotone map that
gives another cell type's signal that distribution.

A fitted histone model records, per mark, the quantiles of its training input
(:func:`signal_quantiles`, at :data:`PROBS`). A target processed by another
pipeline (another depth, a square root or log of coverage, another
background) has the same ranks of signal but other values; :func:`quantile_map`
sends each of its values to the reference value at the same quantile, per mark,
using the target's own signal only. :func:`shift` says how far apart two
distributions are (the largest gap between their CDFs, as the KS statistic).
"""

from __future__ import annotations

import dask.array as da
import numpy as np

# The quantiles recorded and matched: every half percentile.
PROBS = np.linspace(0.0, 1.0, 201)
# Genes read per cell type to take quantiles: evenly spaced, enough for 201 quantiles.
MAX_GENES = 2000


def signal_quantiles(array, cells: np.ndarray, genes: np.ndarray | None = None) -> np.ndarray:
    """Quantiles (marks, :data:`PROBS`) of the finite values of ``array`` (cell types,
    genes, marks, bins; numpy or dask) over ``cells`` × ``genes`` (all by default, at most
    :data:`MAX_GENES` evenly spaced) × bins; NaN for a mark without finite values."""
    genes = np.arange(array.shape[1]) if genes is None else np.flatnonzero(genes)
    if len(genes) > MAX_GENES:
        genes = genes[np.linspace(0, len(genes) - 1, MAX_GENES).round().astype(int)]
    part = array[np.asarray(cells)][:, genes]
    part = np.asarray(part.compute() if isinstance(part, da.Array) else part, np.float64)
    out = np.full((part.shape[2], len(PROBS)), np.nan)
    for mark in range(part.shape[2]):
        values = part[:, :, mark].ravel()
        values = values[np.isfinite(values)]
        if len(values):
            out[mark] = np.quantile(values, PROBS)
    return out


def quantile_map(own: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The map from a distribution with quantiles ``own`` onto one with quantiles
    ``reference`` (both at :data:`PROBS`), as ``np.interp`` tables ``(x, y)``.

    A value tied over several quantiles (the zeros of sparse signal) goes to the
    reference quantile in the middle of its block, so ties stay ties and the map
    stays monotone.
    """
    x, block = np.unique(own, return_inverse=True)
    middle = np.bincount(block, weights=PROBS) / np.bincount(block)
    return x, np.interp(middle, PROBS, reference)


def mapped(values, tables: tuple[np.ndarray, np.ndarray]):
    """``values`` sent through a :func:`quantile_map`; NaN stays NaN."""
    x, y = tables
    if len(x) == 1:  # a constant track: every value goes to the middle of the reference
        return np.where(np.isfinite(values), y[0], np.nan).astype(np.float32)
    return np.where(np.isfinite(values), np.interp(values, x, y), np.nan).astype(np.float32)


def shift(own: np.ndarray, reference: np.ndarray) -> float:
    """The largest gap between the CDFs of two distributions given by their quantiles
    (0: the same distribution, 1: disjoint), as the KS statistic."""
    grid = np.union1d(own, reference)
    return float(np.max(np.abs(_cdf(own, grid) - _cdf(reference, grid))))


def _cdf(quantiles: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The CDF at ``at`` of the distribution with these quantiles (at :data:`PROBS`)."""
    x, block = np.unique(quantiles, return_inverse=True)
    top = np.zeros(len(x))
    np.maximum.at(top, block, PROBS)
    return np.interp(at, x, top, left=0.0, right=1.0)


def track_maps(
    signal, row: int, have: list[str], reference: dict, what: str
) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
    """For one cell type (``row`` of ``signal``, marks ``have``): per mark position, the
    :func:`quantile_map` of its signal onto ``reference`` (mark → quantiles); None when it
    has no signal at all (no ChIP-seq). A mark without signal is refused, naming ``what``."""
    quantiles = signal_quantiles(signal, [row])
    if np.isnan(quantiles).all():
        return None
    maps = {}
    for mark, target in reference.items():
        position = have.index(mark)
        if np.isnan(quantiles[position]).any():
            raise ValueError(f"{what}: no {mark} signal to match")
        maps[position] = quantile_map(quantiles[position], np.asarray(target, np.float64))
    return maps


def matched_array(array, tables: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]):
    """``array`` (cell types, genes, marks, bins) with the (cell, mark) tracks named in
    ``tables`` mapped: a new numpy array, or a lazy dask array for a dask one."""
    if not isinstance(array, da.Array):
        out = np.array(array, dtype=np.float32)
        for (cell, mark), table in tables.items():
            out[cell, :, mark] = mapped(out[cell, :, mark], table)
        return out

    def block(values: np.ndarray, block_info=None) -> np.ndarray:
        (cell_from, _), _, (mark_from, _), _ = block_info[0]["array-location"]
        values = np.array(values, dtype=np.float32)
        for (cell, mark), table in tables.items():
            c, m = cell - cell_from, mark - mark_from
            if 0 <= c < values.shape[0] and 0 <= m < values.shape[2]:
                values[c, :, m] = mapped(values[c, :, m], table)
        return values

    return array.map_blocks(block, dtype=np.float32)
