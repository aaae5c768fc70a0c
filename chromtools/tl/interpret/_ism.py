"""Exact in-silico saturation mutagenesis (ISM) of sequence models.

Every single-base substitution of every position is scored as the change of
the model's scalar output (the logit): ``ism(network, x)[b, p, c]`` is the
output for sequence ``b`` with base ``c`` at position ``p`` minus the output
for ``b`` itself. The observed base (no change) and positions without a base
(an all-zero row, e.g. N) score 0.

:func:`ism` works on any ``nn.Module`` that takes (batch, length, 4) one-hot
sequences, by batching the 3 × length mutants of each sequence through full
forward passes. A model that declares a windowed ISM
(:meth:`~chromtools.models.ChromModel.windowed_ism`, e.g.
:class:`~chromtools.models.ChromTransfer`: fastISM's idea, Nair et al. 2022)
computes it that way on sequences longer than the length it names
(:meth:`~chromtools.models.ChromModel.windowed_ism_from`, see
:func:`ism_path`); both equal :func:`naive_ism`, one mutant per forward
pass, to float rounding.
"""

from __future__ import annotations

import torch
from torch import nn

from ..._docs import SHARED, doc_params
from ..._substitutions import Mutants, mutant_chunks, mutants
from ..engine import inference_network
from ._interpreted import placed, scalar_output

__all__ = ["ism", "ism_path", "naive_ism"]


@doc_params(**SHARED)
def ism(
    network: nn.Module,
    x: torch.Tensor,
    *,
    batch_size: int = 512,
    output: int | None = None,
    path: str = "auto",
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Change of the model output for every single-base substitution.

    Parameters
    ----------
    network
        A sequence model in eval mode taking (batch, length, 4) one-hot DNA.
        A model in training mode is refused: dropout and batch statistics
        would make every difference noise.
    x
        (batch, length, 4) one-hot sequences (A, C, G, T), float or uint8;
        an all-zero row is a position without a base.
    batch_size
        Mutants per forward pass.
    output
        Which output column to score; by default the model's scalar output
        (:func:`~chromtools.functional.scalar_output`: its first output,
        or DeepDiff's prediction).
    path
        ``"windowed"`` recomputes only each mutant's window (models that
        declare :meth:`~chromtools.models.ChromModel.windowed_ism`, e.g.
        ChromTransfer); ``"full"`` runs every mutant through the whole network
        (through its :meth:`~chromtools.models.ChromModel.for_inference`
        stand-in); ``"auto"`` (default) takes the one :func:`ism_path` names.
    device
        {compute_device}

    Returns
    -------
    (batch, length, 4) float32 tensor on ``x``'s device: output with the
    substitution minus output of the sequence; 0 at the observed base and at
    positions without a base.
    """
    device = placed(network, device, x)
    on = x.device
    x = _checked(network, x, batch_size).to(device)
    chosen = chosen_path(network, x.shape[1], path)
    with torch.inference_mode():
        if chosen == "windowed":
            deltas = network.windowed_ism(x, batch_size=batch_size, output=output)
        else:
            deltas = _generic_deltas(inference_network(network), x, batch_size, output)
    return deltas.to(on)


def ism_path(network: nn.Module, length: int) -> str:
    """The faster ISM path for ``network`` at sequences of ``length`` bp.

    ``"windowed"`` where the model declares a windowed ISM and the sequence is
    longer than the length from which it saves work
    (:meth:`~chromtools.models.ChromModel.windowed_ism_from`; ChromTransfer:
    1.3 × its 229 bp receptive field), else ``"full"``.

    Returns
    -------
    ``"windowed"`` or ``"full"``.
    """
    threshold = _windowed_from(network)
    return "windowed" if threshold is not None and length > threshold else "full"


def check_path(path: object) -> str:
    """``path`` is an ISM path name: ``"auto"``, ``"windowed"`` or ``"full"``."""
    if path not in ("auto", "windowed", "full"):
        raise ValueError(f"path must be 'auto', 'windowed' or 'full', got {path!r}")
    return path


def chosen_path(network: nn.Module, length: int, path: str) -> str:
    """The ISM path run for ``path``: :func:`ism_path`'s for ``"auto"``; ``"windowed"``
    only for a model that declares a windowed ISM."""
    chosen = ism_path(network, length) if check_path(path) == "auto" else path
    if chosen == "windowed" and _windowed_from(network) is None:
        raise ValueError(
            f"path='windowed' needs a ChromTransfer or another model that declares a "
            f"windowed ISM, got {type(network).__name__}; use path='full' (or 'auto') for "
            "any other module"
        )
    return chosen


def _windowed_from(network: nn.Module) -> float | None:
    """The length from which ``network``'s declared windowed ISM pays; None: it has none."""
    declared = getattr(network, "windowed_ism_from", None)
    return declared() if callable(declared) else None


@doc_params(**SHARED)
def naive_ism(
    network: nn.Module,
    x: torch.Tensor,
    *,
    output: int | None = None,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """Reference ISM: one mutant sequence per forward pass.

    Parameters
    ----------
    network
        A sequence model in eval mode (see :func:`ism`).
    x
        (batch, length, 4) one-hot sequences.
    output
        Which output column to score (see :func:`ism`).
    device
        {compute_device}

    Returns
    -------
    The same (batch, length, 4) tensor as :func:`ism`, computed slowly.
    """
    device = placed(network, device, x)
    on = x.device
    x = _checked(network, x, 1).to(device)
    deltas = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    with torch.inference_mode():
        for b in range(x.shape[0]):
            observed = score_of(network, x[b : b + 1], output)
            for position, base in _substitutions(x[b]):
                mutant = x[b : b + 1].clone()
                mutant[0, position] = 0
                mutant[0, position, base] = 1
                deltas[b, position, base] = score_of(network, mutant, output)[0] - observed[0]
    return deltas.to(on)


def _checked(network: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``x`` as float32 after checking the network's mode and ``x``'s shape and values."""
    if not isinstance(network, nn.Module):
        raise TypeError(f"network must be a torch nn.Module, got {type(network).__name__}")
    if network.training:
        raise ValueError(
            "network is in training mode; ISM needs eval mode (dropout and batch statistics "
            "would turn every difference into noise): call network.eval() first"
        )
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of one-hot sequences, got {type(x).__name__}")
    if x.ndim != 3 or x.shape[-1] != 4:
        raise ValueError(f"x must be one-hot sequences (batch, length, 4), got {tuple(x.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive number, got {batch_size}")
    x = x.float()
    per_position = x.sum(dim=-1)
    if not bool(((x == 0) | (x == 1)).all()) or not bool((per_position <= 1).all()):
        raise ValueError(
            "x must be one-hot: values 0 or 1 with at most one 1 per position "
            "(an all-zero position has no base)"
        )
    return x


def score_of(network: nn.Module, x: torch.Tensor, output: int | None) -> torch.Tensor:
    """One value per sequence: the chosen output column or the scalar output."""
    if output is None:
        return scalar_output(network, x)
    return network(x)[:, output].float()


def _substitutions(sequence: torch.Tensor) -> list[list[int]]:
    """[position, base] of every substitution of a (length, 4) sequence, identity skipped."""
    return mutants(sequence.unsqueeze(0))[1:].T.tolist()


def _generic_deltas(
    network: nn.Module, x: torch.Tensor, batch_size: int, output: int | None
) -> torch.Tensor:
    """ISM of any module: the mutants batched through full forward passes."""
    deltas = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    observed = torch.cat(
        [score_of(network, x[i : i + batch_size], output) for i in range(0, len(x), batch_size)]
    )
    for chunk in mutant_chunks(x, batch_size):
        change = full_changes(network, x, chunk, observed, output)
        deltas[chunk.sequence, chunk.position, chunk.base] = change
    return deltas


def full_changes(
    network: nn.Module, x: torch.Tensor, chunk: Mutants, observed: torch.Tensor, output: int | None
) -> torch.Tensor:
    """The change of the scored output for each mutant of ``chunk``, each mutant through the
    whole network; ``observed`` holds the scores of ``x`` itself."""
    return score_of(network, chunk.applied(x), output) - observed[chunk.sequence]
