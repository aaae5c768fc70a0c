"""The one training loop, on CPU or GPU, in one or many processes.

:func:`train` optimises any model on a :class:`~._data.Batches` as
:class:`TrainOptions` say, one step at a time: set up the optimizer, train an
epoch, score the validation set, keep the best epoch, stop early, write the
checkpoint.

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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..._settings import logger
from ..._utils import finish, progress
from ._checkpoint import load_checkpoint, run_identity, save_checkpoint
from ._config import TrainingConfig, resolve_device
from ._data import Batches
from ._inputs import Inputs
from ._metrics import score
from ._options import LossFunction, TrainOptions, default_loss
from ._predict import autocast, model_output, predict_batches

if TYPE_CHECKING:
    from tqdm.std import tqdm


# An epoch's batches get a bar of their own, below the epoch bar, only once the
# epoch has run this many seconds: short epochs show the epoch bar alone.
BATCH_BAR_DELAY = 3.0


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


def _optimizer(model: nn.Module, options: TrainOptions) -> tuple[list[dict], torch.optim.AdamW]:
    """The parameter groups (every trainable parameter by default) and AdamW over them."""
    groups = (
        list(options.param_groups)
        if options.param_groups is not None
        else [{"params": [p for p in model.parameters() if p.requires_grad]}]
    )
    # The fused kernel updates every parameter in one call (CPU and CUDA alike).
    optimizer = torch.optim.AdamW(
        groups, lr=options.lr, weight_decay=options.weight_decay, fused=True
    )
    return groups, optimizer


class _Run:
    """One run of :func:`train`: its optimizer, its history and its best epoch so far."""

    def __init__(
        self,
        model: nn.Module,
        batches: tuple[Batches, Batches | None],
        options: TrainOptions,
        *,
        task: str,
        device: torch.device,
        description: str,
    ) -> None:
        model.to(device)
        self.model, (self.train_batches, self.valid_batches) = model, batches
        self.train_batches.pin_memory = device.type == "cuda"
        self.options, self.task, self.device, self.description = options, task, device, description
        self.loss_function = options.loss_function or default_loss(task)
        self.groups, self.optimizer = _optimizer(model, options)
        self.higher_is_better = task == "classification"
        self.history: list[dict] = []
        self.best_value, self.best_epoch, self.best_state = -np.inf, 0, None
        self.first, self.finished = 1, False
        self.rank, self.world_size = distributed()

    def identity(self, extra: Mapping[str, object] | None) -> dict:
        """What a checkpoint of this run belongs to, so that another run's is refused."""
        options, batches = self.options, self.train_batches
        return run_identity(
            self.model, (batches, self.valid_batches), description=self.description,
            training={"epochs": options.epochs, "batch_size": batches.batch_size,
                      "seed": batches.seed, "lr": options.lr,
                      "weight_decay": options.weight_decay, "patience": options.patience,
                      "clip": options.clip, "precision": options.precision,
                      "world_size": self.world_size},
            param_groups=self.groups, loss_function=self.loss_function, extra=extra,
        )  # fmt: skip

    def resume(self, saved: Mapping[str, Any]) -> None:
        """Continue after the last epoch a checkpoint holds."""
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["torch_rng"])
        self.train_batches.set_rng_state(json.loads(saved["batch_rng"]))
        self.history, self.best_value = json.loads(saved["history"]), saved["best_value"]
        self.best_epoch, self.best_state = saved["best_epoch"], saved["best_state"]
        self.finished = saved["finished"]
        self.first = saved["epoch"] + 1

    def save(self, checkpoint: Path, run: dict, epoch: int, finished: bool) -> None:
        """Write everything the next epoch depends on (on rank 0 only)."""
        if self.rank != 0:
            return
        save_checkpoint(checkpoint, run, {
            "epoch": epoch, "finished": finished,
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "batch_rng": json.dumps(self.train_batches.rng_state()),
            "history": json.dumps(self.history), "best_value": float(self.best_value),
            "best_epoch": int(self.best_epoch), "best_state": self.best_state,
        })  # fmt: skip

    def train_epoch(self, trained: nn.Module, epoch: int) -> float:
        """One pass over this rank's training batches; the mean loss over every rank's."""
        self.model.train()
        device, batches, clip = self.device, self.train_batches, self.options.clip
        # ranks with fewer batches than others shadow the others' gradient reductions
        joined = trained.join if self.world_size > 1 else contextlib.nullcontext
        # batch losses stay on the device until the epoch ends: reading each one
        # back would make the host wait for the GPU at every step
        losses, sizes = [], []
        started = time.perf_counter()
        # this rank's share of the batches, for the bar within an epoch
        n_batches = -(-len(batches) // self.world_size)
        steps = progress(batches, desc=f"epoch {epoch}", total=n_batches, unit="batch",
                         leave=False, delay=BATCH_BAR_DELAY, disable=self.rank != 0)  # fmt: skip
        with joined():
            for x, y, _ in steps:
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                with autocast(device, self.options.precision):
                    loss = self.loss_function(model_output(trained, x), y)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip:
                    nn.utils.clip_grad_norm_(self.model.parameters(), clip)
                self.optimizer.step()
                losses.append(loss.detach())
                sizes.append(len(y))
        steps.close()
        values = torch.stack(losses).float().cpu().tolist() if losses else []
        total = sum(value * size for value, size in zip(values, sizes, strict=True))
        logger.debug(
            f"{self.description} epoch {epoch}: {time.perf_counter() - started:.2f} s, "
            f"{batches.wait_seconds:.2f} s waiting for data"
        )
        total, count = _summed(total, sum(sizes))
        return total / max(count, 1)

    def validate(self) -> dict[str, float]:
        """The validation scores: AUROC and AUPRC for labels, MSE and Pearson r otherwise."""
        valid = self.valid_batches
        if valid is None or not valid.n_samples:
            return {}
        predictions = predict_batches(
            self.model, valid, device=self.device, precision=self.options.precision, task=self.task
        )
        metrics = score(_main_target(valid.target), predictions, self.task)
        if self.higher_is_better:
            return {"valid_auroc": metrics["auroc"], "valid_auprc": metrics["auprc"]}
        return {"valid_mse": metrics["mse"], "valid_pearson": metrics["pearson"]}

    @property
    def monitor(self) -> str:
        """The validation score that picks the best epoch."""
        return "valid_auroc" if self.higher_is_better else "valid_mse"

    def keep_if_best(self, epoch: int, row: dict[str, float]) -> None:
        """Keep the weights of ``epoch`` if it beats every earlier one (validation score, or
        the training loss without validation samples)."""
        monitor = self.monitor
        value = row.get(monitor, -row["train_loss"])
        value = value if self.higher_is_better or monitor not in row else -value
        if np.isfinite(value) and value > self.best_value:
            self.best_value, self.best_epoch = value, epoch
            self.best_state = copy.deepcopy(self.model.state_dict())

    def stops_after(self, epoch: int) -> bool:
        """Whether ``patience`` epochs have passed without improvement."""
        patience = self.options.patience
        return patience is not None and epoch - self.best_epoch >= patience

    def scores(self, row: Mapping[str, float]) -> str:
        """The training loss and the monitored validation score of ``row``, for a bar."""
        shown = {k: row[k] for k in ("train_loss", self.monitor) if k in row}
        return ", ".join(f"{name}={value:.4g}" for name, value in shown.items())

    def end(self, bar: tqdm, stopped: int | None) -> None:
        """Close the epoch bar saying how the run ended, then log it in one line."""
        best, early = self.best_epoch, f"stopped early at epoch {stopped}, " if stopped else ""
        best_row = next((row for row in self.history if row["epoch"] == best), {})
        finish(bar, f"{self.description}: {early}best epoch {best}", self.scores(best_row))
        if stopped:
            logger.info(
                f"{self.description}: no improvement for {self.options.patience} epochs, "
                f"stopped at epoch {stopped}; best epoch {best}"
            )

    def run(self, checkpoint: Path | None, identity: dict | None) -> None:
        """Train the epochs left, then put the best epoch's weights back."""
        epochs = self.options.epochs
        trained = _data_parallel(self.model, self.device)
        # one line for the run: epochs done, the latest scores, and how it ended
        bar = progress(total=epochs, initial=self.first - 1, desc=self.description,
                       unit="epoch", disable=self.rank != 0)  # fmt: skip
        stopped = None
        for epoch in range(self.first, 1 if self.finished else epochs + 1):
            row = {"epoch": epoch, "train_loss": self.train_epoch(trained, epoch)}
            row.update(self.validate())
            self.history.append(row)
            self.keep_if_best(epoch, row)
            bar.set_postfix_str(self.scores(row), refresh=False)
            bar.update()
            stop = self.stops_after(epoch)
            if checkpoint is not None:
                self.save(checkpoint, identity, epoch, finished=bool(stop or epoch == epochs))
            if stop:
                stopped = epoch
                break
        self.end(bar, stopped)
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)


def train(
    model: nn.Module,
    train_batches: Batches,
    valid_batches: Batches | None,
    *,
    task: str,
    device: torch.device,
    options: TrainOptions | None = None,
    description: str = "training",
    checkpoint: Path | None = None,
    resume: bool = False,
    identity: Mapping[str, object] | None = None,
    **fields: Any,
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
    device
        Where to train.
    options
        How to optimise (:class:`~chromtools.functional.TrainOptions`:
        ``epochs``, ``lr``, ``weight_decay``, ``patience``, ``clip``,
        ``precision``, ``param_groups``, ``loss_function``).
    description
        Name of the run on progress bars and in the log.
    checkpoint
        File to write the checkpoint to after every epoch (none by default).
    resume
        Continue from ``checkpoint`` where it exists.
    identity
        More entries of the run's identity, checked on resume.
    **fields
        Any field of :class:`~chromtools.functional.TrainOptions` as a
        keyword (``epochs=5, lr=1e-3``), which wins over ``options``;
        ``epochs`` and ``lr`` are needed when ``options`` is None.

    Returns
    -------
    The history (one row per epoch: train loss, validation loss and metric)
    and the best epoch (1-based).
    """
    options = TrainOptions.given(options, fields)
    run = _Run(
        model,
        (train_batches, valid_batches),
        options,
        task=task,
        device=device,
        description=description,
    )
    saved_as = None if checkpoint is None else run.identity(identity)
    if checkpoint is not None and resume and checkpoint.exists():
        run.resume(load_checkpoint(checkpoint, saved_as))
    run.run(checkpoint, saved_as)
    return pd.DataFrame(run.history), run.best_epoch


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
    options = TrainOptions.of_config(
        training, param_groups=param_groups, loss_function=loss_function
    )
    return train(
        network,
        train_batches,
        valid_batches,
        task=task,
        device=resolve_device(training.device),
        options=options,
        description=description,
        checkpoint=checkpoint,
        resume=resume,
        identity=identity,
    )
