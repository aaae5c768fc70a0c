"""Plots: draw what ``ct.tl`` stored (metrics, transfer, attention, motifs, tracks)."""

from ._attention import attention, deletion
from ._curves import calibration, pr, roc
from ._denovo import denovo_motifs
from ._metrics import learning_curve, metrics
from ._motifs import motif_ecdf, motif_scatter
from ._tracks import attribution, signal
from ._transfer import finetune, subsample_curve, transfer_heatmap
from ._variants import variant_effect

__all__ = [
    "attention",
    "attribution",
    "calibration",
    "deletion",
    "denovo_motifs",
    "finetune",
    "learning_curve",
    "metrics",
    "motif_ecdf",
    "motif_scatter",
    "pr",
    "roc",
    "signal",
    "subsample_curve",
    "transfer_heatmap",
    "variant_effect",
]
