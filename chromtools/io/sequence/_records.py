"""FASTA files whose records are the regions, named as ``bedtools getfasta`` writes them.

``>chr1:100-700``, ``>chr1:100-700(-)`` and ``>name::chr1:100-700``: the
names give the coordinates (0-based start), the records the sequences, taken
as they are (getfasta ``-s`` already reverse-complemented ``(-)`` records).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..._errors import FormatError
from .._formats import detect
from .._parse import check_file, read_bytes
from ._onehot import CHUNK, encode, padding

# Bytes a sequence of a FASTA may hold: IUPAC letters in either case, gaps.
_SEQUENCE_LETTERS = (
    bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1)) + b"-*."
)
# "chr1:100-700", "chr1:100-700(+)" and "name::chr1:100-700(-)", as bedtools
# getfasta (-s, -name) writes them.
REGION = re.compile(
    r"^(?:(?P<name>.+)::)?(?P<chrom>[^\s:]+):(?P<start>\d+)-(?P<end>\d+)"
    r"(?:\((?P<strand>[+.\-])\))?$"
)


def parse_names(names: Sequence[str], what: str) -> pd.DataFrame:
    """``chr:start-end`` names (getfasta style) as a region table."""
    parsed = pd.Series(list(names), dtype=str).str.strip().str.extract(REGION)
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


def read_fasta_records(path: Path) -> tuple[list[str], list[bytes], np.ndarray]:
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


def fasta_onehot(
    path: Path, width: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, pd.DataFrame]:
    """Regions, one-hot sequences, header lines and :func:`padding` of a FASTA whose
    records are the regions.

    A record's centre is kept: a record longer than ``width`` is cut to its
    central ``width`` bases, a shorter one padded with all-zero rows on both
    sides. The centre is the one :func:`windows` would use on the genome, so
    the sequence equals the genome read of the record's region.
    """
    names, sequences, lines = read_fasta_records(path)
    table = parse_names(names, str(path))
    length = np.array([len(s) for s in sequences], dtype=np.int64)
    minus = (table["strand"] == "-").to_numpy() if "strand" in table else np.zeros(len(names), bool)
    # Position 0 of the window is record base `offset`. On '-' the record is
    # already reverse-complemented, so its centre is counted from the other end.
    offset = np.where(minus, length - length // 2 - (width - width // 2), length // 2 - width // 2)
    buffer = np.frombuffer(b"".join(sequences) + b"N", dtype=np.uint8)
    first = np.concatenate([[0], np.cumsum(length)[:-1]])
    out = np.empty((len(names), width, 4), dtype=np.uint8)
    positions = np.arange(width, dtype=np.int64)
    for block in np.array_split(np.arange(len(names)), max(1, -(-len(names) // CHUNK))):
        position = offset[block, None] + positions
        inside = (position >= 0) & (position < length[block, None])
        byte = np.where(inside, first[block, None] + position, len(buffer) - 1)
        out[block] = encode(buffer[byte])
    # The record is already as read (reverse-complemented on '-'): no flip.
    return table, out, lines, padding(offset, width, length)


def is_fasta(source) -> bool:
    return isinstance(source, (str, os.PathLike)) and detect(source) == "fasta"
