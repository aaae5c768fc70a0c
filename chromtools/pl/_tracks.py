"""Tracks along one gene or region: the binned marks across cell types, and a sequence
model's attribution with its JASPAR sites and a sequence logo."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .. import get
from .._docs import doc_plot
from .._results import RESULTS, find_result, storage_name
from .._utils import renamed_keyword
from ._attention import (
    bin_centres,
    cell_types_option,
    no_other_keyword,
    one_cell_type,
    panels_of,
    uniform_span,
)
from ._motifs import sites_in
from ._utils import cell_label, check_show_save, colour, grid, savefig_or_show, stored, style

BASES = ("A", "C", "G", "T")

# strand as a site label shows it: a minus sign, not a hyphen that reads as part of the name
STRANDS = {"+": "+", "-": "\u2212"}


def _gene(adata: AnnData, gene: object, plot: str) -> int:
    if not isinstance(gene, str) or gene not in adata.var_names:
        named = (
            adata.var.index[adata.var["gene_name"] == gene]
            if "gene_name" in adata.var and isinstance(gene, str)
            else []
        )
        if len(named) == 1:
            return adata.var_names.get_loc(named[0])
        raise ValueError(
            f"ct.pl.{plot}: gene={gene!r} is not in adata.var_names (nor a unique var['gene_name'])"
        )
    return adata.var_names.get_loc(gene)


# What obsm['histone'] holds after each ct.pp.normalize method (None: left raw on purpose).
SIGNAL_UNITS = {
    "depth_log1p": "log(1 + signal / track mean)",
    "log1p": "log(1 + signal)",
    "depth": "signal / track mean",
    "zscore": "z-score per track",
    None: "signal per bin (raw)",
}


def signal_label(adata: AnnData) -> str:
    """The y-axis label of ``obsm['histone']``: the normalisation ``ct.pp.normalize``
    recorded in the metadata, or raw signal when none was."""
    normalize = adata.uns.get("chromtools", {}).get("pp", {}).get("normalize")
    method = normalize.get("method") if isinstance(normalize, dict) else None
    return SIGNAL_UNITS.get(method, f"signal ({method})")


def _highlight(adata: AnnData, key: str, by: str, column: int):
    """(cell types, bins) weight per bin, its colour scale and the colourbar's label:
    |attribution| summed over marks from 0, or mean α over marks around uniform."""
    from matplotlib.colors import LinearSegmentedColormap, Normalize

    name = storage_name(key)
    if by == "attribution":
        (slot,) = RESULTS["attribution"].slots(name)["obsm"]
        stored(adata, "obsm", slot, "signal", f"ct.tl.attribute(adata, {key!r})")
        values = np.abs(np.asarray(get.attributions(adata, name)[:, column], dtype=float))
        weights = values.sum(axis=1)
        top = np.nanmax(weights) if np.isfinite(weights).any() else 1.0
        cmap = LinearSegmentedColormap.from_list("highlight", ["white", "#8c8c8c"])
        return weights, cmap, Normalize(0, top or 1.0), f"{key}: |attribution| per bin"
    if by == "alpha":
        slot = RESULTS["attention"].slots(name)["obsm"][0]
        stored(adata, "obsm", slot, "signal", f"ct.tl.attention(adata, {key!r})")
        weights = np.asarray(get.attention(adata, name)[0][:, column], dtype=float).mean(axis=1)
        uniform = 1 / weights.shape[1]
        half = uniform_span(weights, uniform)
        cmap = LinearSegmentedColormap.from_list("highlight", ["#9ecae1", "white", "#f4a582"])
        label = f"{key}: mean α per bin\n(uniform = 1/{weights.shape[1]})"
        return weights, cmap, Normalize(uniform - half, uniform + half), label
    raise ValueError(f"highlight_by must be 'attribution' or 'alpha', got {by!r}")


def _chosen(adata: AnnData, values: np.ndarray, gene: str, cell_types: object) -> list[str]:
    has = [str(c) for i, c in enumerate(adata.obs_names) if np.isfinite(values[i]).any()]
    if cell_types is None:
        chosen = has
    else:
        chosen = [cell_types] if isinstance(cell_types, str) else list(cell_types)
        missing = [c for c in chosen if c not in has]
        if missing:
            raise ValueError(
                f"ct.pl.signal: no signal at {gene!r} for {missing}; cell types with it: {has}"
            )
    if not chosen:
        raise ValueError(f"ct.pl.signal: no cell type has signal at {gene!r}")
    return chosen


def _marks(marks: object, all_marks: list[str]) -> list[str]:
    chosen = (
        list(all_marks) if marks is None else [marks] if isinstance(marks, str) else list(marks)
    )
    unknown = [m for m in chosen if m not in all_marks]
    if unknown or not chosen:
        raise ValueError(f"ct.pl.signal: marks {unknown or chosen} are not among {all_marks}")
    return chosen


@doc_plot
def signal(
    adata: AnnData,
    gene: str,
    *,
    cell_types: str | Sequence[str] | None = None,
    marks: Sequence[str] | None = None,
    highlight: str | None = None,
    highlight_by: str = "attribution",
    ax: Axes | Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
    **options: object,
):
    """The binned marks of one gene across cell types, one panel per cell type.

    The y-axis says what the signal is, from the normalisation
    :func:`~chromtools.pp.normalize` recorded (e.g. ``log(1 + signal / track
    mean)`` for ``"depth_log1p"``).

    Parameters
    ----------
    adata
        Object with ``obsm['histone']``.
    gene
        A var name or a unique ``var['gene_name']``.
    cell_types
        Cell types to draw; by default every one with signal at the gene.
    marks
        Marks to draw; all by default.
    highlight
        A model key: colour each bin behind the marks by what that model
        made of it, on one scale for all panels, with a colourbar.
        ``shade=`` is its old name, still accepted with a ``FutureWarning``.
    highlight_by
        ``"attribution"`` (absolute ``obsm[f"{highlight}_attr"]`` summed over
        marks, :func:`~chromtools.tl.attribute`; white is 0) or ``"alpha"``
        (mean α over marks, :func:`~chromtools.tl.attention`; white is the
        uniform ``1/n_bins``). ``shade_by=`` is its old name.
    ax
        Where to draw: one Axes per cell type drawn (a sequence); a new
        figure by default.
    {show_save}
    **options
        Old keyword names, still accepted with a ``FutureWarning``: ``shade=``
        (``highlight``) and ``shade_by=`` (``highlight_by``); any other name is refused.

    Returns
    -------
    The figure when ``show=False``.
    """
    what = "ct.pl.signal"
    highlight = renamed_keyword(options, "shade", "highlight", highlight, None, what)
    highlight_by = renamed_keyword(
        options, "shade_by", "highlight_by", highlight_by, "attribution", what
    )
    no_other_keyword(options, "signal")
    check_show_save(show, save)
    if not isinstance(adata, AnnData):
        raise ValueError(f"ct.pl.signal takes an AnnData first, got {type(adata).__name__}")
    column = _gene(adata, gene, "signal")
    all_marks = get.marks(adata)
    chosen_marks = _marks(marks, all_marks)
    values = np.asarray(get.histone(adata)[:, column], dtype=float)  # (cell types, marks, bins)
    chosen = _chosen(adata, values, gene, cell_types)
    shading = None if highlight is None else _highlight(adata, highlight, highlight_by, column)
    label = adata.var["gene_name"].iloc[column] if "gene_name" in adata.var else gene
    n = len(chosen)
    height = 1.8 + (0.9 / n if shading is not None else 0.0)  # the colourbar's room
    with style():
        fig, panels = panels_of(
            ax, n, "signal",
            lambda: grid(n, 1, (6.0, height), sharex=True, sharey=True, layout="constrained"),
        )  # fmt: skip
        x = bin_centres(adata, values.shape[2])
        for panel, cell_type in zip(panels, chosen, strict=True):
            row = adata.obs_names.get_loc(cell_type)
            mesh = None if shading is None else _shade(panel, x, shading, row)
            for mark in chosen_marks:
                j = all_marks.index(mark)
                panel.plot(x, values[row, j], color=colour(j), lw=1.2, label=mark)
            panel.set_title(cell_label(adata, cell_type), loc="left", fontsize=9)
            if ax is not None or n == 1:  # else one label for the stack, beside it
                panel.set_ylabel(signal_label(adata))
            panel.axvline(0, color="0.7", lw=0.6)
        panels[0].set_title(f"{label}: histone signal around the TSS", loc="right", fontsize=9)
        panels[0].legend(loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
        panels[-1].set_xlabel("Position from TSS (bp)")
        if ax is None and n > 1:
            fig.supylabel(signal_label(adata), fontsize=10)
        if shading is not None:
            fig.colorbar(mesh, ax=panels, location="bottom", shrink=0.5, aspect=30,
                         label=shading[3])  # fmt: skip
    return savefig_or_show(fig, fig, show, save)


def _shade(ax, x: np.ndarray, shading, row: int):
    """Colour each bin of ``ax`` behind its lines by the weight of ``row``; the mesh."""
    weights, cmap, norm, _ = shading
    step = x[1] - x[0] if len(x) > 1 else 1.0
    behind = ax.twinx()
    edges = np.append(x - step / 2, x[-1] + step / 2)
    mesh = behind.pcolormesh(edges, [0, 1], weights[row][None, :], cmap=cmap, norm=norm)
    behind.set_ylim(0, 1)
    behind.set_yticks([])
    behind.spines[:].set_visible(False)
    ax.set_zorder(behind.get_zorder() + 1)
    ax.patch.set_visible(False)
    return mesh


def _attributed(adata: AnnData, key: str, cell_types: object) -> tuple[str, str, np.ndarray]:
    """The cell type explained (checked as motif_enrichment checks it), the method, the values."""
    result = RESULTS["attribution"]
    name = find_result(adata, "attribution", key) or storage_name(key)
    attributed = [
        str(c) for c in adata.obs_names if result.slots(name, cell_type=c)["varm"][0] in adata.varm
    ]
    cell_type = one_cell_type(cell_types, attributed, "attribution") if attributed else None
    cell_type = get.attributed_cell_type(adata, key, name, cell_type, "ct.pl.attribution")
    record = adata.uns.get(result.record_name(name), {})
    method = record.get("params", {}).get("method", "grad_x_input")
    return cell_type, method, adata.varm[result.slots(name, cell_type=cell_type)["varm"][0]]


@doc_plot
def attribution(
    adata: AnnData,
    key: str,
    region: str,
    *,
    cell_types: str | Sequence[str] | None = None,
    window: tuple[int, int] | None = None,
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
    **options: object,
):
    """A sequence model's attribution along one region: a logo, and the JASPAR sites beneath.

    The logo (logomaker) draws each observed base at its attribution
    (gradient×input; for ISM, minus the mean of its 3 substitution deltas,
    so a base that matters stands up). Below, each site of
    ``uns['motif_sites']`` in the region is a bar named by its TF, stacked
    so that none overlap.

    Parameters
    ----------
    adata
        Object with ``varm[f"{key}_attr_{cell_type}"]`` (:func:`~chromtools.tl.attribute`)
        and ``varm['onehot']``.
    key
        Model key.
    region
        A var name.
    cell_types
        The one cell type explained, a name or a one-element list; needed
        when several were. ``cell_type=`` is its old name, still accepted
        with a ``FutureWarning``.
    window
        ``(start, end)`` bases of the region to draw; all of it by default.
    ax
        Two axes, the logo's and the sites'; a new figure by default.
    {show_save}
    **options
        Old keyword names, still accepted with a ``FutureWarning``: ``cell_type=``
        (``cell_types``); any other name is refused.

    Returns
    -------
    The figure when ``show=False``; ``fig.axes[0]`` is the logo, ``fig.axes[1]`` the sites.
    """
    import logomaker

    cell_types = cell_types_option(options, cell_types, "attribution")
    check_show_save(show, save)
    if not isinstance(adata, AnnData):
        raise ValueError(f"ct.pl.attribution takes an AnnData first, got {type(adata).__name__}")
    cell_type, method, values = _attributed(adata, key, cell_types)
    row = _gene(adata, region, "attribution")
    onehot = np.asarray(
        stored(adata, "varm", "onehot", "attribution", "ct.io.read_regions")[row], float
    )
    length = onehot.shape[0]
    start, end = (0, length) if window is None else (int(window[0]), int(window[1]))
    if not 0 <= start < end <= length:
        raise ValueError(f"ct.pl.attribution: window={window!r} must lie within 0..{length}")
    scores = np.asarray(values[row], dtype=float)
    if not np.isfinite(scores).all():
        raise ValueError(
            f"ct.pl.attribution: {region!r} was not explained (its attributions are NaN)"
        )
    per_base = -scores.sum(axis=1) / 3 if method == "ism" else scores.sum(axis=1)
    heights = onehot * per_base[:, None]
    logo = pd.DataFrame(heights[start:end], columns=list(BASES), index=np.arange(start, end))
    sites = sites_in(adata, str(adata.var_names[row]))
    if sites is not None:
        sites = sites[(sites["end"] > start) & (sites["start"] < end)]
    with style():
        size = (max(6.0, (end - start) / 12), 1.6)
        fig, (top, bottom) = panels_of(
            ax, 2, "attribution",
            lambda: grid(2, 1, size, sharex=True, gridspec_kw={"height_ratios": [2, 1]}),
        )  # fmt: skip
        logomaker.Logo(logo, ax=top, color_scheme="classic")
        top.axhline(0, color="0.6", lw=0.5)
        top.set(
            ylabel="attribution\n(−mean ISM Δ)"
            if method == "ism"
            else "attribution\n(grad × input)",
            title=f"{adata.var_names[row]} · {key}, {cell_label(adata, cell_type)} ({method})",
            xlim=(start - 0.5, end - 0.5),
        )
        _draw_sites(bottom, sites)
        bottom.set(
            xlabel="Position in region (bp)", ylabel="JASPAR\nsites", xlim=(start - 0.5, end - 0.5)
        )
    return savefig_or_show(fig, fig, show, save)


def _draw_sites(ax, sites: pd.DataFrame | None) -> None:
    """One bar per site named by its TF and strand, in the first lane where it fits."""
    lanes: list[int] = []
    if sites is not None and len(sites):
        for s, e, tf, strand in zip(
            sites["start"],
            sites["end"],
            sites["tf_name"].astype(str),
            sites["strand"].astype(str),
            strict=True,
        ):
            lane = next((i for i, stop in enumerate(lanes) if stop <= s), len(lanes))
            if lane == len(lanes):
                lanes.append(0)
            lanes[lane] = e + 2
            ax.barh(-lane, e - s, left=s - 0.5, height=0.7, color="0.8", edgecolor="0.4", lw=0.5)
            label = f"{tf} ({STRANDS.get(strand, strand)})"
            ax.text((s + e) / 2 - 0.5, -lane, label, ha="center", va="center", fontsize=6)
    ax.set_ylim(-max(len(lanes), 1) + 0.4, 0.6)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
