"""ChromTransfer: a residual CNN on one-hot DNA, pre-trained then fine-tuned per cell type."""

from __future__ import annotations

import torch
from torch import nn

from ._base import SEQUENCE, ChromModel
from ._chromtransfer_fused import FusedChromTransfer
from ._chromtransfer_layers import (
    ChromTransferEncoder,
    ConvUnit,
    ResidualBlock,
    check_sequence_input,
    dense_head,
    same_conv,
)


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
    ``forward`` takes one-hot DNA of shape (batch, length, 4) (A, C, G, T),
    as stored in ``varm['onehot']`` (uint8 is accepted and converted; it is
    transposed to channels-first inside), and returns logits (batch,
    n_outputs). ``encoder`` is the convolutional trunk up to the global
    pooling, ``head`` the dense layers.
    """

    name = "chromtransfer"
    input_kind = SEQUENCE
    training_defaults = {**ChromModel.training_defaults, "epochs": 50, "batch_size": 256}
    #: BatchNorm trains on a batch's statistics, which one sample does not have.
    min_batch_size = 2

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
        self.head = dense_head(64, list(hidden), n_outputs, dropout)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled convolutional features (batch, 64)."""
        check_sequence_input(x, self.in_channels)
        return self.encoder(x.float().transpose(1, 2))

    def reset_head(self, n_outputs: int, hidden: tuple[int, ...] | list[int] | None = None) -> None:
        """Attach a new dense head, e.g. the paper's fine-tuning head ``hidden=(1024, 32)``.

        Parameters
        ----------
        n_outputs
            Outputs of the new head.
        hidden
            Hidden sizes; the current ones by default.
        """
        dropout = self._hyperparameters["dropout"]
        self._reset_head_with_hidden(
            lambda sizes: dense_head(64, sizes, n_outputs, dropout), n_outputs, hidden
        )

    def windowed_ism_from(self) -> float:
        """Sequence length beyond which :meth:`windowed_ism` beats full forward passes.

        The windowed path recomputes a window about as wide as the receptive
        field around each mutant, so it saves work only once the sequence is
        clearly longer than that field: on a CPU the two paths take the same
        time at 300 bp (field 229 bp), the windowed one half the time at 600 bp
        and a third at 1 kb.

        Returns
        -------
        1.3 × the receptive field, in bp.
        """
        from ._chromtransfer_ism import receptive_margin

        return 1.3 * receptive_margin(self)

    def windowed_ism(
        self, x: torch.Tensor, *, batch_size: int, output: int | None = None
    ) -> torch.Tensor:
        """:meth:`ChromModel.windowed_ism`, recomputing only each mutant's window of every
        layer (eval mode; :mod:`chromtools.models._chromtransfer_ism`): equal to one mutant
        per forward pass to float rounding, 0 at the observed base and where there is none."""
        from ._chromtransfer_ism import windowed_ism

        return windowed_ism(self, x, batch_size, output)

    def for_inference(self) -> nn.Module:
        """The :meth:`fused` copy in eval mode; the model itself while it trains."""
        return self if self.training else self.fused()

    def fused(self) -> FusedChromTransfer:
        """An inference-only copy with the BatchNorms folded, equal to this model in eval mode.

        Returns
        -------
        A :class:`FusedChromTransfer` holding copies of the weights and running
        statistics as they are now; this model is left unchanged.
        """
        return FusedChromTransfer(self)


__all__ = [
    "ChromTransfer",
    "ChromTransferEncoder",
    "ConvUnit",
    "FusedChromTransfer",
    "ResidualBlock",
    "same_conv",
]
