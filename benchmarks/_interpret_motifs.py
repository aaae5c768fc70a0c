"""Motif scanning: ``ct.tl.scan_motifs`` against memelite's FIMO alone and Biopython's PSSM search.

JASPAR2024 vertebrate CORE (879 motifs), p < 1e-5, both strands, on the DNA
of ``ct.datasets.synthetic_sequences``. The anchor is memelite's ``fimo``
called directly on the same array, already laid out as it reads it
(sequences, 4, length); ``scan_motifs`` is timed end to end: from
``varm['onehot']`` to the site table in ``uns``. Biopython (``Bio.motifs``
PSSM ``search`` on both strands, thresholds for p < 1e-5 computed beforehand
and not timed) runs on a small subset. Targets: ``scan_motifs`` ≥ 0.8× memelite
and ≥ 100× Biopython, in sequence×motif per second.

    python benchmarks/_interpret_motifs.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import chromtools as ct
from chromtools.io import read_jaspar
from chromtools.tl import scan_motifs

PVALUE = 1e-5


def _memelite(motifs: list[dict], sequences: np.ndarray) -> tuple[float, int]:
    from memelite import fimo

    pwms = {m["matrix_id"]: np.ascontiguousarray(m["frequencies"].T) for m in motifs}
    start = time.perf_counter()
    hits = fimo(pwms, sequences, threshold=PVALUE)
    return time.perf_counter() - start, sum(len(h) for h in hits)


def _score_threshold(frequencies: np.ndarray, step: float = 0.01) -> float:
    """The log2-odds score whose upper tail under a uniform background is just below PVALUE.

    Biopython's own ``distribution().threshold_fpr`` takes minutes for 879
    motifs, so the distribution is built here on a grid of ``step`` bits.
    """
    log_odds = np.round((np.log2(frequencies + 1e-4) + 2) / step).astype(np.int64)
    log_odds -= log_odds.min(axis=1, keepdims=True)  # shift each column to start at 0
    shift = (np.log2(frequencies + 1e-4) + 2).min(axis=1).sum()
    pmf = np.ones(1)
    for column in log_odds:
        grown = np.zeros(len(pmf) + column.max())
        for value in column:
            grown[value : value + len(pmf)] += pmf / 4
        pmf = grown
    tail = np.cumsum(pmf[::-1])[::-1]
    first = int(np.argmax(tail < PVALUE)) if (tail < PVALUE).any() else len(tail)
    return shift + first * step


def _biopython(motifs: list[dict], onehot: np.ndarray) -> tuple[float, int]:
    from Bio import motifs as bio_motifs
    from Bio.Seq import Seq

    pssms = []
    for motif in motifs:
        counts = {base: motif["frequencies"][:, i].tolist() for i, base in enumerate("ACGT")}
        pssm = bio_motifs.Motif(counts=counts).counts.normalize(pseudocounts=1e-4).log_odds()
        pssms.append((pssm, _score_threshold(motif["frequencies"])))
    sequences = [Seq("".join(np.array(list("ACGT"))[row.argmax(axis=1)])) for row in onehot]
    start = time.perf_counter()
    n_sites = 0
    for sequence in sequences:
        for pssm, threshold in pssms:
            n_sites += sum(1 for _ in pssm.search(sequence, threshold=threshold, both=True))
    return time.perf_counter() - start, n_sites


def run(n_sequences: int = 10_000, length: int = 600, n_biopython: int = 20) -> list[dict]:
    """Seconds and sequence×motif/s of each scan, with the ratios the targets are set on."""
    motifs = read_jaspar()  # read once here; scan_motifs reads the same cached matrices
    adata = ct.datasets.synthetic_sequences(n_sequences, length, seed=0)
    onehot = adata.varm["onehot"]
    sequences = np.ascontiguousarray(onehot.transpose(0, 2, 1))
    # Load (or compile) memelite's numba kernels before anything is timed.
    _memelite(motifs[:2], sequences[:2])

    fimo_seconds, fimo_sites = _memelite(motifs, sequences)
    start = time.perf_counter()
    scan_motifs(adata, pvalue=PVALUE)
    ours_seconds = time.perf_counter() - start
    bio_seconds, bio_sites = _biopython(motifs, onehot[:n_biopython])

    work = n_sequences * len(motifs)
    rate = {
        "memelite fimo (direct)": work / fimo_seconds,
        "ct.tl.scan_motifs": work / ours_seconds,
        "Bio.motifs PSSM search": n_biopython * len(motifs) / bio_seconds,
    }
    ours = rate["ct.tl.scan_motifs"]
    return [
        {
            "method": "memelite fimo (direct)",
            "sequences": n_sequences,
            "seconds": fimo_seconds,
            "sites": fimo_sites,
            "seq_motif_per_s": rate["memelite fimo (direct)"],
            "ours_vs_this": ours / rate["memelite fimo (direct)"],
            "target": "≥ 0.8",
        },
        {
            "method": "ct.tl.scan_motifs",
            "sequences": n_sequences,
            "seconds": ours_seconds,
            "sites": len(adata.uns["motif_sites"]),
            "seq_motif_per_s": ours,
            "ours_vs_this": 1.0,
            "target": "",
        },
        {
            "method": "Bio.motifs PSSM search",
            "sequences": n_biopython,
            "seconds": bio_seconds,
            "sites": bio_sites,
            "seq_motif_per_s": rate["Bio.motifs PSSM search"],
            "ours_vs_this": ours / rate["Bio.motifs PSSM search"],
            "target": "≥ 100",
        },
    ]


def _print(rows: list[dict], length: int, n_motifs: int) -> None:
    print(f"Motif scan, {length} bp, {n_motifs} JASPAR2024 vertebrate CORE motifs, p < {PVALUE:g}")
    header = f"{'method':<26}{'sequences':>10}{'seconds':>10}{'sites':>10}"
    print(header + f"{'seq×motif/s':>14}{'ours / this':>13}{'target':>8}")
    for r in rows:
        print(
            f"{r['method']:<26}{r['sequences']:>10}{r['seconds']:>10.2f}{r['sites']:>10}"
            f"{r['seq_motif_per_s']:>14,.0f}{r['ours_vs_this']:>13.2f}{r['target']:>8}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 sequences, 5 for Biopython")
    arguments = parser.parse_args()
    ct.settings.progress = False
    settings = {"n_sequences": 1000, "n_biopython": 5} if arguments.quick else {}
    _print(run(**settings), 600, 879)


if __name__ == "__main__":
    main()
