"""Reading one bigWig track's windows: the two readers and one block of genes.

pybigtools computes exact bin means in Rust from one call per window; pyBigWig
gives per-base values averaged with numpy. A read is described by a picklable
:class:`_Block`, so a worker process (forked, or of a dask cluster) can be
sent it and open the file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pybigtools
import pyBigWig

from .._errors import FormatError
from .._utils import check_signal


class _PyBigtoolsTrack:
    """pybigtools (Rust): exact bin means without a per-base array (the fast reader)."""

    def __init__(self, path: Path) -> None:
        self._file = pybigtools.open(str(path))

    def binned(self, chrom: str, start: int, end: int, out: np.ndarray) -> None:
        # exact=True: means from the raw data, not interpolated from zoom levels.
        self._file.values(
            chrom, start, end, bins=len(out), exact=True, uncovered=0.0, oob=0.0,
            fillna=None, arr=out,
        )  # fmt: skip

    def bases(self, chrom: str, start: int, end: int) -> np.ndarray:
        return self._file.values(chrom, start, end, uncovered=0.0, oob=0.0, fillna=None)

    def close(self) -> None:
        self._file.close()


class _PyBigWigTrack:
    """pyBigWig (libBigWig): per-base values averaged with numpy."""

    def __init__(self, path: Path) -> None:
        self._file = pyBigWig.open(str(path))
        if self._file is None:
            raise OSError(f"pyBigWig cannot open {path}")

    def binned(self, chrom: str, start: int, end: int, out: np.ndarray) -> None:
        values = self.bases(chrom, start, end)
        out[:] = values.reshape(len(out), -1).mean(axis=1, dtype=np.float64)

    def bases(self, chrom: str, start: int, end: int) -> np.ndarray:
        # Uncovered bases come back as NaN; NaN stored in the file is refused
        # earlier, from the file's summary, so every NaN here means "no data".
        return np.nan_to_num(self._file.values(chrom, start, end, numpy=True), nan=0.0)

    def close(self) -> None:
        self._file.close()


_READERS = {"pybigtools": _PyBigtoolsTrack, "pyBigWig": _PyBigWigTrack}


@dataclass(frozen=True)
class _Block:
    """One read: a track's windows for one block of genes.

    Plain data, so a worker process (forked, or of a dask cluster) can be sent
    it; the worker opens the file itself.
    """

    track: str  # the track described, for errors
    path: Path
    reader: type
    chrom: np.ndarray  # per gene: chromosome name
    start: np.ndarray  # 0-based first base of the window, in genome order
    length: np.ndarray  # length of the gene's chromosome in this bigWig
    minus: np.ndarray  # on the "-" strand
    span: int
    n_bins: int


def _read_block(block: _Block) -> np.ndarray:
    """One track's windows for one block of genes: (genes, bins) float32, upstream first."""
    # A handle per read: pybigtools caches the blocks it decompressed, so a
    # handle kept open per track would hold memory growing with the tracks.
    try:
        handle = block.reader(block.path)
        try:
            signal = _windows(handle, block)
        finally:
            handle.close()
    except (pybigtools.BBIReadError, RuntimeError, OSError) as error:
        # A file whose header is intact but whose data are truncated or
        # damaged fails only here, when its blocks are read.
        raise FormatError(f"{block.track}: damaged bigWig data ({error})") from None
    signal[block.minus] = signal[block.minus, ::-1]
    check_signal(signal, block.track)
    return signal.astype(np.float32)


def _windows(handle, block: _Block) -> np.ndarray:
    """Bin means of the block's genes in genome order (not yet strand-flipped)."""
    ends = block.start + block.span
    inside = (block.start >= 0) & (ends <= block.length)
    signal = np.empty((len(block.start), block.n_bins), dtype=np.float64)
    rows = np.flatnonzero(inside)
    for row, chrom, start, end in zip(
        rows.tolist(),
        block.chrom[rows].tolist(),
        block.start[rows].tolist(),
        ends[rows].tolist(),
        strict=True,
    ):
        handle.binned(chrom, start, end, signal[row])
    for row in np.flatnonzero(~inside).tolist():
        signal[row] = _padded(handle, block, row)
    return signal


def _padded(handle, block: _Block, row: int) -> np.ndarray:
    """Bin means of a window running off a chromosome end, padded with 0."""
    start, length = int(block.start[row]), int(block.length[row])
    values = np.zeros(block.span, dtype=np.float64)
    inner_start, inner_end = max(start, 0), min(start + block.span, length)
    if inner_end > inner_start:
        values[inner_start - start : inner_end - start] = handle.bases(
            block.chrom[row], inner_start, inner_end
        )
    return values.reshape(block.n_bins, -1).mean(axis=1)
