"""DNA sequence input: genome FASTA access, region tables and one-hot encoding.

Every sequence in chromtools is one-hot encoded here, so a base means the same
thing everywhere: axis 2 is A, C, G, T (in that order); lowercase
(soft-masked) bases count as their uppercase letter; ``N`` and any other
letter, and positions beyond a chromosome end, are all-zero rows. Because the
complement of A, C, G, T is T, G, C, A, a reverse complement is a flip of
both the position and the base axis.

Coordinates are 0-based and half-open, as in BED files and in the
``chr:start-end`` names that ``bedtools getfasta`` writes.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pyfaidx

from ..._chromosomes import in_other_style
from ..._constants import META
from ..._errors import FormatError
from ..._utils import check_int, progress
from .._anndata import check_var, new_anndata
from .._bed import read_bed
from .._formats import FORMATS, Format, Readers, detect
from .._parse import MAX_POSITION, booleans, check_file, parse, read_bytes, read_lines

BASES = "ACGT"
# Byte → one-hot row. Every byte that is not A/C/G/T in either case (N, IUPAC
# codes, gaps) maps to the all-zero row.
_LOOKUP = np.zeros((256, 4), dtype=np.uint8)
for _i, _base in enumerate(BASES):
    _LOOKUP[ord(_base), _i] = 1
    _LOOKUP[ord(_base.lower()), _i] = 1
_PAD = ord("N")
#: var columns of :func:`read_regions`: padded bases at the start and at the end
#: of each region's window, as read (after any reverse complement).
PADDED = ("n_padded_start", "n_padded_end")
# Bytes a sequence of a FASTA may hold: IUPAC letters in either case, gaps.
_SEQUENCE_LETTERS = (
    bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1)) + b"-*."
)
# Regions fetched per vectorised gather: 4,096 × 600 bp of int64 byte offsets
# is 20 MB, whatever the number of regions.
_CHUNK = 4096

# "chr1:100-700", "chr1:100-700(+)" and "name::chr1:100-700(-)", as bedtools
# getfasta (-s, -name) writes them.
_REGION = re.compile(
    r"^(?:(?P<name>.+)::)?(?P<chrom>[^\s:]+):(?P<start>\d+)-(?P<end>\d+)"
    r"(?:\((?P<strand>[+.\-])\))?$"
)


def encode(sequences: np.ndarray, minus: np.ndarray | None = None) -> np.ndarray:
    """One-hot encode ASCII sequences of equal length.

    Parameters
    ----------
    sequences
        uint8 array (regions, length) of ASCII letters.
    minus
        Boolean per region: reverse-complement these.

    Returns
    -------
    uint8 array (regions, length, 4) in A, C, G, T order.
    """
    onehot = _LOOKUP[np.asarray(sequences, dtype=np.uint8)]
    if minus is not None and np.any(minus):
        # Flipping the base axis turns A,C,G,T into T,G,C,A: the complement.
        onehot[minus] = onehot[minus, ::-1, ::-1]
    return onehot


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
        out = np.full((len(start), width), _PAD, dtype=np.uint8)
        offsets = np.arange(width, dtype=np.int64)
        mapped = None if self.compressed else np.memmap(self.path, dtype=np.uint8, mode="r")
        with progress(total=len(start), desc="reading sequences", unit="regions") as bar:
            for name in pd.unique(chrom):
                rows = np.flatnonzero(chrom == name)
                record = self.index[name]
                for block in np.array_split(rows, -(-len(rows) // _CHUNK)):
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
                        out[block] = np.where(inside, mapped[byte], _PAD)
                    bar.update(len(block))
        return out

    def _fetch_bgzf(self, name: str, position: np.ndarray) -> np.ndarray:
        length = self.lengths[name]
        out = np.full(position.shape, _PAD, dtype=np.uint8)
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


def padding(
    start: np.ndarray, width: int, length: np.ndarray, minus: np.ndarray | None = None
) -> pd.DataFrame:
    """How many bases of each window lie beyond its sequence: the padded (all-zero) rows.

    Parameters
    ----------
    start
        0-based start of each window on its sequence; may be negative.
    width
        Length of every window.
    length
        Length of each window's sequence (chromosome or FASTA record).
    minus
        Boolean per window: read reverse-complemented, so its first padded
        bases are those beyond the sequence's end.

    Returns
    -------
    :data:`PADDED` columns: per window, the padded bases at the start and at
    the end of the window as read.
    """
    before = np.clip(-start, 0, width)
    after = np.clip(start + width - length, 0, width)
    if minus is not None:
        before, after = np.where(minus, after, before), np.where(minus, before, after)
    return pd.DataFrame(dict(zip(PADDED, (before, after), strict=True)), dtype=np.int64)


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


# --------------------------------------------------------------------------- regions


def _check_source(path: Path) -> Path:
    """The file of a source of regions, which must exist."""
    if not path.exists():
        # A lone "chr1:100-700" string is read as a path; say how to pass regions.
        hint = (
            f"; to read one region pass a list, [{str(path)!r}]" if _REGION.match(str(path)) else ""
        )
        raise FileNotFoundError(f"regions: no such file {path}{hint}")
    return check_file(path, "regions")


REGION_TABLES = Readers("regions")
_SEQUENCES = f" (regions) or {', '.join(FORMATS['fasta'].suffixes)} (sequences)"


@REGION_TABLES.register("bed")
def _read_bed(path: Path, _: Format) -> tuple[pd.DataFrame, np.ndarray]:
    # Coordinates are checked by windows(), as for every other source of regions.
    table, lines = read_bed(path, "regions", "regions", named_by_header=True, numeric=())
    return table, lines.numbers


@REGION_TABLES.register("csv", "tsv")
def _read_region_table(path: Path, table_format: Format) -> tuple[pd.DataFrame, np.ndarray]:
    lines = read_lines(path, "regions", table_format.sep)
    return parse(lines, text=["chrom"]), lines.numbers[1:]


def _read_table(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """A region table and the line number of each of its rows."""
    return REGION_TABLES.read(_check_source(path), also=_SEQUENCES)


def _parse_names(names: Sequence[str], what: str) -> pd.DataFrame:
    """``chr:start-end`` names (getfasta style) as a region table."""
    parsed = pd.Series(list(names), dtype=str).str.strip().str.extract(_REGION)
    bad = parsed["chrom"].isna().to_numpy()
    if bad.any():
        raise ValueError(
            f"{what}: {int(bad.sum())} names are not regions 'chrom:start-end' (0-based, "
            f"optionally 'name::' before and '(+)' or '(-)' after), e.g. "
            f"{list(np.asarray(names, dtype=object)[bad][:3])}"
        )
    # float first: a start of 30 digits is refused by windows(), not overflowed here.
    table = parsed[["chrom"]].assign(
        start=parsed["start"].astype(np.float64), end=parsed["end"].astype(np.float64)
    )
    if parsed["strand"].notna().any():
        table["strand"] = parsed["strand"].fillna(".").to_numpy()
    if parsed["name"].notna().any():
        table["name"] = parsed["name"].to_numpy()
    return table


def _region_var(
    table: pd.DataFrame, what: str, labels: list[str], lines: np.ndarray | None = None
) -> pd.DataFrame:
    """var of regions, indexed ``chrom:start-end``; label columns are kept out.

    ``lines``: the file's line number of each row, named in errors.
    """
    missing = [c for c in ("chrom", "start", "end") if c not in table.columns]
    if missing:
        raise ValueError(
            f"{what}: missing columns {missing}; regions need chrom, start, end (0-based, "
            f"half-open as in BED), found {list(table.columns)}"
        )
    var = table.drop(columns=labels).reset_index(drop=True)
    var["chrom"] = var["chrom"].astype(str)
    if lines is not None:
        var.index = [f"line {n}" for n in lines]
    # windows() checks that start and end are whole numbers and end > start.
    try:
        windows(var[["chrom", "start", "end"]], 1, what)
    except ValueError as error:
        if lines is None:
            raise
        raise FormatError(str(error)) from None
    var["start"] = pd.to_numeric(var["start"]).astype(np.int64)
    var["end"] = pd.to_numeric(var["end"]).astype(np.int64)
    var.index = var["chrom"] + ":" + var["start"].astype(str) + "-" + var["end"].astype(str)
    return check_var(var, what)


def _label_values(table: pd.DataFrame, labels: list[str], what: str) -> np.ndarray:
    absent = [c for c in labels if c not in table.columns]
    if absent:
        raise KeyError(f"{what}: label columns {absent} are not among {list(table.columns)}")
    values = table[labels].apply(pd.to_numeric, errors="coerce").to_numpy(np.float32).T
    given = table[labels].notna().to_numpy().T
    bad = (np.isnan(values) & given) | (~np.isin(values, [0, 1]) & ~np.isnan(values))
    if bad.any():
        examples = sorted({str(v) for v in table[labels].to_numpy().T[bad][:20]})[:5]
        raise ValueError(
            f"{what}: labels must be 1 (open), 0 (closed) or empty (unknown); columns "
            f"{labels} hold {examples}"
        )
    return values


def _read_fasta_records(path: Path) -> tuple[list[str], list[bytes], np.ndarray]:
    """Names, sequences and header line numbers of a FASTA's records, refusing empty,
    repeated or non-letter ones."""
    path = check_file(path, "regions")
    data = read_bytes(path, "regions")
    text = data.lstrip()
    if not text.startswith(b">"):
        raise FormatError(f"regions: {path} is not a FASTA file (it does not start with '>')")
    line = 1 + data[: len(data) - len(text)].count(b"\n")
    names, sequences, first_line = [], [], {}
    for record in text[1:].split(b"\n>"):
        header, _, body = record.partition(b"\n")
        fields = header.split()
        name = fields[0].decode() if fields else ""
        where = f"the record on line {line}"
        if not name:
            raise FormatError(f"regions: {path}: {where} has no name after '>'")
        sequence = body.replace(b"\n", b"").strip()
        if not sequence:
            raise FormatError(f"regions: {path}: record {name!r} ({where}) has no sequence")
        invalid = sequence.translate(None, _SEQUENCE_LETTERS)
        if invalid:
            raise FormatError(
                f"regions: {path}: record {name!r} ({where}) holds {invalid[:1].decode()!r}, "
                "which is not a base letter; expected letters such as A, C, G, T, N"
            )
        if name in first_line:
            raise FormatError(
                f"regions: {path}: record name {name!r} appears twice, on lines "
                f"{first_line[name]} and {line}; every region must be listed once"
            )
        first_line[name] = line
        names.append(name)
        sequences.append(sequence)
        line += record.count(b"\n") + 1
    return names, sequences, np.array(list(first_line.values()), dtype=np.int64)


def _fasta_onehot(
    path: Path, width: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    """Regions, one-hot sequences, header lines and :func:`padding` of a FASTA whose
    records are the regions.

    A record's centre is kept: a record longer than ``width`` is cut to its
    central ``width`` bases, a shorter one padded with all-zero rows on both
    sides. The centre is the one :func:`windows` would use on the genome, so
    the sequence equals the genome read of the record's region.
    """
    names, sequences, lines = _read_fasta_records(path)
    table = _parse_names(names, str(path))
    length = np.array([len(s) for s in sequences], dtype=np.int64)
    minus = (table["strand"] == "-").to_numpy() if "strand" in table else np.zeros(len(names), bool)
    # Position 0 of the window is record base `offset`. On '-' the record is
    # already reverse-complemented, so its centre is counted from the other end.
    offset = np.where(minus, length - length // 2 - (width - width // 2), length // 2 - width // 2)
    buffer = np.frombuffer(b"".join(sequences) + b"N", dtype=np.uint8)
    first = np.concatenate([[0], np.cumsum(length)[:-1]])
    out = np.empty((len(names), width, 4), dtype=np.uint8)
    positions = np.arange(width, dtype=np.int64)
    for block in np.array_split(np.arange(len(names)), max(1, -(-len(names) // _CHUNK))):
        position = offset[block, None] + positions
        inside = (position >= 0) & (position < length[block, None])
        byte = np.where(inside, first[block, None] + position, len(buffer) - 1)
        out[block] = encode(buffer[byte])
    # The record is already as read (reverse-complemented on '-'): no flip.
    return table, out, lines, padding(offset, width, length)


def _is_fasta(source) -> bool:
    return isinstance(source, (str, os.PathLike)) and detect(source) == "fasta"


def _table(source, what: str) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The region table of a source and, for a file, the line number of each row."""
    if isinstance(source, pd.DataFrame):
        return source.copy(), None
    if isinstance(source, (str, os.PathLike)):
        return _read_table(Path(source))
    if isinstance(source, (list, tuple, pd.Index, np.ndarray, pd.Series)):
        return _parse_names([str(s) for s in source], what), None
    raise TypeError(
        f"{what} must be a BED/CSV/TSV/FASTA path, a DataFrame, a list of 'chr:start-end' "
        f"strings or a dict {{class: source}}, got {type(source).__name__}"
    )


def _source(
    source, fasta: str | os.PathLike | None, width: int, labels: list[str], what: str
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """``(var, onehot, label values or None)`` of one source of regions."""
    if _is_fasta(source):
        if fasta is not None:
            raise ValueError(
                f"{what}: {source} is a FASTA of the regions themselves, so no genome is "
                f"needed; leave out fasta={fasta!r}"
            )
        if labels:
            raise ValueError(
                f"{what}: labels={labels} names table columns, but {source} is a FASTA; give "
                "classes as a dict {1: 'open.fa', 0: 'closed.fa'}"
            )
        table, onehot, lines, padded = _fasta_onehot(Path(source), width)
        var = _region_var(table, f"{what}: {source}", [], lines)
        return with_padding(var, padded), onehot, None
    table, lines = _table(source, what)
    if lines is not None:
        what = f"{what}: {source}"
    values = _label_values(table, labels, what) if labels else None
    var = _region_var(table, what, labels, lines)
    if fasta is None:
        raise ValueError(
            f"{what}: regions given as coordinates need a genome FASTA to read their "
            "sequence: pass fasta='genome.fa'"
        )
    onehot, _, padded = genome_onehot(var, fasta, width, what)
    return with_padding(var, padded), onehot, values


def with_padding(var: pd.DataFrame, padded: pd.DataFrame) -> pd.DataFrame:
    """``var`` with the :data:`PADDED` columns (replacing any of the same names)."""
    var = var.drop(columns=[c for c in PADDED if c in var.columns])
    return var.assign(**{c: padded[c].to_numpy() for c in PADDED})


def read_regions(
    regions: str | os.PathLike | pd.DataFrame | Sequence[str] | Mapping,
    fasta: str | os.PathLike | None = None,
    width: int = 600,
    *,
    labels: str | Sequence[str] | None = None,
    cell_type: str | Sequence[str] | None = None,
    genome: str | None = None,
) -> ad.AnnData:
    """Read regions and their one-hot DNA into a sequence AnnData.

    Every region is re-centred to ``width`` bp around its midpoint
    ``(start + end) // 2`` (the window starts ``width // 2`` before it) and
    read on its strand (``-`` reverse-complemented) when a ``strand`` column
    or a ``(-)`` suffix gives one. Bases are one-hot in A, C, G, T order;
    lowercase counts, ``N`` and other letters are all-zero rows, and so are
    the positions of a window beyond its chromosome's ends (or a short
    FASTA record's): padding, counted per region in ``var``. An all-zero
    row is no base, so :func:`~chromtools.tl.scan_motifs` finds no site over
    padding or ``N``.

    Parameters
    ----------
    regions
        Either coordinates, read with the genome ``fasta``:

        - a BED file (``.bed``; columns chrom, start, end, name, score,
          strand, or the names of a last ``#`` header line);
        - a table with a header (``.csv`` comma-, ``.tsv``/``.txt``/``.tab``
          tab-separated) or a DataFrame with columns ``chrom``, ``start``,
          ``end`` (0-based, half-open) and optionally ``strand``;
        - a list of ``"chr1:100-700"`` strings (0-based start, as BED);

        or a FASTA (``.fa``, ``.fasta``, ``.fna``, ``.fas``) whose records are
        the regions, named as ``bedtools getfasta`` writes them
        (``>chr1:100-700``, ``>chr1:100-700(-)``, ``>name::chr1:100-700``).
        A record is taken as it is (getfasta ``-s`` already
        reverse-complemented ``(-)`` records); one longer than ``width`` is
        cut to its central ``width`` bases, a shorter one padded with
        all-zero rows on both sides, so it matches the genome read of the
        same region. Files may be gzipped. Or a dict ``{class: source}``
        (e.g. ``{1: "open.fa", 0: "closed.fa"}``) of any of these: each
        source's regions get its class (1 open, 0 closed) as label.
    fasta
        Genome FASTA (plain or bgzipped, indexed by pyfaidx; the ``.fai`` is
        written next to it when missing) for regions given as coordinates;
        leave out for a FASTA of regions.
    width
        Length in bp of every sequence.
    labels
        Column name(s) of the table holding labels (1 open, 0 closed, empty
        unknown): one obs row per column, e.g. one per cell line.
    cell_type
        obs names: one per label column (the column names by default), or
        one name for a dict of classes or no labels (``"any"`` by default,
        the cell-type-agnostic target).
    genome
        Genome assembly, e.g. ``"hg38"``, recorded in ``uns['chromtools']``.

    Returns
    -------
    AnnData with ``obs`` = cell types (label columns, or ``cell_type``),
    ``var`` = regions indexed ``chrom:start-end`` with ``chrom``, ``start``,
    ``end`` (the regions as given, before re-centring), ``strand`` when known,
    other table columns, and ``n_padded_start`` and ``n_padded_end`` (int64:
    how many of the first and of the last bases of the window, as read, lie
    beyond the chromosome or record and are padding; 0 for most regions),
    ``varm['onehot']`` uint8 (regions, width, 4),
    ``layers['label']`` and ``X`` float32 labels (NaN where unknown), and
    ``uns['chromtools']`` with ``genome``, ``sequence_width`` and ``fasta``
    (the genome or the FASTA(s) read). Raises ``FileNotFoundError`` for a
    missing file, ``KeyError`` for unknown label columns and ``ValueError``
    for missing columns, repeated regions, labels other than 0/1,
    chromosome names the FASTA lacks (``chr1`` vs ``1``) or regions beyond
    a chromosome end; a malformed file (ragged rows, a FASTA record without
    a name or sequence, a repeated record, characters that are not bases, an
    unreadable genome FASTA) is a ``FormatError`` (a ``ValueError``) naming
    the file and the line or record.
    """
    width = check_int(width, "width", minimum=1)
    if isinstance(labels, str):
        labels = [labels]
    labels = [str(label) for label in labels] if labels is not None else []
    # Every file must exist before any is read (and a genome index written).
    sources = regions.values() if isinstance(regions, Mapping) else [regions]
    for source in sources:
        if isinstance(source, (str, os.PathLike)):
            _check_source(Path(source))
    if fasta is not None:
        check_file(fasta, "fasta")
    # A genome index written by this call is removed again if the call fails.
    with new_index_removed_on_error(fasta):
        if isinstance(regions, Mapping):
            if labels:
                raise ValueError(
                    "read_regions: labels come either from table columns (labels=) or from a "
                    "dict {class: source}, not both"
                )
            classes = pd.to_numeric(pd.Series(list(regions)), errors="coerce").tolist()
            for label, value in zip(regions, classes, strict=True):
                if value not in (0, 1):
                    raise ValueError(
                        f"read_regions: dict keys are classes 1 (open) or 0 (closed), got {label!r}"
                    )
            parts = []
            for (label, source), value in zip(regions.items(), classes, strict=True):
                var, onehot, _ = _source(source, fasta, width, [], f"regions[{label!r}]")
                parts.append((var, onehot, np.full((1, len(var)), value, dtype=np.float32)))
            var = check_var(pd.concat([p[0] for p in parts]), "regions (all classes)")
            onehot = np.concatenate([p[1] for p in parts])
            values = np.concatenate([p[2] for p in parts], axis=1)
            # Without a genome every source is a FASTA of regions: record their paths.
            read_from = {str(label): str(source) for label, source in regions.items()}
        else:
            var, onehot, values = _source(regions, fasta, width, labels, "regions")
            if values is None:
                values = np.full((1, len(var)), np.nan, dtype=np.float32)
            read_from = str(regions)
        names = labels or ["any"]
        if cell_type is not None:
            names = [cell_type] if isinstance(cell_type, str) else [str(c) for c in cell_type]
        if len(names) != values.shape[0]:
            raise ValueError(
                f"read_regions: cell_type gives {len(names)} names for {values.shape[0]} rows of "
                f"labels ({labels or 'one class per region'})"
            )
        adata = new_anndata(
            obs_names=names,
            var=var,
            genome=genome,
            X=values.copy(),
            layers={"label": values},
            varm={"onehot": onehot},
        )
        adata.uns[META].update(
            sequence_width=width, fasta=str(fasta) if fasta is not None else read_from
        )
        return adata
