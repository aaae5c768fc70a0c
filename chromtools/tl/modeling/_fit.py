"""``ct.tl.fit``, ``ct.tl.predict`` and ``ct.tl.evaluate``: one API for every model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from ... import models
from ..._docs import SHARED, doc_params
from ..._matching import signal_quantiles
from ..._results import RESERVED_KEYS, check_writable, kind_of, record_params, storage_name
from ..._utils import check_int, renamed_keyword
from ..engine import (
    DataView,
    Inputs,
    ModelData,
    Task,
    TrainingConfig,
    adapter_for,
    adapter_of,
    check_cell_types,
    check_checkpoint_files,
    check_finite_inputs,
    check_hyperparameters,
    check_model,
    checkpoint_file,
    checkpoint_folder,
    choose_cell_types,
    matched_inputs,
    record_in,
    record_of,
    refuse_without_signal,
    resolve_device,
    samples_at,
    score_table,
    split_masks,
    target_values,
    training_config,
)


@doc_params(**SHARED)
def fit(
    adata: AnnData,
    model: str | None = None,
    *,
    cell_types: Sequence[str] | str | None = None,
    y: str = "label",
    key_added: str | None = None,
    marks: Sequence[str] | None = None,
    split_key: str = "split",
    training: TrainingConfig | dict | None = None,
    hyperparameters: dict | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    **training_options: object,
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
        baseline (``logreg``, ``rf``, ``svr``, ``svr2``). {model_default}
    cell_types
        Cell types to train on (pooled); by default every one with histone
        signal and training labels.
    y
        What is learned: ``"label"`` (classify high/low, ``layers['label']``)
        or ``"expression"`` (regress ``X``). ``target=`` is its old name,
        still accepted with a ``FutureWarning``.
    key_added
        Where results go; the model name by default. It may replace an
        earlier model under that key (its predictions are dropped), never a
        reserved slot (``label``, ``chromtools``, ``histone``, ``counts``,
        ``onehot``, ``split``), another kind of result or a layer, ``obsm`` or
        ``uns`` entry that is not a model; ``/`` is refused (Zarr cannot store it).
    marks
        Marks to use, by name, each once; all by default.
    split_key
        {split_key}
    training
        {training}
    hyperparameters
        Architecture options passed to the model (e.g. ``{{"hidden": 64}}``).
    checkpoint_dir
        {checkpoint_dir} The file is ``fit_<model>.pt``.
    resume
        {resume}
    **training_options
        {training_options}

    Returns
    -------
    ``None``. Writes

    ``adata.uns[key_added]``
        ``params`` (what was run: model, ``y``, cell types, marks, split,
        every training option resolved, device, best epoch), ``config``
        (model architecture and the data it was trained on: marks, bins,
        window, cell types, training genes), ``history`` (per-epoch losses
        and validation scores), ``state_dict`` (weights as arrays; a
        baseline's ``estimator`` bytes instead) and ``metrics`` (see :func:`evaluate`).
    ``adata.layers[key_added]``
        Predictions (probability of ``high`` or expression) for every gene of
        the trained cell types; NaN elsewhere.
    """
    y = renamed_keyword(training_options, "target", "y", y, "label", "fit")
    fit_view(DataView(adata), model, cell_types=cell_types, y=y, key_added=key_added,
             marks=marks, split_key=split_key, training=training,
             hyperparameters=hyperparameters, checkpoint_dir=checkpoint_dir, resume=resume,
             **training_options)  # fmt: skip


def fit_view(
    view: DataView,
    model: str | None = None,
    *,
    data: ModelData | None = None,
    cell_types: Sequence[str] | str | None = None,
    y: str = "label",
    key_added: str | None = None,
    marks: Sequence[str] | None = None,
    split_key: str = "split",
    training: TrainingConfig | dict | None = None,
    hyperparameters: dict | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    **training_options: object,
) -> None:
    """:func:`fit` on the object ``view`` read; ``data`` is the model data of ``model``,
    ``y``, ``split_key`` and ``marks`` when the caller has read it already."""
    adata = view.adata
    model = view.default_model if model is None else model
    spec = models.get_model(model)
    config = training_config(training, training_options, f"fit({model!r})").resolved(spec)
    key = model if key_added is None else key_added
    check_writable(adata, "model", key)
    hyperparameters = check_hyperparameters(hyperparameters, f"fit({model!r})")
    folder = checkpoint_folder(checkpoint_dir, resume)
    check_checkpoint_files(folder, [f"fit_{spec.name}"])
    data = view.model_data(spec, y, split_key, marks) if data is None else data
    chosen = choose_cell_types(view.obs_names, view.signal, cell_types, data, spec, view.cell_names)
    train_set = samples_at(view.obs_names, chosen, data.masks["train"], data.task)
    valid_set = samples_at(view.obs_names, chosen, data.masks["valid"], data.task)
    check_finite_inputs(
        data.inputs,
        np.concatenate([train_set[0], valid_set[0]]),
        np.concatenate([train_set[1], valid_set[1]]),
        f"fit({model!r})",
        view.obs_names,
    )
    entries, fitted = adapter_for(spec).fit(
        spec,
        hyperparameters,
        data.shape,
        data.inputs,
        (train_set, valid_set),
        task=data.task.kind,
        training=config,
        checkpoint=checkpoint_file(folder, f"fit_{spec.name}"),
        resume=resume,
        identity={"data": data.config},
    )
    entries["config"]["data"] = {
        **data.config,
        "cell_types": chosen,
        "train_genes": [str(g) for g in view.var_names[data.masks["train"]]],
    }
    if data.config["input"] == models.HISTONE:  # what ct.pp.match_signal maps other data onto
        cells = view.obs_names.get_indexer(chosen)
        quantiles = signal_quantiles(data.inputs.array, cells, data.masks["train"])
        recorded = dict(zip(data.config["marks"], quantiles.tolist(), strict=True))
        entries["config"]["data"]["input_quantiles"] = recorded
    params = record_params(
        "fit",
        model=model,
        y=y,
        cell_types=chosen,
        marks=data.config.get("marks"),
        split_key=split_key,
        hyperparameters=hyperparameters,
        # what training resolved (the device used, the best epoch) over what was asked
        **{**config.to_dict(), **fitted},
    )
    adata.uns[key] = {"params": params, **entries}
    record = adata.uns[key]
    # a fresh layer: rows predicted by an earlier model under this key must not be scored
    if storage_name(key) in adata.layers:
        del adata.layers[storage_name(key)]
    _predict(view, key, record, chosen, device=config.device, batch_size=1024, inputs=data.inputs)
    _score(adata, key, record, data.task, split_key)


def predict(
    adata: AnnData,
    key: str,
    *,
    cell_types: Sequence[str] | str | None = None,
    device: str | None = None,
    batch_size: int = 1024,
    match_input: bool = False,
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
    match_input
        Map the signal of the cell types the model was not trained on onto its
        training distribution first, as :func:`~chromtools.pp.match_signal` does,
        without changing ``adata``: for signal from another pipeline.

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
    view = DataView(adata)
    record = record_in(view.adata, key)
    data_config = record["config"]["data"]
    if data_config.get("input") == models.HISTONE_PAIR:
        raise ValueError(
            f"uns[{key!r}] is a DeepDiff model of two cell types: its predictions are in "
            f"adata.var[{key!r}]; run ct.tl.differential again for other cell types"
        )
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if not isinstance(match_input, bool):
        raise ValueError(f"match_input must be True or False, got {match_input!r}")
    resolve_device(device)  # refuse a bad device before any work
    if cell_types is None and data_config.get("input", models.HISTONE) != models.HISTONE:
        cell_types = list(data_config["cell_types"])
    elif cell_types is None:
        cell_types = list(view.obs_names[view.signal])
        if not cell_types:
            raise ValueError(f"predict({key!r}): no cell type has histone signal")
    _predict(view, key, record, cell_types, device=device, batch_size=batch_size, match=match_input)


def _predict(
    view: DataView,
    key: str,
    record: dict,
    cell_types: Sequence[str] | str,
    *,
    device: str | None,
    batch_size: int,
    inputs: Inputs | None = None,
    match: bool = False,
) -> None:
    """:func:`predict` of ``cell_types`` with the model ``record`` (``uns[key]``), on the
    object ``view`` read; ``inputs``: the model's inputs, when the caller has them;
    ``match``: the moved cell types' inputs matched onto the training distribution."""
    adata, data_config = view.adata, record["config"]["data"]
    cell_types = check_cell_types(view.obs_names, cell_types, names=view.cell_names)
    if data_config.get("input", models.HISTONE) == models.HISTONE:
        refuse_without_signal(view.obs_names, view.signal, cell_types, "cell_types")
    check_model(adata, record, f"the model under uns[{key!r}]", cell_types=cell_types,
                meta=view.meta, signal=view.histone, matched=match)  # fmt: skip
    name = storage_name(key)
    if name in RESERVED_KEYS:
        raise ValueError(
            f"predict({key!r}) would write its predictions over layers[{name!r}], a reserved "
            f"name of chromtools' data layout; store the model under another key"
        )
    if name in adata.layers and name != key and kind_of(adata.uns.get(name)) is not None:
        raise ValueError(
            f"predict({key!r}) writes layers[{name!r}], which holds the predictions of the "
            f"result uns[{name!r}]; rename one of them"
        )
    inputs = view.inputs(data_config) if inputs is None else inputs
    if match:
        trained = [str(c) for c in data_config.get("cell_types", [])]
        moved = [view.obs_names.get_loc(c) for c in cell_types if c not in trained]
        inputs = matched_inputs(inputs, data_config, moved, f"predict({key!r})")
    cells, genes, _ = samples_at(view.obs_names, cell_types, np.ones(adata.n_vars, bool), None)
    check_finite_inputs(inputs, cells, genes, f"predict({key!r})", view.obs_names)
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
    if kind_of(record) == "differential":
        raise ValueError(
            f"uns[{key!r}] is a DeepDiff model: its metrics are in adata.uns[{key!r}]['metrics'] "
            "and its predictions in adata.var"
        )
    name = storage_name(key)
    if name not in adata.layers:
        raise KeyError(f"adata.layers[{name!r}] is missing: run ct.tl.predict(adata, {key!r})")
    data_config = record["config"]["data"]
    split_key = split_key or record.get("params", {}).get("split_key", "split")
    split_masks(adata, split_key)
    return _score(adata, key, record, target_values(adata, data_config["target"]), split_key)


def _score(adata: AnnData, key: str, record: dict, task: Task, split_key: str) -> pd.DataFrame:
    """:func:`evaluate`'s table of ``layers[key]`` against ``task``, stored in ``record``."""
    predictions = np.asarray(adata.layers[storage_name(key)], dtype=np.float32)
    predicted = np.isfinite(predictions).any(axis=1)
    table = score_table(
        task.values[predicted],
        predictions[predicted],
        list(adata.obs_names[predicted]),
        adata.var[split_key].astype(str),
        task.kind,
    )
    record["metrics"] = table
    return table
