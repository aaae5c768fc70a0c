"""``ct.tl.transfer_matrix``: every source cell type's model scored, as it is, on every target."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from anndata import AnnData

from ... import models
from ..._docs import SHARED, doc_params
from ..._results import check_writable
from ..._utils import progress
from ..engine import (
    FIELDS,
    METRICS,
    DataView,
    TrainingConfig,
    check_cell_types,
    check_transferable,
    default_model,
    labelled_of,
    rebuild,
    training_config,
)
from ._source import choose_source, fit_source, fit_target
from ._strategies import TargetSamples, prepare

# What transfer_matrix passes on to ct.tl.fit for the sources it fits.
FIT_OPTIONS = ("y", "target", "marks", "hyperparameters")


@doc_params(**SHARED)
def transfer_matrix(
    adata: AnnData,
    sources: Sequence[str] | None = None,
    targets: Sequence[str] | None = None,
    *,
    model: str | None = None,
    key_added: str = "transfer_matrix",
    split_key: str = "split",
    metric: str = "auroc",
    training: TrainingConfig | dict | None = None,
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
        Model to look for or fit on each source. {model_default}
    key_added
        Where results go.
    split_key
        {split_key}
    metric
        Score to tabulate: ``auroc``, ``auprc``, ``f1`` (labels) or
        ``pearson``, ``spearman``, ``mse`` (expression).
    training
        {training} Used for the sources fitted here, and its device for predicting.
    **fit_options
        Passed to :func:`~chromtools.tl.fit` for the sources fitted here
        (``y``, ``marks``, ``hyperparameters``), and training options by name.

    Returns
    -------
    The source × target table, also written to ``adata.uns[key_added]``:
    ``matrix`` (that table), ``scores`` (long table: source, target, every
    metric, ``n`` test genes) and ``params``.
    """
    model = default_model(adata) if model is None else model
    check_transferable(model, "transfer_matrix")
    unknown = sorted(set(fit_options) - set(FIT_OPTIONS) - set(FIELDS))
    if unknown:
        raise ValueError(
            f"transfer_matrix: {unknown} are not options of ct.tl.fit it can pass on; "
            f"those are {sorted(set(FIT_OPTIONS) - {'target'}) + ['training', *FIELDS]}"
        )
    passed = {k: v for k, v in fit_options.items() if k in FIT_OPTIONS}
    config = training_config(
        training, {k: v for k, v in fit_options.items() if k in FIELDS}, "transfer_matrix"
    ).resolved(model)
    check_writable(adata, "transfer_matrix", key_added)
    y = fit_target(passed)
    view = DataView(adata)
    data = view.model_data(models.get_model(model), y, split_key)
    if metric not in METRICS[data.task.kind]:
        raise ValueError(
            f"metric {metric!r} is not one of {list(METRICS[data.task.kind])} "
            f"({data.task.kind} of y={y!r})"
        )
    labelled = list(view.obs_names[labelled_of(data, view.signal)])
    sources = check_cell_types(view.obs_names, labelled if sources is None else sources, "sources")
    targets = check_cell_types(view.obs_names, labelled if targets is None else targets, "targets")
    unlabelled = [c for c in targets if c not in labelled]
    if unlabelled:
        raise ValueError(f"targets {unlabelled} have no training labels or no inputs to score")
    if not data.masks["test"].any():
        raise ValueError(
            f"adata.var[{split_key!r}] has no 'test' genes to score the transfers on; assign "
            "train/valid/test genes with ct.pp.split(adata)"
        )
    # every source model is chosen (and every missing one known fittable) before any fitting
    chosen = {name: choose_source(view, name, model=model, source_key=None) for name in sources}
    unfittable = [name for name in sources if chosen[name].key is None and name not in labelled]
    if unfittable:
        raise ValueError(
            f"sources {unfittable} have no {model!r} model fitted on them alone in adata.uns "
            f"and no training labels to fit one; sources with labels: {labelled}"
        )
    rows = []
    for source in progress(sources, desc="transfer matrix", unit="source"):
        key = fit_source(view, chosen[source], split_key=split_key, training=config, data=data,
                         **passed)  # fmt: skip
        others = [t for t in targets if t != source]
        record, source_data = prepare(view, key, split_key, f"the model uns[{key!r}]", others)
        network = rebuild(record)
        for name in targets:
            samples = TargetSamples(view.names, source_data, name, config)
            rows.append(
                {"source": source, "target": name, **samples.score(samples.predict(network))}
            )
    scores = pd.DataFrame(rows)
    matrix = scores.pivot(index="source", columns="target", values=metric).loc[sources, targets]
    adata.uns[key_added] = {
        "params": {
            "sources": sources,
            "targets": targets,
            "model": model,
            "metric": metric,
            "split_key": split_key,
            **config.to_dict(),
        },
        "matrix": matrix,
        "scores": scores,
    }
    return matrix
