"""Every single-base substitution of one-hot DNA, in chunks: what each ISM path enumerates.

Shared by the generic ISM of ``ct.tl`` and the windowed ISM a sequence model may
declare (:meth:`chromtools.models.ChromModel.windowed_ism`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch


def mutants(x: torch.Tensor) -> torch.Tensor:
    """(3, n) long tensor of (sequence, position, new base) for every substitution in ``x``.

    ``x`` is (batch, length, 4) one-hot; the observed base and positions
    without a base (all-zero rows) are skipped.
    """
    has_base = x.sum(dim=-1) > 0
    candidates = has_base.unsqueeze(-1) & (x == 0)
    return candidates.nonzero().T


@dataclass
class Mutants:
    """A chunk of mutants: which sequence, which position, which new base."""

    sequence: torch.Tensor
    position: torch.Tensor
    base: torch.Tensor


def mutant_chunks(x: torch.Tensor, batch_size: int) -> Iterator[Mutants]:
    """Every substitution of ``x`` in chunks of at most ``batch_size``."""
    sequence, position, base = mutants(x)
    for start in range(0, sequence.numel(), batch_size):
        chunk = slice(start, start + batch_size)
        yield Mutants(sequence[chunk], position[chunk], base[chunk])
