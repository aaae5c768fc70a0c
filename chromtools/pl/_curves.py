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
from ._legend import place_legend
from ._predicted import labelled
from ._utils import (
    axes,
    cell_label,
    cell_types_of,
    check_show_save,
    colour,
    keys_of,
    savefig_or_show,
    style,
)

# the prevalence baselines of several cell types, told apart by their dashes
_DASHES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


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


def _names(adata: AnnData, curves: list, what: str, split: str) -> tuple[list[str], str]:
    """Each curve's name in the legend (the model and cell type, where they differ
    between curves) and the title (what is drawn, and the model or cell type all share)."""
    keys = list(dict.fromkeys(curve[0] for curve in curves))
    cell_types = list(dict.fromkeys(curve[1] for curve in curves))
    names = [
        " · ".join([key] * (len(keys) > 1) + [cell_label(adata, cell_type)] * (len(cell_types) > 1))
        for key, cell_type, *_ in curves
    ]
    shared = [keys[0]] * (len(keys) == 1) + [cell_label(adata, cell_types[0])] * (
        len(cell_types) == 1
    )
    return names, f"{what} ({split} genes)" + ("\n" + " · ".join(shared) if shared else "")


def _entry(name: str, value: str) -> str:
    return f"{name} ({value})" if name else value


def prevalences(curves: list[tuple[str, str, np.ndarray, np.ndarray]]) -> dict[str, float]:
    """The fraction of positives among each cell type's scored genes: a PR curve's
    chance level. Per cell type, in drawing order (its first curve's genes)."""
    out: dict[str, float] = {}
    for _, cell_type, truth, _ in curves:
        out.setdefault(cell_type, float(np.mean(truth)))
    return out


def _prevalence_lines(ax, adata: AnnData, curves: list) -> None:
    """One dashed line per cell type at its prevalence, or one where they are equal."""
    levels = prevalences(curves)
    values = list(levels.values())
    if np.allclose(values, values[0], rtol=0, atol=5e-4):
        levels = {"": values[0]}
    for i, (cell_type, level) in enumerate(levels.items()):
        who = f" · {cell_label(adata, cell_type)}" if cell_type else ""
        ax.axhline(
            level,
            color="0.45",
            lw=1.0,
            ls=_DASHES[i % len(_DASHES)],
            label=f"prevalence {level:.2f}{who}",
            zorder=1,
        )


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
        names, title = _names(adata, curves, "ROC" if kind == "roc" else "Precision–recall", split)
        for i, (_, _, truth, guess) in enumerate(curves):
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
                label=_entry(names[i], f"{name} {value:.3f}"),
                zorder=2,
            )
        if kind == "roc":
            ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--", label="_chance", zorder=1)
            ax.set(xlabel="False positive rate", ylabel="True positive rate")
        else:
            _prevalence_lines(ax, adata, curves)
            ax.set(xlabel="Recall", ylabel="Precision")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), title=title)
        place_legend(ax, places=("best", "lower right" if kind == "roc" else "lower left"))
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

    The dashed line is what a model without skill reaches: the prevalence,
    the fraction of positive genes among the cell type's scored genes of the
    split (one line per cell type, or one where they are equal).

    Parameters
    ----------
    adata, keys, cell_types, split
        As in :func:`roc`.
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``. The legend gives each curve's AUPRC
    (average precision, as :func:`~chromtools.tl.evaluate` computes it) and
    the prevalence.
    """
    return _curves(adata, keys, cell_types, split, "pr", ax, show, save)


def _calibration_axes(ax):
    """The curve's axes and the genes-per-bin axes: a panel under the curve in a new
    figure, or a twin of the given ``ax`` whose bars fill its lowest quarter."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, (ax, counts) = plt.subplots(
            2,
            1,
            figsize=(4.0, 4.6),
            sharex=True,
            gridspec_kw={"height_ratios": (3, 1), "hspace": 0.08},
        )
        return fig, ax, counts, False
    fig, ax = axes(ax)
    counts = ax.twinx()
    counts.spines["right"].set_visible(True)
    return fig, ax, counts, True


def _draw_counts(counts, edges: np.ndarray, per_curve: list[np.ndarray], twin: bool) -> None:
    """Genes per bin of each curve, as outlined steps in its colour."""
    for i, count in enumerate(per_curve):
        if len(per_curve) == 1:  # several filled would blur into one another
            counts.stairs(count, edges, color=colour(i), lw=0, fill=True, alpha=0.2)
        counts.stairs(count, edges, color=colour(i), lw=1.0)
    highest = max(int(c.max()) for c in per_curve)
    if twin:  # the bars keep to the lowest quarter, under the curve
        counts.set_ylim(0, 4 * highest)
        counts.set_yticks([0, highest])
        counts.set_ylabel("Genes per bin", loc="bottom")
    else:
        counts.set_ylim(0, highest * 1.1)
        counts.set_ylabel("Genes per bin")
        counts.set_xlabel("Mean predicted probability")


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
    """Reliability curves: the fraction of high genes per bin of predicted probability,
    above the number of genes in each bin.

    Bins are equal-width over [0, 1]; empty bins are left out of the curve.
    Each point sits at its bin's mean prediction. The legend gives each
    curve's Brier score (mean squared error of the probability).

    Parameters
    ----------
    adata, keys, cell_types, split
        As in :func:`roc`.
    n_bins
        Bins of predicted probability.
    {ax_show_save}
        With ``ax``, the genes per bin are drawn on a twin axes (``ax.counts``,
        its scale on the right) in the lowest quarter of ``ax``; in a new
        figure, in a panel under the curve.

    Returns
    -------
    The curve's axes when ``show=False``; the genes-per-bin axes are ``ax.counts``.
    """
    check_show_save(show, save)
    keys = keys_of(keys)
    n_bins = check_int(n_bins, "n_bins", minimum=2)
    curves = _curve_inputs(adata, keys, cell_types, split, "calibration", skip_unlabelled=False)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    with style():
        fig, ax, counts, twin = _calibration_axes(ax)
        ax.plot([0, 1], [0, 1], color="0.7", lw=0.8, ls="--", label="_perfect")
        per_curve = []
        names, title = _names(adata, curves, "Calibration", split)
        for i, (_, _, truth, guess) in enumerate(curves):
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
                label=_entry(names[i], f"Brier {brier:.3f}"),
                zorder=3,
            )
            per_curve.append(count)
        _draw_counts(counts, edges, per_curve, twin)
        ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="Fraction high", title=title)
        if twin:
            ax.set_xlabel("Mean predicted probability")
            ax.set_zorder(counts.get_zorder() + 1)  # the curve above the bars
            ax.patch.set_visible(False)
        ax.counts = counts
        # the bars of a twin fill the lowest quarter: the legend goes above them
        place_legend(
            ax,
            places=("upper left", "lower right")[: 1 if twin else 2],
            also=[counts] if twin else (),
        )
    return savefig_or_show(fig, ax, show, save)
