"""Which TF motifs a sequence model relies on: the ECDF behind one KS test, and two
cell types' or models' signed D side by side (ChromTransfer Fig. 3G)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from anndata import AnnData
from matplotlib.axes import Axes

from .. import get
from .._docs import doc_plot
from .._results import RESULTS, storage_name
from ._legend import place_legend
from ._utils import (
    axes,
    cell_label,
    check_show_save,
    colour,
    savefig_or_show,
    stored,
    style,
)


def _enrichment_table(adata: AnnData, key: str, plot: str):
    run = f"ct.tl.motif_enrichment(adata, {key!r})"
    table_key, params_key = RESULTS["motif_enrichment"].slots(key)["uns"][:2]
    return stored(adata, "uns", table_key, plot, run), stored(adata, "uns", params_key, plot, run)


def _motif_id(table, motif: str, key: str) -> str:
    """A matrix id of the table, from an id or a TF name."""
    if motif in table.index:
        return motif
    named = table.index[table["tf_name"].astype(str) == motif]
    if len(named):
        return str(named[0])
    raise ValueError(
        f"ct.pl.motif_ecdf: motif={motif!r} was not tested in adata.uns[{key + '_motifs'!r}] "
        f"(an id or TF name of its index, e.g. {list(table.index[:3])})"
    )


@doc_plot
def motif_ecdf(
    adata: AnnData,
    key: str,
    motif: str,
    *,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """The cumulative distributions one KS test of ``ct.tl.motif_enrichment`` compares.

    A TF's site scores against every other motif's sites that share no base
    with its sites, as the enrichment stored them
    (:func:`~chromtools.get.motif_site_scores`); the title gives the model (and the
    cell type its attributions are of), the signed D and the FDR of its table.

    Parameters
    ----------
    adata
        Object after :func:`~chromtools.tl.motif_enrichment` for ``key``.
    key
        Model key.
    motif
        Matrix id (``"MA0138.3"``) or TF name of a tested motif.
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``.
    """
    check_show_save(show, save)
    table, params = _enrichment_table(adata, key, "motif_ecdf")
    motif_id = _motif_id(table, motif, key)
    own, background = get.motif_site_scores(adata, key, motif_id)
    row = table.loc[motif_id]
    tf = str(row["tf_name"])
    importance = "−ISM delta" if params["method"] == "ism" else "attribution"
    cell_type = params.get("cell_type")
    where = f", cell type {cell_label(adata, str(cell_type))}" if cell_type is not None else ""
    with style():
        fig, ax = axes(ax)
        for i, (values, label) in enumerate(
            [
                (own, f"{tf} sites (n = {len(own)})"),
                (background, f"other sites (n = {len(background)})"),
            ]
        ):
            x = np.sort(values)
            ax.step(
                x,
                np.arange(1, len(x) + 1) / len(x),
                where="post",
                color=colour(i) if i == 0 else "0.5",
                lw=1.5,
                label=label,
            )
        ax.set(
            xlabel=f"Site score ({params['score']} {importance})",
            ylabel="Cumulative fraction",
            title=f"{tf} ({motif_id}) · {key}{where}\n"
            f"D = {row['ks_d']:+.2f}, FDR = {_small(row['fdr'])}",
        )
        # attributions are often ~1e-4: plain tick labels run into each other
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        place_legend(ax, places=("lower right", "best"))
    return savefig_or_show(fig, ax, show, save)


ONE_MODEL = "tested in one model only"


def _scatter_points(joined, a: str, b: str, fdr: float) -> dict[str, np.ndarray]:
    """Where each motif tested in either model goes, and what it is.

    A motif one model did not test (too few sites there) sits on the edge of
    that model's axis: ``x``/``y`` are the drawn coordinates, ``low`` the edge.
    """
    d_a, d_b = joined[f"ks_d_{a}"].to_numpy(float), joined[f"ks_d_{b}"].to_numpy(float)
    tested_a, tested_b = np.isfinite(d_a), np.isfinite(d_b)
    finite = np.concatenate([d_a[tested_a], d_b[tested_b], [0.0]])
    margin = 0.05 * max(finite.max() - finite.min(), 0.2)
    low, high = finite.min() - margin, finite.max() + margin
    with np.errstate(invalid="ignore"):
        in_a = tested_a & (joined[f"fdr_{a}"].to_numpy(float) < fdr)
        in_b = tested_b & (joined[f"fdr_{b}"].to_numpy(float) < fdr)
    return {
        "x": np.where(tested_a, d_a, low),
        "y": np.where(tested_b, d_b, low),
        "strength": np.fmax(np.abs(d_a), np.abs(d_b)),
        "one_model": tested_a != tested_b,
        "in_a": in_a,
        "in_b": in_b,
        "limits": np.array([low, high]),
    }


def _overlaps(box, others) -> bool:
    return any(box.overlaps(other) for other in others)


def _sides(text, renderer) -> dict[str, object]:
    """The box of ``text`` to the right of its dot and to the left of it, unmoved."""
    from matplotlib.text import Text

    dx, dy = abs(text.xyann[0]), text.xyann[1]
    boxes = {}
    for align, offset in (("left", dx), ("right", -dx)):
        text.set_horizontalalignment(align)
        text.xyann = (offset, dy)
        boxes[align] = Text.get_window_extent(text, renderer)
    return boxes


def _spot(boxes: dict, frame, placed: list) -> tuple[str, int] | None:
    """The nearest place (side of the dot, steps of one label height up or down) where
    the label is inside ``frame`` and on no label ``placed``; None if there is none."""
    step = boxes["left"].height + 1.0
    n_steps = int(frame.height / step) + 1
    for shift in (0, *(k * sign for k in range(1, n_steps) for sign in (1, -1))):
        for align, box in boxes.items():
            moved = box.translated(0, shift * step)
            inside = frame.x0 <= moved.x0 and moved.x1 <= frame.x1
            inside &= frame.y0 <= moved.y0 and moved.y1 <= frame.y1
            if inside and not _overlaps(moved.padded(2.0), placed):  # a gap between
                return align, shift
    return None


def place_labels(ax, texts) -> list:
    """Move each label (an annotation ``offset points`` from its dot, strongest first)
    to the nearest place inside the axes where it overlaps no label placed before it:
    right of its dot, else left of it, else up or down by steps of its height, with a
    thin leader line from the dot. A label with no such place is left out. Returns the
    labels kept."""
    from matplotlib.text import Text

    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed, kept = [], []
    for text in texts:
        boxes = _sides(text, renderer)
        spot = _spot(boxes, frame, placed)
        if spot is None:
            text.remove()
            continue
        align, shift = spot
        step = boxes["left"].height + 1.0
        text.set_horizontalalignment(align)
        dx = abs(text.xyann[0]) * (1 if align == "left" else -1)
        text.xyann = (dx, text.xyann[1] + shift * step * 72.0 / ax.figure.dpi)
        placed.append(Text.get_window_extent(text, renderer))
        kept.append(text)
        if shift:
            box = placed[-1]
            end = (box.x0 if align == "left" else box.x1, (box.y0 + box.y1) / 2)
            end = ax.transData.inverted().transform(end)
            ax.plot(
                *zip(text.xy, end, strict=True),
                color="0.6",
                lw=0.5,
                zorder=1,
                label="_leader",
                clip_on=False,
            )
    return kept


def _draw_dots(ax, points: dict, groups: dict) -> list:
    """One dot per motif, coloured by where it is significant; an open diamond for a
    motif one model did not test. The legend's handles, with each group's count."""
    from matplotlib.lines import Line2D

    x, y, one = points["x"], points["y"], points["one_model"]
    handles = []
    for group, (chosen, shade) in groups.items():
        size, order = (12, 2) if group == "not significant" else (20, 3)
        if (chosen & ~one).any():
            ax.scatter(
                x[chosen & ~one], y[chosen & ~one], s=size, color=shade, label=group, zorder=order
            )
        if (chosen & one).any():  # on the axis line, half outside: not clipped
            ax.scatter(
                x[chosen & one],
                y[chosen & one],
                s=size + 8,
                marker="D",
                facecolors="white",
                edgecolors=shade,
                linewidths=1.2,
                label=f"{group}, {ONE_MODEL}",
                zorder=4,
                clip_on=False,
            )
        if chosen.any():
            handles.append(
                Line2D(
                    [],
                    [],
                    ls="",
                    marker="o",
                    color=shade,
                    ms=4,
                    label=f"{group} ({int(chosen.sum())})",
                )
            )
    if one.any():
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="D",
                mfc="white",
                mec="0.3",
                ms=4,
                label=f"{ONE_MODEL} ({int(one.sum())})",
            )
        )
    return handles


def strongest(points: dict, n_labels: int) -> np.ndarray:
    """Which significant motifs to name: the strongest (largest absolute D) of each
    group (significant in one model, in the other, in both), then the next strongest
    of any, ``n_labels`` in all, strongest first."""
    significant = np.flatnonzero(points["in_a"] | points["in_b"])
    order = significant[np.argsort(-points["strength"][significant], kind="stable")]
    group = points["in_a"][order].astype(int) + 2 * points["in_b"][order]
    _, first = np.unique(group, return_index=True)
    leaders = order[np.sort(first)][:n_labels]
    rest = order[~np.isin(order, leaders)][: n_labels - len(leaders)]
    chosen = np.concatenate([leaders, rest])
    return order[np.isin(order, chosen)]


def _name_strongest(ax, names: np.ndarray, points: dict, n_labels: int) -> list:
    """The motifs :func:`strongest` picks, named beside their dots and moved apart
    (:func:`place_labels`); the labels drawn."""
    texts = [
        ax.annotate(
            names[i],
            (points["x"][i], points["y"][i]),
            fontsize=7,
            xytext=(3, 3),
            textcoords="offset points",
            zorder=5,
        )
        for i in strongest(points, n_labels)
    ]
    ax.figure.canvas.draw()
    return place_labels(ax, texts)


@doc_plot
def motif_scatter(
    adata: AnnData,
    key: str,
    reference: str,
    *,
    fdr: float = 1e-3,
    n_labels: int = 10,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """Signed KS D of two models or cell types, one dot per TF (ChromTransfer Fig. 3G).

    Reads the joined table ``ct.tl.motif_enrichment(adata, key, reference=...)``
    stored. TFs significant in either (FDR below ``fdr``) are coloured by
    where they are; ``n_labels`` of them are named: the one of largest
    absolute D in each colour, then the next largest of any. Labels are moved
    apart so none covers another (a label that finds no room in the axes is
    left out).
    A motif only one model tested (it had too few sites there) is drawn as an
    open diamond on the edge of the other model's axis.

    Parameters
    ----------
    adata
        Object with ``uns[f"{key}_vs_{reference}_motifs"]``.
    key, reference
        The two keys, as passed to :func:`~chromtools.tl.motif_enrichment`.
    fdr
        Significance threshold (ChromTransfer's is 0.001).
    n_labels
        How many significant TFs to name (each colour's strongest first).
    {ax_show_save}

    Returns
    -------
    The axes when ``show=False``.
    """
    check_show_save(show, save)
    a, b = storage_name(key), storage_name(reference)
    joined = stored(
        adata,
        "uns",
        RESULTS["motif_enrichment"].slots(a, reference=b)["uns"][2],
        "motif_scatter",
        f"ct.tl.motif_enrichment(adata, {key!r}, reference={reference!r})",
    )
    points = _scatter_points(joined, a, b, fdr)
    in_a, in_b = points["in_a"], points["in_b"]
    groups = {
        "not significant": (~in_a & ~in_b, "0.75"),
        f"{key} only": (in_a & ~in_b, colour(0)),
        f"{reference} only": (~in_a & in_b, colour(1)),
        "both": (in_a & in_b, colour(2)),
    }
    low, high = points["limits"]
    with style():
        fig, ax = axes(ax, figsize=(4.2, 4.0))
        handles = _draw_dots(ax, points, groups)
        ax.plot([low, high], [low, high], color="0.8", lw=0.8, zorder=1, label="_diagonal")
        ax.axhline(0, color="0.9", lw=0.8, zorder=0)
        ax.axvline(0, color="0.9", lw=0.8, zorder=0)
        ax.set(
            xlim=(low, high),
            ylim=(low, high),
            xlabel=f"KS D, {key}",
            ylabel=f"KS D, {reference}",
            title="Motif importance (signed KS D)",
        )
        texts = _name_strongest(ax, joined["tf_name"].astype(str).to_numpy(), points, n_labels)
        place_legend(ax, handles, avoid=texts, fontsize=7)
    return savefig_or_show(fig, ax, show, save)


def sites_in(adata: AnnData, region: str):
    """The ``uns['motif_sites']`` rows of one region, or an empty table."""
    sites = adata.uns.get(RESULTS["motif_sites"].default())
    if sites is None:
        return None
    return sites[sites["region"].astype(str) == region]


def _small(p: float) -> str:
    """A p-value or FDR as text: scientific notation, ``< 1e-300`` at float64's floor."""
    return "< 1e-300" if p < 1e-300 else f"{p:.1e}"
