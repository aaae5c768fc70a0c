"""Tools: fit, predict and evaluate models; transfer them; interpret them."""

from ._attention import attention, attention_agreement
from ._attribute import attribute
from ._config import TrainingConfig
from ._differential import differential
from ._finetune import finetune
from ._fit import evaluate, fit, predict
from ._metrics import bootstrap_interval as bootstrap_interval  # for ct.pl.metrics
from ._model_io import load_model, save_model
from ._motifs import motif_enrichment, scan_motifs
from ._perturb import in_silico_deletion
from ._pretrain import pretrain
from ._records import NormalizationWarning
from ._subsample_curve import subsample_curve
from ._transfer import LeakageWarning
from ._transfer_matrix import transfer_matrix

__all__ = [
    "LeakageWarning",
    "NormalizationWarning",
    "TrainingConfig",
    "attention",
    "attention_agreement",
    "attribute",
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
]
