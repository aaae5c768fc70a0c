"""Tracks along one gene or region: the binned marks across cell types, and a sequence
model's attribution with its JASPAR sites and a sequence logo."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from .. import get
from .._docs import doc_plot
from .._results import RESULTS, find_result, storage_name
from ._attention import bin_centres
from ._motifs import sites_in
from ._utils import check_show_save, colour, grid, savefig_or_show, stored, style

BASES = ("A", "C", "G", "T")


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


def _shading(adata: AnnData, key: str, by: str, column: int, marks: list[str]):
    """(cell types, bins) weight per bin: |attribution| summed over marks, or mean α."""
    name = storage_name(key)
    if by == "attribution":
        (slot,) = RESULTS["attribution"].slots(name)["obsm"]
        stored(adata, "obsm", slot, "signal", f"ct.tl.attribute(adata, {key!r})")
        values = np.abs(np.asarray(get.attributions(adata, name)[:, column], dtype=float))
    elif by == "alpha":
        slot = RESULTS["attention"].slots(name)["obsm"][0]
        stored(adata, "obsm", slot, "signal", f"ct.tl.attention(adata, {key!r})")
        values = np.asarray(get.attention(adata, name)[0][:, column], dtype=float)
    else:
        raise ValueError(f"shade_by must be 'attribution' or 'alpha', got {by!r}")
    return values.sum(axis=1) if by == "attribution" else values.mean(axis=1)


@doc_plot
def signal(
    adata: AnnData,
    gene: str,
    *,
    cell_types: Sequence[str] | None = None,
    marks: Sequence[str] | None = None,
    shade: str | None = None,
    shade_by: str = "attribution",
    show: bool | None = None,
    save: str | Path | None = None,
):
    """The binned marks of one gene across cell types, one panel per cell type.

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
    shade
        A model key: shade each bin by what the model made of it, grey
        behind the marks, scaled to the panel's largest bin.
    shade_by
        ``"attribution"`` (absolute ``obsm[f"{shade}_attr"]`` summed over marks,
        :func:`~chromtools.tl.attribute`) or ``"alpha"`` (mean α over marks,
        :func:`~chromtools.tl.attention`).
    {show_save}

    Returns
    -------
    The figure when ``show=False``.
    """
    check_show_save(show, save)
    if not isinstance(adata, AnnData):
        raise ValueError(f"ct.pl.signal takes an AnnData first, got {type(adata).__name__}")
    column = _gene(adata, gene, "signal")
    all_marks = get.marks(adata)
    chosen_marks = (
        list(all_marks) if marks is None else [marks] if isinstance(marks, str) else list(marks)
    )
    unknown = [m for m in chosen_marks if m not in all_marks]
    if unknown or not chosen_marks:
        raise ValueError(f"ct.pl.signal: marks {unknown or chosen_marks} are not among {all_marks}")
    values = np.asarray(get.histone(adata)[:, column], dtype=float)  # (cell types, marks, bins)
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
    weights = None if shade is None else _shading(adata, shade, shade_by, column, all_marks)
    x = bin_centres(adata, values.shape[2])
    step = x[1] - x[0] if len(x) > 1 else 1.0
    label = adata.var["gene_name"].iloc[column] if "gene_name" in adata.var else gene
    with style():
        fig, panels = grid(len(chosen), 1, (6.0, 1.5), sharex=True, sharey=True)
        for ax, cell_type in zip(panels[:, 0], chosen, strict=True):
            row = adata.obs_names.get_loc(cell_type)
            if weights is not None and np.isfinite(weights[row]).any():
                w = np.nan_to_num(weights[row])
                shade_ax = ax.twinx()
                shade_ax.bar(x, w / (w.max() or 1), width=step, color="0.85", zorder=0)
                shade_ax.set_ylim(0, 1.05)
                shade_ax.set_yticks([])
                shade_ax.spines[:].set_visible(False)
                ax.set_zorder(shade_ax.get_zorder() + 1)
                ax.patch.set_visible(False)
            for mark in chosen_marks:
                j = all_marks.index(mark)
                ax.plot(x, values[row, j], color=colour(j), lw=1.2, label=mark)
            ax.set_ylabel(cell_type, rotation=0, ha="right", va="center")
            ax.axvline(0, color="0.7", lw=0.6)
        panels[0, 0].set_title(
            f"{label}: signal" + (f", shaded by {shade} {shade_by}" if shade else "")
        )
        panels[0, 0].legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=7)
        panels[-1, 0].set_xlabel("Position from TSS (bp)")
    return savefig_or_show(fig, fig, show, save)


def _attributed(adata: AnnData, key: str, cell_type: str | None) -> tuple[str, str, np.ndarray]:
    """The cell type explained (checked as motif_enrichment checks it), the method, the values."""
    result = RESULTS["attribution"]
    name = find_result(adata, "attribution", key) or storage_name(key)
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
    cell_type: str | None = None,
    window: tuple[int, int] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
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
    cell_type
        The cell type explained; needed when several were.
    window
        ``(start, end)`` bases of the region to draw; all of it by default.
    {show_save}

    Returns
    -------
    The figure when ``show=False``; ``fig.axes[0]`` is the logo, ``fig.axes[1]`` the sites.
    """
    import logomaker

    check_show_save(show, save)
    if not isinstance(adata, AnnData):
        raise ValueError(f"ct.pl.attribution takes an AnnData first, got {type(adata).__name__}")
    cell_type, method, values = _attributed(adata, key, cell_type)
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
        fig, panels = grid(
            2,
            1,
            (max(6.0, (end - start) / 12), 1.6),
            sharex=True,
            gridspec_kw={"height_ratios": [2, 1]},
        )
        top, bottom = panels[0, 0], panels[1, 0]
        logomaker.Logo(logo, ax=top, color_scheme="classic")
        top.axhline(0, color="0.6", lw=0.5)
        top.set(
            ylabel="−ISM Δ" if method == "ism" else "grad × input",
            title=f"{adata.var_names[row]} · {key} ({cell_type}, {method})",
        )
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
                bottom.barh(
                    -lane, e - s, left=s - 0.5, height=0.7, color="0.8", edgecolor="0.4", lw=0.5
                )
                bottom.text(
                    (s + e) / 2 - 0.5, -lane, f"{tf}{strand}", ha="center", va="center", fontsize=6
                )
        bottom.set_ylim(-max(len(lanes), 1) + 0.4, 0.6)
        bottom.set_yticks([])
        bottom.set(xlabel="Position in region (bp)", ylabel="sites", xlim=(start - 0.5, end - 0.5))
        bottom.spines["left"].set_visible(False)
    return savefig_or_show(fig, fig, show, save)
