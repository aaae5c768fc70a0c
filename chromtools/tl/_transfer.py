"""Transfer across cell types: ``pretrain``, ``finetune``, ``transfer_matrix``, ``subsample_curve``.

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

import inspect
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .. import models
from .._settings import logger
from .._utils import check_int, check_number, progress
from ._adapters import check_transferable
from ._data import Batches
from ._fit import (
    ModelData,
    NormalizationWarning,
    check_cell_types,
    check_has_signal,
    check_key_added,
    check_model,
    fit,
    has_signal,
    labelled_cell_types,
    layer_key,
    model_data,
    rebuild,
    record_of,
    resolve_training,
    result_kind,
    samples,
    split_masks,
    state_arrays,
    target_values,
    train_samples,
    with_signal,
)
from ._metrics import METRICS, score
from ._train import check_training, predict_batches, resolve_device

__all__ = [
    "STRATEGIES",
    "LeakageWarning",
    "NormalizationWarning",
    "finetune",
    "pretrain",
    "subsample_curve",
    "transfer_matrix",
]

STRATEGIES = ("full", "freeze_encoder", "discriminative_lr", "head_only")
# Fine-tuning trains the head at the model's from-scratch learning rate and, under
# ``discriminative_lr``, the encoder at a tenth of it. On REMC E123 → E003 (238
# target training genes, 3 split seeds) a tenth of the rate for the head too
# barely moved the source weights within the epoch budget: fine-tuned test AUROC
# 0.815 against 0.829 with the full rate (zero-shot 0.810, scratch 0.816).
ENCODER_LR_FACTOR = 0.1


class LeakageWarning(UserWarning):
    """A model was trained on genes that are in the test split it is evaluated on."""


def _default_model(adata: AnnData) -> str:
    has_histone = "histone" in adata.obsm
    return "deepchrome" if has_histone or "onehot" not in adata.varm else "chromtransfer"


def _check_cell_type(adata: AnnData, name: object, role: str) -> str:
    if not isinstance(name, str):
        raise ValueError(f"{role} must be one cell type name (a string), got {name!r}")
    if name not in adata.obs_names:
        raise KeyError(f"{role}={name!r} is not in adata.obs_names {list(adata.obs_names)}")
    return name


@dataclass
class Source:
    """The source model of a transfer: ``key`` in ``uns``, or None when it is still to be
    fitted, as ``model`` on ``cell_types``; ``selection`` says how it was chosen."""

    key: str | None
    model: str
    cell_types: list[str]
    selection: str
    input_kind: str


def _torch_models_fitted_on(adata: AnnData, source: str) -> list[tuple[str, str]]:
    """(key, model name) of the PyTorch models in ``uns`` fitted on ``source`` alone."""
    return [
        (str(key), str(record["config"]["model"].get("name")))
        for key, record in adata.uns.items()
        if result_kind(record) == "model"
        and "state_dict" in record
        and list(record["config"]["data"].get("cell_types", [])) == [source]
    ]


def choose_source(
    adata: AnnData, source: str | None, *, model: str | None, source_key: str | None
) -> Source:
    """The source model, chosen unambiguously and before any training.

    ``source_key`` names it. Otherwise it is the model ``model`` (DeepChrome
    by default; ChromTransfer for sequence-only objects) fitted on ``source``
    alone: the one in ``uns`` if there is exactly one, else one fitted now.
    Several such models, or models of other kinds only while ``model`` is
    not named, are refused with the list of candidates.
    """
    if source_key is not None:
        record = record_of(adata, source_key)
        name = str(record["config"]["model"].get("name"))
        if result_kind(record) == "differential":
            raise ValueError(
                f"uns[{source_key!r}] is a DeepDiff model of two cell types; transfer needs a "
                "model of one cell type (ct.tl.fit or ct.tl.pretrain)"
            )
        if "state_dict" not in record:
            raise ValueError(
                f"uns[{source_key!r}] is a scikit-learn baseline; transfer needs a PyTorch model"
            )
        if model is not None and model != name:
            raise ValueError(
                f"model={model!r} but uns[{source_key!r}] holds a {name!r} model; pass one of them"
            )
        trained_on = [str(c) for c in record["config"]["data"].get("cell_types", [])]
        if source is not None and source not in trained_on:
            raise ValueError(
                f"source={source!r} but the model uns[{source_key!r}] was fitted on {trained_on}; "
                "pass source_key alone, or the source it was fitted on"
            )
        kind = record["config"]["data"].get("input", "histone")
        return Source(source_key, name, trained_on, "given source_key", kind)
    if source is None:
        raise ValueError("name the source: a cell type (source=) or a fitted model (source_key=)")
    _check_cell_type(adata, source, "source")
    wanted = _default_model(adata) if model is None else model
    check_transferable(wanted, "transfer")
    spec = models.get_model(wanted)
    kind = getattr(spec, "input_kind", "histone")
    fitted = _torch_models_fitted_on(adata, source)
    matching = [key for key, name in fitted if name == wanted]
    if len(matching) > 1:
        raise ValueError(
            f"several {wanted!r} models in uns were fitted on {source!r} alone: {matching}; "
            "pass source_key= to say which to transfer"
        )
    if matching:
        return Source(matching[0], wanted, [source], f"the {wanted} model fitted on {source}", kind)
    if fitted and model is None:
        found = ", ".join(f"uns[{key!r}] ({name})" for key, name in fitted)
        raise ValueError(
            f"source {source!r} has fitted models {found}, but none of the default "
            f"{wanted!r}: pass source_key= to transfer one of them, or model={wanted!r} to fit "
            f"a {wanted} model on {source!r}"
        )
    if kind == "histone" and not has_signal(adata)[adata.obs_names.get_loc(source)]:
        raise ValueError(
            f"source {source!r} has no histone signal in this object (obsm['histone'] is NaN "
            f"for it, e.g. RNA-seq without ChIP-seq), so no model can be fitted on it; cell "
            f"types with signal: {with_signal(adata)}"
        )
    return Source(None, wanted, [source], f"{wanted} fitted now on {source}", kind)


def fit_source(adata: AnnData, chosen: Source, **fit_options) -> str:
    """The ``uns`` key of the chosen source model, fitting it first if needed."""
    if chosen.key is not None:
        logger.info(f"transfer: source model uns[{chosen.key!r}] ({chosen.selection})")
        return chosen.key
    (source,) = chosen.cell_types
    key = f"{chosen.model}_{source}"
    if key in adata.uns:
        raise ValueError(
            f"uns[{key!r}], where the {chosen.model} model of {source!r} would go, holds "
            "something else; pass source_key= or delete it first"
        )
    logger.info(f"transfer: no {chosen.model} model fitted on {source!r} yet: fitting uns[{key!r}]")
    try:
        fit(adata, chosen.model, cell_types=[source], key_added=key, **fit_options)
    except ValueError as error:
        if "has no" in str(error):
            raise ValueError(
                f"source {source!r} has no fitted model in adata.uns and no training labels to "
                f"fit one: {error}"
            ) from error
        raise
    return key


def check_leakage(adata: AnnData, data_config: dict, test: np.ndarray, what: str) -> None:
    """Warn, naming them, when a model's training genes are among these test genes."""
    trained = pd.Index(data_config.get("train_genes", []))
    overlap = trained.intersection(adata.var_names[test])
    if len(overlap):
        shown = ", ".join(map(str, overlap[:5])) + (", …" if len(overlap) > 5 else "")
        warnings.warn(
            f"{what} was trained on {len(overlap)} genes that are in the test split here "
            f"({shown}): its test metrics on them are optimistic. Split genes the same way "
            "for source and target (ct.pp.split with one seed)",
            LeakageWarning,
            stacklevel=3,
        )


def _subsample(y: np.ndarray, fraction: float, task: str, seed: int) -> np.ndarray:
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


def _check_strategy(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {list(STRATEGIES)}")


def _check_fraction(fraction: object) -> float:
    fraction = check_number(fraction, "fraction")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return fraction


def _check_scorable(
    adata: AnnData, chosen: Source, targets: list[str], split_key: str, *, labels_needed: bool
) -> None:
    """Refuse, before any fitting, targets whose transfer could not be trained or scored:
    no training labels (when ``labels_needed``), one class only, or no ``test`` genes."""
    record = adata.uns[chosen.key] if chosen.key is not None else None
    wanted = record["config"]["data"]["target"] if record is not None else "label"
    task = target_values(adata, wanted)
    masks = split_masks(adata, split_key)
    labelled = []
    for name in targets:
        row = task.values[adata.obs_names.get_loc(name), masks["train"]]
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


def _check_targets_are_new(targets: list[str], chosen: Source) -> None:
    """Refuse targets the source model was trained on: their "zero-shot" score is in-domain."""
    same = [t for t in targets if t in chosen.cell_types]
    if same:
        raise ValueError(
            f"targets {same} are cell types the source model was trained on "
            f"({chosen.cell_types}), so its 'zero-shot' score there is in-domain performance; "
            "transfer to other cell types"
        )


def transferred(record: dict, strategy: str, lr: float) -> tuple[torch.nn.Module, list[dict]]:
    """The source network prepared for fine-tuning, and its optimizer parameter groups.

    BatchNorm running statistics are frozen for every strategy (as ChromTransfer
    fine-tunes). ``full`` trains everything at ``lr``; ``freeze_encoder`` trains
    the source head only; ``head_only`` trains a new head on the frozen encoder;
    ``discriminative_lr`` trains the encoder at ``ENCODER_LR_FACTOR × lr``.
    """
    _check_strategy(strategy)
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


class _Target:
    """One target cell type's samples: train (possibly subsampled), valid, test, all genes."""

    def __init__(
        self, adata: AnnData, data: ModelData, cell_type: str, device, precision: str
    ) -> None:
        self.adata, self.data, self.name = adata, data, cell_type
        self.device, self.precision = device, precision
        self.sets = {
            split: samples(adata, [cell_type], data.masks[split], data.task)
            for split in ("train", "valid", "test")
        }

    def subsample(self, split: str, fraction: float, seed: int):
        """``fraction`` of the split's samples, drawn per class with ``seed``."""
        cells, genes, y = self.sets[split]
        keep = _subsample(y, fraction, self.data.task.kind, seed)
        return cells[keep], genes[keep], y[keep]

    def predict(self, network: torch.nn.Module, genes: np.ndarray | None = None) -> np.ndarray:
        """Network output on the target's test genes, or on ``genes`` (positions)."""
        if genes is None:
            cells, genes, _ = self.sets["test"]
        else:
            cells = np.full(len(genes), self.adata.obs_names.get_loc(self.name))
        batches = Batches(self.data.inputs, cells, genes, batch_size=1024)
        network.to(self.device)
        return predict_batches(
            network,
            batches,
            device=self.device,
            precision=self.precision,
            task=self.data.task.kind,
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
                "gene": self.adata.var_names[genes],
                "truth": truth,
                "prediction": predictions,
            }
        )


def _train_on_target(
    network, groups, target: _Target, sets, *, training, seed, description, **options
):
    torch.manual_seed(seed)
    return train_samples(
        network,
        target.data.inputs,
        *sets,
        task=target.data.task.kind,
        training=training,
        seed=seed,
        description=description,
        param_groups=groups,
        **options,
    )


def transfer_once(
    record: dict,
    target: _Target,
    *,
    strategy: str,
    fraction: float,
    finetune_training: dict,
    scratch_training: dict | None,
    seed: int,
    **options,
) -> dict:
    """Fine-tune (and train from scratch, unless ``scratch_training`` is None) on one target.

    Both use ``fraction`` of the target's ``train`` labels and the same share
    of its ``valid`` labels: a cell type with few labels has few to stop
    early on as well, and selecting epochs on every validation label would
    let the from-scratch model learn from them. Returns a dict with the
    fine-tuned network, its history and best epoch, the training genes and
    their number, and the test predictions and scores of each approach.
    """
    train_set = target.subsample("train", fraction, seed)
    valid_set = target.subsample("valid", fraction, seed)
    network, groups = transferred(record, strategy, finetune_training["lr"])
    history, best_epoch = _train_on_target(
        network,
        groups,
        target,
        (train_set, valid_set),
        training=finetune_training,
        seed=seed,
        description=f"finetune → {target.name}",
        **options,
    )
    result = {
        "network": network,
        "history": history,
        "best_epoch": best_epoch,
        "n_train": len(train_set[1]),
        "train_genes": train_set[1],
        "test_predictions": {"finetuned": target.predict(network)},
    }
    if scratch_training is not None:
        torch.manual_seed(seed)
        fresh = models.build(**record["config"]["model"])
        _train_on_target(
            fresh,
            None,
            target,
            (train_set, valid_set),
            training=scratch_training,
            seed=seed,
            description=f"scratch {target.name}",
            **options,
        )
        result["test_predictions"]["scratch"] = target.predict(fresh)
    result["scores"] = {k: target.score(v) for k, v in result["test_predictions"].items()}
    return result


def _prepare(adata: AnnData, source_key: str, split_key: str, what: str, targets: list[str]):
    record = record_of(adata, source_key)
    check_model(adata, record, what, cell_types=targets)
    data_config = record["config"]["data"]
    spec = models.get_model(record["config"]["model"]["name"])
    data = model_data(adata, spec, data_config["target"], split_key, data_config.get("marks"))
    check_leakage(adata, data_config, data.masks["test"], what)
    return record, data


def finetune(
    adata: AnnData,
    source: str | None = None,
    target: Sequence[str] | str | None = None,
    *,
    model: str | None = None,
    source_key: str | None = None,
    strategy: str = "discriminative_lr",
    fraction: float = 1.0,
    key_added: str = "finetune",
    split_key: str = "split",
    scratch: bool = True,
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    patience: int | None = 10,
    device: str | None = None,
    precision: str = "auto",
    seed: int | None = None,
) -> None:
    """Transfer a model from a source cell type to targets with few or no labels.

    For each target with training labels the source model is fine-tuned on
    (``fraction`` of) the target's ``train`` genes, early-stopped on its
    ``valid`` genes, and compared on its ``test`` genes with the source model
    as it is (zero-shot) and with the same architecture trained from scratch
    on the same genes. Targets without labels get zero-shot predictions.

    Parameters
    ----------
    adata
        Object with histone signal (or one-hot sequence) of source and
        targets, labels, and ``var[split_key]``.
    source
        Source cell type. Its model is the one ``model`` in ``uns`` fitted on
        it alone; if there is none it is fitted now. Several candidates, or
        only models of other kinds when ``model`` is not named, are refused
        with their keys: pass ``source_key``.
    target
        Target cell types; by default every cell type with histone signal
        (labelled or not) that the source model was not trained on. The
        source model's own cell types are refused: their "zero-shot" score
        would be in-domain.
    model
        Model to look for or fit on ``source``; DeepChrome by default
        (ChromTransfer for objects with sequence only).
    source_key
        Transfer the model in ``uns[source_key]`` instead (e.g. from
        :func:`pretrain` or :func:`~chromtools.tl.load_model`).
    strategy
        ``"full"`` (every weight at ``lr``), ``"freeze_encoder"`` (the source
        head trains, the encoder is frozen), ``"discriminative_lr"`` (the
        encoder at a tenth of ``lr``) or ``"head_only"`` (a new head on the
        frozen encoder). BatchNorm statistics stay those of the source.
    fraction
        Share of each target's training (and validation) labels used, in
        (0, 1]; drawn per class with ``seed``.
    key_added
        Where results go. An earlier finetune result there is replaced, and
        the layers its fine-tuned models predicted into are dropped; any other
        entry under that key is refused.
    split_key
        ``var`` column of ``train``/``valid``/``test`` genes; labelled
        targets need ``test`` genes to be scored on.
    scratch
        Also train the from-scratch comparison.
    epochs, batch_size, weight_decay
        Training settings; the model's defaults when None.
    lr
        Fine-tuning learning rate of the head (the encoder's under ``full``);
        the model's default when None. From-scratch training always uses the
        model's default.
    patience
        Early-stopping patience on the target's validation genes.
    device, precision, seed
        As in :func:`~chromtools.tl.fit`.

    Returns
    -------
    ``None``. Writes

    ``adata.layers[key_added]``
        Fine-tuned predictions for every gene of each labelled target; the
        zero-shot predictions for targets without labels.
    ``adata.uns[key_added]``
        ``params``; ``metrics``: one row per target × approach (``zero_shot``,
        ``finetuned``, ``scratch``) with test ``auroc``, ``auprc``… (or
        ``pearson``… for expression) and ``n_train``; ``test_predictions``:
        one row per target × approach × test gene (``truth``, ``prediction``),
        for ROC curves and bootstrap intervals; ``targets``: one row per
        target with the ``approach`` it got (``finetuned``, or ``zero_shot``
        for a target without labels), ``evaluated``, ``n_train``, the
        ``model`` key whose predictions are in ``layers[key_added]`` and the
        ``reason`` it was not evaluated; ``not_evaluated``: target → why it
        has no metrics; ``models``: target → the fine-tuned model, usable as
        ``ct.tl.predict(adata, f"{key_added}/{target}")``. ``params`` records
        ``source_key`` and ``source_selection`` (how the source model was chosen).
    """
    fraction = _check_fraction(fraction)
    _check_strategy(strategy)
    options = check_training(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        device=device,
        precision=precision,
        seed=seed,
    )
    seed = options["seed"]
    if not isinstance(scratch, bool):
        raise ValueError(f"scratch must be True or False, got {scratch!r}")
    check_key_added(adata, key_added, "finetune", layers=True)
    chosen = choose_source(adata, source, model=model, source_key=source_key)
    targets = _targets(adata, chosen, target)
    _check_scorable(adata, chosen, targets, split_key, labels_needed=False)
    sizes = {k: options[k] for k in ("epochs", "batch_size", "weight_decay")}
    source_key = fit_source(
        adata,
        chosen,
        split_key=split_key,
        seed=seed,
        device=device,
        patience=options["patience"],
        precision=precision,
        **sizes,
    )
    record, data = _prepare(
        adata, source_key, split_key, f"the source model uns[{source_key!r}]", targets
    )
    name = record["config"]["model"]["name"]
    train_options = {
        "device": resolve_device(device),
        "precision": precision,
        "patience": options["patience"],
    }
    finetune_training = resolve_training(name, lr=options["lr"], **sizes)
    scratch_training = resolve_training(name, **sizes)
    source_network = rebuild(record)
    labelled = set(adata.obs_names[labelled_cell_types(adata, data)])
    layer = np.full(adata.shape, np.nan, dtype=np.float32)
    every_gene = np.arange(adata.n_vars)
    rows, test_predictions, not_evaluated, fitted, approaches = [], [], {}, {}, []
    for cell_type in progress(targets, desc=f"finetune from {source or source_key}", unit="target"):
        target_data = _Target(adata, data, cell_type, train_options["device"], precision)
        row_index = adata.obs_names.get_loc(cell_type)
        if cell_type not in labelled:
            layer[row_index] = target_data.predict(source_network, genes=every_gene)
            why = "no training labels: zero-shot predictions only"
            not_evaluated[cell_type] = why
            approaches.append(
                {
                    "target": cell_type,
                    "approach": "zero_shot",
                    "evaluated": False,
                    "n_train": 0,
                    "model": source_key,
                    "reason": why,
                }
            )
            logger.warning(
                f"finetune: target {cell_type!r} has no training labels, so nothing was "
                f"fine-tuned or scored: layers[{key_added!r}] holds the zero-shot predictions "
                f"of the source model uns[{source_key!r}] for it"
            )
            continue
        zero_shot = target_data.predict(source_network)
        result = transfer_once(
            record,
            target_data,
            strategy=strategy,
            fraction=fraction,
            finetune_training=finetune_training,
            scratch_training=scratch_training if scratch else None,
            seed=seed,
            **train_options,
        )
        network = result["network"]
        layer[row_index] = target_data.predict(network, genes=every_gene)
        predicted = {"zero_shot": zero_shot, **result["test_predictions"]}
        for approach, values in predicted.items():
            n_train = 0 if approach == "zero_shot" else result["n_train"]
            scores = target_data.score(values)
            rows.append({"target": cell_type, "approach": approach, **scores, "n_train": n_train})
            test_predictions.append(target_data.prediction_table(approach, values))
        approaches.append(
            {
                "target": cell_type,
                "approach": "finetuned",
                "evaluated": True,
                "n_train": result["n_train"],
                "model": f"{key_added}/{cell_type}",
                "reason": "",
            }
        )
        logger.info(
            f"finetune: target {cell_type!r} fine-tuned ({strategy}) on {result['n_train']} "
            f"training genes: model {key_added}/{cell_type}, predictions in layers[{key_added!r}]"
        )
        fitted[cell_type] = {
            "params": {
                "model": name,
                "source_key": source_key,
                "strategy": strategy,
                "fraction": fraction,
                "seed": seed,
                "best_epoch": result["best_epoch"],
                "split_key": split_key,
            },
            "config": {
                "model": dict(network.config),
                "data": {
                    **record["config"]["data"],
                    "cell_types": [cell_type],
                    "train_genes": sorted(
                        set(record["config"]["data"].get("train_genes", []))
                        | set(adata.var_names[result["train_genes"]])
                    ),
                },
            },
            "history": result["history"],
            "state_dict": state_arrays(network),
        }
    earlier = adata.uns.get(key_added)
    if result_kind(earlier) == "finetune":
        # predictions of the fine-tuned models this call replaces would outlive them
        for old in earlier["models"]:
            adata.layers.pop(layer_key(f"{key_added}/{old}"), None)
    adata.layers[key_added] = layer
    adata.uns[key_added] = {
        "params": {
            "source": source,
            "source_key": source_key,
            "source_selection": chosen.selection,
            "targets": targets,
            "model": name,
            "strategy": strategy,
            "fraction": fraction,
            "scratch": scratch,
            "seed": seed,
            "split_key": split_key,
            "finetune": finetune_training,
            "scratch_training": scratch_training,
        },
        "metrics": pd.DataFrame(rows),
        "targets": pd.DataFrame(
            approaches, columns=["target", "approach", "evaluated", "n_train", "model", "reason"]
        ),
        "test_predictions": pd.concat(test_predictions, ignore_index=True)
        if test_predictions
        else pd.DataFrame(columns=["target", "approach", "gene", "truth", "prediction"]),
        "not_evaluated": not_evaluated,
        "models": fitted,
    }


def _targets(adata: AnnData, chosen: Source, target: Sequence[str] | str | None) -> list[str]:
    """Target cell types: those given, else every cell type with inputs that the source
    model was not trained on; refuses names not in obs, repeats, the source's own cell
    types and cell types without histone signal."""
    histone = chosen.input_kind == "histone"
    if target is None:
        usable = has_signal(adata) if histone else np.ones(adata.n_obs, bool)
        target = [c for c in adata.obs_names[usable] if c not in chosen.cell_types]
        if not target:
            raise ValueError(
                f"no cell type other than the source {chosen.cell_types} to transfer to"
                + (f"; cell types with histone signal: {with_signal(adata)}" if histone else "")
            )
        return [str(c) for c in target]
    if isinstance(target, str):
        _check_cell_type(adata, target, "target")
    targets = check_cell_types(adata, target, "target")
    _check_targets_are_new(targets, chosen)
    if histone:
        check_has_signal(adata, targets, "targets")
    return targets


def pretrain(
    adata: AnnData,
    model: str = "deepchrome",
    cell_types: Sequence[str] | str | None = None,
    *,
    key_added: str = "pretrain",
    **fit_options: object,
) -> None:
    """Fit one model on many cell types pooled, as the source of later transfers.

    For histone models every (cell type, gene) pair of the ``train`` genes is
    one sample, so the model sees the rules the cell types share. A sequence
    model reads the same DNA in every cell type: pre-train it on a
    cell-type-agnostic target instead, e.g. the ``any`` pseudo cell type of
    :func:`~chromtools.datasets.synthetic_sequences` (open in any cell type),
    as ChromTransfer pre-trains on all open regions.

    Parameters
    ----------
    adata
        Object with inputs, labels (or expression) and ``var['split']``.
    model
        Registered PyTorch model name.
    cell_types
        Cell types to pool; by default every one with inputs and training labels.
    key_added
        Where the model goes.
    **fit_options
        Passed to :func:`~chromtools.tl.fit` (``target``, ``epochs``,
        ``batch_size``, ``lr``, ``device``, ``seed``…).

    Returns
    -------
    ``None``. Writes ``adata.uns[key_added]`` and ``adata.layers[key_added]``
    as :func:`~chromtools.tl.fit` does, with ``params['pretrained'] = True``;
    pass ``source_key=key_added`` to :func:`finetune`.
    """
    check_transferable(model, "pretrain")
    fit(adata, model, cell_types=cell_types, key_added=key_added, **fit_options)
    adata.uns[key_added]["params"]["pretrained"] = True


def transfer_matrix(
    adata: AnnData,
    sources: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    *,
    model: str = "deepchrome",
    key_added: str = "transfer_matrix",
    split_key: str = "split",
    metric: str = "auroc",
    device: str | None = None,
    seed: int | None = None,
    **fit_options: object,
) -> pd.DataFrame:
    """Test score of every source cell type's model applied, as it is, to every target.

    Each source gets its own model (one already fitted on it alone, else one
    fitted now); its zero-shot predictions are scored on each target's
    ``test`` genes. The diagonal is the within-cell-type score: the source's
    model on its own test genes.

    Parameters
    ----------
    adata
        Object with inputs and labels (or expression) of every cell type named.
    sources
        Source cell types; every cell type with inputs and labels by default.
    targets
        Target cell types; every cell type with inputs and labels by default.
    model
        Model to look for or fit on each source.
    key_added
        Where results go.
    split_key
        ``var`` column of ``train``/``valid``/``test`` genes.
    metric
        Score to tabulate: ``auroc``, ``auprc``, ``f1`` (labels) or
        ``pearson``, ``spearman``, ``mse`` (expression).
    device, seed
        As in :func:`~chromtools.tl.fit`.
    **fit_options
        Passed to :func:`~chromtools.tl.fit` for the sources fitted here.

    Returns
    -------
    The source × target table, also written to ``adata.uns[key_added]``:
    ``matrix`` (that table), ``scores`` (long table: source, target, every
    metric, ``n`` test genes) and ``params``.
    """
    check_transferable(model, "transfer_matrix")
    spec = models.get_model(model)
    set_here = {"adata", "model", "cell_types", "key_added", "split_key", "device", "seed"}
    allowed = sorted(set(inspect.signature(fit).parameters) - set_here)
    unknown = sorted(set(fit_options) - set(allowed))
    if unknown:
        raise ValueError(
            f"transfer_matrix: {unknown} are not options of ct.tl.fit it can pass on; "
            f"those are {allowed}"
        )
    training_names = ("epochs", "batch_size", "lr", "weight_decay", "patience", "precision")
    training = {k: v for k, v in fit_options.items() if k in training_names}
    seed = check_training(device=device, seed=seed, **training)["seed"]
    check_key_added(adata, key_added, "transfer_matrix")
    data = model_data(adata, spec, fit_options.get("target", "label"), split_key)
    if metric not in METRICS[data.task.kind]:
        raise ValueError(
            f"metric {metric!r} is not one of {list(METRICS[data.task.kind])} "
            f"({data.task.kind} of target={data.config['target']!r})"
        )
    labelled = list(adata.obs_names[labelled_cell_types(adata, data)])
    sources = check_cell_types(adata, labelled if sources is None else sources, "sources")
    targets = check_cell_types(adata, labelled if targets is None else targets, "targets")
    unlabelled = [c for c in targets if c not in labelled]
    if unlabelled:
        raise ValueError(f"targets {unlabelled} have no training labels or no inputs to score")
    if not data.masks["test"].any():
        raise ValueError(
            f"adata.var[{split_key!r}] has no 'test' genes to score the transfers on; assign "
            "train/valid/test genes with ct.pp.split(adata)"
        )
    # every source model is chosen (and every missing one known fittable) before any fitting
    chosen = {name: choose_source(adata, name, model=model, source_key=None) for name in sources}
    unfittable = [name for name in sources if chosen[name].key is None and name not in labelled]
    if unfittable:
        raise ValueError(
            f"sources {unfittable} have no {model!r} model fitted on them alone in adata.uns "
            f"and no training labels to fit one; sources with labels: {labelled}"
        )
    device_used = resolve_device(device)
    rows = []
    for source in progress(sources, desc="transfer matrix", unit="source"):
        key = fit_source(
            adata, chosen[source], split_key=split_key, seed=seed, device=device, **fit_options
        )
        record, source_data = _prepare(
            adata, key, split_key, f"the model uns[{key!r}]", [t for t in targets if t != source]
        )
        network = rebuild(record)
        for name in targets:
            target_data = _Target(adata, source_data, name, device_used, "auto")
            scores = target_data.score(target_data.predict(network))
            rows.append({"source": source, "target": name, **scores})
    scores = pd.DataFrame(rows)
    matrix = scores.pivot(index="source", columns="target", values=metric)
    matrix = matrix.loc[sources, targets]
    adata.uns[key_added] = {
        "params": {
            "sources": sources,
            "targets": targets,
            "model": model,
            "metric": metric,
            "split_key": split_key,
            "seed": seed,
        },
        "matrix": matrix,
        "scores": scores,
    }
    return matrix


def subsample_curve(
    adata: AnnData,
    source: str | None,
    target: str,
    *,
    fractions: Sequence[float] = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0),
    n_boot: int = 10,
    model: str | None = None,
    source_key: str | None = None,
    strategy: str = "discriminative_lr",
    key_added: str = "subsample_curve",
    split_key: str = "split",
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    patience: int | None = 10,
    device: str | None = None,
    precision: str = "auto",
    seed: int | None = None,
) -> pd.DataFrame:
    """How much target data transfer saves: fine-tuned vs from-scratch per training share.

    ChromTransfer's small-data design: for each fraction, ``n_boot``
    subsamples of the target's training labels (drawn per class, each with
    its own seed); on each, the source model is fine-tuned and the same
    architecture trained from scratch, both early-stopped on the target's
    ``valid`` genes and scored on its ``test`` genes. The source model is
    fitted once (or taken from ``uns``).

    Parameters
    ----------
    adata
        Object with inputs and labels of source and target, ``var[split_key]``.
    source
        Source cell type (or None with ``source_key``).
    target
        Target cell type, with training labels.
    fractions
        Shares of the target's training labels, each in (0, 1].
    n_boot
        Subsamples per fraction.
    model, source_key, strategy, split_key
        As in :func:`finetune`.
    key_added
        Where results go.
    epochs, batch_size, lr, weight_decay, patience, device, precision, seed
        As in :func:`finetune`.

    Returns
    -------
    The summary table, also written to ``adata.uns[key_added]``: ``summary``
    (one row per fraction × approach: ``n_train``, and mean and sd of each
    test metric), ``runs`` (every subsample's scores, with ``zero_shot``
    once as a reference, ``fraction`` 0) and ``params``.
    """
    if isinstance(fractions, str) or not isinstance(fractions, Sequence) or not fractions:
        raise ValueError(
            f"fractions must be a non-empty list of shares in (0, 1], got {fractions!r}"
        )
    fractions = [_check_fraction(f) for f in fractions]
    repeated = sorted({f for f in fractions if fractions.count(f) > 1})
    if repeated:
        raise ValueError(f"fractions {repeated} appear more than once; name each share once")
    try:
        n_boot = check_int(n_boot, "n_boot", minimum=1)
    except ValueError as error:
        raise ValueError(f"{error}: n_boot must be at least 1") from None
    _check_strategy(strategy)
    training = check_training(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        patience=patience,
        device=device,
        precision=precision,
        seed=seed,
    )
    seed = training["seed"]
    check_key_added(adata, key_added, "subsample_curve")
    chosen = choose_source(adata, source, model=model, source_key=source_key)
    (target,) = _targets(adata, chosen, _check_cell_type(adata, target, "target"))
    _check_scorable(adata, chosen, [target], split_key, labels_needed=True)
    sizes = {k: training[k] for k in ("epochs", "batch_size", "weight_decay")}
    key = fit_source(
        adata, chosen, split_key=split_key, seed=seed, device=device,
        patience=training["patience"], precision=precision, **sizes,
    )  # fmt: skip
    record, data = _prepare(adata, key, split_key, f"the source model uns[{key!r}]", [target])
    name = record["config"]["model"]["name"]
    options = {
        "device": resolve_device(device),
        "precision": precision,
        "patience": training["patience"],
    }
    target_data = _Target(adata, data, target, options["device"], precision)
    zero_shot = target_data.score(target_data.predict(rebuild(record)))
    rows = [{"fraction": 0.0, "boot": 0, "approach": "zero_shot", "n_train": 0, **zero_shot}]
    finetune_training = resolve_training(name, lr=training["lr"], **sizes)
    scratch_training = resolve_training(name, **sizes)
    runs = [(f, b) for f in fractions for b in range(n_boot)]
    for fraction, boot in progress(runs, desc=f"subsample curve → {target}", unit="run"):
        result = transfer_once(
            record,
            target_data,
            strategy=strategy,
            fraction=fraction,
            finetune_training=finetune_training,
            scratch_training=scratch_training,
            seed=seed + boot,
            **options,
        )
        for approach, values in result["scores"].items():
            rows.append(
                {
                    "fraction": fraction,
                    "boot": boot,
                    "approach": approach,
                    "n_train": result["n_train"],
                    **values,
                }
            )
    table = pd.DataFrame(rows)
    metrics = [c for c in table.columns if c not in ("fraction", "boot", "approach", "n_train")]
    summary = table.groupby(["fraction", "approach"], sort=True).agg(
        n_train=("n_train", "mean"),
        **{f"{m}_mean": (m, "mean") for m in metrics},
        **{f"{m}_sd": (m, "std") for m in metrics},
    )
    summary = summary.reset_index()
    adata.uns[key_added] = {
        "params": {
            "source": source,
            "source_key": key,
            "target": target,
            "fractions": fractions,
            "n_boot": n_boot,
            "model": name,
            "strategy": strategy,
            "seed": seed,
            "split_key": split_key,
        },
        "summary": summary,
        "runs": table,
    }
    return summary
