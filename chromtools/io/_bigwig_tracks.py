"""The tracks of ``ct.io.read_bigwigs``: the (cell type, mark, path) table, each bigWig
file checked, and the genes checked against every file's chromosomes.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pybigtools

from .._chromosomes import in_other_style, rename_code
from .._errors import FormatError
from .._utils import canonical_mark_order, check_marks, user_stacklevel
from ._formats import table_sep
from ._genes import read_genes
from ._parse import check_file, describe_lines, parse, read_lines

PathLike = str | os.PathLike
TRACK_COLUMNS = ("cell_type", "mark", "path")


@dataclass
class _Track:
    cell_type: str
    mark: str
    path: Path
    chroms: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"bigWig track ({self.cell_type}, {self.mark}) {self.path}"


@dataclass
class Tracks:
    """The checked tracks of one import and the genes every bigWig holds."""

    var: pd.DataFrame
    tracks: list[_Track]
    cell_types: list[str]  # in order of first appearance
    marks: list[str]  # in chromtools' canonical order


def tracks_on_genes(
    tracks: pd.DataFrame | PathLike | Sequence[tuple[str, str, PathLike]],
    genes: pd.DataFrame | PathLike,
    missing_chromosomes: str,
) -> Tracks:
    """Read and check the tracks table, every bigWig's header and the genes against them.

    Warnings (genes left out, (cell type, mark) pairs without a file) point at
    the caller of ``read_bigwigs``.
    """
    table, what = _read_tracks(tracks)
    marks = canonical_mark_order(check_marks(pd.unique(table["mark"]), f"{what} marks"))
    var = read_genes(genes)
    checked = [_Track(row.cell_type, row.mark, row.path) for row in table.itertuples(index=False)]
    for track in checked:
        _check_track(track)
    var = _genes_on_tracks(var, checked, missing_chromosomes)
    cell_types = list(pd.unique(table["cell_type"]))
    _warn_missing_pairs(table, cell_types, marks, what)
    return Tracks(var=var, tracks=checked, cell_types=cell_types, marks=marks)


def _read_tracks(
    tracks: pd.DataFrame | PathLike | Sequence[tuple[str, str, PathLike]],
) -> tuple[pd.DataFrame, str]:
    """The tracks table with resolved paths, checked for columns, repeats and files."""
    base, line_numbers = None, None
    if isinstance(tracks, pd.DataFrame):
        what, table = "tracks DataFrame", tracks.copy()
    elif isinstance(tracks, (str, os.PathLike)):
        path = check_file(tracks, "tracks")
        what, base = str(path), path.parent
        lines = read_lines(path, "tracks", table_sep(path))
        table = parse(lines, text=TRACK_COLUMNS)
        line_numbers = lines.numbers[1:]
    elif isinstance(tracks, Iterable):
        what = "tracks list"
        rows = list(tracks)
        if any(
            not isinstance(row, Sequence) or isinstance(row, str) or len(row) != 3 for row in rows
        ):
            raise ValueError(f"{what}: every track must be a (cell_type, mark, path) tuple")
        table = pd.DataFrame([tuple(row) for row in rows], columns=list(TRACK_COLUMNS))
    else:
        raise TypeError(
            "tracks must be a DataFrame, the path of a CSV/TSV table or a list of "
            f"(cell_type, mark, path) tuples, got {type(tracks).__name__}"
        )
    # Rows of a file are a malformed file; rows of a DataFrame or list a bad argument.
    error = ValueError if line_numbers is None else FormatError
    missing = [c for c in TRACK_COLUMNS if c not in table.columns]
    if missing:
        raise error(
            f"{what}: missing columns {missing}; expected {list(TRACK_COLUMNS)} "
            f"(found {list(table.columns)})"
        )
    if not len(table):
        raise error(f"{what}: no tracks")
    table = table[list(TRACK_COLUMNS)].reset_index(drop=True)
    for column in TRACK_COLUMNS:
        table[column] = _track_field(table[column], column, what, line_numbers)
    paths = [Path(p) for p in table["path"]]
    table["path"] = [p if base is None or p.is_absolute() else base / p for p in paths]
    repeated = table[table.duplicated(["cell_type", "mark"], keep=False)]
    if len(repeated):
        pairs = sorted(set(zip(repeated["cell_type"], repeated["mark"], strict=True)))
        where = (
            "" if line_numbers is None else f" (on {describe_lines(line_numbers[repeated.index])})"
        )
        raise error(f"{what}: (cell type, mark) pairs listed more than once: {pairs}{where}")
    folders = [str(p) for p in table["path"] if p.is_dir()]
    if folders:
        raise ValueError(f"{what}: these bigWig paths are folders, not files: {folders[:5]}")
    absent = [
        f"{path} ({cell_type}, {mark})"
        for cell_type, mark, path in table.itertuples(index=False)
        if not path.is_file()
    ]
    if absent:
        raise FileNotFoundError(f"{what}: bigWig files not found: {absent}")
    return table, what


def _track_field(
    values: pd.Series, column: str, what: str, line_numbers: np.ndarray | None
) -> pd.Series:
    """A column of the tracks table as stripped text, refusing empty or missing cells."""
    missing = values.isna().to_numpy()
    text = values.where(~missing, "").astype(str).str.strip()
    empty = missing | (text == "").to_numpy()
    if empty.any():
        index = np.flatnonzero(empty)
        where = (
            f"rows {index[:5].tolist()}"
            if line_numbers is None
            else describe_lines(line_numbers[index])
        )
        raise (ValueError if line_numbers is None else FormatError)(
            f"{what}: {int(empty.sum())} tracks have no {column} (on {where}); every track "
            "needs a cell_type, a mark and a path"
        )
    return text


def _check_track(track: _Track) -> None:
    """Open a bigWig, record its chromosomes, refuse NaN or negative signal."""
    try:
        with pybigtools.open(str(track.path)) as bigwig:
            is_bigwig = bigwig.is_bigwig
            if is_bigwig:
                summary = bigwig.info()["summary"]
                track.chroms = {str(name): int(size) for name, size in bigwig.chroms().items()}
    except PermissionError:
        raise PermissionError(f"{track}: no permission to read the file") from None
    except (pybigtools.BBIReadError, OSError, ValueError, KeyError) as error:
        # pybigtools refuses a damaged or header-only file with BBIReadError and
        # a name without a bigWig suffix with ValueError.
        raise FormatError(f"{track}: not a readable bigWig file ({error})") from None
    if not is_bigwig:
        raise FormatError(f"{track}: the file is a bigBed, not a bigWig")
    # The header summary covers every value in the file, so a track of
    # log-ratios or z-scores is refused before any window is read.
    if summary["basesCovered"] and not np.isfinite(summary["sum"]):
        raise ValueError(f"{track}: the signal contains NaN or infinite values")
    if summary["basesCovered"] and summary["min"] < 0:
        raise ValueError(
            f"{track}: the signal has negative values (min {summary['min']:g}); histone "
            "signal must be non-negative coverage or read counts, not log-ratios or z-scores"
        )


def _genes_on_tracks(var: pd.DataFrame, tracks: list[_Track], policy: str) -> pd.DataFrame:
    """Check every gene's chromosome is in every bigWig; drop or refuse the others."""
    gene_chroms = pd.unique(var["chrom"])
    keep = np.ones(len(var), dtype=bool)
    for track in tracks:
        absent = [c for c in gene_chroms if c not in track.chroms]
        if not absent:
            continue
        renamed = in_other_style(absent, track.chroms)
        if renamed:
            fix = rename_code(renamed[0], "genes['chrom']")
            raise ValueError(
                f"{track}: chromosome names do not match the genes': the bigWig names them "
                f"{list(track.chroms)[:3]}, the genes {renamed[:3]}. Rename the genes' "
                f"chromosomes to the bigWig's style, e.g. genes = ct.io.read_genes(...); {fix}"
            )
        on_absent = var["chrom"].isin(absent).to_numpy()
        if policy == "error":
            raise ValueError(
                f"{track}: has no chromosome {absent[:10]}, on which {int(on_absent.sum())} "
                f"genes lie (e.g. {list(var.index[on_absent][:5])}); remove these genes or "
                "pass missing_chromosomes='drop'"
            )
        keep &= ~on_absent
    if not keep.all():
        dropped = var[~keep]
        warnings.warn(
            f"read_bigwigs: left out {len(dropped)} genes on chromosomes missing from some "
            f"bigWigs: {sorted(pd.unique(dropped['chrom']))[:10]}",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        var = var[keep]
    if not len(var):
        raise ValueError("read_bigwigs: no gene lies on a chromosome that every bigWig has")
    for track in tracks:
        lengths = var["chrom"].map(track.chroms).to_numpy()
        beyond = var["tss"].to_numpy() > lengths
        if beyond.any():
            raise ValueError(
                f"{track}: {int(beyond.sum())} genes have their TSS beyond the chromosome's "
                f"end (e.g. {list(var.index[beyond][:5])}); are the genes annotated on the "
                "same genome assembly as the bigWig?"
            )
    return var


def _warn_missing_pairs(
    table: pd.DataFrame, cell_types: list[str], marks: list[str], what: str
) -> None:
    present = set(zip(table["cell_type"], table["mark"], strict=True))
    missing = [(c, m) for c in cell_types for m in marks if (c, m) not in present]
    if missing:
        warnings.warn(
            f"{what}: no bigWig for {len(missing)} (cell type, mark) pairs {missing[:10]}; "
            "their signal is NaN in obsm['histone']",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
