"""One variant's effect: the attribution logos of both alleles and the sites it changes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.axes import Axes

from .._docs import doc_plot
from .._results import kind_of
from ._attention import cell_types_option, one_cell_type, panels_of
from ._tracks import BASES, STRANDS
from ._utils import ON_OFF, cell_label, check_show_save, grid, savefig_or_show, stored, style

# Lost sites in the colour of "off", gained ones in that of "on".
CHANGE_COLOURS = {"lost": ON_OFF["OFF"], "gained": ON_OFF["ON"]}


def _result(adata: AnnData, key_added: str) -> dict:
    """``uns[key_added]`` of :func:`~chromtools.tl.variant_effects`, checked."""
    if not isinstance(adata, AnnData):
        raise ValueError(f"ct.pl.variant_effect takes an AnnData first, got {type(adata).__name__}")
    run = f"ct.tl.variant_effects(adata, key, variants, key_added={key_added!r})"
    record = stored(adata, "uns", key_added, "variant_effect", run)
    if kind_of(record) != "variant_effects":
        raise ValueError(
            f"ct.pl.variant_effect: adata.uns[{key_added!r}] is not a result of "
            "ct.tl.variant_effects; pass its key_added"
        )
    return record


def effect_row(
    record: dict, variant: object, region: object, cell_types: object
) -> tuple[int, pd.Series]:
    """The row of ``effects`` drawn: the variant's, in ``region`` (needed when the variant
    lies in several) and in the one cell type asked for (needed when there are several)."""
    effects = record["effects"]
    rows = np.flatnonzero((effects["variant"] == variant).to_numpy())
    if not len(rows):
        known = effects["variant"].drop_duplicates().tolist()
        raise KeyError(f"ct.pl.variant_effect: no variant {variant!r}; scored: {known[:10]}")
    regions = effects["region"].to_numpy()[rows]
    if region is None and len(set(regions)) > 1:
        raise ValueError(
            f"ct.pl.variant_effect: {variant!r} lies in regions {sorted(set(regions))}; "
            "say which with region="
        )
    if region is not None:
        rows = rows[regions == region]
        if not len(rows):
            raise KeyError(f"ct.pl.variant_effect: {variant!r} was not scored in {region!r}")
    cells = effects["cell_type"].to_numpy()[rows].astype(str)
    cell = one_cell_type(cell_types, list(dict.fromkeys(cells)), "variant_effect")
    row = int(rows[np.flatnonzero(cells == cell)[0]])
    return row, effects.iloc[row]


@doc_plot
def variant_effect(
    adata: AnnData,
    variant: str,
    *,
    region: str | None = None,
    key_added: str = "variant_effects",
    cell_types: str | Sequence[str] | None = None,
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
    **options: object,
):
    """A variant's effect: the ref and alt attribution logos around it and the sites it changes.

    Draws what :func:`~chromtools.tl.variant_effects` stored: the gradient ×
    input of the ref sequence (top) and of the alt sequence (middle) at the
    20 bases on either side of the variant, the variant's base shaded, and
    below them each JASPAR site the alt allele breaks (lost) or creates
    (gained) as a bar named by its TF and strand. The title gives the
    predictions of both alleles and their difference.

    Parameters
    ----------
    adata
        Object with ``uns[key_added]`` of :func:`~chromtools.tl.variant_effects`.
    variant
        The variant's name (its ``id``, or ``"region:position:ref>alt"``).
    region
        The region, when the variant lies in several.
    key_added
        Where :func:`~chromtools.tl.variant_effects` stored its result.
    cell_types
        The one cell type drawn, a name or a one-element list; needed when
        the variant was scored for several.
    ax
        Three axes: the ref logo's, the alt logo's and the sites'; a new figure by default.
    {show_save}
    **options
        ``cell_type=`` (the old name of ``cell_types``), with a ``FutureWarning``;
        any other name is refused.

    Returns
    -------
    The figure when ``show=False``; ``fig.axes[0]`` and ``[1]`` are the ref and
    alt logos, ``[2]`` the sites.
    """
    import logomaker

    cell_types = cell_types_option(options, cell_types, "variant_effect")
    check_show_save(show, save)
    record = _result(adata, key_added)
    row, effect = effect_row(record, variant, region, cell_types)
    flank = int(record["params"]["flank"])
    position = int(effect["position"])
    index = np.arange(position - flank, position + flank + 1)
    sites = record["sites"]
    sites = sites[(sites["variant"] == variant) & (sites["region"] == effect["region"])]
    with style():
        fig, panels = panels_of(
            ax, 3, "variant_effect",
            lambda: grid(3, 1, (7.0, 1.5), sharex=True,
                         gridspec_kw={"height_ratios": [2, 2, max(1, len(sites))]}),
        )  # fmt: skip
        values = np.asarray(record["attributions"][row], dtype=float)
        limits = _shared_limits(values)
        for panel, allele, heights in zip(panels[:2], ("ref", "alt"), values, strict=False):
            logo = pd.DataFrame(heights, columns=list(BASES), index=index)
            logomaker.Logo(logo, ax=panel, color_scheme="classic")
            panel.axvspan(position - 0.5, position + 0.5, color="0.85", zorder=-1)
            panel.axhline(0, color="0.6", lw=0.5)
            panel.set(
                ylabel=f"{allele} {effect[allele]}\n(grad × input)",
                ylim=limits,
                xlim=(index[0] - 0.5, index[-1] + 0.5),
            )
        panels[0].set_title(_title(adata, effect), fontsize=9)
        _draw_changes(panels[2], sites)
        panels[2].axvline(position, color="0.4", lw=0.8, ls="--")
        panels[2].set(
            xlabel=f"Position in {effect['region']} (bp)",
            ylabel="sites\nchanged",
            xlim=(index[0] - 0.5, index[-1] + 0.5),
        )
    return savefig_or_show(fig, fig, show, save)


def _shared_limits(values: np.ndarray) -> tuple[float, float]:
    """One y range for both logos, so that their heights compare."""
    low, high = float(min(values.min(), 0)), float(max(values.max(), 0))
    pad = 0.05 * (high - low) or 1e-3
    return low - pad, high + pad


def _title(adata: AnnData, effect: pd.Series) -> str:
    what = "P(open)" if np.isfinite(effect["log_odds_delta"]) else "prediction"
    delta = f"{effect['delta']:+.3f}".replace("-", "\u2212")  # a minus sign, not a hyphen
    return (
        f"{effect['variant']} · {effect['model']}, {cell_label(adata, effect['cell_type'])}: "
        f"{what} {effect['ref_prediction']:.3f} → {effect['alt_prediction']:.3f} "
        f"(Δ {delta})"
    )


def _draw_changes(ax, sites: pd.DataFrame) -> None:
    """One bar per lost or gained site, one lane each, named by its TF, strand and change."""
    for lane, site in enumerate(sites.itertuples()):
        ax.barh(
            -lane, site.end - site.start, left=site.start - 0.5, height=0.7,
            color=CHANGE_COLOURS[site.change], alpha=0.35, edgecolor="0.3", lw=0.5,
        )  # fmt: skip
        label = f"{site.tf_name} ({STRANDS.get(site.strand, site.strand)}) {site.change}"
        ax.text((site.start + site.end) / 2 - 0.5, -lane, label, ha="center", va="center",
                fontsize=7, clip_on=True)  # fmt: skip
    if not len(sites):
        ax.text(0.5, 0.5, "no site lost or gained", transform=ax.transAxes, ha="center",
                va="center", fontsize=8, color="0.4")  # fmt: skip
    ax.set_ylim(-max(len(sites), 1) + 0.4, 0.6)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
