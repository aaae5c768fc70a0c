"""What a model learns from: cell types and marks by name, targets, gene splits and the
(cell position, gene position, target) samples the loop trains on.

:mod:`._model_data` gathers these for one model class; :mod:`._signal` says which cell
types hold histone signal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from anndata import AnnData

from ._inputs import Inputs

TARGETS = {"label": "classification", "expression": "regression"}

# Model arguments that fit and differential take from the data, not from hyperparameters.
_SHAPE_ARGUMENTS = ("n_marks", "n_bins", "n_outputs")


def check_cell_types(
    adata: AnnData | pd.Index,
    cell_types: Sequence[str] | str,
    what: str = "cell_types",
    names: pd.Series | None = None,
) -> list[str]:
    """``cell_types`` as a list of obs names: one name or a non-empty list without
    repeats, every one in ``adata.obs_names`` (or in the names ``adata``, when it is an
    index of them). A cell type given by its ``obs['name']`` (``names``: that column,
    read from ``adata`` by default) is refused with its code."""
    obs_names = adata if isinstance(adata, pd.Index) else adata.obs_names
    if names is None and not isinstance(adata, pd.Index) and "name" in adata.obs:
        names = adata.obs["name"]
    if isinstance(cell_types, str):
        cell_types = [cell_types]
    if not isinstance(cell_types, Sequence | pd.Index | np.ndarray):
        raise ValueError(f"{what} must be a cell type name or a list of them, got {cell_types!r}")
    cell_types = list(cell_types)
    if not cell_types:
        raise ValueError(
            f"{what} is empty; name at least one of adata.obs_names {list(obs_names)}, "
            "or pass None for the default"
        )
    not_names = [c for c in cell_types if not isinstance(c, str)]
    if not_names:
        raise ValueError(f"{what} must be cell type names (strings), got {not_names}")
    repeated = sorted({c for c in cell_types if cell_types.count(c) > 1})
    if repeated:
        raise ValueError(f"{what} names {repeated} more than once; name each cell type once")
    unknown = [c for c in cell_types if c not in obs_names]
    if unknown:
        raise KeyError(
            f"{what} {unknown} are not in adata.obs_names {list(obs_names)}"
            + codes_of(unknown, names)
        )
    return cell_types


def codes_of(unknown: Sequence[object], names: pd.Series | None) -> str:
    """A hint for cell types given by name instead of code: "; 'GM12878' is obs['name'] of
    'E116': pass the code", or "" when none of ``unknown`` is a name in ``names``."""
    if names is None:
        return ""
    by_name = {str(n).lower(): str(c) for c, n in names.items()}
    found = {u: by_name[u.lower()] for u in unknown if isinstance(u, str) and u.lower() in by_name}
    if not found:
        return ""
    return (
        "; "
        + ", ".join(f"{u!r} is obs['name'] of {c!r}" for u, c in found.items())
        + (": pass the code (obs_names)" if len(found) == 1 else ": pass the codes (obs_names)")
    )


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
    marks: Sequence[str] | None = None,
) -> None:
    """Refuse NaN/inf histone signal in the samples about to be used, naming the cell types
    and, given the ``marks`` along axis 2 of histone inputs, the marks that hold them."""
    used = np.unique(cells)
    gene_set = np.unique(genes)
    part = inputs.array[used][:, gene_set] if inputs.per_cell else inputs.array[gene_set]
    bad = ~np.isfinite(part)
    if marks is not None and inputs.per_cell and bad.ndim == 4 and obs_names is not None:
        genes_bad = _computed(bad.any(axis=3).sum(axis=1))  # (cell types, marks)
        if genes_bad.any():
            found = "; ".join(
                f"{obs_names[used[c]]}: "
                + ", ".join(
                    f"{marks[m]} on {genes_bad[c, m]} of {len(gene_set)} genes"
                    for m in np.flatnonzero(genes_bad[c])
                )
                for c in np.flatnonzero(genes_bad.sum(axis=1))
            )
            raise ValueError(
                f"{what}: NaN or infinite histone signal in the inputs ({found}); a cell type "
                "without ChIP-seq cannot be used as input, nor one without a mark the model "
                "reads: leave it out, or fit the model on the marks every cell type has "
                "(marks=[...])"
            )
        return
    per_cell = bad.reshape(bad.shape[0], -1).sum(axis=1) if inputs.per_cell else bad.sum()
    per_cell = _computed(per_cell)
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


def _computed(values) -> np.ndarray:
    """``values`` in memory: computed when lazy (dask)."""
    return np.asarray(values.compute() if hasattr(values, "compute") else values)
