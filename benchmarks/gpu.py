"""The CUDA path in one short run: agreement with the CPU, throughput, utilisation.

Three parts, each printed as a table:

1. **Agreement.** ``ct.tl.fit`` + ``ct.tl.predict`` of DeepChrome,
   AttentiveChrome and TransferChrome (synthetic histone signal, 2 cell types
   × ``--genes`` genes) and ChromTransfer (``synthetic_sequences``,
   ``--regions`` regions of 200 bp, the model's own hyperparameters), once
   on the CPU in fp32 and once on ``--device`` with ``precision="bf16"``
   (autocast), same seed and epochs. Test AUROC of each,
   and the largest difference of their predictions; the CUDA path passes
   when every AUROC agrees within 0.02.
2. **Throughput.** ``benchmarks/train_throughput.py --device <device>``
   (training and inference genes/s of every histone model against plain
   torch anchors), run as it is.
3. **Utilisation.** A store of ``--cell-types`` cell types × 20,000 genes
   (``benchmarks/scale.py``'s builder) is pretrained on, streamed from its
   chunks (``memory_budget=0``), while ``nvidia-smi`` samples GPU utilisation
   every 100 ms; the mean over the training and the loader's wait share are
   printed (target: busy > 80 %).

Run: ``.venv/bin/python benchmarks/gpu.py [--device cuda] [--quick]``.
``--device cpu`` runs parts 1 and 3 on the CPU (no utilisation), to check
the script itself where there is no GPU; ``--quick`` is a smoke run on small
data.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

import chromtools as ct

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

import scale  # noqa: E402  (the store builder, next to this file)

HISTONE_MODELS = ("deepchrome", "attentivechrome", "transferchrome")
AGREEMENT = 0.02


def _test_auroc(adata, key: str) -> dict[str, float]:
    metrics = adata.uns[key]["metrics"]
    test = metrics[metrics["split"] == "test"]
    return dict(zip(test["cell_type"], test["auroc"].astype(float), strict=True))


def _fit_both(adata, model: str, device: str, cell_types, **options) -> dict:
    """fit + predict on the CPU (fp32) and on ``device`` (bf16); their scores and gap."""
    out = {}
    for run, where, precision in (("cpu", "cpu", "fp32"), ("device", device, "bf16")):
        key = f"{model}_{run}"
        started = time.perf_counter()
        ct.tl.fit(adata, model, cell_types=cell_types, key_added=key, device=where,
                  precision=precision, seed=0, **options)  # fmt: skip
        ct.tl.predict(adata, key, cell_types=cell_types, device=where)
        out[run] = {"auroc": _test_auroc(adata, key), "seconds": time.perf_counter() - started}
    rows = adata.obs_names.get_indexer(np.atleast_1d(cell_types))
    a, b = adata.layers[f"{model}_cpu"][rows], adata.layers[f"{model}_device"][rows]
    out["max_prediction_gap"] = float(np.nanmax(np.abs(a - b)))
    return out


def agreement(device: str, n_genes: int, n_regions: int, epochs: int) -> dict[str, dict]:
    """Part 1: the four deep models, CPU fp32 against ``device`` bf16."""
    histone = ct.datasets.synthetic_histone(2, n_genes, seed=3)
    ct.pp.normalize(histone)
    ct.pp.split(histone, seed=0)
    results = {
        model: _fit_both(histone, model, device, ["cell0", "cell1"], epochs=epochs)
        for model in HISTONE_MODELS
    }
    sequences = ct.datasets.synthetic_sequences(n_regions, 200, seed=0)
    ct.pp.split(sequences, seed=0)
    results["chromtransfer"] = _fit_both(
        sequences, "chromtransfer", device, "A", epochs=epochs, batch_size=64
    )  # fmt: skip
    return results


class Utilisation:
    """GPU utilisation (%) sampled by ``nvidia-smi`` every 100 ms while running;
    no samples on a CPU."""

    def __init__(self, device: torch.device) -> None:
        self.samples: list[float] = []
        self.device = device
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Utilisation:
        if self.device.type != "cuda":
            return self
        command = [
            "nvidia-smi", f"--id={self.device.index or 0}", "--query-gpu=utilization.gpu",
            "--format=csv,noheader,nounits", "--loop-ms=100",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.strip().isdigit():
                self.samples.append(float(line))

    def __exit__(self, *_) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait()


def utilisation(device: str, n_cell_types: int, n_genes: int, folder: Path) -> dict:
    """Part 3: streamed pooled pretrain on ``device``; mean GPU busy share and data wait."""
    ct.settings.verbosity = 3
    waits = scale.WaitLog()
    logging.getLogger("chromtools").addHandler(waits)
    path = folder / "utilisation.zarr"
    scale.build(path, n_cell_types, n_genes, 5)
    adata = ct.io.read_zarr(path)
    previous, ct.settings.memory_budget = ct.settings.memory_budget, 0  # stream every chunk
    try:
        started = time.perf_counter()
        with Utilisation(torch.device(device)) as gpu:
            ct.tl.pretrain(adata, "deepchrome", list(adata.obs_names), epochs=1,
                           batch_size=256, seed=0, device=device)  # fmt: skip
        seconds = time.perf_counter() - started
    finally:
        ct.settings.memory_budget = previous
    busy = float(np.mean(gpu.samples)) if gpu.samples else float("nan")
    samples = n_cell_types * int((adata.var["split"] == "train").sum())
    return {
        "seconds": seconds,
        "genes_per_s": samples / seconds,
        "gpu_busy_percent": busy,
        "wait_share": scale._wait_share(waits),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu to check the script")
    parser.add_argument("--genes", type=int, default=4000, help="genes per cell type, part 1")
    parser.add_argument("--regions", type=int, default=2000, help="ChromTransfer regions, part 1")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--cell-types", type=int, default=16, help="store size, part 3")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.genes, args.regions, args.epochs, args.cell_types = 600, 300, 2, 2
    device = ct.functional.resolve_device(args.device)
    if args.device.startswith("cuda") and device.type != "cuda":
        sys.exit(f"--device {args.device}: no CUDA device here (torch {torch.__version__})")
    ct.settings.progress = False
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"torch {torch.__version__}, device {device} ({name})\n", flush=True)

    print(f"## 1. fit + predict, CPU fp32 against {device} bf16 ({args.epochs} epochs)\n")
    print("| model | test AUROC, CPU | on device | AUROC gap | prediction gap | s CPU | s device |")
    print("|---|---|---|---:|---:|---:|---:|")
    failed = []
    for model, result in agreement(str(device), args.genes, args.regions, args.epochs).items():
        cpu, dev = result["cpu"], result["device"]
        gap = max(abs(cpu["auroc"][c] - dev["auroc"][c]) for c in cpu["auroc"])
        failed += [model] if gap > AGREEMENT else []
        print(
            f"| {model} | {', '.join(f'{v:.4f}' for v in cpu['auroc'].values())} "
            f"| {', '.join(f'{v:.4f}' for v in dev['auroc'].values())} | {gap:.4f} "
            f"| {result['max_prediction_gap']:.4f} | {cpu['seconds']:.1f} "
            f"| {dev['seconds']:.1f} |",
            flush=True,
        )
    print(f"\nAUROC within {AGREEMENT}: {'yes' if not failed else f'NO ({failed})'}\n")

    if device.type == "cuda":
        print("## 2. throughput (benchmarks/train_throughput.py)\n", flush=True)
        subprocess.run(
            [sys.executable, str(HERE / "train_throughput.py"), "--device", str(device),
             "--threads", str(torch.get_num_threads()), *(["--quick"] if args.quick else [])],
            check=True,
        )  # fmt: skip

    n_genes = 2_000 if args.quick else 20_000
    print(
        f"\n## 3. streamed pretrain, {args.cell_types} cell types × {n_genes} genes\n", flush=True
    )
    with tempfile.TemporaryDirectory() as folder:
        use = utilisation(str(device), args.cell_types, n_genes, Path(folder))
    print(
        f"{use['genes_per_s']:.0f} genes/s over {use['seconds']:.1f} s; GPU busy "
        f"{use['gpu_busy_percent']:.1f} % (target > 80 %); waiting for data "
        f"{100 * use['wait_share']:.1f} % of training time"
    )


if __name__ == "__main__":
    main()
