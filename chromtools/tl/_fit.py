"""``ct.tl.fit``, ``ct.tl.predict`` and ``ct.tl.evaluate``: one API for every model."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .. import get, models
from .._settings import settings
from ._data import Batches, Inputs
from ._metrics import score_table
from ._train import predict_batches, resolve_device, train

TARGETS = {"label": "classification", "expression": "regression"}

# Training defaults per model: the papers' where they fit a CPU, else noted.
# AttentiveChrome's code uses batch 16 at lr 2e-4; batch 64 at 1e-3 trains to
# the same AUROC in far less time on a CPU.
TRAINING_DEFAULTS = {
    "deepchrome": {"epochs": 30, "batch_size": 128, "lr": 1e-3, "weight_decay": 0.0},
    "attentivechrome": {"epochs": 30, "batch_size": 64, "lr": 1e-3, "weight_decay": 0.0},
    "transferchrome": {"epochs": 30, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-4},
    "chromtransfer": {"epochs": 50, "batch_size": 256, "lr": 1e-3, "weight_decay": 0.0},
    # The authors train DeepDiff with Adam at lr 1e-4, batch 10. On the REMC
    # sample (E123 vs E003, ±5 kb, 238 training genes, 2 CPU cores, full-size
    # raw_aux_siamese), 15 epochs of that took 45 s and reached test Pearson 0.33;
    # batch 32 at lr 1e-3 took 19 s and reached 0.55, batch 64 at 1e-3 16 s and 0.40.
    "deepdiff": {"epochs": 30, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.0},
}
FALLBACK_DEFAULTS = {"epochs": 30, "batch_size": 128, "lr": 1e-3, "weight_decay": 0.0}

# Fitted scikit-learn baselines of this session, by the id recorded in uns.
_ESTIMATORS: dict[str, object] = {}


@dataclass
class Task:
    """What is learned: the target values of the chosen cell types and genes."""

    kind: str  # "classification" or "regression"
    values: np.ndarray  # (cell types, genes) float32, NaN where unknown


def target_values(adata: AnnData, target: str) -> Task:
    """The (cell types, genes) target array: ``layers['label']`` or ``X``."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {list(TARGETS)}, got {target!r}")
    if target == "label":
        if "label" not in adata.layers:
            raise KeyError("adata.layers['label'] is missing: make labels with ct.pp.binarize")
        values = adata.layers["label"]
    else:
        values = adata.X
    values = values.compute() if hasattr(values, "compute") else values
    return Task(TARGETS[target], np.asarray(values, dtype=np.float32))


def split_masks(adata: AnnData, split_key: str) -> dict[str, np.ndarray]:
    """Boolean gene masks of the ``train``/``valid``/``test`` splits in ``var``."""
    if split_key not in adata.var:
        raise KeyError(
            f"adata.var[{split_key!r}] is missing: assign one split per gene with "
            "ct.pp.split(adata) first"
        )
    split = adata.var[split_key].astype(str).to_numpy()
    masks = {name: split == name for name in ("train", "valid", "test")}
    if not masks["train"].any():
        raise ValueError(f"adata.var[{split_key!r}] has no 'train' genes")
    return masks


def has_signal(adata: AnnData) -> np.ndarray:
    """Cell types with histone signal (rows of ``obsm['histone']`` not all NaN)."""
    if "has_histone" in adata.obs:
        return adata.obs["has_histone"].to_numpy(dtype=bool)
    histone = get.histone(adata)
    first_bin = histone[:, :, :, 0]
    missing = np.isnan(first_bin).all(axis=(1, 2))
    return ~np.asarray(missing.compute() if hasattr(missing, "compute") else missing)


@dataclass
class ModelData:
    """What a model reads and learns, checked against the model's kind.

    ``shape`` holds the input-shape arguments of ``models.build`` and
    ``config`` the description recorded with the model (``uns[key]['config']
    ['data']``): for histone models the marks, bins, bin size, window and
    normalisation; for sequence models the sequence length.
    """

    task: Task
    masks: dict[str, np.ndarray]
    inputs: Inputs
    shape: dict[str, int]
    config: dict


def model_data(
    adata: AnnData,
    spec: type,
    target: str,
    split_key: str,
    marks: Sequence[str] | None = None,
) -> ModelData:
    """Inputs, targets and splits for the model class ``spec``, refusing what it cannot read."""
    name = spec.name if hasattr(spec, "name") else spec.__name__
    kind = getattr(spec, "input_kind", "histone")
    task = target_values(adata, target)
    if kind not in ("histone", "sequence"):
        raise ValueError(
            f"model {name!r} reads {kind.replace('_', ' ')} input, which ct.tl.fit does not "
            "feed; fit DeepDiff with ct.tl.differential"
        )
    supported = getattr(spec, "tasks", ("classification", "regression"))
    if task.kind not in supported:
        raise ValueError(
            f"model {name!r} does only {' and '.join(supported)}; target={target!r} is {task.kind}"
        )
    masks = split_masks(adata, split_key)
    config = {"input": kind, "target": target, "task": task.kind}
    if kind == "sequence":
        inputs = Inputs.onehot(adata)
        config["length"] = int(inputs.array.shape[1])
        return ModelData(task, masks, inputs, {}, config)
    marks = list(marks) if marks is not None else get.marks(adata)
    inputs = Inputs.histone(adata, marks)
    n_bins = int(inputs.array.shape[-1])
    config.update(histone_config(adata, marks, n_bins))
    return ModelData(task, masks, inputs, {"n_marks": len(marks), "n_bins": n_bins}, config)


def histone_config(adata: AnnData, marks: list[str], n_bins: int) -> dict:
    """What a histone model records of its input: marks, bins, bin size, window, normalisation."""
    meta = get.metadata(adata)
    return {
        "marks": marks,
        "n_bins": n_bins,
        "bin_size": int(meta["bin_size"]),
        "window": [int(w) for w in meta["window"]],
        "normalization": normalization(adata),
    }


def normalization(adata: AnnData) -> dict:
    """How the histone signal was normalised: ``ct.pp.normalize``'s method and scalar options."""
    params = get.metadata(adata).get("pp", {}).get("normalize", {})
    kept = {k: v for k, v in params.items() if v is None or isinstance(v, (str, int, float))}
    return kept if kept.get("method") else {"method": "none"}


def model_inputs(adata: AnnData, data_config: dict) -> Inputs:
    """The inputs a stored model reads, from its recorded data config."""
    if data_config.get("input", "histone") == "sequence":
        return Inputs.onehot(adata)
    return Inputs.histone(adata, data_config["marks"])


def labelled_cell_types(adata: AnnData, data: ModelData) -> np.ndarray:
    """Cell types (a boolean mask over ``obs``) with training targets and, for histone
    models, histone signal."""
    labelled = np.isfinite(data.task.values[:, data.masks["train"]]).any(axis=1)
    if data.config["input"] == "histone":
        labelled &= has_signal(adata)
    return labelled


def choose_cell_types(
    adata: AnnData, cell_types: Sequence[str] | str | None, data: ModelData, spec: type
) -> list[str]:
    """The cell types to train on, refusing those without labels or with one class."""
    task, train_genes = data.task, data.masks["train"]
    sequence = data.config["input"] == "sequence"
    if isinstance(cell_types, str):
        cell_types = [cell_types]
    if cell_types is None:
        cell_types = list(adata.obs_names[labelled_cell_types(adata, data)])
        if not cell_types:
            raise ValueError("no cell type has both histone signal and training labels")
    unknown = [c for c in cell_types if c not in adata.obs_names]
    if unknown:
        raise KeyError(f"cell types {unknown} are not in adata.obs_names {list(adata.obs_names)}")
    if sequence and len(cell_types) != 1:
        raise ValueError(
            f"model {spec.name!r} reads DNA only, the same for every cell type, so it learns one "
            f"cell type at a time; got cell_types={list(cell_types)}. Pass one of them, or a "
            "pseudo cell type such as 'any' to pre-train on every open region"
        )
    for cell_type in cell_types:
        row = task.values[adata.obs_names.get_loc(cell_type), train_genes]
        known = row[np.isfinite(row)]
        if len(known) == 0:
            what = "labels" if task.kind == "classification" else "expression"
            raise ValueError(
                f"cell type {cell_type!r} has no {what} "
                "for its training genes; predict it with a model fitted elsewhere instead"
            )
        if task.kind == "classification" and len(np.unique(known)) < 2:
            raise ValueError(
                f"cell type {cell_type!r}: all {len(known)} training labels are "
                f"{int(known[0])}; a classifier needs both classes"
            )
    return list(cell_types)


def samples(
    adata: AnnData, cell_types: list[str], genes: np.ndarray, task: Task | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(cell position, gene position, target) of every known sample."""
    cell_positions = adata.obs_names.get_indexer(cell_types)
    cells, gene_positions = np.meshgrid(cell_positions, np.flatnonzero(genes), indexing="ij")
    cells, gene_positions = cells.ravel(), gene_positions.ravel()
    if task is None:
        return cells, gene_positions, None
    values = task.values[cells, gene_positions]
    known = np.isfinite(values)
    return cells[known], gene_positions[known], values[known]


def check_finite_inputs(inputs: Inputs, cells: np.ndarray, genes: np.ndarray, what: str) -> None:
    """Refuse NaN/inf histone signal in the samples about to be used."""
    used = np.unique(cells)
    gene_set = np.unique(genes)
    part = inputs.array[used][:, gene_set] if inputs.per_cell else inputs.array[gene_set]
    bad = ~np.isfinite(part)
    per_cell = bad.reshape(bad.shape[0], -1).sum(axis=1) if inputs.per_cell else bad.sum()
    per_cell = np.asarray(per_cell.compute() if hasattr(per_cell, "compute") else per_cell)
    if per_cell.any():
        raise ValueError(
            f"{what}: the inputs hold {int(per_cell.sum())} NaN or infinite values "
            f"(cell type positions {used[np.atleast_1d(per_cell) > 0].tolist()}); "
            "a cell type without ChIP-seq cannot be used as input"
        )


def state_arrays(model: torch.nn.Module) -> dict[str, np.ndarray]:
    """The state dict as numpy arrays (what ``uns`` and safetensors hold)."""
    return {name: value.detach().cpu().numpy().copy() for name, value in model.state_dict().items()}


def rebuild(record: dict) -> torch.nn.Module:
    """The torch model stored in ``uns[key]``: architecture from config, then weights."""
    config = dict(record["config"]["model"])
    model = models.build(**config)
    state = {
        name: torch.from_numpy(np.asarray(value)) for name, value in record["state_dict"].items()
    }
    model.load_state_dict(state)
    return model


def resolve_training(name: str, **given) -> dict:
    """Training hyperparameters: what was given, else the model's defaults."""
    defaults = TRAINING_DEFAULTS.get(name, FALLBACK_DEFAULTS)
    return {k: (given[k] if given.get(k) is not None else v) for k, v in defaults.items()}


SampleSet = tuple[np.ndarray, np.ndarray, np.ndarray]


def train_samples(
    network: torch.nn.Module,
    inputs: Inputs,
    train_set: SampleSet,
    valid_set: SampleSet,
    *,
    task: str,
    training: dict,
    seed: int,
    description: str,
    **options,
) -> tuple[pd.DataFrame, int]:
    """Train ``network`` on (cells, genes, targets) samples, early-stopping on the valid ones.

    ``training`` holds ``epochs``, ``batch_size``, ``lr`` and ``weight_decay``;
    ``options`` go to :func:`~chromtools.tl._train.train` (``patience``,
    ``device``, ``precision``, ``param_groups``, ``loss_function``).
    """
    train_batches = Batches(
        inputs, *train_set, batch_size=training["batch_size"], shuffle=True, seed=seed
    )
    valid_batches = Batches(inputs, *valid_set, batch_size=1024)
    return train(
        network,
        train_batches,
        valid_batches,
        task=task,
        epochs=training["epochs"],
        lr=training["lr"],
        weight_decay=training["weight_decay"],
        description=description,
        **options,
    )


def fit(
    adata: AnnData,
    model: str = "attentivechrome",
    *,
    cell_types: Sequence[str] | str | None = None,
    target: str = "label",
    key_added: str | None = None,
    marks: Sequence[str] | None = None,
    split_key: str = "split",
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    weight_decay: float | None = None,
    patience: int | None = 10,
    device: str | None = None,
    precision: str = "auto",
    seed: int | None = None,
    hyperparameters: dict | None = None,
) -> None:
    """Train a model on the ``train`` genes of some cell types, select it on ``valid``.

    Parameters
    ----------
    adata
        Object with histone signal, labels or expression, and ``var[split_key]``.
    model
        Registered model name: ``deepchrome``, ``attentivechrome``,
        ``transferchrome`` (histone signal), ``chromtransfer`` (one-hot DNA in
        ``varm['onehot']``; one cell type at a time) or a scikit-learn
        baseline (``logreg``, ``rf``, ``svr``, ``svr2``).
    cell_types
        Cell types to train on (pooled); by default every one with histone
        signal and training labels.
    target
        ``"label"`` (classify high/low, ``layers['label']``) or
        ``"expression"`` (regress ``X``).
    key_added
        Where results go; the model name by default.
    marks
        Marks to use, by name; all by default.
    split_key
        ``var`` column with ``train``/``valid``/``test`` per gene.
    epochs, batch_size, lr, weight_decay
        Training settings; the model's defaults (``TRAINING_DEFAULTS``) when None.
    patience
        Stop after this many epochs without a better validation score
        (AUROC for labels, MSE for expression); None trains every epoch.
    device
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``…; ``ct.settings.device`` by default.
    precision
        ``"auto"`` (bf16 autocast on GPU, fp32 on CPU), ``"bf16"`` or ``"fp32"``.
    seed
        Seed of weights and batch order; ``ct.settings.seed`` by default.
        The same seed gives the same metrics on the CPU.
    hyperparameters
        Architecture options passed to the model (e.g. ``{"hidden": 64}``).

    Returns
    -------
    ``None``. Writes

    ``adata.uns[key_added]``
        ``params`` (what was run), ``config`` (model architecture and the data
        it was trained on: marks, bins, window, cell types, training genes),
        ``history`` (per-epoch losses and validation scores), ``state_dict``
        (weights as arrays) and ``metrics`` (see :func:`evaluate`).
    ``adata.layers[key_added]``
        Predictions (probability of ``high`` or expression) for every gene of
        the trained cell types; NaN elsewhere.
    """
    spec = models.get_model(model)
    key = key_added or model
    seed = settings.seed if seed is None else seed
    data = model_data(adata, spec, target, split_key, marks)
    chosen = choose_cell_types(adata, cell_types, data, spec)
    train_cells, train_genes, train_y = samples(adata, chosen, data.masks["train"], data.task)
    valid_cells, valid_genes, valid_y = samples(adata, chosen, data.masks["valid"], data.task)
    check_finite_inputs(
        data.inputs,
        np.concatenate([train_cells, valid_cells]),
        np.concatenate([train_genes, valid_genes]),
        f"fit({model!r})",
    )
    settings_used = resolve_training(
        model, epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay
    )
    data_config = {
        **data.config,
        "cell_types": chosen,
        "train_genes": [str(g) for g in adata.var_names[data.masks["train"]]],
    }
    params = {
        "model": model,
        "target": target,
        "cell_types": chosen,
        "marks": data.config.get("marks"),
        "split_key": split_key,
        "patience": patience,
        "precision": precision,
        "seed": seed,
        "hyperparameters": dict(hyperparameters or {}),
        **settings_used,
    }
    if getattr(spec, "is_sklearn", False):
        record = _fit_sklearn(spec, data, train_cells, train_genes, train_y, params)
        record["config"] = {"model": {"name": model}, "data": data_config}
    else:
        torch.manual_seed(seed)
        network = models.build(model, **data.shape, n_outputs=1, **(hyperparameters or {}))
        device_used = resolve_device(device)
        history, best_epoch = train_samples(
            network,
            data.inputs,
            (train_cells, train_genes, train_y),
            (valid_cells, valid_genes, valid_y),
            task=data.task.kind,
            training=settings_used,
            patience=patience,
            device=device_used,
            precision=precision,
            seed=seed,
            description=f"fit {model}",
        )
        params.update(device=str(device_used), best_epoch=best_epoch)
        record = {
            "params": params,
            "config": {"model": dict(network.config), "data": data_config},
            "history": history,
            "state_dict": state_arrays(network),
        }
    adata.uns[key] = record
    predict(adata, key, cell_types=chosen, device=device)
    evaluate(adata, key)


def _fit_sklearn(spec, data: ModelData, cells, genes, y, params) -> dict:
    estimator = spec(**params["hyperparameters"])
    batches = Batches(data.inputs, cells, genes, y, batch_size=len(genes) or 1)
    x, target, _ = next(iter(batches))
    estimator.fit(x.numpy(), target.numpy())
    estimator_id = uuid.uuid4().hex
    _ESTIMATORS[estimator_id] = estimator
    return {"params": {**params, "estimator_id": estimator_id}}


def _predict_sklearn(record: dict, x: np.ndarray, task: str) -> np.ndarray:
    estimator = _ESTIMATORS.get(record["params"].get("estimator_id", ""))
    if estimator is None:
        raise KeyError(
            f"the scikit-learn model {record['params']['model']!r} lives only in the session "
            "that fitted it; fit it again"
        )
    if task == "classification":
        return estimator.predict_proba(x)[:, 1]
    return estimator.predict(x)


def record_of(adata: AnnData, key: str) -> dict:
    """``uns[key]`` of a fitted model, with a clear error when absent.

    ``"finetune/E003"`` names the model that ``ct.tl.finetune(key_added="finetune")``
    fine-tuned to E003 (``uns['finetune']['models']['E003']``).
    """
    record = adata.uns.get(key)
    if record is None and "/" in key:
        outer, inner = key.split("/", 1)
        record = adata.uns.get(outer, {}).get("models", {}).get(inner)
    if not isinstance(record, dict) or "config" not in record:
        fitted = [k for k, v in adata.uns.items() if isinstance(v, dict) and "config" in v]
        raise KeyError(f"no fitted model under adata.uns[{key!r}]; fitted models: {fitted}")
    return record


def layer_key(key: str) -> str:
    """The layer that holds the predictions of model ``key``.

    Zarr and HDF5 refuse ``/`` in element names, so the fine-tuned model
    ``"finetune/E003"`` predicts into ``layers['finetune_E003']``.
    """
    return key.replace("/", "_")


def check_compatible(adata: AnnData, data_config: dict, what: str) -> None:
    """Refuse data whose marks or bins (or missing sequence) differ from a model's training data."""
    if data_config.get("input", "histone") == "sequence":
        if "onehot" not in adata.varm:
            raise ValueError(
                f"{what} reads one-hot DNA, and adata.varm['onehot'] is missing: "
                "fill it with ct.pp.one_hot(adata, fasta)"
            )
        return
    have = get.marks(adata)
    missing = [m for m in data_config["marks"] if m not in have]
    if missing:
        raise ValueError(
            f"{what} was trained on marks {data_config['marks']}; {missing} are not in this "
            f"object's marks {have}"
        )
    meta = get.metadata(adata)
    n_bins = (meta["window"][1] - meta["window"][0]) // meta["bin_size"]
    if n_bins != data_config["n_bins"] or meta["bin_size"] != data_config["bin_size"]:
        raise ValueError(
            f"{what} was trained on {data_config['n_bins']} bins of {data_config['bin_size']} bp "
            f"(window {data_config['window']}); this object has {n_bins} bins of "
            f"{meta['bin_size']} bp (window {list(meta['window'])}): use ct.pp.crop / ct.pp.rebin"
        )


def predict(
    adata: AnnData,
    key: str,
    *,
    cell_types: Sequence[str] | str | None = None,
    device: str | None = None,
    batch_size: int = 1024,
) -> None:
    """Predict every gene of some cell types with the model stored under ``key``.

    Cell types need histone signal, not expression: this is how a cell type
    with ChIP-seq but no RNA-seq gets predictions. A sequence model predicts
    the cell types it was trained on unless told otherwise.

    Parameters
    ----------
    adata
        Object with histone signal of the model's marks and bins.
    key
        ``uns`` key of a model from :func:`fit`, :func:`load_model` or a transfer.
    cell_types
        Cell types to predict; by default every one with histone signal.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``…; ``ct.settings.device`` by default.
    batch_size
        Genes per inference batch.

    Returns
    -------
    ``None``. Writes ``adata.layers[key]`` (float32; the probability of high
    expression, or the expression; NaN for cell types not predicted); for a
    fine-tuned model such as ``"finetune/E003"`` the layer is
    ``"finetune_E003"``, as ``/`` cannot be stored in Zarr.
    """
    record = record_of(adata, key)
    data_config = record["config"]["data"]
    if data_config.get("input") == "histone_pair":
        raise ValueError(
            f"uns[{key!r}] is a DeepDiff model of two cell types: its predictions are in "
            f"adata.var[{key!r}]; run ct.tl.differential again for other cell types"
        )
    check_compatible(adata, data_config, f"model {key!r}")
    if isinstance(cell_types, str):
        cell_types = [cell_types]
    if cell_types is None and data_config.get("input", "histone") == "sequence":
        cell_types = list(data_config["cell_types"])
    elif cell_types is None:
        cell_types = list(adata.obs_names[has_signal(adata)])
    unknown = [c for c in cell_types if c not in adata.obs_names]
    if unknown:
        raise KeyError(f"cell types {unknown} are not in adata.obs_names")
    inputs = model_inputs(adata, data_config)
    cells, genes, _ = samples(adata, list(cell_types), np.ones(adata.n_vars, bool), None)
    check_finite_inputs(inputs, cells, genes, f"predict({key!r})")
    batches = Batches(inputs, cells, genes, batch_size=batch_size)
    task = data_config["task"]
    if "state_dict" in record:
        network = rebuild(record)
        device_used = resolve_device(device)
        network.to(device_used)
        values = predict_batches(network, batches, device=device_used, task=task)
    else:
        x, _, _ = next(iter(Batches(inputs, cells, genes, batch_size=len(genes))))
        values = _predict_sklearn(record, x.numpy(), task)
    name = layer_key(key)
    layer = adata.layers[name] if name in adata.layers else None
    layer = (
        np.full(adata.shape, np.nan, dtype=np.float32)
        if layer is None
        else np.array(layer, dtype=np.float32)
    )
    layer[cells, genes] = values
    adata.layers[name] = layer


def evaluate(adata: AnnData, key: str, *, split_key: str | None = None) -> pd.DataFrame:
    """Score the predictions in ``layers[key]`` per cell type and split.

    Parameters
    ----------
    adata
        Object with ``layers[key]`` and the truth (``layers['label']`` or ``X``).
    key
        The model's key.
    split_key
        ``var`` column of splits; the one the model was fitted with by default.

    Returns
    -------
    The metrics table, also written to ``adata.uns[key]['metrics']``: one row
    per cell type × split with ``auroc``, ``auprc``, ``f1``, ``accuracy``
    (labels) or ``pearson``, ``spearman``, ``mse`` (expression), and ``n``.
    """
    record = record_of(adata, key)
    name = layer_key(key)
    if name not in adata.layers:
        raise KeyError(f"adata.layers[{name!r}] is missing: run ct.tl.predict(adata, {key!r})")
    data_config = record["config"]["data"]
    split_key = split_key or record.get("params", {}).get("split_key", "split")
    split_masks(adata, split_key)
    task = target_values(adata, data_config["target"])
    predictions = np.asarray(adata.layers[name], dtype=np.float32)
    predicted = np.isfinite(predictions).any(axis=1)
    cell_types = list(adata.obs_names[predicted])
    table = score_table(
        task.values[predicted],
        predictions[predicted],
        cell_types,
        adata.var[split_key].astype(str),
        task.kind,
    )
    record["metrics"] = table
    return table
