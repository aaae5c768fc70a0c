"""What every chromtools model shares: a JSON-able config and an encoder/head split."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn


def jsonable(value: Any) -> Any:
    """Plain JSON types (tuples become lists) so a config survives ``json.dumps`` unchanged."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


class ChromModel(nn.Module):
    """Base class of the PyTorch models: config, encoder/head split, transfer helpers.

    A subclass's ``__init__`` starts with ``super().__init__(locals())``, which
    records its arguments; :attr:`config` returns them with the registry
    name, so that ``chromtools.models.build(**model.config)`` rebuilds the
    same architecture (the weights come from ``load_state_dict``).
    Subclasses define two submodules, ``encoder`` and ``head``, that together
    hold every parameter, and :meth:`encode`.

    Parameters
    ----------
    arguments
        The subclass constructor's ``locals()``: its architecture options,
        recorded as the config (``self`` and ``__class__`` are dropped).
    """

    name: ClassVar[str]
    #: What ``forward`` reads: ``"histone"`` (batch, marks, bins), ``"histone_pair"``
    #: (two such tensors, or (batch, 2, marks, bins)) or ``"sequence"`` (batch, length, 4).
    input_kind: ClassVar[str] = "histone"
    #: Names of the attention maps ``forward(x, return_attention=True)`` adds after the logits.
    attention_outputs: ClassVar[tuple[str, ...]] = ()
    is_sklearn: ClassVar[bool] = False
    #: For models whose ``forward`` returns a dict: the entry that is the prediction.
    prediction_output: ClassVar[str | None] = None
    #: What ``ct.tl.TrainingConfig`` fills in when a field is None: the papers'
    #: settings where they fit a CPU, else noted on the subclass.
    training_defaults: ClassVar[dict[str, Any]] = {
        "epochs": 30,
        "batch_size": 128,
        "lr": 1e-3,
        "weight_decay": 0.0,
    }

    encoder: nn.Module
    head: nn.Module

    def __init__(self, arguments: dict[str, Any]) -> None:
        super().__init__()
        self._hyperparameters = jsonable(
            {k: v for k, v in arguments.items() if k not in ("self", "__class__")}
        )
        self._batchnorm_frozen = False

    @property
    def config(self) -> dict[str, Any]:
        """The JSON-able architecture: ``build(**config)`` makes the same model."""
        return {"name": self.name, **copy.deepcopy(self._hyperparameters)}

    def _update_config(self, **changes: Any) -> None:
        self._hyperparameters.update(jsonable(changes))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The representation the head reads (used for transfer and embeddings)."""
        raise NotImplementedError

    def reset_head(self, n_outputs: int) -> None:
        """Attach a freshly initialised head with ``n_outputs`` outputs."""
        raise NotImplementedError

    def for_inference(self) -> nn.Module:
        """The fastest exact stand-in of this model in eval mode, for predictions and gradients.

        The model itself, unless a subclass has a faster equivalent
        (ChromTransfer: :meth:`~chromtools.models.ChromTransfer.fused`). Its
        weights are a snapshot: make it again after training.
        """
        return self

    def encoder_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the encoder (frozen or slowed down when transferring)."""
        return self.encoder.parameters()

    def head_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the head (always trained when transferring)."""
        return self.head.parameters()

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Stop (or restart) gradient updates of the encoder's parameters.

        Parameters
        ----------
        frozen
            ``True`` sets ``requires_grad=False`` on every encoder parameter.
        """
        for parameter in self.encoder_parameters():
            parameter.requires_grad_(not frozen)

    def freeze_batchnorm(self, frozen: bool = True) -> None:
        """Keep the encoder's BatchNorm layers in eval mode, even under ``model.train()``.

        Their running statistics then stay those of the source data, as
        ChromTransfer fine-tunes; their affine weights still train unless the
        encoder is frozen too. BatchNorm layers of the head (a new head
        included) keep following ``train()``/``eval()``.

        Parameters
        ----------
        frozen
            ``False`` lets BatchNorm follow ``train()``/``eval()`` again.
        """
        self._batchnorm_frozen = frozen
        self.train(self.training)

    def train(self, mode: bool = True) -> ChromModel:
        """``nn.Module.train``, except that frozen BatchNorm layers stay in eval mode."""
        super().train(mode)
        if self._batchnorm_frozen:
            for module in self.encoder.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self


def check_histone_input(x: torch.Tensor, n_marks: int, n_bins: int, model: str) -> None:
    """Refuse input whose shape is not (batch, n_marks, n_bins), naming both shapes."""
    if x.ndim != 3 or x.shape[1] != n_marks or x.shape[2] != n_bins:
        raise ValueError(
            f"{model} was built for input of shape (batch, {n_marks} marks, {n_bins} bins), "
            f"got {tuple(x.shape)}"
        )
