"""Per-bin CSV tables, one row per gene and bin, as (genes, marks, bins) tensors.

The layout of the DeepChrome/AttentiveChrome and DeepDiff files
(``ct.io.read_deepchrome``, ``ct.io.read_deepdiff``): every gene must have
bins 1..n once each, and the marks end up in chromtools' canonical order.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import FormatError
from .._utils import canonical_mark_order
from ._parse import Lines, blank_rows, parse, read_lines


def binned_table(
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


def to_tensor(
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


def gene_labels(table: pd.DataFrame, gene_index: pd.Index, lines: Lines) -> np.ndarray:
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


def check_bins(tensors: list[np.ndarray], paths: list[Path], what: str) -> None:
    """Refuse files whose genes have different numbers of bins."""
    n_bins = [t.shape[2] for t in tensors]
    if len(set(n_bins)) > 1:
        found = {str(p): n for p, n in zip(paths, n_bins, strict=True)}
        raise FormatError(f"{what}: every file needs the same bins per gene, found {found}")


def centred_window(n_bins: int, bin_size: int) -> tuple[int, int]:
    half = n_bins * bin_size // 2
    return (-half, n_bins * bin_size - half)


def reorder_marks(tensor: np.ndarray, marks: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Put marks (axis -2) in the canonical order so every format ends up identical."""
    ordered = canonical_mark_order(marks)
    index = [list(marks).index(m) for m in ordered]
    return np.ascontiguousarray(tensor[..., index, :]), ordered
