"""``denovo_motifs``: the patterns a sequence model's attributions carry, named by JASPAR.

The AnnData wrapper of :mod:`._seqlets`: it reads one cell type's stored
attributions (``ct.tl.attribute``), calls seqlets, clusters them into
patterns and matches each pattern's base frequencies against a JASPAR
collection with memelite's TOMTOM; q-values are Benjamini–Hochberg over every
target of a pattern, and a significant best match is named with its family
(:func:`~chromtools.tl.motifs._families.motif_families`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy.stats import false_discovery_control

from ... import get
from ..._results import (
    check_writable,
    materialised,
    record_params,
)
from ..._utils import check_int, check_number
from ...io._motifs import JASPAR_RELEASE, jaspar_collection, read_jaspar
from ...models import SEQUENCE
from ._families import motif_families
from ._modisco import modisco_patterns
from ._plan import _attributed, stored_attributions
from ._seqlets import FLANK, Pattern, call_seqlets, find_patterns

SIGNIFICANT = 0.05  # a best match with a q-value below this names the pattern's family
N_MATCHES = 5  # matches stored per pattern
MAX_SEQLETS = 2000  # the strongest seqlets clustered at most (every pair is compared)


def _check_model(adata: AnnData, key: object) -> str:
    """``key`` names a fitted sequence model in ``adata.uns``."""
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be the uns key of a fitted sequence model, got {key!r}")
    record = adata.uns.get(key)
    config = record.get("config") if isinstance(record, Mapping) else None
    if not isinstance(config, Mapping) or "data" not in config:
        raise ValueError(
            f"denovo_motifs: uns[{key!r}] is not a fitted model; fit one with "
            f"ct.tl.fit(adata, 'chromtransfer', key_added={key!r})"
        )
    kind = config["data"].get("input", "histone")
    if kind != SEQUENCE:
        raise ValueError(
            f"denovo_motifs: uns[{key!r}] is a {kind} model; de novo motifs are found in a "
            "sequence model's attributions over DNA (e.g. ct.tl.fit(adata, 'chromtransfer'))"
        )
    return key


FINDERS = ("chromtools", "modisco")
# The arguments only the built-in finder reads, at their defaults.
BUILT_IN_ONLY = {"width": 15, "fdr": 0.05, "min_similarity": 0.6}


def _check_finder(finder: object, **arguments: object) -> None:
    """``finder`` is known, and arguments it ignores are left at their defaults."""
    if finder not in FINDERS:
        raise ValueError(f"denovo_motifs: finder must be one of {FINDERS}, got {finder!r}")
    changed = [f"{k}={v!r}" for k, v in arguments.items() if v != BUILT_IN_ONLY[k]]
    if finder == "modisco" and changed:
        raise ValueError(
            f"denovo_motifs: {', '.join(changed)} set the built-in finder, and finder='modisco' "
            "uses modisco-lite's own seqlet windows, FDR and clustering; leave them out, or use "
            "finder='chromtools'"
        )


def _contributions(values: np.ndarray, onehot: np.ndarray, method: str) -> np.ndarray:
    """Each observed base's contribution (regions, length, 4; zero at the other letters).

    ISM stores the change of each substitution (0 at the observed base); the
    observed base's contribution is then minus their mean.
    """
    if method == "ism":
        return onehot * (-values.sum(axis=2, keepdims=True) / 3)
    return values * onehot


class _Matches(NamedTuple):
    """TOMTOM of every pattern (rows) against every JASPAR matrix (columns)."""

    pvalues: np.ndarray
    qvalues: np.ndarray  # Benjamini–Hochberg over a pattern's row
    offsets: np.ndarray  # the pattern position where the match's first column sits
    minus: np.ndarray  # the match aligns reverse-complemented


def _matches(patterns: list[Pattern], jaspar: list[dict]) -> _Matches:
    """TOMTOM p-values, q-values and best alignments of every pattern against every matrix."""
    from memelite import tomtom

    queries = [p.frequencies.T.astype(np.float64) for p in patterns]
    targets = [m["frequencies"].T.astype(np.float64) for m in jaspar]
    pvalues, _, offsets, _, strands = tomtom(queries, targets)[:5]
    pvalues = np.clip(np.nan_to_num(np.asarray(pvalues, np.float64), nan=1.0), 0.0, 1.0)
    # TOMTOM aligns pattern position q with position q + offset of the (oriented) match.
    return _Matches(
        pvalues,
        np.vstack([false_discovery_control(row) for row in pvalues]),
        -np.asarray(offsets, np.int64),
        np.asarray(strands) == 1,
    )


def _family(pvalues: np.ndarray, qvalues: np.ndarray, jaspar: list[dict]) -> tuple[str, str]:
    """The family of a pattern's best match and its members among the significant matches."""
    order = np.argsort(pvalues, kind="stable")
    significant = [int(i) for i in order if qvalues[i] < SIGNIFICANT]
    if not significant:
        return "", ""
    names = [jaspar[i]["name"] for i in significant]
    family = motif_families([jaspar[i]["frequencies"] for i in significant], names)
    members = dict.fromkeys(n for n, f in zip(names, family, strict=True) if f == family[0])
    return family[0], ",".join(members)


def _tables(adata, patterns, region, found: _Matches, jaspar) -> dict[str, object]:
    """The summary, match and seqlet tables and the per-pattern arrays."""
    names = [f"pattern_{i}" for i in range(len(patterns))]
    pvalues, qvalues = found.pvalues, found.qvalues
    strand = np.where(found.minus, "-", "+")
    rows, matches, seqlets = [], [], []
    for i, (name, pattern) in enumerate(zip(names, patterns, strict=True)):
        best = int(np.argmin(pvalues[i])) if len(jaspar) else -1
        family, members = _family(pvalues[i], qvalues[i], jaspar)
        rows.append({"pattern": name, "n_seqlets": len(pattern.members),
                     "n_regions": len(np.unique(region[pattern.members])),
                     "length": len(pattern.frequencies),
                     "best_match": jaspar[best]["matrix_id"], "best_match_tf": jaspar[best]["name"],
                     "pvalue": float(pvalues[i, best]), "qvalue": float(qvalues[i, best]),
                     "family": family, "family_members": members,
                     "match_offset": int(found.offsets[i, best]),
                     "match_strand": strand[i, best]})  # fmt: skip
        for rank, j in enumerate(np.argsort(pvalues[i], kind="stable")[:N_MATCHES]):
            matches.append((name, rank, jaspar[j]["matrix_id"], jaspar[j]["name"],
                            float(pvalues[i, j]), float(qvalues[i, j]),
                            int(found.offsets[i, j]), strand[i, j]))  # fmt: skip
        seqlets.append(pd.DataFrame({
            "pattern": name, "region": adata.var_names[region[pattern.members]].astype(str),
            "start": pattern.start, "end": pattern.start + len(pattern.frequencies),
            "strand": np.where(pattern.minus, "-", "+")}))  # fmt: skip
    columns = ["pattern", "rank", "matrix_id", "tf_name", "pvalue", "qvalue", "offset", "strand"]
    seqlet_table = pd.concat(seqlets, ignore_index=True) if seqlets else pd.DataFrame(
        {c: [] for c in ("pattern", "region", "start", "end", "strand")})  # fmt: skip
    for column in ("pattern", "region", "strand"):
        seqlet_table[column] = seqlet_table[column].astype(str).astype("category")
    summary = pd.DataFrame(rows, columns=["pattern", "n_seqlets", "n_regions", "length",
                                          "best_match", "best_match_tf", "pvalue", "qvalue",
                                          "family", "family_members", "match_offset",
                                          "match_strand"])  # fmt: skip
    by_id = {m["matrix_id"]: m["frequencies"] for m in jaspar}
    return {
        "patterns": summary,
        "matches": pd.DataFrame(matches, columns=columns),
        "seqlets": seqlet_table.astype({"start": np.int64, "end": np.int64}),
        "pwms": {n: p.frequencies.astype(np.float32) for n, p in zip(names, patterns, strict=True)},
        "contributions": {
            n: p.contributions.astype(np.float32) for n, p in zip(names, patterns, strict=True)
        },
        "match_pwms": {
            n: by_id[m].astype(np.float32)
            for n, m in zip(names, summary["best_match"], strict=True)
        },
    }


def denovo_motifs(
    adata: AnnData,
    key: str,
    *,
    cell_type: str | None = None,
    width: int = 15,
    fdr: float = 0.05,
    min_similarity: float = 0.6,
    min_seqlets: int = 20,
    finder: str = "chromtools",
    release: str = JASPAR_RELEASE,
    collection: str = "CORE",
    tax_group: str = "vertebrates",
    key_added: str = "denovo_motifs",
) -> None:
    """Motifs found de novo in a sequence model's attributions, matched against JASPAR.

    Seqlets (windows of ``width`` bases, plus 5 on each side, whose summed
    contribution is high) are called in the stored attributions of one cell
    type; the threshold is the least window sum whose false discovery rate,
    estimated from the windows as far below zero, is at most ``fdr``. The
    seqlets are compared at every offset up to 5 bases on both strands,
    clustered (average linkage of the best cosine of their contribution
    matrices) into patterns aligned to their most central seqlet, alike
    patterns merged and small ones dropped. At most the 2000 strongest seqlets
    are clustered (every pair is compared). Each pattern's base frequencies
    are matched against every matrix of a JASPAR collection with TOMTOM
    (memelite); q-values are Benjamini–Hochberg over those matrices.

    Parameters
    ----------
    adata
        Object with one-hot DNA (``varm['onehot']``) and the attributions of
        ``ct.tl.attribute`` for the model ``key``.
    key
        The ``uns`` key of a fitted sequence model (ChromTransfer).
    cell_type
        The cell type whose attributions are read; the only one attributed by default.
    width
        Bases of a seqlet's core.
    fdr
        Estimated false discovery rate of the seqlets.
    min_similarity
        Least similarity (cosine of aligned contribution matrices, 0–1) at
        which seqlets cluster and patterns merge.
    min_seqlets
        Patterns with fewer seqlets are dropped.
    finder
        ``"chromtools"`` (the built-in finder above) or ``"modisco"``: TF-MoDISco
        as modisco-lite implements it, at its own defaults (21-base windows,
        10-base flanks, seqlet FDR 0.2, Leiden clustering); ``min_seqlets``
        applies to it, ``width``, ``fdr`` and ``min_similarity`` do not. Its
        patterns are matched, stored and drawn the same way.
    release, collection, tax_group
        The JASPAR matrices matched (see :func:`~chromtools.tl.scan_motifs`).
    key_added
        Where the results go: ``uns[key_added]``; a rerun replaces its own result only.

    Returns
    -------
    ``None``. Writes ``adata.uns[key_added]`` with

    ``patterns``
        DataFrame, one row per pattern, most seqlets first: ``pattern``,
        ``n_seqlets``, ``n_regions``, ``length``, ``best_match`` (JASPAR
        matrix id) and ``best_match_tf``, its TOMTOM ``pvalue`` and ``qvalue``,
        ``family`` (named by the best match; empty without a match at q <
        0.05), ``family_members`` (the significant matches of that family,
        comma-separated), and TOMTOM's alignment of the best match:
        ``match_strand`` (``-``: the match reverse-complemented) and
        ``match_offset`` (the pattern position of the match's first column
        on that strand; negative where the match starts before the pattern).
    ``matches``
        DataFrame of each pattern's 5 best JASPAR matches: ``pattern``,
        ``rank``, ``matrix_id``, ``tf_name``, ``pvalue``, ``qvalue``,
        ``offset`` and ``strand`` (as ``match_offset``, ``match_strand``).
    ``seqlets``
        DataFrame: ``pattern``, ``region`` (var name), ``start``, ``end``
        (0-based, end exclusive; may pass a region's ends where the pattern
        does) and ``strand`` of each seqlet, aligned and trimmed as its pattern.
    ``pwms``, ``contributions``, ``match_pwms``
        Per pattern: its base frequencies and mean contribution (length × 4,
        A, C, G, T) and its best match's frequencies, as JASPAR has them
        (``ct.pl.denovo_motifs`` draws them aligned).
    ``params``
        ``function``, the arguments, ``attributions`` (their key),
        ``method`` and ``n_seqlets`` (in patterns, with ``finder='modisco'``);
        with the built-in finder also ``width``, ``fdr``, ``min_similarity``,
        ``flank`` and ``threshold`` (of the window sums).
    """
    key = _check_model(adata, key)
    name, cell_type, slot, method = stored_attributions(adata, key, cell_type, what="denovo_motifs")
    width = check_int(width, "width", minimum=1)
    fdr = check_number(fdr, "fdr", minimum=0, maximum=1, strict_minimum=True)
    min_similarity = check_number(min_similarity, "min_similarity", minimum=0, maximum=1)
    min_seqlets = check_int(min_seqlets, "min_seqlets", minimum=1)
    _check_finder(finder, width=width, fdr=fdr, min_similarity=min_similarity)
    (uns_key,) = check_writable(adata, "denovo_motifs", key_added)["uns"]
    release, collection, tax_group = jaspar_collection(release, collection, tax_group)
    jaspar = read_jaspar(release, collection, tax_group)
    method = method or "grad_x_input"

    rows = np.flatnonzero(_attributed(adata.varm[slot]))
    onehot = np.asarray(get.onehot(adata)[rows], np.float32)
    contributions = _contributions(np.asarray(adata.varm[slot][rows], np.float32), onehot, method)
    if finder == "modisco":
        patterns, region = modisco_patterns(contributions, onehot, min_seqlets=min_seqlets,
                                            max_seqlets=MAX_SEQLETS)  # fmt: skip
        called = {}  # modisco-lite calls its seqlets with its own windows and threshold
    else:
        scores = contributions.sum(axis=2)
        region, start, _, threshold = call_seqlets(scores, width, fdr, MAX_SEQLETS)
        patterns = find_patterns(contributions, onehot, region, start, width=width,
                                 min_similarity=min_similarity,
                                 min_seqlets=min_seqlets)  # fmt: skip
        called = {"width": width, "fdr": fdr, "min_similarity": min_similarity, "flank": FLANK,
                  "threshold": float(threshold)}  # fmt: skip
    if patterns:
        found = _matches(patterns, jaspar)
    else:
        none = np.zeros((0, len(jaspar)))
        found = _Matches(none, none, none.astype(np.int64), none.astype(bool))
    tables = _tables(adata, patterns, rows[region], found, jaspar)
    params = record_params("denovo_motifs", key_added=key_added, model=key, cell_type=cell_type,
                           finder=finder, min_seqlets=min_seqlets,
                           release=release, collection=collection,
                           tax_group=tax_group)  # fmt: skip
    params.update(attributions=name, method=method, n_seqlets=len(region), **called)
    materialised(adata)
    adata.uns[uns_key] = {"params": params, **tables}
