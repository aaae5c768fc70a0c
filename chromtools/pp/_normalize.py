"""Normalising the histone signal per track (cell type × mark): depth, log1p, z-score.

The per-track statistics are taken in one pass (chunk by chunk for lazy
signal); tracks with infinite values, or negative ones for the depth and
log1p methods, are refused before anything changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import dask.array as da
import numpy as np
import pandas as pd
from anndata import AnnData

from .._dask import compute, resolve_client
from .._docs import SHARED, doc_params
from .._utils import dask_progress
from ..get._aligned import histone, marks
from ._signal import HISTONE, LOG_METHODS, binned_metadata, record, start

if TYPE_CHECKING:
    from distributed import Client

NormalizeMethod = Literal["depth_log1p", "log1p", "depth", "zscore"] | None
NORMALIZE_METHODS: tuple[NormalizeMethod, ...] = ("depth_log1p", "log1p", "depth", "zscore", None)


def _track_statistics(signal, *, spread: bool, client: Client | None) -> dict[str, np.ndarray]:
    """Per-(cell type, mark) summaries over genes and bins, in one pass.

    ``mean`` (and ``sd`` when ``spread``) skip NaN values without warnings; a
    track with no values at all (a cell type without ChIP-seq) gets NaN.
    ``infinite`` counts infinite values and ``minimum`` is the smallest
    finite-or-infinite value (``inf`` for a track of NaN only). Dask input is
    reduced chunk by chunk, on ``client``'s cluster when there is one; only the
    small (cell types, marks) result comes back.
    """
    signal = signal.astype(np.float64)
    present = ~np.isnan(signal)
    infinite = np.isinf(signal)
    finite = np.where(infinite, np.nan, signal)
    sums = [
        present.sum(axis=(1, 3)) - infinite.sum(axis=(1, 3)),
        np.nansum(finite, axis=(1, 3)),
        infinite.sum(axis=(1, 3)),
        np.where(present, signal, np.inf).min(axis=(1, 3)),
    ]
    if spread:
        sums.append(np.nansum(finite * finite, axis=(1, 3)))
    if isinstance(signal, da.Array):
        with dask_progress("normalize: per-track statistics"):
            sums = compute(*sums, client=client)
    count, total, n_infinite, minimum, *squares = (np.asarray(x, dtype=np.float64) for x in sums)
    nothing = np.full(count.shape, np.nan)
    mean = np.divide(total, count, out=nothing.copy(), where=count > 0)
    result = {"mean": mean, "sd": None, "infinite": n_infinite, "minimum": minimum}
    if spread:
        second = np.divide(squares[0], count, out=nothing.copy(), where=count > 0)
        result["sd"] = np.sqrt(np.clip(second - mean**2, 0, None))
    return result


def _tracks(adata: AnnData, mask: np.ndarray, values: np.ndarray | None = None) -> str:
    """``'E003 H3K4me3 (2)'``-style names of the (cell type, mark) tracks in ``mask``."""
    names = marks(adata)
    rows, columns = np.nonzero(mask)
    shown = [
        f"{adata.obs_names[r]} {names[c]}" + ("" if values is None else f" ({values[r, c]:g})")
        for r, c in zip(rows[:10], columns[:10], strict=True)
    ]
    return ", ".join(shown) + (f" and {len(rows) - 10} more" if len(rows) > 10 else "")


def _check_tracks(adata: AnnData, statistics: dict, method: str) -> None:
    """Refuse infinite signal, and negative signal for the depth and log1p methods."""
    infinite = statistics["infinite"] > 0
    if infinite.any():
        raise ValueError(
            f"normalize: the histone signal holds infinite values in the tracks (cell type, "
            f"mark, count) {_tracks(adata, infinite, statistics['infinite'])}; their scale "
            "factor would be infinite and the track silently unscaled. Fix those values "
            "(NaN marks missing signal) before normalising"
        )
    negative = statistics["minimum"] < 0
    if method != "zscore" and negative.any():
        raise ValueError(
            f"normalize: method={method!r} needs non-negative read counts or coverage, but "
            f"tracks (cell type, mark, minimum) {_tracks(adata, negative, statistics['minimum'])} "
            "have negative values; use method='zscore', or normalise the raw signal"
        )


@doc_params(**SHARED)
def normalize(
    adata: AnnData,
    method: NormalizeMethod = "depth_log1p",
    *,
    force: bool = False,
    copy: bool = False,
    client: Client | None = None,
) -> AnnData | None:
    """Transform the histone signal so that cell types become comparable.

    Cell types differ in sequencing depth (in the Roadmap sample, H1 cells,
    ``E003``, have about 3× the H3K27me3 and 2× the H3K4me3 reads of K562,
    ``E123``), so a model fitted on raw counts of one cell type sees shifted
    input in another. Each (cell type, mark) pair is one *track*:

    ``"depth_log1p"`` (default)
        ``log1p(x / s)`` with ``s`` the track's mean over all genes of
        ``adata.var`` and all bins: removes depth differences, then compresses
        the heavy tail of counts.
    ``"depth"``
        ``x / s`` only (every track then has mean 1).
    ``"log1p"``
        ``log1p(x)`` only; depth differences remain.
    ``"zscore"``
        ``(x - mean) / sd`` per track.
    ``None``
        Leave the signal as it is, but record that it is deliberately raw
        (refused once the signal was normalised).

    A track that is all zero keeps its zeros (scale factor 1); a cell type with
    no histone signal (all NaN, no ChIP-seq) stays NaN, without warnings.
    Statistics are taken over the genes of the current ``var``, and applied to
    every gene stored. Lazy (dask) signal stays lazy: only the per-track
    statistics are computed, chunk by chunk. Normalising twice is refused
    unless ``force=True``; crop and rebin before normalising.

    Parameters
    ----------
    adata
        Object with ``obsm['histone']``.
    method
        One of ``"depth_log1p"``, ``"depth"``, ``"log1p"``, ``"zscore"`` or ``None``.
    force
        Normalise even though ``uns['chromtools']['pp']['normalize']`` says the
        signal was normalised already.
    copy
        Return a normalised copy instead of changing ``adata``.
    client
        {client}
        For lazy signal the per-track statistics are computed there; the
        transform itself stays lazy.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets

    ``adata.obsm['histone']``
        The transformed signal, float32.
    ``adata.uns['chromtools']['pp']['normalize']``
        ``method``; ``n_genes`` the statistics were taken over; for
        ``"depth"``/``"depth_log1p"``/``"zscore"`` ``scale_factors``, a
        DataFrame (cell types × marks) of the divisor applied to each track
        (NaN for tracks without signal); for ``"zscore"`` also ``centers``
        (the subtracted means); ``previous`` (the method of an earlier
        normalisation when ``force=True`` overrode it, else ``None``).
    """
    if method not in NORMALIZE_METHODS:
        raise ValueError(
            f"normalize: unknown method {method!r}; expected one of {list(NORMALIZE_METHODS)}"
        )
    meta, _, _ = binned_metadata(adata, "normalize")
    client = resolve_client(client, "normalize")
    if not isinstance(force, bool):
        raise ValueError(f"normalize: force must be True or False, got {force!r}")
    previous = meta.get("pp", {}).get("normalize")
    previous_method = previous.get("method") if previous is not None else None
    if previous is not None and "method" not in previous:
        # ad.concat(uns_merge="same") of objects normalised differently drops the method
        previous_method = "unknown (the record has no method, e.g. after ad.concat)"
    if previous_method is not None and method is None:
        raise ValueError(
            f"normalize: the histone signal was already normalised with {previous_method!r}; "
            "method=None would record it as raw, which it no longer is"
        )
    if previous_method is not None and not force:
        raise ValueError(
            f"normalize: the histone signal was already normalised with {previous_method!r} "
            "(uns['chromtools']['pp']['normalize']); normalising twice compounds the "
            "transforms. Pass force=True to do it anyway"
        )
    statistics = None
    if method is not None:
        statistics = _track_statistics(histone(adata), spread=method == "zscore", client=client)
        _check_tracks(adata, statistics, method)
    adata = start(adata, copy)
    params: dict = {"method": method, "n_genes": adata.n_vars, "previous": previous_method}
    if method is None:
        record(adata, "normalize", params)
        return adata if copy else None

    stored = adata.obsm[HISTONE]
    if method in ("depth", "depth_log1p", "zscore"):
        mean, sd = statistics["mean"], statistics["sd"]
        scale = mean if sd is None else sd
        has_signal = np.isfinite(scale)
        # all-zero (or constant) tracks are left as they are rather than divided by 0
        scale = np.where(has_signal & (scale == 0), 1.0, scale)
        divisor = np.where(has_signal, scale, 1.0).astype(np.float32)[:, None, :, None]
        index, columns = pd.Index(adata.obs_names), pd.Index(marks(adata))
        params["scale_factors"] = pd.DataFrame(scale, index=index, columns=columns)
        if method == "zscore":
            center = np.where(np.isfinite(mean), mean, 0.0).astype(np.float32)[:, None, :, None]
            stored = stored - center
            params["centers"] = pd.DataFrame(mean, index=index, columns=columns)
        stored = stored / divisor
    if method in LOG_METHODS:
        stored = np.log1p(stored)
    adata.obsm[HISTONE] = stored.astype(np.float32)
    record(adata, "normalize", params)
    return adata if copy else None
