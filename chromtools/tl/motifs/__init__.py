"""Transcription-factor motifs: scanning with exact p-values, enrichment and motif families.

``_pvalues`` (log-odds, exact tail p-values), ``_scan`` (the scan of one-hot
arrays: unknown bases, chunks, site table), ``_scan_motifs`` (``scan_motifs``
on an AnnData), ``_ks`` (site scores, the signed KS test), ``_plan`` (what
``motif_enrichment`` reads, checked), ``_enrichment`` (``motif_enrichment``),
``_families`` (families of similar matrices), ``_seqlets`` (seqlets clustered into
patterns) and ``_denovo`` (``denovo_motifs``).
"""

from ._denovo import SIGNIFICANT as SIGNIFICANT  # for ct.pl.denovo_motifs
from ._denovo import denovo_motifs
from ._enrichment import motif_enrichment
from ._ks import ks_enrichment
from ._scan_motifs import scan_motifs
from ._seqlets import reverse_complement as reverse_complement
from ._variant_sites import site_changes as site_changes  # for ct.tl.variant_effects
from ._variant_sites import site_names as site_names

__all__ = [
    "denovo_motifs",
    "ks_enrichment",
    "motif_enrichment",
    "scan_motifs",
]
