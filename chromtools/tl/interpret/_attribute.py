"""``ct.tl.attribute``: how much each input value moves a model's prediction.

Four methods, each a core function of (``nn.Module``, tensor) that works on
any PyTorch model with one output (:func:`~chromtools.functional.scalar_output`):

``grad_x_input``
    the gradient of the logit times the input (:func:`grad_x_input`).
``integrated_gradients``
    gradients averaged along the straight path from a baseline to the input,
    times the difference (Sundararajan et al. 2017; :func:`integrated_gradients`).
``deeplift_shap``
    DeepLIFT's rescale rule averaged over several references (captum's
    ``DeepLift``; Lundberg & Lee 2017; :func:`deeplift_shap`).
``ism``
    in-silico mutagenesis of DNA: the change of the logit for every
    single-base substitution (:func:`~chromtools.functional.ism`); sequence models only.

:func:`attribute` is the thin AnnData wrapper. It stores histone models'
attributions in the layout of the signal and sequence models' per region,
averages several fitted models (``keys=``) with a per-gene agreement score,
and with ``compare="ism"`` scores how well a gradient method agrees with ISM.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from torch import nn

from ..._docs import SHARED, doc_params
from ..._results import RESULTS, check_writable, materialised, record_params
from ..._settings import resolve_seed
from ..._utils import check_int, progress
from ...get._aligned import positions, stored_var_names
from ...models import HISTONE, SEQUENCE
from ._attention import pairwise_agreement
from ._interpreted import (
    Interpreted,
    interpreted_model,
    pearson_rows,
    placed,
    scalar_output,
    spans,
)
from ._perturb import dinucleotide_shuffle

METHODS = ("grad_x_input", "integrated_gradients", "deeplift_shap", "ism")
BASELINES = ("zero", "shuffle")
DEFAULT_STEPS = {"integrated_gradients": 50, "deeplift_shap": 10}
DEFAULT_BASELINE = {"integrated_gradients": "zero", "deeplift_shap": "shuffle"}


# ---------------------------------------------------------------- cores (nn.Module, tensor)


@doc_params(**SHARED)
def gradients(
    network: nn.Module,
    x: torch.Tensor,
    *,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Gradient of each sample's logit with respect to its input, shape of ``x``.

    Parameters
    ----------
    network
        Model in eval mode with one output per sample.
    x
        A batch of inputs (float).
    batch_size
        {pass_size}
    device
        {compute_device}

    Returns
    -------
    ``∂ f(x_i) / ∂ x_i`` for every sample ``i``, float32.
    """
    device = placed(network, device, x)
    parts = []
    for span in spans(len(x), batch_size):
        inputs = x[span].detach().to(device).float().requires_grad_(True)
        with torch.enable_grad():
            (gradient,) = torch.autograd.grad(scalar_output(network, inputs).sum(), inputs)
        parts.append(gradient.to(x.device))
    return torch.cat(parts)


@doc_params(**SHARED)
def grad_x_input(
    network: nn.Module,
    x: torch.Tensor,
    *,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Gradient × input (Shrikumar et al. 2016).

    Parameters
    ----------
    network
        Model in eval mode with one output per sample.
    x
        A batch of inputs: (batch, marks, bins) signal or (batch, length, 4) one-hot DNA.
    batch_size
        {pass_size}
    device
        {compute_device}

    Returns
    -------
    Attributions of the shape of ``x``; for one-hot DNA only the observed base
    of each position is non-zero.
    """
    return gradients(network, x, batch_size=batch_size, device=device) * x.float()


@doc_params(**SHARED)
def integrated_gradients(
    network: nn.Module,
    x: torch.Tensor,
    *,
    baseline: torch.Tensor | None = None,
    steps: int = 50,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Integrated gradients with the midpoint rule.

    ``(x − x') · (1/m) Σ_k ∇f(x' + (k − ½)/m · (x − x'))`` for ``k = 1 … m``.
    The attributions of a sample sum to ``f(x) − f(x')`` up to the
    discretisation error, which shrinks as ``steps`` grows.

    Parameters
    ----------
    network
        Model in eval mode with one output per sample.
    x
        A batch of inputs.
    baseline
        Reference inputs of the shape of ``x`` (zeros by default).
    steps
        Points along the path, ``m``.
    batch_size
        {pass_size}
    device
        {compute_device}

    Returns
    -------
    Attributions of the shape of ``x``.
    """
    steps = check_int(steps, "steps", minimum=1)
    x = x.float()
    baseline = torch.zeros_like(x) if baseline is None else baseline.float()
    difference = x - baseline
    total = torch.zeros_like(x)
    for k in range(steps):
        point = baseline + (k + 0.5) / steps * difference
        total += gradients(network, point, batch_size=batch_size, device=device)
    return difference * total / steps


class _Logit(nn.Module):
    """``scalar_output`` of a network as a module, which captum's DeepLift needs."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return scalar_output(self.network, x)


@doc_params(**SHARED)
def deeplift_shap(
    network: nn.Module,
    x: torch.Tensor,
    references: torch.Tensor,
    *,
    batch_size: int | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """DeepLIFT (rescale rule) averaged over references: DeepSHAP.

    Uses captum's ``DeepLift`` once per reference. Layers it has no rule for
    (LSTMs, attention) pass gradients through, so for AttentiveChrome and
    TransferChrome this is an approximation; for the convolutional models
    each reference's attributions sum to ``f(x) − f(reference)``.

    Parameters
    ----------
    network
        Model in eval mode with one output per sample.
    x
        A batch of inputs, shape (batch, ...).
    references
        (n_references, batch, ...): the references of every sample, e.g.
        dinucleotide shuffles of each sequence (:func:`shuffled_references`).
    batch_size
        {pass_size}
    device
        {compute_device}

    Returns
    -------
    Attributions of the shape of ``x``.
    """
    from captum.attr import DeepLift

    if references.shape[1:] != x.shape:
        raise ValueError(
            f"deeplift_shap: references must be (n_references, *x.shape) = (n, "
            f"{', '.join(map(str, x.shape))}), got {tuple(references.shape)}"
        )
    device = placed(network, device, x)
    explainer = DeepLift(_Logit(network))
    total = torch.zeros_like(x, dtype=torch.float32)
    with warnings.catch_warnings(), torch.enable_grad():
        # captum warns that it sets hooks on the activations and about
        # layers it has no rule for; both are documented above
        warnings.simplefilter("ignore")
        for reference in references:
            for span in spans(len(x), batch_size):
                inputs = x[span].to(device).float()
                baselines = reference[span].to(device).float()
                attributions = explainer.attribute(inputs, baselines=baselines).detach()
                total[span] += attributions.to(x.device)
    return total / len(references)


def shuffled_references(
    x: torch.Tensor, n: int, rng: np.random.Generator, *, sequence: bool
) -> torch.Tensor:
    """``n`` references per sample: dinucleotide shuffles of DNA, other genes' signal otherwise.

    Parameters
    ----------
    x
        A batch: (batch, length, 4) one-hot DNA when ``sequence``, else (batch, marks, bins).
    n
        References per sample.
    rng
        Random generator (seeded by the caller).
    sequence
        Whether ``x`` is one-hot DNA.

    Returns
    -------
    (n, batch, ...) references on the device of ``x``.
    """
    if not sequence:
        return torch.stack([x[torch.from_numpy(rng.permutation(len(x)))] for _ in range(n)])
    onehot = x.detach().cpu().numpy()
    codes, known = onehot.argmax(axis=-1), onehot.sum(axis=-1) > 0
    references = np.zeros((n, *onehot.shape), dtype=np.float32)
    eye = np.eye(4, dtype=np.float32)
    for i in range(len(onehot)):
        bases = codes[i, known[i]]
        for r in range(n):
            references[r, i, known[i]] = eye[dinucleotide_shuffle(bases, rng)]
    return torch.from_numpy(references).to(x.device)


def ism_scores(deltas: torch.Tensor) -> torch.Tensor:
    """Importance of each observed base from ISM deltas: minus the mean of its 3 substitutions.

    Parameters
    ----------
    deltas
        (batch, length, 4) change of the logit per substitution, 0 at the observed base.

    Returns
    -------
    (batch, length): positive where mutating the base lowers the prediction.
    """
    return -deltas.sum(dim=-1) / 3


# ---------------------------------------------------------------- AnnData wrapper


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


def _check_baseline(baseline: object, method: str) -> str | None:
    if method not in DEFAULT_BASELINE:
        if baseline is not None:
            raise ValueError(
                f"attribute: method {method!r} takes no baseline; baselines are for "
                f"{list(DEFAULT_BASELINE)}"
            )
        return None
    baseline = DEFAULT_BASELINE[method] if baseline is None else baseline
    if baseline not in BASELINES:
        raise ValueError(f"attribute: baseline must be one of {list(BASELINES)}, got {baseline!r}")
    return baseline


def _models(adata: AnnData, key: str, keys, cell_types, genes, device) -> list[Interpreted]:
    """Every model averaged, checked to read the same input."""
    if keys is None:
        keys = [key]
    elif isinstance(keys, str) or not isinstance(keys, Sequence) or not keys:
        raise ValueError(f"attribute: keys must be a non-empty list of model keys, got {keys!r}")
    keys = list(keys)
    if len(set(keys)) < len(keys):
        raise ValueError(f"attribute: keys {keys} names a model more than once")
    models = [
        interpreted_model(
            adata, k, cell_types=cell_types, genes=genes, device=device, what="attribute"
        )
        for k in keys
    ]
    first = models[0]
    for model in models[1:]:
        data, reference = model.record["config"]["data"], first.record["config"]["data"]
        for field in ("input", "marks", "n_bins", "window", "cell_types"):
            if model.input_kind == HISTONE and field == "cell_types":
                continue
            if data.get(field) != reference.get(field):
                raise ValueError(
                    f"attribute: uns[{model.key!r}] has {field} {data.get(field)}, "
                    f"uns[{first.key!r}] {reference.get(field)}; averaged models must read "
                    "the same input"
                )
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


def _attributions(
    model: Interpreted, x: torch.Tensor, method: str, baseline, steps, rng, sequence: bool
) -> torch.Tensor:
    # Gradients run through the fused stand-in; DeepLIFT needs the original
    # network's nn.ReLU modules, and ISM picks its own path.
    if method == "grad_x_input":
        return grad_x_input(model.fast, x)
    if method == "ism":
        from ._ism import ism

        return ism(model.network, x)
    if method == "integrated_gradients":
        reference = None
        if baseline == "shuffle":
            reference = shuffled_references(x, 1, rng, sequence=sequence)[0]
        return integrated_gradients(model.fast, x, baseline=reference, steps=steps)
    network = model.network
    if baseline == "zero":
        return deeplift_shap(network, x, torch.zeros_like(x, dtype=torch.float32)[None])
    return deeplift_shap(network, x, shuffled_references(x, steps, rng, sequence=sequence))


def attribute(
    adata: AnnData,
    key: str,
    *,
    method: str = "grad_x_input",
    cell_types: Sequence[str] | str | None = None,
    genes: Sequence[str] | str | None = None,
    keys: Sequence[str] | None = None,
    baseline: str | None = None,
    steps: int | None = None,
    compare: str | None = None,
    batch_size: int = 256,
    device: str | None = None,
    seed: int | None = None,
    key_added: str | None = None,
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
    baseline
        ``"zero"`` or ``"shuffle"``: the reference of integrated gradients
        (zero by default) and deeplift_shap (shuffle by default):
        dinucleotide-shuffled DNA, or for histone models the signal of other
        genes of the same cell type.
    steps
        Integration steps of integrated gradients (50), or references per
        sample of deeplift_shap with ``baseline="shuffle"`` (10).
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
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = resolve_seed(seed)
    models = _models(adata, key, keys, cell_types, genes, device)
    first = models[0]
    _check_method(method, compare, first, key)
    baseline = _check_baseline(baseline, method)
    if method in DEFAULT_STEPS:
        steps = DEFAULT_STEPS[method] if steps is None else check_int(steps, "steps", minimum=1)
    elif steps is not None:
        raise ValueError(f"attribute: method {method!r} takes no steps")
    key_added = RESULTS["attribution"].default(key, method) if key_added is None else key_added
    outputs = _outputs(adata, key_added, first.cell_types[0], first.input_kind)

    store = _Store(adata, first, len(models), compare == "ism")
    rng = np.random.default_rng(seed)
    sequence = first.input_kind == SEQUENCE
    n = len(first.genes) * (1 if sequence else len(first.cell_types))
    for x, cells, genes_batch in progress(
        first.batches(batch_size), total=-(-n // batch_size), desc=f"attribute {method}"
    ):
        per_model = [_attributions(m, x, method, baseline, steps, rng, sequence) for m in models]
        values = torch.stack(per_model).mean(dim=0)
        agreement = pairwise_agreement(per_model).cpu().numpy() if len(models) > 1 else None
        vs_ism = None
        if compare == "ism":
            from ._ism import ism

            deltas = torch.stack([ism(m.network, x) for m in models]).mean(dim=0)
            vs_ism = pearson_rows(values.sum(dim=-1), ism_scores(deltas)).cpu().numpy()
        store.write(cells, genes_batch, values.cpu().numpy(), agreement, vs_ism)

    _write(adata, outputs, store)
    record = {
        "params": record_params(
            "attribute",
            key_added=key_added,
            method=method,
            baseline=baseline,
            steps=steps,
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
        if values is not None:
            adata.layers[layer] = values
        elif layer in adata.layers:
            del adata.layers[layer]


def _compare_table(adata: AnnData, vs_ism: np.ndarray, cell_types: list[str]) -> pd.DataFrame:
    rows = []
    for cell in cell_types:
        r = vs_ism[adata.obs_names.get_loc(cell)]
        r = r[np.isfinite(r)]
        rows.append(
            {
                "cell_type": cell,
                "n": len(r),
                "mean_pearson": float(r.mean()) if len(r) else np.nan,
                "median_pearson": float(np.median(r)) if len(r) else np.nan,
            }
        )
    return pd.DataFrame(rows)
