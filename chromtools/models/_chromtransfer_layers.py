"""ChromTransfer's layers: "same" convolutions, the residual blocks, the convolutional trunk and
the dense head, as in the authors' Keras code (Conv → ReLU → BatchNorm → dropout)."""

from __future__ import annotations

import torch
from torch import nn


def same_conv(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """``Conv1d`` with Keras' "same" padding: for an even width, one more zero on the right."""
    left = (kernel_size - 1) // 2
    return nn.Sequential(
        nn.ConstantPad1d((left, kernel_size - 1 - left), 0.0),
        nn.Conv1d(in_channels, out_channels, kernel_size),
    )


class ConvUnit(nn.Sequential):
    """Convolution ("same" padding) → ReLU → BatchNorm → dropout: the authors' unit, Keras order."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dropout: float):
        super().__init__(
            same_conv(in_channels, out_channels, kernel_size),
            nn.ReLU(),
            nn.BatchNorm1d(out_channels),
            nn.Dropout(dropout),
        )


class ResidualBlock(nn.Module):
    """Two :class:`ConvUnit` s plus a shortcut: the identity, or a third unit when projecting."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dropout: float,
        project: bool,
    ) -> None:
        super().__init__()
        if not project and in_channels != out_channels:
            raise ValueError("an identity shortcut needs as many input as output channels")
        self.body = nn.Sequential(
            ConvUnit(in_channels, out_channels, kernel_size, dropout),
            ConvUnit(out_channels, out_channels, kernel_size, dropout),
        )
        self.shortcut = (
            ConvUnit(in_channels, out_channels, kernel_size, dropout) if project else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.body(x) + self.shortcut(x)


class ChromTransferEncoder(nn.Module):
    """The convolutional trunk: one-hot (batch, 4, length) → (batch, 64), globally averaged."""

    def __init__(self, in_channels: int, filters: int, dropout: float) -> None:
        super().__init__()
        half = filters // 2
        self.stem = ConvUnit(in_channels, 64, 25, dropout)
        self.narrow_projection = ResidualBlock(64, half, 20, dropout, project=True)
        self.narrow = nn.ModuleList(
            ResidualBlock(half, half, 15, dropout, project=False) for _ in range(3)
        )
        # The authors' code concatenates the three narrow blocks' outputs.
        self.wide_projection = ResidualBlock(3 * half, filters, 10, dropout, project=True)
        self.wide = nn.Sequential(
            *(ResidualBlock(filters, filters, 5, dropout, project=False) for _ in range(3))
        )
        self.last = nn.Sequential(
            ConvUnit(filters, 64, 10, dropout),
            same_conv(64, 64, 5),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        x = self.narrow_projection(self.stem(x))
        narrow = []
        for block in self.narrow:
            x = block(x)
            narrow.append(x)
        x = self.wide(self.wide_projection(torch.cat(narrow, dim=1)))
        return self.last(x).mean(dim=-1)


def dense_head(
    in_features: int, hidden: list[int], n_outputs: int, dropout: float
) -> nn.Sequential:
    """Dense → ReLU → BatchNorm → dropout per hidden size, then the output layer."""
    layers: list[nn.Module] = []
    for size in hidden:
        layers += [nn.Linear(in_features, size), nn.ReLU(), nn.BatchNorm1d(size)]
        layers.append(nn.Dropout(dropout))
        in_features = size
    layers.append(nn.Linear(in_features, n_outputs))
    return nn.Sequential(*layers)


def check_sequence_input(x: torch.Tensor, in_channels: int) -> None:
    """Refuse input whose shape is not (batch, length, in_channels), naming the shape given."""
    if x.ndim != 3 or x.shape[-1] != in_channels:
        raise ValueError(
            f"chromtransfer expects one-hot sequences of shape (batch, length, "
            f"{in_channels}), got {tuple(x.shape)}"
        )
