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

    def __getitem__(self, part: slice) -> Mutants:
        """The mutants of ``part``."""
        return Mutants(self.sequence[part], self.position[part], self.base[part])

    def applied(self, x: torch.Tensor) -> torch.Tensor:
        """(mutants, length, 4) each mutant's sequence of ``x`` with its base substituted."""
        mutant = x[self.sequence].clone()
        rows = torch.arange(len(mutant), device=x.device)
        mutant[rows, self.position] = 0
        mutant[rows, self.position, self.base] = 1
        return mutant


def mutant_chunks(x: torch.Tensor, batch_size: int) -> Iterator[Mutants]:
    """Every substitution of ``x`` in chunks of at most ``batch_size``."""
    every = Mutants(*mutants(x))
    for start in range(0, every.sequence.numel(), batch_size):
        yield every[start : start + batch_size]
