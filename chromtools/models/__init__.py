"""The models: plain ``torch.nn.Module`` s and scikit-learn baselines, behind one registry.

A model is found by name (``get_model``) and built from a JSON-able config
(``build``); every PyTorch model's ``config`` property returns that config,
so ``build(**model.config)`` followed by ``load_state_dict`` restores it. A
new architecture is one module here plus one entry in ``MODELS``
(:func:`register`, also for a model defined elsewhere): ``ct.tl`` reads
only what the class declares (:class:`ChromModel`: input kind, outputs,
attention, windowed ISM, training defaults, how it is explained), never
which class it is. The input kinds are the constants ``HISTONE``,
``HISTONE_PAIR`` and ``SEQUENCE`` of this module.

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

from ._base import HISTONE as HISTONE
from ._base import HISTONE_PAIR as HISTONE_PAIR
from ._base import INPUT_KINDS as INPUT_KINDS
from ._base import SEQUENCE as SEQUENCE
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


def register(model: type) -> type:
    """Add a model class to the registry under its ``name``, so every ``ct.tl`` function finds it.

    Parameters
    ----------
    model
        A :class:`ChromModel` subclass (or a scikit-learn estimator class with
        ``is_sklearn = True``, ``input_kind`` and ``tasks``) with a ``name``
        no other registered model has. Remove it with ``MODELS.pop(name)``.

    Returns
    -------
    ``model``, so that ``register`` also works as a class decorator.
    """
    name = getattr(model, "name", None)
    if not isinstance(model, type) or not isinstance(name, str) or not name:
        raise ValueError(f"register needs a model class with a name (a string), got {model!r}")
    if not (issubclass(model, ChromModel) or getattr(model, "is_sklearn", False)):
        raise ValueError(
            f"register: {model.__name__} is neither a chromtools.models.ChromModel subclass "
            "nor a scikit-learn baseline (is_sklearn = True)"
        )
    if getattr(model, "input_kind", None) not in INPUT_KINDS:
        raise ValueError(
            f"register: {model.__name__}.input_kind must be one of {list(INPUT_KINDS)}, "
            f"got {getattr(model, 'input_kind', None)!r}"
        )
    if MODELS.get(name, model) is not model:
        raise ValueError(
            f"register: the name {name!r} is taken by {MODELS[name].__name__}; name the model "
            "otherwise"
        )
    MODELS[name] = model
    return model


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
    "register",
]
