"""How well models predict: ROC and precision–recall curves, metrics per cell type,
learning curves and calibration, drawn from what ``ct.tl.fit`` stored."""

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
from ._utils import (
    axes,
    cell_types_of,
    check_show_save,
    colour,
    fitted,
    keys_of,
    predictions,
    savefig_or_show,
    stored,
    style,
)

_SPLITS = ("train", "valid", "test")


def _labelled(adata: AnnData, key: str, split: str, plot: str) -> dict[str, tuple]:
    """Per cell type with predictions of ``key``: (truth, prediction) over the ``split`` genes."""
    record = fitted(adata, key, plot)
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {list(_SPLITS)}, got {split!r}")
    labels = np.asarray(
        stored(adata, "layers", "label", plot, "ct.pp.binarize(adata)"), dtype=np.float64
    )
    predicted = predictions(adata, key, plot)
    split_key = record.get("params", {}).get("split_key", "split")
    genes = (adata.var[split_key] == split).to_numpy() if split_key in adata.var else None
    if genes is None:
        raise ValueError(
            f"ct.pl.{plot}: adata.var[{split_key!r}] (the split {key!r} was fitted on) is missing"
        )
    out = {}
    for row, cell_type in enumerate(adata.obs_names):
        truth, guess = labels[row, genes], predicted[row, genes]
        known = np.isfinite(truth) & np.isfinite(guess)
        if known.any() and len(np.unique(truth[known])) == 2:
            out[str(cell_type)] = (truth[known], guess[known])
    return out


def _curves(
    adata: AnnData,
    keys: str | Sequence[str],
    cell_types: str | Sequence[str] | None,
    split: str,
    kind: str,
    ax,
    show: bool | None,
    save: str | Path | None,
):
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    check_show_save(show, save)
    keys = keys_of(keys)
    per_key = {k: _labelled(adata, k, split, kind) for k in keys}
    chosen = {
        k: cell_types_of(adata, cell_types, list(per_key[k]), kind) if per_key[k] else []
        for k in keys
    }
    if not any(chosen.values()):
        raise ValueError(f"ct.pl.{kind}: no cell type has labels and predictions on {split} genes")
    with style():
        fig, ax = axes(ax)
        i = 0
        for key in keys:
            for cell_type in chosen[key]:
                truth, guess = per_key[key][cell_type]
                if kind == "roc":
                    x, y, _ = roc_curve(truth, guess)
                    value, name = roc_auc_score(truth, guess), "AUROC"
                else:
                    precision, recall, _ = precision_recall_curve(truth, guess)
                    x, y = recall, precision
                    value, name = average_precision_score(truth, guess), "AUPRC"
                ax.plot(
                    x,
                    y,
                    color=colour(i),
                    lw=1.5,
                    drawstyle="steps-post" if kind == "pr" else "default",
                    label=f"{key} · {cell_type} ({name} {value:.3f})",
                )
                i += 1
        if kind == "roc":
            ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--", label="_chance")
            ax.set(xlabel="False positive rate", ylabel="True positive rate")
        else:
            ax.set(xlabel="Recall", ylabel="Precision")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), title=f"{'ROC' if kind == 'roc' else 'PR'} ({split})")
        ax.legend(loc="lower right" if kind == "roc" else "lower left")
    return savefig_or_show(fig, ax, show, save)


@doc_plot
def roc(
    adata: AnnData,
    keys: str | Sequence[str],
    *,
    cell_types: str | Sequence[str] | None = None,
    split: str = "test",
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """ROC curves of one or several fitted models, one line per model × cell type.

    Parameters
    ----------
    adata
        Object with ``layers[key]`` (:func:`~chromtools.tl.fit` or
        :func:`~chromtools.tl.predict`) and ``layers['label']``.
    keys
        Model key, or several to overlay.
    cell_types
        Cell types to draw; by default every one with predictions and labels.
    split
        Genes of this split (``var[split_key]`` of the fit): ``"test"``,
        ``"valid"`` or ``"train"``.
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``. The legend gives each curve's AUROC.
    """
    return _curves(adata, keys, cell_types, split, "roc", ax, show, save)


@doc_plot
def pr(
    adata: AnnData,
    keys: str | Sequence[str],
    *,
    cell_types: str | Sequence[str] | None = None,
    split: str = "test",
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """Precision–recall curves of fitted models, one line per model × cell type.

    Parameters
    ----------
    adata, keys, cell_types, split
        As in :func:`roc`.
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``. The legend gives each curve's AUPRC
    (average precision, as :func:`~chromtools.tl.evaluate` computes it).
    """
    return _curves(adata, keys, cell_types, split, "pr", ax, show, save)


def _metric_rows(adata: AnnData, keys: list[str], metric: str, split: str) -> pd.DataFrame:
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
            x = (
                np.array([position[c] for c in mine["cell_type"]])
                + (i - (len(keys) - 1) / 2) * width
            )
            ax.scatter(x, mine["value"], color=colour(i), s=30, zorder=3, label=key)
            if n_boot:
                intervals = _intervals(
                    adata, key, list(mine["cell_type"]), task, metric, split, n_boot, seed
                )
                low = mine["value"].to_numpy() - intervals[:, 0]
                high = intervals[:, 1] - mine["value"].to_numpy()
                ax.errorbar(
                    x,
                    mine["value"],
                    yerr=[np.maximum(low, 0), np.maximum(high, 0)],
                    fmt="none",
                    ecolor=colour(i),
                    elinewidth=1,
                    zorder=2,
                )
        if reference is not None:
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
        if published and metric == "auroc" and "deepchrome_auc" in adata.obs:
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
        ax.set_xticks(range(len(cell_types)), cell_types, rotation=45 if len(cell_types) > 4 else 0)
        ax.set(
            ylabel=f"{metric.upper() if metric.startswith('au') else metric} ({split})",
            xlim=(-0.6, len(cell_types) - 0.4),
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    return savefig_or_show(fig, ax, show, save)


def _intervals(adata, key, cell_types, task, metric, split, n_boot, seed) -> np.ndarray:
    if task == "classification":
        labelled = _labelled(adata, key, split, "metrics")
    else:
        labelled = _expression(adata, key, split)
    out = np.full((len(cell_types), 2), np.nan)
    for i, cell_type in enumerate(cell_types):
        if cell_type in labelled:
            truth, guess = labelled[cell_type]
            out[i] = bootstrap_interval(truth, guess, task, metric=metric, n_boot=n_boot, seed=seed)
    return out


def _expression(adata: AnnData, key: str, split: str) -> dict[str, tuple]:
    record = fitted(adata, key, "metrics")
    split_key = record.get("params", {}).get("split_key", "split")
    genes = (adata.var[split_key] == split).to_numpy()
    truth = np.asarray(adata.X, dtype=np.float64)
    predicted = predictions(adata, key, "metrics")
    out = {}
    for row, cell_type in enumerate(adata.obs_names):
        known = np.isfinite(truth[row, genes]) & np.isfinite(predicted[row, genes])
        if known.sum() > 2:
            out[str(cell_type)] = (truth[row, genes][known], predicted[row, genes][known])
    return out


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


@doc_plot
def calibration(
    adata: AnnData,
    keys: str | Sequence[str],
    *,
    cell_types: str | Sequence[str] | None = None,
    split: str = "test",
    n_bins: int = 10,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """Reliability curves: the fraction of high genes per bin of predicted probability.

    Bins are equal-width over [0, 1]; empty bins are left out. The legend
    gives each curve's Brier score (mean squared error of the probability).

    Parameters
    ----------
    adata, keys, cell_types, split
        As in :func:`roc`.
    n_bins
        Bins of predicted probability.
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``.
    """
    check_show_save(show, save)
    keys = keys_of(keys)
    n_bins = check_int(n_bins, "n_bins", minimum=2)
    per_key = {k: _labelled(adata, k, split, "calibration") for k in keys}
    edges = np.linspace(0, 1, n_bins + 1)
    with style():
        fig, ax = axes(ax)
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--", label="_perfect")
        i = 0
        for key in keys:
            for cell_type in cell_types_of(adata, cell_types, list(per_key[key]), "calibration"):
                truth, guess = per_key[key][cell_type]
                which = np.clip(np.digitize(guess, edges[1:-1]), 0, n_bins - 1)
                count = np.bincount(which, minlength=n_bins)
                used = count > 0
                mean_guess = np.bincount(which, guess, n_bins)[used] / count[used]
                fraction = np.bincount(which, truth, n_bins)[used] / count[used]
                brier = float(np.mean((guess - truth) ** 2))
                ax.plot(
                    mean_guess,
                    fraction,
                    marker="o",
                    ms=3,
                    color=colour(i),
                    label=f"{key} · {cell_type} (Brier {brier:.3f})",
                )
                i += 1
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="Predicted probability",
            ylabel="Fraction high",
            title=f"Calibration ({split})",
        )
        ax.legend(loc="upper left")
    return savefig_or_show(fig, ax, show, save)
