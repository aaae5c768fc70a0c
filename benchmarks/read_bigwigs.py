"""Benchmark ``ct.io.read_bigwigs`` against the reader's own limit and the usual tools.

One synthetic 50 Mb bigWig per track (chr1:0-50 Mb, bedGraph-like piecewise
signal: runs of ~50 bp, 10 % uncovered, enriched domains), real GENCODE TSSs
on that range, 100 bins of 100 bp (window -5000..5000). Measured in the same
run, on the same files and windows:

- ``read_bigwigs`` end to end into a Zarr store (validation, reading,
  strand flips, writing, reading the lazy object back), with
  ``ct.settings.n_jobs`` worker processes and with one, and in memory with one
  (reading alone, the number to hold against the bare loop);
- a bare pybigtools loop: one exact binned ``values()`` call per window into a
  preallocated array, nothing else (the reader's own limit);
- a pyBigWig ``stats(nBins=100)`` loop (on a subset of windows: it is slow);
- deepTools ``computeMatrix reference-point -p 1 --missingDataAsZero`` on the
  same bigWigs (the first ``--deeptools-tracks``: its rate per window does not
  depend on their number) and a BED of the TSSs (skipped without deepTools).

Peak memory of ``read_bigwigs`` → Zarr (tracemalloc peak of the call, the
process's peak RSS and how much the call raised it, each in a fresh
subprocess) is measured
for one cell type's tracks and for all, and for a quarter of the genes, to
show it does not grow with either. Timings on a shared machine move with its
load, printed before and after.

Run ``python benchmarks/read_bigwigs.py --help`` for the options.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pybigtools
import pyBigWig

import chromtools as ct

GENCODE = Path(__file__).resolve().parents[2] / "shared/data/annotation/gencode_hg38_tss.tsv.gz"
MARKS = ("H3K4me3", "H3K4me1", "H3K36me3", "H3K27me3", "H3K9me3")
WINDOW = (-5000, 5000)
BIN_SIZE = 100
CHROM = "chr1"
BARE = "bare pybigtools values() loop"
PYBIGWIG = "pyBigWig stats(nBins=100) loop"
DEEPTOOLS = "deepTools computeMatrix -p 1"


def write_bigwig(path: Path, length: int, seed: int) -> None:
    """A bedGraph-like track: ~50 bp runs, 10 % gaps, background plus enriched domains."""
    rng = np.random.default_rng(seed)
    runs = rng.geometric(1 / 50, size=length // 40)
    ends = np.cumsum(runs)
    ends = ends[ends < length]
    starts = np.concatenate([[0], ends[:-1]])
    boost = np.ones(length // 1000 + 1)
    for left, width, fold in zip(
        rng.integers(0, length // 1000, 2000),
        rng.integers(1, 20, 2000),
        rng.uniform(3, 20, 2000),
        strict=True,
    ):
        boost[left : left + width] = np.maximum(boost[left : left + width], fold)
    values = rng.gamma(1.0, 0.5, size=len(starts)) * boost[starts // 1000]
    covered = rng.random(len(starts)) > 0.1
    bigwig = pyBigWig.open(str(path), "w")
    bigwig.addHeader([(CHROM, length)], maxZooms=10)
    bigwig.addEntries(
        [CHROM] * int(covered.sum()),
        starts[covered].tolist(),
        ends=ends[covered].tolist(),
        values=values[covered].astype(np.float32).astype(float).tolist(),
    )
    bigwig.close()


def make_inputs(workdir: Path, n_cell_types: int, n_genes: int | None, length: int):
    """bigWigs, the tracks table and the genes (GENCODE TSSs on chr1:0-length)."""
    genes = ct.io.read_genes(GENCODE)
    genes = genes[(genes["chrom"] == CHROM) & (genes["tss"] <= length)]
    if n_genes is not None:
        genes = genes.iloc[:n_genes]
    rows = []
    for c in range(n_cell_types):
        for m, mark in enumerate(MARKS):
            path = workdir / f"E{c:03d}_{mark}.bw"
            if not path.exists():
                write_bigwig(path, length, seed=100 * c + m)
            rows.append((f"E{c:03d}", mark, str(path)))
    return pd.DataFrame(rows, columns=["cell_type", "mark", "path"]), genes


def window_starts(genes: pd.DataFrame) -> np.ndarray:
    """0-based first base of each window in genome order (mirrored on '-')."""
    tss0 = genes["tss"].to_numpy() - 1
    minus = (genes["strand"] == "-").to_numpy()
    return np.where(minus, tss0 - WINDOW[1] + 1, tss0 + WINDOW[0])


def best_of(repeat: int, function) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def run_read_bigwigs(
    tracks: pd.DataFrame, genes: pd.DataFrame, store: Path | None, n_jobs: int | None = None
):
    return ct.io.read_bigwigs(tracks, genes, store, window=WINDOW, bin_size=BIN_SIZE, n_jobs=n_jobs)


def run_bare_pybigtools(paths: list[str], starts: np.ndarray) -> np.ndarray:
    span, n_bins = WINDOW[1] - WINDOW[0], (WINDOW[1] - WINDOW[0]) // BIN_SIZE
    out = np.empty((len(paths), len(starts), n_bins))
    for t, path in enumerate(paths):
        bigwig = pybigtools.open(path)
        for i, start in enumerate(starts.tolist()):
            bigwig.values(
                CHROM, start, start + span, bins=n_bins, exact=True, uncovered=0.0, oob=0.0,
                fillna=None, arr=out[t, i],
            )  # fmt: skip
        bigwig.close()
    return out


def run_pybigwig(path: str, starts: np.ndarray, length: int) -> None:
    span, n_bins = WINDOW[1] - WINDOW[0], (WINDOW[1] - WINDOW[0]) // BIN_SIZE
    bigwig = pyBigWig.open(path)
    for start in starts.tolist():
        # stats refuses coordinates off the chromosome: clip (edge windows are few)
        bigwig.stats(CHROM, max(start, 0), min(start + span, length), nBins=n_bins)
    bigwig.close()


def run_computematrix(paths: list[str], genes: pd.DataFrame, workdir: Path) -> float | None:
    executable = shutil.which("computeMatrix") or str(
        Path(sys.executable).with_name("computeMatrix")
    )
    if not Path(executable).exists():
        return None
    bed = workdir / "tss.bed"
    pd.DataFrame(
        {
            "chrom": genes["chrom"],
            "start": genes["tss"] - 1,
            "end": genes["tss"],
            "name": genes.index,
            "score": 0,
            "strand": genes["strand"],
        }
    ).to_csv(bed, sep="\t", header=False, index=False)
    command = [
        executable, "reference-point", "--referencePoint", "TSS", "-S", *paths, "-R", str(bed),
        "-b", str(-WINDOW[0]), "-a", str(WINDOW[1]), "--binSize", str(BIN_SIZE),
        "--missingDataAsZero", "-p", "1", "-o", str(workdir / "matrix.gz"),
    ]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inflated by
    the parent it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_memory(args: argparse.Namespace) -> None:
    """Child process: peak memory of one read_bigwigs call, printed as JSON."""
    workdir = Path(args.workdir)
    tracks, genes = make_inputs(workdir, args.cell_types, args.genes, args.length)
    tracks = tracks.iloc[: args.memory_tracks]
    store = workdir / f"memory-{args.memory_tracks}-{len(genes)}.zarr"
    rss_before = peak_rss_mb()
    tracemalloc.start()
    run_read_bigwigs(tracks, genes, store, args.memory_jobs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    memory = {
        "tracks": len(tracks),
        "genes": len(genes),
        "peak_mb": peak / 2**20,
        "rss_mb": peak_rss_mb(),
        "rss_increase_mb": peak_rss_mb() - rss_before,
    }
    print(json.dumps(memory))
    shutil.rmtree(store)


def memory_in_subprocess(
    args: argparse.Namespace, n_jobs: int, n_tracks: int, n_genes: int | None
) -> dict:
    command = [
        sys.executable, __file__, "--workdir", args.workdir, "--cell-types", str(args.cell_types),
        "--length", str(args.length), "--memory-tracks", str(n_tracks),
        "--memory-jobs", str(n_jobs),
    ]  # fmt: skip
    if n_genes is not None:
        command += ["--genes", str(n_genes)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell-types", type=int, default=8, help="cell types (5 marks each)")
    parser.add_argument("--genes", type=int, default=None, help="first N TSSs (default: all)")
    parser.add_argument("--length", type=int, default=50_000_000, help="chr1 length in bp")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    parser.add_argument("--pybigwig-windows", type=int, default=400)
    parser.add_argument("--deeptools-tracks", type=int, default=10, help="tracks for deepTools")
    parser.add_argument("--no-deeptools", action="store_true")
    parser.add_argument("--workdir", default=None, help="keep the bigWigs here (default: temp)")
    parser.add_argument("--memory-tracks", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-jobs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    ct.settings.progress = False
    if args.memory_tracks is not None:
        measure_memory(args)
        return

    cleanup = args.workdir is None
    args.workdir = args.workdir or tempfile.mkdtemp(prefix="bench-bigwig-")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        tracks, genes = make_inputs(workdir, args.cell_types, args.genes, args.length)
        paths = tracks["path"].tolist()
        starts = window_starts(genes)
        n_tracks, n_genes = len(tracks), len(genes)
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        print(
            f"{n_tracks} tracks × {n_genes} GENCODE TSSs on {CHROM}:0-{args.length // 10**6} Mb, "
            f"{(WINDOW[1] - WINDOW[0]) // BIN_SIZE} bins × {BIN_SIZE} bp "
            f"(inputs ready in {time.perf_counter() - start:.1f} s)\n"
        )

        rows = []
        store = workdir / "bench.zarr"
        n_windows = n_tracks * n_genes
        for label, target, n_jobs in (
            (f"read_bigwigs → Zarr, n_jobs={ct.settings.n_jobs}", store, None),
            ("read_bigwigs → Zarr, n_jobs=1", store, 1),
            ("read_bigwigs in memory, n_jobs=1", None, 1),
        ):
            seconds, adata = best_of(
                args.repeat, lambda t=target, n=n_jobs: run_read_bigwigs(tracks, genes, t, n)
            )
            rows.append((label, n_windows, seconds))
        ours = [name for name, _, _ in rows]
        seconds, bare = best_of(args.repeat, lambda: run_bare_pybigtools(paths, starts))
        rows.append((BARE, n_windows, seconds))
        subset = starts[: args.pybigwig_windows]
        seconds, _ = best_of(1, lambda: run_pybigwig(paths[0], subset, args.length))
        rows.append((PYBIGWIG, len(subset), seconds))
        if not args.no_deeptools:
            # computeMatrix's rate per window does not depend on the number of
            # tracks; a subset keeps the run short.
            deeptools_paths = paths[: args.deeptools_tracks]
            seconds = run_computematrix(deeptools_paths, genes, workdir)
            if seconds is None:
                print("deepTools computeMatrix not found: pip install deeptools\n")
            else:
                rows.append((DEEPTOOLS, len(deeptools_paths) * n_genes, seconds))

        # Same numbers as the bare reader wherever the window lies inside the
        # chromosome (pybigtools' oob fill zeroes whole edge bins; we pad bases).
        signal = np.asarray(adata.obsm["histone"])
        marks = [ct.get.marks(adata).index(m) for m in tracks["mark"]]
        cells = [list(adata.obs_names).index(c) for c in tracks["cell_type"]]
        ours_signal = np.stack([signal[c, :, m] for c, m in zip(cells, marks, strict=True)])
        minus = (genes["strand"] == "-").to_numpy()
        bare[:, minus] = bare[:, minus, ::-1]
        inside = (starts >= 0) & (starts + WINDOW[1] - WINDOW[0] <= args.length)
        np.testing.assert_allclose(ours_signal[:, inside], bare[:, inside], rtol=1e-6, atol=1e-6)

        rate = {name: windows / seconds for name, windows, seconds in rows}
        print(f"{'method':<38}{'windows':>9}{'seconds':>10}{'windows/s':>12}")
        for name, windows, seconds in rows:
            print(f"{name:<38}{windows:>9}{seconds:>10.3f}{windows / seconds:>12,.0f}")
        print(f"\n{'ratio':<38}{'÷ bare loop':>12}{'÷ computeMatrix':>17}{'÷ pyBigWig':>12}")
        for name in ours:
            deeptools = f"{rate[name] / rate[DEEPTOOLS]:.0f}×" if DEEPTOOLS in rate else "-"
            print(
                f"{name:<38}{rate[name] / rate[BARE]:>11.2f}×{deeptools:>17}"
                f"{rate[name] / rate[PYBIGWIG]:>11.0f}×"
            )
        print("targets: ≥ 0.8× the bare pybigtools loop, ≥ 100× computeMatrix -p 1")

        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print("\npeak memory of read_bigwigs → Zarr (a fresh subprocess each)")
        print(
            f"{'n_jobs':>7}{'tracks':>8}{'genes':>8}{'tracemalloc peak MB':>22}"
            f"{'peak RSS MB':>13}{'peak RSS increase MB':>22}"
        )
        quarter = max(1, n_genes // 4)
        for n_jobs in sorted({1, ct.settings.n_jobs}):
            for n_t, n_g in (
                (len(MARKS), args.genes),
                (n_tracks, args.genes),
                (n_tracks, quarter),
            ):
                memory = memory_in_subprocess(args, n_jobs, n_t, n_g)
                print(
                    f"{n_jobs:>7}{memory['tracks']:>8}{memory['genes']:>8}"
                    f"{memory['peak_mb']:>22.1f}{memory['rss_mb']:>13.0f}"
                    f"{memory['rss_increase_mb']:>22.1f}"
                )
        print(
            "(worker processes, with n_jobs > 1, each hold one (track, block) read: "
            "chunk_genes × bins × 12 bytes)"
        )
    finally:
        if cleanup:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
