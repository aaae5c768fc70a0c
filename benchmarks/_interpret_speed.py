"""Speed of ChromTransfer inference and of in-silico mutagenesis (ISM), ratios from one run.

Model: ChromTransfer at its default size (filters 64, hidden (512, 128)),
random weights with BatchNorm running statistics away from the identity, in
eval mode; random one-hot sequences of 600 bp (``--length``).

- **inference**: sequences/s at batch 256 under ``torch.inference_mode``,
  the eval-mode model (also with the batch cut in the fused model's pieces,
  to show what the pieces alone give) against :meth:`ChromTransfer.fused`
  (BatchNorms folded, activations kept (batch, length, channels),
  self-padding channels-last convolutions, pieces that stay in cache);
  target ≥ 2×; largest |difference| of the logits (float32 vs float32, and
  the fused model vs a float64 copy of the original).
- **ISM**, seconds per sequence: the naive loop (one mutant per forward,
  ``naive_ism``, on ``--naive`` sequences), tangermeme 1.6.0's
  ``saturation_mutagenesis`` (``raw_outputs=True``, batch 64, its default
  ``fast=True``, which falls back to full forward passes when it judges them
  quicker), ``ism``'s full path (every mutant through the fused model, in
  batches) and its fast windowed ChromTransfer path; targets ≥ 10× naive
  and ≥ 3× tangermeme, with the largest |difference| of the deltas between
  them.
- **training step**: sequences/s of a forward, BCE-with-logits, backward and
  Adam step at batch 256 (unchanged by this work; reported for reference).

Each timing is the best of ``--repeats`` runs after a warm-up, in turn, so
that load on a shared machine hits both sides of a ratio alike.

Run: ``.venv/bin/python benchmarks/_interpret_speed.py [--quick] [--threads 2]``;
``--quick`` is a smoke run with a small model, 200 bp and batch 32.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
import warnings
from collections.abc import Callable

import torch
from torch import nn

from chromtools.functional import ism, naive_ism
from chromtools.models import ChromTransfer


class _ChannelsFirst(nn.Module):
    """tangermeme passes (batch, 4, length); ChromTransfer takes (batch, length, 4)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x.transpose(1, 2))


def _network(quick: bool, seed: int = 0) -> ChromTransfer:
    torch.manual_seed(seed)
    options = {"filters": 16, "hidden": [16]} if quick else {}
    network = ChromTransfer(**options)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm1d):
            module.running_mean.uniform_(0.0, 0.5)
            module.running_var.uniform_(0.1, 0.6)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return network.eval()


def _sequences(n: int, length: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return nn.functional.one_hot(torch.randint(0, 4, (n, length), generator=generator), 4).float()


def _best(functions: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Best wall time of each function over ``repeats`` rounds, after one warm-up round."""
    for function in functions.values():
        function()
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def inference(network: ChromTransfer, x: torch.Tensor, repeats: int) -> list[dict]:
    """Sequences/s of the eval-mode model and of its fused copy, and their difference."""
    fused = network.fused()
    reference64 = _float64_copy(network)
    with torch.inference_mode():
        pieces = max(1, fused.chunk_positions // x.shape[1])
        seconds = _best(
            {
                "original": lambda: network(x),
                "original, pieces": lambda: [network(part) for part in x.split(pieces)],
                "fused": lambda: fused(x),
            },
            repeats,
        )
        original, folded = network(x), fused(x)
        exact = reference64.head(reference64.encoder(x.double().transpose(1, 2)))
    rate = {name: len(x) / value for name, value in seconds.items()}
    return [
        {"step": "inference", "what": "eval model", "value": rate["original"], "unit": "seq/s"},
        {
            "step": "inference",
            "what": f"eval model, batch cut in pieces of {pieces}",
            "value": rate["original, pieces"],
            "unit": "seq/s",
        },
        {"step": "inference", "what": "fused", "value": rate["fused"], "unit": "seq/s"},
        {
            "step": "inference",
            "what": "fused / eval (target ≥ 2)",
            "value": rate["fused"] / rate["original"],
            "unit": "×",
        },
        {
            "step": "inference",
            "what": "max |fused − eval| logit",
            "value": float((folded - original).abs().max()),
            "unit": "",
        },
        {
            "step": "inference",
            "what": "max |fused − float64| logit",
            "value": float((folded.double() - exact).abs().max()),
            "unit": "",
        },
    ]


def _float64_copy(network: ChromTransfer) -> ChromTransfer:
    return copy.deepcopy(network).double().eval()


def _tangermeme(network: ChromTransfer, x: torch.Tensor) -> torch.Tensor:
    """Deltas (batch, length, 4) from tangermeme's saturation_mutagenesis on the same model."""
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    wrapped = _ChannelsFirst(network)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        observed, mutants = saturation_mutagenesis(
            wrapped, x.transpose(1, 2), raw_outputs=True, batch_size=64, device="cpu"
        )
    network.eval()
    return (mutants[..., 0] - observed[:, :1, None]).transpose(1, 2) * (1 - x)


def mutagenesis(network: ChromTransfer, x: torch.Tensor, n_naive: int) -> list[dict]:
    """Seconds per sequence of naive, tangermeme, generic and fast ISM, and their differences."""
    timed: dict[str, tuple[float, torch.Tensor]] = {}
    methods = {
        "naive (one mutant per forward)": lambda seqs: naive_ism(network, seqs),
        "tangermeme saturation_mutagenesis": lambda seqs: _tangermeme(network, seqs),
        "ism, full path (fused model, batched)": lambda seqs: ism(network, seqs, path="full"),
        "ism, fast windowed path": lambda seqs: ism(network, seqs, path="windowed"),
    }
    ism(network, x[:1, :50])
    for name, method in methods.items():
        seqs = x[:n_naive] if name.startswith("naive") else x
        start = time.perf_counter()
        deltas = method(seqs)
        timed[name] = ((time.perf_counter() - start) / len(seqs), deltas)
    fast_seconds, fast = timed["ism, fast windowed path"]
    rows = [
        {"step": "ISM", "what": name, "value": seconds, "unit": "s/seq"}
        for name, (seconds, _) in timed.items()
    ]
    for name, (seconds, deltas) in timed.items():
        if name == "ism, fast windowed path":
            continue
        target = {"naive": " (target ≥ 10)", "tangermeme": " (target ≥ 3)"}.get(name.split()[0], "")
        difference = float((deltas - fast[: len(deltas)]).abs().max())
        rows.append(
            {
                "step": "ISM",
                "what": f"fast vs {name}{target}",
                "value": seconds / fast_seconds,
                "unit": "×",
            }
        )
        rows.append(
            {"step": "ISM", "what": f"max |fast − {name}|", "value": difference, "unit": ""}
        )
    return rows


def training(network: ChromTransfer, x: torch.Tensor, repeats: int) -> list[dict]:
    """Sequences/s of one training step (forward, loss, backward, Adam) at ``len(x)``."""
    model = copy.deepcopy(network).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    y = (torch.arange(len(x)) % 2).float()

    def step() -> None:
        optimizer.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(x)[:, 0], y)
        loss.backward()
        optimizer.step()

    seconds = _best({"step": step}, repeats)["step"]
    return [
        {"step": "training", "what": "training step", "value": len(x) / seconds, "unit": "seq/s"}
    ]


def run(
    quick: bool = False, *, length: int = 600, n_ism: int = 2, n_naive: int = 1, repeats: int = 2
) -> list[dict]:
    """Every measurement as rows ``{"step", "what", "value", "unit"}``.

    Parameters
    ----------
    quick
        A smoke run: small model, 200 bp, batch 32, one ISM sequence.
    length
        Sequence length (bp).
    n_ism
        Sequences for tangermeme and our ISM paths.
    n_naive
        Sequences for the naive loop (the slowest anchor).
    repeats
        Timed rounds of the inference and training steps.
    """
    batch = 32 if quick else 256
    length = 200 if quick else length
    n_ism = 1 if quick else n_ism
    network = _network(quick)
    x = _sequences(batch, length)
    rows = inference(network, x, repeats)
    rows += mutagenesis(network, x[:n_ism], n_naive)
    rows += training(network, x, repeats)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--length", type=int, default=600)
    parser.add_argument("--n-ism", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average before: {os.getloadavg()}")
    rows = run(args.quick, length=args.length, n_ism=args.n_ism)
    print(f"load average after: {os.getloadavg()}")
    print(f"{'step':<10} {'what':<62} {'value':>12} unit")
    for row in rows:
        print(f"{row['step']:<10} {row['what']:<62} {row['value']:>12.4g} {row['unit']}")


if __name__ == "__main__":
    main()
