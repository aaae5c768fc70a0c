"""Expression tables: reading them (``ct.io.read_expression``) and placing them on
the genes of an object the papers' way.

:func:`attach_expression` is the one place tables meet an object's genes and
are written into it, used by ``ct.io.read_deepdiff``,
``ct.io.read_bigwigs(expression=)`` and ``ct.pp.add_expression``: counts
matched by gene id (:func:`on_genes`), log2(count + 1), the median over the
WHOLE table and the high/low labels (``chromtools._expression``).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dask.array as da
import numpy as np
import pandas as pd
from anndata import AnnData

from .._constants import GENOME_MEDIAN
from .._errors import FormatError
from .._expression import genome_median, high_low, log_counts
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
# An Ensembl id's version suffix: ENSG00000141510.16 → ENSG00000141510.
_VERSION = re.compile(r"^(ENS[A-Z]*\d+)\.\d+$")


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


@dataclass
class Expression:
    """One cell type's expression on the genes of an object, the papers' way."""

    counts: np.ndarray
    """float32 count per gene, NaN for genes absent from the table."""
    values: np.ndarray
    """float32 log2(count + 1)."""
    label: np.ndarray
    """float32 1 above the genome-wide median, 0 otherwise, NaN where absent."""
    median: float
    """Median of log2(count + 1) over every gene of the table."""
    n_table: int
    missing: pd.Index
    """Genes of the object absent from the table."""

    @property
    def n_matched(self) -> int:
        return len(self.counts) - len(self.missing)


def on_genes(table: pd.Series, genes: pd.Index, what: str, *, require_match: bool = True):
    """The :class:`Expression` of counts ``table`` (by gene id) on ``genes``.

    Raises
    ------
    ValueError
        With ``require_match``, if no gene is in the table, naming examples of
        both (and the fix when only Ensembl version suffixes differ).
    """
    counts = table.reindex(genes).to_numpy(dtype=np.float32)
    absent = np.isnan(counts)
    if require_match and absent.all():
        hint = ""
        if _unversioned(genes).isin(_unversioned(table.index)).any():
            hint = (
                "; they would match without the Ensembl version suffix ('.16'): remove it "
                "from one side, e.g. adata.var_names = adata.var_names.str.replace("
                "r'\\.\\d+$', '', regex=True)"
            )
        raise ValueError(
            f"{what}: none of the {len(genes)} genes (e.g. {list(genes[:3])}) is in the "
            f"expression table of {len(table)} genes (e.g. {list(table.index[:3])}); genes "
            f"are matched by id, adata.var_names{hint}"
        )
    median = genome_median(table.to_numpy())
    values = log_counts(counts)
    return Expression(
        counts=counts,
        values=values,
        label=high_low(values, median),
        median=median,
        n_table=len(table),
        missing=genes[absent],
    )


def _unversioned(ids: pd.Index) -> pd.Index:
    return pd.Index([_VERSION.sub(r"\1", str(i)) for i in ids])


def attach_expression(
    adata: AnnData,
    tables: Mapping[str, pd.Series],
    *,
    what: str,
    missing: str,
    require_match: bool = True,
    prepare: Callable[[AnnData], AnnData] | None = None,
    stacklevel: int = 1,
) -> tuple[AnnData, dict[str, Expression]]:
    """Place each cell type's counts on the genes of ``adata``, the papers' way.

    Every table is matched first (:func:`on_genes`, by ``adata.var_names``),
    so a table that fails leaves ``adata`` untouched; then, in each cell
    type's row (other rows are kept; slots that did not exist are created
    NaN): ``X`` = log2(count + 1) (lazily when ``X`` is a dask array),
    ``layers['counts']``, ``layers['label']`` (float32, NaN for genes absent
    from the table) and ``obs['expression_median']``.

    Parameters
    ----------
    adata
        Object whose ``var`` are genes and whose ``obs_names`` (unique) hold
        every cell type of ``tables``.
    tables
        ``{cell type: counts by gene id}``, checked already.
    what
        The caller's name of a table in errors, formatted with ``cell``
        (e.g. ``"read_bigwigs expression[{cell!r}]"``).
    missing
        The caller's warning when some genes are absent from a table,
        formatted with ``cell``, ``n_missing``, ``n_genes`` and ``examples``;
        warned (a ``UserWarning``) as each table is matched.
    require_match
        Refuse a table that matches no gene (see :func:`on_genes`).
    prepare
        Called once every table matched, before anything is written; returns
        the object to write into (``ct.pp`` passes its copy step).
    stacklevel
        Where the warning points, counted from the caller (1: the caller).

    Returns
    -------
    The object written into and the :class:`Expression` of each cell type.
    """
    found = {}
    for cell, table in tables.items():
        found[cell] = on_genes(
            table, adata.var_names, what.format(cell=cell), require_match=require_match
        )
        absent = found[cell].missing
        if len(absent):
            message = missing.format(
                cell=cell, n_missing=len(absent), n_genes=adata.n_vars, examples=list(absent[:3])
            )
            warnings.warn(message, UserWarning, stacklevel=stacklevel + 1)
    if prepare is not None:
        adata = prepare(adata)
    for cell, expression in found.items():
        row = adata.obs_names.get_loc(cell)
        adata.X = _with_row(adata.X, row, expression.values, adata.n_obs)
        for layer, values in (("counts", expression.counts), ("label", expression.label)):
            adata.layers[layer] = _with_row(adata.layers.get(layer), row, values, adata.n_obs)
        if GENOME_MEDIAN not in adata.obs:
            adata.obs[GENOME_MEDIAN] = np.nan
        adata.obs[GENOME_MEDIAN] = adata.obs[GENOME_MEDIAN].astype(np.float64)
        adata.obs.iloc[row, adata.obs.columns.get_loc(GENOME_MEDIAN)] = expression.median
    return adata, found


def _with_row(matrix, row: int, values: np.ndarray, n_obs: int):
    """``matrix`` (cell types × genes) with row ``row`` set to ``values``, float32;
    in place for a float32 numpy array, lazily for a dask array."""
    if matrix is None:
        matrix = np.full((n_obs, len(values)), np.nan, dtype=np.float32)
    if isinstance(matrix, da.Array):
        rows = da.arange(n_obs, chunks=matrix.chunks[0])[:, None] == row
        return da.where(rows, values[None, :], matrix).astype(np.float32)
    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    if not (isinstance(matrix, np.ndarray) and matrix.dtype == np.float32):
        matrix = np.array(matrix, dtype=np.float32)
    matrix[row] = values
    return matrix
