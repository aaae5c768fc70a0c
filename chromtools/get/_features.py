"""The 4-D signal as a 2-D AnnData: one cell type's genes as observations, mark × bin as features.

scverse tools (``sc.pp.pca``, ``sc.pp.neighbors``, ``sc.tl.leiden``) take a
2-D matrix; :func:`as_features` flattens one cell type's (genes, marks, bins)
slice into it, so genes can be embedded and clustered by their chromatin.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from ._aligned import aligned, metadata
from ._aligned import marks as stored_marks


def _bin_starts(adata: AnnData, n_bins: int) -> np.ndarray:
    meta = adata.uns.get("chromtools", {})
    window, bin_size = meta.get("window"), meta.get("bin_size")
    if window is None or bin_size is None:
        return np.arange(n_bins)
    return int(window[0]) + int(bin_size) * np.arange(n_bins)


def as_features(
    adata: AnnData,
    cell_type: str,
    *,
    marks: Sequence[str] | None = None,
    key: str = "histone",
) -> AnnData:
    """One cell type's binned signal as a genes × (mark, bin) AnnData for scverse tools.

    Parameters
    ----------
    adata
        Object with ``obsm[key]`` (cell types, genes, marks, bins).
    cell_type
        The cell type (an ``obs_names`` entry) whose genes become observations.
    marks
        Marks to keep, in this order; all by default.
    key
        The 4-D ``obsm`` entry: ``"histone"``, or an attribution or attention
        map of the same layout (``f"{model}_attr"``, ``f"{model}_alpha"``).

    Returns
    -------
    A new in-memory AnnData: ``X`` float32 (genes, marks × bins), mark-major;
    ``obs`` is a copy of ``adata.var`` plus, per gene, the cell type's
    ``X`` (``expression``) and every 2-D layer (``label``, model predictions)
    where they exist; ``var`` is indexed ``f"{mark}_{bin_start}"`` with
    columns ``mark`` and ``bin_start`` (bp from the TSS);
    ``uns['chromtools']`` is kept and ``uns['as_features']`` records the
    cell type, key and marks.
    """
    if not isinstance(adata, AnnData):
        raise ValueError(f"as_features takes an AnnData first, got {type(adata).__name__}")
    if not isinstance(cell_type, str) or cell_type not in adata.obs_names:
        raise ValueError(
            f"cell_type={cell_type!r} is not in adata.obs_names {list(adata.obs_names)}"
        )
    have = stored_marks(adata)
    chosen = list(have) if marks is None else [marks] if isinstance(marks, str) else list(marks)
    unknown = [m for m in chosen if m not in have]
    if unknown or not chosen:
        raise ValueError(f"marks {unknown or chosen} are not among this object's marks {have}")
    if key not in adata.obsm or np.ndim(adata.obsm[key]) != 4:
        four_d = [k for k, v in adata.obsm.items() if np.ndim(v) == 4]
        raise ValueError(
            f"key={key!r} must name a 4-D obsm entry (cell types, genes, marks, bins); "
            f"this object has {four_d}"
        )
    row = adata.obs_names.get_loc(cell_type)
    values = aligned(adata, key, marks=chosen)[row]
    values = np.asarray(values, dtype=np.float32)  # (genes, marks, bins), computed if lazy
    n_genes, n_marks, n_bins = values.shape
    if not np.isfinite(values).any():
        raise ValueError(f"{cell_type!r} has no values in obsm[{key!r}] (all NaN)")

    obs = adata.var.copy()
    if adata.X is not None:
        obs["expression"] = np.asarray(adata.X[row], dtype=np.float64).ravel()
    for name, layer in adata.layers.items():
        if np.ndim(layer) == 2:
            obs[name] = np.asarray(layer[row], dtype=np.float64).ravel()
    starts = _bin_starts(adata, n_bins)
    var = pd.DataFrame(
        {"mark": np.repeat(chosen, n_bins), "bin_start": np.tile(starts, n_marks)},
    )
    var.index = [f"{m}_{s}" for m, s in zip(var["mark"], var["bin_start"], strict=True)]
    uns = {"as_features": {"cell_type": cell_type, "key": key, "marks": chosen}}
    try:
        uns["chromtools"] = dict(metadata(adata))
    except KeyError:
        pass
    return AnnData(X=values.reshape(n_genes, n_marks * n_bins), obs=obs, var=var, uns=uns)
