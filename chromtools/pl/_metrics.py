"""How well fitted models score: one metric per cell type × model with bootstrap
intervals, and the learning curve of a network, drawn from what ``ct.tl.fit`` stored.
And how every score axis is drawn (:func:`metric_axis`).
"""

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
from ._legend import place_legend
from ._predicted import labelled, measured
from ._utils import (
    axes,
    cell_label,
    check_show_save,
    colour,
    dodged,
    fitted,
    keys_of,
    metric_label,
    savefig_or_show,
    style,
)

# What a metric can be: its axis never reads outside this range.
BOUNDS = {m: (0.0, 1.0) for m in ("auroc", "auprc", "f1", "accuracy")}
BOUNDS |= {m: (-1.0, 1.0) for m in ("pearson", "spearman")}
# The least span of a bounded metric's axis, so that a change of 0.01 looks small.
MIN_SPAN = 0.1
LEVEL = 0.95  # coverage of the bootstrap intervals ct.pl.metrics draws


def metric_axis(ax: Axes, values: object, metrics: Sequence[str]) -> None:
    """Y limits for ``values`` of ``metrics``: their range, padded, at least :data:`MIN_SPAN`
    wide for bounded metrics (a tenth of the largest value for others, a loss), so that
    a tiny change looks tiny; past a bound only by a margin smaller than a tick step, so
    no tick reads beyond it (no AUROC of 1.05)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if not len(values) or not values.any():
        return
    low, high = float(values.min()), float(values.max())
    bounds = [BOUNDS.get(m) for m in metrics]
    bounded = bool(bounds) and all(b is not None for b in bounds)
    least = MIN_SPAN if bounded else MIN_SPAN * float(np.abs(values).max())
    low, high = low - 0.08 * (high - low), high + 0.08 * (high - low)
    if high - low < least:
        low, high = (low + high - least) / 2, (low + high + least) / 2
    if bounded:
        lower, upper = min(b[0] for b in bounds), max(b[1] for b in bounds)
        if high > upper:  # slide the window down to the bound, keeping its span
            low, high = max(low - (high - upper), lower), upper
        if low < lower:
            low, high = lower, min(high + (lower - low), upper)
        margin = 0.02 * (high - low)  # a tick step is at least a tenth of the span
        low, high = low - margin * (low <= lower), high + margin * (high >= upper)
    ax.set_ylim(low, high)


def _metric_rows(adata: AnnData, keys: list[str], metric: str, split: str) -> pd.DataFrame:
    """(key, cell type, value, genes) of ``metric`` on ``split`` from each model's metrics."""
    rows = []
    for key in keys:
        table = fitted(adata, key, "metrics")["metrics"]
        if metric not in table.columns:
            raise ValueError(
                f"ct.pl.metrics: metric={metric!r} is not in adata.uns[{key!r}]['metrics'] "
                f"(it has {[c for c in table.columns if c not in ('cell_type', 'split', 'n')]})"
            )
        chosen = table[table["split"] == split]
        genes = chosen["n"] if "n" in chosen else np.full(len(chosen), np.nan)
        rows += [
            (key, str(c), float(v), float(n))
            for c, v, n in zip(chosen["cell_type"], chosen[metric], genes, strict=True)
        ]
    return pd.DataFrame(rows, columns=["key", "cell_type", "value", "n"])


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
    """One metric per cell type × model as dots with 95 % bootstrap intervals.

    The value of each dot is ``uns[key]['metrics']`` as ``ct.tl.fit`` stored
    it; the interval is a 95 % percentile bootstrap over the ``split`` genes of
    the stored predictions (the title says how many). A baseline model's value
    is drawn as a grey bar, and the published DeepChrome AUC
    (``obs['deepchrome_auc']``, as ``remc_sample`` carries it) as a black cross.
    Cell types are named as :func:`~chromtools.pl._utils.cell_label` does.

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
    drawn = [table["value"].to_numpy()]
    with style():
        fig, ax = axes(ax, figsize=(max(3.5, 1.1 * len(cell_types) + 2.0), 3.8))
        for i, key in enumerate(keys):
            mine = table[table["key"] == key]
            x = dodged(np.array([position[c] for c in mine["cell_type"]]), i, len(keys), width)
            ax.scatter(x, mine["value"], color=colour(i), s=30, zorder=3, label=key)
            if n_boot:
                intervals = _intervals(
                    adata, key, list(mine["cell_type"]), task, metric, split, n_boot, seed
                )
                _error_bars(ax, x, mine["value"], intervals, colour(i))
                drawn.append(intervals)
        if reference is not None:
            drawn.append(_baseline_marks(ax, reference, position, baseline))
        if published and metric == "auroc" and "deepchrome_auc" in adata.obs:
            drawn.append(_published_marks(ax, adata, cell_types))
        cell_type_ticks(ax, [cell_label(adata, c) for c in cell_types])
        ax.set(
            xlabel="Cell type",
            ylabel=f"{metric_label(metric)} on {split} genes",
            xlim=(-0.6, len(cell_types) - 0.4),
        )
        ax.set_title(_metrics_title(table, metric, split, n_boot), fontsize=10)
        metric_axis(ax, np.concatenate([np.ravel(d) for d in drawn]), [metric])
        place_legend(ax)
    return savefig_or_show(fig, ax, show, save)


def cell_type_ticks(ax: Axes, names: list[str]) -> None:
    """Cell-type tick labels, slanted when they are long or many."""
    slant = len(names) > 4 or (len(names) > 1 and max(len(n) for n in names) > 10)
    ax.set_xticks(range(len(names)), names, rotation=30 if slant else 0)
    if slant:
        for text in ax.get_xticklabels():
            text.set(ha="right", rotation_mode="anchor")


def _metrics_title(table: pd.DataFrame, metric: str, split: str, n_boot: int) -> str:
    """What the dots are, and what their bars are: interval type, resamples, genes."""
    title = f"{metric_label(metric)} per cell type, {split} genes"
    if not n_boot:
        return title
    genes = sorted({int(n) for n in table["n"] if np.isfinite(n)})
    n = "" if not genes else f", n={genes[0]}" if len(genes) == 1 else f", n={genes[0]}–{genes[-1]}"
    return f"{title}\nbars: {LEVEL:.0%} bootstrap interval ({n_boot} resamples{n} genes)"


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
            out[i] = bootstrap_interval(
                truth, guess, task, metric=metric, n_boot=n_boot, level=LEVEL, seed=seed
            )
    return out


def _error_bars(ax: Axes, x: np.ndarray, values: pd.Series, intervals: np.ndarray, color: str):
    """Each dot's bootstrap interval as an error bar (clipped to reach the dot)."""
    values = values.to_numpy()
    below, above = np.maximum(values - intervals[:, 0], 0), np.maximum(intervals[:, 1] - values, 0)
    ax.errorbar(x, values, yerr=[below, above], fmt="none", ecolor=color, elinewidth=1, zorder=2)


def _baseline_marks(ax: Axes, reference: pd.DataFrame, position: dict, baseline: str) -> np.ndarray:
    """The baseline model's value per drawn cell type, as a grey bar across its dots."""
    shown = reference[reference["cell_type"].isin(position)]
    for n, (c, v) in enumerate(zip(shown["cell_type"], shown["value"], strict=True)):
        label = baseline if n == 0 else f"_{baseline}"  # one legend entry
        ax.hlines(v, position[c] - 0.4, position[c] + 0.4, color="0.6", lw=2, zorder=1, label=label)
    return shown["value"].to_numpy()


def _published_marks(ax: Axes, adata: AnnData, cell_types: list[str]) -> np.ndarray:
    """The published DeepChrome AUC (``obs['deepchrome_auc']``) as black crosses."""
    paper = adata.obs["deepchrome_auc"].reindex(cell_types).astype(float)
    known = paper.notna().to_numpy()
    label = "DeepChrome (published)"
    ax.scatter(
        np.flatnonzero(known), paper[known], marker="x", c="black", s=30, zorder=4, label=label
    )
    return paper[known].to_numpy()


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

    The loss (and a validation MSE, in the loss's units) is drawn on the left
    axis, each bounded validation score (AUROC, AUPRC, Pearson r) on the right
    one, at least :data:`MIN_SPAN` wide so that noise looks as small as it is;
    a dotted line marks the epoch that was kept (``params['best_epoch']``).
    The title names the model and the cell types it was trained on.

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
    from matplotlib.ticker import MaxNLocator

    check_show_save(show, save)
    record = fitted(adata, key, "learning_curve")
    history = record.get("history")
    if not isinstance(history, pd.DataFrame) or history.empty:
        raise ValueError(
            f"ct.pl.learning_curve: adata.uns[{key!r}] has no per-epoch history; "
            "only neural networks are trained in epochs"
        )
    params = record.get("params", {})
    with style():
        fig, ax = axes(ax)
        right = ax.twinx()
        # the loss axes over its twin, so that its legend is drawn above every line
        ax.set_zorder(right.get_zorder() + 1)
        ax.patch.set_visible(False)
        right.spines["right"].set_visible(True)
        _history_lines(ax, right, history)
        best = params.get("best_epoch")
        if best is not None:
            ax.axvline(best, color="0.5", ls=":", lw=1, label=f"best epoch {best}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(_trained_on(adata, key, params), fontsize=10)
        handles = [*ax.get_lines(), *right.get_lines()]
        place_legend(ax, handles, [h.get_label() for h in handles], also=[right])
        ax.right = right
    return savefig_or_show(fig, ax, show, save)


def _history_lines(ax: Axes, right: Axes, history: pd.DataFrame) -> None:
    """The training loss and validation scores in its units (MSE) on ``ax``, the bounded
    validation scores (AUROC, Pearson r…) on ``right``, each axis labelled and limited."""
    epochs, dots = history["epoch"], {"marker": "o", "ms": 3}
    scores = [c.removeprefix("valid_") for c in history.columns if c.startswith("valid_")]
    bounded = [m for m in scores if m in BOUNDS]
    unbounded = [m for m in scores if m not in BOUNDS]
    ax.plot(epochs, history["train_loss"], color="black", label="training loss", **dots)
    for metric in unbounded:
        label = f"validation {metric_label(metric)}"
        ax.plot(epochs, history[f"valid_{metric}"], color="black", ls="--", label=label, **dots)
    for i, metric in enumerate(bounded):
        label = f"validation {metric_label(metric)}"
        right.plot(epochs, history[f"valid_{metric}"], color=colour(i), label=label, **dots)
    also = "".join(f" / validation {metric_label(m)}" for m in unbounded)
    ax.set(xlabel="Epoch", ylabel=f"Training loss{also}")
    names = ", ".join(metric_label(m) for m in bounded)
    right.set_ylabel(f"Validation {names}" if names else "")
    metric_axis(right, history[[f"valid_{m}" for m in bounded]], bounded)
    metric_axis(ax, history[["train_loss", *(f"valid_{m}" for m in unbounded)]], ["loss"])


def _trained_on(adata: AnnData, key: str, params: dict) -> str:
    """``deepchrome on K562 (E123), H1 (E003)``; the key too where it is not the model's name."""
    model = str(params.get("model", key))
    cells = params.get("cell_types") or []
    cells = [cells] if isinstance(cells, str) else list(cells)
    if len(cells) > 3:
        named = f"{len(cells)} cell types"
    else:
        named = ", ".join(cell_label(adata, str(c)) for c in cells)
    title = f"{model} on {named}" if named else model
    return title if key == model else f"{title} ({key!r})"
