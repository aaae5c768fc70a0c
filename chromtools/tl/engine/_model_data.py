"""What a model class reads and learns from an object (:class:`ModelData`): the default
model, its marks, the cell types it trains on, and :class:`DataView`, one tool call's
reading of an object."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from anndata import AnnData

from ... import get
from ...get._lazy import concrete
from ...models import HISTONE, SEQUENCE
from ._inputs import Inputs
from ._records import normalization
from ._samples import (
    Task,
    check_cell_types,
    select_marks,
    split_masks,
    target_values,
)
from ._signal import check_has_signal, has_signal, with_signal


def default_model(adata: AnnData) -> str:
    """The model every ``ct.tl`` function uses when none is named: DeepChrome, or
    ChromTransfer for an object with one-hot DNA and no histone signal."""
    sequence_only = "histone" not in adata.obsm and "onehot" in adata.varm
    return "chromtransfer" if sequence_only else "deepchrome"


def marks_of(adata: AnnData, marks: Sequence[str] | str | None) -> list[str]:
    """The marks to use, by name: all of this object's when None, else :func:`select_marks`
    among them."""
    have = get.marks(adata)
    return have if marks is None else select_marks(marks, have)


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
    kind = getattr(spec, "input_kind", HISTONE)
    task = target_values(concrete(adata), target)
    if kind not in (HISTONE, SEQUENCE):
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
    if kind == SEQUENCE:
        inputs = Inputs.onehot(adata)
        config["length"] = int(inputs.array.shape[1])
        return ModelData(task, masks, inputs, {}, config)
    marks = marks_of(adata, marks)
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


def model_inputs(adata: AnnData, data_config: dict) -> Inputs:
    """The inputs a stored model reads, from its recorded data config."""
    if data_config.get("input", HISTONE) == SEQUENCE:
        return Inputs.onehot(adata)
    return Inputs.histone(adata, data_config["marks"])


def labelled_cell_types(adata: AnnData, data: ModelData) -> np.ndarray:
    """Cell types (a boolean mask over ``obs``) with training targets and, for histone
    models, histone signal."""
    return _labelled(data, lambda: has_signal(adata))


def _labelled(data: ModelData, signal: Callable[[], np.ndarray]) -> np.ndarray:
    labelled = np.isfinite(data.task.values[:, data.masks["train"]]).any(axis=1)
    if data.config["input"] == HISTONE:
        labelled &= signal()
    return labelled


def choose_cell_types(
    adata: AnnData, cell_types: Sequence[str] | str | None, data: ModelData, spec: type
) -> list[str]:
    """The cell types to train on, refusing those without labels or with one class."""
    task, train_genes = data.task, data.masks["train"]
    sequence = data.config["input"] == SEQUENCE
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


class DataView:
    """What one tool call reads of an object, read once: its names, the default model,
    which cell types hold histone signal (scanned once, also on a lazy store), and, on
    request, a model's data.

    The transfer functions hand this view from step to step instead of the object and
    check names and signal on its attributes, so the object is read in one place.
    """

    def __init__(self, adata: AnnData) -> None:
        self.adata = adata
        self.obs_names, self.var_names = adata.obs_names, adata.var_names
        self.names = (self.obs_names, self.var_names)
        self.default_model = default_model(adata)
        # an object without histone signal (one-hot DNA only) has no cell type with signal
        holds = "histone" in adata.obsm
        self.signal = has_signal(adata) if holds else np.zeros(len(self.obs_names), bool)

    def model_data(
        self, spec: type, target: str, split_key: str, marks: Sequence[str] | None = None
    ) -> ModelData:
        """:func:`model_data` of this object."""
        return model_data(self.adata, spec, target, split_key, marks)


def labelled_of(data: ModelData, signal: np.ndarray) -> np.ndarray:
    """:func:`labelled_cell_types` given which cell types hold signal."""
    return _labelled(data, lambda: signal)
