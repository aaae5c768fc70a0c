"""What ``ct.tl.in_silico_deletion`` deletes: one :class:`Perturbation` per layer of results.

Histone models delete marks (each on its own, or all over a TSS-relative
range of bins); sequence models delete the sites of motifs that
``ct.tl.scan_motifs`` found. Every choice is checked here, before any
prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from anndata import AnnData

from ..._constants import SITE_COLUMNS
from ..._results import RESULTS
from ..engine import select_marks
from ._interpreted import Interpreted


@dataclass
class Perturbation:
    """One deletion: what it removes and the layer its predicted change goes to."""

    layer: str
    marks: list[int] | None = None
    bins: slice = field(default_factory=lambda: slice(None))
    motif: str | None = None


def _check_bins(bins: object, data: dict) -> tuple[slice, tuple[int, int]]:
    window = [int(w) for w in data["window"]]
    bin_size = int(data["bin_size"])
    if (
        not isinstance(bins, Sequence)
        or isinstance(bins, str)
        or len(bins) != 2
        or not all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) for b in bins)
    ):
        raise ValueError(
            f"in_silico_deletion: bins must be a (start, end) range in bp around the TSS, "
            f"e.g. (-1000, 1000), got {bins!r}"
        )
    start, end = int(bins[0]), int(bins[1])
    if start >= end or start < window[0] or end > window[1]:
        raise ValueError(
            f"in_silico_deletion: bins=({start}, {end}) must be a range start < end inside the "
            f"model's window {window} bp around the TSS"
        )
    # every bin that overlaps [start, end)
    first = (start - window[0]) // bin_size
    last = -(-(end - window[0]) // bin_size)
    return slice(first, last), (start, end)


def _motif_sites(adata: AnnData, motifs: object) -> tuple[pd.DataFrame, dict[str, str]]:
    """The sites table and ``{motif_id: layer suffix}`` of every motif asked for."""
    sites = adata.uns.get(RESULTS["motif_sites"].default())
    if not isinstance(sites, pd.DataFrame):
        raise KeyError(
            "in_silico_deletion: motifs= needs the motif sites in adata.uns['motif_sites']; "
            "run ct.tl.scan_motifs(adata) first"
        )
    missing = [c for c in ("region", "motif_id", "tf_name", "start", "end") if c not in sites]
    if missing:
        raise ValueError(
            f"in_silico_deletion: adata.uns['motif_sites'] lacks the columns {missing}; "
            f"ct.tl.scan_motifs writes {list(SITE_COLUMNS)}"
        )
    if isinstance(motifs, str):
        motifs = [motifs]
    if not isinstance(motifs, Sequence) or not motifs:
        raise ValueError(
            f"in_silico_deletion: motifs must be JASPAR ids or TF names (a list), got {motifs!r}"
        )
    ids = sites["motif_id"].astype(str)
    tf_names = sites["tf_name"].astype(str)
    chosen: dict[str, str] = {}
    unknown = []
    for motif in motifs:
        if not isinstance(motif, str):
            unknown.append(motif)
        elif (ids == motif).any():
            chosen[motif] = motif
        elif (tf_names == motif).any():
            for matrix in sorted(set(ids[tf_names == motif])):
                chosen[matrix] = motif if ids[tf_names == motif].nunique() == 1 else matrix
        else:
            unknown.append(motif)
    if unknown:
        have = sorted(set(tf_names))
        raise KeyError(
            f"in_silico_deletion: motifs {unknown} have no sites in adata.uns['motif_sites']; "
            f"it holds {ids.nunique()} motifs, e.g. TFs {have[:10]}"
        )
    return sites[ids.isin(list(chosen))], chosen


def plan_motifs(
    adata: AnnData, key: str, key_added: str, marks, bins, motifs, replace: str
) -> tuple[list[Perturbation], pd.DataFrame]:
    """One perturbation per motif of a sequence model, with the sites to overwrite."""
    if marks is not None or bins is not None:
        raise ValueError(
            f"in_silico_deletion: uns[{key!r}] reads DNA, not histone marks; delete motifs "
            "(motifs=[...]) instead of marks= or bins="
        )
    if motifs is None:
        raise ValueError(
            f"in_silico_deletion: uns[{key!r}] is a sequence model; name the motifs to "
            "delete (JASPAR ids or TF names from uns['motif_sites'])"
        )
    if replace != "zero":
        raise ValueError(
            "in_silico_deletion: replace= applies to histone marks; motif sites are "
            "replaced by dinucleotide-shuffled sequence"
        )
    sites, chosen = _motif_sites(adata, motifs)
    perturbations = [
        Perturbation(_layer(key_added, name), motif=matrix) for matrix, name in chosen.items()
    ]
    return perturbations, sites


def plan_marks(
    model: Interpreted, key: str, key_added: str, marks, bins, motifs
) -> list[Perturbation]:
    """The perturbations of a histone model: one per mark, or every mark over ``bins``."""
    if motifs is not None:
        raise ValueError(
            f"in_silico_deletion: uns[{key!r}] is a histone model; motifs= needs a sequence "
            "model (e.g. chromtransfer). Delete marks= or bins= instead"
        )
    data = model.record["config"]["data"]
    model_marks = list(data["marks"])
    span, where = (slice(None), None) if bins is None else _check_bins(bins, data)
    if marks is None and bins is not None:
        indices = list(range(len(model_marks)))
        return [Perturbation(_layer(key_added, f"bins_{where[0]}_{where[1]}"), indices, span)]
    chosen = (
        model_marks
        if marks is None
        else select_marks(marks, model_marks, whose="the model's", what="in_silico_deletion: marks")
    )
    suffix = "" if where is None else f"_{where[0]}_{where[1]}"
    return [
        Perturbation(_layer(key_added, f"{m}{suffix}"), [model_marks.index(m)], span)
        for m in chosen
    ]


def _layer(key_added: str, name: str) -> str:
    """The layer of one perturbation (the registry's slot)."""
    return RESULTS["deletion"].slots(key_added, name=name)["layers"][0]


def sites_by_motif(sites: pd.DataFrame | None) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """``{motif_id: {region: [(start, end), ...]}}`` of the sites table."""
    by_motif: dict[str, dict[str, list[tuple[int, int]]]] = {}
    if sites is None:
        return by_motif
    for (region, motif), group in sites.groupby(["region", "motif_id"], sort=False, observed=True):
        by_motif.setdefault(str(motif), {})[str(region)] = list(
            zip(group["start"].astype(int), group["end"].astype(int), strict=True)
        )
    return by_motif
