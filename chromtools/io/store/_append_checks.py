"""The checks that new cell types fit a store before they are appended to it.

Same genes in the same order, the store's layout (marks, bin size, window,
signal genes), the same elements with the same shape per cell type and a
dtype that casts safely, names not yet in the store, and values on the
store's scale (the same :func:`signal_state`). Every check raises before any
write, naming what differs and how to fix it.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import dask.array as da
import numpy as np
import pandas as pd
import zarr

from ..._errors import StoreError
from ._write import _check_keys

# uns["chromtools"] entries that fix what a row of the 4-D arrays means.
_LAYOUT = ("marks", "bin_size", "window", "var_names")
# ct.pp.normalize methods that divide each track by a statistic over the genes.
_SCALED = ("depth", "depth_log1p", "zscore")
# How signal_state names a normalisation whose record lost its method (ad.concat).
_UNKNOWN = "an unknown method"


def _label(name: str) -> str:
    """``layers/label`` as ``layers['label']``, the way a user writes it."""
    slot, _, key = name.partition("/")
    return f"{slot}[{key!r}]" if key else slot


def _show(values: object, limit: int = 5) -> str:
    values = np.asarray(values).tolist() if values is not None else None
    if isinstance(values, list) and len(values) > limit:
        return f"[{', '.join(map(repr, values[:limit]))}, … ({len(values)} in all)]"
    return repr(values)


def _check_names(adata_new: ad.AnnData, stored: pd.Index, path: Path) -> None:
    names = adata_new.obs_names
    if len(names) == 0:
        raise ValueError(f"adata_new holds no cell types (n_obs is 0): nothing to append to {path}")
    repeated = names[names.duplicated()].unique().tolist()
    if repeated:
        raise ValueError(
            f"adata_new names cell types more than once: {_show(repeated)}; make "
            "adata_new.obs_names unique (adata_new.obs_names_make_unique())"
        )
    present = names[names.isin(stored)].tolist()
    if present:
        raise ValueError(
            f"cell types {_show(present)} of adata_new are already in {path}; rename them "
            "(adata_new.obs_names) or leave them out of adata_new"
        )
    _check_keys({str(column): None for column in adata_new.obs.columns}, "adata_new.obs.columns")


def _check_genes(adata_new: ad.AnnData, stored: pd.Index, path: Path) -> None:
    names = adata_new.var_names
    if names.equals(stored):
        return
    missing = stored[~stored.isin(names)].tolist()
    extra = names[~names.isin(stored)].tolist()
    if missing or extra or len(names) != len(stored):
        detail = f"; missing {_show(missing)}" if missing else ""
        detail += f"; not in the store {_show(extra)}" if extra else ""
        raise ValueError(
            f"adata_new.var_names ({len(names)} genes) are not the {len(stored)} genes of "
            f"{path}{detail}; every cell type of a store has the same genes"
        )
    raise ValueError(
        f"adata_new.var_names hold the genes of {path} in another order; reorder them first: "
        "adata_new[:, store_var_names] with the store's var_names"
    )


def _check_layout(new: dict, stored: dict, path: Path) -> None:
    """Marks, bin size, window and the genes of the 4-D arrays' axis 1 must be the store's."""
    for key in _LAYOUT:
        if key not in stored and key not in new:
            continue
        ours, theirs = new.get(key), stored.get(key)
        if ours is None or theirs is None or not np.array_equal(np.asarray(ours), theirs):
            raise ValueError(
                f"adata_new.uns['chromtools'][{key!r}] is {_show(ours)}, but {path} holds "
                f"{_show(theirs)}; appended cell types must have the store's {key}"
            )


def signal_state(meta: dict) -> dict[str, str]:
    """What the per-cell-type values of an object mean, from its ``uns['chromtools']``.

    One phrase per ``ct.pp`` step that changes the scale of every cell type's
    values: ``normalize`` (raw, or the method, a method it was forced on top
    of, and the number of genes its per-track statistics were taken over) and
    ``binarize`` (not run, or which expression, threshold and layer). Two
    objects whose rows may share a store have equal states. The other steps
    are not part of it: ``crop`` and ``rebin`` set the window and bin size,
    compared as layout (rebin's mean keeps the scale of the bins); ``split``,
    ``log_fold_change`` and ``one_hot`` write ``var``/``varm``, which stay the
    store's; ``add_expression`` records only the latest cell type it filled.
    """
    steps = meta.get("pp", {}) if isinstance(meta, dict) else {}
    normalize = steps.get("normalize")
    if normalize is None or normalize.get("method", "") is None:
        scale = "signal is raw (not normalised by ct.pp.normalize)"
    elif "method" not in normalize:
        scale = f"signal is normalised with {_UNKNOWN} (the record names none, as after ad.concat)"
    else:
        method, previous = str(normalize["method"]), normalize.get("previous")
        scale = f"signal is normalised with {method}"
        if previous is not None:
            known = not str(previous).startswith("unknown")
            scale += f" on top of {previous if known else _UNKNOWN} (force=True)"
        if method in _SCALED and normalize.get("n_genes") is not None:
            scale += f" (per-track statistics over {int(normalize['n_genes'])} genes)"
    binarize = steps.get("binarize")
    if binarize is None:
        labels = "labels are not made by ct.pp.binarize"
    else:
        layer, threshold = binarize.get("layer"), binarize.get("threshold")
        source = "X" if layer is None else f"layers[{str(layer)!r}]"
        threshold = threshold if isinstance(threshold, str) else float(threshold)
        labels = (
            f"labels are made by ct.pp.binarize ({source} at threshold {threshold!r} into "
            f"layers[{str(binarize.get('key_added'))!r}])"
        )
    return {"normalize": scale, "binarize": labels}


def _redo(step: str, meta: dict) -> str:
    """How to bring new cell types to the ``step`` state of the store of metadata ``meta``."""
    record = meta.get("pp", {}).get(step)
    if step == "normalize":
        if record is None or record.get("method", "") is None:
            return "append their raw signal, before ct.pp.normalize"
        if "method" in record and record.get("previous") is None:
            return f"run ct.pp.normalize(adata_new, method={str(record['method'])!r}) on raw signal"
        return "normalise their raw signal as the store's was"
    if record is None:
        return "make their labels as the store's were made, without ct.pp.binarize"
    threshold = record.get("threshold")
    threshold = threshold if isinstance(threshold, str) else float(threshold)
    return (
        f"run ct.pp.binarize(adata_new, layer={record.get('layer')!r}, threshold={threshold!r}, "
        f"key_added={str(record.get('key_added'))!r})"
    )


def _check_signal(new: dict, stored: dict, path: Path) -> None:
    """New cell types' values must be on the store's scale: the same :func:`signal_state`."""
    ours, theirs = signal_state(new), signal_state(stored)
    unknown = _UNKNOWN in theirs["normalize"] or _UNKNOWN in ours["normalize"]
    if ours == theirs and not unknown:
        return
    steps = [step for step in theirs if ours[step] != theirs[step]] or ["normalize"]
    differ = "; ".join(
        f"the store's {theirs[step]}; the new cell types' {ours[step]}" for step in steps
    )
    if unknown:
        fix = "normalise the store's and the new cell types' raw signal again and write the union"
    else:
        fix = "; ".join(_redo(step, stored) for step in steps)
    raise ValueError(
        f"adata_new cannot join {path}: {differ}. Rows of one store must be on one scale: "
        f"{fix}, or write the union with ct.io.write_zarr"
    )


def _check_elements(
    stored: dict[str, zarr.Array | zarr.Group], new: dict[str, object], n_old: int, path: Path
) -> None:
    missing = [_label(name) for name in stored if name not in new]
    if missing:
        raise ValueError(
            f"adata_new has no {', '.join(missing)}, which {path} holds for every cell type; "
            "add them to adata_new (NaN where unknown) before appending"
        )
    extra = [_label(name) for name in new if name not in stored]
    if extra:
        raise ValueError(
            f"adata_new has {', '.join(extra)}, which {path} does not hold for its cell types; "
            "remove them from adata_new, or write the union with ct.io.write_zarr"
        )
    for name, element in stored.items():
        if not isinstance(element, zarr.Array):
            continue
        if element.shape[0] != n_old:
            raise StoreError(
                f"{_label(name)} of {path} has {element.shape[0]} rows for {n_old} cell types; "
                "the store is damaged: write it again with ct.io.write_zarr"
            )
        value = new[name]
        shape, dtype = tuple(getattr(value, "shape", ())), getattr(value, "dtype", None)
        if shape[1:] != tuple(element.shape[1:]):
            axes = ("signal genes", "marks", "bins") if element.ndim == 4 else ()
            differ = [
                f"{n} {axis}, the store {m}"
                for axis, n, m in zip(axes, shape[1:], element.shape[1:], strict=False)
                if n != m
            ]
            raise ValueError(
                f"adata_new.{_label(name)} does not fit {path}: "
                + ("; ".join(differ) or f"{shape[1:]} per cell type, the store {element.shape[1:]}")
                + "; appended cell types need the store's layout"
            )
        if not isinstance(value, np.ndarray | da.Array) or not np.can_cast(
            dtype, element.dtype, casting="safe"
        ):
            raise ValueError(
                f"adata_new.{_label(name)} is {type(value).__name__} of {dtype}; {path} holds a "
                f"dense {element.dtype} array: convert it, e.g. np.asarray(value, "
                f"dtype='{element.dtype}')"
            )
