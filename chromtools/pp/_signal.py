"""The binned histone signal's window and bins (crop, rebin), and what every ``pp`` step shares.

Every ``ct.pp`` function records what it ran in
``adata.uns['chromtools']['pp'][<function name>]`` (the latest call of each);
the helpers that do so (:func:`start`, :func:`record`) live here and are
shared by the other ``pp`` modules.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import dask.array as da
import numpy as np
from anndata import AnnData

from .._docs import doc_params
from .._results import materialised
from .._utils import check_int, user_stacklevel
from ..get._aligned import META, metadata

HISTONE = "histone"

# Methods of ``normalize`` whose output is on a log scale: averaging it (rebin) is
# not the same as averaging the counts first.
LOG_METHODS = ("depth_log1p", "log1p")
# What crop and rebin say alike of their input and output.
_BINS = {
    "binned": """\
Object with ``obsm['histone']`` and ``uns['chromtools']`` ``bin_size``
        and ``window``.""",
}


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


def binned_metadata(adata: AnnData, step: str) -> tuple[dict, int, tuple[int, int]]:
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


@doc_params(**_BINS)
def crop(adata: AnnData, window: Sequence[int], *, copy: bool = False) -> AnnData | None:
    """Keep only the bins inside a narrower window around the TSS.

    ``crop(adata, (-5000, 5000))`` on the ±10 kb, 100 bp bins of the Roadmap
    data keeps bins 51–150 of 200, the DeepChrome/AttentiveChrome setting.
    Lazy (dask) signal stays lazy.

    Parameters
    ----------
    adata
        {binned}
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
    meta, bin_size, current = binned_metadata(adata, "crop")
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


@doc_params(**_BINS)
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
        {binned}
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
    meta, old_size, window = binned_metadata(adata, "rebin")
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
    if previous is not None and previous.get("method") in LOG_METHODS:
        warnings.warn(
            f"rebin: the signal was normalised with {previous['method']!r}; averaging log "
            "values is not the log of the averaged counts; rebin before normalize",
            stacklevel=user_stacklevel(),
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
