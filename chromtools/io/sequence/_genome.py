"""The genome FASTA: where each gene's or region's window lies, and reading it one-hot.

Coordinates are 0-based and half-open, as in BED files; a gene's TSS is
1-based, as in GENCODE.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyfaidx

from ..._chromosomes import in_other_style
from ..._errors import FormatError
from ..._utils import progress
from .._parse import MAX_POSITION, booleans, check_file
from ._onehot import CHUNK, PAD, encode, padding


@contextlib.contextmanager
def new_index_removed_on_error(fasta: str | os.PathLike | None) -> Iterator[None]:
    """Remove the index pyfaidx writes next to ``fasta`` if the block fails, so a
    failed read leaves no new file; an index that was there is kept."""
    new = [] if fasta is None else [Path(f"{fasta}{s}") for s in (".fai", ".gzi")]
    new = [path for path in new if not path.exists()]
    try:
        yield
    except BaseException:
        for path in new:
            path.unlink(missing_ok=True)
        raise


class Genome:
    """A genome FASTA indexed by pyfaidx, read by vectorised byte gathers.

    Plain FASTA files are memory-mapped and every window of a chromosome is
    gathered in one numpy operation through the ``.fai`` offsets; block-gzipped
    files (``bgzip``) are read window by window through pyfaidx.

    Parameters
    ----------
    path
        FASTA file; its ``.fai`` index is written next to it when missing.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = check_file(path, "fasta")
        try:
            self._faidx = pyfaidx.Faidx(str(self.path), as_raw=True)
        except PermissionError:
            raise PermissionError(f"fasta: no permission to read {self.path}") from None
        except (
            pyfaidx.FastaIndexingError,
            pyfaidx.UnsupportedCompressionFormat,
            ValueError,
            OSError,
            EOFError,
            IndexError,
            RuntimeError,  # pyfaidx's "Unhandled exception during fasta indexing"
        ) as error:
            with open(self.path, "rb") as handle:
                bom = handle.read(3) == b"\xef\xbb\xbf"
            hint = "; it starts with a UTF-8 byte-order mark: save it without one" if bom else ""
            raise FormatError(
                f"fasta: {self.path} is not a readable FASTA file: {error}{hint}"
            ) from None
        self.index = dict(self._faidx.index)
        with open(self.path, "rb") as handle:
            # bgzip output starts with the gzip magic number; it cannot be memory-mapped.
            self.compressed = handle.read(2) == b"\x1f\x8b"
        self.lengths = {str(name): int(record.rlen) for name, record in self.index.items()}

    def __enter__(self) -> Genome:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._faidx.close()

    def check(self, var: pd.DataFrame, what: str, end: np.ndarray) -> None:
        """Refuse chromosomes the FASTA lacks and regions that end beyond them."""
        chroms = pd.unique(var["chrom"].astype(str))
        absent = [c for c in chroms if c not in self.lengths]
        if absent:
            renamed = in_other_style(absent, self.lengths)
            hint = (
                "; the names differ only by the 'chr' prefix: rename the regions' "
                "chromosomes to the FASTA's style"
                if renamed
                else ""
            )
            raise ValueError(
                f"{what}: chromosomes {absent[:5]} are not in the FASTA {self.path}, which "
                f"names its sequences {list(self.lengths)[:5]}{hint}"
            )
        lengths = var["chrom"].astype(str).map(self.lengths).to_numpy(dtype=np.int64)
        beyond = end > lengths
        if beyond.any():
            raise ValueError(
                f"{what}: {int(beyond.sum())} regions end beyond their chromosome in "
                f"{self.path}, e.g. {list(var.index[beyond][:3])}; is this FASTA the genome "
                "assembly the regions come from?"
            )

    def fetch(self, chrom: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
        """ASCII bytes of ``[start, start + width)`` per region, ``N`` off the ends.

        Parameters
        ----------
        chrom
            Chromosome per region (names of this FASTA).
        start
            0-based start per region; may be negative.
        width
            Length of every window.

        Returns
        -------
        uint8 array (regions, width).
        """
        out = np.full((len(start), width), PAD, dtype=np.uint8)
        offsets = np.arange(width, dtype=np.int64)
        mapped = None if self.compressed else np.memmap(self.path, dtype=np.uint8, mode="r")
        with progress(total=len(start), desc="reading sequences", unit="regions") as bar:
            for name in pd.unique(chrom):
                rows = np.flatnonzero(chrom == name)
                record = self.index[name]
                for block in np.array_split(rows, -(-len(rows) // CHUNK)):
                    position = start[block, None] + offsets
                    if mapped is None:
                        out[block] = self._fetch_bgzf(name, position)
                    else:
                        inside = (position >= 0) & (position < record.rlen)
                        position = np.clip(position, 0, record.rlen - 1)
                        # A FASTA line holds lenc bases in lenb bytes (with the newline).
                        byte = (
                            record.offset
                            + (position // record.lenc) * record.lenb
                            + position % record.lenc
                        )
                        out[block] = np.where(inside, mapped[byte], PAD)
                    bar.update(len(block))
        return out

    def _fetch_bgzf(self, name: str, position: np.ndarray) -> np.ndarray:
        length = self.lengths[name]
        out = np.full(position.shape, PAD, dtype=np.uint8)
        for row, window in enumerate(position):
            first, last = max(int(window[0]), 0), min(int(window[-1]) + 1, length)
            if last > first:
                try:
                    text = str(self._faidx.fetch(name, first + 1, last))
                except (pyfaidx.FetchError, ValueError, OSError, EOFError) as error:
                    raise FormatError(
                        f"fasta: cannot read {name}:{first}-{last} from {self.path} ({error})"
                    ) from None
                out[row, first - window[0] : last - window[0]] = np.frombuffer(
                    text.encode(), dtype=np.uint8
                )
        return out


def windows(
    var: pd.DataFrame, width: int, what: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Where each gene's or region's window of ``width`` bp lies on the genome.

    Genes (``chrom``, ``tss``, ``strand``): the 1-based TSS base sits at
    position ``width // 2`` of the sequence as read on the gene's strand, so
    position 0 is the most upstream base on both strands. Regions (``chrom``,
    ``start``, ``end``): the window starts at ``(start + end) // 2 - width // 2``
    and is read on ``strand`` when that column exists (``-`` reverse-complemented).

    Returns
    -------
    ``(chrom, window start, minus strand, centre)`` with ``centre`` ``"tss"`` or
    ``"midpoint"``; the last base of each gene/region is checked by the caller.
    """
    if width < 1:
        raise ValueError(f"width must be a positive number of base pairs, got {width}")
    columns = set(var.columns)
    if {"chrom", "tss", "strand"} <= columns:
        centre = "tss"
    elif {"chrom", "start", "end"} <= columns:
        centre = "midpoint"
    else:
        raise ValueError(
            f"{what}: var needs columns chrom + start + end (regions, 0-based half-open) or "
            f"chrom + tss + strand (genes, 1-based TSS); found {list(var.columns)}"
        )
    chrom = var["chrom"].astype(str).to_numpy()
    missing = var["chrom"].isna().to_numpy() | (chrom == "")
    if missing.any():
        raise ValueError(
            f"{what}: {int(missing.sum())} rows have no chromosome, e.g. "
            f"{list(var.index[missing][:3])}"
        )
    strand = (
        var["strand"]
        .astype(object)
        .where(var["strand"].notna(), "")
        .astype(str)
        .str.strip()
        .to_numpy()
        if "strand" in columns
        else np.full(len(var), "+")
    )
    allowed = ["+", "-"] if centre == "tss" else ["+", "-", "."]
    bad = ~np.isin(strand, allowed)
    if bad.any():
        raise ValueError(
            f"{what}: strand must be one of {allowed}; {int(bad.sum())} rows have "
            f"{sorted(set(strand[bad]))[:5]}, e.g. {list(var.index[bad][:3])}"
        )
    minus = strand == "-"
    if centre == "tss":
        tss = _whole(var["tss"], "tss", var.index, what, minimum=1) - 1
        # On '-' the sequence is read backwards from the window's end, so the
        # window is shifted by one to keep the TSS at position width // 2.
        start = np.where(minus, tss + width // 2 + 1 - width, tss - width // 2)
    else:
        first = _whole(var["start"], "start", var.index, what, minimum=0)
        last = _whole(var["end"], "end", var.index, what, minimum=1)
        empty = last <= first
        if empty.any():
            raise ValueError(
                f"{what}: end must be greater than start; {int(empty.sum())} regions are not, "
                f"e.g. {list(var.index[empty][:3])}"
            )
        start = (first + last) // 2 - width // 2
    return chrom, start, minus, centre


def _whole(values: pd.Series, column: str, ids: pd.Index, what: str, minimum: int) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers)) | (numbers < minimum)
    bad |= (numbers > MAX_POSITION) | booleans(values)
    if bad.any():
        raise ValueError(
            f"{what}: {column} must be whole numbers ≥ {minimum}; {int(bad.sum())} rows have "
            f"others, e.g. {dict(zip(list(ids[bad][:3]), values[bad][:3], strict=False))}"
        )
    return numbers.astype(np.int64)


def genome_onehot(
    var: pd.DataFrame, fasta: str | os.PathLike, width: int, what: str
) -> tuple[np.ndarray, str, pd.DataFrame]:
    """One-hot windows of ``var`` (genes or regions) read from a genome FASTA.

    Returns
    -------
    ``(onehot, centre, padded)``: uint8 (rows, width, 4), ``"tss"`` or
    ``"midpoint"``, and the :func:`padding` of each window (bases beyond a
    chromosome end, all-zero rows in ``onehot``).
    """
    chrom, start, minus, centre = windows(var, width, what)
    with new_index_removed_on_error(fasta), Genome(fasta) as genome:
        # windows() checked these are whole numbers, maybe written as text ("5.0").
        last = pd.to_numeric(var["tss" if centre == "tss" else "end"]).to_numpy(dtype=np.int64)
        genome.check(var, what, last)
        sequences = genome.fetch(chrom, start, width)
        lengths = pd.Series(chrom).map(genome.lengths).to_numpy(dtype=np.int64)
    return encode(sequences, minus), centre, padding(start, width, lengths, minus)
