"""Curves over predicted probabilities: ROC, precision–recall and calibration, one line
per model × cell type, from the predictions and labels ``ct.tl.fit`` stored."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes

from .._docs import doc_plot
from .._utils import check_int
from ._predicted import labelled
from ._utils import (
    axes,
    cell_types_of,
    check_show_save,
    colour,
    keys_of,
    savefig_or_show,
    style,
)


def _curve_inputs(
    adata: AnnData,
    keys: list[str],
    cell_types: str | Sequence[str] | None,
    split: str,
    plot: str,
    skip_unlabelled: bool,
) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(key, cell type, labels, predictions) of each curve to draw, in drawing order.

    A key without any labelled cell type is passed over when ``skip_unlabelled``
    and refused otherwise.
    """
    per_key = {k: labelled(adata, k, split, plot) for k in keys}
    chosen = {
        k: cell_types_of(adata, cell_types, list(per_key[k]), plot)
        if per_key[k] or not skip_unlabelled
        else []
        for k in keys
    }
    return [(k, c, *per_key[k][c]) for k in keys for c in chosen[k]]


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
    curves = _curve_inputs(adata, keys_of(keys), cell_types, split, kind, skip_unlabelled=True)
    if not curves:
        raise ValueError(f"ct.pl.{kind}: no cell type has labels and predictions on {split} genes")
    with style():
        fig, ax = axes(ax)
        for i, (key, cell_type, truth, guess) in enumerate(curves):
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
    curves = _curve_inputs(adata, keys, cell_types, split, "calibration", skip_unlabelled=False)
    edges = np.linspace(0, 1, n_bins + 1)
    with style():
        fig, ax = axes(ax)
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--", label="_perfect")
        for i, (key, cell_type, truth, guess) in enumerate(curves):
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
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="Predicted probability",
            ylabel="Fraction high",
            title=f"Calibration ({split})",
        )
        ax.legend(loc="upper left")
    return savefig_or_show(fig, ax, show, save)
