"""The models: plain ``torch.nn.Module`` s and scikit-learn baselines, behind one registry.

A model is found by name (``get_model``) and built from a JSON-able config
(``build``); every PyTorch model's ``config`` property returns that config,
so ``build(**model.config)`` followed by ``load_state_dict`` restores it. A
new architecture is one module here plus one entry in ``MODELS``.

===================  ==========================================  ==================
name                 class                                       input
===================  ==========================================  ==================
``deepchrome``       :class:`DeepChrome`                         histone
``attentivechrome``  :class:`AttentiveChrome`                    histone
``transferchrome``   :class:`TransferChrome`                     histone
``deepdiff``         :class:`DeepDiff`                           histone pair
``chromtransfer``    :class:`ChromTransfer`                      one-hot sequence
``logreg``           :class:`LogisticRegressionBaseline`         histone (sklearn)
``rf``               :class:`RandomForestBaseline`               histone (sklearn)
``svr``              :class:`BestBinSVR`                         histone (sklearn)
``svr2``             :class:`TwoLayerSVR`                        histone (sklearn)
===================  ==========================================  ==================
"""

from __future__ import annotations

import inspect
from typing import Any

from ._base import ChromModel
from .attentivechrome import AttentiveChrome
from .baselines import BestBinSVR, LogisticRegressionBaseline, RandomForestBaseline, TwoLayerSVR
from .chromtransfer import ChromTransfer
from .deepchrome import DeepChrome
from .deepdiff import DeepDiff, contrastive_loss
from .transferchrome import TransferChrome

MODELS: dict[str, type] = {
    model.name: model
    for model in (
        DeepChrome,
        AttentiveChrome,
        TransferChrome,
        DeepDiff,
        ChromTransfer,
        LogisticRegressionBaseline,
        RandomForestBaseline,
        BestBinSVR,
        TwoLayerSVR,
    )
}


def get_model(name: str) -> type:
    """The class registered under ``name``.

    Parameters
    ----------
    name
        Registered model name, e.g. ``"attentivechrome"``.

    Returns
    -------
    The model class. Its ``is_sklearn`` attribute says whether it is a
    scikit-learn estimator (fit directly) or a PyTorch module (trained by the
    engine); ``input_kind`` says what it reads.
    """
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {sorted(MODELS)}")
    return MODELS[name]


def build(name: str, **hyperparameters: Any) -> Any:
    """Construct the model ``name`` from its config.

    Parameters
    ----------
    name
        Registered model name.
    **hyperparameters
        Constructor arguments, e.g. ``n_marks=5, n_bins=100, n_outputs=1``
        for the histone models, or the ``config`` of a built model without
        its ``name``.

    Returns
    -------
    A new, randomly initialised model (a ``torch.nn.Module``, or an unfitted
    scikit-learn estimator).
    """
    model = get_model(name)
    parameters = inspect.signature(model.__init__).parameters
    accepted = [p for p in parameters if p != "self"]
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise ValueError(f"model {name!r} does not take {unknown}; it takes {accepted}")
    missing = [
        p
        for p, spec in parameters.items()
        if p != "self" and spec.default is inspect.Parameter.empty and p not in hyperparameters
    ]
    if missing:
        raise ValueError(f"model {name!r} needs {missing}")
    return model(**hyperparameters)


__all__ = [
    "MODELS",
    "AttentiveChrome",
    "BestBinSVR",
    "ChromModel",
    "ChromTransfer",
    "DeepChrome",
    "DeepDiff",
    "LogisticRegressionBaseline",
    "RandomForestBaseline",
    "TransferChrome",
    "TwoLayerSVR",
    "build",
    "contrastive_loss",
    "get_model",
]
