"""Histone-signal preprocessing: crop the window, merge bins, normalise each track.

Every ``ct.pp`` function records what it ran in
``adata.uns['chromtools']['pp'][<function name>]`` (the latest call of each);
the helpers that do so live here and are shared by the other ``pp`` modules.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import dask.array as da
import numpy as np
import pandas as pd
from anndata import AnnData

from .._dask import compute, resolve_client
from .._docs import SHARED, doc_params
from .._results import materialised
from .._utils import check_int, dask_progress
from ..get._aligned import META, histone, marks, metadata

if TYPE_CHECKING:
    from distributed import Client

HISTONE = "histone"

NormalizeMethod = Literal["depth_log1p", "log1p", "depth", "zscore"] | None
NORMALIZE_METHODS: tuple[NormalizeMethod, ...] = ("depth_log1p", "log1p", "depth", "zscore", None)
# Methods whose output is on a log scale: averaging it (rebin) is not the same as
# averaging the counts first.
_LOG_METHODS = ("depth_log1p", "log1p")


def start(adata: AnnData, copy: bool) -> AnnData:
    """The object to change: a copy, or ``adata`` itself with a view made actual.

    Writing into a view would silently copy it with an anndata warning; as
    scanpy does, an explicit ``copy=False`` on a view turns the view into an
    actual object first.
    """
    if not isinstance(copy, bool):
        raise ValueError(f"copy must be True or False, got {copy!r}")
    return adata.copy() if copy else materialised(adata)


def record(adata: AnnData, step: str, params: dict, **updates) -> None:
    """Store ``params`` as ``uns['chromtools']['pp'][step]`` and update other metadata."""
    meta = dict(metadata(adata))
    steps = dict(meta.get("pp", {}))
    steps[step] = params
    meta.update(updates, pp=steps)
    adata.uns[META] = meta


def _binned_metadata(adata: AnnData, step: str) -> tuple[dict, int, tuple[int, int]]:
    """Metadata, bin size and window of the histone signal, refusing objects without it."""
    if HISTONE not in adata.obsm:
        raise KeyError(
            f"{step}: adata.obsm['histone'] does not exist; {step} needs binned histone "
            "signal as read by ct.io.read_bigwigs, read_deepdiff or read_deepchrome"
        )
    meta = metadata(adata)
    missing = [key for key in ("bin_size", "window", "marks") if key not in meta]
    if missing:
        raise KeyError(f"{step}: uns['chromtools'] lacks {missing}, needed to interpret the bins")
    window = tuple(int(v) for v in np.asarray(meta["window"]).ravel())
    return meta, int(meta["bin_size"]), window


def _refuse_stale_arrays(adata: AnnData, step: str) -> None:
    """Refuse to change the bins under model results stored on the old bins."""
    others = [
        key
        for key, value in adata.obsm.items()
        if key != HISTONE and getattr(value, "ndim", 0) == 4
    ]
    if others:
        raise ValueError(
            f"{step}: obsm {others} hold model results on the current bins and would no "
            f"longer line up after {step}; {step} before fitting models, or delete them first"
        )


def _contiguous(array):
    return array if isinstance(array, da.Array) else np.ascontiguousarray(array)


def crop(adata: AnnData, window: Sequence[int], *, copy: bool = False) -> AnnData | None:
    """Keep only the bins inside a narrower window around the TSS.

    ``crop(adata, (-5000, 5000))`` on the ±10 kb, 100 bp bins of the Roadmap
    data keeps bins 51–150 of 200, the DeepChrome/AttentiveChrome setting.
    Lazy (dask) signal stays lazy.

    Parameters
    ----------
    adata
        Object with ``obsm['histone']`` and ``uns['chromtools']`` ``bin_size``
        and ``window``.
    window
        ``(start, end)`` in bp relative to the TSS; must lie inside the current
        window and start and end on edges of the current bins.
    copy
        Return a cropped copy instead of changing ``adata``.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets

    ``adata.obsm['histone']``
        The bins inside ``window`` only.
    ``adata.uns['chromtools']['window']``
        The new window.
    ``adata.uns['chromtools']['pp']['crop']``
        ``window``, ``previous_window`` and ``bins`` (first and one-past-last
        index, 0-based, into the previous bins).
    """
    meta, bin_size, current = _binned_metadata(adata, "crop")
    if isinstance(window, str) or not isinstance(window, Sequence | np.ndarray) or len(window) != 2:
        raise ValueError(f"crop: window must be (start, end) around the TSS, got {window!r}")
    try:
        start_bp = check_int(window[0], "window start")
        end_bp = check_int(window[1], "window end")
    except ValueError as error:
        raise ValueError(
            f"crop: {error}; the window is (start, end) in whole bp around the TSS, got {window!r}"
        ) from None
    if end_bp <= start_bp:
        raise ValueError(f"crop: window end must be greater than its start, got {window!r}")
    if start_bp < current[0] or end_bp > current[1]:
        raise ValueError(
            f"crop: window {(start_bp, end_bp)} is not inside the current window {current}; "
            "crop can only narrow the window"
        )
    off_edge = [bp for bp in (start_bp, end_bp) if (bp - current[0]) % bin_size]
    if off_edge:
        raise ValueError(
            f"crop: window {(start_bp, end_bp)} does not fall on bin edges ({off_edge} bp); "
            f"the current {bin_size} bp bins start at {current[0]}, so start and end must be "
            f"{current[0]} plus a multiple of {bin_size}"
        )
    _refuse_stale_arrays(adata, "crop")
    adata = start(adata, copy)
    first, last = (start_bp - current[0]) // bin_size, (end_bp - current[0]) // bin_size
    adata.obsm[HISTONE] = _contiguous(adata.obsm[HISTONE][..., first:last])
    record(
        adata,
        "crop",
        {"window": [start_bp, end_bp], "previous_window": list(current), "bins": [first, last]},
        window=[start_bp, end_bp],
    )
    return adata if copy else None


def rebin(adata: AnnData, bin_size: int, *, copy: bool = False) -> AnnData | None:
    """Merge adjacent bins into wider ones, taking the mean of the merged bins.

    The mean keeps values on the scale of the original bins (signal per
    ``bin_size`` of the input), so signal rebinned to different sizes stays
    comparable; multiply by ``bin_size // old_bin_size`` for the sum (total
    reads per new bin). Rebin raw signal, before :func:`normalize`: the mean
    of log values is not the log of the mean. Lazy (dask) signal stays lazy.

    Parameters
    ----------
    adata
        Object with ``obsm['histone']`` and ``uns['chromtools']`` ``bin_size``
        and ``window``.
    bin_size
        New bin size in bp: a multiple of the current bin size that divides
        the window.
    copy
        Return a rebinned copy instead of changing ``adata``.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets

    ``adata.obsm['histone']``
        ``n_bins * old_bin_size / bin_size`` bins, each the mean of the bins it
        merges.
    ``adata.uns['chromtools']['bin_size']``
        The new bin size.
    ``adata.uns['chromtools']['pp']['rebin']``
        ``bin_size``, ``previous_bin_size`` and ``aggregation`` (``"mean"``).
    """
    meta, old_size, window = _binned_metadata(adata, "rebin")
    if isinstance(bin_size, bool) or not isinstance(bin_size, (int, np.integer)) or bin_size < 1:
        raise ValueError(f"rebin: bin_size must be a positive integer in bp, got {bin_size!r}")
    bin_size = int(bin_size)
    if bin_size % old_size:
        raise ValueError(
            f"rebin: bin_size {bin_size} is not a multiple of the current bin_size {old_size}; "
            "rebin merges whole bins"
        )
    span = window[1] - window[0]
    if span % bin_size:
        raise ValueError(
            f"rebin: the window {window} spans {span} bp, which is not a multiple of "
            f"bin_size={bin_size}"
        )
    _refuse_stale_arrays(adata, "rebin")
    previous = meta.get("pp", {}).get("normalize")
    if previous is not None and previous.get("method") in _LOG_METHODS:
        warnings.warn(
            f"rebin: the signal was normalised with {previous['method']!r}; averaging log "
            "values is not the log of the averaged counts; rebin before normalize",
            stacklevel=2,
        )
    adata = start(adata, copy)
    factor = bin_size // old_size
    signal = adata.obsm[HISTONE]
    if isinstance(signal, da.Array):
        signal = signal.rechunk({3: -1})  # whole bins per chunk, so the reshape is local
    n_bins = signal.shape[3]
    merged = signal.reshape(*signal.shape[:3], n_bins // factor, factor).mean(axis=-1)
    adata.obsm[HISTONE] = _contiguous(merged.astype(np.float32))
    record(
        adata,
        "rebin",
        {"bin_size": bin_size, "previous_bin_size": old_size, "aggregation": "mean"},
        bin_size=bin_size,
    )
    return adata if copy else None


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
    meta, _, _ = _binned_metadata(adata, "normalize")
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
    if method in _LOG_METHODS:
        stored = np.log1p(stored)
    adata.obsm[HISTONE] = stored.astype(np.float32)
    record(adata, "normalize", params)
    return adata if copy else None
