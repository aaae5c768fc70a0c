"""Tools: fit, predict and evaluate models; transfer them; interpret them."""

from ._fit import evaluate, fit, predict
from ._model_io import load_model, save_model
from ._transfer import finetune

__all__ = ["evaluate", "finetune", "fit", "load_model", "predict", "save_model"]
