"""Expression tables read (``ct.io.read_expression``) or given as a Series, as counts
by gene id; ``_attach`` places them on an object's genes."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .._errors import FormatError
from ._formats import sniff_sep, table_sep
from ._parse import (
    Lines,
    blank_rows,
    check_file,
    check_values,
    parse,
    read_bytes,
    split_lines,
)

PathLike = str | os.PathLike
# Value columns recognised by name (any case) in a table with a header.
VALUE_NAMES = ("count", "counts", "tpm", "fpkm", "rpkm", "value", "expression")


def _column_index(column: str | int | None, names: list[str], header: bool, argument: str):
    """The position of a column given by name (needs a header) or 0-based position."""
    if column is None:
        return None
    if isinstance(column, bool) or not isinstance(column, (str, int, np.integer)):
        raise TypeError(f"{argument} must be a column name or a 0-based position, got {column!r}")
    if isinstance(column, str):
        if not header:
            raise ValueError(
                f"{argument}={column!r} names a column, which needs a header: pass header=True "
                "or give the column's 0-based position"
            )
        stripped = [n.strip() for n in names]
        if column.strip() not in stripped:
            raise KeyError(f"{argument}={column!r} is not in the table's header {names}")
        return stripped.index(column.strip())
    if not 0 <= column < len(names):
        raise ValueError(
            f"{argument}={column} is not a column position; the table has {len(names)} columns "
            f"(0 to {len(names) - 1})"
        )
    return int(column)


def _is_numeric(values: pd.Series) -> bool:
    """Whether every non-empty field of a text column is a number (and one is)."""
    given = values.notna() & (values.fillna("").str.strip() != "")
    numbers = pd.to_numeric(values[given], errors="coerce")
    return bool(given.any()) and bool(numbers.notna().all())


def _guess_columns(
    lines: Lines, names: list[str], header: bool, gene: int | None, value: int | None
) -> tuple[int, int]:
    """The gene-id and value columns of a table of three or more columns.

    The gene ids are the first column that is not all numbers (ENSG…, symbols);
    the value is the column named count, TPM … or else the one numeric column.
    """
    table = parse(lines, None if header else names, text=names)
    numeric = [i for i in range(len(names)) if _is_numeric(table.iloc[:, i])]
    if gene is None:
        candidates = [i for i in range(len(names)) if i not in numeric and i != value]
        if not candidates:
            raise lines.error(
                f"no column looks like gene ids (all of {names} hold numbers); pass gene_column="
            )
        gene = candidates[0]
    if value is None:
        named = [i for i, n in enumerate(names) if n.strip().lower() in VALUE_NAMES and i != gene]
        found = named or [i for i in numeric if i != gene]
        if len(found) != 1:
            kind = "named like an expression value" if named else "of numbers"
            raise lines.error(
                f"cannot tell which column holds the counts: "
                f"{len(found)} columns {kind} {[names[i] for i in found]}; pass value_column="
            )
        value = found[0]
    return gene, value


def _hint_header(error: FormatError, lines: Lines, value: int) -> FormatError:
    """``error``, saying to pass header=True when line 1 looks like one."""
    first = lines.header()
    field = first[value].strip() if value < len(first) else ""
    if field and not _is_numeric(pd.Series([field])):
        return FormatError(f"{error}; if line 1 is a header, pass header=True")
    return error


def read_expression(
    path: PathLike,
    *,
    gene_column: str | int | None = None,
    value_column: str | int | None = None,
    header: bool | None = None,
    sep: str | None = None,
) -> pd.Series:
    """Read an expression table: one gene id and one read count (or TPM …) per row.

    By default the table is the Roadmap RNA-seq format, ``gene_id,count``
    without a header. Tables with a header (RSEM, salmon, featureCounts, a
    spreadsheet export) and more columns are read by naming or guessing the
    two columns that matter.

    Parameters
    ----------
    path
        Text table, comma- or tab-separated, optionally compressed (gzip,
        bzip2, xz, zip).
    gene_column
        The gene-id column: a header name or a 0-based position. By default
        the first column of a two-column table, else the first column that is
        not all numbers (Ensembl ids, symbols).
    value_column
        The count (or TPM, FPKM …) column: a header name or a 0-based
        position. By default the second column of a two-column table, else
        the column named ``count``, ``counts``, ``tpm``, ``fpkm``, ``rpkm``,
        ``value`` or ``expression`` (any case), else the one numeric column
        other than the gene ids.
    header
        Whether line 1 is a header. By default ``True`` when a column is
        given by name, else ``False`` (the Roadmap format has none).
    sep
        Field separator; by default ``,`` for ``.csv``, a tab for ``.tsv``,
        ``.txt`` and ``.tab`` (also compressed, ``.tsv.gz``), and otherwise
        a tab if line 1 holds one, else a comma.

    Returns
    -------
    The values as a float64 Series indexed by gene id (str), named after the
    value column when the table has a header.

    Raises
    ------
    FormatError
        (a ``ValueError``) naming the file and line for rows with a number of
        fields other than the first line's (two for the Roadmap format),
        empty or repeated gene ids, values that are not numbers, NaN,
        infinite, negative or too large for float32, and for a table whose
        columns cannot be told apart (pass ``gene_column=``/``value_column=``).
    KeyError
        For a column name that is not in the header.
    """
    what = "expression table"
    path = check_file(path, what)
    if header is None:
        header = isinstance(gene_column, str) or isinstance(value_column, str)
    elif not isinstance(header, bool):
        raise ValueError(f"header must be True, False or None, got {header!r}")
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1):
        raise ValueError(f"sep must be one character such as ',' or '\\t', got {sep!r}")
    data = read_bytes(path, what)
    sep = sep or table_sep(path, default=None) or sniff_sep(data.lstrip().split(b"\n", 1)[0])
    lines = split_lines(data, path, what, sep)
    lines.require_data()
    n_columns = int(lines.fields[0])
    if header:
        names = lines.header()
    elif n_columns <= 2:
        names = ["gene", "count"]
        lines.require_fields(2, "gene id, read count")
    else:
        names = [f"column{i + 1}" for i in range(n_columns)]
        lines.require_fields(n_columns, "as many as on line 1")
    gene = _column_index(gene_column, names, header, "gene_column")
    value = _column_index(value_column, names, header, "value_column")
    if len(names) == 2 and (gene is None or value is None):
        gene = 1 - value if gene is None and value is not None else (gene or 0)
        value = 1 - gene if value is None else value
    elif gene is None or value is None:
        gene, value = _guess_columns(lines, names, header, gene, value)
    if gene == value:
        raise ValueError(f"gene_column and value_column are both column {names[gene]!r}")
    try:
        table = parse(lines, None if header else names, text=[names[gene]], numeric=[names[value]])
    except FormatError as error:
        raise (error if header else _hint_header(error, lines, value)) from None
    offset = int(header)
    ids = table[names[gene]]
    empty = blank_rows(ids)
    if len(empty):
        raise lines.error(f"{len(empty)} rows have no gene id, on {lines.at(empty + offset)}")
    repeated = np.flatnonzero(ids.duplicated(keep=False).to_numpy())
    if len(repeated):
        raise lines.error(
            f"gene ids {list(pd.unique(ids.iloc[repeated]))[:5]} repeat, on "
            f"{lines.at(repeated + offset)}"
        )
    label = names[value] if header else "read count"
    try:
        values = check_values(table[[names[value]]].to_numpy(), lines, [label], offset=offset)
    except FormatError as error:
        kind = "expression values" if header else "read counts"
        raise FormatError(f"{error}; {kind} must be non-negative numbers") from None
    return pd.Series(
        values[:, 0].astype(np.float64),
        index=pd.Index(ids.to_numpy(), dtype=str),
        name=names[value].strip() if header else None,
    )


def checked_counts(table: pd.Series, what: str) -> pd.Series:
    """A Series of counts given in memory, refused for text, NaN, infinite or negative
    values and for ids that are empty or repeat."""
    values = pd.to_numeric(table, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise ValueError(
            f"{what}: {int(bad.sum())} counts are not finite non-negative numbers, "
            f"e.g. {dict(list(table[bad].items())[:3])}"
        )
    ids = pd.Index(table.index.astype(str))
    if ids.duplicated().any() or (ids.str.strip() == "").any():
        repeated = list(ids[ids.duplicated()].unique()[:5])
        raise ValueError(f"{what}: gene ids must be unique and non-empty; repeated: {repeated}")
    return pd.Series(values, index=ids)
