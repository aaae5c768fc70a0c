"""What a fitted model predicted against the truth, per cell type, over one split's genes.

The truth is ``layers['label']`` for classifiers (:func:`labelled`) and ``X``
for regression (:func:`measured`); the genes are those of the split the model
was fitted on (``var[split_key]``), each cell type keeping its finite pairs.
"""

from __future__ import annotations

import numpy as np
from anndata import AnnData

from ._utils import fitted, predictions, stored

SPLITS = ("train", "valid", "test")


def _split_genes(adata: AnnData, record: dict, key: str, split: str, plot: str) -> np.ndarray:
    """Which genes are in ``split`` of the ``var`` column ``key`` was fitted on."""
    split_key = record.get("params", {}).get("split_key", "split")
    if split_key not in adata.var:
        raise ValueError(
            f"ct.pl.{plot}: adata.var[{split_key!r}] (the split {key!r} was fitted on) is missing"
        )
    return (adata.var[split_key] == split).to_numpy()


def _per_cell_type(
    adata: AnnData, truth: np.ndarray, predicted: np.ndarray, genes: np.ndarray, binary: bool
) -> dict[str, tuple]:
    """(truth, prediction) of each cell type over ``genes`` where both are finite.

    A cell type is kept with both classes among its genes (``binary``), else
    with more than two genes.
    """
    out = {}
    for row, cell_type in enumerate(adata.obs_names):
        truth_row, guess = truth[row, genes], predicted[row, genes]
        known = np.isfinite(truth_row) & np.isfinite(guess)
        kept = truth_row[known]
        if (len(np.unique(kept)) == 2) if binary else (len(kept) > 2):
            out[str(cell_type)] = (kept, guess[known])
    return out


def labelled(adata: AnnData, key: str, split: str, plot: str) -> dict[str, tuple]:
    """Per cell type with predictions of ``key``: (label, prediction) over the ``split`` genes."""
    record = fitted(adata, key, plot)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    labels = np.asarray(
        stored(adata, "layers", "label", plot, "ct.pp.binarize(adata)"), dtype=np.float64
    )
    predicted = predictions(adata, key, plot)
    genes = _split_genes(adata, record, key, split, plot)
    return _per_cell_type(adata, labels, predicted, genes, binary=True)


def measured(adata: AnnData, key: str, split: str, plot: str) -> dict[str, tuple]:
    """Per cell type with predictions of ``key``: (expression, prediction) over the ``split``
    genes."""
    record = fitted(adata, key, plot)
    genes = _split_genes(adata, record, key, split, plot)
    truth = np.asarray(adata.X, dtype=np.float64)
    predicted = predictions(adata, key, plot)
    return _per_cell_type(adata, truth, predicted, genes, binary=False)
