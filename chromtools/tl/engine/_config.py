"""How a model is trained: :class:`TrainingConfig`, one object for every ``ct.tl`` function.

``fit``, ``pretrain``, ``finetune``, ``subsample_curve`` and ``differential``
take it as ``training=`` (a :class:`TrainingConfig` or a dict of its fields),
and each field may also be given as a keyword (``epochs=5``), which wins over
``training``. Unset fields (None) take the model's defaults, declared on the
model class (``training_defaults``), and ``ct.settings``' seed and device.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ... import models
from ..._settings import check_device, check_seed, settings
from ..._utils import check_int, check_number
from ...models._base import ChromModel

PRECISIONS = ("auto", "bf16", "fp32")


def check_precision(precision: object) -> str:
    """Refuse a precision other than ``"auto"``, ``"bf16"`` or ``"fp32"``."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    return precision


def _unless_none(value: object, check: Callable, *args, **kwargs) -> object:
    """``check(value, ...)``, or None for None (the default)."""
    return None if value is None else check(value, *args, **kwargs)


def _check_patience(patience: object) -> int | None:
    if patience is None:
        return None
    try:
        return check_int(patience, "patience", minimum=1)
    except ValueError as error:
        raise ValueError(f"{error}; pass patience=None to train every epoch") from None


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """How a model is trained, checked when made.

    Parameters
    ----------
    epochs
        Most epochs to train; the model's default when None.
    batch_size
        Samples (cell type × gene pairs, or regions) per step; the model's
        default when None.
    lr
        Learning rate of AdamW; the model's default when None. In
        :func:`~chromtools.tl.finetune` the head's rate (the encoder's under
        ``"full"``); the source and from-scratch models keep the model's default.
    weight_decay
        AdamW weight decay (0 is Adam); the model's default when None.
    patience
        Stop after this many epochs (at least 1) without a better validation
        score (AUROC for labels, MSE for expression) and keep the best epoch;
        None trains every epoch.
    device
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
        ``"mps"``; ``ct.settings.device`` when None. A named device that is
        absent is refused here.
    precision
        ``"auto"`` (bf16 autocast on GPU, fp32 on CPU), ``"bf16"`` or ``"fp32"``.
    seed
        Seed of weights, batch order and subsamples, from 0 to 2**32 - 1;
        ``ct.settings.seed`` when None. The same seed gives the same metrics
        on the CPU.

    Each model's defaults are ``chromtools.models.get_model(name).training_defaults``.
    What was run, every field resolved, is recorded in ``uns[key]['params']``.
    """

    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    weight_decay: float | None = None
    patience: int | None = 10
    device: str | None = None
    precision: str = "auto"
    seed: int | None = None

    def __post_init__(self) -> None:
        checked = {
            "epochs": _unless_none(self.epochs, check_int, "epochs", minimum=1),
            "batch_size": _unless_none(self.batch_size, check_int, "batch_size", minimum=1),
            "lr": _unless_none(self.lr, check_number, "lr", minimum=0, strict_minimum=True),
            "weight_decay": _unless_none(
                self.weight_decay, check_number, "weight_decay", minimum=0
            ),
            "patience": _check_patience(self.patience),
            "device": _unless_none(self.device, check_device),
            "precision": check_precision(self.precision),
            "seed": _unless_none(self.seed, check_seed),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        resolve_device(self.device)

    def resolved(self, model: str | type | None = None) -> TrainingConfig:
        """This configuration with every None filled: ``model``'s defaults, the settings' seed.

        Parameters
        ----------
        model
            Registered model name or class whose ``training_defaults`` fill
            ``epochs``, ``batch_size``, ``lr`` and ``weight_decay``; the
            defaults of :class:`~chromtools.models.ChromModel` when None.

        Returns
        -------
        A new :class:`TrainingConfig`; ``device`` stays as given (None: the settings').
        A batch size below the model's ``min_batch_size`` (2 for models with
        BatchNorm) is refused.
        """
        defaults = training_defaults(model)
        filled = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        seed = settings.seed if self.seed is None else self.seed
        resolved = dataclasses.replace(self, **filled, seed=seed)
        spec = _model_class(model)
        smallest = getattr(spec, "min_batch_size", 1)
        if resolved.batch_size < smallest:
            raise ValueError(
                f"batch_size={resolved.batch_size}: {spec.name} trains BatchNorm layers, which "
                f"need at least {smallest} samples a batch; use batch_size >= {smallest}"
            )
        return resolved

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, as recorded in ``uns[key]['params']``.

        Returns
        -------
        ``{field: value}`` for every field.
        """
        return dataclasses.asdict(self)


def resolve_device(device: str | None = None) -> torch.device:
    """The :class:`torch.device` a device name asks for, checked against the hardware.

    Parameters
    ----------
    device
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or
        ``"mps"``; by default ``ct.settings.device``.

    Returns
    -------
    The device; a GPU that PyTorch cannot see is refused with ValueError.
    """
    device = check_device(device or settings.device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was asked for, but PyTorch sees no CUDA GPU; "
            "use device='cpu' or 'auto'"
        )
    if device.startswith("cuda") and ":" in device:
        index = int(device.split(":")[1])
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was asked for, but PyTorch sees "
                f"{torch.cuda.device_count()} CUDA GPUs (indices from 0)"
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            "device='mps' was asked for, but PyTorch sees no Apple GPU; use device='cpu' or 'auto'"
        )
    return torch.device(device)


FIELDS = tuple(field.name for field in dataclasses.fields(TrainingConfig))


def _model_class(model: str | type | None) -> type:
    """The registered class of ``model`` (a name or a class); ChromModel for None."""
    if isinstance(model, str):
        return models.get_model(model)
    return ChromModel if model is None else model


def training_defaults(model: str | type | None) -> dict[str, Any]:
    """``epochs``, ``batch_size``, ``lr`` and ``weight_decay`` a model trains with by default."""
    return dict(getattr(_model_class(model), "training_defaults", ChromModel.training_defaults))


def training_config(
    training: TrainingConfig | Mapping[str, Any] | None,
    options: Mapping[str, Any],
    what: str,
    **changes: Any,
) -> TrainingConfig:
    """The :class:`TrainingConfig` of a call: ``training`` with the keyword ``options`` over it.

    ``changes`` are set by the calling function itself (e.g. ``lr=None`` for a
    source model). Unknown keywords are refused, naming the fields there are.
    """
    if training is None:
        given: dict[str, Any] = {}
    elif isinstance(training, TrainingConfig):
        given = training.to_dict()
    elif isinstance(training, Mapping):
        given = dict(training)
    else:
        raise ValueError(
            f"{what}: training must be a ct.tl.TrainingConfig or a dict of its fields "
            f"{list(FIELDS)}, got {training!r}"
        )
    unknown = sorted(set(given) - set(FIELDS)) + sorted(set(options) - set(FIELDS))
    if unknown:
        raise TypeError(
            f"{what} got unexpected options {unknown}; the training options are {list(FIELDS)}"
        )
    return TrainingConfig(**{**given, **options, **changes})
