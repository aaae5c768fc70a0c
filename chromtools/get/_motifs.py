"""The site scores ``ct.tl.motif_enrichment`` tested, and the two samples of one KS test."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from .._results import RESULTS
from ._lazy import concrete

# The columns of ``uns[f"{key}_motif_scores"]``, one row per site in the regions tested.
SITE_SCORE_COLUMNS = ("motif_id", "region", "start", "end", "importance")


def overlapping(flat_start: np.ndarray, flat_end: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Which sites share a base with any of the sites ``own`` (all of one motif's length).

    Sites are given as positions along all regions laid end to end, so sites of
    different regions never overlap.
    """
    width = flat_end[own[0]] - flat_start[own[0]]
    starts = np.sort(flat_start[own])
    # A site [a, b) overlaps an own site [s, s + width) exactly when a - width < s < b.
    return np.searchsorted(starts, flat_end, "left") > np.searchsorted(
        starts, flat_start - width, "right"
    )


def flat_positions(region_codes: np.ndarray, start: np.ndarray, end: np.ndarray, length: int):
    """Each site's bases as positions along all regions laid end to end (``region * length``)."""
    first = np.asarray(region_codes, dtype=np.int64) * length
    return first + np.asarray(start, np.int64), first + np.asarray(end, np.int64)


def motif_site_scores(adata: AnnData, key: str, motif: str) -> tuple[np.ndarray, np.ndarray]:
    """The two samples one KS test of ``ct.tl.motif_enrichment`` compared.

    Read from the site scores the enrichment stored, so no model, attribution
    or site table is needed: a motif's sites in the regions tested, and its
    background, every other motif's site there that shares no base with one
    of its own.

    Parameters
    ----------
    adata
        Object after :func:`~chromtools.tl.motif_enrichment` for ``key``.
    key
        The key the enrichment was stored under (the model's key).
    motif
        A matrix id (``"MA0139.2"``) among the motifs scanned.

    Returns
    -------
    The importances of the motif's sites and of its background sites, as
    tested: the site score over its bases, negated for ISM so that higher is
    more important (float32).
    """
    name = RESULTS["motif_enrichment"].slots(key)["uns"][2]  # without reference: the scores
    table = concrete(adata).uns.get(name)
    if not isinstance(table, pd.DataFrame) or any(
        c not in table.columns for c in SITE_SCORE_COLUMNS
    ):
        raise KeyError(
            f"no site scores of {key!r} in adata.uns[{name!r}]; run "
            f"ct.tl.motif_enrichment(adata, {key!r}) (again, if it ran before they were stored)"
        )
    ids = table["motif_id"].astype("category").array
    categories = list(ids.categories.astype(str))
    if motif not in categories:
        raise KeyError(
            f"motif {motif!r} is not among the motifs of adata.uns[{name!r}] "
            f"(e.g. {categories[:3]})"
        )
    code = categories.index(motif)
    importance = table["importance"].to_numpy()
    own = np.flatnonzero(ids.codes == code)
    if not len(own):
        return importance[:0], importance[:0]
    region = table["region"].astype("category").array.codes
    end = table["end"].to_numpy(np.int64)
    flat_start, flat_end = flat_positions(region, table["start"], end, int(end.max()))
    background = (ids.codes != code) & ~overlapping(flat_start, flat_end, own)
    return importance[own], importance[background]
