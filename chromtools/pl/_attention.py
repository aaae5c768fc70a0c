"""Where a histone model looks: attention over bins for ON and OFF genes (AttentiveChrome
Fig. 2), attention over marks per gene, and the effect of deleting marks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes

from .. import get
from .._docs import doc_plot
from .._expression import on_status
from .._results import RESULTS, kind_of, storage_name
from ._utils import (
    ON_OFF,
    axes,
    check_show_save,
    colour,
    dodged,
    grid,
    predictions,
    savefig_or_show,
    stored,
    style,
)


def bin_centres(adata: AnnData, n_bins: int) -> np.ndarray:
    """TSS-relative centre of each bin in bp, from ``uns['chromtools']``; else the bin index."""
    meta = adata.uns.get("chromtools", {})
    window, bin_size = meta.get("window"), meta.get("bin_size")
    if window is None or bin_size is None:
        return np.arange(n_bins, dtype=float)
    start = int(window[0])
    return start + bin_size * (np.arange(n_bins) + 0.5)


def _one_cell_type(adata: AnnData, cell_type: object, available: Sequence[str], plot: str) -> str:
    if cell_type is None:
        if len(available) == 1:
            return available[0]
        raise ValueError(f"ct.pl.{plot}: say which cell type with cell_type=, one of {available}")
    if cell_type not in available:
        raise ValueError(
            f"ct.pl.{plot}: cell_type={cell_type!r}; the ones with results: {available}"
        )
    return str(cell_type)


def _attention(adata: AnnData, key: str, plot: str):
    name = storage_name(key)
    uns = RESULTS["attention"].record_name(name)
    record = stored(adata, "uns", uns, plot, f"ct.tl.attention(adata, {key!r})")
    alpha, beta = get.attention(adata, name)
    alpha = np.asarray(alpha, dtype=np.float64)
    beta = None if beta is None else np.asarray(beta, dtype=np.float64)
    explained = [str(c) for i, c in enumerate(adata.obs_names) if np.isfinite(alpha[i]).any()]
    return record, alpha, beta, explained


@doc_plot
def attention(
    adata: AnnData,
    key: str,
    *,
    cell_type: str | None = None,
    kind: str = "alpha",
    genes: Sequence[str] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """Attention of a histone model (AttentiveChrome Fig. 2), as ``ct.tl.attention`` stored it.

    ``kind="alpha"``: mean α per mark over TSS-relative bins for the ON and
    the OFF genes of one cell type, one panel each (ON: label 1 where the
    label is known, else predicted probability > 0.5 in ``layers[key]``, as
    :func:`~chromtools.tl.in_silico_deletion` counts them). ``kind="beta"``:
    a heatmap of β (attention over marks) for ``genes`` in every cell type
    explained, one row per gene × cell type; ``fig.matrix`` holds the values.

    Parameters
    ----------
    adata
        Object with ``obsm[f"{key}_alpha"]`` (and ``_beta``) from
        :func:`~chromtools.tl.attention`, and ``layers[key]``.
    key
        Model key.
    cell_type
        The cell type drawn (``kind="alpha"``); needed when several were explained.
    kind
        ``"alpha"`` or ``"beta"``.
    genes
        ``kind="beta"``: the genes (var names); by default the 10 genes with
        the highest predicted probability in the first cell type explained.
    {show_save}

    Returns
    -------
    The figure when ``show=False``.
    """
    check_show_save(show, save)
    if kind not in ("alpha", "beta"):
        raise ValueError(f"kind must be 'alpha' or 'beta', got {kind!r}")
    record, alpha, beta, explained = _attention(adata, key, "attention")
    marks = list(record.get("marks", get.marks(adata)))
    if kind == "alpha":
        return _alpha(
            adata,
            key,
            alpha,
            marks,
            _one_cell_type(adata, cell_type, explained, "attention"),
            show,
            save,
        )
    if beta is None:
        raise ValueError(
            f"ct.pl.attention: {key!r} has no attention over marks (β); TransferChrome attends "
            "over bins only: use kind='alpha'"
        )
    return _beta(adata, key, beta, marks, explained, genes, show, save)


def gene_status(adata: AnnData, key: str, row: int, plot: str) -> np.ndarray:
    """ON per gene in one cell type: label 1 where known, else predicted > 0.5 (as deletion)."""
    probability = predictions(adata, key, plot)[row]
    label = np.full(adata.n_vars, np.nan)
    if "label" in adata.layers:
        label = np.asarray(adata.layers["label"][row], dtype=float)
    return on_status(label, probability)


def _alpha(adata, key, alpha, marks, cell_type, show, save):
    row = adata.obs_names.get_loc(cell_type)
    maps = alpha[row]  # (genes, marks, bins)
    done = np.isfinite(maps).all(axis=(1, 2))
    on = gene_status(adata, key, row, "attention")
    status = {"ON": done & on, "OFF": done & ~on}
    x = bin_centres(adata, maps.shape[2])
    with style():
        fig, panels = grid(1, 2, (3.8, 3.0), sharey=True)
        for ax, (label, genes) in zip(panels[0], status.items(), strict=True):
            for j, mark in enumerate(marks):
                if genes.any():
                    ax.plot(x, maps[genes, j].mean(axis=0), color=colour(j), lw=1.4, label=mark)
            if not genes.any():
                ax.text(
                    0.5,
                    0.5,
                    f"no {label} gene",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    color="0.5",
                )
            ax.set(
                title=f"{cell_type}: {label} genes (n = {int(genes.sum())})",
                xlabel="Position from TSS (bp)",
            )
            ax.axvline(0, color="0.8", lw=0.8, zorder=0)
        panels[0, 0].set_ylabel("Mean α (attention over bins)")
        drawn = [ax for ax in panels[0] if ax.get_lines()[:-1]]
        if drawn:
            handles, labels = drawn[0].get_legend_handles_labels()
            panels[0, -1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1))
    return savefig_or_show(fig, fig, show, save)


def _beta(adata, key, beta, marks, explained, genes, show, save):
    if genes is None:
        first = adata.obs_names.get_loc(explained[0])
        probability = np.nan_to_num(predictions(adata, key, "attention")[first], nan=-1)
        finite = np.isfinite(beta[first]).all(axis=1)
        order = np.argsort(-np.where(finite, probability, -np.inf), kind="stable")
        genes = [str(adata.var_names[i]) for i in order[: min(10, int(finite.sum()))]]
    genes = [genes] if isinstance(genes, str) else list(genes)
    missing = [g for g in genes if g not in adata.var_names]
    if missing or not genes:
        raise ValueError(f"ct.pl.attention: genes={missing or genes} are not in adata.var_names")
    columns = adata.var_names.get_indexer(genes)
    names = (
        adata.var["gene_name"].astype(str).to_numpy()
        if "gene_name" in adata.var
        else adata.var_names
    )
    rows, labels = [], []
    for column in columns:
        for cell_type in explained:
            values = beta[adata.obs_names.get_loc(cell_type), column]
            if np.isfinite(values).all():
                rows.append(values)
                labels.append(f"{names[column]} · {cell_type}")
    if not rows:
        raise ValueError(f"ct.pl.attention: no β was computed for the genes {genes}")
    matrix = np.array(rows)
    with style():
        fig, ax = axes(None, figsize=(1.2 + 0.7 * len(marks), 0.8 + 0.28 * len(rows)))
        image = ax.imshow(matrix, cmap="Reds", aspect="auto")
        fig.colorbar(image, ax=ax, label="β (attention over marks)")
        ax.set_xticks(range(len(marks)), marks, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.spines[:].set_visible(False)
        ax.set_title(f"{key}: mark attention")
        fig.matrix = matrix
    return savefig_or_show(fig, fig, show, save)


@doc_plot
def deletion(
    adata: AnnData,
    key: str,
    *,
    cell_type: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """Mean predicted change from each deletion, ON against OFF genes (``in_silico_deletion``).

    Parameters
    ----------
    adata
        Object with ``uns[key]`` from :func:`~chromtools.tl.in_silico_deletion`.
    key
        Its ``key_added`` (by default ``f"{model}_deletion"``).
    cell_type
        One cell type of the summary; needed when it has several.
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``.
    """
    check_show_save(show, save)
    record = stored(adata, "uns", key, "deletion", "ct.tl.in_silico_deletion(adata, model)")
    if kind_of(record) != "deletion":
        raise ValueError(
            f"ct.pl.deletion: adata.uns[{key!r}] was not written by in_silico_deletion"
        )
    summary = record["summary"]
    cell_type = _one_cell_type(
        adata, cell_type, list(dict.fromkeys(summary["cell_type"].astype(str))), "deletion"
    )
    summary = summary[summary["cell_type"].astype(str) == cell_type]
    perturbations = list(dict.fromkeys(summary["perturbation"]))
    names = [
        p.removeprefix(RESULTS["deletion"].slots(key, name="")["layers"][0]) for p in perturbations
    ]
    width = 0.38
    with style():
        fig, ax = axes(ax, figsize=(max(3.5, 0.8 * len(names) + 1.5), 3.2))
        for i, status in enumerate(("ON", "OFF")):
            rows = summary[summary["status"] == status].set_index("perturbation")
            values = rows["mean_change"].reindex(perturbations).to_numpy(float)
            ax.bar(
                dodged(np.arange(len(names)), i, 2, width),
                values,
                width,
                color=ON_OFF[status],
                label=f"{status} genes",
            )
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(
            range(len(names)),
            names,
            rotation=45 if len(names) > 3 else 0,
            ha="right" if len(names) > 3 else "center",
        )
        ax.set(ylabel="Mean predicted change", title=f"Deletion ({cell_type})")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return savefig_or_show(fig, ax, show, save)
