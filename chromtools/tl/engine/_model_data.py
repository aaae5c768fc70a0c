"""What a model class reads and learns from an object (:class:`ModelData`): the default
model, its marks, the cell types it trains on, and :class:`DataView`, one tool call's
reading of an object."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData

from ... import get
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
from ._signal import refuse_without_signal, signal_flags, signal_of


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
    return DataView(adata).model_data(spec, target, split_key, marks)


def histone_config(meta: Mapping, marks: list[str], n_bins: int) -> dict:
    """What a histone model records of its input, given the object's metadata
    (``uns['chromtools']``): marks, bins, bin size, window, normalisation."""
    return {
        "marks": marks,
        "n_bins": n_bins,
        "bin_size": int(meta["bin_size"]),
        "window": [int(w) for w in meta["window"]],
        "normalization": normalization(meta),
    }


def model_inputs(adata: AnnData, data_config: dict) -> Inputs:
    """The inputs a stored model reads, from its recorded data config."""
    if data_config.get("input", HISTONE) == SEQUENCE:
        return Inputs.onehot(adata)
    return Inputs.histone(adata, data_config["marks"])


def choose_cell_types(
    obs_names: pd.Index,
    signal: np.ndarray,
    cell_types: Sequence[str] | str | None,
    data: ModelData,
    spec: type,
    names: pd.Series | None = None,
) -> list[str]:
    """The cell types to train on, refusing those without labels or with one class;
    ``signal`` says which of ``obs_names`` hold histone signal (:attr:`DataView.signal`),
    ``names`` their ``obs['name']``."""
    task, train_genes = data.task, data.masks["train"]
    sequence = data.config["input"] == SEQUENCE
    if cell_types is None:
        cell_types = list(obs_names[labelled_of(data, signal)])
        if not cell_types:
            raise ValueError(
                "no cell type has both histone signal and training labels; with signal: "
                f"{list(obs_names[signal])}, with training labels: "
                f"{list(obs_names[np.isfinite(task.values[:, train_genes]).any(axis=1)])}"
            )
    cell_types = check_cell_types(obs_names, cell_types, names=names)
    if not sequence:
        refuse_without_signal(obs_names, signal, cell_types, "cell_types")
    if sequence and len(cell_types) != 1:
        raise ValueError(
            f"model {spec.name!r} reads DNA only, the same for every cell type, so it learns one "
            f"cell type at a time; got cell_types={list(cell_types)}. Pass one of them, or a "
            "pseudo cell type such as 'any' to pre-train on every open region"
        )
    for cell_type in cell_types:
        row = task.values[obs_names.get_loc(cell_type), train_genes]
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
    """What one tool call reads of an object, read once: its metadata (``uns['chromtools']``),
    names, the default model, the histone signal aligned to ``var`` (lazy stays lazy), which
    cell types hold signal (scanned once, also on a lazy store) and, on request, a model's data.

    The transfer functions hand this view from step to step instead of the object, and
    check names, signal and stored models on its attributes, so the object is read in one
    place. A lazily read object (``anndata.experimental.read_lazy``) has its ``uns``,
    ``obs`` and ``var`` in memory from here on.
    """

    def __init__(self, adata: AnnData) -> None:
        try:
            self.meta = get.metadata(adata)  # also reads a lazy object's uns, obs, var
        except KeyError:  # one-hot DNA made outside chromtools: histone is refused below
            self.meta = None
        self.adata = adata
        self.obs_names, self.var_names = adata.obs_names, adata.var_names
        self.names = (self.obs_names, self.var_names)
        # obs['name'] ("GM12878" for "E116"), for messages about a cell type given by name
        self.cell_names = adata.obs["name"] if "name" in adata.obs else None
        self.default_model = default_model(adata)
        self.histone = get.histone(adata) if "histone" in adata.obsm else None
        # an object without histone signal (one-hot DNA only) has no cell type with signal
        if self.histone is None:
            self.signal = np.zeros(len(self.obs_names), bool)
        else:
            flags = signal_flags(adata.obs)
            self.signal = signal_of(self.histone) if flags is None else flags

    def model_data(
        self, spec: type, target: str, split_key: str, marks: Sequence[str] | None = None
    ) -> ModelData:
        """:func:`model_data` of this object."""
        name = spec.name if hasattr(spec, "name") else spec.__name__
        kind = getattr(spec, "input_kind", HISTONE)
        task = target_values(self.adata, target)
        if kind not in (HISTONE, SEQUENCE):
            raise ValueError(
                f"model {name!r} reads {kind.replace('_', ' ')} input, which ct.tl.fit does not "
                "feed; fit DeepDiff with ct.tl.differential"
            )
        supported = getattr(spec, "tasks", ("classification", "regression"))
        if task.kind not in supported:
            raise ValueError(
                f"model {name!r} does only {' and '.join(supported)}; target={target!r} is "
                f"{task.kind}"
            )
        masks = split_masks(self.adata, split_key)
        config = {"input": kind, "target": target, "task": task.kind}
        if kind == SEQUENCE:
            inputs = Inputs.onehot(self.adata)
            config["length"] = int(inputs.array.shape[1])
            return ModelData(task, masks, inputs, {}, config)
        marks, array = self._histone_of(f"model {name!r}", marks)
        n_bins = int(array.shape[-1])
        config.update(histone_config(self.meta, marks, n_bins))
        shape = {"n_marks": len(marks), "n_bins": n_bins}
        return ModelData(task, masks, Inputs(array, per_cell=True), shape, config)

    def inputs(self, data_config: dict) -> Inputs:
        """:func:`model_inputs` of this object: what a stored model reads here."""
        if data_config.get("input", HISTONE) == SEQUENCE:
            return Inputs.onehot(self.adata)
        return Inputs(self._histone_of("the model", data_config["marks"])[1], per_cell=True)

    def _histone_of(self, who: str, marks: Sequence[str] | None) -> tuple[list[str], object]:
        """The marks ``who`` reads, by name, and the aligned signal of just those."""
        if self.histone is None:
            raise KeyError(
                f"{who} reads histone signal, and adata.obsm['histone'] does not "
                f"exist; present: {list(self.adata.obsm)}"
            )
        have = [str(m) for m in self.meta["marks"]]
        marks = have if marks is None else select_marks(marks, have)
        if marks == have:
            return marks, self.histone
        return marks, self.histone[:, :, [have.index(m) for m in marks]]


def labelled_of(data: ModelData, signal: np.ndarray) -> np.ndarray:
    """Cell types (a boolean mask over ``obs``) with training targets and, for histone
    models, histone signal (``signal``: :attr:`DataView.signal`)."""
    labelled = np.isfinite(data.task.values[:, data.masks["train"]]).any(axis=1)
    if data.config["input"] == HISTONE:
        labelled &= signal
    return labelled
