"""Roadmap scale, out of core: store → pooled pretrain → finetune → predict, streamed.

Data: synthetic histone signal at full size, ``n`` cell types × 20,000 genes
× 5 marks × 100 bins float32 (56 cell types: 2.2 GB), **written chunk by
chunk from** ``ct.datasets.synthetic_histone``: cell types are generated in
groups of 4 (2 at 10 marks; each group normalised with ``ct.pp.normalize``), the first
group written with ``ct.io.write_zarr`` and every later one added with
``ct.io.append_cell_types``, so the whole tensor is never in memory. All
groups share the first group's genes and split. For 10 marks, a second
independent draw of the same cell types supplies marks 6–10.

Each configuration runs in its own process (so its peak RSS is its own):

1. ``build``: the store, as above;
2. ``pretrain``: ``ct.tl.pretrain`` of DeepChrome on every cell type but the
   last, pooled, reading the store lazily (``ct.io.read_zarr``);
3. ``finetune``: ``ct.tl.finetune`` of that model to the held-out cell type
   (zero-shot, fine-tuned and from scratch);
4. ``predict``: ``ct.tl.predict`` of the pretrained model for every cell type.

Per stage: wall time, peak RSS during the stage (``/proc/self/status``
sampled every 20 ms) and, for training, the share of the epoch the model
step waited for data (the loader's background thread prepares the next
batches while the model computes). The training set is larger than
``ct.settings.memory_budget`` (2 GiB) from 56 cell types on, so it streams
from the store's chunks there and is loaded once below.

Throughput, streamed vs in memory: one DeepChrome epoch on the pooled
training genes of 8 cell types, fed by the same ``Batches`` loader once from
memory (the store loaded once) and once streamed from the chunks
(``memory_budget=0``), best of ``--repeats`` epochs each, interleaved.
Target: streamed ≥ 80 % of in memory.

Growth: time and peak RSS for 14, 28, 56 and 127 cell types (and 10 marks at
127), with ratios to the 14-cell-type run. Target: peak RSS ≤ 3 GB for the
whole pipeline, and both grow linearly or better.

Run: ``.venv/bin/python benchmarks/scale.py [--cell-types 14 28 56 127]
[--ten-marks] [--epochs 1] [--folder DIR] [--quick]``; ``--quick`` is a
smoke run on 3 and 6 cell types × 2,000 genes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# cell types generated at once: synthetic_histone's float64 intermediates peak
# near 9× the group's float32 signal (8 × 20,000 genes × 5 marks: ~2.9 GB)
GROUP_SIGNAL = 4 * 5
THROUGHPUT_CELL_TYPES = 8
APPROACHES = ("zero_shot", "finetuned", "scratch")


class PeakRSS:
    """Peak resident set size of this process since the last :meth:`reset`, sampled."""

    def __init__(self, interval: float = 0.02) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._interval = interval
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def current() -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(self._interval)

    def reset(self) -> None:
        self.peak = self.current()


class WaitLog(logging.Handler):
    """Collects the training loop's per-epoch time and data-wait time."""

    pattern = re.compile(r"epoch \d+: (?P<epoch>[\d.]+) s, (?P<wait>[\d.]+) s waiting for data")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.epochs: list[tuple[float, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if match := self.pattern.search(record.getMessage()):
            self.epochs.append((float(match["epoch"]), float(match["wait"])))


def build(path: Path, n_cell_types: int, n_genes: int, n_marks: int, seed: int = 0) -> None:
    """The store, written group by group: ``write_zarr`` then ``append_cell_types``."""
    import chromtools as ct

    names = [f"ct{i:03d}" for i in range(n_cell_types)]
    reference = None
    size = max(1, GROUP_SIGNAL // n_marks)
    for first in range(0, n_cell_types, size):
        group = names[first : first + size]
        adata = ct.datasets.synthetic_histone(
            len(group), n_genes, cell_types=group, seed=seed + first
        )
        if n_marks == 10:
            _add_second_draw(adata, seed + first + 10_000)
        ct.pp.normalize(adata)
        if reference is None:
            ct.pp.split(adata, seed=seed)
            reference = adata.var
            ct.io.write_zarr(adata, path)
        else:
            adata.var = reference.copy()
            ct.io.append_cell_types(adata, path)
        del adata


def _add_second_draw(adata, seed: int) -> None:
    """Marks 6–10: an independent draw of the same cell types, named ``<mark>_2``."""
    import chromtools as ct

    other = ct.datasets.synthetic_histone(
        adata.n_obs, adata.n_vars, cell_types=list(adata.obs_names), seed=seed
    )
    meta = adata.uns["chromtools"]
    adata.obsm["histone"] = np.concatenate([adata.obsm["histone"], other.obsm["histone"]], axis=2)
    meta["marks"] = [*meta["marks"], *(f"{m}_2" for m in meta["marks"])]


@contextmanager
def stage(name: str, rss: PeakRSS, table: dict):
    rss.reset()
    started = time.perf_counter()
    yield
    table[name] = {"seconds": time.perf_counter() - started, "peak_rss": rss.peak}
    print(f"  {name}: {table[name]['seconds']:.1f} s, peak RSS {rss.peak / 1e9:.2f} GB", flush=True)


def pipeline(folder: Path, n_cell_types: int, n_genes: int, n_marks: int, epochs: int) -> dict:
    """One configuration, in this process: the table of its stages."""
    import chromtools as ct

    ct.settings.progress = False
    ct.settings.verbosity = 3
    waits = WaitLog()
    logging.getLogger("chromtools").addHandler(waits)
    rss, table = PeakRSS(), {}
    path = folder / f"scale_{n_cell_types}x{n_marks}.zarr"
    with stage("build", rss, table):
        build(path, n_cell_types, n_genes, n_marks)
    table["store_bytes"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    adata = ct.io.read_zarr(path)
    names = list(adata.obs_names)
    options = {"epochs": epochs, "batch_size": 256, "seed": 0, "device": "cpu"}
    with stage("pretrain", rss, table):
        ct.tl.pretrain(adata, "deepchrome", names[:-1], **options)
    table["pretrain"]["wait_share"] = _wait_share(waits)
    with stage("finetune", rss, table):
        ct.tl.finetune(adata, source_key="pretrain", target=names[-1], **options)
    table["finetune"]["wait_share"] = _wait_share(waits)
    with stage("predict", rss, table):
        ct.tl.predict(adata, "pretrain", cell_types=names)
    finetune = adata.uns["finetune"]["metrics"]
    table["target_auroc"] = {
        str(row["approach"]): float(row["auroc"]) for _, row in finetune.iterrows()
    }
    table["peak_rss"] = max(
        v["peak_rss"] for v in table.values() if isinstance(v, dict) and "peak_rss" in v
    )
    shutil.rmtree(path)
    return table


def _wait_share(waits: WaitLog) -> float:
    """Data-wait time over training time of the epochs logged since the last call."""
    epochs, waits.epochs = waits.epochs, []
    total = sum(e for e, _ in epochs)
    return sum(w for _, w in epochs) / total if total else float("nan")


def throughput(folder: Path, n_genes: int, repeats: int) -> dict:
    """Training genes/s of one DeepChrome epoch, streamed vs in memory, same loader."""
    import torch

    import chromtools as ct
    from chromtools.functional import Batches, Inputs, train
    from chromtools.models import build as build_model

    ct.settings.progress = False
    path = folder / "throughput.zarr"
    build(path, THROUGHPUT_CELL_TYPES, n_genes, 5)
    adata = ct.io.read_zarr(path)
    train_genes = np.flatnonzero(np.asarray(adata.var["split"]) == "train")
    cells = np.repeat(np.arange(adata.n_obs), len(train_genes))
    genes = np.tile(train_genes, adata.n_obs)
    labels = np.asarray(adata.layers["label"])[cells, genes].astype(np.float32)
    rates: dict[str, list[float]] = {"in memory": [], "streamed": []}
    waits: dict[str, list[float]] = {"in memory": [], "streamed": []}
    inputs = {"in memory": Inputs.histone(adata), "streamed": Inputs.histone(adata)}
    budgets = {"in memory": None, "streamed": 0}
    for round_ in range(repeats + 1):
        for way in rates:
            batches = Batches(
                inputs[way], cells, genes, labels, batch_size=256, shuffle=True, seed=round_,
                memory_budget=budgets[way],
            )  # fmt: skip
            torch.manual_seed(0)
            network = build_model("deepchrome", n_marks=5, n_bins=100)
            started = time.perf_counter()
            train(network, batches, None, task="classification", epochs=1, lr=1e-3,
                  patience=None, device=torch.device("cpu"))  # fmt: skip
            seconds = time.perf_counter() - started
            if round_ > 0:  # the first round warms up
                rates[way].append(len(genes) / seconds)
                waits[way].append(batches.wait_seconds / seconds)
    shutil.rmtree(path)
    best = {way: max(r) for way, r in rates.items()}
    return {
        "samples": int(len(genes)),
        "genes_per_s": best,
        "wait_share": {way: float(np.median(w)) for way, w in waits.items()},
        "ratio": best["streamed"] / best["in memory"],
    }


def _child(args: argparse.Namespace) -> None:
    folder = Path(args.folder)
    if args.throughput:
        result = throughput(folder, args.genes, args.repeats)
    else:
        result = pipeline(folder, args.one, args.genes, args.marks, args.epochs)
    Path(args.result).write_text(json.dumps(result))


def _run_child(folder: Path, extra: list[str], args: argparse.Namespace) -> dict:
    result = folder / "result.json"
    command = [
        sys.executable, __file__, "--folder", str(folder), "--result", str(result),
        "--genes", str(args.genes), "--epochs", str(args.epochs),
        "--repeats", str(args.repeats), *extra,
    ]  # fmt: skip
    subprocess.run(command, check=True)
    return json.loads(result.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cell-types", type=int, nargs="+", default=[14, 28, 56, 127])
    parser.add_argument("--ten-marks", action="store_true", help="also 10 marks at the largest")
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--folder", default=None, help="where the stores go (a temporary folder)")
    parser.add_argument("--quick", action="store_true")
    # internal: one configuration in a child process
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--marks", type=int, default=5, help=argparse.SUPPRESS)
    parser.add_argument("--throughput", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.result is not None:
        _child(args)
        return
    if args.quick:
        args.cell_types, args.genes, args.repeats = [3, 6], 2_000, 1
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count()))
    with tempfile.TemporaryDirectory(dir=args.folder) as temporary:
        folder = Path(temporary)
        configurations = [(n, 5) for n in args.cell_types]
        if args.ten_marks:
            configurations.append((max(args.cell_types), 10))
        rows = []
        for n, marks in configurations:
            print(f"{n} cell types × {args.genes} genes × {marks} marks × 100 bins", flush=True)
            rows.append(
                (n, marks, _run_child(folder, ["--one", str(n), "--marks", str(marks)], args))
            )
        print("throughput, streamed vs in memory", flush=True)
        speed = _run_child(folder, ["--throughput"], args)
    _report(rows, speed, args.genes)


def _report(rows: list[tuple[int, int, dict]], speed: dict, n_genes: int) -> None:
    stages = ("build", "pretrain", "finetune", "predict")
    print(f"\n## Pipeline, {n_genes} genes × 100 bins, DeepChrome, 1 process\n")
    header = ["cell types", "marks", "signal GB", "store GB", *(f"{s} s" for s in stages)]
    header += ["pretrain wait", "peak RSS GB", "target AUROC zero-shot / fine-tuned / scratch"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---:|" * (9 + 1) + "---|")
    for n, marks, table in rows:
        signal = n * n_genes * marks * 100 * 4 / 1e9
        auroc = table["target_auroc"]
        print(
            f"| {n} | {marks} | {signal:.2f} | {table['store_bytes'] / 1e9:.2f} | "
            + " | ".join(f"{table[s]['seconds']:.0f}" for s in stages)
            + f" | {table['pretrain']['wait_share']:.1%} | {table['peak_rss'] / 1e9:.2f} | "
            + " / ".join(f"{auroc.get(a, np.nan):.3f}" for a in APPROACHES)
            + " |"
        )  # fmt: skip
    base_n, _, base = rows[0]
    print(f"\n## Growth against {base_n} cell types (× cell types; × time per stage; × peak RSS)\n")
    print(
        "| cell types | marks | × data | "
        + " | ".join(f"× {s}" for s in stages)
        + " | × peak RSS |"
    )
    print("|" + "---:|" * (3 + len(stages) + 1))
    for n, marks, table in rows:
        data = n * marks / (base_n * 5)
        print(
            f"| {n} | {marks} | {data:.1f} | "
            + " | ".join(f"{table[s]['seconds'] / base[s]['seconds']:.2f}" for s in stages)
            + f" | {table['peak_rss'] / base['peak_rss']:.2f} |"
        )
    peak = max(t["peak_rss"] for _, _, t in rows) / 1e9
    verdict = "met" if peak <= 3 else "NOT met"
    print(f"\nPeak RSS over every run: {peak:.2f} GB (target ≤ 3 GB: {verdict})")
    cells = THROUGHPUT_CELL_TYPES
    print(f"\n## Training throughput, {speed['samples']} samples ({cells} cell types)\n")
    print("| loader | genes/s | data wait |")
    print("|---|---:|---:|")
    for way, rate in speed["genes_per_s"].items():
        print(f"| {way} | {rate:,.0f} | {speed['wait_share'][way]:.1%} |")
    verdict = "met" if speed["ratio"] >= 0.8 else "NOT met"
    print(f"\nstreamed / in memory: {speed['ratio']:.2f} (target ≥ 0.80: {verdict})")


if __name__ == "__main__":
    main()
