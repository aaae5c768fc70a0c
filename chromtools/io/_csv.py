"""Importers for the CSV formats of the DeepChrome/AttentiveChrome and DeepDiff code."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._utils import canonical_mark_order, check_marks, check_signal
from ._anndata import new_anndata

# Column orders of the two published formats (see shared/data/README.md).
DEEPCHROME_MARKS = ("H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3", "H3K9me3")
DEEPDIFF_MARKS = ("H3K4me1", "H3K4me3", "H3K9me3", "H3K27me3", "H3K36me3")
SPLITS = ("train", "valid", "test")

PathLike = str | os.PathLike
Files = PathLike | Sequence[PathLike] | Mapping[str, PathLike]


def _as_split_files(files: Files, what: str) -> list[tuple[str | None, Path]]:
    """Normalise one path, a list of paths or ``{split: path}`` to (split, path) pairs."""
    if isinstance(files, Mapping):
        unknown = [s for s in files if s not in SPLITS]
        if unknown:
            raise ValueError(f"{what}: split names {unknown} are not among {SPLITS}")
        pairs = [(split, Path(p)) for split, p in files.items()]
    elif isinstance(files, (str, os.PathLike)):
        pairs = [(None, Path(files))]
    else:
        pairs = [(None, Path(p)) for p in files]
    for _, path in pairs:
        if not path.is_file():
            raise FileNotFoundError(f"{what}: no such file {path}")
    return pairs


def _binned_table(
    path: Path, marks: Sequence[str], n_leading: int, n_trailing: int
) -> pd.DataFrame:
    """Read a header-less per-bin table and check its column count."""
    # ids stay text: the published gene ids have leading zeros ("000003")
    table = pd.read_csv(path, header=None, dtype={0: str})
    expected = n_leading + len(marks) + n_trailing
    if table.shape[1] != expected:
        raise ValueError(
            f"{path}: expected {expected} columns ({n_leading} id column(s), marks "
            f"{list(marks)}{', label' if n_trailing else ''}), found {table.shape[1]}"
        )
    return table


def _to_tensor(
    genes: pd.Series, bins: pd.Series, signal: np.ndarray, path: Path
) -> tuple[pd.Index, np.ndarray]:
    """Pivot per-bin rows to (genes, marks, bins), checking every gene has every bin."""
    gene_index = pd.Index(pd.unique(genes))
    counts = genes.value_counts()
    n_bins = int(counts.iloc[0])
    if (counts != n_bins).any():
        uneven = counts[counts != n_bins].index[:5].tolist()
        raise ValueError(f"{path}: genes {uneven} do not have {n_bins} bins like the others")
    order = np.lexsort((bins.to_numpy(), gene_index.get_indexer(genes)))
    expected_bins = np.tile(np.arange(1, n_bins + 1), len(gene_index))
    if not np.array_equal(bins.to_numpy()[order], expected_bins):
        raise ValueError(f"{path}: bin ids must run 1..{n_bins} for every gene")
    tensor = signal[order].reshape(len(gene_index), n_bins, -1).transpose(0, 2, 1)
    return gene_index, np.ascontiguousarray(tensor, dtype=np.float32)


def _centred_window(n_bins: int, bin_size: int) -> tuple[int, int]:
    half = n_bins * bin_size // 2
    return (-half, n_bins * bin_size - half)


def _reorder_marks(tensor: np.ndarray, marks: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Put marks (axis -2) in the canonical order so every format ends up identical."""
    ordered = canonical_mark_order(marks)
    index = [list(marks).index(m) for m in ordered]
    return np.ascontiguousarray(tensor[..., index, :]), ordered


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
    """
    marks = check_marks(marks, "read_deepchrome marks")
    genes, tensors, labels, splits = [], [], [], []
    for split, path in _as_split_files(files, "read_deepchrome"):
        table = _binned_table(path, marks, n_leading=2, n_trailing=1)
        table[0] = table[0].astype(str)
        signal = table.iloc[:, 2 : 2 + len(marks)].to_numpy(dtype=np.float64)
        check_signal(signal, str(path))
        gene_index, tensor = _to_tensor(table[0], table[1], signal, path)
        label = table.groupby(0, sort=False)[table.columns[-1]].first().reindex(gene_index)
        if not np.isin(label.to_numpy(), (0, 1)).all():
            raise ValueError(f"{path}: labels must be 0 or 1")
        genes.append(gene_index)
        tensors.append(tensor)
        labels.append(label.to_numpy(dtype=np.float32))
        splits.append(np.full(len(gene_index), split or "", dtype=object))
    tensor, marks = _reorder_marks(np.concatenate(tensors), marks)
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
        window=window or _centred_window(n_bins, bin_size),
        genome=genome,
        layers={"label": label},
    )


def read_expression(path: PathLike) -> pd.Series:
    """Read a header-less ``gene_id,count`` table (the Roadmap RNA-seq format).

    Parameters
    ----------
    path
        CSV (optionally gzipped) with a gene id and a raw read count per row.

    Returns
    -------
    Read counts as a float Series indexed by gene id.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"expression table: no such file {path}")
    table = pd.read_csv(path, header=None)
    if table.shape[1] != 2:
        raise ValueError(
            f"{path}: expected 2 columns (gene id, read count), found {table.shape[1]}"
        )
    counts = pd.Series(table[1].to_numpy(dtype=np.float64), index=table[0].astype(str))
    if counts.index.duplicated().any():
        raise ValueError(
            f"{path}: gene ids {list(counts.index[counts.index.duplicated()][:5])} repeat"
        )
    if (counts < 0).any() or counts.isna().any():
        raise ValueError(f"{path}: read counts must be non-negative numbers")
    return counts


def _expression_files(expression: Mapping[str, PathLike] | PathLike) -> dict[str, Path]:
    """``{cell type: path}`` from a mapping or a folder of ``<cell type>.expr.csv[.gz]``."""
    if isinstance(expression, Mapping):
        return {str(k): Path(v) for k, v in expression.items()}
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
    """
    marks = check_marks(marks, "read_deepdiff marks")
    if not histone:
        raise ValueError("histone: give at least one {cell type: files} entry")
    per_cell: dict[str, np.ndarray] = {}
    genes: pd.Index | None = None
    split: pd.Series | None = None
    for cell_type, files in histone.items():
        parts, part_genes, part_splits = [], [], []
        for split_name, path in _as_split_files(files, f"histone[{cell_type!r}]"):
            table = _binned_table(path, marks, n_leading=1, n_trailing=0)
            names = table[0].astype(str).str.rsplit("_", n=1, expand=True)
            if names.shape[1] != 2 or not names[1].str.isdigit().all():
                raise ValueError(
                    f"{path}: first column must be ENSG_SYMBOL_bin, e.g. ENSG0001_ABC_1"
                )
            signal = table.iloc[:, 1:].to_numpy(dtype=np.float64)
            check_signal(signal, str(path))
            gene_index, tensor = _to_tensor(names[0], names[1].astype(int), signal, path)
            parts.append(tensor)
            part_genes.append(gene_index)
            part_splits.append(pd.Series(split_name or "", index=gene_index))
        cell_genes = pd.Index(np.concatenate(part_genes))
        if genes is None:
            genes, split = cell_genes, pd.concat(part_splits)
        elif not cell_genes.sort_values().equals(genes.sort_values()):
            raise ValueError(
                f"histone[{cell_type!r}] holds {len(cell_genes)} genes that differ from the "
                f"{len(genes)} of the first cell type; all cell types need the same genes"
            )
        tensor = np.concatenate(parts)
        per_cell[str(cell_type)] = tensor[cell_genes.get_indexer(genes)]

    ids = genes.str.split("_", n=1, expand=True)
    var = pd.DataFrame({"gene_name": ids.get_level_values(1)}, index=ids.get_level_values(0))
    if (split != "").any():
        var["split"] = pd.Categorical(split.reindex(genes).to_numpy(), categories=SPLITS)

    tables = (
        {c: read_expression(p) for c, p in _expression_files(expression).items()}
        if (expression is not None)
        else {}
    )
    cell_types = list(per_cell) + [c for c in tables if c not in per_cell]
    n_marks, n_bins = len(marks), next(iter(per_cell.values())).shape[2]
    tensor = np.full((len(cell_types), len(var), n_marks, n_bins), np.nan, dtype=np.float32)
    for i, cell_type in enumerate(cell_types):
        if cell_type in per_cell:
            tensor[i] = per_cell[cell_type]
    tensor, ordered = _reorder_marks(tensor, marks)

    obs = pd.DataFrame({"has_histone": [c in per_cell for c in cell_types]})
    layers = {}
    X = None
    if tables:
        counts = np.full((len(cell_types), len(var)), np.nan, dtype=np.float32)
        medians = np.full(len(cell_types), np.nan)
        for i, cell_type in enumerate(cell_types):
            if cell_type not in tables:
                continue
            table = tables[cell_type]
            missing = var.index.difference(table.index)
            if len(missing):
                warnings.warn(
                    f"expression of {cell_type}: {len(missing)} genes have no count "
                    f"(e.g. {list(missing[:3])}); left NaN",
                    stacklevel=2,
                )
            counts[i] = table.reindex(var.index).to_numpy(dtype=np.float32)
            medians[i] = np.median(np.log2(table.to_numpy() + 1.0))
        X = np.log2(counts + 1.0)
        obs["expression_median"] = medians
        layers["counts"] = counts
        layers["label"] = np.where(np.isnan(X), np.nan, X > medians[:, None]).astype(np.float32)
    return new_anndata(
        obs_names=cell_types,
        var=var,
        histone=tensor,
        marks=ordered,
        bin_size=bin_size,
        window=window or _centred_window(n_bins, bin_size),
        genome=genome,
        X=X,
        layers=layers,
        obs=obs,
    )
