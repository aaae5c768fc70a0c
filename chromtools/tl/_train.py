"""The one training loop and the one prediction loop, on CPU or GPU."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import torch
from torch import nn

from .._settings import check_device, logger, settings
from .._utils import check_int, check_number, progress
from ._data import Batches
from ._metrics import score

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
PRECISIONS = ("auto", "bf16", "fp32")


def check_precision(precision: object) -> str:
    """Refuse a precision other than ``"auto"``, ``"bf16"`` or ``"fp32"``."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    return precision


def check_training(
    *,
    epochs: object = None,
    batch_size: object = None,
    lr: object = None,
    weight_decay: object = None,
    patience: object = None,
    device: object = None,
    precision: object = "auto",
    seed: object = None,
) -> dict:
    """Check every training option before any work; the one place they are checked.

    ``None`` means "the model's default" for ``epochs``, ``batch_size``, ``lr``
    and ``weight_decay``, "every epoch" for ``patience``, ``ct.settings.device``
    for ``device`` and ``ct.settings.seed`` for ``seed``. A device that is
    named but absent (``"cuda"`` without a GPU) is refused here too.

    Returns
    -------
    The options, with integers as ``int`` and numbers as ``float``, and
    ``seed`` resolved (``device`` stays a name: resolve it with
    :func:`resolve_device`).
    """
    if patience is not None:
        try:
            patience = check_int(patience, "patience", minimum=1)
        except ValueError as error:
            raise ValueError(f"{error}; pass patience=None to train every epoch") from None
    checked = {
        "epochs": _unless_none(epochs, check_int, "epochs", minimum=1),
        "batch_size": _unless_none(batch_size, check_int, "batch_size", minimum=1),
        "lr": _unless_none(lr, check_number, "lr", minimum=0, strict_minimum=True),
        "weight_decay": _unless_none(weight_decay, check_number, "weight_decay", minimum=0),
        "patience": patience,
        "precision": check_precision(precision),
        "device": _unless_none(device, check_device),
        "seed": settings.seed if seed is None else check_int(seed, "seed", minimum=0),
    }
    resolve_device(checked["device"])
    return checked


def _unless_none(value: object, check: Callable, *args, **kwargs) -> object:
    """``check(value, ...)``, or None for None (the default)."""
    return None if value is None else check(value, *args, **kwargs)


def resolve_device(device: str | None = None) -> torch.device:
    """``"auto"`` (the default, from ``ct.settings.device``) means CUDA when present."""
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


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on GPU when ``precision`` is ``"auto"`` or ``"bf16"``; fp32 otherwise."""
    check_precision(precision)
    if device.type == "cuda" and precision in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def default_loss(task: str) -> LossFunction:
    """Binary cross-entropy on logits for labels, mean squared error for expression."""
    if task == "classification":
        return nn.BCEWithLogitsLoss()
    return nn.MSELoss()


def _output(model: nn.Module, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
    """Model output in float32: one output column squeezed; dicts (DeepDiff) kept whole."""
    out = model(x)
    if isinstance(out, dict):
        return {name: value.float() for name, value in out.items()}
    out = out.float()
    return out.squeeze(-1) if out.ndim == 2 and out.shape[1] == 1 else out


def _prediction(model: nn.Module, out: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
    """What is predicted: the output, or its ``model.prediction_output`` entry for dicts."""
    return out[model.prediction_output] if isinstance(out, dict) else out


def _main_target(target: np.ndarray) -> np.ndarray:
    """The predicted target: the first column of multi-column (e.g. auxiliary) targets."""
    return target[:, 0] if target.ndim == 2 else target


@torch.no_grad()
def predict_batches(
    model: nn.Module,
    batches: Batches,
    *,
    device: torch.device,
    precision: str = "auto",
    task: str = "classification",
) -> np.ndarray:
    """Model output for every sample, in sample order (probabilities for labels)."""
    model.eval()
    result: np.ndarray | None = None
    for x, _, rows in batches:
        with autocast(device, precision):
            out = _prediction(model, _output(model, x.to(device, non_blocking=True)))
        if task == "classification":
            out = torch.sigmoid(out)
        out = out.cpu().numpy()
        if result is None:
            result = np.empty((batches.n_samples, *out.shape[1:]), dtype=np.float32)
        result[rows] = out
    return result if result is not None else np.empty(0, dtype=np.float32)


def train(
    model: nn.Module,
    train_batches: Batches,
    valid_batches: Batches | None,
    *,
    task: str,
    epochs: int,
    lr: float,
    weight_decay: float = 0.0,
    patience: int | None = 10,
    clip: float | None = 1.0,
    device: torch.device,
    precision: str = "auto",
    param_groups: Iterable[dict] | None = None,
    loss_function: LossFunction | None = None,
    description: str = "training",
) -> tuple[pd.DataFrame, int]:
    """Train ``model`` in place and restore the weights of its best validation epoch.

    The optimizer is AdamW (``weight_decay=0`` makes it Adam). After each epoch
    the validation set is scored: AUROC for labels (higher is better), mean
    squared error for expression (lower is better). Training stops after
    ``patience`` epochs without improvement, and the best epoch's weights are
    put back. Gradients are clipped to norm ``clip``.

    Returns
    -------
    The history (one row per epoch: train loss, validation loss and metric)
    and the best epoch (1-based).
    """
    # the one check of training options, again here for direct callers of the loop
    check_training(
        epochs=epochs, lr=lr, weight_decay=weight_decay, patience=patience, precision=precision
    )
    model.to(device)
    loss_function = loss_function or default_loss(task)
    groups = (
        list(param_groups)
        if param_groups is not None
        else [{"params": [p for p in model.parameters() if p.requires_grad]}]
    )
    # The fused kernel updates every parameter in one call (CPU and CUDA alike).
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay, fused=True)
    higher_is_better = task == "classification"
    monitor = "valid_auroc" if higher_is_better else "valid_mse"
    best_value, best_epoch, best_state = -np.inf, 0, None
    history = []
    bar = progress(range(1, epochs + 1), desc=description, unit="epoch", leave=False)
    for epoch in bar:
        model.train()
        total, count = 0.0, 0
        for x, y, _ in train_batches:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            with autocast(device, precision):
                loss = loss_function(_output(model, x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            total += float(loss.detach()) * len(y)
            count += len(y)
        row = {"epoch": epoch, "train_loss": total / max(count, 1)}
        if valid_batches is not None and valid_batches.n_samples:
            predictions = predict_batches(
                model, valid_batches, device=device, precision=precision, task=task
            )
            metrics = score(_main_target(valid_batches.target), predictions, task)
            row["valid_auroc" if higher_is_better else "valid_mse"] = metrics[
                "auroc" if higher_is_better else "mse"
            ]
            if higher_is_better:
                row["valid_auprc"] = metrics["auprc"]
            else:
                row["valid_pearson"] = metrics["pearson"]
        history.append(row)
        value = row.get(monitor, -row["train_loss"])
        value = value if higher_is_better or monitor not in row else -value
        if np.isfinite(value) and value > best_value:
            best_value, best_epoch = value, epoch
            best_state = copy.deepcopy(model.state_dict())
        bar.set_postfix({k: round(v, 4) for k, v in row.items() if k != "epoch"})
        if patience is not None and epoch - best_epoch >= patience:
            logger.info(f"{description}: no improvement for {patience} epochs, stopped at {epoch}")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return pd.DataFrame(history), best_epoch
