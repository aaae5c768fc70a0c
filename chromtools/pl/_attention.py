"""Where a histone model looks: attention over bins for ON and OFF genes (AttentiveChrome
Fig. 2), attention over marks per gene, and the effect of deleting marks.

Attention weights sum to 1 over bins (α) or marks (β), so ``1/n`` is what a model
that looks nowhere in particular gives each. Both plots draw that uniform level and
scale around it, never onto it: weights within a few percent of uniform look uniform.
"""

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
from .._utils import renamed_keyword
from ._legend import place_legend
from ._utils import (
    ON_OFF,
    axes,
    cell_label,
    check_show_save,
    colour,
    dodged,
    grid,
    predictions,
    savefig_or_show,
    stored,
    style,
)

# The least a scale spans either side of the uniform level, as a fraction of it: the
# y-axis of α runs at least from 0 to 2/n_bins, β's colours from 0 to 2/n_marks.
MIN_HALF_SPAN = 1.0


def bin_centres(adata: AnnData, n_bins: int) -> np.ndarray:
    """TSS-relative centre of each bin in bp, from ``uns['chromtools']``; else the bin index."""
    meta = adata.uns.get("chromtools", {})
    window, bin_size = meta.get("window"), meta.get("bin_size")
    if window is None or bin_size is None:
        return np.arange(n_bins, dtype=float)
    start = int(window[0])
    return start + bin_size * (np.arange(n_bins) + 0.5)


def uniform_span(values: np.ndarray, uniform: float) -> float:
    """Half-width of a scale centred on ``uniform`` that holds every finite value and
    spans at least ``MIN_HALF_SPAN`` × ``uniform`` either side."""
    finite = values[np.isfinite(values)]
    furthest = float(np.abs(finite - uniform).max()) if finite.size else 0.0
    return max(furthest, MIN_HALF_SPAN * uniform)


def cell_types_option(options: dict, cell_types: object, plot: str) -> object:
    """``cell_types``, or its old name ``cell_type=`` from ``options`` (FutureWarning);
    any other keyword left in ``options`` is refused."""
    cell_types = renamed_keyword(
        options, "cell_type", "cell_types", cell_types, None, f"ct.pl.{plot}"
    )
    no_other_keyword(options, plot)
    return cell_types


def no_other_keyword(options: dict, plot: str) -> None:
    if options:
        raise TypeError(
            f"ct.pl.{plot}() got an unexpected keyword argument {next(iter(options))!r}"
        )


def one_cell_type(cell_types: object, available: Sequence[str], plot: str) -> str:
    """The one cell type drawn: ``cell_types`` as a str or a one-element sequence, or the
    only one ``available`` when it is None."""
    if cell_types is None:
        if len(available) == 1:
            return available[0]
        raise ValueError(
            f"ct.pl.{plot}: say which cell type with cell_types=, one of {list(available)}"
        )
    chosen = [cell_types] if isinstance(cell_types, str) else cell_types
    if not isinstance(chosen, Sequence) or len(chosen) != 1 or chosen[0] not in available:
        raise ValueError(
            f"ct.pl.{plot} draws one cell type, got cell_types={cell_types!r}; "
            f"the ones with results: {list(available)}"
        )
    return str(chosen[0])


def panels_of(ax: object, n: int, plot: str, make):
    """The figure and the ``n`` axes drawn into: ``make()``'s new ones when ``ax`` is None,
    else ``ax`` (one Axes when ``n`` is 1, else a sequence of ``n``)."""
    if ax is None:
        fig, panels = make()
        return fig, list(np.ravel(panels))
    given = None
    if isinstance(ax, Axes):
        given = [ax]
    elif isinstance(ax, Sequence | np.ndarray):
        given = list(np.ravel(np.asarray(ax, dtype=object)))
    if given is None or len(given) != n or not all(isinstance(a, Axes) for a in given):
        what = "one Axes" if n == 1 else f"a sequence of {n} Axes, one per panel"
        raise ValueError(f"ct.pl.{plot} draws {n} panel(s): ax must be {what}, got {ax!r}")
    return given[0].figure, given


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
    cell_types: str | Sequence[str] | None = None,
    kind: str = "alpha",
    genes: Sequence[str] | None = None,
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
    **options: object,
):
    """Attention of a histone model (AttentiveChrome Fig. 2), as ``ct.tl.attention`` stored it.

    ``kind="alpha"``: mean α per mark over TSS-relative bins for the ON and
    the OFF genes of one cell type, one panel each (ON: label 1 where the
    label is known, else predicted probability > 0.5 in ``layers[key]``, as
    :func:`~chromtools.tl.in_silico_deletion` counts them), with the uniform
    level ``1/n_bins`` as a dashed line; the y-axis runs from 0 to at least
    twice it. ``kind="beta"``: a heatmap of β (attention over marks) for
    ``genes`` in every cell type explained, one row per gene × cell type,
    coloured around the uniform level ``1/n_marks`` (white), at least from 0
    to twice it; ``fig.matrix`` holds the values.

    Parameters
    ----------
    adata
        Object with ``obsm[f"{key}_alpha"]`` (and ``_beta``) from
        :func:`~chromtools.tl.attention`, and ``layers[key]``.
    key
        Model key.
    cell_types
        The one cell type drawn (``kind="alpha"``), a name or a one-element
        list; needed when several were explained. ``cell_type=`` is its old
        name, still accepted with a ``FutureWarning``.
    kind
        ``"alpha"`` or ``"beta"``.
    genes
        ``kind="beta"``: the genes (var names); by default the 10 genes with
        the highest predicted probability in the first cell type explained.
    ax
        Where to draw: two axes (ON, OFF) for ``kind="alpha"``, one for
        ``kind="beta"``; a new figure by default.
    {show_save}
    **options
        Old keyword names, still accepted with a ``FutureWarning``: ``cell_type=``
        (``cell_types``); any other name is refused.

    Returns
    -------
    The figure when ``show=False``.
    """
    cell_types = cell_types_option(options, cell_types, "attention")
    check_show_save(show, save)
    if kind not in ("alpha", "beta"):
        raise ValueError(f"kind must be 'alpha' or 'beta', got {kind!r}")
    record, alpha, beta, explained = _attention(adata, key, "attention")
    marks = list(record.get("marks", get.marks(adata)))
    if kind == "alpha":
        cell_type = one_cell_type(cell_types, explained, "attention")
        return _alpha(adata, key, alpha, marks, cell_type, ax, show, save)
    if beta is None:
        raise ValueError(
            f"ct.pl.attention: {key!r} has no attention over marks (β); TransferChrome attends "
            "over bins only: use kind='alpha'"
        )
    return _beta(adata, key, (beta, marks, explained, genes), ax, show, save)


def gene_status(adata: AnnData, key: str, row: int, plot: str) -> np.ndarray:
    """ON per gene in one cell type: label 1 where known, else predicted > 0.5 (as deletion)."""
    probability = predictions(adata, key, plot)[row]
    label = np.full(adata.n_vars, np.nan)
    if "label" in adata.layers:
        label = np.asarray(adata.layers["label"][row], dtype=float)
    return on_status(label, probability)


def _alpha(adata, key, alpha, marks, cell_type, ax, show, save):
    row = adata.obs_names.get_loc(cell_type)
    maps = alpha[row]  # (genes, marks, bins)
    done = np.isfinite(maps).all(axis=(1, 2))
    on = gene_status(adata, key, row, "attention")
    status = {"ON": done & on, "OFF": done & ~on}
    n_bins = maps.shape[2]
    uniform = 1 / n_bins
    x = bin_centres(adata, n_bins)
    means = {s: maps[g].mean(axis=0) if g.any() else None for s, g in status.items()}
    drawn = np.concatenate([m.ravel() for m in means.values() if m is not None] or [[]])
    top = uniform + uniform_span(drawn, uniform) * 1.05
    with style():
        fig, panels = panels_of(
            ax, 2, "attention", lambda: grid(1, 2, (3.8, 3.2), sharey=True, layout="constrained")
        )
        for panel, (label, genes) in zip(panels, status.items(), strict=True):
            for j, mark in enumerate(marks):
                if means[label] is not None:
                    panel.plot(x, means[label][j], color=colour(j), lw=1.4, label=mark)
            if means[label] is None:
                panel.text(0.5, 0.5, f"no {label} gene", transform=panel.transAxes,
                           ha="center", va="center", color="0.5")  # fmt: skip
            panel.axhline(uniform, color="0.4", ls="--", lw=0.9, label=f"uniform (1/{n_bins})")
            panel.set(
                title=f"{cell_label(adata, cell_type)}\n{label} genes (n = {int(genes.sum())})",
                xlabel="Position from TSS (bp)",
                ylim=(0, top),
            )
            panel.axvline(0, color="0.8", lw=0.8, zorder=0)
        panels[0].set_ylabel(f"Mean α, {key}\n(attention weight per bin)")
        handles, labels = max(
            (p.get_legend_handles_labels() for p in panels), key=lambda h: len(h[0])
        )
        panels[-1].legend(
            handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0
        )
    return savefig_or_show(fig, fig, show, save)


def _top_genes(adata, key, beta, first) -> list[str]:
    """The 10 genes with the highest predicted probability and a β in cell type ``first``."""
    probability = np.nan_to_num(predictions(adata, key, "attention")[first], nan=-1)
    finite = np.isfinite(beta[first]).all(axis=1)
    order = np.argsort(-np.where(finite, probability, -np.inf), kind="stable")
    return [str(adata.var_names[i]) for i in order[: min(10, int(finite.sum()))]]


def _beta(adata, key, data, ax, show, save):
    beta, marks, explained, genes = data
    if genes is None:
        genes = _top_genes(adata, key, beta, adata.obs_names.get_loc(explained[0]))
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
                labels.append(f"{names[column]} · {cell_label(adata, cell_type)}")
    if not rows:
        raise ValueError(f"ct.pl.attention: no β was computed for the genes {genes}")
    matrix = np.array(rows)
    uniform = 1 / len(marks)
    half = uniform_span(matrix, uniform)
    with style():
        size = (2.4 + 0.7 * len(marks), 1.2 + 0.28 * len(rows))
        fig, (ax,) = panels_of(ax, 1, "attention", lambda: axes(None, figsize=size))
        image = ax.imshow(
            matrix, cmap="RdBu_r", aspect="auto", vmin=uniform - half, vmax=uniform + half
        )
        bar = fig.colorbar(image, ax=ax, label=f"attention weight β\n(uniform = {uniform:.3g})")
        bar.ax.set_ylim(max(0.0, uniform - half), uniform + half)  # no weight is negative
        bar.ax.axhline(uniform, color="0.3", lw=0.8)
        ax.set_xticks(range(len(marks)), marks, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.spines[:].set_visible(False)
        ax.set(title=f"{key}: attention over marks", xlabel="Mark")
        fig.matrix = matrix
    return savefig_or_show(fig, fig, show, save)


def _changed(adata: AnnData, record: dict) -> tuple[str, str]:
    """The deleting model as a title names it, and what its predictions are: the
    y-axis label of a mean predicted change."""
    key = str(record.get("params", {}).get("model", ""))
    fitted = adata.uns.get(key, {}) if key else {}
    params = fitted.get("params", {}) if isinstance(fitted, dict) else {}
    name = str(params.get("model", key))
    model = key if name in ("", key) else f"{key} ({name})"
    if not params:
        return model or "the model", "Mean change in prediction"
    if params.get("y", "label") == "expression":
        return model, "Mean change in predicted\nexpression (log2(count + 1))"
    return model, "Mean change in predicted\nprobability of high expression"


@doc_plot
def deletion(
    adata: AnnData,
    key: str,
    *,
    cell_types: str | Sequence[str] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
    **options: object,
):
    """Mean predicted change from each deletion, ON against OFF genes (``in_silico_deletion``).

    The y-axis says what changed: the predicted probability of high
    expression for a classifier, the predicted expression (log2(count + 1))
    for a model fitted with ``y="expression"``, as the model's ``uns`` record says.

    Parameters
    ----------
    adata
        Object with ``uns[key]`` from :func:`~chromtools.tl.in_silico_deletion`.
    key
        Its ``key_added`` (by default ``f"{model}_deletion"``).
    cell_types
        The one cell type drawn, a name or a one-element list; needed when the
        summary has several. ``cell_type=`` is its old name, still accepted
        with a ``FutureWarning``.
    {ax_show_save}
    **options
        Old keyword names, still accepted with a ``FutureWarning``: ``cell_type=``
        (``cell_types``); any other name is refused.

    Returns
    -------
    The axes when ``show=False``.
    """
    cell_types = cell_types_option(options, cell_types, "deletion")
    check_show_save(show, save)
    record = stored(adata, "uns", key, "deletion", "ct.tl.in_silico_deletion(adata, model)")
    if kind_of(record) != "deletion":
        raise ValueError(
            f"ct.pl.deletion: adata.uns[{key!r}] was not written by in_silico_deletion"
        )
    summary = record["summary"]
    available = list(dict.fromkeys(summary["cell_type"].astype(str)))
    cell_type = one_cell_type(cell_types, available, "deletion")
    summary = summary[summary["cell_type"].astype(str) == cell_type]
    perturbations = list(dict.fromkeys(summary["perturbation"]))
    prefix = RESULTS["deletion"].slots(key, name="")["layers"][0]
    names = [p.removeprefix(prefix) for p in perturbations]
    model, ylabel = _changed(adata, record)
    deleted = "motif" if record.get("params", {}).get("motifs") is not None else "mark"
    width = 0.38
    with style():
        fig, ax = axes(ax, figsize=(max(3.5, 0.8 * len(names) + 1.5), 3.4))
        for i, status in enumerate(("ON", "OFF")):
            rows = summary[summary["status"] == status].set_index("perturbation")
            values = rows["mean_change"].reindex(perturbations).to_numpy(float)
            n = set(rows["n"]) if "n" in rows else set()
            label = f"{status} genes" + (f" (n = {n.pop()})" if len(n) == 1 else "")
            ax.bar(dodged(np.arange(len(names)), i, 2, width), values, width,
                   color=ON_OFF[status], label=label)  # fmt: skip
        ax.axhline(0, color="black", lw=0.8)
        rotate = len(names) > 3
        ax.set_xticks(range(len(names)), names, rotation=45 if rotate else 0,
                      ha="right" if rotate else "center")  # fmt: skip
        ax.set(
            xlabel=f"Deleted {deleted}",
            ylabel=ylabel,
            title=f"In silico deletion: {model}\n{cell_label(adata, cell_type)}",
        )
        place_legend(ax)
    return savefig_or_show(fig, ax, show, save)
