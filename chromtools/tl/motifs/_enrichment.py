"""``motif_enrichment``: which TFs' binding sites carry a model's attributions.

Each site of :func:`~chromtools.tl.scan_motifs` in the regions a model's
:func:`_plan` tests is scored by the attribution over its bases
(:func:`scored_sites`); per motif, :func:`~chromtools.tl.motifs._ks.ks_enrichment`
compares its sites with the other motifs' sites. The table names each motif's
family (:func:`~chromtools.tl.motifs._families.motif_families`), and two
models' tables can be joined side by side.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from anndata import AnnData

from ..._results import RESULTS, check_writable, find_result, record_params, storage_name
from ..._settings import logger
from ..._utils import check_int
from ...get._motifs import flat_positions
from ...io._motifs import read_jaspar
from ._families import FAMILY_SIMILARITY, motif_families
from ._ks import ks_enrichment, site_scores
from ._plan import _attribution_slot, _check_sites, _Enrichment, _plan
from ._scan_motifs import SITES, _write_uns


def _site_regions(adata: AnnData, sites: pd.DataFrame) -> np.ndarray:
    """Each site's position in ``var`` (-1 for regions this object no longer has)."""
    region = sites["region"]
    if isinstance(region.dtype, pd.CategoricalDtype):
        lookup = adata.var_names.get_indexer(region.cat.categories.astype(str))
        return np.where(region.cat.codes.to_numpy() < 0, -1, lookup[region.cat.codes.to_numpy()])
    return adata.var_names.get_indexer(region.astype(str))


@dataclasses.dataclass
class ScoredSites:
    """The sites one model's enrichment test reads, each with its importance score."""

    ids: pd.Categorical  # every motif scanned (codes index its categories)
    motif: np.ndarray  # per site, the motif code
    names: np.ndarray  # per site, the TF name
    importance: np.ndarray  # per site: its score, negated for ISM (higher = more important)
    region: np.ndarray  # per site, its region's position in var
    start: np.ndarray  # per site, its bases in the region
    end: np.ndarray
    length: int  # bases per region

    @property
    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """Each site's bases along all regions laid end to end."""
        return flat_positions(self.region, self.start, self.end, self.length)

    def table(self, var_names: pd.Index) -> pd.DataFrame:
        """What the KS tests compared, stored for ``ct.get.motif_site_scores`` and
        ``ct.pl.motif_ecdf``: per site, its motif, place and importance."""
        rows, row = np.unique(self.region, return_inverse=True)
        return pd.DataFrame(
            {
                "motif_id": pd.Categorical.from_codes(self.motif, self.ids.categories),
                "region": pd.Categorical.from_codes(row, var_names[rows].astype(str)),
                "start": self.start.astype(np.int32),
                "end": self.end.astype(np.int32),
                "importance": self.importance.astype(np.float32),
            }
        )


def scored_sites(adata: AnnData, plan: _Enrichment, sites: pd.DataFrame) -> ScoredSites:
    """Every site in the regions ``plan`` tests, scored by ``plan``'s attributions."""
    region = _site_regions(adata, sites)
    keep = (region >= 0) & plan.regions[np.maximum(region, 0)]
    region = region[keep]
    start = sites["start"].to_numpy(np.int64)[keep]
    end = sites["end"].to_numpy(np.int64)[keep]
    ids = sites["motif_id"]
    # scan_motifs' categories are every motif scanned, with sites or not.
    ids = ids.array if isinstance(ids.dtype, pd.CategoricalDtype) else pd.Categorical(ids)
    motif = ids.codes[keep].astype(np.int64)

    rows, row = np.unique(region, return_inverse=True)
    values = np.asarray(adata.varm[plan.attributions][rows], dtype=np.float64)
    # grad×input is non-zero at the observed base only; ISM is 0 there, so a
    # base's ISM score is the mean of its 3 substitutions.
    per_base = values.sum(axis=2) / (3 if plan.method == "ism" else 1)
    scores = site_scores(per_base, row, start, end, plan.score)
    # ISM deltas are most negative where a base matters: rank by importance.
    importance = -scores if plan.method == "ism" else scores
    names = sites["tf_name"].astype(str).to_numpy()[keep]
    return ScoredSites(ids, motif, names, importance, region, start, end, values.shape[1])


def _enrichment(
    adata: AnnData, plan: _Enrichment, sites: pd.DataFrame, min_sites: int, sites_key: str
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """The per-motif table of one model, the record of how it was made and the site scores
    it tested."""
    from scipy.stats import false_discovery_control

    scored = scored_sites(adata, plan, sites)
    ids, motif = scored.ids, scored.motif
    counts = np.bincount(motif, minlength=len(ids.categories))
    tested = np.flatnonzero(counts >= min_sites)
    flat_start, flat_end = scored.flat
    result = ks_enrichment(
        scored.importance, motif, flat_start=flat_start, flat_end=flat_end, tested=tested
    ).dropna()
    names = pd.Series(scored.names).groupby(motif).first()
    table = pd.DataFrame(
        {
            "tf_name": names.reindex(result.index).to_numpy(),
            "n_sites": result["n_sites"].to_numpy(np.int64),
            "ks_d": result["ks_d"].to_numpy(np.float64),
            "pvalue": result["pvalue"].to_numpy(np.float64),
            "fdr": false_discovery_control(result["pvalue"]) if len(result) else [],
        },
        index=pd.Index(ids.categories[result.index].astype(str), name="motif_id"),
    ).sort_values("ks_d", ascending=False, kind="stable")
    table.insert(1, "family", _families(adata, table, sites_key))
    skipped = sorted(set(ids.categories.astype(str)) - set(table.index))
    used = adata.n_vars if plan.positive is None else int(plan.positive.sum())
    unattributed = used - int(plan.regions.sum())
    if unattributed:
        which = "regions" if plan.positive is None else "regions predicted positive"
        logger.warning(
            f"motif_enrichment: {int(plan.regions.sum())} of the {used} {which} have "
            f"attributions of {plan.key!r} for {plan.cell_type!r} "
            f"(adata.varm[{plan.attributions!r}] is NaN in the others); only those are tested, "
            f"named in uns[{RESULTS['motif_enrichment'].record_name(plan.name)!r}]"
            "['regions_tested']"
        )
    params = {
        **record_params("motif_enrichment", key_added=plan.name),
        "key": plan.key,
        "cell_type": plan.cell_type,
        "method": plan.method,
        "score": plan.score,
        "min_sites": min_sites,
        "positive_only": plan.positive is not None,
        "n_regions": int(plan.regions.sum()),
        "n_regions_unattributed": unattributed,
        "regions_tested": adata.var_names[plan.regions].astype(str).tolist(),
        "n_sites": int(len(scored.importance)),
        "skipped": skipped,
    }
    return table, params, scored.table(adata.var_names)


def _families(adata: AnnData, table: pd.DataFrame, sites_key: str) -> list[str]:
    """Each tested motif's family (``motif_families``, in the table's order).

    The matrices are re-read from the JASPAR collection ``scan_motifs``
    recorded; a site table from elsewhere gives each motif its TF's name.
    """
    params = adata.uns.get(RESULTS["motif_sites"].record_name(sites_key), {})
    try:
        found = read_jaspar(
            params["release"], params["collection"], params["tax_group"], motifs=list(table.index)
        )
    except (KeyError, TypeError, ValueError):
        return table["tf_name"].astype(str).tolist()
    by_id = {m["matrix_id"]: m["frequencies"] for m in found}
    frequencies = [by_id[i] for i in table.index]
    return motif_families(frequencies, table["tf_name"].astype(str).tolist(), FAMILY_SIMILARITY)


def _joined(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Two enrichment tables side by side, one row per motif of either."""
    (first, a), (second, b) = tables.items()
    names = a["tf_name"].combine_first(b["tf_name"])
    columns = {"tf_name": names, "family": a["family"].combine_first(b["family"])}
    for field in ("n_sites", "ks_d", "fdr"):
        columns[f"{field}_{first}"] = a[field]
        columns[f"{field}_{second}"] = b[field]
    joined = pd.DataFrame(columns)
    joined.index.name = "motif_id"
    return joined.sort_values(f"ks_d_{first}", ascending=False, kind="stable", na_position="last")


def motif_enrichment(
    adata: AnnData,
    key: str,
    *,
    cell_type: str | None = None,
    min_sites: int = 100,
    score: str | None = None,
    positive_only: bool = True,
    reference: str | None = None,
    attributions: str | None = None,
    sites_key: str = SITES,
) -> pd.DataFrame:
    """Which TFs' binding sites carry a model's attributions (ChromTransfer's test).

    Each site of ``uns['motif_sites']`` in the regions the model predicts
    positive and that have attributions gets one score, the attribution over
    its bases (a base's attribution is the sum over its 4 channels; for ISM
    the mean of its 3 substitution deltas). Per motif with at least ``min_sites`` sites, a
    two-sample Kolmogorov–Smirnov test compares its sites' scores with those
    of every other motif's sites that share no base with its own; ``D`` is
    signed ``+`` when its sites rank as more important on average (higher
    attributions; for ISM, lower deltas). P-values are adjusted over the
    tested motifs (Benjamini–Hochberg).

    Only regions whose attributions are all finite are tested:
    :func:`attribute` run on some regions (``genes=``) leaves the others NaN.
    A warning says how many were left out; none attributed is an error.

    Parameters
    ----------
    adata
        Object with ``uns['motif_sites']`` (:func:`scan_motifs`) and the
        attributions ``varm[f"{key}_attr_{cell_type}"]`` (:func:`attribute`).
    key
        ``uns`` key of the model whose attributions are tested.
    cell_type
        Cell type whose attributions are read; needed only when ``key`` has
        attributions for several.
    min_sites
        Motifs with fewer sites in the regions used are not tested.
    score
        A site's score over its bases: ``"max"``, ``"min"`` or ``"mean"``. By
        default ``"min"`` for ISM deltas (a site that matters loses most when
        mutated) and ``"max"`` otherwise.
    positive_only
        Use only the regions predicted positive (probability > 0.5 in
        ``layers[key]``, :func:`predict`) for ``cell_type``; else every region.
    reference
        Another model's key: test its attributions the same way (its cell type
        is ``cell_type`` when it has attributions for it, else its only one)
        and join the two tables.
    attributions
        The key of the attributions to test (``key_added`` of
        :func:`attribute`); by default ``key``'s only ones (``key`` itself
        for gradient×input).
    sites_key
        The ``uns`` key of the sites (``key_added`` of :func:`scan_motifs`).

    Returns
    -------
    The table (with ``reference``, the joined table). Writes

    ``adata.uns[f"{key}_motifs"]``
        DataFrame indexed by ``motif_id``: ``tf_name``, ``family``,
        ``n_sites``, ``ks_d`` (signed), ``pvalue``, ``fdr``; sorted by
        ``ks_d``, largest first. ``family`` groups paralogs whose matrices
        match the same sites (TP53, TP63 and TP73), named by the best-ranked
        member (matrix similarity ≥ 0.75, in the table's order): read
        the top of the table one family at a time.
    ``adata.uns[f"{key}_motifs_params"]``
        ``function``, ``key``, ``cell_type``, ``method``, ``score``,
        ``min_sites``, ``positive_only``, ``n_regions`` (regions tested),
        ``n_regions_unattributed`` (regions left out for lacking
        attributions: NaN in ``varm``), ``regions_tested`` (the var names of
        the regions tested), ``n_sites`` and ``skipped`` (motifs not tested:
        too few sites, or no other sites).
    ``adata.uns[f"{key}_motif_scores"]``
        DataFrame of every site in the regions tested, as the KS tests compared
        them: ``motif_id`` and ``region`` (categorical), ``start``, ``end``
        (int32) and ``importance`` (float32: the site's score, negated for ISM
        so that higher is more important). :func:`~chromtools.get.motif_site_scores`
        reads one test's two samples from it; :func:`~chromtools.pl.motif_ecdf`
        draws them.
    ``adata.uns[f"{key}_vs_{reference}_motifs"]``
        With ``reference``: per motif ``tf_name``, ``family`` and ``n_sites``, ``ks_d``
        and ``fdr`` of each model (suffixed by its key), with ``..._params``
        alongside; ``uns[f"{reference}_motifs"]`` and its site scores are written too.

    ``/`` in a key becomes ``_`` in these names, as in ``layers``.
    """
    sites = _check_sites(adata, sites_key)
    min_sites = check_int(min_sites, "min_sites", minimum=1)
    length = int(sites["end"].max()) if len(sites) else 0
    plans = [_plan(adata, key, cell_type, score, positive_only, length, attributions)]
    if reference is not None:
        if not isinstance(reference, str) or storage_name(reference) == plans[0].name:
            raise ValueError(
                f"reference must be another model's key than {key!r}, got {reference!r}"
            )
        theirs = find_result(adata, "attribution", reference) or storage_name(reference)
        other = cell_type if _attribution_slot(theirs, str(cell_type)) in adata.varm else None
        plans.append(_plan(adata, reference, other, score, positive_only, length))
    enrichment = RESULTS["motif_enrichment"]
    joined = {"reference": plans[1].name} if reference is not None else {}
    names = check_writable(adata, "motif_enrichment", plans[0].name, **joined)["uns"]
    if reference is not None:
        check_writable(adata, "motif_enrichment", plans[1].name)
    # per model: the table, its params and the site scores tested
    outputs = [enrichment.slots(p.name)["uns"] for p in plans]

    results = [_enrichment(adata, plan, sites, min_sites, sites_key) for plan in plans]
    entries = {}
    for slots, result in zip(outputs, results, strict=True):
        entries.update(zip(slots, result, strict=True))
    if reference is None:
        _write_uns(adata, entries)
        return results[0][0]
    both = _joined({p.name: table for p, (table, _, _) in zip(plans, results, strict=True)})
    joined_table, joined_params = names[2:4]
    entries[joined_table] = both
    entries[joined_params] = {
        **record_params("motif_enrichment", key_added=plans[0].name),
        "keys": [p.key for p in plans],
        "cell_types": [p.cell_type for p in plans],
    }
    _write_uns(adata, entries)
    return both
