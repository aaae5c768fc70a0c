"""The samples of a paired model (``ct.tl.differential``): each gene read in two cell types.

A sample is a gene with the histone signal of cell types A and B,
(2, marks, bins); its targets are the log2 fold change of expression
``log2((count_B + 1) / (count_A + 1))`` and, for auxiliary models, each cell
type's ``log2(count + 1)``. :func:`check_pair` refuses two cell types that
cannot be compared, :func:`pair_data` gathers the samples of every gene.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from anndata import AnnData

from ._inputs import Inputs
from ._model_data import marks_of
from ._samples import check_finite_inputs, split_masks
from ._signal import has_signal


def check_pair(adata: AnnData, a: object, b: object) -> None:
    """Refuse ``a`` and ``b`` unless they are two cell types of ``adata`` with histone signal."""
    not_names = [c for c in (a, b) if not isinstance(c, str)]
    if not_names:
        raise ValueError(f"differential: a and b must be cell type names, got {not_names}")
    if a == b:
        raise ValueError(
            f"differential: a and b are both {a!r}; name two different cell types to compare"
        )
    missing = [c for c in (a, b) if c not in adata.obs_names]
    if missing:
        raise KeyError(
            f"differential: cell types {missing} are not in adata.obs_names {list(adata.obs_names)}"
        )
    with_signal = has_signal(adata)
    without = [c for c in (a, b) if not with_signal[adata.obs_names.get_loc(c)]]
    if without:
        raise ValueError(
            f"differential: cell types {without} have no histone signal (NaN in "
            f"obsm['histone']); DeepDiff reads the signal of both cell types. Cell types with "
            f"signal: {list(adata.obs_names[with_signal])}"
        )


@dataclass(frozen=True)
class PairData:
    """The samples of every gene in cell types A and B, and their targets.

    ``cell_types`` are A's and B's names and ``positions`` their positions in
    ``obs``; ``pairs`` (genes, 2) repeats the positions for every gene.
    ``expression`` is (2, genes) ``log2(count + 1)`` of A and B,
    ``fold_change`` B's minus A's, and ``target`` (genes, 3) float32 the fold
    change (what the loop validates on) followed by the auxiliary targets.
    ``shape`` is the network's ``n_marks`` and ``n_bins``.
    """

    cell_types: tuple[str, str]
    positions: tuple[int, int]
    pairs: np.ndarray
    inputs: Inputs
    marks: list[str]
    masks: dict[str, np.ndarray]
    expression: np.ndarray
    fold_change: np.ndarray
    target: np.ndarray
    shape: dict[str, int]


def pair_data(
    adata: AnnData,
    cell_types: tuple[str, str],
    counts: np.ndarray,
    split_key: str,
    marks: Sequence[str] | None,
) -> PairData:
    """The samples of every gene in the two ``cell_types``, from their (2, genes) raw ``counts``.

    Refuses a missing split and NaN or infinite signal before any training.
    """
    masks = split_masks(adata, split_key)
    marks = marks_of(adata, marks)
    inputs = Inputs.histone(adata, marks)
    positions = tuple(int(p) for p in adata.obs_names.get_indexer(list(cell_types)))
    pairs = np.tile(positions, (adata.n_vars, 1))
    a, b = cell_types
    check_finite_inputs(
        inputs, pairs.ravel(), np.arange(adata.n_vars), f"differential({a!r}, {b!r})",
        adata.obs_names,
    )  # fmt: skip
    expression = np.log2(counts + 1.0)
    fold_change = expression[1] - expression[0]
    # Column 0 is what the loop validates on; the auxiliary targets follow.
    target = np.column_stack([fold_change, expression[0], expression[1]]).astype(np.float32)
    shape = {"n_marks": len(marks), "n_bins": int(inputs.array.shape[-1])}
    return PairData(
        cell_types, positions, pairs, inputs, marks, masks, expression, fold_change, target, shape
    )
