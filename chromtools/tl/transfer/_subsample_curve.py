"""``ct.tl.subsample_curve``: how much target data transfer saves, per share of labels."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pandas as pd
from anndata import AnnData

from ..._docs import SHARED, doc_params
from ..._results import check_writable
from ..._settings import SEED_MAX, resolve_seed
from ..._utils import check_int, progress
from ..engine import DataView, TrainingConfig, rebuild, training_config
from ._source import check_cell_type, choose
from ._strategies import (
    TargetSamples,
    check_fraction,
    check_strategy,
    prepare_transfer,
    transfer_once,
)


@doc_params(**SHARED)
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
    training: TrainingConfig | dict | None = None,
    **training_options: object,
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
    model
        {source_options}
    key_added
        Where results go.
    split_key
        {split_key}
    training
        {training} As in :func:`finetune`, its ``lr`` is the fine-tuning
        rate; run ``b`` of each fraction draws its subsample, and trains,
        with seed ``seed + b``.
    **training_options
        {training_options}

    Returns
    -------
    The summary table, also written to ``adata.uns[key_added]``: ``summary``
    (one row per fraction × approach: ``n_train``, and mean and sd of each
    test metric), ``runs`` (every subsample's scores, with ``zero_shot``
    once as a reference, ``fraction`` 0) and ``params``.
    """
    fractions, n_boot = _check_runs(fractions, n_boot)
    check_strategy(strategy)
    config = training_config(training, training_options, "subsample_curve")
    last_seed = resolve_seed(config.seed) + n_boot - 1
    if last_seed > SEED_MAX:
        raise ValueError(
            f"subsample_curve: run b trains with seed + b, and seed + n_boot - 1 = {last_seed} "
            f"is above the largest seed, 2**32 - 1; choose a smaller seed"
        )
    check_writable(adata, "subsample_curve", key_added)
    view = DataView(adata)
    chosen, (target,) = choose(
        view, source, check_cell_type(view, target, "target"), model=model, source_key=source_key
    )
    at_default_lr = dataclasses.replace(config, lr=None)
    key, record, data = prepare_transfer(
        view, chosen, [target], split_key, labels_needed=True, training=at_default_lr
    )
    name = record["config"]["model"]["name"]
    finetune_training, scratch_training = config.resolved(name), at_default_lr.resolved(name)
    seed = finetune_training.seed
    samples = TargetSamples(view.names, data, target, finetune_training)
    zero_shot = samples.score(samples.predict(rebuild(record)))
    rows = [{"fraction": 0.0, "boot": 0, "approach": "zero_shot", "n_train": 0, **zero_shot}]
    runs = [(f, b) for f in fractions for b in range(n_boot)]
    for fraction, boot in progress(runs, desc=f"subsample curve → {target}", unit="run"):
        result = transfer_once(
            record,
            samples,
            strategy=strategy,
            fraction=fraction,
            finetune_training=dataclasses.replace(finetune_training, seed=seed + boot),
            scratch_training=dataclasses.replace(scratch_training, seed=seed + boot),
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
    summary = _summary(table)
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
            "finetune": finetune_training.to_dict(),
            "scratch_training": scratch_training.to_dict(),
        },
        "summary": summary,
        "runs": table,
    }
    return summary


def _check_runs(fractions: object, n_boot: object) -> tuple[list[float], int]:
    """The shares (a non-empty list, each in (0, 1], no repeats) and the runs per share."""
    if isinstance(fractions, str) or not isinstance(fractions, Sequence) or not fractions:
        raise ValueError(
            f"fractions must be a non-empty list of shares in (0, 1], got {fractions!r}"
        )
    fractions = [check_fraction(f) for f in fractions]
    repeated = sorted({f for f in fractions if fractions.count(f) > 1})
    if repeated:
        raise ValueError(f"fractions {repeated} appear more than once; name each share once")
    try:
        n_boot = check_int(n_boot, "n_boot", minimum=1)
    except ValueError as error:
        raise ValueError(f"{error}: n_boot must be at least 1") from None
    return fractions, n_boot


def _summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per fraction × approach: mean ``n_train``, mean and sd of each metric."""
    metrics = [c for c in table.columns if c not in ("fraction", "boot", "approach", "n_train")]
    summary = table.groupby(["fraction", "approach"], sort=True).agg(
        n_train=("n_train", "mean"),
        **{f"{m}_mean": (m, "mean") for m in metrics},
        **{f"{m}_sd": (m, "std") for m in metrics},
    )
    return summary.reset_index()
