"""Training-step speed of the histone models on this CPU, genes per second.

Compares AttentiveChrome as the authors wrote it — one ``nn.LSTM`` per mark,
called in a Python loop — with chromtools' implementation, which runs all
per-mark LSTMs as one batched recurrence (same weights per mark, same
numbers), and reports DeepChrome and TransferChrome next to them. One
training step = forward, BCE-with-logits loss, backward, Adam step, on random
(batch, 5 marks, 100 bins) input.

Run: ``.venv/bin/python benchmarks/model_speed.py [--batch 256] [--threads 2]``
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from chromtools import models


class PlainAttentiveChrome(nn.Module):
    """The authors' layout: a separate bidirectional ``nn.LSTM`` + context vector per mark."""

    def __init__(self, n_marks: int, bin_hidden: int = 32, mark_hidden: int = 16) -> None:
        super().__init__()
        self.lstms = nn.ModuleList(
            nn.LSTM(1, bin_hidden, batch_first=True, bidirectional=True) for _ in range(n_marks)
        )
        self.contexts = nn.ParameterList(
            nn.Parameter(torch.empty(2 * bin_hidden).uniform_(-0.1, 0.1)) for _ in range(n_marks)
        )
        self.mark_lstm = nn.LSTM(2 * bin_hidden, mark_hidden, batch_first=True, bidirectional=True)
        self.mark_context = nn.Parameter(torch.empty(2 * mark_hidden).uniform_(-0.1, 0.1))
        self.head = nn.Linear(2 * mark_hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embeddings = []
        for j, (lstm, context) in enumerate(zip(self.lstms, self.contexts, strict=True)):
            states, _ = lstm(x[:, j, :, None])
            alpha = torch.softmax(states @ context, dim=1)
            embeddings.append(torch.einsum("bt,bth->bh", alpha, states))
        states, _ = self.mark_lstm(torch.stack(embeddings, dim=1))
        beta = torch.softmax(states @ self.mark_context, dim=1)
        return self.head(torch.einsum("bm,bmh->bh", beta, states))


def training_speed(model: nn.Module, x: torch.Tensor, y: torch.Tensor, repeats: int) -> float:
    """Genes per second of full training steps; the best of ``repeats`` timed steps."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = nn.BCEWithLogitsLoss()
    model.train()
    best = float("inf")
    for step in range(repeats + 1):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(model(x).squeeze(-1), y)
        loss.backward()
        optimizer.step()
        if step:  # the first step warms up allocators and kernels
            best = min(best, time.perf_counter() - start)
    return len(x) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--marks", type=int, default=5)
    parser.add_argument("--bins", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    x = torch.randn(args.batch, args.marks, args.bins).abs()
    y = (torch.rand(args.batch) > 0.5).float()
    shape = {"n_marks": args.marks, "n_bins": args.bins}
    candidates = {
        "attentivechrome, plain loop of nn.LSTM": PlainAttentiveChrome(args.marks),
        "attentivechrome (chromtools)": models.build("attentivechrome", **shape),
        "deepchrome (chromtools)": models.build("deepchrome", **shape),
        "transferchrome (chromtools)": models.build("transferchrome", **shape),
    }
    speeds = {name: training_speed(m, x, y, args.repeats) for name, m in candidates.items()}
    reference = speeds["attentivechrome, plain loop of nn.LSTM"]
    print(
        f"training step, batch {args.batch}, {args.marks} marks x {args.bins} bins, "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(f"{'model':<42}{'genes/s':>10}{'x plain AttentiveChrome':>26}")
    for name, speed in speeds.items():
        print(f"{name:<42}{speed:>10.0f}{speed / reference:>26.2f}")


if __name__ == "__main__":
    main()
