"""How the training loop optimises a model: :class:`TrainOptions`.

The options of one run of :func:`~._train.train` (epochs, learning rate,
weight decay, patience, gradient clipping, precision, parameter groups and
loss), checked when made by the same rules as
:class:`~._config.TrainingConfig`, the configuration of the ``ct.tl``
functions that :func:`~._train.train_samples` turns into these options.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._config import TrainingConfig

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    """How :func:`~chromtools.functional.train` optimises a model, checked when made.

    Parameters
    ----------
    epochs
        Most epochs to train.
    lr
        Learning rate.
    weight_decay
        AdamW's decoupled weight decay (0 makes it Adam).
    patience
        Epochs without improvement before stopping; None never stops early.
    clip
        Gradient norm to clip to; None or 0 does not clip.
    precision
        ``"auto"`` (bf16 autocast on a GPU), ``"bf16"`` or ``"fp32"``.
    param_groups
        The optimizer's parameter groups (e.g. a lower ``lr`` for an
        encoder); every trainable parameter in one group by default.
    loss_function
        ``loss(output, target)``; by default binary cross-entropy on logits
        for classification, mean squared error for regression.
    """

    epochs: int
    lr: float
    weight_decay: float = 0.0
    patience: int | None = 10
    clip: float | None = 1.0
    precision: str = "auto"
    param_groups: Iterable[dict] | None = None
    loss_function: LossFunction | None = None

    def __post_init__(self) -> None:
        # the one check of training options, again here for direct callers of the loop
        TrainingConfig(
            epochs=self.epochs,
            lr=self.lr,
            weight_decay=self.weight_decay,
            patience=self.patience,
            precision=self.precision,
        )
        if self.param_groups is not None:  # a generator would serve one run only
            object.__setattr__(self, "param_groups", list(self.param_groups))

    @classmethod
    def given(cls, options: TrainOptions | None, fields: Mapping[str, Any]) -> TrainOptions:
        """``options`` with the keyword ``fields`` over it; unknown keywords are refused."""
        unknown = sorted(set(fields) - set(OPTION_FIELDS))
        if unknown:
            raise TypeError(
                f"train got unexpected options {unknown}; the options are {list(OPTION_FIELDS)}"
            )
        if options is None:
            return cls(**fields)
        return dataclasses.replace(options, **fields) if fields else options

    @classmethod
    def of_config(cls, training: TrainingConfig, **more: Any) -> TrainOptions:
        """The options a resolved :class:`~._config.TrainingConfig` sets (``epochs``, ``lr``,
        ``weight_decay``, ``patience``, ``precision``), with ``more`` of them."""
        shared = [name for name in OPTION_FIELDS if hasattr(training, name)]
        return cls(**{name: getattr(training, name) for name in shared}, **more)


OPTION_FIELDS = tuple(field.name for field in dataclasses.fields(TrainOptions))


def default_loss(task: str) -> LossFunction:
    """Binary cross-entropy on logits for labels, mean squared error for expression."""
    if task == "classification":
        return nn.BCEWithLogitsLoss()
    return nn.MSELoss()
