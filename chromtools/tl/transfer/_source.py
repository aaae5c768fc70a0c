"""The source of a transfer: which stored model it is, or which to fit, and the targets.

:func:`choose_source` decides before any training, refusing ambiguity;
:func:`fit_source` fits the chosen model when it does not exist yet and says
so; :func:`target_cell_types` names the cell types it is moved to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from anndata import AnnData

from ... import models
from ..._results import kind_of
from ..._settings import logger
from ..engine import (
    DataView,
    ModelData,
    TrainingConfig,
    adapter_of,
    check_cell_types,
    check_transferable,
    codes_of,
    record_in,
    refuse_without_signal,
)
from ..modeling import fit_view


def check_cell_type(data: AnnData | DataView, name: object, role: str) -> str:
    """``name`` if it is one cell type of the object's ``obs_names``."""
    if not isinstance(name, str):
        raise ValueError(f"{role} must be one cell type name (a string), got {name!r}")
    if name not in data.obs_names:
        names = data.cell_names if isinstance(data, DataView) else data.obs.get("name")
        raise KeyError(
            f"{role}={name!r} is not in adata.obs_names {list(data.obs_names)}"
            + codes_of([name], names)
        )
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


def torch_models_fitted_on(adata: AnnData, source: str) -> list[tuple[str, str]]:
    """(key, model name) of the PyTorch models in ``uns`` fitted on ``source`` alone."""
    return [
        (str(key), str(record["config"]["model"].get("name")))
        for key, record in adata.uns.items()
        if kind_of(record) == "model"
        and adapter_of(record).transferable
        and list(record["config"]["data"].get("cell_types", [])) == [source]
    ]


def choose_source(
    view: DataView, source: str | None, *, model: str | None, source_key: str | None
) -> Source:
    """The source model, chosen unambiguously and before any training.

    ``source_key`` names it. Otherwise it is the model ``model`` (DeepChrome
    by default; ChromTransfer for sequence-only objects) fitted on ``source``
    alone: the one in ``uns`` if there is exactly one, else one fitted now.
    Several such models, or models of other kinds only while ``model`` is
    not named, are refused with the list of candidates.
    """
    adata = view.adata
    if source_key is not None:
        record = record_in(adata, source_key)
        name = str(record["config"]["model"].get("name"))
        if kind_of(record) == "differential":
            raise ValueError(
                f"uns[{source_key!r}] is a DeepDiff model of two cell types; transfer needs a "
                "model of one cell type (ct.tl.fit or ct.tl.pretrain)"
            )
        if not adapter_of(record).transferable:
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
        kind = record["config"]["data"].get("input", models.HISTONE)
        return Source(source_key, name, trained_on, "given source_key", kind)
    if source is None:
        raise ValueError("name the source: a cell type (source=) or a fitted model (source_key=)")
    check_cell_type(view, source, "source")
    wanted = view.default_model if model is None else model
    check_transferable(wanted, "transfer")
    spec = models.get_model(wanted)
    kind = getattr(spec, "input_kind", models.HISTONE)
    fitted = torch_models_fitted_on(adata, source)
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
    if kind == models.HISTONE and not view.signal[view.obs_names.get_loc(source)]:
        raise ValueError(
            f"source {source!r} has no histone signal in this object (obsm['histone'] is NaN "
            f"for it, e.g. RNA-seq without ChIP-seq), so no model can be fitted on it; cell "
            f"types with signal: {list(view.obs_names[view.signal])}"
        )
    return Source(None, wanted, [source], f"{wanted} fitted now on {source}", kind)


def fit_target(fit_options: dict) -> str:
    """What :func:`~chromtools.tl.fit` learns given these options: ``y`` (or ``target``),
    ``"label"`` by default."""
    return fit_options.get("y", fit_options.get("target", "label"))


def fit_source(
    view: DataView,
    chosen: Source,
    *,
    split_key: str,
    training: TrainingConfig,
    data: ModelData,
    **fit_options,
) -> str:
    """The ``uns`` key of the chosen source model, fitting it first (and saying so) if needed.

    A source without training labels (in ``data``, the model data already read for
    it) is refused before any fitting. ``fit_options`` go to
    :func:`~chromtools.tl.fit` (``y``, ``marks``…), which fits on ``view`` and ``data``.
    """
    if chosen.key is not None:
        logger.info(f"transfer: source model uns[{chosen.key!r}] ({chosen.selection})")
        return chosen.key
    (source,) = chosen.cell_types
    adata = view.adata
    key = f"{chosen.model}_{source}"
    if key in adata.uns:
        raise ValueError(
            f"uns[{key!r}], where the {chosen.model} model of {source!r} would go, holds "
            "something else; pass source_key= or delete it first"
        )
    y = fit_target(fit_options)
    values = data.task.values[:, data.masks["train"]]
    labelled = np.isfinite(values).any(axis=1)
    if not labelled[view.obs_names.get_loc(source)]:
        raise ValueError(
            f"source {source!r} has no fitted model in adata.uns and no training labels "
            f"({'layers[label]' if y == 'label' else 'X'} is NaN for its train genes) to fit "
            f"one; cell types with training labels: {list(adata.obs_names[labelled])}"
        )
    fit_view(view, chosen.model, data=data, cell_types=[source], key_added=key,
             split_key=split_key, training=training, **fit_options)  # fmt: skip
    logger.warning(
        f"transfer: no {chosen.model} model was fitted on {source!r} yet, so one was fitted "
        f"now: uns[{key!r}], predictions in layers[{key!r}] (pass source_key={key!r} to reuse it)"
    )
    return key


def choose(
    view: DataView,
    source: str | None,
    target: Sequence[str] | str | None,
    *,
    model: str | None,
    source_key: str | None,
) -> tuple[Source, list[str]]:
    """The source model (:func:`choose_source`) and the targets (:func:`target_cell_types`)."""
    chosen = choose_source(view, source, model=model, source_key=source_key)
    return chosen, target_cell_types(view, chosen, target)


def target_cell_types(
    view: DataView, chosen: Source, target: Sequence[str] | str | None
) -> list[str]:
    """Target cell types: those given, else every cell type with inputs that the source
    model was not trained on; refuses names not in obs, repeats, the source's own cell
    types and cell types without histone signal."""
    histone = chosen.input_kind == models.HISTONE
    if target is None:
        usable = view.signal if histone else np.ones(len(view.obs_names), bool)
        target = [c for c in view.obs_names[usable] if c not in chosen.cell_types]
        if not target:
            raise ValueError(
                f"no cell type other than the source {chosen.cell_types} to transfer to"
                + (
                    f"; cell types with histone signal: {list(view.obs_names[view.signal])}"
                    if histone
                    else ""
                )
            )
        return [str(c) for c in target]
    if isinstance(target, str):
        check_cell_type(view, target, "target")
    targets = check_cell_types(view.obs_names, target, "target", view.cell_names)
    _check_targets_are_new(targets, chosen)
    if histone:
        refuse_without_signal(view.obs_names, view.signal, targets, "targets")
    return targets


def _check_targets_are_new(targets: list[str], chosen: Source) -> None:
    """Refuse targets the source model was trained on: their "zero-shot" score is in-domain."""
    same = [t for t in targets if t in chosen.cell_types]
    if same:
        raise ValueError(
            f"targets {same} are cell types the source model was trained on "
            f"({chosen.cell_types}), so its 'zero-shot' score there is in-domain performance; "
            "transfer to other cell types"
        )
