"""AttentiveChrome: per-mark bidirectional LSTMs with attention over bins, then over marks."""

from __future__ import annotations

import math

import torch
from torch import nn

from ._base import ChromModel, check_histone_input
from ._grouped_lstm import bilstm_attention


class BinLevelEncoder(nn.Module):
    """Level I of AttentiveChrome: one BiLSTM per mark over its bins, and bin attention.

    For mark ``j`` with hidden states ``h_t`` (both directions concatenated),
    ``α_t = softmax_t(w_j · h_t)`` and the mark embedding is ``m_j = Σ_t α_t
    h_t``. Every mark has its own LSTM weights and context vector ``w_j``, as
    in the paper; all marks and both directions run as one batched
    recurrence with the attention fused in (:func:`bilstm_attention`).

    Parameters
    ----------
    n_marks
        Number of input tracks, each with its own LSTM.
    hidden_size
        LSTM units per direction (32 in the paper); embeddings have twice as many.

    Notes
    -----
    Parameters per mark and direction (forward, backward) follow
    ``torch.nn.LSTM(1, hidden_size)``: ``weight_ih`` (marks, 2, 4·hidden),
    ``weight_hh`` (marks, 2, 4·hidden, hidden), ``bias`` (marks, 2,
    4·hidden) = ``bias_ih + bias_hh``, gates in the order input, forget,
    cell, output; initialised uniform in ±1/√hidden like ``nn.LSTM``.
    """

    def __init__(self, n_marks: int, hidden_size: int = 32) -> None:
        super().__init__()
        self.n_marks = n_marks
        self.hidden_size = hidden_size
        gates = 4 * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(n_marks, 2, gates))
        self.weight_hh = nn.Parameter(torch.empty(n_marks, 2, gates, hidden_size))
        self.bias = nn.Parameter(torch.empty(n_marks, 2, gates))
        self.context = nn.Parameter(torch.empty(n_marks, 2 * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.LSTM``'s initialisation; context vectors U(-0.1, 0.1) as in the authors' code."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            self.weight_ih.uniform_(-bound, bound)
            self.weight_hh.uniform_(-bound, bound)
            # nn.LSTM draws two biases; their sum has the law of the sum of two uniforms.
            second_bias = torch.empty_like(self.bias).uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound).add_(second_bias)
            self.context.uniform_(-0.1, 0.1)

    @property
    def output_size(self) -> int:
        """Size of one mark embedding (both directions)."""
        return 2 * self.hidden_size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed every mark.

        Parameters
        ----------
        x
            (batch, marks, bins) signal.

        Returns
        -------
        Mark embeddings (batch, marks, 2·hidden) and bin attention α (batch,
        marks, bins), which sums to 1 over bins.
        """
        return bilstm_attention(x, self.weight_ih, self.weight_hh, self.bias, self.context)


class MarkLevelEncoder(nn.Module):
    """Level II of AttentiveChrome: a BiLSTM over mark embeddings, and mark attention.

    ``β_j = softmax_j(w · s_j)`` over the LSTM states ``s_j`` of the marks;
    the gene representation is ``v = Σ_j β_j s_j``.

    Parameters
    ----------
    input_size
        Size of one mark embedding.
    hidden_size
        LSTM units per direction (16 in the paper); ``v`` has twice as many.
    """

    def __init__(self, input_size: int, hidden_size: int = 16) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True, bidirectional=True)
        self.context = nn.Parameter(torch.empty(2 * hidden_size).uniform_(-0.1, 0.1))

    @property
    def output_size(self) -> int:
        """Size of ``v``."""
        return 2 * self.hidden_size

    def forward(self, embedded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Combine mark embeddings into one vector per gene.

        Parameters
        ----------
        embedded
            (batch, marks, input_size) mark embeddings.

        Returns
        -------
        ``v`` (batch, 2·hidden) and mark attention β (batch, marks), summing to 1.
        """
        states, _ = self.lstm(embedded)
        beta = torch.softmax(states @ self.context.to(states.dtype), dim=1)
        return torch.einsum("bm,bmh->bh", beta, states), beta


class AttentiveChromeEncoder(nn.Module):
    """Both levels of AttentiveChrome: signal (batch, marks, bins) → ``v``, α, β.

    Parameters
    ----------
    n_marks
        Number of marks.
    bin_hidden
        Bin-level LSTM units per direction.
    mark_hidden
        Mark-level LSTM units per direction.
    dropout
        Dropout on the mark embeddings (0 disables it).
    """

    def __init__(
        self, n_marks: int, bin_hidden: int = 32, mark_hidden: int = 16, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.bins = BinLevelEncoder(n_marks, bin_hidden)
        self.dropout = nn.Dropout(dropout)
        self.marks = MarkLevelEncoder(self.bins.output_size, mark_hidden)

    @property
    def output_size(self) -> int:
        """Size of ``v``."""
        return self.marks.output_size

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``v`` (batch, 2·mark_hidden), α (batch, marks, bins) and β (batch, marks)."""
        embedded, alpha = self.bins(x)
        v, beta = self.marks(self.dropout(embedded))
        return v, alpha, beta


class AttentiveChrome(ChromModel):
    """AttentiveChrome (Singh et al., NeurIPS 2017): attention over bins and over marks.

    Architecture: for every mark, a bidirectional LSTM (``bin_hidden`` = 32
    units per direction) over its bins with bin attention ``α_t =
    softmax_t(w_mark · h_t)`` gives a mark embedding ``Σ_t α_t h_t`` (64
    values); a second bidirectional LSTM (``mark_hidden`` = 16 per
    direction) over the mark embeddings with mark attention ``β_j =
    softmax_j(w · s_j)`` gives ``v = Σ_j β_j s_j`` (32 values); a linear
    layer maps ``v`` to the logits. Weights are not shared between marks
    (the paper's design); the per-mark LSTMs run as one batched recurrence.

    Training in the authors' code: Adam, lr 2e-4, batch 16, 30 epochs,
    gradient-norm clipping 1, best epoch by validation AUROC. Their
    ``dropout=0.5`` goes to a one-layer LSTM, where PyTorch ignores it, so
    ``dropout`` defaults to 0 here.

    Parameters
    ----------
    n_marks
        Histone marks (input channels); any number ≥ 1.
    n_bins
        Bins per mark.
    n_outputs
        Outputs of the head (logits; no sigmoid inside).
    bin_hidden
        Bin-level LSTM units per direction.
    mark_hidden
        Mark-level LSTM units per direction.
    dropout
        Dropout on the mark embeddings.

    Notes
    -----
    ``encoder`` is both attention levels (signal → ``v``), ``head`` the final
    linear layer. ``forward(x, return_attention=True)`` also returns α
    (batch, marks, bins) and β (batch, marks).
    """

    name = "attentivechrome"
    # The authors' code uses batch 16 at lr 2e-4; batch 64 at 1e-3 trains to
    # the same AUROC in far less time on a CPU.
    training_defaults = {**ChromModel.training_defaults, "batch_size": 64}
    attention_outputs = ("alpha", "beta")
    attention_descriptions = {
        "alpha": "bin attention α of each mark (sums to 1 over bins)",
        "beta": "mark attention β (sums to 1 over marks)",
    }

    def __init__(
        self,
        n_marks: int,
        n_bins: int,
        n_outputs: int = 1,
        *,
        bin_hidden: int = 32,
        mark_hidden: int = 16,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(locals())
        self.n_marks, self.n_bins = n_marks, n_bins
        self.encoder = AttentiveChromeEncoder(n_marks, bin_hidden, mark_hidden, dropout)
        self.head = nn.Linear(self.encoder.output_size, n_outputs)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The gene representation ``v`` (batch, 2·mark_hidden)."""
        check_histone_input(x, self.n_marks, self.n_bins, self.name)
        return self.encoder(x)[0]

    def forward(
        self, x: torch.Tensor, return_attention: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits (batch, n_outputs); with ``return_attention``, also α and β.

        Parameters
        ----------
        x
            (batch, marks, bins) float signal.
        return_attention
            Also return bin attention α (batch, marks, bins) and mark
            attention β (batch, marks).

        Returns
        -------
        ``logits`` or ``(logits, alpha, beta)``.
        """
        check_histone_input(x, self.n_marks, self.n_bins, self.name)
        v, alpha, beta = self.encoder(x)
        logits = self.head(v)
        return (logits, alpha, beta) if return_attention else logits

    def attention_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """α (batch, marks, bins) and β (batch, marks), as the network computes them.

        Parameters
        ----------
        x
            (batch, marks, bins) float signal.

        Returns
        -------
        ``{"alpha": α, "beta": β}``, float32.
        """
        _, alpha, beta = self(x, return_attention=True)
        return {"alpha": alpha.float(), "beta": beta.float()}

    def reset_head(self, n_outputs: int) -> None:
        """Replace the final linear layer by a new one with ``n_outputs`` outputs.

        Parameters
        ----------
        n_outputs
            Outputs of the new head.
        """
        self.head = nn.Linear(self.encoder.output_size, n_outputs).to(self.head.weight.device)
        self._update_config(n_outputs=n_outputs)
