"""What every interpretation step starts from: a stored model, ready to be asked why.

``ct.tl.attention``, ``ct.tl.attribute`` and ``ct.tl.in_silico_deletion`` each
find the fitted model under a key (:func:`interpreted_model`), choose the cell
types and genes it explains, and read the inputs in batches
(:meth:`Interpreted.batches`). The cores they call take an ``nn.Module`` and a
tensor, so they work on any PyTorch model too.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, MutableMapping, Sequence

import numpy as np
import torch
from anndata import AnnData
from torch import nn

from ..._utils import check_int
from ...models import HISTONE, HISTONE_PAIR, SEQUENCE
from ..engine import (
    Batches,
    Inputs,
    TorchAdapter,
    check_cell_types,
    check_finite_inputs,
    check_model,
    inference_network,
    model_inputs,
    record_of,
    resolve_device,
    samples,
    with_signal,
)


@dataclasses.dataclass
class Interpreted:
    """A stored model loaded for interpretation, with the data it reads."""

    adata: AnnData = dataclasses.field(repr=False)
    key: str
    record: dict
    network: nn.Module
    device: torch.device
    inputs: Inputs
    cell_types: list[str]
    genes: np.ndarray  # positions in var

    @functools.cached_property
    def fast(self) -> nn.Module:
        """The network's fastest exact stand-in (:func:`inference_network`), made once."""
        return inference_network(self.network)

    @property
    def input_kind(self) -> str:
        """``chromtools.models.HISTONE`` or ``SEQUENCE``: what the model reads."""
        return self.record["config"]["data"].get("input", HISTONE)

    @property
    def name(self) -> str:
        """The model's registry name (``"attentivechrome"``…)."""
        return self.record["config"]["model"]["name"]

    def batches(self, batch_size: int) -> Iterator[tuple[torch.Tensor, np.ndarray, np.ndarray]]:
        """``(x, cell positions, gene positions)`` of every (cell type, gene) explained.

        Histone models: one sample per cell type and gene, ``x`` of shape
        (batch, marks, bins). Sequence models read DNA, the same for every
        cell type: one sample per region, ``x`` (batch, length, 4), and the
        cell positions are those of the model's one cell type.
        """
        cell_types = self.cell_types if self.input_kind == HISTONE else self.cell_types[:1]
        cells, genes, _ = samples(self.adata, cell_types, _mask(self.adata, self.genes), None)
        yield from read_batches(self.inputs, cells, genes, batch_size, self.device)


def read_batches(
    inputs: Inputs, cells: np.ndarray, genes: np.ndarray, batch_size: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, np.ndarray, np.ndarray]]:
    """``(x on device, cells, genes)`` of each batch of the samples ``(cells, genes)``."""
    for x, _, rows in Batches(inputs, cells, genes, batch_size=batch_size):
        yield x.to(device), cells[rows], genes[rows]


def load_network(record: dict, device: torch.device) -> nn.Module:
    """The network of a fitted model's record, on ``device`` and in eval mode."""
    return TorchAdapter.load(record).to(device).eval()


def write_or_drop(slot: MutableMapping, name: str, values: np.ndarray | None) -> None:
    """Store ``values`` under ``name`` in ``slot`` (``layers``, ``obsm``…); None drops an
    earlier result there."""
    if values is not None:
        slot[name] = values
    elif name in slot:
        del slot[name]


def check_keys(key: str, keys: Sequence[str] | str | None, what: str) -> list[str]:
    """The models a call reads: ``[key]``, or ``keys`` (several to average), checked."""
    if keys is None:
        return [key]
    if isinstance(keys, str) or not isinstance(keys, Sequence) or not keys:
        raise ValueError(
            f"{what}: keys must be a non-empty list of model keys to average, got {keys!r}"
        )
    keys = list(keys)
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"{what}: keys names {repeated} more than once")
    return keys


def check_same_input(
    keys: Sequence[str], data: Sequence[dict], fields: Sequence[str], what: str
) -> None:
    """Refuse averaging models whose data configurations ``data`` differ in ``fields``."""
    for k, config in zip(keys[1:], data[1:], strict=True):
        for field in fields:
            if config.get(field) != data[0].get(field):
                raise ValueError(
                    f"{what}: uns[{k!r}] was trained on {field} {config.get(field)}, "
                    f"uns[{keys[0]!r}] on {data[0].get(field)}; averaged models must read "
                    "the same input"
                )


def check_genes(adata: AnnData, genes: Sequence[str] | str | None) -> np.ndarray:
    """Positions in ``var`` of ``genes`` (names), every gene by default."""
    if genes is None:
        return np.arange(adata.n_vars)
    if isinstance(genes, str):
        genes = [genes]
    genes = list(genes)
    positions = adata.var_names.get_indexer(genes)
    unknown = [g for g, p in zip(genes, positions, strict=True) if p < 0]
    if unknown:
        raise KeyError(f"genes {unknown[:5]} are not in adata.var_names")
    if not genes:
        raise ValueError("genes is empty; pass gene names or None for every gene")
    return positions


def interpreted_model(
    adata: AnnData,
    key: str,
    *,
    cell_types: Sequence[str] | str | None = None,
    genes: Sequence[str] | str | None = None,
    device: str | None = None,
    what: str,
) -> Interpreted:
    """The model under ``uns[key]`` in eval mode, checked against ``adata``.

    ``cell_types`` defaults to every cell type with histone signal (histone
    models) or to the model's own cell type (sequence models, which learn one
    cell type each). Refuses baselines and DeepDiff pairs, which have no
    per-input gradient here, and non-finite inputs — all before any work.
    """
    record = record_of(adata, key)
    if "state_dict" not in record:
        name = record.get("config", {}).get("model", {}).get("name", "?")
        raise ValueError(
            f"{what}: uns[{key!r}] is the scikit-learn baseline {name!r}; interpretation "
            "needs a PyTorch model (deepchrome, attentivechrome, transferchrome, chromtransfer)"
        )
    data_config = record["config"]["data"]
    kind = data_config.get("input", HISTONE)
    if kind == HISTONE_PAIR:
        raise ValueError(
            f"{what}: uns[{key!r}] is a model of a cell-type pair "
            f"({record['config']['model'].get('name')}); interpret it with ct.tl.attention, "
            "which reads its α and β"
        )
    if kind == SEQUENCE:
        trained = list(data_config["cell_types"])
        if cell_types is None:
            cell_types = trained
        cell_types = check_cell_types(adata, cell_types)
        if cell_types != trained:
            raise ValueError(
                f"{what}: uns[{key!r}] is a sequence model of cell type {trained}; it explains "
                f"only that one, got cell_types={cell_types}. Fit one model per cell type"
            )
    else:
        cell_types = with_signal(adata) if cell_types is None else cell_types
        cell_types = check_cell_types(adata, cell_types)
    check_model(adata, record, f"the model under uns[{key!r}]", cell_types=cell_types)
    positions = check_genes(adata, genes)
    inputs = model_inputs(adata, data_config)
    if kind == HISTONE:
        cells, gene_rows, _ = samples(adata, cell_types, _mask(adata, positions), None)
        check_finite_inputs(inputs, cells, gene_rows, what, adata.obs_names)
    torch_device = resolve_device(device)
    network = load_network(record, torch_device)
    return Interpreted(
        adata=adata,
        key=key,
        record=record,
        network=network,
        device=torch_device,
        inputs=inputs,
        cell_types=list(cell_types),
        genes=positions,
    )


def _mask(adata: AnnData, positions: np.ndarray) -> np.ndarray:
    mask = np.zeros(adata.n_vars, dtype=bool)
    mask[positions] = True
    return mask


def scalar_output(network: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's one predicted value per sample (logits), shape (batch,).

    Models returning a dict (DeepDiff) give their ``prediction_output`` entry;
    a model with several outputs gives its first.

    Parameters
    ----------
    network
        Any model taking a batch of inputs.
    x
        A batch of inputs.

    Returns
    -------
    (batch,) float32 tensor: the output every attribution method explains.
    """
    out = network(x)
    if isinstance(out, dict):
        out = out[network.prediction_output]
    out = out.float()
    return out[:, 0] if out.ndim == 2 else out


def spans(n: int, batch_size: int | None) -> list[slice]:
    """Slices of ``n`` samples, ``batch_size`` at a time (all at once for None)."""
    size = n if batch_size is None else check_int(batch_size, "batch_size", minimum=1)
    return [slice(start, start + size) for start in range(0, n, size)] or [slice(0, 0)]


def placed(network: nn.Module, device: str | torch.device | None, x: torch.Tensor) -> torch.device:
    """The device to compute on, with ``network`` moved there; None: ``x``'s, nothing moved."""
    if device is None:
        return x.device
    device = resolve_device(device) if isinstance(device, str) else torch.device(device)
    network.to(device)
    return device
