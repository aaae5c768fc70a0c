"""``ct.tl.attribute``: how much each input value moves a model's prediction.

The thin AnnData wrapper of the attribution methods (``_methods``). It
stores histone models' attributions in the layout of the signal and sequence
models' per region, averages several fitted models (``keys=``) with a
per-gene agreement score, and with ``compare="ism"`` scores how well a
gradient method agrees with ISM.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from ..._results import RESULTS, check_writable, materialised, record_params
from ..._settings import resolve_seed
from ..._utils import check_int, progress
from ...get._aligned import positions, stored_var_names
from ...models import HISTONE, SEQUENCE
from ._correlation import pairwise_agreement, pearson_rows, pearson_summary
from ._interpreted import (
    Interpreted,
    check_keys,
    check_same_input,
    interpreted_model,
    write_or_drop,
)
from ._ism import ism
from ._methods import METHODS, check_option_names, ism_scores, resolved_options


def _check_method(method: object, compare: object, model: Interpreted, key: str) -> None:
    if method not in METHODS:
        raise ValueError(f"attribute: method must be one of {list(METHODS)}, got {method!r}")
    if compare not in (None, "ism"):
        raise ValueError(f"attribute: compare must be None or 'ism', got {compare!r}")
    allowed = model.network.attribution_methods
    if "ism" in (method, compare) and "ism" not in allowed:
        raise ValueError(
            f"attribute: uns[{key!r}] is a {model.input_kind.replace('_', ' ')} model; "
            "in-silico mutagenesis substitutes DNA bases and needs a sequence model. For "
            "histone marks use ct.tl.in_silico_deletion(adata, key, marks=...) or bins=..."
        )
    if method not in allowed:
        raise ValueError(
            f"attribute: uns[{key!r}] ({model.name}) is not explained by {method!r}; its "
            f"methods are {list(allowed)}"
        )
    if compare == "ism" and method == "ism":
        raise ValueError("attribute: compare='ism' compares another method with ISM; got both")


def _models(adata: AnnData, key: str, keys, cell_types, genes, device) -> list[Interpreted]:
    """Every model averaged, checked to read the same input."""
    keys = check_keys(key, keys, "attribute")
    models = [
        interpreted_model(
            adata, k, cell_types=cell_types, genes=genes, device=device, what="attribute"
        )
        for k in keys
    ]
    fields = ["input", "marks", "n_bins", "window"]
    if models[0].input_kind != HISTONE:
        fields.append("cell_types")
    check_same_input(keys, [m.record["config"]["data"] for m in models], fields, "attribute")
    return models


class _Store:
    """Arrays the attributions, agreement and ISM comparison are written into."""

    def __init__(self, adata: AnnData, model: Interpreted, n_models: int, compare: bool) -> None:
        self.adata, self.sequence = adata, model.input_kind == SEQUENCE
        if self.sequence:
            length = adata.varm["onehot"].shape[1]
            self.values = np.full((adata.n_vars, length, 4), np.nan, dtype=np.float32)
        else:
            n_stored = len(stored_var_names(adata))
            self.stored = positions(adata, n_stored)
            n_marks = len(model.record["config"]["data"]["marks"])
            n_bins = int(model.record["config"]["data"]["n_bins"])
            self.values = np.full(
                (adata.n_obs, n_stored, n_marks, n_bins), np.nan, dtype=np.float32
            )
        self.agreement = np.full(adata.shape, np.nan, np.float32) if n_models > 1 else None
        self.vs_ism = np.full(adata.shape, np.nan, np.float32) if compare else None

    def write(self, cells, genes, values, agreement, vs_ism) -> None:
        if self.sequence:
            self.values[genes] = values
        else:
            self.values[cells, self.stored[genes]] = values
        if agreement is not None:
            self.agreement[cells, genes] = agreement
        if vs_ism is not None:
            self.vs_ism[cells, genes] = vs_ism


def attribute(
    adata: AnnData,
    key: str,
    *,
    method: str = "grad_x_input",
    cell_types: Sequence[str] | str | None = None,
    genes: Sequence[str] | str | None = None,
    keys: Sequence[str] | None = None,
    compare: str | None = None,
    batch_size: int = 256,
    device: str | None = None,
    seed: int | None = None,
    key_added: str | None = None,
    **method_options: object,
) -> None:
    """Attributions of a fitted model's predictions to its inputs.

    Histone models explain each (cell type, gene): one value per mark and
    bin. Sequence models explain each region in their cell type: one value
    per position and base. Everything is checked before any work; results
    are written only when every batch is done.

    Parameters
    ----------
    adata
        Object with the inputs of the model.
    key
        The model's ``uns`` key; with ``keys``, only the name results are stored under.
    method
        ``"grad_x_input"``, ``"integrated_gradients"``, ``"deeplift_shap"`` or
        ``"ism"`` (sequence models: every single-base substitution, the change
        of the logit, 0 at the observed base).
    cell_types
        Cell types to explain; every one with signal by default (a sequence
        model: its own, the only one it can explain).
    genes
        Genes or regions (names); all by default.
    keys
        Several fitted models of one kind (e.g. seeds) whose attributions are
        averaged; their agreement per (cell type, gene) is stored too.
    compare
        ``"ism"``: also run ISM and store, per region, the Pearson correlation
        of this method's per-base importance with ISM's (minus the mean
        change of the three substitutions). Sequence models only.
    batch_size
        Samples per batch.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``…; ``ct.settings.device`` by default.
    seed
        Seed of the shuffled references; ``ct.settings.seed`` by default.
    key_added
        The name results are stored under. By default one per method, so
        several methods coexist: ``key`` (``/`` written ``_``) for
        ``grad_x_input``, ``f"{key}_{method}"`` for the others. A rerun
        under the same name replaces its own results only.
    **method_options
        Options of ``method``, by name. Only ``integrated_gradients`` and
        ``deeplift_shap`` take any; an option left out or None takes the
        method's default, and one the method does not take is refused
        (a ``ValueError``; another name is a ``TypeError`` that lists the
        options of each method).

        ``baseline``
            ``"zero"`` or ``"shuffle"``: the reference of integrated gradients
            (zero by default) and deeplift_shap (shuffle by default):
            dinucleotide-shuffled DNA, or for histone models the signal of other
            genes of the same cell type.
        ``steps``
            Integration steps of integrated gradients (50), or references per
            sample of deeplift_shap with ``baseline="shuffle"`` (10).

    Returns
    -------
    ``None``. Writes, with ``name = key_added``

    ``adata.obsm[f"{name}_attr"]``
        Histone models: float32 (cell types, genes, marks, bins) in the layout
        of ``obsm['histone']`` (the model's marks); read it with
        ``ct.get.attributions``. NaN where not explained.
    ``adata.varm[f"{name}_attr_{cell_type}"]``
        Sequence models: float32 (regions, length, 4); NaN where not explained.
    ``adata.layers[f"{name}_attr_agreement"]``
        With two or more ``keys``: mean pairwise Pearson correlation of the
        models' attributions per (cell type, gene).
    ``adata.layers[f"{name}_attr_vs_ism"]``
        With ``compare="ism"``: Pearson correlation with ISM per (cell type, region).
    ``adata.uns[f"{name}_attr"]``
        ``params`` (``function``, ``method``, ``baseline``, ``steps``,
        ``models``, ``model``, ``cell_types``, ``marks``, ``batch_size``,
        ``device``, ``seed``) and with ``compare="ism"`` ``compare``, a
        DataFrame per cell type of ``n``, ``mean_pearson`` and ``median_pearson``.
    """
    check_option_names(method_options)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = resolve_seed(seed)
    models = _models(adata, key, keys, cell_types, genes, device)
    first = models[0]
    _check_method(method, compare, first, key)
    options = resolved_options(method, method_options)
    key_added = RESULTS["attribution"].default(key, method) if key_added is None else key_added
    outputs = _outputs(adata, key_added, first.cell_types[0], first.input_kind)

    store = _Store(adata, first, len(models), compare == "ism")
    _explain(models, method, options, store, batch_size, np.random.default_rng(seed))

    _write(adata, outputs, store)
    record = {
        "params": record_params(
            "attribute",
            key_added=key_added,
            method=method,
            baseline=options.get("baseline"),
            steps=options.get("steps"),
            model=first.name,
            models=[m.key for m in models],
            cell_types=list(first.cell_types),
            marks=list(first.record["config"]["data"].get("marks") or []),
            batch_size=batch_size,
            device=str(first.device),
            seed=seed,
        )
    }
    if store.vs_ism is not None:
        record["compare"] = _compare_table(adata, store.vs_ism, first.cell_types)
    adata.uns[outputs["uns"]] = record


def _explain(
    models: list[Interpreted],
    method: str,
    options: dict,
    store: _Store,
    batch_size: int,
    rng: np.random.Generator,
) -> None:
    """Run ``method`` with every model on every batch and write the mean into ``store``."""
    first = models[0]
    run = METHODS[method].run
    n = len(first.genes) * (1 if store.sequence else len(first.cell_types))
    for x, cells, genes in progress(
        first.batches(batch_size), total=-(-n // batch_size), desc=f"attribute {method}"
    ):
        per_model = [run(m, x, options, rng) for m in models]
        values = torch.stack(per_model).mean(dim=0)
        agreement = pairwise_agreement(per_model).cpu().numpy() if len(models) > 1 else None
        vs_ism = None
        if store.vs_ism is not None:
            deltas = torch.stack([ism(m.network, x) for m in models]).mean(dim=0)
            vs_ism = pearson_rows(values.sum(dim=-1), ism_scores(deltas)).cpu().numpy()
        store.write(cells, genes, values.cpu().numpy(), agreement, vs_ism)


def _outputs(adata: AnnData, key: str, cell: str, kind: str) -> dict:
    """Where the attributions go (the registry's slots), after the one guard: the values in
    ``obsm`` for histone models, in ``varm`` per cell type for sequence models."""
    slots = check_writable(adata, "attribution", key, cell_type=cell)
    values = {"obsm": slots["obsm"]} if kind == HISTONE else {"varm": slots["varm"]}
    return {**values, "layers": slots["layers"], "uns": slots["uns"][0]}


def _write(adata: AnnData, outputs: dict, store: _Store) -> None:
    materialised(adata)
    slot = adata.varm if store.sequence else adata.obsm
    slot[(outputs.get("varm") or outputs.get("obsm"))[0]] = store.values
    for layer, values in zip(outputs["layers"], (store.agreement, store.vs_ism), strict=True):
        write_or_drop(adata.layers, layer, values)


def _compare_table(adata: AnnData, vs_ism: np.ndarray, cell_types: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"cell_type": cell, **pearson_summary(vs_ism[adata.obs_names.get_loc(cell)])}
            for cell in cell_types
        ]
    )
