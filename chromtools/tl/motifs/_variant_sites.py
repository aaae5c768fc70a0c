"""The motif side of ``ct.tl.variant_effects``: the binding sites a variant breaks or creates.

Both alleles are scanned around each variant with :func:`~chromtools.tl.motifs._scan.scan`,
the scan of :func:`~chromtools.tl.scan_motifs` (memelite FIMO, exact p-values, both
strands), and the sites found for one allele only are reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._scan import _check_motifs, scan


def site_changes(
    onehot: np.ndarray,
    regions: np.ndarray,
    positions: np.ndarray,
    alt: np.ndarray,
    motifs: list[dict],
    pvalue: float,
) -> pd.DataFrame:
    """The binding sites each variant's alt allele breaks (``lost``) or creates (``gained``).

    Both alleles are scanned over the stretch any motif covering the variant
    can reach (``2 × longest − 1`` bases, all-zero, so never a site, beyond the
    region) with :func:`~chromtools.tl.motifs._scan.scan`, the scan of
    ``scan_motifs``. A site (motif, start, strand) covering the variant found
    for one allele only is lost or gained.

    Returns
    -------
    One row per change: ``index`` (the located variant), ``change``,
    ``motif_id``, ``tf_name``, ``start`` and ``end`` (in the region),
    ``strand``, ``score`` and ``pvalue`` (of the allele that has the site).
    """
    _check_motifs(motifs)
    reach = max(len(m["frequencies"]) for m in motifs) - 1
    n, width = len(positions), onehot.shape[1]
    stretches = np.zeros((2 * n, 2 * reach + 1, 4), dtype=np.uint8)
    for i, (region, position) in enumerate(zip(regions, positions, strict=True)):
        first, stop = max(position - reach, 0), min(position + reach + 1, width)
        into = first - (position - reach)
        stretches[i, into : into + stop - first] = onehot[region, first:stop]
    stretches[n:] = stretches[:n]
    stretches[np.arange(n, 2 * n), reach] = np.eye(4, dtype=np.uint8)[alt]
    sites = scan(stretches, motifs, pvalue)
    sites = sites[(sites["start"] <= reach) & (sites["end"] > reach)]
    sites = sites.assign(
        allele=np.where(sites["region"].to_numpy() < n, "ref", "alt"),
        index=sites["region"].to_numpy() % n,
    )
    keys = ["index", "motif_id", "start", "strand"]
    both = sites.duplicated(subset=keys, keep=False)
    changed = sites[~both].copy()
    changed["change"] = np.where(changed["allele"] == "ref", "lost", "gained")
    shift = positions[changed["index"].to_numpy()] - reach
    changed["start"] = changed["start"].to_numpy() + shift
    changed["end"] = changed["end"].to_numpy() + shift
    columns = ["index", "change", "motif_id", "tf_name", "start", "end", "strand", "score"]
    return changed[[*columns, "pvalue"]].reset_index(drop=True)


def site_names(changes: pd.DataFrame, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per located variant, the TF names of its lost and of its gained sites, joined by ``,``."""
    joined = []
    for change in ("lost", "gained"):
        names = np.full(n, "", dtype=object)
        chosen = changes[changes["change"] == change]
        for index, group in chosen.groupby("index")["tf_name"]:
            names[int(index)] = ",".join(sorted(set(group.astype(str))))
        joined.append(names.astype(str))
    return joined[0], joined[1]
