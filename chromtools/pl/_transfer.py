"""Transfer between cell types: the source × target matrix, the subsample curve and
fine-tuning against zero-shot and scratch, drawn from what ``ct.tl`` stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .._docs import doc_plot
from ._legend import place_legend
from ._metrics import cell_type_ticks, metric_axis
from ._utils import (
    axes,
    cell_label,
    check_show_save,
    colour,
    dodged,
    metric_label,
    savefig_or_show,
    stored,
    style,
)

APPROACHES = ("zero_shot", "finetuned", "scratch")
_APPROACH_COLOUR = {"zero_shot": "0.45", "finetuned": colour(0), "scratch": colour(1)}
_LABEL = {"zero_shot": "zero-shot", "finetuned": "fine-tuned", "scratch": "scratch"}


def _record(adata: AnnData, key: str, plot: str, tool: str, entry: str) -> dict:
    record = stored(adata, "uns", key, plot, f"ct.tl.{tool}(adata, ..., key_added={key!r})")
    if not isinstance(record, dict) or entry not in record:
        raise ValueError(
            f"ct.pl.{plot}: adata.uns[{key!r}] has no {entry!r}; it was not written by ct.tl.{tool}"
        )
    return record


def _metric_column(table: pd.DataFrame, metric: str, plot: str, key: str, suffix: str = ""):
    column = f"{metric}{suffix}"
    if column not in table.columns:
        have = sorted({c.removesuffix(suffix) for c in table.columns if c.endswith(suffix)})
        raise ValueError(
            f"ct.pl.{plot}: metric={metric!r} is not in adata.uns[{key!r}] (it has {have})"
        )
    return column


def decimals(values: np.ndarray) -> int:
    """Decimals that tell the values apart: 2 for a spread of 0.05 or more, 3 below it,
    4 below 0.005, more while two different values would print alike (at most 6)."""
    finite = np.unique(values[np.isfinite(values)])
    spread = float(np.ptp(finite)) if len(finite) else 0.0
    places = 2 if spread >= 0.05 else 3 if spread >= 0.005 else 4
    while places < 6 and len(np.unique(np.round(finite, places))) < len(finite):
        places += 1
    return places


def _matrix(record: dict, metric: str, key: str) -> pd.DataFrame:
    """Source × target table of ``metric``: the stored ``matrix`` where it is that metric."""
    params = record.get("params", {})
    if "matrix" in record and metric == params.get("metric", "auroc"):
        return record["matrix"]
    column = _metric_column(record["scores"], metric, "transfer_heatmap", key)
    matrix = record["scores"].pivot(index="source", columns="target", values=column)
    sources = params.get("sources") or list(matrix.index)
    targets = params.get("targets") or list(matrix.columns)
    return matrix.reindex(index=sources, columns=targets)


@doc_plot
def transfer_heatmap(
    adata: AnnData,
    key: str = "transfer_matrix",
    *,
    metric: str = "auroc",
    cmap: str = "viridis",
    annotate: bool = True,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """Source × target heatmap of zero-shot transfer (``ct.tl.transfer_matrix``).

    Cell (i, j) is the model fitted on source i scored on target j's test
    genes. The diagonal (a source on its own test genes) is the
    within-cell-type score, not a transfer: it is outlined, and the title
    says so. Each cell's value is written with as many decimals as tell the
    cells apart (:func:`decimals`); the colour bar names the metric, the
    split and the range its colours span.

    Parameters
    ----------
    adata
        Object with ``uns[key]`` from :func:`~chromtools.tl.transfer_matrix`.
    key
        Its ``key_added``.
    metric
        A metric of ``uns[key]['scores']``; ``auroc`` draws ``uns[key]['matrix']`` as is.
    cmap
        Colour map.
    annotate
        Write each value in its cell.
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``.
    """
    check_show_save(show, save)
    record = _record(adata, key, "transfer_heatmap", "transfer_matrix", "scores")
    matrix = _matrix(record, metric, key)
    sources, targets = [str(s) for s in matrix.index], [str(t) for t in matrix.columns]
    values = matrix.to_numpy(dtype=np.float64)
    places = decimals(values)
    low, high = np.nanmin(values), np.nanmax(values)
    model = record.get("params", {}).get("model")
    with style():
        fig, ax = axes(ax, figsize=(2.6 + 1.1 * len(targets), 1.6 + 0.7 * len(sources)))
        image = ax.imshow(values, cmap=cmap, aspect="auto")
        fig.colorbar(
            image,
            ax=ax,
            label=f"{metric_label(metric)} on target test genes\n"
            f"(colours span {low:.{places}f}–{high:.{places}f})",
        )
        cell_type_ticks(ax, [cell_label(adata, t) for t in targets])
        ax.set_yticks(range(len(sources)), [cell_label(adata, s) for s in sources])
        ax.set(xlabel="Target (scored on)", ylabel="Source (trained on)")
        ax.spines[:].set_visible(False)
        diagonal = [(targets.index(s), i) for i, s in enumerate(sources) if s in targets]
        for j, i in diagonal:
            ax.add_patch(_outline(j, i))
        title = f"Zero-shot transfer{' of ' + model if model else ''}"
        if diagonal:
            title += "\noutlined diagonal: model scored on its own cell type"
        ax.set_title(title, fontsize=10)
        if annotate:
            _write_values(ax, image, values, places)
    return savefig_or_show(fig, ax, show, save)


def _write_values(ax: Axes, image, values: np.ndarray, places: int) -> None:
    """Each finite value in its cell, white on dark colours and black on light ones."""
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            red, green, blue, _ = image.cmap(image.norm(value))
            dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
            ax.text(
                j,
                i,
                f"{value:.{places}f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )


def _outline(x: float, y: float):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.5)


@doc_plot
def subsample_curve(
    adata: AnnData,
    key: str = "subsample_curve",
    *,
    metric: str = "auroc",
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """Fine-tuned against scratch as the target's training labels grow (ChromTransfer Fig. 4).

    Means over the subsamples, against the number of labelled target training
    genes (and their share of the training split); each band is ± 1 standard
    deviation over the ``n_boot`` subsamples of that share, as the legend
    says. The zero-shot score (no target labels) is a dashed line.

    Parameters
    ----------
    adata
        Object with ``uns[key]`` from :func:`~chromtools.tl.subsample_curve`.
    key
        Its ``key_added``.
    metric
        A metric of ``uns[key]['summary']`` (``auroc``, ``auprc``…).
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``.
    """
    from matplotlib.patches import Patch

    check_show_save(show, save)
    record = _record(adata, key, "subsample_curve", "subsample_curve", "summary")
    summary = record["summary"]
    mean = _metric_column(summary, metric, "subsample_curve", key, "_mean")
    sd = f"{metric}_sd"
    params = record.get("params", {})
    n_boot = params.get("n_boot")
    if n_boot is None and "runs" in record:
        n_boot = int(record["runs"]["boot"].max()) + 1
    trained = summary[summary["approach"] != "zero_shot"]
    with style():
        fig, ax = axes(ax, figsize=(4.5, 3.6))
        for approach in ("finetuned", "scratch"):
            rows = trained[trained["approach"] == approach].sort_values("n_train")
            if rows.empty:
                continue
            x, y = rows["n_train"].to_numpy(float), rows[mean].to_numpy(float)
            spread = np.nan_to_num(rows[sd].to_numpy(float)) if sd in rows else np.zeros_like(y)
            c = _APPROACH_COLOUR[approach]
            ax.plot(x, y, marker="o", ms=4, color=c, label=_LABEL[approach])
            ax.fill_between(x, y - spread, y + spread, color=c, alpha=0.2, lw=0)
        zero = summary[summary["approach"] == "zero_shot"]
        if len(zero):
            ax.axhline(
                float(zero[mean].iloc[0]),
                color=_APPROACH_COLOUR["zero_shot"],
                ls="--",
                lw=1,
                label=_LABEL["zero_shot"],
            )
        _training_genes_axis(ax, trained)
        ax.set(
            ylabel=f"{metric_label(metric)} on target test genes",
            title=_source_to_target(adata, params, "Subsample curve"),
        )
        ax.title.set_fontsize(10)
        handles, labels = ax.get_legend_handles_labels()
        if n_boot and n_boot > 1 and sd in summary:
            handles.append(Patch(color="0.5", alpha=0.3, lw=0))
            labels.append(f"band: ± 1 sd over {n_boot} subsamples")
        band = [summary[mean] - summary[sd].fillna(0), summary[mean] + summary[sd].fillna(0)]
        metric_axis(ax, np.concatenate(band) if sd in summary else summary[mean], [metric])
        place_legend(ax, handles, labels)
    return savefig_or_show(fig, ax, show, save)


def _training_genes_axis(ax: Axes, trained: pd.DataFrame) -> None:
    """Log-scaled number of labelled target training genes, each tick with its share."""
    shares = trained.groupby("fraction")["n_train"].mean().sort_index()
    ax.set_xscale("log")
    ax.set_xticks(shares.to_numpy(), [f"{n:g}\n{100 * f:g}%" for f, n in shares.items()])
    ax.minorticks_off()
    ax.set_xlabel("Labelled target training genes (number, % of training split)")


def _source_to_target(adata: AnnData, params: dict, what: str) -> str:
    """``what: deepchrome, K562 (E123) → H1 (E003)`` from a transfer's stored params."""
    source = params.get("source") or params.get("source_key")
    targets = params.get("targets") or [params.get("target")]
    named = ", ".join(cell_label(adata, str(t)) for t in targets if t is not None)
    route = f"{cell_label(adata, str(source)) if source else '?'} → {named or '?'}"
    model = params.get("model")
    return f"{what}{', ' + model if model else ''}\n{route}"


@doc_plot
def finetune(
    adata: AnnData,
    key: str = "finetune",
    *,
    metric: str = "auroc",
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """Zero-shot, fine-tuned and scratch per target cell type, as a grouped dot plot.

    The score axis of a bounded metric (AUROC, AUPRC, accuracy…) is at least
    0.1 wide and never reads past its bounds.

    Parameters
    ----------
    adata
        Object with ``uns[key]`` from :func:`~chromtools.tl.finetune`.
    key
        Its ``key_added``.
    metric
        A column of ``uns[key]['metrics']``.
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``.
    """
    check_show_save(show, save)
    record = _record(adata, key, "finetune", "finetune", "metrics")
    table = record["metrics"]
    column = _metric_column(table, metric, "finetune", key)
    if table.empty:
        raise ValueError(
            f"ct.pl.finetune: adata.uns[{key!r}]['metrics'] is empty (no labelled target)"
        )
    targets = list(dict.fromkeys(table["target"].astype(str)))
    approaches = [a for a in APPROACHES if a in set(table["approach"])]
    width = 0.6 / max(len(approaches), 1)
    params = dict(record.get("params", {}))
    params["source"] = table.attrs.get("source") or params.get("source")
    with style():
        fig, ax = axes(ax, figsize=(max(3.5, 1.2 * len(targets) + 2.0), 3.6))
        for i, approach in enumerate(approaches):
            rows = table[table["approach"] == approach]
            x = dodged(
                np.array([targets.index(str(t)) for t in rows["target"]]), i, len(approaches), width
            )
            ax.scatter(
                x,
                rows[column],
                s=40,
                color=_APPROACH_COLOUR[approach],
                zorder=3,
                label=_LABEL[approach],
            )
        cell_type_ticks(ax, [cell_label(adata, t) for t in targets])
        ax.set(
            xlabel="Target cell type",
            xlim=(-0.6, len(targets) - 0.4),
            ylabel=f"{metric_label(metric)} on target test genes",
        )
        ax.set_title(_source_to_target(adata, params, "Fine-tuning"), fontsize=10)
        metric_axis(ax, table[column], [metric])
        place_legend(ax)
    return savefig_or_show(fig, ax, show, save)
