"""DeepChrome: a convolutional network on binned histone signal."""

from __future__ import annotations

import torch
from torch import nn

from ._base import ChromModel, check_histone_input


def _mlp(sizes: list[int], n_outputs: int) -> nn.Sequential:
    """Linear → ReLU layers through ``sizes``, then a linear output layer."""
    layers: list[nn.Module] = []
    for size_in, size_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(size_in, size_out), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], n_outputs))
    return nn.Sequential(*layers)


class DeepChrome(ChromModel):
    """DeepChrome (Singh et al., Bioinformatics 2016): convolution over bins, then an MLP.

    Architecture, as in the authors' Lua code: ``Conv1d(marks → 50, width
    10)`` → ReLU → ``MaxPool1d(5)`` → dropout 0.5 → ``Linear(flat → 625)`` →
    ReLU → ``Linear(625 → 125)`` → ReLU → ``Linear(125 → n_outputs)``. The
    flattened size follows from the input: 50 × ⌊(bins − 9) / 5⌋, 900 for
    the paper's 100 bins. The paper's two-class softmax is a single logit
    here (binary cross-entropy on logits is the same model).

    Parameters
    ----------
    n_marks
        Histone marks (input channels); any number ≥ 1.
    n_bins
        Bins per mark; at least ``kernel_size + pool_size - 1``.
    n_outputs
        Outputs of the head (logits; no sigmoid inside).
    filters
        Convolution filters (50).
    kernel_size
        Convolution width in bins (10).
    pool_size
        Max-pooling width (5).
    hidden
        Sizes of the hidden layers of the head (625, 125).
    dropout
        Dropout before the head (0.5).

    Notes
    -----
    ``forward`` takes (batch, marks, bins) float signal and returns logits
    (batch, n_outputs). ``encoder`` is the convolution, pooling and dropout
    (signal → flat features); ``head`` the MLP.
    """

    name = "deepchrome"

    def __init__(
        self,
        n_marks: int,
        n_bins: int,
        n_outputs: int = 1,
        *,
        filters: int = 50,
        kernel_size: int = 10,
        pool_size: int = 5,
        hidden: tuple[int, ...] | list[int] = (625, 125),
        dropout: float = 0.5,
    ) -> None:
        super().__init__(locals())
        positions = (n_bins - kernel_size + 1) // pool_size
        if positions < 1:
            raise ValueError(
                f"DeepChrome needs at least {kernel_size + pool_size - 1} bins "
                f"(kernel {kernel_size}, pool {pool_size}); got n_bins={n_bins}"
            )
        self.n_marks, self.n_bins = n_marks, n_bins
        self.encoder = nn.Sequential(
            nn.Conv1d(n_marks, filters, kernel_size),
            nn.ReLU(),
            nn.MaxPool1d(pool_size),
            nn.Flatten(),
            nn.Dropout(dropout),
        )
        self.n_features = filters * positions
        self.head = _mlp([self.n_features, *hidden], n_outputs)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Flattened convolutional features (batch, filters · positions)."""
        check_histone_input(x, self.n_marks, self.n_bins, self.name)
        return self.encoder(x)

    def reset_head(self, n_outputs: int, hidden: tuple[int, ...] | list[int] | None = None) -> None:
        """Replace the MLP by a freshly initialised one.

        Parameters
        ----------
        n_outputs
            Outputs of the new head.
        hidden
            Hidden layer sizes; the current ones by default.
        """
        self._reset_head_with_hidden(
            lambda sizes: _mlp([self.n_features, *sizes], n_outputs), n_outputs, hidden
        )
