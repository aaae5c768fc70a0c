"""The one BED reader, behind both gene annotations and region tables.

BED coordinates are 0-based and half-open; ``track``, ``browser`` and ``#``
lines are headers. The columns are named by the BED specification (chrom,
start, end, name, score, strand, then ``column7`` …) or, when asked, by a last
``#`` header line with one name per column (``#chrom start end K562``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ._parse import Lines, parse, read_bytes, split_lines

BED_COLUMNS = ("chrom", "start", "end", "name", "score", "strand")
HEADER_LINES = (b"#", b"track", b"browser")
# Columns kept as text whatever they hold: names such as "0001" keep their zeros.
_TEXT = ("chrom", "name", "strand")


def _header_names(data: bytes) -> list[str] | None:
    """The names of the last ``#`` line of the header, if any."""
    names = None
    for line in io.BytesIO(data):
        if not line.startswith(HEADER_LINES):
            break
        if line.startswith(b"#"):
            names = line[1:].decode().strip().split("\t")
    return names


def read_bed(
    path: Path,
    what: str,
    noun: str,
    *,
    min_columns: int = 3,
    named_by_header: bool = False,
    numeric: Sequence[str] = ("start", "end"),
) -> tuple[pd.DataFrame, Lines]:
    """The rows of a BED file as a table, and its data lines.

    Parameters
    ----------
    path
        The BED file (compressed or not).
    what
        How errors name the input (``"genes"``, ``"regions"``).
    noun
        What the rows are, for the message about an empty file.
    min_columns
        Columns every row needs (6 for genes, which need the strand).
    named_by_header
        Name the columns by a last ``#`` header line with one name per column.
    numeric
        Columns that must hold numbers, refused by line here; other columns
        are typed by pandas, for callers that check them themselves.

    Returns
    -------
    ``(table, lines)``: ``numeric`` columns as numbers, the first column,
    ``name`` and ``strand`` as text; ``lines.numbers`` gives each row's line.

    Raises
    ------
    FormatError
        Naming the file and line for an empty file, too few columns, ragged
        rows, or a ``numeric`` field that is not a number.
    """
    data = read_bytes(path, what)
    lines = split_lines(data, path, what, "\t", comments=HEADER_LINES)
    if not len(lines):
        raise lines.error(f"the BED file has no {noun} (only blank, header or '#' lines)")
    n_fields = int(lines.fields[0])
    if n_fields < min_columns:
        raise lines.error(
            f"a BED of {noun} needs {min_columns} columns "
            f"({', '.join(BED_COLUMNS[:min_columns])}), found {n_fields} on {lines.at([0])}"
        )
    lines.require_fields(n_fields, "as many as on the first line")
    names = _header_names(data) if named_by_header else None
    if names is None or len(names) != n_fields:
        names = list(BED_COLUMNS[:n_fields]) + [
            f"column{i + 1}" for i in range(len(BED_COLUMNS), n_fields)
        ]
    text = [names[0], *(c for c in _TEXT if c in names[1:])]
    return parse(lines, names, text=text, numeric=[c for c in numeric if c in names]), lines
