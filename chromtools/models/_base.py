"""What every chromtools model shares: a JSON-able config, an encoder/head split, and the
declarations ``ct.tl`` reads instead of asking which model it holds."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

#: What a model's ``forward`` reads (its ``input_kind``): binned histone signal
#: (batch, marks, bins); the signal of two cell types, A then B (batch, 2, marks, bins);
#: one-hot DNA (batch, length, 4). Stored models record theirs as ``config['data']['input']``.
HISTONE = "histone"
HISTONE_PAIR = "histone_pair"
SEQUENCE = "sequence"
INPUT_KINDS = (HISTONE, HISTONE_PAIR, SEQUENCE)

#: How a model is explained unless it declares otherwise, by input kind: the methods of
#: ``ct.tl.attribute`` (gradients work on any input; ISM substitutes DNA bases) and what
#: ``ct.tl.in_silico_deletion`` deletes (marks or TSS-relative bins of the signal; TF
#: binding sites in DNA). A pair of cell types is explained by its attention only.
INTERPRETATION: dict[str, dict[str, tuple[str, ...]]] = {
    HISTONE: {
        "attribution_methods": ("grad_x_input", "integrated_gradients", "deeplift_shap"),
        "deletion_targets": ("marks", "bins"),
    },
    SEQUENCE: {
        "attribution_methods": ("grad_x_input", "integrated_gradients", "deeplift_shap", "ism"),
        "deletion_targets": ("motifs",),
    },
    HISTONE_PAIR: {"attribution_methods": (), "deletion_targets": ()},
}


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

    Everything ``ct.tl`` needs to know about a model is declared here, with
    defaults that suit a histone model with one output: its input
    (:attr:`input_kind`), outputs (:attr:`tasks`, :attr:`prediction_output`),
    attention (:attr:`attention_descriptions`, :meth:`attention_maps`), a
    faster ISM (:meth:`windowed_ism`), training defaults
    (:attr:`training_defaults`, :attr:`min_batch_size`) and how it is
    explained (:attr:`attribution_methods`, :attr:`deletion_targets`, filled
    from :data:`INTERPRETATION` by input kind unless declared). A new
    histone model declares its ``name``, builds ``encoder`` and ``head`` and
    is registered (:func:`chromtools.models.register`); :meth:`encode`,
    ``forward`` and :meth:`reset_head` work when the encoder takes the input
    and the head ends in an ``nn.Linear``.

    Parameters
    ----------
    arguments
        The subclass constructor's ``locals()``: its architecture options,
        recorded as the config (``self`` and ``__class__`` are dropped).
    """

    name: ClassVar[str]
    #: What ``forward`` reads: :data:`HISTONE` (batch, marks, bins),
    #: :data:`HISTONE_PAIR` (two such tensors, or (batch, 2, marks, bins)) or
    #: :data:`SEQUENCE` (batch, length, 4).
    input_kind: ClassVar[str] = HISTONE
    #: What it learns: ``"classification"`` (logits of high expression) and/or
    #: ``"regression"`` (expression).
    tasks: ClassVar[tuple[str, ...]] = ("classification", "regression")
    #: Names of the attention maps ``forward(x, return_attention=True)`` adds after the logits.
    attention_outputs: ClassVar[tuple[str, ...]] = ()
    #: The maps :meth:`attention_maps` returns (``alpha``, optionally ``beta``), each
    #: with what it holds in words; empty for a model without attention.
    attention_descriptions: ClassVar[dict[str, str]] = {}
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
    #: Fewest samples a training batch may hold (2 for models that train BatchNorm).
    min_batch_size: ClassVar[int] = 1
    #: Methods of ``ct.tl.attribute`` that explain it; None: those of its input kind.
    attribution_methods: ClassVar[tuple[str, ...] | None] = None
    #: What ``ct.tl.in_silico_deletion`` may delete (``"marks"``, ``"bins"``,
    #: ``"motifs"``); None: that of its input kind.
    deletion_targets: ClassVar[tuple[str, ...] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.input_kind not in INPUT_KINDS:
            raise ValueError(
                f"{cls.__name__}.input_kind is {cls.input_kind!r}; it must be one of "
                f"{list(INPUT_KINDS)}"
            )
        for declaration, default in INTERPRETATION[cls.input_kind].items():
            if getattr(cls, declaration) is None:
                setattr(cls, declaration, default)

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
        """The representation the head reads (used for transfer and embeddings).

        The encoder's output, unless a subclass says otherwise.
        """
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, n_outputs): the head on :meth:`encode`, unless a subclass says otherwise.

        Parameters
        ----------
        x
            A batch of the model's input (see :attr:`input_kind`).

        Returns
        -------
        Logits (batch, n_outputs).
        """
        return self.head(self.encode(x))

    def reset_head(self, n_outputs: int) -> None:
        """Attach a freshly initialised head with ``n_outputs`` outputs.

        Every layer of the head is initialised again and its last
        ``nn.Linear`` gets ``n_outputs`` outputs; a subclass whose head does
        not end in one defines its own.

        Parameters
        ----------
        n_outputs
            Outputs of the new head.
        """
        head = self.head
        last = head[-1] if isinstance(head, nn.Sequential) and len(head) else head
        if not isinstance(last, nn.Linear):
            raise NotImplementedError(
                f"{type(self).__name__} must define reset_head: its head does not end in an "
                "nn.Linear, so a new one cannot be attached generically"
            )
        for module in head.modules():
            if module is not last and hasattr(module, "reset_parameters"):
                module.reset_parameters()
        new = nn.Linear(last.in_features, n_outputs, bias=last.bias is not None)
        new = new.to(last.weight.device)
        if head is last:
            self.head = new
        else:
            head[-1] = new
        if "n_outputs" in self._hyperparameters:
            self._update_config(n_outputs=n_outputs)

    def _attach_head(self, head: nn.Module) -> None:
        """Make ``head`` the head, on the device of the head it replaces."""
        self.head = head.to(next(self.head.parameters()).device)

    def _reset_head_with_hidden(
        self,
        make_head: Callable[[list[int]], nn.Module],
        n_outputs: int,
        hidden: Sequence[int] | None,
    ) -> None:
        """Attach ``make_head(hidden)``, a head of ``n_outputs`` outputs through these hidden
        sizes (the config's by default), and record both in the config."""
        hidden = list(hidden) if hidden is not None else list(self._hyperparameters["hidden"])
        self._attach_head(make_head(hidden))
        self._update_config(n_outputs=n_outputs, hidden=hidden)

    def attention_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The model's attention on ``x``, aligned with the input.

        Models with attention (:attr:`attention_descriptions`) return
        ``alpha``, of the shape of ``x`` ((batch, marks, bins), or (batch, 2,
        marks, bins) for a pair of cell types), and may return ``beta``, of
        that shape without the bins. Others return an empty dict.

        Parameters
        ----------
        x
            A batch of the model's input.

        Returns
        -------
        ``{name: map}`` as named in :attr:`attention_descriptions`.
        """
        return {}

    def check_attention(self) -> None:
        """Refuse (``ValueError``) to explain this model by its attention where it has none."""
        if not self.attention_descriptions:
            raise ValueError(f"attention: {self.name} has no attention")

    def windowed_ism_from(self) -> float | None:
        """Sequence length beyond which :meth:`windowed_ism` is faster than full forward passes.

        Returns
        -------
        None: the model has no windowed ISM (the default).
        """
        return None

    def windowed_ism(
        self, x: torch.Tensor, *, batch_size: int, output: int | None = None
    ) -> torch.Tensor:
        """ISM recomputing only each mutant's window; models with :meth:`windowed_ism_from`.

        Parameters
        ----------
        x
            (batch, length, 4) checked float one-hot sequences.
        batch_size
            Mutants per pass.
        output
            Output column scored; the first by default.

        Returns
        -------
        (batch, length, 4) change of the output per substitution, as
        ``chromtools.tl.interpret._ism.ism`` returns it.
        """
        raise NotImplementedError(f"{type(self).__name__} has no windowed ISM")

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
