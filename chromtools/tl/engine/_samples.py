"""What a model learns from: targets, gene splits, inputs and (cell type, gene) samples.

:func:`model_data` gathers, for one model class, the target values, the
``train``/``valid``/``test`` gene masks and the inputs, refusing what the
model cannot read; :func:`choose_cell_types` and :func:`samples` turn them
into the (cell position, gene position, target) triples the loop trains on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import dask.array as da
import numpy as np
import pandas as pd
from anndata import AnnData

from ... import get
from ...get._lazy import concrete
from ...models import HISTONE, SEQUENCE
from ._data import Inputs

TARGETS = {"label": "classification", "expression": "regression"}

# Model arguments that fit and differential take from the data, not from hyperparameters.
_SHAPE_ARGUMENTS = ("n_marks", "n_bins", "n_outputs")


def default_model(adata: AnnData) -> str:
    """The model every ``ct.tl`` function uses when none is named: DeepChrome, or
    ChromTransfer for an object with one-hot DNA and no histone signal."""
    sequence_only = "histone" not in adata.obsm and "onehot" in adata.varm
    return "chromtransfer" if sequence_only else "deepchrome"


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


def marks_of(adata: AnnData, marks: Sequence[str] | str | None) -> list[str]:
    """The marks to use, by name: all of this object's when None, else :func:`select_marks`
    among them."""
    have = get.marks(adata)
    return have if marks is None else select_marks(marks, have)


def select_marks(
    marks: object, available: list[str], *, whose: str = "this object's", what: str = "marks"
) -> list[str]:
    """``marks`` by name among ``available``, refusing what is not a list of names, an empty
    list, repeats and names not there (listing those available)."""
    if isinstance(marks, str):
        marks = [marks]
    if not isinstance(marks, Sequence | np.ndarray | pd.Index):
        raise ValueError(
            f"{what} must be mark names (a list), got {marks!r}; {whose} marks are {available}"
        )
    marks = list(marks)
    if not marks:
        raise ValueError(
            f"{what} is empty; give mark names, some of {whose} marks {available}, or pass None"
        )
    repeated = sorted({str(m) for m in marks if marks.count(m) > 1})
    if repeated:
        raise ValueError(f"{what} {repeated} appear more than once; name each mark once")
    missing = [m for m in marks if m not in available]
    if missing:
        raise KeyError(f"{what} {missing} are not in {whose} marks {available}")
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


def target_values(adata: AnnData, target: str, rows: np.ndarray | None = None) -> Task:
    """The (cell types, genes) target array: ``layers['label']`` or ``X``; only the
    cell types at positions ``rows`` when given (a lazy store reads only those)."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {list(TARGETS)}, got {target!r}")
    if target == "label":
        if "label" not in adata.layers:
            raise KeyError("adata.layers['label'] is missing: make labels with ct.pp.binarize")
        values = adata.layers["label"]
    else:
        values = adata.X
    if rows is not None:
        values = values[np.asarray(rows, dtype=np.int64)]
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


# has_signal of lazy arrays, by dask name: the values under a name never change
# (a store replaced under a lazy object is refused when read).
_SIGNAL: dict[str, np.ndarray] = {}


def has_signal(adata: AnnData) -> np.ndarray:
    """Cell types with histone signal (rows of ``obsm['histone']`` not all NaN)."""
    if "has_histone" in concrete(adata).obs:
        return adata.obs["has_histone"].to_numpy(dtype=bool)
    first_bin = get.histone(adata)[:, :, :, 0]
    if not isinstance(first_bin, da.Array):
        return ~np.isnan(first_bin).all(axis=(1, 2))
    if first_bin.name not in _SIGNAL:
        if len(_SIGNAL) >= 256:  # the oldest goes: a few hundred gene subsets are plenty
            _SIGNAL.pop(next(iter(_SIGNAL)))
        _SIGNAL[first_bin.name] = _lazy_signal(first_bin)
    return _SIGNAL[first_bin.name].copy()


def _lazy_signal(first_bin: da.Array) -> np.ndarray:
    """Which cell types hold a finite value, reading gene blocks only until each is found:
    a gene block per cell type with signal, every block only for those without."""
    found = np.zeros(first_bin.shape[0], dtype=bool)
    edges = np.cumsum((0, *first_bin.chunks[1]))
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        undecided = np.flatnonzero(~found)
        if not len(undecided):
            break
        block = first_bin[undecided, start:end]
        found[undecided] = np.asarray((~da.isnan(block)).any(axis=(1, 2)).compute())
    return found


def with_signal(adata: AnnData) -> list[str]:
    """Names of the cell types with histone signal."""
    return list(adata.obs_names[has_signal(adata)])


def check_has_signal(adata: AnnData, cell_types: Sequence[str], role: str) -> None:
    """Refuse cell types without histone signal, naming those that have it."""
    _refuse_without_signal(adata.obs_names, has_signal(adata), cell_types, role)


def _refuse_without_signal(
    obs_names: pd.Index, signal: np.ndarray, cell_types: Sequence[str], role: str
) -> None:
    without = [c for c in cell_types if not signal[obs_names.get_loc(c)]]
    if without:
        raise ValueError(
            f"{role} {without}: no histone signal in this object (obsm['histone'] is NaN "
            f"there, e.g. expression without ChIP-seq); cell types with signal: "
            f"{list(obs_names[signal])}"
        )


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


def normalization(adata: AnnData) -> dict:
    """How the histone signal was normalised: ``ct.pp.normalize``'s method and scalar options."""
    params = get.metadata(adata).get("pp", {}).get("normalize", {})
    kept = {k: v for k, v in params.items() if v is None or isinstance(v, (str, int, float))}
    return kept if kept.get("method") else {"method": "none"}


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


def samples(
    adata: AnnData, cell_types: list[str], genes: np.ndarray, task: Task | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(cell position, gene position, target) of every known sample."""
    return samples_at(adata.obs_names, cell_types, genes, task)


def samples_at(
    obs_names: pd.Index, cell_types: list[str], genes: np.ndarray, task: Task | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """:func:`samples` given the object's ``obs_names``: it needs nothing else of it."""
    cell_positions = obs_names.get_indexer(cell_types)
    cells, gene_positions = np.meshgrid(cell_positions, np.flatnonzero(genes), indexing="ij")
    cells, gene_positions = cells.ravel(), gene_positions.ravel()
    if task is None:
        return cells, gene_positions, None
    values = task.values[cells, gene_positions]
    known = np.isfinite(values)
    return cells[known], gene_positions[known], values[known]


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


class DataView:
    """What one tool call reads of an object, each part read once: which cell types have
    histone signal, the targets, the gene splits, the model data.

    The transfer functions hand this view from step to step instead of the object, so
    the signal of a lazy store is scanned once per call, not once per check.
    """

    def __init__(self, adata: AnnData) -> None:
        self.adata = adata
        self.obs_names, self.var_names = adata.obs_names, adata.var_names
        self._signal: np.ndarray | None = None
        self._tasks: dict[tuple, Task] = {}
        self._masks: dict[str, dict[str, np.ndarray]] = {}

    @property
    def signal(self) -> np.ndarray:
        """Cell types with histone signal (:func:`has_signal`)."""
        if self._signal is None:
            self._signal = has_signal(self.adata)
        return self._signal

    def default_model(self) -> str:
        """:func:`default_model` of this object."""
        return default_model(self.adata)

    def with_signal(self) -> list[str]:
        """Names of the cell types with histone signal."""
        return list(self.obs_names[self.signal])

    def cell_types(self, cell_types: Sequence[str] | str, what: str = "cell_types") -> list[str]:
        """:func:`check_cell_types` of this object."""
        return check_cell_types(self.adata, cell_types, what)

    def require_signal(self, cell_types: Sequence[str], role: str) -> None:
        """:func:`check_has_signal` of this object."""
        _refuse_without_signal(self.obs_names, self.signal, cell_types, role)

    def task(self, target: str, rows: np.ndarray | None = None) -> Task:
        """:func:`target_values` of this object, read once per target and rows."""
        key = (target, None if rows is None else tuple(np.asarray(rows).tolist()))
        if key not in self._tasks:
            self._tasks[key] = target_values(self.adata, target, rows)
        return self._tasks[key]

    def masks(self, split_key: str) -> dict[str, np.ndarray]:
        """:func:`split_masks` of this object, read once per split column."""
        if split_key not in self._masks:
            self._masks[split_key] = split_masks(self.adata, split_key)
        return self._masks[split_key]

    def model_data(
        self, spec: type, target: str, split_key: str, marks: Sequence[str] | None = None
    ) -> ModelData:
        """:func:`model_data` of this object."""
        return model_data(self.adata, spec, target, split_key, marks)

    def labelled(self, data: ModelData) -> np.ndarray:
        """:func:`labelled_cell_types` of this object."""
        return _labelled(data, lambda: self.signal)
