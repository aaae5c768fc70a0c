"""ChromTransfer: a residual CNN on one-hot DNA, pre-trained then fine-tuned per cell type."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._base import SEQUENCE, ChromModel


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


def channels_last_kernel(weight: torch.Tensor) -> torch.Tensor:
    """A ``Conv1d`` weight (out, in, kernel) as a channels-last 2-d kernel (out, in, 1, kernel)."""
    return weight.detach().unsqueeze(2).contiguous(memory_format=torch.channels_last)


def channels_last_conv(
    x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor, padding: int = 0
) -> torch.Tensor:
    """1-d convolution of (batch, length, channels) as a channels-last 2-d convolution.

    It reads and writes (batch, length, channels) directly, with no
    transposed copy, and runs about 1.6× faster on a CPU than ``conv1d`` on
    (batch, channels, length). ``padding`` zeros on both sides.
    """
    out = F.conv2d(x.transpose(1, 2).unsqueeze(2), kernel, bias, padding=(0, padding))
    return out.squeeze(2).transpose(1, 2)


def _batchnorm_affine(batchnorm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BatchNorm as ``scale * x + shift`` per channel."""
    scale = torch.rsqrt(batchnorm.running_var + batchnorm.eps)
    if batchnorm.weight is not None:
        scale = scale * batchnorm.weight
    shift = -batchnorm.running_mean * scale
    if batchnorm.bias is not None:
        shift = shift + batchnorm.bias
    return scale.detach().clone(), shift.detach().clone()


class _FusedUnit(nn.Module):
    """Convolution ("same" padding) → ReLU → optional per-channel affine, for inference.

    ``same`` is the (padding, convolution) pair made by :func:`same_conv`.

    ``input_affine`` is the BatchNorm of the unit before, folded into this
    convolution: the weights take its scale, and its shift enters as a bias
    computed with the padded edges, where the original convolution saw zeros
    rather than the shift. ``output_affine`` is this unit's own BatchNorm,
    applied unless a following unit folds it (``None``).
    """

    def __init__(
        self,
        same: nn.Sequential,
        input_affine: tuple[torch.Tensor, torch.Tensor] | None,
        output_affine: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> None:
        super().__init__()
        pad, conv = same[0], same[1]
        self.left, self.right = pad.padding
        weight = conv.weight.detach().clone()
        bias = conv.bias.detach().clone()
        taps = weight.new_zeros(weight.shape[0], weight.shape[2])
        if input_affine is not None:
            scale, shift = input_affine
            taps = torch.einsum("oik,i->ok", weight, shift)
            weight = weight * scale[None, :, None]
        # An even kernel pads one zero more on the right than on the left; a zero
        # tap in front makes it odd and centred, so the convolution pads itself
        # symmetrically and no padded copy of the input is made.
        if self.right > self.left:
            weight = F.pad(weight, (self.right - self.left, 0))
        self.padding = self.right
        self.register_buffer("weight", channels_last_kernel(weight))
        self.register_buffer("bias", bias + taps.sum(dim=1))
        # What each output column loses at the ends, where a tap falls on padding.
        self.register_buffer("taps", taps)
        self.has_input_affine = input_affine is not None
        self.output_affine = output_affine is not None
        if output_affine is not None:
            self.register_buffer("scale", output_affine[0])
            self.register_buffer("shift", output_affine[1])

    def edges(self, columns: torch.Tensor, length: int) -> torch.Tensor:
        """(columns, channels) correction of the folded shift's bias at these output columns.

        Column ``i`` misses the taps before ``left − i`` and after ``left + length − 1 − i``,
        which fall on the zero padding of the original convolution.
        """
        kernel = self.taps.shape[1]
        prefix = F.pad(self.taps.cumsum(dim=1), (1, 0))
        before = (self.left - columns).clamp(0, kernel)
        after = (self.left + length - columns).clamp(0, kernel)
        missed = prefix[:, before] + prefix[:, -1:] - prefix[:, after]
        return -missed.T

    def convolved(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution of (batch, length, channels) before the ReLU, as the unfused unit's."""
        length = x.shape[1]
        out = channels_last_conv(x, self.weight, self.bias, self.padding)
        if self.has_input_affine:
            reach = self.taps.shape[1] - 1
            if length <= 2 * reach:
                columns = torch.arange(length, device=x.device)
                out = out + self.edges(columns, length)
            else:
                columns = torch.arange(reach, device=x.device)
                out[:, :reach] += self.edges(columns, length)
                out[:, -reach:] += self.edges(columns + length - reach, length)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        out = self.convolved(x)
        if not torch.is_grad_enabled():  # in place when nothing is recorded for a backward
            out = out.relu_()
            return out.mul_(self.scale).add_(self.shift) if self.output_affine else out
        out = out.relu()
        return out * self.scale + self.shift if self.output_affine else out


class _FusedBlock(nn.Module):
    """A :class:`ResidualBlock` of fused units; ``input_affine`` folds the input's BatchNorm."""

    def __init__(
        self, block: ResidualBlock, input_affine: tuple[torch.Tensor, torch.Tensor] | None
    ) -> None:
        super().__init__()
        first, second = block.body
        middle = _batchnorm_affine(first[2])
        self.first = _FusedUnit(first[0], input_affine, None)
        self.second = _FusedUnit(second[0], middle, _batchnorm_affine(second[2]))
        self.identity = isinstance(block.shortcut, nn.Identity)
        if self.identity and input_affine is not None:
            raise ValueError("an identity shortcut needs its input normalised, not folded")
        if not self.identity:
            unit = block.shortcut
            self.shortcut = _FusedUnit(unit[0], input_affine, _batchnorm_affine(unit[2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        body = self.second(self.first(x))
        return body.add_(x if self.identity else self.shortcut(x))


class FusedChromTransfer(nn.Module):
    """A ChromTransfer for inference only, every BatchNorm folded where that is exact.

    Made by :meth:`ChromTransfer.fused`. Each BatchNorm that feeds only
    convolutions (the stem's, the first unit's of every block, the last
    unit's) is folded into the next convolution, with the edge columns
    corrected for the zero padding; the others are applied after the ReLU
    (in place unless gradients are recorded). Activations stay (batch,
    length, channels) from input to pooling, and each convolution runs as a
    channels-last 2-d convolution on them that pads itself (even kernels get
    a zero tap in front), so no layer transposes, pads or reorders a copy;
    the dense head's BatchNorms fold into the following linear layers. Large
    batches run in pieces of :attr:`chunk_positions` positions.
    Predictions, and gradients with respect to the input, equal the
    eval-mode model's to float rounding. Its weights cannot be trained:
    fuse again after changing the model.
    """

    #: Sequence positions per internal batch: a batch is cut into pieces of
    #: about this many positions (64 sequences of 600 bp), whose activations
    #: stay in the CPU caches between layers; results do not depend on it.
    chunk_positions = 38_400

    def __init__(self, network: ChromTransfer) -> None:
        super().__init__()
        encoder = network.encoder
        self.in_channels = network.in_channels
        self.stem = _FusedUnit(encoder.stem[0], None, None)
        self.narrow_projection = _FusedBlock(
            encoder.narrow_projection, _batchnorm_affine(encoder.stem[2])
        )
        self.narrow = nn.ModuleList(_FusedBlock(block, None) for block in encoder.narrow)
        self.wide_projection = _FusedBlock(encoder.wide_projection, None)
        self.wide = nn.ModuleList(_FusedBlock(block, None) for block in encoder.wide)
        self.last = _FusedUnit(encoder.last[0][0], None, None)
        self.final = _FusedUnit(encoder.last[1], _batchnorm_affine(encoder.last[0][2]), None)
        self.head = _fused_head(network.head)
        self.eval()

    def train(self, mode: bool = True) -> FusedChromTransfer:  # noqa: D102
        if mode:
            raise ValueError(
                "a fused ChromTransfer is for inference only; train the ChromTransfer it "
                "was made from and call .fused() again"
            )
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (batch, n_outputs) of (batch, length, 4) one-hot DNA, float or uint8."""
        if x.ndim != 3 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"chromtransfer expects one-hot sequences of shape (batch, length, "
                f"{self.in_channels}), got {tuple(x.shape)}"
            )
        rows = max(1, self.chunk_positions // max(1, x.shape[1]))
        if len(x) > rows:
            return torch.cat([self._logits(chunk) for chunk in x.split(rows)])
        return self._logits(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        # Activations stay (batch, length, channels) throughout: no transposed copies.
        x = self.narrow_projection(self.stem(x.float()))
        narrow = []
        for block in self.narrow:
            x = block(x)
            narrow.append(x)
        x = self.wide_projection(torch.cat(narrow, dim=-1))
        for block in self.wide:
            x = block(x)
        return self.head(self.final(self.last(x)).mean(dim=1))


def _fused_head(head: nn.Sequential) -> nn.Sequential:
    """The dense head with each BatchNorm (after a ReLU) folded into the next linear layer."""
    layers: list[nn.Module] = []
    affine = None
    for layer in head:
        if isinstance(layer, nn.Linear):
            weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
            if affine is not None:
                bias = bias + weight @ affine[1]
                weight = weight * affine[0]
            folded = nn.Linear(weight.shape[1], weight.shape[0], device=weight.device)
            folded.weight.data.copy_(weight)
            folded.bias.data.copy_(bias)
            layers.append(folded.requires_grad_(False))
            affine = None
        elif isinstance(layer, nn.BatchNorm1d):
            affine = _batchnorm_affine(layer)
        elif isinstance(layer, nn.ReLU):
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
