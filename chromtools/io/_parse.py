"""Text tables read defensively: every malformed byte becomes a :class:`FormatError`.

All of chromtools' text readers (DeepChrome/DeepDiff CSVs, expression tables,
gene annotations, track and region tables) go through :func:`read_lines` and
:func:`parse`, so a file is refused the same way whatever its format: the
message names the file, the line and what was expected, never a pandas or
gzip traceback. Files may be compressed with gzip, bzip2, xz or zip
(recognised by their first bytes, not their name), start with a UTF-8
byte-order mark and end lines with ``\\r\\n``.
Fields are never quoted: a ``"`` is an ordinary character.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import lzma
import os
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import FormatError

FLOAT32_MAX = float(np.finfo(np.float32).max)
# Above 2**53 a float64 no longer holds every integer, so a coordinate that
# large cannot be a position; every genome is far smaller.
MAX_POSITION = 2**53

_BOM = b"\xef\xbb\xbf"
# Bytes scanned per step when counting fields, to bound temporary arrays.
_BLOCK = 1 << 26
# Strings pandas reads as a missing number: not the culprit of a failed parse.
_MISSING = {"", "NA", "N/A", "n/a", "NaN", "nan", "-NaN", "-nan", "NULL", "null", "None", "<NA>"}


def _unzip(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if len(names) != 1:
            raise ValueError(f"a zip archive of a table holds one file, this one {len(names)}")
        return archive.read(names[0])


# Compressions recognised by their first bytes, as pandas read them by suffix.
_COMPRESSIONS = {
    b"\x1f\x8b": ("gzip", gzip.decompress),
    b"BZh": ("bzip2", bz2.decompress),
    b"\xfd7zXZ\x00": ("xz", lzma.decompress),
    b"PK\x03\x04": ("zip", _unzip),
}


def check_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a ``Path`` of an existing regular file.

    Raises
    ------
    FileNotFoundError
        If nothing is at ``path``.
    ValueError
        If ``path`` is a folder.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what}: {path} is a folder; expected a file")
    if not path.is_file():
        raise FileNotFoundError(f"{what}: no such file {path}")
    return path


def read_bytes(path: Path, what: str) -> bytes:
    """The text of a file as UTF-8 bytes, decompressed, without BOM, with ``\\n`` line ends."""
    try:
        data = path.read_bytes()
    except PermissionError:
        raise PermissionError(f"{what}: no permission to read {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{what}: {path} is a folder; expected a file") from None
    except FileNotFoundError:
        raise FileNotFoundError(f"{what}: no such file {path}") from None
    except OSError as error:
        raise FormatError(f"{what}: cannot read {path} ({error})") from None
    for magic, (kind, decompress) in _COMPRESSIONS.items():
        if data.startswith(magic):
            try:
                data = decompress(data)
            except (
                EOFError,
                OSError,
                ValueError,
                zlib.error,
                lzma.LZMAError,
                zipfile.BadZipFile,
                NotImplementedError,
            ) as error:
                raise FormatError(
                    f"{what}: {path} is a damaged or truncated {kind} file ({error})"
                ) from None
            break
    data = data.removeprefix(_BOM)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if b"\x00" in data:
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise FormatError(
            f"{what}: {path} holds binary data (a NUL byte on line {line}); expected a text file"
        )
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise FormatError(
                f"{what}: {path} is not UTF-8 text (byte {data[error.start]:#04x} on line {line})"
            ) from None
    return data


@dataclass
class Lines:
    """The lines of a text file that hold data (neither blank nor comments)."""

    path: Path
    what: str
    sep: str
    data: bytes
    numbers: np.ndarray
    """1-based line number in the file of each kept line."""
    fields: np.ndarray
    """Fields (``sep``-separated) of each kept line."""

    def __len__(self) -> int:
        return len(self.numbers)

    def error(self, message: str) -> FormatError:
        """A FormatError naming the file."""
        return FormatError(f"{self.what}: {self.path}: {message}")

    def at(self, rows: np.ndarray | Sequence[int]) -> str:
        """``"line 4"`` or ``"lines 4, 9, 12 and 3 more"`` of kept-line indices ``rows``."""
        return describe_lines(self.numbers[np.asarray(rows, dtype=np.int64)])

    def require_data(self) -> None:
        """Refuse a file without data lines."""
        if not len(self):
            raise self.error("the file holds no data (it is empty or only blank or comment lines)")

    def header(self) -> list[str]:
        """The fields of the first kept line (a header, if the file has one)."""
        return self.data.split(b"\n", 1)[0].decode("utf-8").split(self.sep)

    def require_fields(self, expected: int, description: str) -> None:
        """Refuse lines whose field count is not ``expected``."""
        bad = np.flatnonzero(self.fields != expected)
        if len(bad):
            raise self.error(
                f"expected {expected} columns ({description}), found {self.fields[bad[0]]} "
                f"on {self.at(bad)}"
            )


def describe_lines(numbers: np.ndarray, limit: int = 5) -> str:
    """``"line 4"`` or ``"lines 4, 9, 12 and 3 more"``."""
    numbers = [int(n) for n in numbers]
    if len(numbers) == 1:
        return f"line {numbers[0]}"
    shown = ", ".join(str(n) for n in numbers[:limit])
    more = f" and {len(numbers) - limit} more" if len(numbers) > limit else ""
    return f"lines {shown}{more}"


def read_lines(path: Path, what: str, sep: str, *, comments: tuple[bytes, ...] = ()) -> Lines:
    """The data lines of ``path``: blank lines and lines starting with ``comments`` dropped."""
    return split_lines(read_bytes(path, what), path, what, sep, comments=comments)


def split_lines(
    data: bytes, path: Path, what: str, sep: str, *, comments: tuple[bytes, ...] = ()
) -> Lines:
    """:func:`read_lines` of the text ``data`` that :func:`read_bytes` read from ``path``."""
    if not data:
        return Lines(path, what, sep, b"", np.zeros(0, np.int64), np.zeros(0, np.int64))
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == ord("\n"))
    if not data.endswith(b"\n"):
        ends = np.append(ends, len(data))
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64)
    fields = np.ones(len(ends), dtype=np.int64)
    blank_bytes = np.zeros(len(ends), dtype=np.int64)
    separator = ord(sep)
    for first in range(0, len(buffer), _BLOCK):
        block = buffer[first : first + _BLOCK]
        fields += _per_line(np.flatnonzero(block == separator) + first, ends)
        blank_bytes += _per_line(
            np.flatnonzero((block == ord(" ")) | (block == ord("\t"))) + first, ends
        )
    keep = blank_bytes < ends - starts
    for prefix in comments:
        keep &= ~_starts_with(buffer, starts, ends, prefix)
    if not keep.all():
        # Join the runs of kept lines (with their newlines): no per-byte mask,
        # as a GTF's few header lines would otherwise cost a copy of the file.
        edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
        data = b"".join(
            data[starts[first] : ends[last - 1] + 1]
            for first, last in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)
        )
    return Lines(
        path=path,
        what=what,
        sep=sep,
        data=data,
        numbers=np.flatnonzero(keep) + 1,
        fields=fields[keep],
    )


def _per_line(positions: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """How many of ``positions`` fall in each line (lines end at ``ends``)."""
    return np.bincount(np.searchsorted(ends, positions), minlength=len(ends))[: len(ends)]


def _starts_with(buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray, prefix: bytes):
    match = ends - starts >= len(prefix)
    for i, byte in enumerate(prefix):
        match &= buffer[np.minimum(starts + i, len(buffer) - 1)] == byte
    return match


def parse(
    lines: Lines,
    names: Sequence[str] | None = None,
    *,
    text: Sequence[str] = (),
    numeric: Sequence[str] = (),
) -> pd.DataFrame:
    """The kept lines as a DataFrame, ``text`` columns as str and ``numeric`` as float64.

    With ``names=None`` the first kept line is the header, and every other line
    must have as many fields. A field of ``numeric`` that is not a number is
    refused naming its line and column; an empty field is NaN.
    """
    lines.require_data()
    if names is None:
        header = lines.header()
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            raise lines.error(f"the header on {lines.at([0])} names {repeated} more than once")
        if len(lines) < 2:
            raise lines.error(f"no rows below the header {header}")
        lines.require_fields(len(header), f"one per header name {header}")
        columns = header
    else:
        columns = list(names)
    dtype = {c: str for c in text if c in columns}
    dtype.update({c: np.float64 for c in numeric if c in columns})
    try:
        table = _read_csv(lines, names, dtype)
    except ValueError as error:
        raise _numeric_culprit(lines, names, numeric) or lines.error(
            f"cannot be read as a table ({error})"
        ) from None
    rows = len(lines) - (names is None)
    if len(table) != rows:
        raise lines.error(f"{rows} lines of data gave {len(table)} table rows")
    return table


def _read_csv(lines: Lines, names: Sequence[str] | None, dtype: dict) -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(lines.data),
        sep=lines.sep,
        header=0 if names is None else None,
        names=None if names is None else list(names),
        dtype=dtype,
        quoting=csv.QUOTE_NONE,
        index_col=False,
        skip_blank_lines=False,
        encoding="utf-8",
        engine="c",
        low_memory=False,
    )


def _numeric_culprit(
    lines: Lines, names: Sequence[str] | None, numeric: Sequence[str]
) -> FormatError | None:
    """The first field of a ``numeric`` column that is not a number, as an error."""
    try:
        table = _read_csv(lines, names, dtype=str)
    except ValueError:
        return None
    offset = names is None
    for column in [c for c in numeric if c in table.columns]:
        raw = table[column]
        values = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy() & ~raw.fillna("").str.strip().isin(_MISSING))
        if len(bad):
            return lines.error(
                f"column {column!r} must hold numbers, found {raw.iloc[bad[0]]!r} on "
                f"{lines.at(bad + offset)}"
            )
    return None


def booleans(values: pd.Series) -> np.ndarray:
    """Where ``values`` are True/False, which pandas would otherwise read as 1 and 0."""
    if pd.api.types.is_bool_dtype(values.dtype):
        return np.ones(len(values), dtype=bool)
    if values.dtype == object:
        return values.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    return np.zeros(len(values), dtype=bool)


def blank_rows(values: pd.Series) -> np.ndarray:
    """Rows whose text is missing or only whitespace (checked once per distinct value)."""
    blank = [v for v in pd.unique(values) if not isinstance(v, str) or not v.strip()]
    return np.flatnonzero(values.isin(blank).to_numpy()) if blank else np.zeros(0, np.int64)


def check_values(
    values: np.ndarray,
    lines: Lines,
    columns: Sequence[str],
    *,
    offset: int = 0,
    non_negative: bool = True,
) -> np.ndarray:
    """``values`` (rows × ``columns``) as float32, refusing NaN, infinite, negative
    values and values too large for float32, naming the first line and column."""
    values = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
    checks = [
        (~np.isfinite(values), "are NaN or infinite"),
        (np.isfinite(values) & (np.abs(values) > FLOAT32_MAX), "are too large for float32"),
    ]
    if non_negative:
        checks.append((values < 0, "are negative"))
    for bad, problem in checks:
        if bad.any():
            rows, cols = np.nonzero(bad)
            extreme = f" (min {values[bad].min():g})" if problem == "are negative" else ""
            raise lines.error(
                f"{int(bad.sum())} values {problem}{extreme}, first "
                f"{values[rows[0], cols[0]]:g} in column {columns[cols[0]]!r} on "
                f"{lines.at(np.unique(rows) + offset)}"
            )
    return values.astype(np.float32)
