"""Importers for the CSV formats of the DeepChrome/AttentiveChrome and DeepDiff code."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._constants import GENOME_MEDIAN
from .._errors import FormatError
from .._expression import genome_median, high_low, log_counts
from .._utils import canonical_mark_order, check_int, check_marks, check_window
from ._anndata import new_anndata
from ._formats import sniff_sep, table_sep
from ._parse import (
    Lines,
    blank_rows,
    check_file,
    check_values,
    parse,
    read_bytes,
    read_lines,
    split_lines,
)

# Column orders of the two published formats (see shared/data/README.md).
DEEPCHROME_MARKS = ("H3K27me3", "H3K36me3", "H3K4me1", "H3K4me3", "H3K9me3")
DEEPDIFF_MARKS = ("H3K4me1", "H3K4me3", "H3K9me3", "H3K27me3", "H3K36me3")
SPLITS = ("train", "valid", "test")

# Value columns recognised by name (any case) in a table with a header.
VALUE_NAMES = ("count", "counts", "tpm", "fpkm", "rpkm", "value", "expression")
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


def _binned_table(
    path: Path, what: str, leading: Sequence[str], marks: Sequence[str], label: bool
) -> tuple[pd.DataFrame, Lines]:
    """Read a header-less per-bin table, checking its columns and numbers."""
    lines = read_lines(path, what, ",")
    names = [*leading, *marks, *(["label"] if label else [])]
    lines.require_fields(
        len(names),
        f"{len(leading)} id column(s), marks {list(marks)}{', label' if label else ''}",
    )
    # ids stay text: the published gene ids have leading zeros ("000003")
    table = parse(lines, names, text=leading[:1], numeric=names[1:])
    empty = blank_rows(table[leading[0]])
    if len(empty):
        raise lines.error(f"{len(empty)} rows have no {leading[0]}, on {lines.at(empty)}")
    return table, lines


def _to_tensor(
    genes: pd.Series, bins: pd.Series, signal: np.ndarray, lines: Lines
) -> tuple[pd.Index, np.ndarray]:
    """Pivot per-bin rows to (genes, marks, bins), checking every gene has bins 1..n."""
    bins = bins.to_numpy(dtype=np.float64)
    not_whole = np.flatnonzero(~np.isfinite(bins) | (bins != np.round(bins)) | (bins < 1))
    if len(not_whole):
        raise lines.error(
            f"bin ids must be whole numbers from 1, found {bins[not_whole[0]]:g} on "
            f"{lines.at(not_whole)}"
        )
    gene_index = pd.Index(pd.unique(genes))
    counts = genes.value_counts()
    n_bins = int(counts.iloc[0])
    if (counts != n_bins).any():
        uneven = counts[counts != n_bins].index[:5].tolist()
        rows = np.flatnonzero((genes == uneven[0]).to_numpy())
        raise lines.error(
            f"genes {uneven} do not have {n_bins} bins like the others ({uneven[0]!r} has "
            f"{len(rows)}, on {lines.at(rows)})"
        )
    repeated = np.flatnonzero(pd.DataFrame({"gene": genes, "bin": bins}).duplicated(keep=False))
    if len(repeated):
        gene, number = genes.iloc[repeated[0]], int(bins[repeated[0]])
        same = repeated[(genes.iloc[repeated] == gene).to_numpy() & (bins[repeated] == number)]
        raise lines.error(f"gene {gene!r} has bin {number} more than once, on {lines.at(same)}")
    beyond = np.flatnonzero(bins > n_bins)
    if len(beyond):
        raise lines.error(
            f"bin ids must run 1..{n_bins} for every gene; gene {genes.iloc[beyond[0]]!r} has "
            f"bin {int(bins[beyond[0]])} on {lines.at(beyond)}"
        )
    order = np.lexsort((bins, gene_index.get_indexer(genes)))
    tensor = signal[order].reshape(len(gene_index), n_bins, -1).transpose(0, 2, 1)
    return gene_index, np.ascontiguousarray(tensor, dtype=np.float32)


def _gene_labels(table: pd.DataFrame, gene_index: pd.Index, lines: Lines) -> np.ndarray:
    """One 0/1 label per gene, refusing genes whose rows disagree."""
    label = table["label"].to_numpy()
    bad = np.flatnonzero(~np.isin(label, (0, 1)))
    if len(bad):
        raise lines.error(f"labels must be 0 or 1, found {label[bad[0]]:g} on {lines.at(bad)}")
    per_gene = table.groupby("gene", sort=False)["label"]
    mixed = per_gene.nunique()
    mixed = mixed[mixed > 1].index
    if len(mixed):
        gene = mixed[0]
        rows = np.flatnonzero((table["gene"] == gene).to_numpy())
        first = label[rows[0]]
        other = rows[label[rows] != first]
        raise lines.error(
            f"gene {gene!r} has label {first:g} on {lines.at(rows[:1])} but {1 - first:g} on "
            f"{lines.at(other)}; a gene has one label ({len(mixed)} genes disagree)"
        )
    return per_gene.first().reindex(gene_index).to_numpy(dtype=np.float32)


def _check_bins(tensors: list[np.ndarray], paths: list[Path], what: str) -> None:
    """Refuse files whose genes have different numbers of bins."""
    n_bins = [t.shape[2] for t in tensors]
    if len(set(n_bins)) > 1:
        found = {str(p): n for p, n in zip(paths, n_bins, strict=True)}
        raise FormatError(f"{what}: every file needs the same bins per gene, found {found}")


def _centred_window(n_bins: int, bin_size: int) -> tuple[int, int]:
    half = n_bins * bin_size // 2
    return (-half, n_bins * bin_size - half)


def _reorder_marks(tensor: np.ndarray, marks: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Put marks (axis -2) in the canonical order so every format ends up identical."""
    ordered = canonical_mark_order(marks)
    index = [list(marks).index(m) for m in ordered]
    return np.ascontiguousarray(tensor[..., index, :]), ordered


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
        table, lines = _binned_table(path, "read_deepchrome", ["gene", "bin"], marks, label=True)
        signal = check_values(table[marks].to_numpy(), lines, marks)
        gene_index, tensor = _to_tensor(table["gene"], table["bin"], signal, lines)
        genes.append(gene_index)
        tensors.append(tensor)
        labels.append(_gene_labels(table, gene_index, lines))
        splits.append(np.full(len(gene_index), split or "", dtype=object))
    _check_bins(tensors, [path for _, path in files], "read_deepchrome")
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
        what = f"histone[{cell_type!r}]"
        parts, part_genes, part_splits, part_files = [], [], [], {}
        for split_name, path in files:
            table, lines = _binned_table(path, what, ["name"], marks, label=False)
            names = table["name"].str.extract(_DEEPDIFF_NAME)
            bad = np.flatnonzero(names["bin"].isna().to_numpy())
            if len(bad):
                raise lines.error(
                    f"the first column must be ENSG_SYMBOL_bin (e.g. ENSG0001_ABC_1), found "
                    f"{table['name'].iloc[bad[0]]!r} on {lines.at(bad)}"
                )
            signal = check_values(table[marks].to_numpy(), lines, marks)
            gene_index, tensor = _to_tensor(names["key"], names["bin"], signal, lines)
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
        _check_bins(tensors, paths, "read_deepdiff histone")
        cell_genes = pd.Index(np.concatenate(part_genes))
        if genes is None:
            genes, split = cell_genes, pd.concat(part_splits)
        elif not cell_genes.sort_values().equals(genes.sort_values()):
            raise ValueError(
                f"histone[{cell_type!r}] holds {len(cell_genes)} genes that differ from the "
                f"{len(genes)} of the first cell type; all cell types need the same genes"
            )
        tensor = np.concatenate(parts)
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
            medians[i] = genome_median(table.to_numpy())
        X = log_counts(counts)
        obs[GENOME_MEDIAN] = medians
        layers["counts"] = counts
        layers["label"] = high_low(X, medians[:, None])
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
