"""Tools: fit, predict and evaluate models; transfer them; interpret them."""

from ._differential import differential
from ._fit import evaluate, fit, predict
from ._model_io import load_model, save_model
from ._transfer import finetune, pretrain, subsample_curve, transfer_matrix

__all__ = [
    "differential",
    "evaluate",
    "finetune",
    "fit",
    "load_model",
    "predict",
    "pretrain",
    "save_model",
    "subsample_curve",
    "transfer_matrix",
]
