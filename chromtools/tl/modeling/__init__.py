"""Fit, predict, evaluate, pretrain, save and load a model."""

from ._fit import evaluate, fit, fit_view, predict
from ._model_io import load_model, save_model
from ._pretrain import pretrain

__all__ = [
    "evaluate",
    "fit",
    "fit_view",
    "load_model",
    "predict",
    "pretrain",
    "save_model",
]
