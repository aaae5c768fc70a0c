"""What ``ct.tl.attention`` reads: the fitted models with attention, and their samples.

Single-cell-type models (AttentiveChrome, TransferChrome) are loaded like
every other interpreted model (:func:`interpreted_model`); a model of a pair
of cell types (DeepDiff) reads both cell types of every gene at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from anndata import AnnData

from ... import models
from ..engine import (
    Inputs,
    check_cell_types,
    check_finite_inputs,
    check_model,
    record_of,
    resolve_device,
)
from ._interpreted import (
    check_genes,
    check_same_input,
    interpreted_model,
    load_network,
    read_batches,
)


def with_attention() -> list[str]:
    """Registry names of the models that declare attention maps."""
    return [
        name for name, spec in models.MODELS.items() if getattr(spec, "attention_descriptions", {})
    ]


def _one_model_with_attention(keys: list[str], records: list[dict]) -> str:
    """The registry name the models under ``keys`` share, refusing models without attention."""
    names = [r.get("config", {}).get("model", {}).get("name", "?") for r in records]
    have = with_attention()
    without = [(k, n) for k, n in zip(keys, names, strict=True) if n not in have]
    if without:
        raise ValueError(
            f"attention: {', '.join(f'uns[{k!r}] is {n!r}' for k, n in without)}, which has "
            f"no attention; models with attention are {have} "
            "(use ct.tl.attribute for the others)"
        )
    if len(set(names)) > 1:
        raise ValueError(
            f"attention: keys {keys} are different models {names}; averaging needs "
            "models of one kind"
        )
    return names[0]


class Source:
    """The fitted models to explain and the (cell type, gene) samples they read."""

    def __init__(
        self,
        adata: AnnData,
        keys: list[str],
        cell_types: Sequence[str] | str | None,
        device: str | None,
    ) -> None:
        records = [record_of(adata, k) for k in keys]
        self.name = _one_model_with_attention(keys, records)
        data = [r["config"]["data"] for r in records]
        check_same_input(keys, data, ("marks", "n_bins", "window"), "attention")
        self.spec = models.get_model(self.name)
        self.marks = list(data[0]["marks"])
        self.pair = self.spec.input_kind == models.HISTONE_PAIR
        if self.pair:
            self._load_pair(adata, keys, records, cell_types, device)
        else:
            explained = [
                interpreted_model(adata, k, cell_types=cell_types, device=device, what="attention")
                for k in keys
            ]
            self.interpreted = explained[0]
            self.cell_types = explained[0].cell_types
            self.device = explained[0].device
            self.networks = [m.network for m in explained]
            self.genes = explained[0].genes
        for network in self.networks:
            network.check_attention()

    def _load_pair(
        self,
        adata: AnnData,
        keys: list[str],
        records: list[dict],
        cell_types: Sequence[str] | str | None,
        device: str | None,
    ) -> None:
        """Models of one pair of cell types, reading both for every gene."""
        pairs = [list(r["config"]["data"]["cell_types"]) for r in records]
        if any(p != pairs[0] for p in pairs):
            raise ValueError(
                f"attention: the {self.name} models {keys} compare different cell types "
                f"{pairs}; averaging needs one pair"
            )
        pair = pairs[0]
        if cell_types is not None and set(check_cell_types(adata, cell_types)) - set(pair):
            raise ValueError(
                f"attention: uns[{keys[0]!r}] is a {self.name} model of {pair}; it has "
                f"attention for those two only, got cell_types={cell_types!r}"
            )
        self.cell_types = pair
        for k, record in zip(keys, records, strict=True):
            check_model(adata, record, f"the model under uns[{k!r}]", cell_types=pair)
        self.inputs = Inputs.histone(adata, self.marks)
        self.genes = check_genes(adata, None)
        self.cells = np.tile(adata.obs_names.get_indexer(pair), (len(self.genes), 1))
        check_finite_inputs(
            self.inputs, self.cells.ravel(), self.genes, "attention", adata.obs_names
        )
        self.device = resolve_device(device)
        self.networks = [load_network(r, self.device) for r in records]

    @property
    def n_samples(self) -> int:
        return len(self.genes) * (1 if self.pair else len(self.cell_types))

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, np.ndarray, np.ndarray]]:
        """``(x, cells (batch, k), genes (batch,))``; k = 2 for a pair, else 1."""
        if self.pair:
            yield from read_batches(self.inputs, self.cells, self.genes, batch_size, self.device)
        else:
            for x, cells, genes in self.interpreted.batches(batch_size):
                yield x, np.asarray(cells)[:, None], genes
