"""The attribution methods: a core function of (``nn.Module``, tensor) each, and their table.

The cores work on any PyTorch model with one output
(:func:`~chromtools.functional.scalar_output`):

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

:data:`METHODS` says how ``ct.tl.attribute`` runs each on a fitted model and
which options (``baseline``, ``steps``) it takes; :func:`resolved_options`
checks the options of a call against it.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from ..._docs import SHARED, doc_params
from ..._utils import check_int
from ...models import SEQUENCE
from ._interpreted import Interpreted, placed, scalar_output, spans
from ._ism import ism
from ._shuffle import shuffled_references

# Parameter text every core shares, written once.
CORE_DOCS = {
    "network": "network\n        Model in eval mode with one output per sample.",
    "pass_options": (
        f"batch_size\n        {SHARED['pass_size']}\n    device\n        {SHARED['compute_device']}"
    ),
}


@doc_params(**CORE_DOCS)
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
    {network}
    x
        A batch of inputs (float).
    {pass_options}

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


@doc_params(**CORE_DOCS)
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
    {network}
    x
        A batch of inputs: (batch, marks, bins) signal or (batch, length, 4) one-hot DNA.
    {pass_options}

    Returns
    -------
    Attributions of the shape of ``x``; for one-hot DNA only the observed base
    of each position is non-zero.
    """
    return gradients(network, x, batch_size=batch_size, device=device) * x.float()


@doc_params(**CORE_DOCS)
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
    {network}
    x
        A batch of inputs.
    baseline
        Reference inputs of the shape of ``x`` (zeros by default).
    steps
        Points along the path, ``m``.
    {pass_options}

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


@doc_params(**CORE_DOCS)
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
    {network}
    x
        A batch of inputs, shape (batch, ...).
    references
        (n_references, batch, ...): the references of every sample, e.g.
        dinucleotide shuffles of each sequence (:func:`shuffled_references`).
    {pass_options}

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


# ---------------------------------------------------------------- the table


# Gradients run through the fused stand-in (``model.fast``); DeepLIFT needs the
# original network's nn.ReLU modules, and ISM picks its own path.


def _grad_x_input(
    model: Interpreted, x: torch.Tensor, options: dict, rng: np.random.Generator
) -> torch.Tensor:
    return grad_x_input(model.fast, x)


def _integrated_gradients(
    model: Interpreted, x: torch.Tensor, options: dict, rng: np.random.Generator
) -> torch.Tensor:
    reference = None
    if options["baseline"] == "shuffle":
        sequence = model.input_kind == SEQUENCE
        reference = shuffled_references(x, 1, rng, sequence=sequence)[0]
    return integrated_gradients(model.fast, x, baseline=reference, steps=options["steps"])


def _deeplift_shap(
    model: Interpreted, x: torch.Tensor, options: dict, rng: np.random.Generator
) -> torch.Tensor:
    if options["baseline"] == "zero":
        references = torch.zeros_like(x, dtype=torch.float32)[None]
    else:
        sequence = model.input_kind == SEQUENCE
        references = shuffled_references(x, options["steps"], rng, sequence=sequence)
    return deeplift_shap(model.network, x, references)


def _ism(
    model: Interpreted, x: torch.Tensor, options: dict, rng: np.random.Generator
) -> torch.Tensor:
    return ism(model.network, x)


@dataclasses.dataclass(frozen=True)
class Method:
    """How ``ct.tl.attribute`` runs one method on a fitted model, and the options it takes.

    ``run(model, x, options, rng)`` gives the attributions of a batch;
    ``options`` maps each option the method takes to its default.
    """

    run: Callable[[Interpreted, torch.Tensor, dict, np.random.Generator], torch.Tensor]
    options: Mapping[str, object] = dataclasses.field(default_factory=dict)


METHODS = {
    "grad_x_input": Method(_grad_x_input),
    "integrated_gradients": Method(_integrated_gradients, {"baseline": "zero", "steps": 50}),
    "deeplift_shap": Method(_deeplift_shap, {"baseline": "shuffle", "steps": 10}),
    "ism": Method(_ism),
}
BASELINES = ("zero", "shuffle")


def _check_baseline(baseline: object) -> str:
    if baseline not in BASELINES:
        raise ValueError(f"attribute: baseline must be one of {list(BASELINES)}, got {baseline!r}")
    return baseline


# How each option's value is checked, in the order the options are checked.
_CHECKS = {
    "baseline": _check_baseline,
    "steps": lambda steps: check_int(steps, "steps", minimum=1),
}


def check_option_names(options: Mapping[str, object]) -> None:
    """Refuse keywords that are no method's option, naming the options of every method."""
    unknown = sorted(set(options) - set(_CHECKS))
    if unknown:
        taken = {name: list(method.options) for name, method in METHODS.items()}
        raise TypeError(
            f"attribute got unexpected options {unknown}; the options of each method are {taken}"
        )


def resolved_options(method: str, options: Mapping[str, object]) -> dict[str, object]:
    """The options ``method`` runs with: those given over its defaults, each checked.

    An option given as None takes the method's default; one the method does
    not take is refused unless it is None.
    """
    taken = METHODS[method].options
    resolved = {}
    for name, check in _CHECKS.items():
        value = options.get(name)
        if name in taken:
            resolved[name] = taken[name] if value is None else check(value)
        elif value is not None:
            takers = [other for other, spec in METHODS.items() if name in spec.options]
            raise ValueError(
                f"attribute: method {method!r} takes no {name}; {name} is an option of {takers}"
            )
    return resolved
