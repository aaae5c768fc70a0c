"""ChromTransfer: a residual CNN on one-hot DNA, pre-trained then fine-tuned per cell type."""

from __future__ import annotations

import torch
from torch import nn

from ._base import ChromModel


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


def _dense_head(
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


class ChromTransfer(ChromModel):
    """ChromTransfer (Salvatore et al. 2022): residual CNN from DNA sequence to open chromatin.

    Architecture, following the authors' Keras code: conv 64×25 → residual
    block 32×20 (projection shortcut) → 3 residual blocks 32×15 (identity
    shortcuts), whose three outputs are concatenated → residual block 64×10
    (projection) → 3 residual blocks 64×5 → conv 64×10 → conv 64×5 →
    global average pooling → dense 512 → dense 128 → n_outputs. Filters ×
    width; "same" padding; every convolution and dense layer is followed by
    ReLU, BatchNorm and dropout 0.1 (the last convolution by ReLU only).
    Global pooling makes the model length-agnostic (600 bp in the paper).
    Pre-training in the paper: Adam lr 1e-3, batch 256, early stopping
    patience 15. Fine-tuning: a new head dense 1024 → 32 (``reset_head(1,
    hidden=(1024, 32))``), BatchNorm statistics frozen
    (:meth:`freeze_batchnorm`), lr 5e-6, batch 128, patience 10.

    Parameters
    ----------
    n_outputs
        Outputs (logits; no sigmoid inside).
    in_channels
        Channels of the one-hot encoding (4: A, C, G, T).
    filters
        Filters of the wide blocks (64); the narrow blocks use half.
    hidden
        Hidden sizes of the dense head ((512, 128)).
    dropout
        Dropout after every layer (0.1).

    Notes
    -----
    Input is one-hot DNA of shape (batch, length, 4), as stored in
    ``varm['onehot']`` (uint8 is accepted and converted); it is transposed
    to channels-first inside. ``encoder`` is the convolutional trunk up to
    the global pooling, ``head`` the dense layers.
    """

    name = "chromtransfer"
    input_kind = "sequence"
    training_defaults = {**ChromModel.training_defaults, "epochs": 50, "batch_size": 256}

    def __init__(
        self,
        n_outputs: int = 1,
        *,
        in_channels: int = 4,
        filters: int = 64,
        hidden: tuple[int, ...] | list[int] = (512, 128),
        dropout: float = 0.1,
    ) -> None:
        super().__init__(locals())
        self.in_channels = in_channels
        self.encoder = ChromTransferEncoder(in_channels, filters, dropout)
        self.head = _dense_head(64, list(hidden), n_outputs, dropout)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled convolutional features (batch, 64)."""
        if x.ndim != 3 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"chromtransfer expects one-hot sequences of shape (batch, length, "
                f"{self.in_channels}), got {tuple(x.shape)}"
            )
        return self.encoder(x.float().transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, n_outputs) of one-hot DNA.

        Parameters
        ----------
        x
            (batch, length, 4) one-hot sequences (A, C, G, T), float or uint8.

        Returns
        -------
        Logits (batch, n_outputs).
        """
        return self.head(self.encode(x))

    def reset_head(self, n_outputs: int, hidden: tuple[int, ...] | list[int] | None = None) -> None:
        """Attach a new dense head, e.g. the paper's fine-tuning head ``hidden=(1024, 32)``.

        Parameters
        ----------
        n_outputs
            Outputs of the new head.
        hidden
            Hidden sizes; the current ones by default.
        """
        config = self._hyperparameters
        hidden = list(hidden) if hidden is not None else list(config["hidden"])
        device = next(self.head.parameters()).device
        self.head = _dense_head(64, hidden, n_outputs, config["dropout"]).to(device)
        self._update_config(n_outputs=n_outputs, hidden=hidden)
