"""``ct.pp.match_signal``: give cell types processed by another pipeline the distribution of
a model's training signal, per mark, from their own signal only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from anndata import AnnData

from .._matching import PROBS, matched_array, track_maps
from .._results import kind_of
from ..get._aligned import histone, marks
from ._signal import HISTONE, binned_metadata, record, start


def reference_quantiles(adata: AnnData, reference: str, what: str) -> dict[str, np.ndarray]:
    """Per mark, the quantiles of the training input that model ``uns[reference]`` recorded."""
    model = adata.uns.get(reference) if isinstance(reference, str) else None
    if kind_of(model) != "model":
        fitted = [k for k, v in adata.uns.items() if kind_of(v) == "model"]
        raise KeyError(f"{what}: reference={reference!r} is no fitted model; fitted: {fitted}")
    recorded = model["config"]["data"].get("input_quantiles")
    if recorded is None:
        raise ValueError(
            f"{what}: the model uns[{reference!r}] records no distribution of its training "
            "signal (a sequence model, or one fitted before chromtools recorded it): fit it "
            "again with ct.tl.fit"
        )
    return {str(m): np.asarray(q, dtype=np.float64) for m, q in recorded.items()}


def match_signal(
    adata: AnnData,
    reference: str,
    cell_types: Sequence[str] | str | None = None,
    *,
    copy: bool = False,
) -> AnnData | None:
    """Map the histone signal of some cell types onto a model's training distribution.

    Bigwigs from another lab's pipeline (read counts against fold enrichment or
    coverage, another smoothing or background) keep the ranks of the signal but
    not its values, and a model reads values: its accuracy drops. Depth
    normalisation (:func:`normalize`) corrects a scale, not a transform. This
    sends each value of a (cell type, mark) track to the value at the same
    quantile of the model's training signal of that mark (quantile matching:
    monotone, ties kept), so the model sees inputs distributed as in training.
    Only the signal of the cell types matched is read; never their labels.

    Parameters
    ----------
    adata
        Object with ``obsm['histone']`` and the fitted histone model ``uns[reference]``.
    reference
        Key of the model (:func:`~chromtools.tl.fit` records the quantiles of its
        training signal per mark).
    cell_types
        Cell types to map; by default every cell type with signal that the model
        was not trained on.
    copy
        Return a changed copy instead of changing ``adata``.

    Returns
    -------
    ``None``, or the copy. Rewrites ``obsm['histone']`` of the cell types (lazy
    signal stays lazy) and records ``uns['chromtools']['pp']['match_signal']``:
    ``params`` (``reference``, ``cell_types``, ``marks``) and ``quantiles``,
    each matched track's own distinct quantile values before matching. Nothing undoes it:
    match a fresh copy (``copy=True``) to keep the original.
    """
    what = "match_signal"
    binned_metadata(adata, what)
    reference_q = reference_quantiles(adata, reference, what)
    have = marks(adata)
    missing = [m for m in reference_q if m not in have]
    if missing:
        raise ValueError(f"{what}: the model reads marks {missing}, not in this object's {have}")
    trained = [str(c) for c in adata.uns[reference]["config"]["data"].get("cell_types", [])]
    signal = histone(adata)
    if cell_types is None:
        cell_types = [c for c in adata.obs_names if c not in trained]
    cell_types = [cell_types] if isinstance(cell_types, str) else [str(c) for c in cell_types]
    unknown = [c for c in cell_types if c not in adata.obs_names]
    if unknown or not cell_types:
        raise KeyError(
            f"{what}: cell_types {unknown or cell_types} are not cell types of this object; "
            f"adata.obs_names: {list(adata.obs_names)}"
        )
    rows = adata.obs_names.get_indexer(cell_types)
    tables, own = {}, {}
    for cell, row in zip(cell_types, rows, strict=True):
        maps = track_maps(signal, row, have, reference_q, f"{what}: cell type {cell!r}")
        if maps is None:
            if len(cell_types) == 1 or cell in trained:
                raise ValueError(f"{what}: cell type {cell!r} has no histone signal to match")
            continue  # no ChIP-seq: nothing to match
        tables.update({(row, position): table for position, table in maps.items()})
        own[cell] = {have[position]: table[0].tolist() for position, table in maps.items()}
    adata = start(adata, copy)
    adata.obsm[HISTONE] = matched_array(adata.obsm[HISTONE], tables)
    params = {"reference": reference, "cell_types": list(own), "marks": list(reference_q)}
    record(adata, what, {"params": params, "quantiles": own, "probabilities": PROBS.tolist()})
    return adata if copy else None
