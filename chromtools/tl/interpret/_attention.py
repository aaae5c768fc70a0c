"""``ct.tl.attention``: what a model with attention looks at, stored aligned like the signal.

Every model that declares attention maps
(:meth:`~chromtools.models.ChromModel.attention_maps`) is read the same way;
three registered models have them:

``attentivechrome``
    α over bins for every mark and β over marks, as the network computes
    them (``forward(x, return_attention=True)``).
``transferchrome``
    one map over bins: the self-attention across bins rolled out
    (``chromtools.models.transferchrome.attention_rollout``, Abnar & Zuidema
    2020) and weighted by the attention pooling (``TransferChrome.bin_attention``).
    It reads every mark at once, so the same map is stored for every mark and no β.
``deepdiff``
    α and β of each of its two cell types (``DeepDiff.attention_maps``).

The core, :func:`attention_maps`, takes an ``nn.Module`` and a tensor;
:func:`attention` is the thin AnnData wrapper over the models that
``_attention_source`` loads. AttentiveChrome's check of α against a mark's
signal is ``ct.tl.attention_agreement`` (``_attention_agreement``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from anndata import AnnData
from torch import nn

from ... import get, models
from ..._results import RESULTS, check_writable, materialised, record_params
from ..._utils import check_int, progress
from ...get._aligned import positions, stored_var_names
from ._attention_source import Source, with_attention
from ._correlation import pairwise_agreement
from ._interpreted import check_keys, write_or_drop

# ---------------------------------------------------------------- cores (nn.Module, tensor)


def attention_maps(
    network: nn.Module, x: torch.Tensor
) -> list[tuple[int, torch.Tensor, torch.Tensor | None]]:
    """Attention of any model that declares attention maps, per cell type read.

    Parameters
    ----------
    network
        A model with :meth:`~chromtools.models.ChromModel.attention_maps`
        (AttentiveChrome, TransferChrome, DeepDiff…) in eval mode.
    x
        (batch, marks, bins) signal, or (batch, 2, marks, bins) for a model
        of a pair of cell types.

    Returns
    -------
    A list of ``(cell column, alpha, beta)``: one entry (column 0) for the
    single-cell-type models, two (A: column 0, B: column 1) for a pair.
    ``alpha`` is (batch, marks, bins); ``beta`` (batch, marks), or None for
    a model without one (TransferChrome: one map over bins, repeated for
    every mark).
    """
    with torch.no_grad():
        maps = network.attention_maps(x) if hasattr(network, "attention_maps") else {}
    if not maps:
        raise ValueError(
            f"attention: {type(network).__name__} has no attention; models with attention are "
            f"{with_attention()}"
        )
    alpha, beta = maps["alpha"], maps.get("beta")
    if network.input_kind != models.HISTONE_PAIR:
        return [(0, alpha, beta)]
    return [
        (column, alpha[:, column], None if beta is None else beta[:, column])
        for column in range(alpha.shape[1])
    ]


# ---------------------------------------------------------------- AnnData wrapper


def attention_slots(key: str) -> dict[str, str]:
    """Where the attention of result key ``key`` is stored (the registry's slots)."""
    slots = RESULTS["attention"].slots(key)
    (uns,), (alpha, beta), (agreement,) = slots["uns"], slots["obsm"], slots["layers"]
    return {"uns": uns, "alpha": alpha, "beta": beta, "agreement": agreement}


def attention(
    adata: AnnData,
    key: str,
    *,
    cell_types: Sequence[str] | str | None = None,
    keys: Sequence[str] | None = None,
    batch_size: int = 256,
    device: str | None = None,
    key_added: str | None = None,
) -> None:
    """Attention maps of a fitted model (or the mean of several) for every gene.

    AttentiveChrome: α over bins of every mark and β over marks, as the
    network computes them. TransferChrome: its one self-attention layer
    rolled out over bins (heads averaged, identity added for the residual,
    rows renormalised) and weighted by its attention pooling, giving each
    bin's share of the pooled vector (sums to 1 over bins); it reads all
    marks at once, so this one map is stored for every mark and there is no
    β. DeepDiff (:func:`differential`): α and β of each of its two cell
    types from that cell type's own encoder (see
    :meth:`~chromtools.models.DeepDiff.attention_maps`). Any other registered
    model that declares attention maps is read the same way.

    Parameters
    ----------
    adata
        Object with the histone signal the model reads.
    key
        The model's ``uns`` key; with ``keys``, only the name the average is
        stored under.
    cell_types
        Cell types to explain; every cell type with signal by default (a
        DeepDiff model: its two).
    keys
        Several fitted models of one kind (e.g. seeds) whose maps are
        averaged; their agreement per (cell type, gene) is stored too.
    batch_size
        Genes per forward pass.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``…; ``ct.settings.device`` by default.
    key_added
        The name results are stored under; ``key`` (``/`` written ``_``) by
        default. Another name keeps an earlier run's maps (e.g. other seeds).

    Returns
    -------
    ``None``. Writes, with ``name = key_added``

    ``adata.obsm[f"{name}_alpha"]``
        float32 (cell types, genes, marks, bins) in the layout of
        ``obsm['histone']``; read it with ``ct.get.attention``. Marks are the
        model's (``uns[f"{name}_attention"]["marks"]``); NaN for cell types
        and genes not explained.
    ``adata.obsm[f"{name}_beta"]``
        float32 (cell types, genes, marks); not for TransferChrome.
    ``adata.layers[f"{name}_attention_agreement"]``
        With two or more ``keys``: per (cell type, gene) the mean pairwise
        Pearson correlation of the models' α maps (marks × bins); NaN elsewhere.
    ``adata.uns[f"{name}_attention"]``
        ``params`` (``function``, ``models``, ``model``, ``cell_types``,
        ``marks``, ``batch_size``, ``device``), ``marks`` and ``alpha`` (what
        α holds, in words).
    """
    if not isinstance(key, str) or not key:
        raise ValueError(f"attention: key must be a non-empty string, got {key!r}")
    key_added = RESULTS["attention"].default(key) if key_added is None else key_added
    check_writable(adata, "attention", key_added)
    names = attention_slots(key_added)
    keys = check_keys(key, keys, "attention")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    source = Source(adata, keys, cell_types, device)

    maps = _Maps(adata, source, len(keys))
    total = -(-source.n_samples // batch_size)
    for x, cells, genes in progress(
        source.batches(batch_size), total=total, desc=f"attention {source.name}"
    ):
        maps.add([attention_maps(network, x) for network in source.networks], cells, genes)

    materialised(adata)
    adata.obsm[names["alpha"]] = maps.alpha
    write_or_drop(adata.obsm, names["beta"], maps.beta)
    write_or_drop(adata.layers, names["agreement"], maps.agreement)
    described = source.spec.attention_descriptions["alpha"]
    adata.uns[names["uns"]] = {
        "params": record_params(
            "attention",
            key_added=key_added,
            model=source.name,
            models=keys,
            cell_types=list(source.cell_types),
            marks=source.marks,
            batch_size=batch_size,
            device=str(source.device),
        ),
        "marks": source.marks,
        "alpha": described,
    }


class _Maps:
    """The mean α (and β) of the models, aligned like the signal, and their agreement."""

    def __init__(self, adata: AnnData, source: Source, n_models: int) -> None:
        n_stored = len(stored_var_names(adata))
        self.stored = positions(adata, n_stored)
        n_marks, n_bins = len(source.marks), int(get.histone(adata).shape[-1])
        self.alpha = np.full((adata.n_obs, n_stored, n_marks, n_bins), np.nan, dtype=np.float32)
        self.beta = None
        if "beta" in source.spec.attention_descriptions:
            self.beta = np.full((adata.n_obs, n_stored, n_marks), np.nan, dtype=np.float32)
        self.agreement = None
        if n_models > 1:
            self.agreement = np.full(adata.shape, np.nan, dtype=np.float32)

    def add(self, per_model: list, cells: np.ndarray, genes: np.ndarray) -> None:
        """Store one batch: ``per_model`` holds each model's :func:`attention_maps`."""
        for entry, (column, _, _) in enumerate(per_model[0]):
            alphas = [maps[entry][1] for maps in per_model]
            rows, where = cells[:, column], self.stored[genes]
            self.alpha[rows, where] = torch.stack(alphas).mean(dim=0).cpu().numpy()
            if self.beta is not None:
                betas = [maps[entry][2] for maps in per_model]
                self.beta[rows, where] = torch.stack(betas).mean(dim=0).cpu().numpy()
            if self.agreement is not None:
                self.agreement[rows, genes] = pairwise_agreement(alphas).cpu().numpy()
