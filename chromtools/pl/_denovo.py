"""The patterns ``ct.tl.denovo_motifs`` found: each one's contribution logo beside its best
JASPAR match's logo (information content)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from matplotlib.ticker import MaxNLocator

from .._docs import doc_plot
from ..tl.motifs import SIGNIFICANT, reverse_complement  # SIGNIFICANT: a match is named
from ._utils import check_show_save, grid, savefig_or_show, stored, style

SHOWN = 5  # patterns drawn by default, those with the most seqlets


def information(frequencies: np.ndarray) -> np.ndarray:
    """Each base's height in an information-content logo (bits), (length, 4)."""
    frequencies = np.asarray(frequencies, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(frequencies > 0, frequencies * np.log2(frequencies), 0), 1)
    return frequencies * (2 - entropy)[:, None]


def aligned_match(frequencies: np.ndarray, row: pd.Series) -> pd.DataFrame:
    """The match's information logo as TOMTOM aligned it: on the pattern's strand, indexed
    by pattern position (its first column at ``match_offset``).

    Results stored before the alignment was recorded are drawn as JASPAR has them.
    """
    heights = information(frequencies)
    offset, strand = row.get("match_offset", 0), row.get("match_strand", "+")
    if strand == "-":
        heights = reverse_complement(heights)
    index = pd.RangeIndex(int(offset), int(offset) + len(heights))
    return pd.DataFrame(heights, columns=list("ACGT"), index=index)


def _chosen(table: pd.DataFrame, patterns: object, key_added: str) -> list[str]:
    names = table["pattern"].astype(str).tolist()
    if patterns is None:
        return names[:SHOWN]
    if isinstance(patterns, int) and not isinstance(patterns, bool) and patterns > 0:
        return names[:patterns]
    chosen = [patterns] if isinstance(patterns, str) else patterns
    if not isinstance(chosen, Sequence) or not chosen or any(p not in names for p in chosen):
        raise ValueError(
            f"ct.pl.denovo_motifs: patterns must be a number or names of "
            f"adata.uns[{key_added!r}]['patterns'] {names}, got {patterns!r}"
        )
    return list(chosen)


def _panels(ax: object, n: int):
    """Two axes per pattern: the given ones, or a new figure's."""
    if ax is None:
        fig, panels = grid(n, 2, (4.5, 1.6), gridspec_kw={"hspace": 0.9})
        return fig, panels
    panels = (
        np.asarray(ax, dtype=object).reshape(-1) if isinstance(ax, Sequence | np.ndarray) else None
    )
    if panels is None or len(panels) != 2 * n:
        raise ValueError(
            f"ct.pl.denovo_motifs draws two panels per pattern; ax must be a sequence of "
            f"{2 * n} axes (pattern, match, …), got {ax!r}"
        )
    return panels[0].figure, panels.reshape(n, 2)


def _title(row: pd.Series) -> tuple[str, str]:
    left = f"{row['pattern']}: {int(row['n_seqlets'])} seqlets"
    if float(row["qvalue"]) >= SIGNIFICANT:
        return left, f"no significant match (best {row['best_match_tf']}, q = {row['qvalue']:.2g})"
    family = f", family {row['family']}" if row["family"] else ""
    strand = " (−)" if row.get("match_strand") == "-" else ""
    match = f"{row['best_match_tf']}{strand} ({row['best_match']})"
    return left, f"{match}, q = {row['qvalue']:.2g}{family}"


@doc_plot
def denovo_motifs(
    adata: AnnData,
    key_added: str = "denovo_motifs",
    *,
    patterns: int | Sequence[str] | None = None,
    ax: Sequence | None = None,
    show: bool | None = None,
    save: str | Path | None = None,
):
    """The patterns of ``ct.tl.denovo_motifs``, one row each: its contribution logo
    beside its best JASPAR match's information-content logo.

    The left logo draws each base at its mean contribution in the pattern's
    aligned seqlets; the right one the best TOMTOM match, titled with its TF,
    matrix id, q-value and family, or "no significant match" where q ≥ 0.05
    (the match is still drawn, greyed). The match is drawn as TOMTOM aligned
    it, on the pattern's strand ("(−)" in the title: reverse-complemented)
    and shifted to the pattern positions it matches; both panels share those
    positions.

    Parameters
    ----------
    adata
        Object on which ``ct.tl.denovo_motifs`` stored ``uns[key_added]``.
    key_added
        The ``key_added`` of ``ct.tl.denovo_motifs``.
    patterns
        Pattern names, or how many of those with the most seqlets; 5 by default.
    ax
        Two axes per pattern (pattern, match, pattern, match, …); a new figure by default.
    {show_save}

    Returns
    -------
    With ``show=False``, each pattern's (logo, match logo) pair of axes.
    """
    check_show_save(show, save)
    result = stored(adata, "uns", key_added, "denovo_motifs", "ct.tl.denovo_motifs(adata, key)")
    table = result["patterns"]
    if not len(table):
        raise ValueError(f"ct.pl.denovo_motifs: adata.uns[{key_added!r}] holds no pattern")
    chosen = _chosen(table, patterns, key_added)
    import logomaker

    with style():
        fig, panels = _panels(ax, len(chosen))
        rows = table.set_index(table["pattern"].astype(str))
        for (left, right), name in zip(panels, chosen, strict=True):
            row = rows.loc[name]
            contributions = pd.DataFrame(
                np.asarray(result["contributions"][name]), columns=list("ACGT")
            )
            logomaker.Logo(contributions, ax=left, color_scheme="classic")
            match = aligned_match(result["match_pwms"][name], row)
            significant = float(row["qvalue"]) < SIGNIFICANT
            logomaker.Logo(match, ax=right, color_scheme="classic" if significant else "grays")
            titles = _title(row)
            left.set_title(titles[0], fontsize=8)
            right.set_title(titles[1], fontsize=8)
            left.set_ylabel("contribution")
            right.set_ylabel("bits")
            right.set_ylim(0, 2)
            span = (
                min(0, match.index[0]) - 0.5,
                max(len(contributions), match.index[-1] + 1) - 0.5,
            )
            for panel in (left, right):
                panel.set_xlabel("position in the pattern (bp)")
                panel.set_xlim(*span)
                panel.xaxis.set_major_locator(MaxNLocator(integer=True))
    return savefig_or_show(fig, panels, show, save)
