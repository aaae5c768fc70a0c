"""How a model moves between cell types: the strategies, one target's samples, one transfer.

What ``finetune``, ``transfer_matrix`` and ``subsample_curve`` share.

A *source* model is one fitted on a well-profiled cell type (or pooled over
several, :func:`pretrain`). A *target* cell type has histone signal and few
or no expression labels. Three numbers answer "what is transfer worth" on
the target's test genes:

``zero_shot``
    the source model applied as it is;
``finetuned``
    the source model trained further on the target's training labels
    (all of them, or ``fraction`` of them), by one of :data:`STRATEGIES`;
``scratch``
    the same architecture trained from a fresh initialisation on exactly
    the same target training labels.

Every model is trained on ``train`` genes and early-stopped on ``valid``
genes of ``var[split_key]``, so the target's ``test`` genes are never seen.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ... import models
from ..._utils import check_number, user_stacklevel
from ..engine import (
    Batches,
    DataView,
    ModelData,
    SampleSet,
    TrainingConfig,
    check_finite_inputs,
    checked_record,
    checkpoint_file,
    predict_batches,
    rebuild,
    resolve_device,
    samples_at,
    score,
    state_digest,
    train_samples,
)
from ._source import Source, fit_source, fit_target

STRATEGIES = ("full", "freeze_encoder", "discriminative_lr", "head_only")

# Fine-tuning trains the head at the model's from-scratch learning rate and, under
# ``discriminative_lr``, the encoder at a tenth of it. On REMC E123 → E003 (238
# target training genes, 3 split seeds) a tenth of the rate for the head too
# barely moved the source weights within the epoch budget: fine-tuned test AUROC
# 0.815 against 0.829 with the full rate (zero-shot 0.810, scratch 0.816).
ENCODER_LR_FACTOR = 0.1


class LeakageWarning(UserWarning):
    """A model was trained on genes that are in the test split it is evaluated on."""


def check_leakage(var_names: pd.Index, data_config: dict, test: np.ndarray, what: str) -> None:
    """Warn, naming them, when a model's training genes are among these test genes
    (``var_names[test]``)."""
    trained = pd.Index(data_config.get("train_genes", []))
    overlap = trained.intersection(var_names[test])
    if len(overlap):
        shown = ", ".join(map(str, overlap[:5])) + (", …" if len(overlap) > 5 else "")
        warnings.warn(
            f"{what} was trained on {len(overlap)} genes that are in the test split here "
            f"({shown}): its test metrics on them are optimistic. Split genes the same way "
            "for source and target (ct.pp.split with one seed)",
            LeakageWarning,
            stacklevel=user_stacklevel(),
        )


def subsample_positions(y: np.ndarray, fraction: float, task: str, seed: int) -> np.ndarray:
    """Positions of ``fraction`` of the samples; per class for labels (both classes kept)."""
    if fraction >= 1.0:
        return np.arange(len(y))
    rng = np.random.default_rng(seed)
    groups = (
        [np.flatnonzero(y == c) for c in np.unique(y)]
        if task == "classification"
        else [np.arange(len(y))]
    )
    kept = [rng.choice(g, max(1, round(fraction * len(g))), replace=False) for g in groups]
    return np.sort(np.concatenate(kept))


def check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {list(STRATEGIES)}")


def check_fraction(fraction: object) -> float:
    fraction = check_number(fraction, "fraction")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return fraction


def check_scorable(
    data: ModelData, obs_names: pd.Index, targets: list[str], split_key: str, *,
    labels_needed: bool,
) -> None:  # fmt: skip
    """Refuse, before any fitting, targets whose transfer could not be trained or scored:
    no training labels (when ``labels_needed``), one class only, or no ``test`` genes."""
    task, masks = data.task, data.masks
    labelled = []
    for name, i in zip(targets, obs_names.get_indexer(targets), strict=True):
        row = task.values[i, masks["train"]]
        known = row[np.isfinite(row)]
        if not len(known):
            if labels_needed:
                raise ValueError(f"target {name!r} has no training labels to subsample")
            continue
        if task.kind == "classification" and len(np.unique(known)) < 2:
            raise ValueError(
                f"target {name!r}: all {len(known)} training labels are {int(known[0])}; "
                "fine-tuning a classifier needs both classes"
            )
        labelled.append(name)
    if labelled and not masks["test"].any():
        raise ValueError(
            f"adata.var[{split_key!r}] has no 'test' genes, so the transfer to {labelled} "
            "cannot be scored; assign train/valid/test genes with ct.pp.split(adata)"
        )


def transferred(record: dict, strategy: str, lr: float) -> tuple[torch.nn.Module, list[dict]]:
    """The source network prepared for fine-tuning, and its optimizer parameter groups.

    BatchNorm running statistics are frozen for every strategy (as ChromTransfer
    fine-tunes). ``full`` trains everything at ``lr``; ``freeze_encoder`` trains
    the source head only; ``head_only`` trains a new head on the frozen encoder;
    ``discriminative_lr`` trains the encoder at ``ENCODER_LR_FACTOR × lr``.
    """
    check_strategy(strategy)
    network = rebuild(record)
    network.freeze_batchnorm(True)
    if strategy == "head_only":
        network.reset_head(1)
    if strategy in ("freeze_encoder", "head_only"):
        network.freeze_encoder(True)
        return network, [{"params": list(network.head_parameters()), "lr": lr}]
    encoder_lr = lr * ENCODER_LR_FACTOR if strategy == "discriminative_lr" else lr
    return network, [
        {"params": list(network.encoder_parameters()), "lr": encoder_lr},
        {"params": list(network.head_parameters()), "lr": lr},
    ]


class TargetSamples:
    """One target cell type's samples: train (possibly subsampled), valid, test, all genes."""

    def __init__(
        self, names: tuple[pd.Index, pd.Index], data: ModelData, cell_type: str,
        training: TrainingConfig,
    ) -> None:  # fmt: skip
        (self.obs_names, self.var_names), self.data, self.name = names, data, cell_type
        self.device, self.precision = resolve_device(training.device), training.precision
        self.sets = {
            split: samples_at(self.obs_names, [cell_type], data.masks[split], data.task)
            for split in ("train", "valid", "test")
        }

    def subsample(self, split: str, fraction: float, seed: int):
        """``fraction`` of the split's samples, drawn per class with ``seed``."""
        cells, genes, y = self.sets[split]
        keep = subsample_positions(y, fraction, self.data.task.kind, seed)
        return cells[keep], genes[keep], y[keep]

    def predict(self, network: torch.nn.Module, genes: np.ndarray | None = None) -> np.ndarray:
        """Network output on the target's test genes, or on ``genes`` (positions)."""
        if genes is None:
            cells, genes, _ = self.sets["test"]
        else:
            cells = np.full(len(genes), self.obs_names.get_loc(self.name))
        batches = Batches(self.data.inputs, cells, genes, batch_size=1024)
        network.to(self.device)
        return predict_batches(
            network,
            batches,
            device=self.device,
            precision=self.precision,
            task=self.data.task.kind,
        )

    def train(
        self,
        network: torch.nn.Module,
        sets: tuple[SampleSet, SampleSet],
        training: TrainingConfig,
        description: str,
        param_groups: list[dict] | None = None,
        *,
        checkpoint: Path | None = None,
        resume: bool = False,
        identity: dict | None = None,
    ) -> tuple[pd.DataFrame, int]:
        """Train ``network`` on (train, valid) samples of this target, seeded by ``training``;
        ``checkpoint``, ``resume`` and ``identity`` as in :func:`~chromtools.functional.train`."""
        torch.manual_seed(training.seed)
        return train_samples(
            network,
            self.data.inputs,
            *sets,
            task=self.data.task.kind,
            training=training,
            description=description,
            param_groups=param_groups,
            checkpoint=checkpoint,
            resume=resume,
            identity={"data": self.data.config, **(identity or {})},
        )

    def score(self, predictions: np.ndarray) -> dict[str, float]:
        """Test metrics of predictions on the target's test genes."""
        return score(self.sets["test"][2], predictions, self.data.task.kind)

    def prediction_table(self, approach: str, predictions: np.ndarray) -> pd.DataFrame:
        """Long table of test predictions: target, approach, gene, truth, prediction."""
        _, genes, truth = self.sets["test"]
        return pd.DataFrame(
            {
                "target": self.name,
                "approach": approach,
                "gene": self.var_names[genes],
                "truth": truth,
                "prediction": predictions,
            }
        )


def finetune_checkpoints(target: str) -> tuple[str, str]:
    """Names of the fine-tuning's and the from-scratch training's checkpoints of ``target``."""
    return f"finetune_{target}_finetuned", f"finetune_{target}_scratch"


def transfer_once(
    record: dict,
    target: TargetSamples,
    *,
    strategy: str,
    fraction: float,
    finetune_training: TrainingConfig,
    scratch_training: TrainingConfig | None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
) -> dict:
    """Fine-tune (and train from scratch, unless ``scratch_training`` is None) on one target.

    Both use ``fraction`` of the target's ``train`` labels and the same share
    of its ``valid`` labels, drawn with ``finetune_training.seed``: a cell
    type with few labels has few to stop early on as well, and selecting
    epochs on every validation label would let the from-scratch model learn
    from them. Returns a dict with the fine-tuned network, its history and
    best epoch, the training genes and their number, and the test
    predictions and scores of each approach.

    With ``checkpoint_dir`` each training keeps its checkpoint there, as
    ``finetune_<target>_finetuned.pt`` and ``finetune_<target>_scratch.pt``;
    ``resume`` picks them up. Their identities hold the target, the strategy,
    the fraction and the source model's weights, so the checkpoint of a
    transfer that differs in one of them is refused.
    """
    seed = finetune_training.seed
    sets = (target.subsample("train", fraction, seed), target.subsample("valid", fraction, seed))
    network, groups = transferred(record, strategy, finetune_training.lr)
    history, best_epoch = target.train(
        network,
        sets,
        finetune_training,
        f"finetune → {target.name} ({strategy}, fraction {fraction:g})",
        groups,
        checkpoint=checkpoint_file(checkpoint_dir, finetune_checkpoints(target.name)[0]),
        resume=resume,
        identity={
            "source": state_digest(record["state_dict"]),
            "transfer": {"target": target.name, "strategy": strategy, "fraction": fraction},
        },
    )
    result = {
        "network": network,
        "history": history,
        "best_epoch": best_epoch,
        "n_train": len(sets[0][1]),
        "train_genes": sets[0][1],
        "test_predictions": {"finetuned": target.predict(network)},
    }
    if scratch_training is not None:
        torch.manual_seed(scratch_training.seed)
        fresh = models.build(**record["config"]["model"])
        target.train(
            fresh,
            sets,
            scratch_training,
            f"scratch {target.name} (fraction {fraction:g})",
            checkpoint=checkpoint_file(checkpoint_dir, finetune_checkpoints(target.name)[1]),
            resume=resume,
            identity={"transfer": {"target": target.name, "fraction": fraction}},
        )
        result["test_predictions"]["scratch"] = target.predict(fresh)
    result["scores"] = {k: target.score(v) for k, v in result["test_predictions"].items()}
    return result


def prepare(
    view: DataView, source_key: str, split_key: str, what: str, targets: list[str]
) -> tuple[dict, ModelData]:
    """The source model's record, checked against the data it moves to, and that data;
    warns (:class:`LeakageWarning`) when its training genes are test genes here."""
    record = checked_record(view, source_key, what, cell_types=targets)
    data = _data_of(view, record, split_key)
    check_leakage(view.var_names, record["config"]["data"], data.masks["test"], what)
    return record, data


def _data_of(view: DataView, record: dict, split_key: str) -> ModelData:
    """The data a stored model reads here: its class, target and marks."""
    config = record["config"]["data"]
    spec = models.get_model(record["config"]["model"]["name"])
    return view.model_data(spec, config["target"], split_key, config.get("marks"))


def prepare_transfer(
    view: DataView,
    chosen: Source,
    targets: list[str],
    split_key: str,
    *,
    labels_needed: bool,
    training: TrainingConfig,
    matched: bool = False,
    **fit_options,
) -> tuple[str, dict, ModelData]:
    """The source model's key, its record and the data it moves to, each checked once.

    A stored source is checked against this object first (:func:`check_model`);
    then the targets' labels and ``test`` genes (:func:`check_scorable`), all before
    any fitting; a source still to be fitted is fitted (``training``, ``fit_options``)
    and then checked. Warns (:class:`LeakageWarning`) when the source's training genes
    are test genes here. ``matched``: the caller maps the targets' signal onto the
    source's training distribution, which is then not checked.
    """
    what = "the source model uns[{!r}]".format
    record = None
    if chosen.key is not None:
        record = checked_record(view, chosen.key, what(chosen.key), cell_types=targets,
                                matched=matched)  # fmt: skip
        data = _data_of(view, record, split_key)
    else:
        spec = models.get_model(chosen.model)
        data = view.model_data(spec, fit_target(fit_options), split_key, fit_options.get("marks"))
    check_scorable(data, view.obs_names, targets, split_key, labels_needed=labels_needed)
    if data.config["input"] == models.HISTONE:
        cells, every_gene = view.obs_names.get_indexer(targets), np.arange(len(view.var_names))
        check_finite_inputs(data.inputs, cells, every_gene, f"transfer to {targets}",
                            view.obs_names, data.config["marks"])  # fmt: skip
    key = fit_source(view, chosen, split_key=split_key, training=training, data=data,
                     **fit_options)  # fmt: skip
    if record is None:
        record = checked_record(view, key, what(key), cell_types=targets, matched=matched)
    check_leakage(view.var_names, record["config"]["data"], data.masks["test"], what(key))
    return key, record, data
