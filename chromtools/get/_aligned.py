"""Aligned access to per-(cell type, gene) tensors stored in ``obsm``.

anndata subsets ``obsm`` along cell types only; axis 1 (genes) of a 4-D
``obsm`` array keeps the order it was written in. That order is recorded once,
in ``uns["chromtools"]["var_names"]``, and every reader goes through
:func:`histone` (or its siblings) to get the array lined up with the current
``var``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from .._constants import META
from .._results import RESULTS, find_result, materialised, storage_name
from ._lazy import concrete


def metadata(adata: AnnData) -> dict:
    """``uns["chromtools"]``: marks, bin size, window and the stored gene order.

    Parameters
    ----------
    adata
        Object made by a chromtools reader.

    Returns
    -------
    The metadata dict (``marks``, ``bin_size``, ``window``, ``genome``,
    ``var_names``); raises ``KeyError`` when it is missing. Lazily read
    metadata (``anndata.experimental.read_lazy``) is read into ``adata`` first.
    """
    meta = concrete(adata).uns.get(META)
    if meta is None:
        raise KeyError(
            "adata.uns['chromtools'] is missing: this object was not made by a chromtools "
            "reader, or the metadata was dropped by ad.concat; pass uns_merge='same' to "
            "ad.concat to keep it"
        )
    return meta


def marks(adata: AnnData) -> list[str]:
    """The mark names along axis 2 of ``obsm['histone']``.

    Parameters
    ----------
    adata
        Object with histone signal.

    Returns
    -------
    List of mark names, in the order of the stored array.
    """
    return [str(m) for m in metadata(adata)["marks"]]


def stored_var_names(adata: AnnData) -> pd.Index:
    """Gene/region names along axis 1 of the 4-D ``obsm`` arrays.

    Raises when the order is unknown rather than guess: after ``ad.concat``
    without ``uns_merge="same"`` the metadata is gone, and with it, if the
    objects stored their genes in different orders, ``var_names`` is dropped.
    """
    names = metadata(adata).get("var_names")
    if names is None:
        raise KeyError(
            "uns['chromtools']['var_names'] is missing, so the gene order of the 4-D obsm "
            "arrays is unknown. This happens when ad.concat joins objects whose histone "
            "arrays list genes in different orders: call ct.get.realign(part) on each part "
            "after part = part[:, reference.var_names], then concatenate with "
            "uns_merge='same'"
        )
    return pd.Index(np.asarray(names, dtype=object).astype(str))


def positions(adata: AnnData, n_stored: int) -> np.ndarray:
    """Index into axis 1 of a stored array for each gene of the current ``var``."""
    stored = stored_var_names(adata)
    if len(stored) != n_stored:
        raise ValueError(
            f"uns['chromtools']['var_names'] lists {len(stored)} genes but the obsm array "
            f"has {n_stored} on axis 1"
        )
    if stored.equals(adata.var_names):
        return np.arange(n_stored)
    index = stored.get_indexer(adata.var_names)
    if (index < 0).any():
        missing = adata.var_names[index < 0]
        raise KeyError(
            f"{len(missing)} genes of adata.var are not in the stored histone array, "
            f"e.g. {list(missing[:5])}"
        )
    return index


def aligned(adata: AnnData, key: str, *, marks: Sequence[str] | None = None):
    """``obsm[key]`` with axis 1 in the order of ``adata.var_names``.

    Lazy (dask) arrays stay lazy. ``marks`` selects and orders marks by name.
    """
    if key not in adata.obsm:
        raise KeyError(f"adata.obsm[{key!r}] does not exist; present: {list(adata.obsm)}")
    array = adata.obsm[key]
    index = positions(adata, array.shape[1])
    if not np.array_equal(index, np.arange(array.shape[1])):
        array = array[:, index]
    if marks is not None:
        array = array[:, :, mark_positions(adata, marks)]
    return array


def mark_positions(adata: AnnData, wanted: Sequence[str]) -> np.ndarray:
    """Positions of ``wanted`` marks along axis 2, refusing unknown names."""
    have = marks(adata)
    missing = [m for m in wanted if m not in have]
    if missing:
        raise KeyError(f"marks {missing} are not in this object's marks {have}")
    return np.array([have.index(m) for m in wanted])


def histone(adata: AnnData, *, marks: Sequence[str] | None = None):
    """Binned histone signal aligned to the current ``var``.

    Parameters
    ----------
    adata
        Object with ``obsm['histone']`` of shape (cell types, stored genes, marks, bins).
    marks
        Mark names to return, in this order; all marks by default.

    Returns
    -------
    Array of shape ``(adata.n_obs, adata.n_vars, n_marks, n_bins)``: numpy when
    the object is in memory, dask when it was read lazily.
    """
    return aligned(adata, "histone", marks=marks)


def attention(adata: AnnData, key: str) -> tuple:
    """Attention maps of model ``key`` aligned to ``var``.

    Parameters
    ----------
    adata
        Object on which ``ct.tl.attention`` stored ``obsm[f"{key}_alpha"]``
        and ``obsm[f"{key}_beta"]``.
    key
        The model's key.

    Returns
    -------
    ``(alpha, beta)``: ``alpha`` of shape (cell types, genes, marks, bins),
    ``beta`` of shape (cell types, genes, marks), or None for a model
    without attention over marks (TransferChrome).
    """
    alpha, beta = RESULTS["attention"].slots(key)["obsm"]
    return aligned(adata, alpha), aligned(adata, beta) if beta in adata.obsm else None


def attributions(
    adata: AnnData, key: str, cell_type: str | None = None, *, method: str | None = None
):
    """Attributions that ``ct.tl.attribute`` stored for model ``key``.

    Parameters
    ----------
    adata
        Object on which ``ct.tl.attribute`` stored ``obsm[f"{key}_attr"]``
        (histone models) or ``varm[f"{key}_attr_{cell_type}"]`` (sequence models).
    key
        The ``key_added`` of :func:`~chromtools.tl.attribute`, or the model's
        key when it has attributions of one method only (``/`` written ``_``).
    cell_type
        For a sequence model, the cell type it explains; needed only when
        attributions of several cell types are stored under ``key``.
    method
        With a model's key: the attributions of this method
        (``"integrated_gradients"``…), when several are stored.

    Returns
    -------
    Histone models: an array in the layout of the signal (cell types, genes,
    marks, bins), aligned to ``var``. Sequence models: (regions, length, 4).
    """
    result = RESULTS["attribution"]
    key = find_result(adata, "attribution", key, method=method) or storage_name(key)
    (histone,) = result.slots(key)["obsm"]
    if cell_type is None and histone in adata.obsm:
        return aligned(adata, histone)
    per_cell = dict(zip(result.slots(key, cell_type=list(adata.obs_names))["varm"],
                        adata.obs_names, strict=True))  # fmt: skip
    stored = [per_cell[k] for k in adata.varm if k in per_cell]
    if cell_type is None and len(stored) == 1:
        cell_type = stored[0]
    if cell_type is None or cell_type not in stored:
        raise KeyError(
            f"no attributions of {key!r}"
            + (f" for cell type {cell_type!r}" if cell_type is not None else "")
            + f": obsm[{histone!r}] does not exist and varm holds them for cell types "
            f"{stored}; run ct.tl.attribute(adata, {key!r}) first"
        )
    return adata.varm[result.slots(key, cell_type=cell_type)["varm"][0]]


def attributed_cell_type(
    adata: AnnData, key: str, name: str, cell_type: object, what: str = "motif_enrichment"
) -> str:
    """The cell type whose attributions ``name`` of model ``key`` ``what`` reads, checked:
    the only one attributed when ``cell_type`` is None, else ``cell_type`` if it was."""
    result = RESULTS["attribution"]

    def slot(cell: str) -> str:
        return result.slots(name, cell_type=cell)["varm"][0]

    attributed = [c for c in adata.obs_names if slot(c) in adata.varm]
    run = f"run ct.tl.attribute(adata, {key!r}) first"
    if not attributed:
        raise ValueError(
            f"{what}: no attributions of {key!r} (adata.varm[{slot('<cell type>')!r}]); {run}"
        )
    if cell_type is None:
        if len(attributed) > 1:
            raise ValueError(
                f"{what}: {key!r} has attributions for the cell types {attributed}; "
                "say which with cell_type="
            )
        return attributed[0]
    if not isinstance(cell_type, str) or cell_type not in adata.obs_names:
        raise ValueError(
            f"cell_type={cell_type!r} is not a cell type of adata.obs_names {list(adata.obs_names)}"
        )
    if cell_type not in attributed:
        raise ValueError(
            f"{what}: no attributions of {key!r} for {cell_type!r} "
            f"(adata.varm[{slot(cell_type)!r}]); it has {attributed}; "
            f"run ct.tl.attribute(adata, {key!r}, cell_types=[{cell_type!r}]) first"
        )
    return cell_type


def realign(adata: AnnData, *, copy: bool = False) -> AnnData | None:
    """Rewrite every 4-D ``obsm`` array so that axis 1 follows the current ``var``.

    After ``adata[:, mask]`` the stored arrays still hold every gene; realigning
    drops the others (a smaller store) and gives separately built objects the
    same gene order, so that ``ad.concat(..., uns_merge="same")`` keeps the
    order metadata. Lazy arrays stay lazy.

    Parameters
    ----------
    adata
        Object with 4-D ``obsm`` arrays and ``uns['chromtools']['var_names']``.
    copy
        Return a realigned copy instead of changing ``adata``.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets the 4-D ``adata.obsm``
    arrays and ``adata.uns['chromtools']['var_names']``.
    """
    adata = adata.copy() if copy else materialised(adata)
    four_d = [key for key, value in adata.obsm.items() if getattr(value, "ndim", 0) == 4]
    for key in four_d:
        adata.obsm[key] = aligned(adata, key)
    meta = dict(metadata(adata))
    meta["var_names"] = np.asarray(adata.var_names, dtype=str)
    adata.uns[META] = meta
    return adata if copy else None


def onehot(adata: AnnData):
    """One-hot DNA per gene/region.

    Parameters
    ----------
    adata
        Object with ``varm['onehot']`` (filled by ``ct.pp.one_hot`` or
        ``ct.io.read_regions``).

    Returns
    -------
    ``varm['onehot']``: uint8 array (genes or regions, length, 4) in A, C, G, T
    order; ``varm`` is subset with ``var``, so it is always aligned.
    """
    if "onehot" not in concrete(adata).varm:
        raise KeyError(
            "adata.varm['onehot'] does not exist; fill it with ct.pp.one_hot(adata, fasta) "
            "or read regions with ct.io.read_regions"
        )
    return adata.varm["onehot"]
