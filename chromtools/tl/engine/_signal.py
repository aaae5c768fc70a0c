"""Which cell types of an object hold histone signal (rows of ``obsm['histone']`` not all
NaN), read once per lazy array, and the refusals that name them."""

from __future__ import annotations

from collections.abc import Sequence

import dask.array as da
import numpy as np
import pandas as pd
from anndata import AnnData

from ... import get
from ...get._lazy import concrete

# has_signal of lazy arrays, by dask name: the values under a name never change
# (a store replaced under a lazy object is refused when read).
_SIGNAL: dict[str, np.ndarray] = {}


def has_signal(adata: AnnData) -> np.ndarray:
    """Cell types with histone signal (rows of ``obsm['histone']`` not all NaN)."""
    flags = signal_flags(concrete(adata).obs)
    return flags if flags is not None else signal_of(get.histone(adata))


def signal_flags(obs: pd.DataFrame) -> np.ndarray | None:
    """``obs['has_histone']``, where a reader recorded which cell types hold signal."""
    return obs["has_histone"].to_numpy(dtype=bool) if "has_histone" in obs else None


def signal_of(histone: np.ndarray | da.Array) -> np.ndarray:
    """Cell types whose aligned histone array (cell types, genes, marks, bins) is not all NaN."""
    first_bin = histone[:, :, :, 0]
    if not isinstance(first_bin, da.Array):
        return ~np.isnan(first_bin).all(axis=(1, 2))
    if first_bin.name not in _SIGNAL:
        if len(_SIGNAL) >= 256:  # the oldest goes: a few hundred gene subsets are plenty
            _SIGNAL.pop(next(iter(_SIGNAL)))
        _SIGNAL[first_bin.name] = _lazy_signal(first_bin)
    return _SIGNAL[first_bin.name].copy()


def _lazy_signal(first_bin: da.Array) -> np.ndarray:
    """Which cell types hold a finite value, reading gene blocks only until each is found:
    a gene block per cell type with signal, every block only for those without."""
    found = np.zeros(first_bin.shape[0], dtype=bool)
    edges = np.cumsum((0, *first_bin.chunks[1]))
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        undecided = np.flatnonzero(~found)
        if not len(undecided):
            break
        block = first_bin[undecided, start:end]
        found[undecided] = np.asarray((~da.isnan(block)).any(axis=(1, 2)).compute())
    return found


def with_signal(adata: AnnData) -> list[str]:
    """Names of the cell types with histone signal."""
    return list(adata.obs_names[has_signal(adata)])


def check_has_signal(adata: AnnData, cell_types: Sequence[str], role: str) -> None:
    """Refuse cell types without histone signal, naming those that have it."""
    refuse_without_signal(adata.obs_names, has_signal(adata), cell_types, role)


def refuse_without_signal(
    obs_names: pd.Index, signal: np.ndarray, cell_types: Sequence[str], role: str
) -> None:
    without = [c for c in cell_types if not signal[obs_names.get_loc(c)]]
    if without:
        raise ValueError(
            f"{role} {without}: no histone signal in this object (obsm['histone'] is NaN "
            f"there, e.g. expression without ChIP-seq); cell types with signal: "
            f"{list(obs_names[signal])}"
        )
