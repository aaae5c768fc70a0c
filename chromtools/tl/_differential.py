"""``ct.tl.differential``: DeepDiff, the log fold change of expression between two cell types.

A sample is a gene read in two cell types, A and B: its histone signal in
both, (2, marks, bins), predicts ``log2((count_B + 1) / (count_A + 1))``
(:func:`chromtools.pp.log_fold_change`) through
:class:`chromtools.models.DeepDiff` and the one training loop (early stopping
on the validation MSE of the fold change). The baselines use the same genes:

``attentivechrome_difference``
    two AttentiveChrome regressors of ``log2(count + 1)``, one fitted on A,
    one on B; the fold change predicted is ``pred_B − pred_A``;
``svr2``
    the two-layer SVR (:class:`chromtools.models.TwoLayerSVR`) on the
    signal difference ``X_B − X_A``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from .. import get, models
from .._docs import SHARED, doc_params
from .._results import check_writable
from .._settings import logger
from ..models.deepdiff import VARIANTS
from ..pp._labels import raw_counts
from .engine import (
    Batches,
    Inputs,
    LossFunction,
    PairData,
    TrainingConfig,
    check_hyperparameters,
    check_pair,
    histone_config,
    pair_data,
    predict_batches,
    resolve_device,
    score,
    state_arrays,
    train_samples,
    training_config,
)

BASELINES = ("attentivechrome_difference", "svr2")
# DeepDiff hyperparameters that the AttentiveChrome baselines share, so both
# models get encoders of the same size.
_SHARED_ARCHITECTURE = ("bin_hidden", "mark_hidden", "dropout")
_PREDICT_BATCH = 1024


def _counts(adata: AnnData, layer: str, cell_types: list[str]) -> np.ndarray:
    """(2, genes) raw counts of A and B, refusing a missing layer, NaN or negative counts."""
    if layer not in adata.layers:
        raise KeyError(
            f"differential: adata.layers[{layer!r}] is missing; DeepDiff needs raw read counts "
            f"of both cell types there. Layers: {list(adata.layers)}"
        )
    return raw_counts(adata, cell_types, layer, "differential")


def _checked_options(
    adata: AnnData, key_added: str, variant: str, baselines: object, hyperparameters: dict | None
) -> dict:
    """DeepDiff's architecture options, once ``baselines``, ``key_added`` (not another
    result's), ``variant`` and ``hyperparameters`` are checked."""
    if not isinstance(baselines, bool):
        raise ValueError(f"differential: baselines must be True or False, got {baselines!r}")
    check_writable(adata, "differential", key_added, name=list(BASELINES) if baselines else [])
    if variant not in VARIANTS:
        raise ValueError(
            f"differential: unknown DeepDiff variant {variant!r}; choose one of {list(VARIANTS)}"
        )
    hyperparameters = check_hyperparameters(hyperparameters, "differential")
    if "variant" in hyperparameters:
        raise ValueError(
            "differential: hyperparameters ['variant'] are set by differential itself "
            "(variant=, marks=, the data); leave them out of hyperparameters"
        )
    return hyperparameters


def _start_at_target(layer: torch.nn.Linear, values: np.ndarray) -> None:
    """Start an output layer at the mean and scale of its training target.

    Targets of mean ~8 (log2(count + 1)) and spread ~3 to 5 are far from what
    tanh-bounded encoders give at PyTorch's initialisation; Adam would spend
    thousands of steps getting there. This makes the first epochs count.
    """
    with torch.no_grad():
        layer.bias.fill_(float(np.mean(values)))
        layer.weight.mul_(float(np.std(values)) or 1.0)


def _train_and_predict(
    network: torch.nn.Module,
    inputs: Inputs,
    cells: np.ndarray,
    target: np.ndarray,
    masks: dict[str, np.ndarray],
    *,
    training: TrainingConfig,
    description: str,
    loss_function: LossFunction | None = None,
) -> tuple[np.ndarray, pd.DataFrame, int]:
    """Train on the train genes, early-stop on the valid ones, predict every gene.

    ``cells`` holds each gene's cell-type positions (genes,) or (genes, 2) and
    ``target`` its targets, (genes,) or (genes, t) with the predicted one first.
    """

    def sample_set(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        genes = np.flatnonzero(mask)
        return cells[genes], genes, target[genes]

    history, best_epoch = train_samples(
        network,
        inputs,
        sample_set(masks["train"]),
        sample_set(masks["valid"]),
        task="regression",
        training=training,
        description=description,
        loss_function=loss_function,
    )
    every_gene = Batches(inputs, cells, np.arange(len(cells)), batch_size=_PREDICT_BATCH)
    predictions = predict_batches(
        network,
        every_gene,
        device=resolve_device(training.device),
        precision=training.precision,
        task="regression",
    )
    return predictions, history, best_epoch


def _attentivechrome_difference(
    data: PairData, architecture: dict, training: TrainingConfig
) -> np.ndarray:
    """``pred_B − pred_A`` of two AttentiveChrome regressors of log2(count + 1), for every gene."""
    predictions = []
    for name, position, values in zip(
        data.cell_types, data.positions, data.expression, strict=True
    ):
        torch.manual_seed(training.seed)
        network = models.build("attentivechrome", **architecture, n_outputs=1)
        _start_at_target(network.head, values[data.masks["train"]])
        predicted, _, _ = _train_and_predict(
            network,
            data.inputs,
            np.full(len(values), position),
            values.astype(np.float32),
            data.masks,
            training=training,
            description=f"differential: AttentiveChrome on {name}",
        )
        predictions.append(predicted)
    return predictions[1] - predictions[0]


def _svr2(data: PairData, seed: int) -> np.ndarray:
    """The two-layer SVR on ``X_B − X_A``, fitted on the train genes, for every gene."""
    genes = np.arange(len(data.pairs))
    every_gene = Batches(data.inputs, data.pairs, genes, batch_size=_PREDICT_BATCH)
    features = np.concatenate([(x[:, 1] - x[:, 0]).numpy() for x, _, _ in every_gene])
    train = data.masks["train"]
    estimator = models.build("svr2", random_state=seed)
    estimator.fit(features[train], data.fold_change[train])
    return estimator.predict(features)


def _fit_deepdiff(
    data: PairData, variant: str, architecture: dict, training: TrainingConfig, description: str
) -> tuple[torch.nn.Module, pd.DataFrame, int, np.ndarray]:
    """DeepDiff trained on the train genes (output layers started at their targets): the
    network, its history, best epoch and prediction for every gene."""
    torch.manual_seed(training.seed)
    network = models.build("deepdiff", **data.shape, n_outputs=1, variant=variant, **architecture)
    train = data.target[data.masks["train"]]
    for column, name in enumerate(("diff", "aux_a", "aux_b")):
        if name in network.head:
            if name == "diff" and network.aux_residual:
                continue  # the head corrects aux_b − aux_a, which already has the target's scale
            head = network.head[name]  # a Linear, or an MLP ending in one
            _start_at_target(head[-1] if isinstance(head, torch.nn.Sequential) else head,
                             train[:, column])  # fmt: skip

    def loss_function(outputs: dict[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        return network.loss(outputs, y[:, 0], y[:, 1], y[:, 2])

    predicted, history, best_epoch = _train_and_predict(
        network,
        data.inputs,
        data.pairs,
        data.target,
        data.masks,
        training=training,
        description=description,
        loss_function=loss_function,
    )
    return network, history, best_epoch, predicted


@contextmanager
def _clock(seconds: dict[str, float], name: str) -> Iterator[None]:
    """Time the block into ``seconds[name]``."""
    start = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - start


def _fit_baselines(
    data: PairData, architecture: dict, training: TrainingConfig, seconds: dict[str, float]
) -> dict[str, np.ndarray]:
    """The baselines' fold change of every gene, fitted on the same train genes (encoders the
    size of DeepDiff's), each one timed into ``seconds``."""
    shared = {k: v for k, v in architecture.items() if k in _SHARED_ARCHITECTURE}
    with _clock(seconds, "attentivechrome_difference"):
        difference = _attentivechrome_difference(data, {**data.shape, **shared}, training)
    with _clock(seconds, "svr2"):
        svr2 = _svr2(data, training.seed)
    return {"attentivechrome_difference": difference, "svr2": svr2}


def _metrics(
    truth: np.ndarray, predictions: dict[str, np.ndarray], split: np.ndarray
) -> pd.DataFrame:
    """One row per model × split present: Pearson, Spearman, MSE and n of the fold change."""
    rows = [
        {
            "model": model,
            "split": name,
            **score(truth[split == name], values[split == name], "regression"),
        }
        for model, values in predictions.items()
        for name in ("train", "valid", "test")
        if (split == name).any()
    ]
    return pd.DataFrame(rows, columns=["model", "split", "pearson", "spearman", "mse", "n"])


def _store(
    adata: AnnData,
    key_added: str,
    data: PairData,
    params: dict,
    network: torch.nn.Module,
    history: pd.DataFrame,
    predictions: dict[str, np.ndarray],
) -> None:
    """Write the predictions to ``var`` and the record (params, config, history, weights,
    metrics) to ``uns[key_added]``, dropping an earlier run's baseline columns."""
    split = adata.var[params["split_key"]].astype(str).to_numpy()
    data_config = {
        "input": models.HISTONE_PAIR,
        "target": "log_fold_change",
        "task": "regression",
        **histone_config(get.metadata(adata), data.marks, data.shape["n_bins"]),
        "cell_types": list(data.cell_types),
        "train_genes": [str(g) for g in adata.var_names[data.masks["train"]]],
    }
    # a rerun without baselines must not leave the earlier run's baseline columns behind
    stale = [f"{key_added}_{name}" for name in BASELINES if f"{key_added}_{name}" in adata.var]
    adata.var.drop(columns=stale, inplace=True)
    adata.var[key_added] = predictions["deepdiff"].astype(np.float64)
    for name in params["baselines"]:
        adata.var[f"{key_added}_{name}"] = np.asarray(predictions[name], dtype=np.float64)
    adata.uns[key_added] = {
        "params": params,
        "config": {"model": dict(network.config), "data": data_config},
        "history": history,
        "state_dict": state_arrays(network),
        "metrics": _metrics(data.fold_change, predictions, split),
    }


@doc_params(**SHARED)
def differential(
    adata: AnnData,
    a: str,
    b: str,
    *,
    variant: str = "raw_aux_siamese",
    key_added: str = "deepdiff",
    layer: str = "counts",
    split_key: str = "split",
    baselines: bool = True,
    marks: Sequence[str] | None = None,
    hyperparameters: dict | None = None,
    training: TrainingConfig | dict | None = None,
    **training_options: object,
) -> None:
    """Predict the log fold change of expression between two cell types with DeepDiff.

    Each gene is one sample: its histone signal in cell types ``a`` and ``b``
    predicts ``log2((count_b + 1) / (count_a + 1))`` from the raw counts in
    ``layers[layer]`` (positive: higher in ``b``). The auxiliary variants
    also regress ``log2(count + 1)`` of each cell type, and the Siamese ones
    add DeepDiff's contrastive loss (:class:`~chromtools.models.DeepDiff`).
    The network trains on the ``train`` genes of ``var[split_key]``, keeps
    its epoch of lowest validation MSE on the ``valid`` genes, and is scored
    (Pearson, Spearman, MSE) on every split. Every output layer starts at the
    mean and spread of its training target, so that small data sets train in
    few epochs. Inputs are checked before any training.

    Parameters
    ----------
    adata
        Object with histone signal of both cell types, raw counts in
        ``layers[layer]`` and ``var[split_key]``.
    a
        Reference cell type (an obs name), the denominator of the fold change.
    b
        The other cell type, the numerator.
    variant
        DeepDiff variant: ``raw_d``, ``raw_c``, ``raw``, ``aux``, ``raw_aux``,
        ``aux_siamese`` or ``raw_aux_siamese`` (the paper's best).
    key_added
        Where results go in ``var`` and ``uns``.
    layer
        Layer of raw read counts.
    split_key
        ``var`` column with ``train``/``valid``/``test`` per gene.
    baselines
        Also fit DeepDiff's baselines on the same genes:
        ``attentivechrome_difference`` (two AttentiveChrome regressors of
        ``log2(count + 1)``, one per cell type, differenced; same
        architecture options and training settings as DeepDiff) and ``svr2``
        (two-layer SVR on ``X_b − X_a``).
    marks
        Marks to use, by name; all by default.
    hyperparameters
        DeepDiff architecture options (``bin_hidden``, ``mark_hidden``,
        ``dropout``, ``contrastive_weight``, ``margin``, ``different_threshold``,
        ``aux_residual``).
    training
        {training} DeepDiff's defaults are 15 epochs, batch 32, lr 2e-3 (the
        authors': batch 10 at lr 1e-4, much slower on a CPU); the seed also
        draws the SVR's subsample.
    **training_options
        {training_options}

    Returns
    -------
    ``None``. Writes

    ``adata.var[key_added]``
        DeepDiff's predicted log2 fold change of every gene (float).
    ``adata.var[f"{{key_added}}_attentivechrome_difference"]``, ``adata.var[f"{{key_added}}_svr2"]``
        The baselines' predictions, when ``baselines=True``.
    ``adata.uns[key_added]``
        ``params`` (``a``, ``b``, ``variant``, ``layer``, ``split_key``,
        ``marks``, training settings, ``seed``, ``device``, ``best_epoch``,
        ``baselines``), ``config`` (``model``: the network's config;
        ``data``: marks, bins, bin size, window, ``cell_types`` ``[a, b]``,
        training genes, target ``log_fold_change``, task, input
        ``histone_pair``, normalisation), ``history`` (per-epoch train loss,
        validation MSE and Pearson), ``state_dict`` (weights as arrays) and
        ``metrics``: a DataFrame with one row per model (``deepdiff`` and the
        baselines) × split, columns ``model``, ``split``, ``pearson``,
        ``spearman``, ``mse``, ``n``. How long DeepDiff and each baseline took is
        logged (``ct.settings.verbosity`` 2 or more).
    """
    training = training_config(training, training_options, "differential").resolved("deepdiff")
    architecture = _checked_options(adata, key_added, variant, baselines, hyperparameters)
    check_pair(adata, a, b)
    data = pair_data(adata, (a, b), _counts(adata, layer, [a, b]), split_key, marks)
    description = f"differential {variant}: {b} vs {a}"
    seconds: dict[str, float] = {}
    with _clock(seconds, "deepdiff"):
        network, history, best_epoch, predicted = _fit_deepdiff(
            data, variant, architecture, training, description
        )
    predictions = {"deepdiff": predicted}
    if baselines:
        predictions.update(_fit_baselines(data, architecture, training, seconds))
    params = {
        "model": "deepdiff",
        "a": a,
        "b": b,
        "variant": variant,
        "layer": layer,
        "split_key": split_key,
        "marks": data.marks,
        **training.to_dict(),
        "device": str(resolve_device(training.device)),
        "best_epoch": best_epoch,
        "hyperparameters": architecture,
        "baselines": list(BASELINES) if baselines else [],
    }
    _store(adata, key_added, data, params, network, history, predictions)
    parts = ", ".join(f"{name} {value:.2f} s" for name, value in seconds.items())
    logger.info(f"differential: {parts}", extra={"seconds": dict(seconds)})  # numbers too
