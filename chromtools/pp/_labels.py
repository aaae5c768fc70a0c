"""Expression targets: high/low labels per cell type and DeepDiff's log fold change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import dask.array as da
import numpy as np
import pandas as pd
from anndata import AnnData

from .._constants import GENOME_MEDIAN, META
from .._dask import compute, resolve_client
from .._docs import SHARED, doc_params
from .._expression import high_low
from .._settings import logger
from .._utils import check_number
from ._signal import record, start

if TYPE_CHECKING:
    from distributed import Client


def _expression(adata: AnnData, layer: str | None, step: str):
    """``X`` or ``layers[layer]``, refusing a missing one by name."""
    if layer is None:
        if adata.X is None:
            raise ValueError(f"{step}: adata.X is empty; pass layer= to use a layer instead")
        return adata.X
    if layer not in adata.layers:
        raise KeyError(
            f"{step}: adata.layers[{layer!r}] does not exist; layers: {list(adata.layers)}"
        )
    return adata.layers[layer]


def _rows(values, rows: np.ndarray, client: Client | None):
    """``values[rows]`` in memory; lazy values computed on ``client``'s cluster if any."""
    selected = values[rows]
    return compute(selected, client=client)[0] if isinstance(selected, da.Array) else selected


def raw_counts(
    adata: AnnData,
    cell_types: list[str],
    layer: str,
    step: str,
    client: Client | None = None,
) -> np.ndarray:
    """(cell types, genes) read counts from ``layers[layer]``, refusing NaN or negative counts.

    Lazy counts are computed on ``client``, else the active client, else here.
    """
    counts = _expression(adata, layer, step)
    rows = _rows(counts, adata.obs_names.get_indexer(cell_types), resolve_client(client, step))
    rows = np.asarray(rows.toarray() if hasattr(rows, "toarray") else rows, dtype=np.float64)
    for cell_type, row in zip(cell_types, rows, strict=True):
        missing = ~np.isfinite(row)
        if missing.any():
            raise ValueError(
                f"{step}: layers[{layer!r}] of {cell_type!r} is NaN for {int(missing.sum())} "
                f"genes (e.g. {list(adata.var_names[missing][:3])}); both cell types need "
                "counts for every gene"
            )
        if (row < 0).any():
            raise ValueError(
                f"{step}: layers[{layer!r}] of {cell_type!r} has negative values; "
                "expected raw read counts"
            )
    return rows


def _median_present(row: np.ndarray) -> tuple[float, int]:
    """Median over the non-NaN values of one cell type, and how many there were."""
    present = row[~np.isnan(row)]
    return (float(np.median(present)) if present.size else np.nan), int(present.size)


def _median_thresholds(
    adata: AnnData, values, layer: str | None, client: Client | None
) -> pd.DataFrame:
    """Per cell type: the genome-wide median when known, else the median of the genes here."""
    genome = (
        adata.obs[GENOME_MEDIAN].to_numpy(dtype=np.float64)
        if GENOME_MEDIAN in adata.obs and layer in (None, "counts")
        else np.full(adata.n_obs, np.nan)
    )
    if layer == "counts":
        # the recorded median is of log2(count + 1); the same cut on the count scale
        genome = 2.0**genome - 1.0
    thresholds, sources = (
        genome.copy(),
        [f"genome-wide median (obs[{GENOME_MEDIAN!r}])"] * len(genome),
    )
    fallback = np.flatnonzero(np.isnan(genome))
    if len(fallback):
        rows = np.asarray(_rows(values, fallback, client), dtype=np.float64)
        for i, row in zip(fallback, rows, strict=True):
            thresholds[i], n_present = _median_present(row)
            sources[i] = (
                f"median over the {n_present} genes present" if n_present else "no expression"
            )
        logger.info(
            "binarize: no genome-wide median for %s; used the median over the genes present",
            list(adata.obs_names[fallback]),
        )
    return pd.DataFrame({"threshold": thresholds, "source": sources}, index=adata.obs_names)


def _check_label_key(adata: AnnData, key_added: object, layer: str | None) -> None:
    """Refuse a labels layer that would overwrite the expression read or another layer
    that is not labels (``label`` or the previous binarize's ``key_added``)."""
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(f"binarize: key_added must be a non-empty layer name, got {key_added!r}")
    if key_added == layer:
        raise ValueError(
            f"binarize: key_added={key_added!r} is the layer being binarised; writing the "
            "labels there would destroy the expression. Use key_added='label'"
        )
    previous = adata.uns.get(META, {}).get("pp", {}).get("binarize", {})
    labels = {"label", previous.get("key_added")}
    if key_added in adata.layers and key_added not in labels:
        raise ValueError(
            f"binarize: key_added={key_added!r} would overwrite layers[{key_added!r}], which "
            "does not hold labels; pick another name or delete that layer first"
        )


@doc_params(**SHARED)
def binarize(
    adata: AnnData,
    *,
    layer: str | None = None,
    threshold: Literal["median"] | float = "median",
    key_added: str = "label",
    copy: bool = False,
    client: Client | None = None,
) -> AnnData | None:
    """High/low expression label per cell type, the papers' rule.

    A gene is *high* (1) in a cell type when its expression is strictly
    greater than the threshold, *low* (0) otherwise (a tie is low), and NaN
    where its expression is NaN. With ``threshold="median"`` the threshold is
    the median of the cell type's expression over ALL genes of its table,
    ``obs['expression_median']`` as the readers record it (on the scale of
    ``X``, log2(count + 1); for ``layer="counts"`` the same cut, 2**median − 1,
    is used). The object may hold only a few genes, so their own median would
    be a different rule; it is used only for cell types without a recorded
    genome-wide median (or for other layers), and that choice is recorded.

    Parameters
    ----------
    adata
        Object with expression in ``X`` or a layer.
    layer
        Layer to binarise; ``X`` by default.
    threshold
        ``"median"`` (per cell type, as above) or one number for every cell type.
    key_added
        Layer to write the labels to.
    copy
        Return a labelled copy instead of changing ``adata``.
    client
        {client}
        For lazy expression, the rows of cell types without a recorded
        genome-wide median are computed there; the labels stay lazy.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets

    ``adata.layers[key_added]``
        float32 1/0 labels, NaN where expression is NaN (lazy when the
        expression is).
    ``adata.uns['chromtools']['pp']['binarize']``
        ``layer``, ``threshold``, ``key_added`` and ``thresholds``: a
        DataFrame per cell type with the ``threshold`` used and its
        ``source`` (genome-wide median, median over the genes present, fixed,
        or no expression).
    """
    values = _expression(adata, layer, "binarize")
    _check_label_key(adata, key_added, layer)
    client = resolve_client(client, "binarize")
    if isinstance(threshold, str):
        if threshold != "median":
            raise ValueError(f"binarize: threshold must be 'median' or a number, got {threshold!r}")
        thresholds = _median_thresholds(adata, values, layer, client)
    else:
        try:
            threshold = check_number(threshold, "threshold")
        except ValueError:
            raise ValueError(
                f"binarize: threshold must be 'median' or a finite number, got {threshold!r}"
            ) from None
        thresholds = pd.DataFrame(
            {"threshold": threshold, "source": "fixed"}, index=adata.obs_names
        )
    adata = start(adata, copy)
    values = _expression(adata, layer, "binarize")
    cut = thresholds["threshold"].to_numpy(dtype=np.float32)[:, None]
    adata.layers[key_added] = high_low(values, cut)
    record(
        adata,
        "binarize",
        {
            "layer": layer,
            "threshold": threshold if isinstance(threshold, str) else float(threshold),
            "key_added": key_added,
            "thresholds": thresholds,
        },
    )
    return adata if copy else None


@doc_params(**SHARED)
def log_fold_change(
    adata: AnnData,
    a: str,
    b: str,
    *,
    layer: str = "counts",
    key_added: str | None = None,
    copy: bool = False,
    client: Client | None = None,
) -> AnnData | None:
    """DeepDiff's regression target: log2((count_b + 1) / (count_a + 1)) per gene.

    Parameters
    ----------
    adata
        Object with raw read counts of both cell types in ``layers[layer]``.
    a
        Reference cell type (an obs name), the denominator.
    b
        The other cell type, the numerator: positive values are higher in ``b``.
    layer
        Layer of raw read counts.
    key_added
        ``var`` column to write; ``f"log2fc_{{b}}_vs_{{a}}"`` by default.
    copy
        Return a copy with the column instead of changing ``adata``.
    client
        {client}
        Lazy counts of ``a`` and ``b`` are computed there.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets

    ``adata.var[key_added]``
        The log2 fold change of every gene (float64).
    ``adata.uns['chromtools']['pp']['log_fold_change']``
        ``a``, ``b``, ``layer`` and ``key_added`` of the latest call.
    """
    client = resolve_client(client, "log_fold_change")
    a, b = str(a), str(b)
    if a == b:
        raise ValueError(f"log_fold_change: a and b are both {a!r}; name two different cell types")
    missing = [c for c in (a, b) if c not in adata.obs_names]
    if missing:
        raise KeyError(
            f"log_fold_change: cell types {missing} are not in adata.obs_names "
            f"{list(adata.obs_names)}"
        )
    rows = raw_counts(adata, [a, b], layer, "log_fold_change", client)
    key_added = f"log2fc_{b}_vs_{a}" if key_added is None else key_added
    if not isinstance(key_added, str) or not key_added:
        raise ValueError(
            f"log_fold_change: key_added must be a non-empty column name, got {key_added!r}"
        )
    if key_added in adata.var and not pd.api.types.is_float_dtype(adata.var[key_added]):
        raise ValueError(
            f"log_fold_change: key_added={key_added!r} would overwrite var[{key_added!r}], "
            f"which holds {adata.var[key_added].dtype} values, not a fold change; pick another "
            "name"
        )
    adata = start(adata, copy)
    adata.var[key_added] = np.log2(rows[1] + 1.0) - np.log2(rows[0] + 1.0)
    record(adata, "log_fold_change", {"a": a, "b": b, "layer": layer, "key_added": key_added})
    return adata if copy else None
