"""Tools: fit, predict and evaluate models; transfer them; interpret them."""

from ._differential import differential
from .engine import DistributionWarning, NormalizationWarning, TrainingConfig
from .engine import bootstrap_interval as bootstrap_interval  # for ct.pl.metrics
from .interpret import (
    attention,
    attention_agreement,
    attribute,
    in_silico_deletion,
    variant_effects,
)
from .modeling import evaluate, fit, load_model, predict, pretrain, save_model
from .motifs import denovo_motifs, motif_enrichment, scan_motifs
from .transfer import LeakageWarning, finetune, subsample_curve, transfer_matrix

__all__ = [
    "LeakageWarning",
    "DistributionWarning",
    "NormalizationWarning",
    "TrainingConfig",
    "attention",
    "attention_agreement",
    "attribute",
    "denovo_motifs",
    "differential",
    "evaluate",
    "finetune",
    "fit",
    "in_silico_deletion",
    "load_model",
    "motif_enrichment",
    "predict",
    "pretrain",
    "save_model",
    "scan_motifs",
    "subsample_curve",
    "transfer_matrix",
    "variant_effects",
]
