"""Placing expression tables on the genes of an object, the papers' way.

:func:`attach_expression` is the one place tables meet an object's genes and
are written into it, used by ``ct.io.read_deepdiff``,
``ct.io.read_bigwigs(expression=)`` and ``ct.pp.add_expression``: counts
matched by gene id (:func:`on_genes`), log2(count + 1), the median over the
WHOLE table and the high/low labels (``chromtools._expression``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import dask.array as da
import numpy as np
import pandas as pd
from anndata import AnnData

from .._constants import GENOME_MEDIAN
from .._expression import genome_median, high_low, log_counts
from .._utils import user_stacklevel

# An Ensembl id's version suffix: ENSG00000141510.16 → ENSG00000141510.
_VERSION = re.compile(r"^(ENS[A-Z]*\d+)\.\d+$")


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


def attach_expression(
    adata: AnnData,
    tables: Mapping[str, pd.Series],
    *,
    what: str,
    missing: str,
    require_match: bool = True,
    prepare: Callable[[AnnData], AnnData] | None = None,
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
            warnings.warn(message, UserWarning, stacklevel=user_stacklevel())
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


def _unversioned(ids: pd.Index) -> pd.Index:
    return pd.Index([_VERSION.sub(r"\1", str(i)) for i in ids])
