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
from ._utils import axes, check_show_save, colour, savefig_or_show, stored, style


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
    (:func:`~chromtools.get.motif_site_scores`); the title gives the signed D
    and the FDR of its table.

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
            title=f"{tf} ({motif_id}): D = {row['ks_d']:+.2f}, FDR = {row['fdr']:.1e}",
        )
        # attributions are often ~1e-4: plain tick labels run into each other
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.legend(loc="lower right")
    return savefig_or_show(fig, ax, show, save)


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
    where they are; the ``n_labels`` with the largest absolute D are named.

    Parameters
    ----------
    adata
        Object with ``uns[f"{key}_vs_{reference}_motifs"]``.
    key, reference
        The two keys, as passed to :func:`~chromtools.tl.motif_enrichment`.
    fdr
        Significance threshold (ChromTransfer's is 0.001).
    n_labels
        How many significant TFs to name.
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
    table = joined.dropna(subset=[f"ks_d_{a}", f"ks_d_{b}"])
    x, y = table[f"ks_d_{a}"].to_numpy(float), table[f"ks_d_{b}"].to_numpy(float)
    in_a = (table[f"fdr_{a}"] < fdr).to_numpy()
    in_b = (table[f"fdr_{b}"] < fdr).to_numpy()
    groups = {
        "not significant": ~in_a & ~in_b,
        f"{key} only": in_a & ~in_b,
        f"{reference} only": ~in_a & in_b,
        "both": in_a & in_b,
    }
    colours = {
        "not significant": "0.75",
        f"{key} only": colour(0),
        f"{reference} only": colour(1),
        "both": colour(2),
    }
    with style():
        fig, ax = axes(ax, figsize=(4.2, 4.0))
        for group, chosen in groups.items():
            if chosen.any():
                ax.scatter(
                    x[chosen],
                    y[chosen],
                    s=12 if group == "not significant" else 20,
                    color=colours[group],
                    label=f"{group} ({int(chosen.sum())})",
                    zorder=2 if group == "not significant" else 3,
                )
        low = min(x.min(initial=0), y.min(initial=0)) - 0.05
        high = max(x.max(initial=0), y.max(initial=0)) + 0.05
        ax.plot([low, high], [low, high], color="0.8", lw=0.8, zorder=1)
        ax.axhline(0, color="0.9", lw=0.8, zorder=0)
        ax.axvline(0, color="0.9", lw=0.8, zorder=0)
        significant = np.flatnonzero(in_a | in_b)
        strongest = significant[np.argsort(-np.maximum(np.abs(x), np.abs(y))[significant])]
        for i in strongest[:n_labels]:
            ax.annotate(
                str(table["tf_name"].iloc[i]),
                (x[i], y[i]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set(
            xlim=(low, high),
            ylim=(low, high),
            xlabel=f"KS D, {key}",
            ylabel=f"KS D, {reference}",
            title="Motif importance",
        )
        ax.legend(loc="upper left", fontsize=7)
    return savefig_or_show(fig, ax, show, save)


def sites_in(adata: AnnData, region: str):
    """The ``uns['motif_sites']`` rows of one region, or an empty table."""
    sites = adata.uns.get(RESULTS["motif_sites"].default())
    if sites is None:
        return None
    return sites[sites["region"].astype(str) == region]
