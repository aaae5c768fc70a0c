"""``ct.tl.pretrain``: one model fitted on many cell types pooled, the source of transfers."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from anndata import AnnData

from ..._docs import SHARED, doc_params
from ..engine import check_transferable, default_model
from ._fit import fit


@doc_params(**SHARED)
def pretrain(
    adata: AnnData,
    model: str | None = None,
    cell_types: Sequence[str] | str | None = None,
    *,
    key_added: str = "pretrain",
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    **fit_options: object,
) -> None:
    """Fit one model on many cell types pooled, as the source of later transfers.

    For histone models every (cell type, gene) pair of the ``train`` genes is
    one sample, so the model sees the rules the cell types share. A sequence
    model reads the same DNA in every cell type: pre-train it on a
    cell-type-agnostic target instead, e.g. the ``any`` pseudo cell type of
    :func:`~chromtools.datasets.synthetic_sequences` (open in any cell type),
    as ChromTransfer pre-trains on all open regions.

    Parameters
    ----------
    adata
        Object with inputs, labels (or expression) and ``var['split']``.
    model
        Registered PyTorch model name. {model_default}
    cell_types
        Cell types to pool; by default every one with inputs and training labels.
    key_added
        Where the model goes.
    checkpoint_dir
        {checkpoint_dir} The file is ``fit_<model>.pt``, as for
        :func:`~chromtools.tl.fit`.
    resume
        {resume}
    **fit_options
        Passed to :func:`~chromtools.tl.fit`: ``y``, ``marks``, ``split_key``,
        ``hyperparameters``, ``training`` and the training options by name
        (``epochs=5``…).

    Returns
    -------
    ``None``. Writes ``adata.uns[key_added]`` and ``adata.layers[key_added]``
    as :func:`~chromtools.tl.fit` does, with ``params['pretrained'] = True``;
    pass ``source_key=key_added`` to :func:`finetune`.
    """
    model = default_model(adata) if model is None else model
    check_transferable(model, "pretrain")
    fit(adata, model, cell_types=cell_types, key_added=key_added,
        checkpoint_dir=checkpoint_dir, resume=resume, **fit_options)  # fmt: skip
    adata.uns[key_added]["params"].update(function="pretrain", pretrained=True)
