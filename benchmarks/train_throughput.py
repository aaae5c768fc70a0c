"""Training and inference throughput of the histone models, and of the loader feeding them.

Data: one synthetic cell type (``ct.datasets.synthetic_histone``), 6,601 genes
× 5 marks × 100 bins, normalised (``ct.pp.normalize``), written to a temporary
Zarr store and read back lazily, as a real run would read it. All rates are
genes (samples) per second at batch 256 (``--batch``), measured in this run:

- **anchors**: two models written directly in torch and trained by a bare loop
  (shuffle, forward, BCE-with-logits, backward, Adam step) over the data
  already in memory as one tensor on the device: a plain DeepChrome CNN (a
  bare ``nn.Sequential`` with DeepChrome's layers) and a plain AttentiveChrome
  (the authors' layout, one ``nn.LSTM`` per mark called in a Python loop);
- **chromtools models** (``deepchrome``, ``attentivechrome``,
  ``transferchrome``) trained by the real engine, ``ct.functional.train``
  (AdamW, gradient clipping, per-step loss bookkeeping), fed by ``Batches``
  over the lazy Zarr-backed ``Inputs.histone`` (the in-memory path); and
  their inference through ``predict_batches``;
- **the loader alone**: a full epoch of ``Batches`` without a model, in
  memory from the lazy store (first epoch, which loads the store, and later
  ones) and streamed from the Zarr chunks (``memory_budget=0``).

Training is timed in ``--epochs`` rounds after a warm-up round; each round
runs one epoch of every model in turn, so that load drifting on a shared
machine hits anchors and chromtools models alike. Every training rate is the
best of those epochs (the median is printed next to it); inference and loader rates
are the best of as many passes after a warm-up pass. Targets: ``deepchrome`` at
least 1× the plain DeepChrome CNN, ``attentivechrome`` at least 3× the plain
AttentiveChrome; the loader should be several times faster than every model's
training step. Timings on a shared machine move with its load (printed before
and after).

Run: ``.venv/bin/python benchmarks/train_throughput.py [--epochs 3] [--threads 2]
[--device cpu|cuda] [--quick]``; ``--quick`` is a smoke run on 1,000 genes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from anndata import AnnData
from torch import nn

import chromtools as ct
from chromtools import models
from chromtools.functional import Batches, Inputs, predict_batches, resolve_device, train

ENGINE_MODELS = ("deepchrome", "attentivechrome", "transferchrome")
# Which anchor each chromtools model is compared with, and the ratio it must reach.
ANCHOR_OF = {
    "deepchrome": "plain DeepChrome CNN",
    "attentivechrome": "plain AttentiveChrome",
    "transferchrome": "plain DeepChrome CNN",
}
TARGETS = {"deepchrome": 1.0, "attentivechrome": 3.0}
# The loader counts as "not the bottleneck" when it is this many times faster than a model step.
LOADER_MARGIN = 3.0


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
        """Logits (batch, 1) of (batch, marks, bins) signal, one mark LSTM after another."""
        embeddings = []
        for j, (lstm, context) in enumerate(zip(self.lstms, self.contexts, strict=True)):
            states, _ = lstm(x[:, j, :, None])
            alpha = torch.softmax(states @ context, dim=1)
            embeddings.append(torch.einsum("bt,bth->bh", alpha, states))
        states, _ = self.mark_lstm(torch.stack(embeddings, dim=1))
        beta = torch.softmax(states @ self.mark_context, dim=1)
        return self.head(torch.einsum("bm,bmh->bh", beta, states))


def plain_deepchrome(n_marks: int, n_bins: int) -> nn.Sequential:
    """DeepChrome's layers as one bare ``nn.Sequential`` (no config, no input checks)."""
    positions = (n_bins - 10 + 1) // 5
    return nn.Sequential(
        nn.Conv1d(n_marks, 50, 10),
        nn.ReLU(),
        nn.MaxPool1d(5),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(50 * positions, 625),
        nn.ReLU(),
        nn.Linear(625, 125),
        nn.ReLU(),
        nn.Linear(125, 1),
    )


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that the clock measures it; nothing on CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_average() -> float | None:
    """The 1-minute load average, or None where the OS does not report it."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def describe_load(threads: int) -> str:
    """The load average, flagged when it and ``threads`` more would oversubscribe the cores."""
    load, cores = load_average(), os.cpu_count() or 1
    if load is None:
        return "load average n/a"
    text = f"load average {load:.2f} on {cores} cores"
    if load + threads > cores + 0.5:
        text += (
            " -- BUSY: other work shares the cores; oversubscribed torch threads distort"
            " timings (compare with --threads 1)"
        )
    return text


def make_store(n_genes: int, directory: Path) -> tuple[AnnData, np.ndarray]:
    """Normalised synthetic signal in a Zarr store, read back lazily; and the labels."""
    adata = ct.datasets.synthetic_histone(n_cell_types=1, n_genes=n_genes, n_bins=100, seed=0)
    ct.pp.normalize(adata)
    labels = np.asarray(adata.layers["label"][0], dtype=np.float32)
    path = directory / "synthetic.zarr"
    ct.io.write_zarr(adata, path)
    return ct.io.read_zarr(path, lazy=True), labels


def plain_epoch_times(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int, epochs: int, warmup: bool = True
) -> list[float]:
    """Seconds per epoch of a bare training loop over in-memory tensors (after a warm-up epoch)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_function = nn.BCEWithLogitsLoss()
    model.train()
    times = []
    for epoch in range(epochs + warmup):
        synchronize(x.device)
        start = time.perf_counter()
        order = torch.randperm(len(x), device=x.device)
        for first in range(0, len(x), batch):
            pick = order[first : first + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(x[pick]).squeeze(-1), y[pick])
            loss.backward()
            optimizer.step()
        synchronize(x.device)
        if epoch or not warmup:  # the first epoch warms up allocators and kernels
            times.append(time.perf_counter() - start)
    return times


class EpochClock:
    """Wraps ``Batches`` and records when each epoch starts, for timing ``train`` per epoch."""

    def __init__(self, batches: Batches, device: torch.device) -> None:
        self.batches = batches
        self.device = device
        self.starts: list[float] = []

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def n_samples(self) -> int:
        return self.batches.n_samples

    @property
    def pin_memory(self) -> bool:
        return self.batches.pin_memory

    @pin_memory.setter
    def pin_memory(self, value: bool) -> None:
        self.batches.pin_memory = value  # train() pins batches for a CUDA device

    def __getattr__(self, name: str) -> object:
        # what the loop reads of its batches (wait_seconds, rng state…) is the wrapped one's
        return getattr(self.batches, name)

    def __iter__(self) -> Iterator:
        # a generator: the clock starts when the loop takes the first batch, not when an
        # iterator is made (the progress bar makes one it never reads)
        synchronize(self.device)
        self.starts.append(time.perf_counter())
        yield from self.batches


def engine_epoch_times(
    model: nn.Module,
    batches: Batches,
    epochs: int,
    device: torch.device,
    precision: str,
    warmup: bool = True,
) -> list[float]:
    """Seconds per epoch of ``train`` (everything it does per epoch), after a warm-up epoch."""
    clock = EpochClock(batches, device)
    train(
        model,
        clock,  # type: ignore[arg-type]  # duck-typed: train only iterates it
        None,
        task="classification",
        epochs=epochs + warmup,
        lr=1e-3,
        patience=None,
        device=device,
        precision=precision,
    )
    synchronize(device)
    ends = [*clock.starts[1:], time.perf_counter()]
    return [end - start for start, end in zip(clock.starts, ends, strict=True)][int(warmup) :]


def pass_times(run_once: Callable[[], object], repeats: int, device: torch.device) -> list[float]:
    """Seconds of each of ``repeats + 1`` calls of ``run_once``, the warm-up call first."""
    times = []
    for _ in range(repeats + 1):
        synchronize(device)
        start = time.perf_counter()
        run_once()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def drain(batches: Batches) -> None:
    """Iterate one epoch of ``batches``, doing nothing with them (the loader alone)."""
    for _ in batches:
        pass


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=6601)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs after one warm-up")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--precision", default="auto", help="engine precision (auto: bf16 on GPU)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 genes, 2 epochs")
    args = parser.parse_args()
    if args.quick:
        args.genes, args.epochs = min(args.genes, 1000), min(args.epochs, 2)
    return args


def main() -> None:
    """Measure everything, then print the model table and the loader table."""
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ct.settings.progress = False
    device = resolve_device(args.device)
    n = args.genes
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
        + f", engine precision {args.precision}"
    )
    print(f"at start: {describe_load(args.threads)}")
    print(
        f"{n} genes x 5 marks x 100 bins, batch {args.batch}, best (and median) of "
        f"{args.epochs} interleaved rounds of one epoch per model, after 1 warm-up round"
    )

    with tempfile.TemporaryDirectory() as tmp:
        adata, labels = make_store(n, Path(tmp))
        inputs = Inputs.histone(adata)
        cells, genes = np.zeros(n, np.int64), np.arange(n)

        def loader(**kwargs) -> Batches:
            return Batches(inputs, cells, genes, labels, batch_size=args.batch, **kwargs)

        x = torch.from_numpy(inputs.load(np.zeros(1, np.int64), slice(None))[0]).to(device)
        y = torch.from_numpy(labels).to(device)
        n_marks, n_bins = x.shape[1:]

        anchors = {
            "plain DeepChrome CNN": plain_deepchrome(n_marks, n_bins).to(device),
            "plain AttentiveChrome": PlainAttentiveChrome(n_marks).to(device),
        }
        engine = {
            name: models.build(name, n_marks=n_marks, n_bins=n_bins) for name in ENGINE_MODELS
        }
        batches = {name: loader(shuffle=True, seed=0) for name in ENGINE_MODELS}
        # Rounds interleave every model (one epoch each), so that a drifting machine load
        # slows anchors and chromtools models alike; round 0 is the warm-up.
        train_times: dict[str, list[float]] = {name: [] for name in [*anchors, *engine]}
        for round_ in range(args.epochs + 1):
            for name, model in anchors.items():
                times = plain_epoch_times(model, x, y, args.batch, 1, warmup=False)
                train_times[name] += times if round_ else []
            for name, model in engine.items():
                times = engine_epoch_times(
                    model, batches[name], 1, device, args.precision, warmup=False
                )
                train_times[name] += times if round_ else []
        infer_times: dict[str, list[float]] = {}
        for name, model in engine.items():
            unshuffled = Batches(inputs, cells, genes, batch_size=args.batch)

            def infer(model: nn.Module = model, unshuffled: Batches = unshuffled) -> None:
                predict_batches(model, unshuffled, device=device, precision=args.precision)

            infer_times[name] = pass_times(infer, args.epochs, device)[1:]

        in_memory = loader(shuffle=True, seed=0)
        memory_times = pass_times(lambda: drain(in_memory), args.epochs, device)
        streaming = loader(shuffle=True, seed=0, memory_budget=0)
        assert in_memory.in_memory and not streaming.in_memory
        stream_times = pass_times(lambda: drain(streaming), args.epochs, device)

    loader_times = {
        "in memory, first epoch (loads the store)": [memory_times[0]],
        "in memory, later epochs": memory_times[1:],
        "streamed from Zarr chunks": stream_times[1:],
    }
    print_models(train_times, infer_times, n)
    print_loader(loader_times, train_times, n)
    print(f"at end: {describe_load(threads=0)}")


def rate(times: list[float], n: int) -> float:
    """Genes per second of the fastest pass."""
    return n / min(times)


def print_models(
    train_times: dict[str, list[float]], infer_times: dict[str, list[float]], n: int
) -> None:
    """The model table: training and inference rates, ratio to the anchor, target met."""
    print()
    header = (
        f"{'model':<23}{'train genes/s':>14}{'s/epoch':>9}{'(median)':>10}"
        f"{'x anchor':>10}  {'anchor':<22}{'target':>7}{'met':>5}{'infer genes/s':>15}"
    )
    print(header)
    print("-" * len(header))
    for name, times in train_times.items():
        anchor = ANCHOR_OF.get(name)
        ratio = f"{rate(times, n) / rate(train_times[anchor], n):.2f}" if anchor else ""
        target = TARGETS.get(name)
        wanted = f">={target:g}x" if target else ""
        met = "" if target is None else "yes" if float(ratio) >= target else "NO"
        infer = f"{rate(infer_times[name], n):.0f}" if name in infer_times else ""
        print(
            f"{name:<23}{rate(times, n):>14.0f}{min(times):>9.2f}"
            f"{statistics.median(times):>10.2f}{ratio:>10}  {anchor or '(anchor)':<22}"
            f"{wanted:>7}{met:>5}{infer:>15}"
        )


def print_loader(
    loader_times: dict[str, list[float]], train_times: dict[str, list[float]], n: int
) -> None:
    """The loader table: genes/s of each path, and how many times faster than each model step."""
    print()
    header = f"{'loader (no model)':<42}{'genes/s':>10}{'s/epoch':>9}"
    header += "".join(f"{'x ' + name:>20}" for name in ENGINE_MODELS)
    print(header)
    print("-" * len(header))
    for name, times in loader_times.items():
        ratios = "".join(
            f"{rate(times, n) / rate(train_times[model], n):>20.1f}" for model in ENGINE_MODELS
        )
        print(f"{name:<42}{rate(times, n):>10.0f}{min(times):>9.3f}{ratios}")
    fastest = max(rate(train_times[model], n) for model in ENGINE_MODELS)
    for name in ("in memory, later epochs", "streamed from Zarr chunks"):
        margin = rate(loader_times[name], n) / fastest
        verdict = "yes" if margin >= LOADER_MARGIN else "NO"
        print(
            f"loader {name}: {margin:.1f}x the fastest model step "
            f"(>= {LOADER_MARGIN:g}x wanted: {verdict})"
        )


if __name__ == "__main__":
    main()
