"""How well fitted models score: one metric per cell type × model with bootstrap
intervals, and the learning curve of a network, drawn from what ``ct.tl.fit`` stored."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .._docs import doc_plot
from .._utils import check_int
from ..tl import bootstrap_interval
from ._predicted import labelled, measured
from ._utils import (
    axes,
    check_show_save,
    colour,
    dodged,
    fitted,
    keys_of,
    metric_label,
    savefig_or_show,
    style,
)


def _metric_rows(adata: AnnData, keys: list[str], metric: str, split: str) -> pd.DataFrame:
    """(key, cell type, value) of ``metric`` on ``split`` from each model's stored metrics."""
    rows = []
    for key in keys:
        table = fitted(adata, key, "metrics")["metrics"]
        if metric not in table.columns:
            raise ValueError(
                f"ct.pl.metrics: metric={metric!r} is not in adata.uns[{key!r}]['metrics'] "
                f"(it has {[c for c in table.columns if c not in ('cell_type', 'split', 'n')]})"
            )
        chosen = table[table["split"] == split]
        rows += [
            (key, str(c), float(v))
            for c, v in zip(chosen["cell_type"], chosen[metric], strict=True)
        ]
    return pd.DataFrame(rows, columns=["key", "cell_type", "value"])


@doc_plot
def metrics(
    adata: AnnData,
    keys: str | Sequence[str],
    *,
    metric: str = "auroc",
    split: str = "test",
    baseline: str | None = "logreg",
    published: bool = True,
    n_boot: int = 200,
    seed: int = 0,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """One metric per cell type × model as dots with bootstrap intervals.

    The value of each dot is ``uns[key]['metrics']`` as ``ct.tl.fit`` stored
    it; the interval is a percentile bootstrap over the ``split`` genes of
    the stored predictions. A baseline model's value is drawn as a grey bar,
    and the published DeepChrome AUC (``obs['deepchrome_auc']``, as
    ``remc_sample`` carries it) as a black cross.

    Parameters
    ----------
    adata
        Object with the fitted models' ``uns[key]`` and ``layers[key]``.
    keys
        Model key, or several.
    metric
        A column of ``uns[key]['metrics']``: ``auroc``, ``auprc``, ``f1``,
        ``accuracy`` (classifiers) or ``pearson``, ``spearman``, ``mse``.
    split
        The split whose metrics are drawn.
    baseline
        Key of a model drawn as a reference mark (not a dot); skipped when
        it is not in ``adata.uns``. ``None`` for none.
    published
        Draw ``obs['deepchrome_auc']`` where it exists (``metric='auroc'`` only).
    n_boot
        Bootstrap resamples per interval; 0 for no intervals.
    seed
        Seed of the bootstrap.
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``.
    """
    check_show_save(show, save)
    keys = keys_of(keys)
    n_boot = check_int(n_boot, "n_boot", minimum=0)
    table = _metric_rows(adata, keys, metric, split)
    if table.empty:
        raise ValueError(f"ct.pl.metrics: no {split} metrics for {keys}")
    reference = None
    if baseline is not None and baseline not in keys and baseline in adata.uns:
        reference = _metric_rows(adata, [baseline], metric, split)
    cell_types = list(dict.fromkeys(table["cell_type"]))
    position = {c: i for i, c in enumerate(cell_types)}
    width = 0.6 / max(len(keys), 1)
    task = "regression" if metric in ("pearson", "spearman", "mse") else "classification"
    with style():
        fig, ax = axes(ax, figsize=(max(3.5, 0.9 * len(cell_types) + 1.5), 3.5))
        for i, key in enumerate(keys):
            mine = table[table["key"] == key]
            x = dodged(np.array([position[c] for c in mine["cell_type"]]), i, len(keys), width)
            ax.scatter(x, mine["value"], color=colour(i), s=30, zorder=3, label=key)
            if n_boot:
                intervals = _intervals(
                    adata, key, list(mine["cell_type"]), task, metric, split, n_boot, seed
                )
                _error_bars(ax, x, mine["value"], intervals, colour(i))
        if reference is not None:
            _baseline_marks(ax, reference, position, baseline)
        if published and metric == "auroc" and "deepchrome_auc" in adata.obs:
            _published_marks(ax, adata, cell_types)
        ax.set_xticks(range(len(cell_types)), cell_types, rotation=45 if len(cell_types) > 4 else 0)
        ax.set(
            ylabel=f"{metric_label(metric)} ({split})",
            xlim=(-0.6, len(cell_types) - 0.4),
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return savefig_or_show(fig, ax, show, save)


def _intervals(adata, key, cell_types, task, metric, split, n_boot, seed) -> np.ndarray:
    """Bootstrap interval of ``metric`` per cell type (NaN where it has no predictions)."""
    if task == "classification":
        pairs = labelled(adata, key, split, "metrics")
    else:
        pairs = measured(adata, key, split, "metrics")
    out = np.full((len(cell_types), 2), np.nan)
    for i, cell_type in enumerate(cell_types):
        if cell_type in pairs:
            truth, guess = pairs[cell_type]
            out[i] = bootstrap_interval(truth, guess, task, metric=metric, n_boot=n_boot, seed=seed)
    return out


def _error_bars(ax: Axes, x: np.ndarray, values: pd.Series, intervals: np.ndarray, color: str):
    """Each dot's bootstrap interval as an error bar (clipped to reach the dot)."""
    low = values.to_numpy() - intervals[:, 0]
    high = intervals[:, 1] - values.to_numpy()
    ax.errorbar(
        x,
        values,
        yerr=[np.maximum(low, 0), np.maximum(high, 0)],
        fmt="none",
        ecolor=color,
        elinewidth=1,
        zorder=2,
    )


def _baseline_marks(ax: Axes, reference: pd.DataFrame, position: dict, baseline: str) -> None:
    """The baseline model's value per drawn cell type, as a grey bar across its dots."""
    shown = reference[reference["cell_type"].isin(position)]
    for n, (c, v) in enumerate(zip(shown["cell_type"], shown["value"], strict=True)):
        ax.hlines(
            v,
            position[c] - 0.4,
            position[c] + 0.4,
            color="0.6",
            lw=2,
            zorder=1,
            label=baseline if n == 0 else f"_{baseline}",
        )


def _published_marks(ax: Axes, adata: AnnData, cell_types: list[str]) -> None:
    """The published DeepChrome AUC (``obs['deepchrome_auc']``) as black crosses."""
    paper = adata.obs["deepchrome_auc"].reindex(cell_types).astype(float)
    known = paper.notna().to_numpy()
    ax.scatter(
        np.flatnonzero(known),
        paper[known],
        marker="x",
        color="black",
        s=30,
        zorder=4,
        label="DeepChrome (published)",
    )


@doc_plot
def learning_curve(
    adata: AnnData,
    key: str,
    *,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """Training loss and validation scores per epoch, from ``uns[key]['history']``.

    The loss is drawn on the left axis, each validation score on the right
    one; a dotted line marks the epoch that was kept (``params['best_epoch']``).

    Parameters
    ----------
    adata
        Object with a fitted model's ``uns[key]``.
    key
        Model key (a neural network; baselines have no epochs).
    {ax_show_save}

    Returns
    -------
    The (loss) axes when ``show=False``; the scores' axes are ``ax.right``.
    """
    check_show_save(show, save)
    record = fitted(adata, key, "learning_curve")
    history = record.get("history")
    if not isinstance(history, pd.DataFrame) or history.empty:
        raise ValueError(
            f"ct.pl.learning_curve: adata.uns[{key!r}] has no per-epoch history; "
            "only neural networks are trained in epochs"
        )
    scores = [c for c in history.columns if c.startswith("valid_")]
    with style():
        fig, ax = axes(ax)
        ax.plot(
            history["epoch"],
            history["train_loss"],
            color="black",
            marker="o",
            ms=3,
            label="train loss",
        )
        ax.set(xlabel="Epoch", ylabel="Training loss", title=key)
        right = ax.twinx()
        right.spines["right"].set_visible(True)
        for i, column in enumerate(scores):
            right.plot(
                history["epoch"],
                history[column],
                color=colour(i),
                marker="o",
                ms=3,
                label=column.replace("_", " "),
            )
        right.set_ylabel("Validation score")
        best = record.get("params", {}).get("best_epoch")
        if best is not None:
            ax.axvline(best, color="0.5", ls=":", lw=1)
        lines = ax.get_lines()[:1] + right.get_lines()
        ax.legend(
            lines,
            [line.get_label() for line in lines],
            loc="upper center",
            bbox_to_anchor=(0.5, -0.18),
            ncol=len(lines),
        )
        ax.right = right
    return savefig_or_show(fig, ax, show, save)
