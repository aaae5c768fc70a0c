"""What ``motif_enrichment`` reads for one model, checked before any work.

:func:`_plan` resolves a model's attributions, cell type, attribution method and
site score, and which regions are tested (attributed, and predicted positive if
asked); :func:`_check_sites` checks the site table of
:func:`~chromtools.tl.scan_motifs`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from anndata import AnnData

from ..._constants import SITE_COLUMNS
from ..._results import RESULTS, find_result, storage_name
from ...get import attributed_cell_type
from ...get._lazy import concrete
from ._scan_motifs import SITES

SCORES = ("max", "min", "mean")
# Regions read at a time to find the attributed ones: 4,096 × 600 bp × 4 float32 is 39 MB.
_REGIONS_PER_READ = 4096


@dataclasses.dataclass
class _Enrichment:
    """What :func:`motif_enrichment` reads for one model, checked before any work."""

    key: str
    name: str  # the key as a slot name (storage_name)
    cell_type: str
    method: str
    score: str
    positive: np.ndarray | None  # per region, predicted positive; None: every region
    regions: np.ndarray  # per region, tested: attributed (and positive, if asked)

    @property
    def attributions(self) -> str:
        return _attribution_slot(self.name, self.cell_type)


def _attribution_slot(name: str, cell_type: str) -> str:
    """``varm`` of the attributions ``name`` (a sequence model's) of one cell type."""
    return RESULTS["attribution"].slots(name, cell_type=cell_type)["varm"][0]


def _check_sites(adata: AnnData, sites_key: str = SITES) -> pd.DataFrame:
    """The site table of :func:`~chromtools.tl.scan_motifs` in ``uns[sites_key]``, checked."""
    sites = concrete(adata).uns.get(sites_key)
    if not isinstance(sites, pd.DataFrame):
        raise ValueError(
            f"motif_enrichment reads binding sites from adata.uns[{sites_key!r}], which is "
            f"missing; run ct.tl.scan_motifs(adata, key_added={sites_key!r}) first"
        )
    missing = [c for c in SITE_COLUMNS if c not in sites.columns]
    if missing:
        raise ValueError(
            f"adata.uns[{sites_key!r}] lacks the columns {missing}; run ct.tl.scan_motifs"
        )
    return sites


def _predicted_positive(adata: AnnData, key: str, name: str, cell_type: str) -> np.ndarray:
    """Per region, whether ``key`` predicts it positive (probability > 0.5) for ``cell_type``."""
    if name not in adata.layers:
        raise ValueError(
            f"positive_only=True reads the predictions of {key!r} in adata.layers[{name!r}], "
            f"which is missing; run ct.tl.predict(adata, {key!r}) first, or pass "
            "positive_only=False"
        )
    probability = np.asarray(adata.layers[name][adata.obs_names.get_loc(cell_type)], np.float64)
    positive = np.nan_to_num(probability, nan=0.0).ravel() > 0.5
    if not positive.any():
        raise ValueError(
            f"motif_enrichment: no region is predicted positive (probability > 0.5) for "
            f"{cell_type!r} in adata.layers[{name!r}]; pass positive_only=False to use every region"
        )
    return positive


def stored_attributions(
    adata: AnnData,
    key: str,
    cell_type: object,
    attributions: str | None = None,
    what: str = "motif_enrichment",
) -> tuple[str, str, str, str | None]:
    """The attributions of model ``key`` that ``what`` reads (those named ``attributions``
    when given): their stored name, the cell type (checked), its ``varm`` slot, and the
    method their record names (None without one)."""
    named = key if attributions is None else attributions
    name = find_result(adata, "attribution", named) or storage_name(named)
    cell_type = attributed_cell_type(adata, key, name, cell_type, what=what)
    record = adata.uns.get(RESULTS["attribution"].record_name(name), {})
    method = record.get("params", {}).get("method")
    return name, cell_type, _attribution_slot(name, cell_type), method and str(method)


def _plan(
    adata: AnnData,
    key: object,
    cell_type: object,
    score: object,
    positive_only: object,
    length: int,
    attributions: str | None = None,
) -> _Enrichment:
    """One model's :class:`_Enrichment`, every argument checked."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be the uns key of a fitted model, got {key!r}")
    name, cell_type, slot, method = stored_attributions(adata, key, cell_type, attributions)
    values = adata.varm[slot]
    if values.ndim != 3 or values.shape[2] != 4 or values.shape[1] < length:
        raise ValueError(
            f"adata.varm[{slot!r}] has shape {values.shape}; expected (regions, length, 4) "
            f"covering the sites (up to base {length})"
        )
    method = method or "unknown"
    if score is None:
        score = "min" if method == "ism" else "max"
    if score not in SCORES:
        raise ValueError(f"score must be one of {list(SCORES)} or None, got {score!r}")
    if not isinstance(positive_only, bool | np.bool_):
        raise ValueError(f"positive_only must be True or False, got {positive_only!r}")
    positive = (
        _predicted_positive(adata, key, storage_name(key), cell_type) if positive_only else None
    )
    attributed = _attributed(values)
    slot = f"adata.varm[{slot!r}]"
    if not attributed.any():
        raise ValueError(
            f"motif_enrichment: {slot} is NaN in every region, so no region is attributed; "
            f"run ct.tl.attribute(adata, {key!r}, cell_types=[{cell_type!r}]) first"
        )
    regions = attributed if positive is None else attributed & positive
    if not regions.any():
        raise ValueError(
            f"motif_enrichment: none of the {int(positive.sum())} regions predicted positive "
            f"for {cell_type!r} is attributed in {slot} (it covers {int(attributed.sum())} "
            f"other regions); run ct.tl.attribute(adata, {key!r}, genes=[...]) on them, or "
            "pass positive_only=False"
        )
    return _Enrichment(key, name, cell_type, method, score, positive, regions)


def _attributed(values) -> np.ndarray:
    """Per region, whether every attribution is finite: ``ct.tl.attribute`` leaves
    the regions it did not explain NaN."""
    out = np.empty(values.shape[0], dtype=bool)
    for first in range(0, len(out), _REGIONS_PER_READ):
        block = np.asarray(values[first : first + _REGIONS_PER_READ])
        out[first : first + len(block)] = np.isfinite(block).all(axis=(1, 2))
    return out
