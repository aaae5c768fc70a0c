"""``ct.tl.fit``, ``ct.tl.predict`` and ``ct.tl.evaluate``: one API for every model."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .. import get, models
from .._utils import check_int
from ._adapters import SklearnAdapter, TorchAdapter, adapter_for, adapter_of
from ._data import Batches, Inputs
from ._metrics import score_table
from ._train import check_training, resolve_device, train

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

# Slots of the data model that no result may be written over (DESIGN.md, section 1).
RESERVED_KEYS = ("label", "chromtools", "histone", "counts", "onehot", "split")
# Model arguments that fit and differential take from the data, not from hyperparameters.
_SHAPE_ARGUMENTS = ("n_marks", "n_bins", "n_outputs")


class NormalizationWarning(UserWarning):
    """A model's training signal and this object's were normalised differently (or not at all)."""


def result_kind(value: object) -> str | None:
    """What a ``ct.tl`` function wrote into ``uns``: ``"model"`` (fit, pretrain,
    load_model), ``"differential"``, ``"finetune"``, ``"transfer_matrix"``,
    ``"subsample_curve"``; None for anything else."""
    if not isinstance(value, Mapping) or "params" not in value:
        return None
    if "config" in value:
        data = value["config"].get("data", {}) if isinstance(value["config"], Mapping) else {}
        return "differential" if data.get("input") == "histone_pair" else "model"
    for kind, marker in (
        ("finetune", "models"),
        ("transfer_matrix", "matrix"),
        ("subsample_curve", "summary"),
    ):
        if marker in value:
            return kind
    return None


def check_key_added(
    adata: AnnData, key: object, kind: str, *, layers: bool = False, var: Sequence[str] = ()
) -> str:
    """Refuse a ``key_added`` that would overwrite what is not a ``kind`` result of chromtools.

    ``key`` may replace an earlier result of the same kind (refitting under one
    key), never a reserved slot (:data:`RESERVED_KEYS`), nor an ``uns``,
    ``obsm``, ``layers`` (when ``layers``) or ``var`` column (those in ``var``)
    entry that some other step wrote. ``/`` is refused: Zarr and HDF5 cannot
    store it in an element name.
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"key_added must be a non-empty string, got {key!r}")
    if "/" in key:
        raise ValueError(
            f"key_added={key!r} contains '/', which Zarr and HDF5 cannot store in an element "
            f"name; use e.g. {key.replace('/', '_')!r}"
        )
    if key in RESERVED_KEYS:
        raise ValueError(
            f"key_added={key!r} is a reserved name of chromtools' data layout "
            f"{list(RESERVED_KEYS)}; writing there would destroy the data. Pick another key"
        )
    existing = adata.uns.get(key)
    ours = result_kind(existing) == kind
    clashes = []
    if existing is not None and not ours:
        found = result_kind(existing)
        clashes.append(f"uns[{key!r}] ({'a ' + found + ' result' if found else 'not a result'})")
    if key in adata.obsm:
        clashes.append(f"obsm[{key!r}]")
    if layers and key in adata.layers and not ours:
        clashes.append(f"layers[{key!r}]")
    clashes += [f"var[{column!r}]" for column in var if column in adata.var and not ours]
    if clashes:
        raise ValueError(
            f"key_added={key!r} would overwrite {', '.join(clashes)}, which is not a "
            f"{kind.replace('_', ' ')} result of chromtools; pick another key_added or delete "
            "that entry first"
        )
    return key


def check_cell_types(
    adata: AnnData, cell_types: Sequence[str] | str, what: str = "cell_types"
) -> list[str]:
    """``cell_types`` as a list of obs names: one name or a non-empty list without
    repeats, every one in ``adata.obs_names``."""
    if isinstance(cell_types, str):
        cell_types = [cell_types]
    if not isinstance(cell_types, Sequence | pd.Index | np.ndarray):
        raise ValueError(f"{what} must be a cell type name or a list of them, got {cell_types!r}")
    cell_types = list(cell_types)
    if not cell_types:
        raise ValueError(
            f"{what} is empty; name at least one of adata.obs_names {list(adata.obs_names)}, "
            "or pass None for the default"
        )
    not_names = [c for c in cell_types if not isinstance(c, str)]
    if not_names:
        raise ValueError(f"{what} must be cell type names (strings), got {not_names}")
    repeated = sorted({c for c in cell_types if cell_types.count(c) > 1})
    if repeated:
        raise ValueError(f"{what} names {repeated} more than once; name each cell type once")
    unknown = [c for c in cell_types if c not in adata.obs_names]
    if unknown:
        raise KeyError(f"{what} {unknown} are not in adata.obs_names {list(adata.obs_names)}")
    return cell_types


def check_marks(adata: AnnData, marks: Sequence[str] | str | None) -> list[str]:
    """The marks to use, by name: all of this object's when None; refuses an empty
    list, repeats and names not in the data (listing those available)."""
    have = get.marks(adata)
    if marks is None:
        return have
    if isinstance(marks, str):
        marks = [marks]
    marks = list(marks)
    if not marks:
        raise ValueError(f"marks is empty; name some of this object's marks {have}, or pass None")
    repeated = sorted({str(m) for m in marks if marks.count(m) > 1})
    if repeated:
        raise ValueError(f"marks {repeated} appear more than once; name each mark once")
    missing = [m for m in marks if m not in have]
    if missing:
        raise KeyError(f"marks {missing} are not in this object's marks {have}")
    return [str(m) for m in marks]


def check_hyperparameters(hyperparameters: object, what: str) -> dict:
    """Architecture options as a dict, refusing the shape arguments the data set."""
    if hyperparameters is None:
        return {}
    if not isinstance(hyperparameters, Mapping):
        raise ValueError(
            f"{what}: hyperparameters must be a dict of architecture options, "
            f"got {hyperparameters!r}"
        )
    clashing = sorted(set(hyperparameters) & set(_SHAPE_ARGUMENTS))
    if clashing:
        raise ValueError(
            f"{what}: hyperparameters {clashing} are set from the data (marks=, the bins); "
            "leave them out of hyperparameters"
        )
    return dict(hyperparameters)


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
    values = np.asarray(values.toarray() if hasattr(values, "toarray") else values, np.float32)
    if target == "label":
        found = np.unique(values[np.isfinite(values)])
        if not np.isin(found, (0.0, 1.0)).all():
            raise ValueError(
                f"adata.layers['label'] must hold 0/1 labels (NaN where unknown), found values "
                f"{found[~np.isin(found, (0.0, 1.0))][:5].tolist()}; make labels with "
                "ct.pp.binarize, or fit target='expression'"
            )
    return Task(TARGETS[target], values)


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
    marks = check_marks(adata, marks)
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
    if cell_types is None:
        cell_types = list(adata.obs_names[labelled_cell_types(adata, data)])
        if not cell_types:
            raise ValueError(
                "no cell type has both histone signal and training labels; with signal: "
                f"{with_signal(adata)}, with training labels: "
                f"{list(adata.obs_names[np.isfinite(task.values[:, train_genes]).any(axis=1)])}"
            )
    cell_types = check_cell_types(adata, cell_types)
    if not sequence:
        check_has_signal(adata, cell_types, "cell_types")
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


def with_signal(adata: AnnData) -> list[str]:
    """Names of the cell types with histone signal."""
    return list(adata.obs_names[has_signal(adata)])


def check_has_signal(adata: AnnData, cell_types: Sequence[str], role: str) -> None:
    """Refuse cell types without histone signal, naming those that have it."""
    signal = has_signal(adata)
    without = [c for c in cell_types if not signal[adata.obs_names.get_loc(c)]]
    if without:
        raise ValueError(
            f"{role} {without}: no histone signal in this object (obsm['histone'] is NaN "
            f"there, e.g. expression without ChIP-seq); cell types with signal: "
            f"{with_signal(adata)}"
        )


def check_finite_inputs(
    inputs: Inputs,
    cells: np.ndarray,
    genes: np.ndarray,
    what: str,
    obs_names: pd.Index | None = None,
) -> None:
    """Refuse NaN/inf histone signal in the samples about to be used, naming the cell types."""
    used = np.unique(cells)
    gene_set = np.unique(genes)
    part = inputs.array[used][:, gene_set] if inputs.per_cell else inputs.array[gene_set]
    bad = ~np.isfinite(part)
    per_cell = bad.reshape(bad.shape[0], -1).sum(axis=1) if inputs.per_cell else bad.sum()
    per_cell = np.asarray(per_cell.compute() if hasattr(per_cell, "compute") else per_cell)
    if per_cell.any():
        bad_cells = used[np.atleast_1d(per_cell) > 0].tolist() if inputs.per_cell else []
        where = (
            f"cell types {[str(obs_names[c]) for c in bad_cells]}"
            if obs_names is not None
            else f"cell type positions {bad_cells}"
        )
        raise ValueError(
            f"{what}: the inputs hold {int(per_cell.sum())} NaN or infinite values ({where}); "
            "a cell type without ChIP-seq cannot be used as input"
        )


state_arrays = TorchAdapter.arrays
rebuild = TorchAdapter.load


def non_finite_weights(state: Mapping[str, np.ndarray]) -> int:
    """How many weights (state dict entries) are NaN or infinite."""
    return int(sum((~np.isfinite(np.asarray(v, dtype=np.float64))).sum() for v in state.values()))


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
        Where results go; the model name by default. It may replace an
        earlier model under that key (its predictions are dropped), never a
        reserved slot (``label``, ``chromtools``, ``histone``, ``counts``,
        ``onehot``, ``split``), another kind of result or a layer, ``obsm`` or
        ``uns`` entry that is not a model; ``/`` is refused (Zarr cannot store it).
    marks
        Marks to use, by name, each once; all by default.
    split_key
        ``var`` column with ``train``/``valid``/``test`` per gene.
    epochs, batch_size, lr, weight_decay
        Training settings; the model's defaults (``TRAINING_DEFAULTS``) when None.
    patience
        Stop after this many epochs (at least 1) without a better validation
        score (AUROC for labels, MSE for expression); None trains every epoch.
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
    seed, patience = options["seed"], options["patience"]
    key = check_key_added(adata, model if key_added is None else key_added, "model", layers=True)
    hyperparameters = check_hyperparameters(hyperparameters, f"fit({model!r})")
    data = model_data(adata, spec, target, split_key, marks)
    chosen = choose_cell_types(adata, cell_types, data, spec)
    train_cells, train_genes, train_y = samples(adata, chosen, data.masks["train"], data.task)
    valid_cells, valid_genes, valid_y = samples(adata, chosen, data.masks["valid"], data.task)
    check_finite_inputs(
        data.inputs,
        np.concatenate([train_cells, valid_cells]),
        np.concatenate([train_genes, valid_genes]),
        f"fit({model!r})",
        adata.obs_names,
    )
    settings_used = resolve_training(
        model, **{k: options[k] for k in ("epochs", "batch_size", "lr", "weight_decay")}
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
        "hyperparameters": hyperparameters,
        **settings_used,
    }
    if adapter_for(spec).kind == "sklearn":
        estimator = SklearnAdapter.fit(
            spec, hyperparameters, data.inputs, train_cells, train_genes, train_y
        )
        record = {
            "params": params,
            "config": {"model": {"name": model}, "data": data_config},
            **SklearnAdapter.arrays(estimator),
        }
    else:
        torch.manual_seed(seed)
        network = models.build(model, **data.shape, n_outputs=1, **hyperparameters)
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
        diverged = non_finite_weights(network.state_dict())
        if diverged:
            raise ValueError(
                f"fit({model!r}): training diverged, {diverged} weights are NaN or infinite; "
                f"nothing was stored. Lower lr (it was {settings_used['lr']:g})"
            )
        record = {
            "params": params,
            "config": {"model": dict(network.config), "data": data_config},
            "history": history,
            "state_dict": state_arrays(network),
        }
    adata.uns[key] = record
    # a fresh layer: rows predicted by an earlier model under this key must not be scored
    if layer_key(key) in adata.layers:
        del adata.layers[layer_key(key)]
    predict(adata, key, cell_types=chosen, device=device)
    evaluate(adata, key)


def record_of(adata: AnnData, key: str) -> dict:
    """``uns[key]`` of a fitted model, with an error that lists the models there are.

    ``"finetune/E003"`` names the model that ``ct.tl.finetune(key_added="finetune")``
    fine-tuned to E003 (``uns['finetune']['models']['E003']``).
    """
    if not isinstance(key, str):
        raise KeyError(f"a model key is a string naming an uns entry, got {key!r}")
    record = adata.uns.get(key)
    if record is None and "/" in key:
        outer, inner = key.split("/", 1)
        container = adata.uns.get(outer)
        if result_kind(container) == "finetune":
            record = container["models"].get(inner)
            if record is None:
                raise KeyError(_no_finetuned_model(adata, outer, inner))
    if result_kind(record) in ("model", "differential"):
        return record
    found = result_kind(record)
    what = f"no fitted model under adata.uns[{key!r}]"
    if found:
        what = f"uns[{key!r}] is a {found} result, not a model"
    raise KeyError(f"{what}; {_available_models(adata)}")


def _available_models(adata: AnnData) -> str:
    """What a user can pass as a model key here, and the prediction layers there are."""
    keys = []
    for name, value in adata.uns.items():
        if result_kind(value) in ("model", "differential"):
            keys.append(str(name))
        elif result_kind(value) == "finetune":
            keys += [f"{name}/{target}" for target in value["models"]]
    return f"fitted models: {keys}; layers: {list(adata.layers)}"


def _no_finetuned_model(adata: AnnData, outer: str, inner: str) -> str:
    result = adata.uns[outer]
    source = result.get("params", {}).get("source_key")
    why = result.get("not_evaluated", {}).get(inner)
    if why is not None:
        return (
            f"no model was fine-tuned to {inner!r} by ct.tl.finetune(key_added={outer!r}): "
            f"{why}. Its zero-shot predictions are in layers[{outer!r}], made by the source "
            f"model; predict with ct.tl.predict(adata, {source!r}). {_available_models(adata)}"
        )
    return (
        f"ct.tl.finetune(key_added={outer!r}) has no target {inner!r}; its fine-tuned models "
        f"are {[f'{outer}/{t}' for t in result['models']]}. {_available_models(adata)}"
    )


def layer_key(key: str) -> str:
    """The layer that holds the predictions of model ``key``.

    Zarr and HDF5 refuse ``/`` in element names, so the fine-tuned model
    ``"finetune/E003"`` predicts into ``layers['finetune_E003']``.
    """
    return key.replace("/", "_")


def check_compatible(adata: AnnData, data_config: dict, what: str) -> None:
    """Refuse data whose marks, bins or window (or missing sequence) differ from a model's
    training data."""
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
    window = [int(w) for w in np.asarray(meta["window"]).ravel()]
    n_bins = (window[1] - window[0]) // int(meta["bin_size"])
    if n_bins != data_config["n_bins"] or meta["bin_size"] != data_config["bin_size"]:
        raise ValueError(
            f"{what} was trained on {data_config['n_bins']} bins of {data_config['bin_size']} bp "
            f"(window {data_config['window']}); this object has {n_bins} bins of "
            f"{meta['bin_size']} bp (window {window}): use ct.pp.crop / ct.pp.rebin"
        )
    trained = data_config.get("window")
    if trained is not None and [int(w) for w in trained] != window:
        raise ValueError(
            f"{what} was trained on the window {list(trained)} bp around the TSS; this "
            f"object's window is {window}: the same bins hold other positions. Read or crop "
            "the signal to the model's window (ct.pp.crop)"
        )


def check_normalization(adata: AnnData, data_config: dict, what: str, *, moved: bool) -> None:
    """Warn when a model's training signal and this object's were normalised differently,
    or, when the model is ``moved`` to cell types it was not trained on, both are raw."""
    if data_config.get("input", "histone") != "histone":
        return
    trained = data_config.get("normalization", {}).get("method", "none")
    here = normalization(adata)["method"]
    if trained != here:
        fix = (
            "fit the model on signal normalised as this object's is (ct.pp.normalize)"
            if trained == "none"
            else f"normalise both the same way (ct.pp.normalize(adata, method={trained!r}))"
        )
        warnings.warn(
            f"{what} was trained on signal normalised with {trained!r}, but this object's "
            f"signal is normalised with {here!r}: inputs are not comparable; {fix}",
            NormalizationWarning,
            stacklevel=4,
        )
    elif here == "none" and moved:
        warnings.warn(
            f"{what} and this object use raw, unnormalised signal: cell types differ in "
            "sequencing depth, so a model moved between them sees shifted inputs. Run "
            "ct.pp.normalize(adata) (per-track depth, then log1p) before fitting",
            NormalizationWarning,
            stacklevel=4,
        )


def check_model(
    adata: AnnData, record: dict, what: str, *, cell_types: Sequence[str] | None = None
) -> None:
    """The one check of a stored model against the object it is about to read.

    Used by predict, finetune, transfer_matrix, subsample_curve and load_model.
    Refuses marks, bins or a window other than the model's (:func:`check_compatible`)
    and non-finite weights; warns (:class:`NormalizationWarning`) when the
    signal was normalised otherwise than the model's training signal, or is
    raw while the model is moved to ``cell_types`` it was not trained on
    (None: the cell types are not known yet, as in load_model).
    """
    data_config = record["config"]["data"]
    check_compatible(adata, data_config, what)
    trained_on = list(data_config.get("cell_types", []))
    moved = cell_types is not None and any(c not in trained_on for c in cell_types)
    check_normalization(adata, data_config, what, moved=moved)
    check_finite_weights(record.get("state_dict", {}), what)


def check_finite_weights(state: Mapping[str, np.ndarray], what: str) -> None:
    """Refuse weights holding NaN or infinity: such a model predicts only NaN."""
    bad = non_finite_weights(state)
    if bad:
        raise ValueError(
            f"{what} has {bad} non-finite weights (NaN or infinite); it cannot predict. "
            "Fit it again (with a lower lr if training diverged)"
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

    The model is checked against the object first (:func:`check_model`): marks,
    bins and window must be the model's and its weights finite; a
    :class:`NormalizationWarning` says when the signal was normalised
    otherwise than the model's training signal, or is raw while the model
    predicts cell types it was not trained on.

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
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    resolve_device(device)  # refuse a bad device before any work
    histone_input = data_config.get("input", "histone") == "histone"
    if cell_types is None and not histone_input:
        cell_types = list(data_config["cell_types"])
    elif cell_types is None:
        cell_types = with_signal(adata)
        if not cell_types:
            raise ValueError(f"predict({key!r}): no cell type has histone signal")
    cell_types = check_cell_types(adata, cell_types)
    if histone_input:
        check_has_signal(adata, cell_types, "cell_types")
    check_model(adata, record, f"the model under uns[{key!r}]", cell_types=cell_types)
    name = layer_key(key)
    if name in RESERVED_KEYS:
        raise ValueError(
            f"predict({key!r}) would write its predictions over layers[{name!r}], a reserved "
            f"name of chromtools' data layout; store the model under another key"
        )
    if name in adata.layers and name != key and result_kind(adata.uns.get(name)) is not None:
        raise ValueError(
            f"predict({key!r}) writes layers[{name!r}], which holds the predictions of the "
            f"result uns[{name!r}]; rename one of them"
        )
    inputs = model_inputs(adata, data_config)
    cells, genes, _ = samples(adata, cell_types, np.ones(adata.n_vars, bool), None)
    check_finite_inputs(inputs, cells, genes, f"predict({key!r})", adata.obs_names)
    values = adapter_of(record).predict(
        record, inputs, cells, genes, batch_size=batch_size, device=device
    )
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
    if result_kind(record) == "differential":
        raise ValueError(
            f"uns[{key!r}] is a DeepDiff model: its metrics are in adata.uns[{key!r}]['metrics'] "
            "and its predictions in adata.var"
        )
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
