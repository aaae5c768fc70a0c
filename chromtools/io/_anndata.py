"""The one constructor of a chromtools AnnData, shared by every importer."""

from __future__ import annotations

from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from .._constants import META
from .._utils import check_marks, check_window


def check_var(var: pd.DataFrame, what: str = "genes") -> pd.DataFrame:
    """Refuse duplicated or empty gene/region ids."""
    index = var.index.astype(str)
    if (index == "").any() or var.index.isna().any():
        raise ValueError(f"{what}: some gene/region ids are empty")
    duplicated = index[index.duplicated()].unique()
    if len(duplicated):
        raise ValueError(
            f"{what}: {len(duplicated)} gene/region ids appear more than once, "
            f"e.g. {list(duplicated[:5])}; ids must be unique"
        )
    var = var.copy()
    var.index = index
    return var


def new_anndata(
    *,
    obs_names: Sequence[str],
    var: pd.DataFrame,
    histone=None,
    marks: Sequence[str] | None = None,
    bin_size: int | None = None,
    window: Sequence[int] | None = None,
    genome: str | None = None,
    X: np.ndarray | None = None,
    layers: dict | None = None,
    obs: pd.DataFrame | None = None,
    varm: dict | None = None,
) -> ad.AnnData:
    """Assemble the AnnData of docs/design.md and its ``uns['chromtools']`` metadata.

    ``histone`` (numpy or dask, shape (cell types, genes, marks, bins)) is stored
    in ``obsm['histone']`` with axis 1 in the order of ``var``; that order is
    recorded in ``uns['chromtools']['var_names']`` for :func:`ct.get.histone`.
    ``X`` defaults to all-NaN (no expression known).
    """
    obs_names = pd.Index([str(o) for o in obs_names])
    if obs_names.duplicated().any():
        raise ValueError(
            f"cell types appear more than once: {list(obs_names[obs_names.duplicated()])}"
        )
    var = check_var(var)
    shape = (len(obs_names), len(var))
    if X is None:
        X = np.full(shape, np.nan, dtype=np.float32)
    obs = pd.DataFrame(index=obs_names) if obs is None else obs.set_axis(obs_names)
    adata = ad.AnnData(X=X, obs=obs, var=var, layers=layers or {}, varm=varm or {})
    meta: dict = {"genome": genome or "unknown"}
    if histone is not None:
        if histone.ndim != 4 or histone.shape[:2] != shape:
            raise ValueError(
                f"histone must have shape (cell types, genes, marks, bins) = {shape + ('…',)}, "
                f"got {histone.shape}"
            )
        marks = check_marks(marks or [])
        if len(marks) != histone.shape[2]:
            raise ValueError(f"{len(marks)} mark names for {histone.shape[2]} marks of signal")
        bin_size = int(bin_size)
        window = check_window(window, bin_size)
        if (window[1] - window[0]) // bin_size != histone.shape[3]:
            raise ValueError(
                f"window {window} at bin_size {bin_size} gives "
                f"{(window[1] - window[0]) // bin_size} bins, but the signal has {histone.shape[3]}"
            )
        adata.obsm["histone"] = histone
        meta.update(
            marks=list(marks),
            bin_size=bin_size,
            window=list(window),
            var_names=np.asarray(var.index, dtype=str),
        )
    adata.uns[META] = meta
    return adata
