"""``ct.tl.finetune``: move a source cell type's model to targets with few or no labels.

The route of ``adata``: the options are checked (:mod:`..engine`), the object
is read once into a :class:`~chromtools.tl.engine.DataView`, the source model
chosen and, if missing, fitted (:mod:`._source`, which calls
:func:`~chromtools.tl.fit`), checked against the targets' data
(:func:`._strategies.prepare`), then each target is fine-tuned and compared
(:func:`._strategies.transfer_once`, which trains through the engine's loop),
and the results are written here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData

from ..._docs import SHARED, doc_params
from ..._results import check_writable, kind_of, storage_name
from ..._settings import logger
from ..engine import (
    DataView,
    TrainingConfig,
    check_checkpoint_files,
    checkpoint_folder,
    labelled_of,
    matched_inputs,
    rebuild,
    run_options,
    state_arrays,
    training_config,
)
from ._source import choose
from ._strategies import (
    TargetSamples,
    check_fraction,
    check_strategy,
    finetune_checkpoints,
    prepare_transfer,
    transfer_once,
)

TARGET_COLUMNS = ["target", "approach", "evaluated", "n_train", "model", "reason"]
PREDICTION_COLUMNS = ["target", "approach", "gene", "truth", "prediction"]


@doc_params(**SHARED)
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
    training: TrainingConfig | dict | None = None,
    **options: object,
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
        it alone; if there is none it is fitted now, under
        ``uns[f"{{model}}_{{source}}"]``, and a message says so. Several
        candidates, or only models of other kinds when ``model`` is not named,
        are refused with their keys: pass ``source_key``.
    target
        Target cell types; by default every cell type with histone signal
        (labelled or not) that the source model was not trained on. The
        source model's own cell types are refused: their "zero-shot" score
        would be in-domain.
    model
        {source_options}
    fraction
        Share of each target's training (and validation) labels used, in
        (0, 1]; drawn per class with the seed.
    key_added
        Where results go. An earlier finetune result there is replaced, and
        the layers its fine-tuned models predicted into are dropped; any other
        entry under that key is refused.
    split_key
        {split_key} Labelled targets need ``test`` genes to be scored on.
    scratch
        Also train the from-scratch comparison.
    training
        {training} Its ``lr`` is the fine-tuning rate of the head (the
        encoder's under ``"full"``); the source model and the from-scratch
        comparison train at the model's default rate.
    checkpoint_dir
        {checkpoint_dir} Files: ``fit_<model>.pt`` for a source model fitted
        now (as :func:`~chromtools.tl.fit` names it), and per labelled target
        ``finetune_<target>_finetuned.pt`` and ``finetune_<target>_scratch.pt``.
    resume
        {resume}
    match_input
        ``match_input=True`` maps each target's signal onto the source model's
        training distribution first, as :func:`~chromtools.pp.match_signal`
        does, without changing ``adata``: for targets from another pipeline.
        Recorded in ``params``.
    **options
        ``checkpoint_dir=``, ``resume=`` and ``match_input=`` (above), and
        {training_options}

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
        ``ct.tl.predict(adata, f"{{key_added}}/{{target}}")``. ``params``
        records ``source_key``, ``source_selection`` (how the source model
        was chosen), ``source_fitted`` (whether this call fitted it) and the
        ``finetune`` and ``scratch_training`` options in full.
    """
    match_input = options.pop("match_input", False)
    if not isinstance(match_input, bool):
        raise ValueError(f"finetune: match_input must be True or False, got {match_input!r}")
    checkpoint_dir, resume, training_options = run_options(options)
    fraction = check_fraction(fraction)
    check_strategy(strategy)
    config = training_config(training, training_options, "finetune")
    if not isinstance(scratch, bool):
        raise ValueError(f"scratch must be True or False, got {scratch!r}")
    check_writable(adata, "finetune", key_added)
    folder = checkpoint_folder(checkpoint_dir, resume)
    view = DataView(adata)
    chosen, targets = choose(view, source, target, model=model, source_key=source_key)
    source_file = [f"fit_{chosen.model}"] if chosen.key is None else []
    check_checkpoint_files(
        folder, source_file + [name for t in targets for name in finetune_checkpoints(t)]
    )
    # the source and from-scratch models train at the model's own rate
    at_default_lr = dataclasses.replace(config, lr=None)
    source_key, record, data = prepare_transfer(
        view, chosen, targets, split_key, labels_needed=False, training=at_default_lr,
        matched=match_input, checkpoint_dir=folder, resume=resume,
    )  # fmt: skip
    if match_input:
        rows = list(view.obs_names.get_indexer(targets))
        inputs = matched_inputs(data.inputs, record["config"]["data"], rows, "finetune")
        data = dataclasses.replace(data, inputs=inputs)
    name = record["config"]["model"]["name"]
    run = _Run(
        adata,
        record,
        key_added,
        split_key=split_key,
        strategy=strategy,
        fraction=fraction,
        finetune_training=config.resolved(name),
        scratch_training=at_default_lr.resolved(name),
        scratch=scratch,
        checkpoint_dir=folder,
        resume=resume,
    )
    labelled = set(view.obs_names[labelled_of(data, view.signal)])
    # no bar over the targets: each training draws its own line, which stays
    for cell_type in targets:
        samples = TargetSamples(view.names, data, cell_type, run.finetune_training)
        if cell_type in labelled:
            run.finetune(samples, source_key)
        else:
            run.zero_shot(samples, source_key)
    run.store({"source": source, "source_key": source_key, "source_selection": chosen.selection,
               "source_fitted": chosen.key is None, "targets": targets,
               "match_input": match_input})  # fmt: skip


class _Run:
    """What one ``finetune`` call gathers, target by target, and writes at the end."""

    def __init__(
        self,
        adata: AnnData,
        record: dict,
        key_added: str,
        *,
        split_key: str,
        strategy: str,
        fraction: float,
        finetune_training: TrainingConfig,
        scratch_training: TrainingConfig,
        scratch: bool,
        checkpoint_dir: Path | None,
        resume: bool,
    ) -> None:
        self.adata, self.record, self.key_added = adata, record, key_added
        self.split_key, self.strategy, self.fraction = split_key, strategy, fraction
        self.finetune_training, self.scratch_training = finetune_training, scratch_training
        self.scratch = scratch
        self.checkpoint_dir, self.resume = checkpoint_dir, resume
        self.source_network = rebuild(record)
        self.layer = np.full(adata.shape, np.nan, dtype=np.float32)
        self.metrics: list[dict] = []
        self.predictions: list[pd.DataFrame] = []
        self.targets: list[dict] = []
        self.not_evaluated: dict[str, str] = {}
        self.models: dict[str, dict] = {}

    def _predict_all_genes(self, samples: TargetSamples, network) -> None:
        row = self.adata.obs_names.get_loc(samples.name)
        self.layer[row] = samples.predict(network, genes=np.arange(self.adata.n_vars))

    def _add_target(self, name: str, approach: str, n_train: int, key: str, why: str) -> None:
        values = (name, approach, approach != "zero_shot", n_train, key, why)
        self.targets.append(dict(zip(TARGET_COLUMNS, values, strict=True)))

    def zero_shot(self, samples: TargetSamples, source_key: str) -> None:
        """A target without training labels: the source model's predictions, not scored."""
        self._predict_all_genes(samples, self.source_network)
        why = "no training labels: zero-shot predictions only"
        self.not_evaluated[samples.name] = why
        self._add_target(samples.name, "zero_shot", 0, source_key, why)
        logger.warning(
            f"finetune: target {samples.name!r} has no training labels, so nothing was "
            f"fine-tuned or scored: layers[{self.key_added!r}] holds the zero-shot predictions "
            f"of the source model uns[{source_key!r}] for it"
        )

    def finetune(self, samples: TargetSamples, source_key: str) -> None:
        """A labelled target: zero-shot, fine-tuned and from-scratch test scores, and the
        fine-tuned model."""
        zero_shot = samples.predict(self.source_network)
        result = transfer_once(
            self.record,
            samples,
            strategy=self.strategy,
            fraction=self.fraction,
            finetune_training=self.finetune_training,
            scratch_training=self.scratch_training if self.scratch else None,
            checkpoint_dir=self.checkpoint_dir,
            resume=self.resume,
        )
        network = result["network"]
        self._predict_all_genes(samples, network)
        for approach, values in {"zero_shot": zero_shot, **result["test_predictions"]}.items():
            n_train = 0 if approach == "zero_shot" else result["n_train"]
            scores = samples.score(values)
            self.metrics.append(
                {"target": samples.name, "approach": approach, **scores, "n_train": n_train}
            )
            self.predictions.append(samples.prediction_table(approach, values))
        key = f"{self.key_added}/{samples.name}"
        self._add_target(samples.name, "finetuned", result["n_train"], key, "")
        logger.info(
            f"finetune: target {samples.name!r} fine-tuned ({self.strategy}) on "
            f"{result['n_train']} training genes: model {key}, predictions in "
            f"layers[{self.key_added!r}]"
        )
        source_data = self.record["config"]["data"]
        trained_on = set(source_data.get("train_genes", []))
        trained_on |= set(self.adata.var_names[result["train_genes"]])
        self.models[samples.name] = {
            "params": {
                "model": network.name,
                "source_key": source_key,
                "strategy": self.strategy,
                "fraction": self.fraction,
                "split_key": self.split_key,
                **self.finetune_training.to_dict(),
                "best_epoch": result["best_epoch"],
            },
            "config": {
                "model": dict(network.config),
                "data": {
                    **source_data,
                    "cell_types": [samples.name],
                    "train_genes": sorted(trained_on),
                },
            },
            "history": result["history"],
            "state_dict": state_arrays(network),
        }

    def store(self, source: dict) -> None:
        """Write the layer and ``uns[key_added]``, replacing an earlier finetune result;
        ``source`` is what ``params`` records of the source and the targets."""
        adata, key_added = self.adata, self.key_added
        params = {
            **source,
            "model": self.record["config"]["model"]["name"],
            "strategy": self.strategy,
            "fraction": self.fraction,
            "scratch": self.scratch,
            "seed": self.finetune_training.seed,
            "split_key": self.split_key,
            "finetune": self.finetune_training.to_dict(),
            "scratch_training": self.scratch_training.to_dict(),
        }
        earlier = adata.uns.get(key_added)
        if kind_of(earlier) == "finetune":
            # predictions of the fine-tuned models this call replaces would outlive them
            for old in earlier["models"]:
                adata.layers.pop(storage_name(f"{key_added}/{old}"), None)
        adata.layers[key_added] = self.layer
        adata.uns[key_added] = {
            "params": params,
            "metrics": pd.DataFrame(self.metrics),
            "targets": pd.DataFrame(self.targets, columns=TARGET_COLUMNS),
            "test_predictions": pd.concat(self.predictions, ignore_index=True)
            if self.predictions
            else pd.DataFrame(columns=PREDICTION_COLUMNS),
            "not_evaluated": self.not_evaluated,
            "models": self.models,
        }
