"""``ct.tl.attention_agreement``: does α of one mark follow another mark's signal?

AttentiveChrome's check of stored attention (:func:`~chromtools.tl.attention`)
against the data: per cell type, the Pearson correlation over bins of one
mark's α with a mark's signal on the genes that are ON.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from ... import get
from ..._expression import on_status
from ..._results import kind_of, storage_name
from ...get._aligned import aligned
from ..engine import check_cell_types
from ._attention import attention_slots
from ._correlation import pearson_rows, pearson_summary


def _on_genes(adata: AnnData, model_key: str, cell: str) -> np.ndarray:
    """ON genes of one cell type: label 1 where labels are known, else predicted > 0.5."""
    row = adata.obs_names.get_loc(cell)
    label = (
        np.asarray(adata.layers["label"][row], dtype=float)
        if "label" in adata.layers
        else np.full(adata.n_vars, np.nan)
    )
    if np.isfinite(label).all():
        return label == 1
    layer = storage_name(model_key)
    if layer not in adata.layers:
        raise ValueError(
            f"attention_agreement: cell type {cell!r} has genes without a label and no "
            f"predictions of uns[{model_key!r}] in layers[{layer!r}]; run "
            f"ct.tl.predict(adata, {model_key!r}) first"
        )
    predicted = np.asarray(adata.layers[layer][row], dtype=float)
    return on_status(label, predicted)


def _attention_record(adata: AnnData, key: object) -> tuple[dict[str, str], dict]:
    """The slots and the ``uns`` record of the attention stored under ``key``."""
    names = attention_slots(key) if isinstance(key, str) else None
    record = adata.uns.get(names["uns"]) if names else None
    if kind_of(record) != "attention":
        raise KeyError(
            f"attention_agreement: no attention of {key!r} in "
            f"uns[{names['uns'] if names else key!r}]; run ct.tl.attention(adata, {key!r}) first"
        )
    return names, record


def _check_marks(adata: AnnData, model_marks: list[str], mark: str, signal_mark: str) -> None:
    if mark not in model_marks:
        raise KeyError(
            f"attention_agreement: mark {mark!r} is not in the model's marks {model_marks}"
        )
    have = get.marks(adata)
    if signal_mark not in have:
        raise KeyError(
            f"attention_agreement: signal_mark {signal_mark!r} is not in this object's marks {have}"
        )


def attention_agreement(
    adata: AnnData,
    key: str,
    *,
    mark: str,
    signal_mark: str,
    cell_types: Sequence[str] | str | None = None,
) -> pd.DataFrame:
    """AttentiveChrome's check: does α of one mark follow another mark's signal on ON genes?

    For every ON gene (label 1 where labels exist, else predicted > 0.5) the
    Pearson correlation over bins of the stored α of ``mark`` with the
    signal of ``signal_mark`` (any mark of the object, also one the model
    did not read). Run :func:`attention` first.

    Parameters
    ----------
    adata
        Object on which :func:`attention` stored ``obsm[f"{key}_alpha"]``.
    key
        The key ``attention`` was run with.
    mark
        A mark of the model, whose α is checked.
    signal_mark
        The mark whose signal α is compared with.
    cell_types
        Cell types to check; those ``attention`` explained by default.

    Returns
    -------
    The table (also stored): one row per cell type with ``cell_type``,
    ``mark``, ``signal_mark``, ``n_genes`` (ON genes with a defined
    correlation), ``mean_pearson`` and ``median_pearson``. Writes it to
    ``adata.uns[f"{key}_attention"]["agreement"]``, replacing earlier rows
    of the same cell type, mark and signal mark.
    """
    names, record = _attention_record(adata, key)
    params = record["params"]
    model_marks = list(params["marks"])
    _check_marks(adata, model_marks, mark, signal_mark)
    explained = list(params["cell_types"])
    cell_types = explained if cell_types is None else check_cell_types(adata, cell_types)
    missing = [c for c in cell_types if c not in explained]
    if missing:
        raise ValueError(
            f"attention_agreement: attention was computed for {explained}, not for {missing}; "
            f"run ct.tl.attention(adata, {key!r}, cell_types=...) with them"
        )
    model_key = params["models"][0]
    on = {c: _on_genes(adata, model_key, c) for c in cell_types}

    alpha = aligned(adata, names["alpha"])
    signal = get.histone(adata, marks=[signal_mark])
    rows = []
    for cell in cell_types:
        row = adata.obs_names.get_loc(cell)
        a = np.asarray(alpha[row][:, model_marks.index(mark)], dtype=np.float64)
        s = np.asarray(signal[row][:, 0], dtype=np.float64)
        genes = on[cell] & np.isfinite(a).all(axis=1)
        r = pearson_rows(torch.from_numpy(a[genes]), torch.from_numpy(s[genes])).numpy()
        rows.append(
            {"cell_type": cell, "mark": mark, "signal_mark": signal_mark}
            | pearson_summary(r, count="n_genes")
        )
    table = pd.DataFrame(rows)
    earlier = record.get("agreement")
    if isinstance(earlier, pd.DataFrame) and len(earlier):
        same = earlier.set_index(["cell_type", "mark", "signal_mark"]).index.isin(
            table.set_index(["cell_type", "mark", "signal_mark"]).index
        )
        table = pd.concat([earlier[~same], table], ignore_index=True)
    adata.uns[names["uns"]] = {**record, "agreement": table}
    return table
