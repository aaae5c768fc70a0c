"""TransferChrome: densely connected convolutions and self-attention over bins."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._base import ChromModel, check_histone_input


def attention_rollout(attentions: Sequence[torch.Tensor]) -> torch.Tensor:
    """Attention rollout through residual self-attention layers (Abnar & Zuidema, 2020).

    Each layer's map is averaged over heads, the identity is added for the
    residual connection and rows are renormalised, ``Ã = (mean_h A + I) / 2``;
    the layers are then multiplied from the input up, ``R = Ã_L ⋯ Ã_1``.

    Parameters
    ----------
    attentions
        One (batch, heads, tokens, tokens) map per layer, first layer first,
        each row summing to 1.

    Returns
    -------
    (batch, tokens, tokens): row ``i`` is how much output token ``i`` draws
    from each input token; every row sums to 1.
    """
    if not attentions:
        raise ValueError("attention_rollout needs at least one attention map")
    rollout = None
    for layer in attentions:
        if layer.ndim != 4 or layer.shape[-1] != layer.shape[-2]:
            raise ValueError(
                "attention_rollout: each map must be (batch, heads, tokens, tokens), "
                f"got {tuple(layer.shape)}"
            )
        mixed = layer.float().mean(dim=1)
        mixed = mixed + torch.eye(mixed.shape[-1], device=mixed.device, dtype=mixed.dtype)
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        rollout = mixed if rollout is None else mixed @ rollout
    return rollout


class DenseConvBlock(nn.Module):
    """Densely connected 1-D convolutions: each layer reads all earlier feature maps.

    Layer ``l`` applies ``Conv1d(k) → BatchNorm → ReLU`` to the concatenation
    of the input and the outputs of layers ``0 … l-1`` and adds
    ``growth_rate`` channels; a 1×1 convolution (with BatchNorm and ReLU)
    then maps everything to ``out_channels`` per bin.

    Parameters
    ----------
    in_channels
        Input channels (marks).
    growth_rate
        Channels each layer adds.
    n_layers
        Convolution layers.
    kernel_size
        Odd convolution width in bins ("same" padding keeps the bins).
    out_channels
        Features per bin after the transition convolution.
    """

    def __init__(
        self,
        in_channels: int,
        growth_rate: int,
        n_layers: int,
        kernel_size: int,
        out_channels: int,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"TransferChrome needs an odd kernel_size, got {kernel_size}")
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(
                    in_channels + k * growth_rate,
                    growth_rate,
                    kernel_size,
                    padding=kernel_size // 2,
                    bias=False,
                ),
                nn.BatchNorm1d(growth_rate),
                nn.ReLU(),
            )
            for k in range(n_layers)
        )
        self.transition = nn.Sequential(
            nn.Conv1d(in_channels + n_layers * growth_rate, out_channels, 1, bias=False),
            nn.BatchNorm1d(out_channels),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channels, bins) → (batch, out_channels, bins)."""
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return self.transition(torch.cat(features, dim=1))


class TransferChromeEncoder(nn.Module):
    """Dense convolutions → one feature vector per bin, plus a learned position embedding."""

    def __init__(
        self,
        n_marks: int,
        n_bins: int,
        growth_rate: int,
        n_layers: int,
        kernel_size: int,
        d_model: int,
    ) -> None:
        super().__init__()
        self.convolutions = DenseConvBlock(n_marks, growth_rate, n_layers, kernel_size, d_model)
        # Where a bin lies relative to the TSS matters, and attention alone cannot see it.
        self.position = nn.Parameter(torch.randn(1, n_bins, d_model) * 0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, marks, bins) → per-bin features (batch, bins, d_model)."""
        return self.convolutions(x).transpose(1, 2) + self.position


class TransferChromeHead(nn.Module):
    """Self-attention across bins → attention pooling → MLP to the logits.

    A pre-norm transformer layer (multi-head scaled dot-product attention and
    a feed-forward layer, each with a residual connection), then attention
    pooling ``Σ_t a_t x_t`` with ``a = softmax_t(w · x_t)``, then ``output``.
    Dropout is applied in the output MLP only: on a CPU, dropout masks over
    the (batch, heads, bins, bins) attention map cost more than the attention.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        feedforward: int,
        dropout: float,
        hidden: int,
        n_outputs: int,
    ) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.norm_attention = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.attention_out = nn.Linear(d_model, d_model)
        self.norm_feedforward = nn.LayerNorm(d_model)
        self.feedforward = nn.Sequential(
            nn.Linear(d_model, feedforward), nn.ReLU(), nn.Linear(feedforward, d_model)
        )
        self.norm_pool = nn.LayerNorm(d_model)
        self.pool = nn.Linear(d_model, 1)
        self.output = self.make_output(d_model, hidden, n_outputs, dropout)

    @staticmethod
    def make_output(d_model: int, hidden: int, n_outputs: int, dropout: float) -> nn.Sequential:
        """The MLP from the pooled vector to the logits."""
        return nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(d_model, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_outputs),
        )

    def project(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Query, key and value of the attention layer, each (batch, heads, bins, d_head)."""
        batch, bins, d_model = features.shape
        heads = self.qkv(self.norm_attention(features))
        heads = heads.view(batch, bins, 3, self.n_heads, d_model // self.n_heads)
        query, key, value = heads.permute(2, 0, 3, 1, 4)
        return query, key, value

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-bin features (batch, bins, d_model) → logits and pooling weights (batch, bins)."""
        batch, bins, d_model = features.shape
        query, key, value = self.project(features)
        attended = F.scaled_dot_product_attention(query, key, value)
        attended = attended.transpose(1, 2).reshape(batch, bins, d_model)
        features = features + self.attention_out(attended)
        features = features + self.feedforward(self.norm_feedforward(features))
        features = self.norm_pool(features)
        weights = torch.softmax(self.pool(features).squeeze(-1), dim=1)
        pooled = torch.einsum("bt,btd->bd", weights, features)
        return self.output(pooled), weights


class TransferChrome(ChromModel):
    """TransferChrome (Chen, Xie & Wen, Front. Genet. 2022): dense CNN + self-attention.

    Architecture (the paper gives the design, not every size; these are
    ours): a densely connected block of ``n_layers`` = 4 convolutions
    (width ``kernel_size`` = 7, ``growth_rate`` = 24 channels each, BatchNorm
    + ReLU; each layer reads the concatenated maps of the input and all
    earlier layers) and a 1×1 transition to ``d_model`` = 64 features per
    bin, plus a learned position embedding; then one pre-norm transformer
    layer across bins (``n_heads`` = 4 heads of scaled dot-product attention,
    feed-forward 128); attention pooling over bins; and an MLP (64 →
    ``hidden`` = 32 → n_outputs) with dropout 0.1.

    Parameters
    ----------
    n_marks
        Histone marks (input channels); any number ≥ 1.
    n_bins
        Bins per mark (sets the position embedding).
    n_outputs
        Outputs (logits; no sigmoid inside).
    growth_rate
        Channels added by each dense layer.
    n_layers
        Dense convolution layers.
    kernel_size
        Odd convolution width in bins.
    d_model
        Features per bin entering the attention.
    n_heads
        Attention heads (must divide ``d_model``).
    feedforward
        Width of the transformer's feed-forward layer.
    hidden
        Hidden units of the output MLP.
    dropout
        Dropout in the output MLP.

    Notes
    -----
    ``encoder`` is the convolutional part (signal → per-bin features),
    ``head`` the attention, pooling and output MLP. The paper transfers by
    freezing (or slowing) the convolutions while attention and head train
    fully, so :meth:`reset_head` replaces only the output MLP and keeps the
    transferred attention. ``forward(x, return_attention=True)`` also
    returns the pooling weights over bins (batch, bins).
    """

    name = "transferchrome"
    training_defaults = {**ChromModel.training_defaults, "weight_decay": 1e-4}
    attention_outputs = ("bins",)
    attention_descriptions = {
        "alpha": "self-attention rollout weighted by the pooling, one map over bins "
        "(sums to 1) repeated for every mark",
    }

    def __init__(
        self,
        n_marks: int,
        n_bins: int,
        n_outputs: int = 1,
        *,
        growth_rate: int = 24,
        n_layers: int = 4,
        kernel_size: int = 7,
        d_model: int = 64,
        n_heads: int = 4,
        feedforward: int = 128,
        hidden: int = 32,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(locals())
        if d_model % n_heads:
            raise ValueError(f"n_heads={n_heads} must divide d_model={d_model}")
        self.n_marks, self.n_bins = n_marks, n_bins
        self.encoder = TransferChromeEncoder(
            n_marks, n_bins, growth_rate, n_layers, kernel_size, d_model
        )
        self.head = TransferChromeHead(d_model, n_heads, feedforward, dropout, hidden, n_outputs)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Per-bin features (batch, bins, d_model)."""
        check_histone_input(x, self.n_marks, self.n_bins, self.name)
        return self.encoder(x)

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits (batch, n_outputs); with ``return_attention``, also the pooling weights.

        Parameters
        ----------
        x
            (batch, marks, bins) float signal.
        return_attention
            Also return the attention-pooling weights over bins (batch, bins).

        Returns
        -------
        ``logits`` or ``(logits, bin_weights)``.
        """
        logits, weights = self.head(self.encode(x))
        return (logits, weights) if return_attention else logits

    def self_attention(self, x: torch.Tensor) -> torch.Tensor:
        """The self-attention weights of the transformer layer.

        ``F.scaled_dot_product_attention`` does not return its weights, so they
        are recomputed from the same query and key projections:
        ``softmax(q kᵀ / √d_head)``.

        Parameters
        ----------
        x
            (batch, marks, bins) signal.

        Returns
        -------
        (batch, heads, bins, bins), rows summing to 1.
        """
        query, key, _ = self.head.project(self.encode(x))
        scores = query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1])
        return torch.softmax(scores.float(), dim=-1)

    def bin_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Weight of each input bin in the pooled vector.

        The pooled vector is ``Σ_t w_t h_t`` over the transformer's outputs; the
        rollout ``R`` (:func:`attention_rollout`) says how much output ``t``
        draws from input bin ``j``, so bin ``j`` weighs ``Σ_t w_t R[t, j]``.

        Parameters
        ----------
        x
            (batch, marks, bins) signal.

        Returns
        -------
        (batch, bins), summing to 1 over bins.
        """
        _, pooling = self(x, return_attention=True)
        rollout = attention_rollout([self.self_attention(x)])
        return torch.einsum("bt,btj->bj", pooling.float(), rollout)

    def attention_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """:meth:`bin_attention` as ``alpha`` (batch, marks, bins): one map, the same for
        every mark, as the model reads every mark at once; no ``beta``.

        Parameters
        ----------
        x
            (batch, marks, bins) signal.

        Returns
        -------
        ``{"alpha": α}``.
        """
        bins = self.bin_attention(x)
        return {"alpha": bins[:, None, :].expand(-1, self.n_marks, -1)}

    def reset_head(self, n_outputs: int, hidden: int | None = None) -> None:
        """Replace the output MLP (the attention layer is kept, as the paper transfers it).

        Parameters
        ----------
        n_outputs
            Outputs of the new head.
        hidden
            Hidden units of the new MLP; the current number by default.
        """
        config = self._hyperparameters
        hidden = hidden if hidden is not None else config["hidden"]
        device = self.head.pool.weight.device
        self.head.output = TransferChromeHead.make_output(
            config["d_model"], hidden, n_outputs, config["dropout"]
        ).to(device)
        self._update_config(n_outputs=n_outputs, hidden=hidden)
