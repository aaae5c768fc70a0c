"""TF-MoDISco (modisco-lite) as ``denovo_motifs``' other pattern finder.

modisco-lite calls seqlets and clusters them with its own defaults (21-base
windows, 10-base flanks, seqlet FDR 0.2, Leiden clustering of a similarity
graph). Its positive patterns come back here as :class:`._seqlets.Pattern`
(each seqlet's window, strand, and the trimmed mean contribution and base
frequencies), so that JASPAR matching, storage and plots are the same as for
the built-in finder.

Only the contributions of the observed bases are passed (as
``hypothetical_contribs``, zero at the other letters): ``ct.tl.attribute``
stores gradient×input, whose hypothetical scores at unobserved letters are
not kept.
"""

from __future__ import annotations

import numpy as np

from ._seqlets import Pattern, trimmed_pattern

INSTALL = "pip install modisco-lite"


def modisco_patterns(
    contributions: np.ndarray, onehot: np.ndarray, *, min_seqlets: int, max_seqlets: int
) -> tuple[list[Pattern], np.ndarray]:
    """modisco-lite's positive patterns of ``contributions`` (regions, length, 4), most
    seqlets first, and the region of every seqlet (the patterns' ``members`` index it)."""
    try:
        from modiscolite import tfmodisco
    except ImportError as error:  # a declared dependency; a broken install says how to mend it
        raise ImportError(f"finder='modisco' needs modisco-lite: {INSTALL}") from error

    values = np.ascontiguousarray(contributions, np.float32)
    if not np.any(values):  # modisco-lite fails on no signal at all; there is no seqlet
        return [], np.zeros(0, np.int64)
    positive, _ = tfmodisco.TFMoDISco(
        one_hot=np.ascontiguousarray(onehot, np.float32),
        hypothetical_contribs=values,
        max_seqlets_per_metacluster=max_seqlets,
        final_min_cluster_size=min_seqlets,
        verbose=False,
    )
    patterns, regions, offset = [], [], 0
    for found in sorted(positive or [], key=lambda p: len(p.seqlets), reverse=True):
        seqlets = found.seqlets
        region = np.array([s.example_idx for s in seqlets], np.int64)
        first = np.array([s.start for s in seqlets], np.int64)
        flipped = np.array([bool(s.is_revcomp) for s in seqlets])
        length = max(s.end - s.start for s in seqlets)
        members = np.arange(offset, offset + len(seqlets))
        patterns.append(
            trimmed_pattern(members, region, first, flipped, length, contributions, onehot)
        )
        regions.append(region)
        offset += len(seqlets)
    region = np.concatenate(regions) if regions else np.zeros(0, np.int64)
    return patterns, region
