"""ChromTransfer's windowed in-silico mutagenesis (fastISM's idea, Nair et al. 2022).

The network has no pooling before its global average, so a base change at
position ``p`` changes only a window around ``p`` of each layer's output,
growing by the kernel width at each "same"-padded convolution. The reference
activations of every layer are computed once, and for each mutant only its
window is recomputed, with the reference as the context outside it; the
global average is updated as ``sum(reference) − window(reference) +
window(mutant)``. It equals one mutant per forward pass to float rounding.
:meth:`ChromTransfer.windowed_ism <chromtools.models.ChromTransfer.windowed_ism>`
points here; ``ct.tl``'s ISM takes this path where the model declares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .._substitutions import Mutants, mutant_chunks
from ._chromtransfer_fused import batchnorm_affine, channels_last_conv, channels_last_kernel
from ._chromtransfer_layers import ConvUnit, ResidualBlock

if TYPE_CHECKING:
    from .chromtransfer import ChromTransfer


class _Windows:
    """Where each mutant's window of a layer lies, and how to widen it from the reference.

    Every tensor is channels-last. A layer's values for a chunk of mutants are
    a (mutants, width, channels) tensor covering positions ``position +
    offset`` to ``position + offset + width − 1`` of each mutant; outside it
    every mutant equals its reference sequence. ``offset`` and ``width`` are
    the same for every mutant.
    """

    def __init__(self, chunk: Mutants, length: int, margin: int) -> None:
        self.sequence = chunk.sequence
        self.position = chunk.position
        self.length = length
        self.margin = margin
        self.first = int(chunk.position.min())
        self.last = int(chunk.position.max())

    def context(self, reference: torch.Tensor, offset: int, width: int) -> torch.Tensor:
        """Reference (mutants, width, channels) from ``position + offset``; 0 off the ends."""
        padded = F.pad(reference, (0, 0, self.margin, self.margin))
        start = self.position + (offset + self.margin)
        columns = start.unsqueeze(1) + torch.arange(width, device=start.device)
        return padded[self.sequence.unsqueeze(1), columns]

    def widen(
        self,
        reference: torch.Tensor,
        values: torch.Tensor,
        offset: int,
        new_offset: int,
        width: int,
    ) -> torch.Tensor:
        """``values`` at ``offset`` placed into the reference window at ``new_offset``.

        Only the strips on either side are read from the reference.
        """
        before = offset - new_offset
        after = width - before - values.shape[1]
        strips = [values]
        if before > 0:
            strips.insert(0, self.context(reference, new_offset, before))
        if after > 0:
            strips.append(self.context(reference, offset + values.shape[1], after))
        return torch.cat(strips, dim=1) if len(strips) > 1 else values

    def off_the_ends_zeroed(self, values: torch.Tensor, offset: int) -> torch.Tensor:
        """``values`` with the columns before position 0 or after the last position set to 0.

        A following convolution pads with zeros, so a window column outside
        the sequence must be 0, whatever the layer computed there.
        """
        if self.first + offset >= 0 and self.last + offset + values.shape[1] <= self.length:
            return values
        columns = torch.arange(values.shape[1], device=values.device) + offset
        where = self.position.unsqueeze(1) + columns
        inside = (where >= 0) & (where < self.length)
        return values * inside.unsqueeze(-1)


@dataclass
class _Layer:
    """A layer's reference (sequences, length, channels) and windowed mutant values."""

    reference: torch.Tensor
    values: torch.Tensor
    offset: int


class FoldedWeights:
    """The network's convolutions as channels-last 2-d kernels and its BatchNorms as affines."""

    def __init__(self, network: ChromTransfer) -> None:
        self.kernels: dict[nn.Conv1d, tuple[torch.Tensor, torch.Tensor]] = {}
        self.affines: dict[nn.BatchNorm1d, tuple[torch.Tensor, torch.Tensor]] = {}
        for module in network.encoder.modules():
            if isinstance(module, nn.Conv1d):
                self.kernels[module] = (channels_last_kernel(module.weight), module.bias.detach())
            elif isinstance(module, nn.BatchNorm1d):
                self.affines[module] = batchnorm_affine(module)

    def conv(self, conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
        """Unpadded convolution of (batch, width, channels)."""
        return channels_last_conv(x, *self.kernels[conv])

    def batchnorm(self, batchnorm: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
        """Eval-mode BatchNorm of (batch, width, channels), in place."""
        scale, shift = self.affines[batchnorm]
        return x.mul_(scale).add_(shift)


def _conv(same: nn.Sequential, layer: _Layer, windows: _Windows, weights: FoldedWeights) -> _Layer:
    """A "same"-padded convolution (``same_conv``) of the reference and of the windows."""
    pad, conv = same[0], same[1]
    left, right = pad.padding
    kernel = conv.kernel_size[0]
    offset = layer.offset - (kernel - 1)
    width = layer.values.shape[1] + 2 * (kernel - 1)
    widened = windows.widen(layer.reference, layer.values, layer.offset, offset, width)
    reference = weights.conv(conv, F.pad(layer.reference, (0, 0, left, right)))
    return _Layer(reference, weights.conv(conv, widened), layer.offset - right)


def _unit(unit: ConvUnit, layer: _Layer, windows: _Windows, weights: FoldedWeights) -> _Layer:
    """Convolution → ReLU → BatchNorm (dropout is off in eval), reference and windows."""
    convolved = _conv(unit[0], layer, windows, weights)
    reference = weights.batchnorm(unit[2], convolved.reference.relu_())
    values = weights.batchnorm(unit[2], convolved.values.relu_())
    return _Layer(
        reference, windows.off_the_ends_zeroed(values, convolved.offset), convolved.offset
    )


def _sum(first: _Layer, second: _Layer, windows: _Windows) -> _Layer:
    """Sum of two layers; the narrower window is widened to the wider one."""
    if second.values.shape[1] > first.values.shape[1]:
        first, second = second, first
    width = first.values.shape[1]
    widened = windows.widen(second.reference, second.values, second.offset, first.offset, width)
    return _Layer(first.reference + second.reference, first.values + widened, first.offset)


def _block(
    block: ResidualBlock, layer: _Layer, windows: _Windows, weights: FoldedWeights
) -> _Layer:
    """A residual block: two units plus the identity or a projecting unit."""
    first = _unit(block.body[0], layer, windows, weights)
    body = _unit(block.body[1], first, windows, weights)
    shortcut = (
        layer
        if isinstance(block.shortcut, nn.Identity)
        else _unit(block.shortcut, layer, windows, weights)
    )
    return _sum(body, shortcut, windows)


def _concatenated(layers: list[_Layer], windows: _Windows) -> _Layer:
    """Layers joined along channels, every window widened to the widest."""
    widest = max(layers, key=lambda layer: layer.values.shape[1])
    width = widest.values.shape[1]
    values = [
        windows.widen(layer.reference, layer.values, layer.offset, widest.offset, width)
        for layer in layers
    ]
    references = torch.cat([layer.reference for layer in layers], dim=-1)
    return _Layer(references, torch.cat(values, dim=-1), widest.offset)


def _pooled(
    network: ChromTransfer,
    x: torch.Tensor,
    windows: _Windows,
    base: torch.Tensor,
    weights: FoldedWeights,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Globally averaged features of the reference sequences and of every mutant."""
    encoder = network.encoder
    values = F.one_hot(base, 4).float().unsqueeze(1)
    layer = _unit(encoder.stem, _Layer(x, values, 0), windows, weights)
    layer = _block(encoder.narrow_projection, layer, windows, weights)
    narrow = []
    for block in encoder.narrow:
        layer = _block(block, layer, windows, weights)
        narrow.append(layer)
    layer = _block(encoder.wide_projection, _concatenated(narrow, windows), windows, weights)
    for block in encoder.wide:
        layer = _block(block, layer, windows, weights)
    layer = _unit(encoder.last[0], layer, windows, weights)
    layer = _conv(encoder.last[1], layer, windows, weights)
    last_reference = layer.reference.relu_()
    last_values = windows.off_the_ends_zeroed(layer.values.relu_(), layer.offset)
    total = last_reference.sum(dim=1)
    replaced = windows.context(last_reference, layer.offset, last_values.shape[1]).sum(dim=1)
    mutant_sum = total[windows.sequence] - replaced + last_values.sum(dim=1)
    length = x.shape[1]
    return total / length, mutant_sum / length


def receptive_margin(network: ChromTransfer) -> int:
    """Zero columns around a reference enough for any window: every kernel's reach summed."""
    return sum(m.kernel_size[0] - 1 for m in network.encoder.modules() if isinstance(m, nn.Conv1d))


def _head_score(network: ChromTransfer, features: torch.Tensor, output: int | None) -> torch.Tensor:
    """The scored output of the dense head on pooled features."""
    return network.head(features)[:, 0 if output is None else output].float()


def windowed_changes(
    network: ChromTransfer,
    x: torch.Tensor,
    chunk: Mutants,
    output: int | None,
    weights: FoldedWeights | None = None,
) -> torch.Tensor:
    """The change of the scored output for each mutant of ``chunk`` (sequence of ``x``,
    position, base), recomputing only each mutant's window of every layer. ``weights``
    (``FoldedWeights(network)``) may be passed to reuse the folded weights between chunks."""
    weights = FoldedWeights(network) if weights is None else weights
    sequences, owner = torch.unique(chunk.sequence, return_inverse=True)
    windows = _Windows(
        Mutants(owner, chunk.position, chunk.base), x.shape[1], receptive_margin(network)
    )
    reference, mutant = _pooled(network, x[sequences], windows, chunk.base, weights)
    return _head_score(network, mutant, output) - _head_score(network, reference, output)[owner]


def windowed_ism(
    network: ChromTransfer, x: torch.Tensor, batch_size: int, output: int | None
) -> torch.Tensor:
    """ChromTransfer ISM recomputing only each mutant's window of every layer."""
    deltas = torch.zeros(x.shape, dtype=torch.float32, device=x.device)
    weights = FoldedWeights(network)
    for chunk in mutant_chunks(x, batch_size):
        change = windowed_changes(network, x, chunk, output, weights)
        deltas[chunk.sequence, chunk.position, chunk.base] = change
    return deltas
