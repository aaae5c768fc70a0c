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

The cores take an ``nn.Module`` and a tensor; :func:`attention` is the thin
AnnData wrapper, and :func:`attention_agreement` is AttentiveChrome's check
of α against a mark's signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from torch import nn

from ... import get, models
from ..._expression import on_status
from ..._results import RESULTS, check_writable, kind_of, materialised, record_params, storage_name
from ..._utils import check_int, progress
from ...get._aligned import aligned, positions, stored_var_names
from ..engine import (
    Batches,
    Inputs,
    TorchAdapter,
    check_cell_types,
    check_finite_inputs,
    check_model,
    record_of,
    resolve_device,
)
from ._interpreted import (
    check_genes,
    interpreted_model,
    pearson_rows,
)


def with_attention() -> list[str]:
    """Registry names of the models that declare attention maps."""
    return [
        name for name, spec in models.MODELS.items() if getattr(spec, "attention_descriptions", {})
    ]


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


def pairwise_agreement(maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean pairwise Pearson correlation between several models' maps of each sample.

    Parameters
    ----------
    maps
        Two or more (batch, ...) maps of the same samples.

    Returns
    -------
    (batch,) float: the mean over model pairs of the Pearson correlation of
    their flattened maps; NaN where a map is constant.
    """
    pairs = [
        pearson_rows(maps[i], maps[j]) for i in range(len(maps)) for j in range(i + 1, len(maps))
    ]
    return torch.stack(pairs).mean(dim=0)


# ---------------------------------------------------------------- AnnData wrapper


class _Source:
    """The fitted models to explain and the (cell type, gene) samples they read."""

    def __init__(
        self,
        adata: AnnData,
        keys: list[str],
        cell_types: Sequence[str] | str | None,
        device: str | None,
    ) -> None:
        records = [record_of(adata, k) for k in keys]
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
        data = [r["config"]["data"] for r in records]
        for k, d in zip(keys[1:], data[1:], strict=True):
            for field in ("marks", "n_bins", "window"):
                if d.get(field) != data[0].get(field):
                    raise ValueError(
                        f"attention: uns[{k!r}] was trained on {field} {d.get(field)}, "
                        f"uns[{keys[0]!r}] on {data[0].get(field)}; averaged models must "
                        "read the same input"
                    )
        self.name = names[0]
        self.spec = models.get_model(self.name)
        self.marks = list(data[0]["marks"])
        self.pair = self.spec.input_kind == models.HISTONE_PAIR
        if self.pair:
            pairs = [list(d["cell_types"]) for d in data]
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
            pair_positions = adata.obs_names.get_indexer(pair)
            genes = check_genes(adata, None)
            self.cells = np.tile(pair_positions, (len(genes), 1))
            self.genes = genes
            check_finite_inputs(
                self.inputs, self.cells.ravel(), genes, "attention", adata.obs_names
            )
            self.device = resolve_device(device)
            self.networks = [TorchAdapter.load(r).to(self.device).eval() for r in records]
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

    @property
    def n_samples(self) -> int:
        return len(self.genes) * (1 if self.pair else len(self.cell_types))

    def batches(self, batch_size: int):
        """``(x, cells (batch, k), genes (batch,))``; k = 2 for a pair, else 1."""
        if self.pair:
            for x, _, rows in Batches(self.inputs, self.cells, self.genes, batch_size=batch_size):
                yield x.to(self.device), self.cells[rows], self.genes[rows]
        else:
            for x, cells, genes in self.interpreted.batches(batch_size):
                yield x, np.asarray(cells)[:, None], genes


def _outputs(key: str) -> dict[str, str]:
    """Where the attention of result key ``key`` is stored (the registry's slots)."""
    slots = RESULTS["attention"].slots(key)
    (uns,), (alpha, beta), (agreement,) = slots["uns"], slots["obsm"], slots["layers"]
    return {"uns": uns, "alpha": alpha, "beta": beta, "agreement": agreement}


def _check_keys(adata: AnnData, key: str, keys: Sequence[str] | str | None) -> list[str]:
    if keys is None:
        return [key]
    if isinstance(keys, str) or not isinstance(keys, Sequence) or not keys:
        raise ValueError(
            f"attention: keys must be a non-empty list of model keys to average, got {keys!r}"
        )
    keys = list(keys)
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"attention: keys names {repeated} more than once")
    return keys


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
    names = _outputs(key_added)
    keys = _check_keys(adata, key, keys)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    source = _Source(adata, keys, cell_types, device)

    n_stored = len(stored_var_names(adata))
    stored = positions(adata, n_stored)
    n_marks, n_bins = len(source.marks), int(get.histone(adata).shape[-1])
    alpha = np.full((adata.n_obs, n_stored, n_marks, n_bins), np.nan, dtype=np.float32)
    beta = None
    if "beta" in source.spec.attention_descriptions:
        beta = np.full((adata.n_obs, n_stored, n_marks), np.nan, dtype=np.float32)
    agreement = None
    if len(keys) > 1:
        agreement = np.full(adata.shape, np.nan, dtype=np.float32)

    total = -(-source.n_samples // batch_size)
    for x, cells, genes in progress(
        source.batches(batch_size), total=total, desc=f"attention {source.name}"
    ):
        per_model = [attention_maps(network, x) for network in source.networks]
        for entry, (column, _, _) in enumerate(per_model[0]):
            alphas = [maps[entry][1] for maps in per_model]
            rows, where = cells[:, column], stored[genes]
            alpha[rows, where] = torch.stack(alphas).mean(dim=0).cpu().numpy()
            if beta is not None:
                betas = [maps[entry][2] for maps in per_model]
                beta[rows, where] = torch.stack(betas).mean(dim=0).cpu().numpy()
            if agreement is not None:
                agreement[rows, genes] = pairwise_agreement(alphas).cpu().numpy()

    materialised(adata)
    adata.obsm[names["alpha"]] = alpha
    if beta is not None:
        adata.obsm[names["beta"]] = beta
    elif names["beta"] in adata.obsm:
        del adata.obsm[names["beta"]]
    if agreement is not None:
        adata.layers[names["agreement"]] = agreement
    elif names["agreement"] in adata.layers:
        del adata.layers[names["agreement"]]
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


def _on_genes(adata: AnnData, record: dict, model_key: str, cell: str) -> np.ndarray:
    """ON genes of one cell type: label 1 where labels are known, else predicted > 0.5."""
    row = adata.obs_names.get_loc(cell)
    label = (
        np.asarray(adata.layers["label"][row], dtype=float)
        if "label" in adata.layers
        else np.full(adata.n_vars, np.nan)
    )
    if np.isfinite(label).all():
        return label == 1
    layer = storage_name(model_key)
    if layer not in adata.layers:
        raise ValueError(
            f"attention_agreement: cell type {cell!r} has genes without a label and no "
            f"predictions of uns[{model_key!r}] in layers[{layer!r}]; run "
            f"ct.tl.predict(adata, {model_key!r}) first"
        )
    predicted = np.asarray(adata.layers[layer][row], dtype=float)
    return on_status(label, predicted)


def attention_agreement(
    adata: AnnData,
    key: str,
    *,
    mark: str,
    signal_mark: str,
    cell_types: Sequence[str] | str | None = None,
) -> pd.DataFrame:
    """AttentiveChrome's check: does α of one mark follow another mark's signal on ON genes?

    For every ON gene (label 1 where labels exist, else predicted > 0.5) the
    Pearson correlation over bins of the stored α of ``mark`` with the
    signal of ``signal_mark`` (any mark of the object, also one the model
    did not read). Run :func:`attention` first.

    Parameters
    ----------
    adata
        Object on which :func:`attention` stored ``obsm[f"{key}_alpha"]``.
    key
        The key ``attention`` was run with.
    mark
        A mark of the model, whose α is checked.
    signal_mark
        The mark whose signal α is compared with.
    cell_types
        Cell types to check; those ``attention`` explained by default.

    Returns
    -------
    The table (also stored): one row per cell type with ``cell_type``,
    ``mark``, ``signal_mark``, ``n_genes`` (ON genes with a defined
    correlation), ``mean_pearson`` and ``median_pearson``. Writes it to
    ``adata.uns[f"{key}_attention"]["agreement"]``, replacing earlier rows
    of the same cell type, mark and signal mark.
    """
    names = _outputs(key) if isinstance(key, str) else None
    record = adata.uns.get(names["uns"]) if names else None
    if kind_of(record) != "attention":
        raise KeyError(
            f"attention_agreement: no attention of {key!r} in "
            f"uns[{names['uns'] if names else key!r}]; run ct.tl.attention(adata, {key!r}) first"
        )
    params = record["params"]
    model_marks = list(params["marks"])
    if mark not in model_marks:
        raise KeyError(
            f"attention_agreement: mark {mark!r} is not in the model's marks {model_marks}"
        )
    have = get.marks(adata)
    if signal_mark not in have:
        raise KeyError(
            f"attention_agreement: signal_mark {signal_mark!r} is not in this object's marks {have}"
        )
    explained = list(params["cell_types"])
    cell_types = explained if cell_types is None else check_cell_types(adata, cell_types)
    missing = [c for c in cell_types if c not in explained]
    if missing:
        raise ValueError(
            f"attention_agreement: attention was computed for {explained}, not for {missing}; "
            f"run ct.tl.attention(adata, {key!r}, cell_types=...) with them"
        )
    model_key = params["models"][0]
    on = {c: _on_genes(adata, record, model_key, c) for c in cell_types}

    alpha = aligned(adata, names["alpha"])
    signal = get.histone(adata, marks=[signal_mark])
    rows = []
    for cell in cell_types:
        row = adata.obs_names.get_loc(cell)
        a = np.asarray(alpha[row][:, model_marks.index(mark)], dtype=np.float64)
        s = np.asarray(signal[row][:, 0], dtype=np.float64)
        genes = on[cell] & np.isfinite(a).all(axis=1)
        a, s = a[genes] - a[genes].mean(axis=1, keepdims=True), s[genes]
        s = s - s.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (a * s).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (s * s).sum(axis=1))
        r = r[np.isfinite(r)]
        rows.append(
            {
                "cell_type": cell,
                "mark": mark,
                "signal_mark": signal_mark,
                "n_genes": len(r),
                "mean_pearson": float(r.mean()) if len(r) else np.nan,
                "median_pearson": float(np.median(r)) if len(r) else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    earlier = record.get("agreement")
    if isinstance(earlier, pd.DataFrame) and len(earlier):
        same = earlier.set_index(["cell_type", "mark", "signal_mark"]).index.isin(
            table.set_index(["cell_type", "mark", "signal_mark"]).index
        )
        table = pd.concat([earlier[~same], table], ignore_index=True)
    record = dict(record)
    record["agreement"] = table
    adata.uns[names["uns"]] = record
    return table
