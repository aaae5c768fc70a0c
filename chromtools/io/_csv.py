"""Importers for the CSV formats of the DeepChrome/AttentiveChrome and DeepDiff code."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._errors import FormatError
from .._utils import check_int, check_marks, check_window
from ._anndata import new_anndata
from ._attach import attach_expression
from ._binned import binned_table, centred_window, check_bins, gene_labels, reorder_marks, to_tensor
from ._expression import read_expression
from ._parse import check_file, check_values

# Column orders of the two published formats (see shared/data/README.md).
DEEPCHROME_MARKS = ("H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3", "H3K9me3")
DEEPDIFF_MARKS = ("H3K4me1", "H3K4me3", "H3K9me3", "H3K27me3", "H3K36me3")
SPLITS = ("train", "valid", "test")

# ENSG_SYMBOL_bin; a symbol may hold "_" (Y_RNA), the id and the bin do not.
_DEEPDIFF_NAME = r"^(?P<key>[^_]+_.+)_(?P<bin>[0-9]{1,9})$"

PathLike = str | os.PathLike
Files = PathLike | Sequence[PathLike] | Mapping[str, PathLike]


def _as_split_files(files: Files, what: str) -> list[tuple[str | None, Path]]:
    """Normalise one path, a list of paths or ``{split: path}`` to (split, path) pairs."""
    if isinstance(files, Mapping):
        unknown = [s for s in files if s not in SPLITS]
        if unknown:
            raise ValueError(f"{what}: split names {unknown} are not among {SPLITS}")
        pairs = list(files.items())
    elif isinstance(files, (str, os.PathLike)):
        pairs = [(None, files)]
    elif isinstance(files, Sequence):
        pairs = [(None, p) for p in files]
    else:
        raise TypeError(
            f"{what}: files must be a path, a list of paths or {{split: path}}, "
            f"got {type(files).__name__}"
        )
    if not pairs:
        raise ValueError(f"{what}: no files given; pass a path, a list of paths or {{split: path}}")
    not_paths = [p for _, p in pairs if not isinstance(p, (str, os.PathLike))]
    if not_paths:
        raise TypeError(f"{what}: files must be paths, got {not_paths[:3]}")
    return [(split, check_file(p, what)) for split, p in pairs]


def _check_name(name, what: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} must be a non-empty string, got {name!r}")
    return name


def read_deepchrome(
    files: Files,
    *,
    cell_type: str = "sample",
    marks: Sequence[str] = DEEPCHROME_MARKS,
    bin_size: int = 100,
    window: tuple[int, int] | None = None,
    genome: str | None = None,
) -> ad.AnnData:
    """Read the DeepChrome/AttentiveChrome CSV format of one cell type.

    Each file has no header and one row per gene and bin:
    ``GeneID,BinID,<mark 1>,…,<mark n>,label``.

    Parameters
    ----------
    files
        One CSV, a list of CSVs, or ``{"train": …, "valid": …, "test": …}``; with
        a mapping, the split of each gene is stored in ``var['split']``.
    cell_type
        Name of the obs row (e.g. ``"E123"``).
    marks
        Names of the mark columns in file order (the published code's order by
        default). They are stored in chromtools' canonical order.
    bin_size
        Base pairs per bin.
    window
        TSS-relative window; centred on the TSS by default.
    genome
        Genome assembly, recorded in ``uns['chromtools']['genome']``.

    Returns
    -------
    AnnData with one obs row, ``obsm['histone']`` (1, genes, marks, bins),
    ``layers['label']`` from the file's label column, ``X`` all NaN (the format
    carries no expression), and ``var['split']`` when splits were given.

    Raises
    ------
    FormatError
        (a ``ValueError``) naming the file and line for a malformed file: wrong
        column counts, text where numbers belong, NaN, infinite, negative or
        float32-overflowing signal, labels other than 0/1 or differing between
        the rows of one gene, repeated or missing bins, empty files, damaged
        gzip; and for files with different bins per gene.
    FileNotFoundError
        For a missing file (``ValueError`` for a folder).
    """
    marks = check_marks(marks, "read_deepchrome marks")
    cell_type = _check_name(cell_type, "read_deepchrome cell_type")
    bin_size = check_int(bin_size, "bin_size", minimum=1)
    if window is not None:
        window = check_window(window, bin_size)
    genes, tensors, labels, splits = [], [], [], []
    files = _as_split_files(files, "read_deepchrome")
    for split, path in files:
        table, lines = binned_table(path, "read_deepchrome", ["gene", "bin"], marks, label=True)
        signal = check_values(table[marks].to_numpy(), lines, marks)
        gene_index, tensor = to_tensor(table["gene"], table["bin"], signal, lines)
        genes.append(gene_index)
        tensors.append(tensor)
        labels.append(gene_labels(table, gene_index, lines))
        splits.append(np.full(len(gene_index), split or "", dtype=object))
    check_bins(tensors, [path for _, path in files], "read_deepchrome")
    tensor, marks = reorder_marks(np.concatenate(tensors), marks)
    var = pd.DataFrame(index=np.concatenate(genes))
    if any(s != "" for part in splits for s in part):
        var["split"] = pd.Categorical(np.concatenate(splits), categories=SPLITS)
    label = np.concatenate(labels)[None, :]
    n_bins = tensor.shape[2]
    return new_anndata(
        obs_names=[cell_type],
        var=var,
        histone=tensor[None],
        marks=marks,
        bin_size=bin_size,
        window=window or centred_window(n_bins, bin_size),
        genome=genome,
        layers={"label": label},
    )


def _expression_files(expression: Mapping[str, PathLike] | PathLike) -> dict[str, Path]:
    """``{cell type: path}`` from a mapping or a folder of ``<cell type>.expr.csv[.gz]``."""
    if isinstance(expression, Mapping):
        if not expression:
            raise ValueError("expression: the mapping {cell type: path} is empty")
        return {
            _check_name(str(k), "expression cell type"): check_file(v, f"expression[{k!r}]")
            for k, v in expression.items()
        }
    if not isinstance(expression, (str, os.PathLike)):
        raise TypeError(
            "expression must be {cell type: path} or a folder of <cell type>.expr.csv[.gz] "
            f"tables, got {type(expression).__name__}"
        )
    folder = Path(expression)
    if not folder.is_dir():
        raise FileNotFoundError(f"expression: {folder} is neither a mapping nor a folder")
    files = {p.name.split(".expr.")[0]: p for p in sorted(folder.glob("*.expr.csv*"))}
    if not files:
        raise FileNotFoundError(f"expression: no <cell type>.expr.csv[.gz] files in {folder}")
    return files


def read_deepdiff(
    histone: Mapping[str, Files],
    expression: Mapping[str, PathLike] | PathLike | None = None,
    *,
    marks: Sequence[str] = DEEPDIFF_MARKS,
    bin_size: int = 100,
    window: tuple[int, int] | None = None,
    genome: str | None = None,
) -> ad.AnnData:
    """Read the DeepDiff CSV format for several cell types, with expression tables.

    Histone files have no header and one row per gene and bin:
    ``ENSG_SYMBOL_bin,<mark 1>,…,<mark n>``. Expression tables have no header:
    ``ENSG,read count``.

    Parameters
    ----------
    histone
        ``{cell type: files}``, files as in :func:`read_deepchrome` (one path, a
        list, or ``{split: path}``). All cell types must hold the same genes.
    expression
        ``{cell type: path}`` or a folder of ``<cell type>.expr.csv[.gz]`` tables.
        Cell types with expression but no histone files become obs rows whose
        histone signal is NaN (``obs['has_histone']`` is False).
    marks
        Mark columns in file order (DeepDiff's order by default); stored in
        chromtools' canonical order.
    bin_size
        Base pairs per bin.
    window
        TSS-relative window; centred on the TSS by default (±10 kb for 200 bins).
    genome
        Genome assembly, recorded in ``uns['chromtools']['genome']``.

    Returns
    -------
    AnnData with ``obsm['histone']``, ``var['gene_name']`` and, when expression
    is given: ``layers['counts']`` (raw read counts), ``X`` = log2(count + 1),
    ``obs['expression_median']`` (median of log2(count + 1) over the WHOLE table,
    the papers' threshold), ``layers['label']`` = X above that median.

    Raises
    ------
    FormatError
        As :func:`read_deepchrome` and :func:`read_expression`, and for names
        that are not ``ENSG_SYMBOL_bin``, a gene in two split files, or cell
        types with different bins per gene. Every file is checked to exist
        (``FileNotFoundError``) before any is read.
    """
    marks = check_marks(marks, "read_deepdiff marks")
    bin_size = check_int(bin_size, "bin_size", minimum=1)
    if window is not None:
        window = check_window(window, bin_size)
    if not isinstance(histone, Mapping):
        raise TypeError(f"histone must be {{cell type: files}}, got {type(histone).__name__}")
    if not histone:
        raise ValueError("histone: give at least one {cell type: files} entry")
    # Every file is found before any is read.
    histone_files = {
        _check_name(str(c), "histone cell type"): _as_split_files(files, f"histone[{c!r}]")
        for c, files in histone.items()
    }
    expression_files = _expression_files(expression) if expression is not None else {}
    per_cell: dict[str, np.ndarray] = {}
    genes: pd.Index | None = None
    split: pd.Series | None = None
    tensors, paths = [], []
    for cell_type, files in histone_files.items():
        cell_genes, tensor, cell_split = _deepdiff_cell_type(
            cell_type, files, marks, tensors, paths
        )
        if genes is None:
            genes, split = cell_genes, cell_split
        elif not cell_genes.sort_values().equals(genes.sort_values()):
            raise ValueError(
                f"histone[{cell_type!r}] holds {len(cell_genes)} genes that differ from the "
                f"{len(genes)} of the first cell type; all cell types need the same genes"
            )
        per_cell[cell_type] = tensor[cell_genes.get_indexer(genes)]

    ids = genes.str.split("_", n=1, expand=True)
    var = pd.DataFrame({"gene_name": ids.get_level_values(1)}, index=ids.get_level_values(0))
    if (split != "").any():
        var["split"] = pd.Categorical(split.reindex(genes).to_numpy(), categories=SPLITS)

    tables = {c: read_expression(p) for c, p in expression_files.items()}
    cell_types = list(per_cell) + [c for c in tables if c not in per_cell]
    n_marks, n_bins = len(marks), next(iter(per_cell.values())).shape[2]
    tensor = np.full((len(cell_types), len(var), n_marks, n_bins), np.nan, dtype=np.float32)
    for i, cell_type in enumerate(cell_types):
        if cell_type in per_cell:
            tensor[i] = per_cell[cell_type]
    tensor, ordered = reorder_marks(tensor, marks)
    obs = pd.DataFrame({"has_histone": [c in per_cell for c in cell_types]})
    adata = new_anndata(
        obs_names=cell_types,
        var=var,
        histone=tensor,
        marks=ordered,
        bin_size=bin_size,
        window=window or centred_window(n_bins, bin_size),
        genome=genome,
        obs=obs,
    )
    # Cell types without a table stay NaN.
    attach_expression(
        adata,
        {c: tables[c] for c in cell_types if c in tables},
        what="expression of {cell}",
        missing="expression of {cell}: {n_missing} genes have no count (e.g. {examples}); left NaN",
        require_match=False,
    )
    return adata


def _deepdiff_cell_type(
    cell_type: str,
    files: list[tuple[str | None, Path]],
    marks: list[str],
    tensors: list[np.ndarray],
    paths: list[Path],
) -> tuple[pd.Index, np.ndarray, pd.Series]:
    """Genes, signal (genes, marks, bins) and split of one cell type's DeepDiff files.

    Each file's tensor and path are appended to ``tensors`` and ``paths``, so the
    bins are checked against every file read so far, across cell types.
    """
    what = f"histone[{cell_type!r}]"
    parts, part_genes, part_splits, part_files = [], [], [], {}
    for split_name, path in files:
        table, lines = binned_table(path, what, ["name"], marks, label=False)
        names = table["name"].str.extract(_DEEPDIFF_NAME)
        bad = np.flatnonzero(names["bin"].isna().to_numpy())
        if len(bad):
            raise lines.error(
                f"the first column must be ENSG_SYMBOL_bin (e.g. ENSG0001_ABC_1), found "
                f"{table['name'].iloc[bad[0]]!r} on {lines.at(bad)}"
            )
        signal = check_values(table[marks].to_numpy(), lines, marks)
        gene_index, tensor = to_tensor(names["key"], names["bin"], signal, lines)
        again = gene_index.intersection(pd.Index(list(part_files)))
        if len(again):
            raise FormatError(
                f"{what}: genes {list(again[:5])} are both in {part_files[again[0]]} "
                f"and {path}; a gene belongs to one split"
            )
        part_files.update(dict.fromkeys(gene_index, path))
        parts.append(tensor)
        part_genes.append(gene_index)
        part_splits.append(pd.Series(split_name or "", index=gene_index))
        tensors.append(tensor)
        paths.append(path)
    check_bins(tensors, paths, "read_deepdiff histone")
    return pd.Index(np.concatenate(part_genes)), np.concatenate(parts), pd.concat(part_splits)
