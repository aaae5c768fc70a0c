"""Transfer between cell types: the source × target matrix, the subsample curve and
fine-tuning against zero-shot and scratch, drawn from what ``ct.tl`` stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .._docs import doc_plot
from ._utils import (
    axes,
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
    genes; the diagonal (a source on its own test genes) is outlined.

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
    scores = record["scores"]
    column = _metric_column(scores, metric, "transfer_heatmap", key)
    matrix = scores.pivot(index="source", columns="target", values=column)
    if "matrix" in record and metric == record.get("params", {}).get("metric", "auroc"):
        matrix = record["matrix"]
    sources, targets = [str(s) for s in matrix.index], [str(t) for t in matrix.columns]
    values = matrix.to_numpy(dtype=np.float64)
    with style():
        fig, ax = axes(ax, figsize=(1.0 + 0.8 * len(targets), 0.8 + 0.7 * len(sources)))
        image = ax.imshow(values, cmap=cmap, aspect="auto")
        fig.colorbar(image, ax=ax, label=metric_label(metric))
        ax.set_xticks(range(len(targets)), targets, rotation=45 if len(targets) > 4 else 0)
        ax.set_yticks(range(len(sources)), sources)
        ax.set(xlabel="Target", ylabel="Source", title="Zero-shot transfer")
        ax.spines[:].set_visible(False)
        for i, source in enumerate(sources):
            if source in targets:
                j = targets.index(source)
                ax.add_patch(_outline(j, i))
        if annotate:
            middle = np.nanmean(values)
            for i in range(len(sources)):
                for j in range(len(targets)):
                    if np.isfinite(values[i, j]):
                        ax.text(
                            j,
                            i,
                            f"{values[i, j]:.2f}",
                            ha="center",
                            va="center",
                            fontsize=8,
                            color="white" if values[i, j] < middle else "black",
                        )
    return savefig_or_show(fig, ax, show, save)


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

    Means over the subsamples with ± 1 sd bands, against the number of
    training genes; the zero-shot score (no target labels) is a dashed line.

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
    check_show_save(show, save)
    record = _record(adata, key, "subsample_curve", "subsample_curve", "summary")
    summary = record["summary"]
    mean = _metric_column(summary, metric, "subsample_curve", key, "_mean")
    sd = f"{metric}_sd"
    with style():
        fig, ax = axes(ax)
        for approach in ("finetuned", "scratch"):
            rows = summary[summary["approach"] == approach].sort_values("n_train")
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
        params = record.get("params", {})
        target = params.get("target", "")
        ax.set_xscale("log")
        ticks = np.unique(summary.loc[summary["approach"] != "zero_shot", "n_train"].astype(int))
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set(
            xlabel="Target training genes",
            title=f"Subsample curve{' → ' + target if target else ''}",
            ylabel=f"Test {metric_label(metric)}",
        )
        ax.legend(loc="lower right")
    return savefig_or_show(fig, ax, show, save)


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
    table = _record(adata, key, "finetune", "finetune", "metrics")["metrics"]
    column = _metric_column(table, metric, "finetune", key)
    if table.empty:
        raise ValueError(
            f"ct.pl.finetune: adata.uns[{key!r}]['metrics'] is empty (no labelled target)"
        )
    targets = list(dict.fromkeys(table["target"].astype(str)))
    approaches = [a for a in APPROACHES if a in set(table["approach"])]
    width = 0.6 / max(len(approaches), 1)
    with style():
        fig, ax = axes(ax, figsize=(max(3.0, 1.0 * len(targets) + 1.5), 3.5))
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
        source = table.attrs.get("source") or adata.uns[key].get("params", {}).get("source", "")
        ax.set_xticks(range(len(targets)), targets)
        ax.set(
            xlabel="Target",
            xlim=(-0.6, len(targets) - 0.4),
            ylabel=f"Test {metric_label(metric)}",
            title=f"Fine-tuning{' from ' + str(source) if source else ''}",
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return savefig_or_show(fig, ax, show, save)
