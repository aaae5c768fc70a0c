"""Attach one cell type's RNA-seq to an object, the papers' way (``ct.pp.add_expression``).

An object read from bigWigs (or any object whose ``var`` are genes) has
histone signal but no expression. DeepChrome, AttentiveChrome and DeepDiff
model log2(count + 1) and label a gene high when its count is above the cell
type's median over its WHOLE RNA-seq table; the median must therefore be
taken here, while the whole table is at hand, and kept in
``obs['expression_median']`` for :func:`chromtools.pp.binarize`.
"""

from __future__ import annotations

import os
from functools import partial

import pandas as pd
from anndata import AnnData

from .._settings import logger
from ..io._attach import attach_expression
from ..io._expression import checked_counts, read_expression
from ._signal import record, start


def _table(table, options: dict) -> tuple[pd.Series, str]:
    """Counts by gene id, and where they came from."""
    if isinstance(table, (str, os.PathLike)):
        return read_expression(table, **options), str(table)
    given = {k: v for k, v in options.items() if v is not None}
    if isinstance(table, pd.Series):
        if given:
            raise ValueError(
                f"add_expression: {sorted(given)} say how to read a file, but the table is a "
                "Series already"
            )
        return checked_counts(table, "add_expression"), "Series"
    raise TypeError(
        "add_expression: table must be the path of an expression table or a Series of counts "
        f"indexed by gene id, got {type(table).__name__}; for a DataFrame pass "
        "df.set_index('gene_id')['count']"
    )


def add_expression(
    adata: AnnData,
    table: pd.Series | str | os.PathLike,
    *,
    cell_type: str,
    gene_column: str | int | None = None,
    value_column: str | int | None = None,
    header: bool | None = None,
    sep: str | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Attach one cell type's expression table the papers' way.

    Genes are matched by id (``adata.var_names``); genes of ``adata.var``
    absent from the table are NaN, and how many matched is logged (and
    warned about when some did not). The label threshold is the median of
    log2(count + 1) over the WHOLE table, not over the genes of ``adata``: the
    rule of DeepChrome, AttentiveChrome and DeepDiff. Labels are
    :func:`chromtools.pp.binarize`'s rule with that threshold: 1 when log2(count
    + 1) is strictly above it (a count above the genome-wide median), else 0.

    Parameters
    ----------
    adata
        Object whose ``var`` are genes, e.g. from :func:`chromtools.io.read_bigwigs`.
    table
        The cell type's expression: a path read by
        :func:`chromtools.io.read_expression`, or a Series of read counts
        indexed by gene id.
    cell_type
        The obs row (``adata.obs_names``) the expression belongs to.
    gene_column
        For a file: the gene-id column, as in :func:`chromtools.io.read_expression`.
    value_column
        For a file: the count column, as in :func:`chromtools.io.read_expression`.
    header
        For a file: whether line 1 is a header, as in :func:`chromtools.io.read_expression`.
    sep
        For a file: the field separator, as in :func:`chromtools.io.read_expression`.
    copy
        Return a changed copy instead of changing ``adata``.

    Returns
    -------
    ``None``, or the copy when ``copy=True``. Sets, in the row of ``cell_type``
    (other rows are kept; slots that did not exist are created NaN):

    ``adata.X``
        log2(count + 1), float32, NaN for genes absent from the table (lazy
        when ``X`` is).
    ``adata.layers['counts']``
        The counts as read, float32, NaN for genes absent from the table.
    ``adata.layers['label']``
        1/0 high/low labels, float32, NaN for genes absent from the table.
    ``adata.obs['expression_median']``
        The median of log2(count + 1) over every gene of the table, the
        threshold :func:`chromtools.pp.binarize` uses.
    ``adata.uns['chromtools']['pp']['add_expression']``
        ``cell_type``, ``source`` (the path, or ``"Series"``), ``n_table_genes``,
        ``n_matched``, ``expression_median`` and the reading options given, of
        the latest call.

    Raises
    ------
    KeyError
        If ``cell_type`` is not an obs name.
    ValueError
        If no gene of ``adata.var`` is in the table (naming examples of both),
        for a Series with text, NaN, negative values or repeated ids, and as
        :func:`chromtools.io.read_expression` for a malformed file.
    """
    if not isinstance(cell_type, str) or not cell_type:
        raise ValueError(f"add_expression: cell_type must be an obs name, got {cell_type!r}")
    if cell_type not in adata.obs_names:
        raise KeyError(
            f"add_expression: cell type {cell_type!r} is not in adata.obs_names "
            f"{list(adata.obs_names[:10])}"
        )
    if not adata.obs_names.is_unique:
        raise ValueError("add_expression: adata.obs_names repeat; make them unique first")
    options = {"gene_column": gene_column, "value_column": value_column, "header": header}
    options["sep"] = sep
    table, source = _table(table, options)
    adata, found = attach_expression(
        adata,
        {cell_type: table},
        what="add_expression of {cell!r}",
        missing="add_expression: {n_missing} of the {n_genes} genes of adata.var are not in "
        "{cell}'s expression table (e.g. {examples}); left NaN",
        prepare=partial(start, copy=copy),
    )
    expression = found[cell_type]
    record(
        adata,
        "add_expression",
        {
            "cell_type": cell_type,
            "source": source,
            "n_table_genes": expression.n_table,
            "n_matched": expression.n_matched,
            "expression_median": expression.median,
            **{k: v for k, v in options.items() if v is not None},
        },
    )
    logger.info(
        "add_expression: %d of the %d genes of adata.var matched the %d genes of %s's table",
        expression.n_matched,
        adata.n_vars,
        expression.n_table,
        cell_type,
    )
    return adata if copy else None
