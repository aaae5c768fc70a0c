"""Transcription-factor motifs: scanning with exact p-values, enrichment and motif families."""

from ._motifs import ks_enrichment, motif_enrichment, scan_motifs

__all__ = [
    "ks_enrichment",
    "motif_enrichment",
    "scan_motifs",
]
