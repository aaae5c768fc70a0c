"""The one training loop and the one prediction loop, on CPU or GPU, in one or many processes.

Under ``torchrun`` (a ``torch.distributed`` process group is initialised),
training is data-parallel: the model is wrapped in
:class:`~torch.nn.parallel.DistributedDataParallel`, every rank reads its own
shard of the training samples, and every rank scores the whole validation
set, so that all ranks take the same early-stopping decisions.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..._settings import logger
from ..._utils import progress
from ._checkpoint import load_checkpoint, run_identity, save_checkpoint
from ._config import TrainingConfig, check_precision, resolve_device
from ._data import Batches, Inputs
from ._metrics import score

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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


def distributed() -> tuple[int, int]:
    """(rank, world size) of this process: (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _data_parallel(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` wrapped for data-parallel training when several ranks train it."""
    if distributed()[1] == 1:
        return model
    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def _summed(*values: float) -> list[float]:
    """``values`` summed over every rank (themselves on one process)."""
    if distributed()[1] == 1:
        return list(values)
    total = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(total)
    return total.tolist()


def inference_network(network: nn.Module) -> nn.Module:
    """The fastest exact stand-in of an eval-mode ``network`` for forward passes and gradients.

    A ChromTransfer becomes its :meth:`~chromtools.models.ChromTransfer.fused`
    copy (BatchNorms folded; about twice as fast on a CPU, equal to float
    rounding); any other module is returned as it is.
    """
    stand_in = getattr(network, "for_inference", None)
    return stand_in() if callable(stand_in) else network


@torch.no_grad()
def predict_batches(
    model: nn.Module,
    batches: Batches,
    *,
    device: torch.device,
    precision: str = "auto",
    task: str = "classification",
) -> np.ndarray:
    """Model output for every sample, in sample order (probabilities for labels).

    Parameters
    ----------
    model
        Any model taking a batch of inputs; it is put in eval mode and run
        through its ``for_inference`` stand-in where it has one.
    batches
        The samples (:class:`~chromtools.functional.Batches`; targets, if
        any, are not read).
    device
        Where to compute; ``model`` must be there already.
    precision
        ``"auto"`` (bf16 autocast on a GPU), ``"bf16"`` or ``"fp32"``.
    task
        ``"classification"`` turns the logits into probabilities (sigmoid);
        ``"regression"`` keeps the output as it is.

    Returns
    -------
    float32 array, one row per sample in sample order.
    """
    model.eval()
    network = inference_network(model)
    batches.pin_memory = device.type == "cuda"
    result: np.ndarray | None = None
    for x, _, rows in batches:
        with autocast(device, precision):
            out = _prediction(model, _output(network, x.to(device, non_blocking=True)))
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
    checkpoint: Path | None = None,
    resume: bool = False,
    identity: Mapping[str, object] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Train ``model`` in place and restore the weights of its best validation epoch.

    The optimizer is AdamW (``weight_decay=0`` makes it Adam). After each epoch
    the validation set is scored: AUROC for labels (higher is better), mean
    squared error for expression (lower is better). Training stops after
    ``patience`` epochs without improvement, and the best epoch's weights are
    put back. Gradients are clipped to norm ``clip``.

    With ``checkpoint`` (a file), everything the next epoch depends on is
    written there, atomically, after every epoch: weights, optimizer state,
    the torch and batch-order random states, the history and the best epoch
    so far. With ``resume`` a run picks up after the last epoch written, and
    ends with the weights and history an uninterrupted run would have. The
    checkpoint carries the run's identity (:func:`~._checkpoint.run_identity`,
    with the caller's ``identity`` entries: the data's marks, bins,
    normalisation, a transfer's source): a checkpoint of any other run, or a
    damaged one, is refused.

    Parameters
    ----------
    model
        Any model taking a batch of inputs; trained in place on ``device``.
    train_batches
        The training samples, with targets (:class:`~chromtools.functional.Batches`).
    valid_batches
        The validation samples, or None: then the epoch of the lowest
        training loss is kept.
    task
        ``"classification"`` (0/1 targets, logits out) or ``"regression"``.
    epochs
        Most epochs to train.
    lr
        Learning rate.
    weight_decay
        AdamW's decoupled weight decay.
    patience
        Epochs without improvement before stopping; None never stops early.
    clip
        Gradient norm to clip to; None or 0 does not clip.
    device
        Where to train.
    precision
        ``"auto"`` (bf16 autocast on a GPU), ``"bf16"`` or ``"fp32"``.
    param_groups
        The optimizer's parameter groups (e.g. a lower ``lr`` for an
        encoder); every trainable parameter in one group by default.
    loss_function
        ``loss(output, target)``; by default binary cross-entropy on logits
        for classification, mean squared error for regression.
    description
        Name of the run on progress bars and in the log.
    checkpoint
        File to write the checkpoint to after every epoch (none by default).
    resume
        Continue from ``checkpoint`` where it exists.
    identity
        More entries of the run's identity, checked on resume.

    Returns
    -------
    The history (one row per epoch: train loss, validation loss and metric)
    and the best epoch (1-based).
    """
    # the one check of training options, again here for direct callers of the loop
    TrainingConfig(
        epochs=epochs, lr=lr, weight_decay=weight_decay, patience=patience, precision=precision
    )
    model.to(device)
    train_batches.pin_memory = device.type == "cuda"
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
    first, finished = 1, False
    rank, world_size = distributed()
    # what the checkpoint belongs to, so that another run's is refused
    run = None if checkpoint is None else run_identity(
        model, (train_batches, valid_batches), description=description,
        training={"epochs": epochs, "batch_size": train_batches.batch_size,
                  "seed": train_batches.seed, "lr": lr, "weight_decay": weight_decay,
                  "patience": patience, "clip": clip, "precision": precision,
                  "world_size": world_size},
        param_groups=groups, loss_function=loss_function, extra=identity,
    )  # fmt: skip
    if checkpoint is not None and resume and checkpoint.exists():
        saved = load_checkpoint(checkpoint, run)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        train_batches.set_rng_state(json.loads(saved["batch_rng"]))
        history, best_value = json.loads(saved["history"]), saved["best_value"]
        best_epoch, best_state = saved["best_epoch"], saved["best_state"]
        finished = saved["finished"]
        first = saved["epoch"] + 1
    trained = _data_parallel(model, device)
    # ranks with fewer batches than others shadow the others' gradient reductions
    joined = trained.join if world_size > 1 else contextlib.nullcontext
    bar = progress(range(first, epochs + 1), desc=description, unit="epoch", leave=False)
    # this rank's share of the batches, for the bar within an epoch
    n_batches = -(-len(train_batches) // world_size)
    for epoch in [] if finished else bar:
        model.train()
        # batch losses stay on the device until the epoch ends: reading each one
        # back would make the host wait for the GPU at every step
        losses, sizes = [], []
        started = time.perf_counter()
        steps = progress(train_batches, desc=f"epoch {epoch}", total=n_batches, unit="batch",
                         leave=False, disable=rank != 0)  # fmt: skip
        with joined():
            for x, y, _ in steps:
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                with autocast(device, precision):
                    loss = loss_function(_output(trained, x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip:
                    nn.utils.clip_grad_norm_(model.parameters(), clip)
                optimizer.step()
                losses.append(loss.detach())
                sizes.append(len(y))
        steps.close()
        values = torch.stack(losses).float().cpu().tolist() if losses else []
        total = sum(value * size for value, size in zip(values, sizes, strict=True))
        count = sum(sizes)
        logger.debug(
            f"{description} epoch {epoch}: {time.perf_counter() - started:.2f} s, "
            f"{train_batches.wait_seconds:.2f} s waiting for data"
        )
        total, count = _summed(total, count)
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
        bar.set_postfix({k: round(v, 4) for k, v in row.items() if k != "epoch"}, refresh=False)
        stop = patience is not None and epoch - best_epoch >= patience
        if checkpoint is not None and rank == 0:
            save_checkpoint(checkpoint, run, {
                "epoch": epoch, "finished": bool(stop or epoch == epochs),
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "batch_rng": json.dumps(train_batches.rng_state()),
                "history": json.dumps(history), "best_value": float(best_value),
                "best_epoch": int(best_epoch), "best_state": best_state,
            })  # fmt: skip
        if stop:
            logger.info(f"{description}: no improvement for {patience} epochs, stopped at {epoch}")
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return pd.DataFrame(history), best_epoch


SampleSet = tuple[np.ndarray, np.ndarray, np.ndarray]


def train_samples(
    network: nn.Module,
    inputs: Inputs,
    train_set: SampleSet,
    valid_set: SampleSet,
    *,
    task: str,
    training: TrainingConfig,
    description: str,
    param_groups: Iterable[dict] | None = None,
    loss_function: LossFunction | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    identity: Mapping[str, object] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Train ``network`` on (cells, genes, targets) samples, early-stopping on the valid ones.

    ``training`` is a resolved :class:`~chromtools.tl.TrainingConfig` (no
    None left but ``patience`` and ``device``): its seed draws the batch order.
    ``checkpoint``, ``resume`` and ``identity`` are those of :func:`train`.
    """
    rank, world_size = distributed()
    train_batches = Batches(
        inputs,
        *train_set,
        batch_size=training.batch_size,
        shuffle=True,
        seed=training.seed,
        rank=rank,
        world_size=world_size,
    )
    valid_batches = Batches(inputs, *valid_set, batch_size=1024)
    return train(
        network,
        train_batches,
        valid_batches,
        task=task,
        epochs=training.epochs,
        lr=training.lr,
        weight_decay=training.weight_decay,
        patience=training.patience,
        device=resolve_device(training.device),
        precision=training.precision,
        param_groups=param_groups,
        loss_function=loss_function,
        description=description,
        checkpoint=checkpoint,
        resume=resume,
        identity=identity,
    )
