"""The file formats chromtools reads, and the one place a format is told from a name.

As anndata keeps one registry of element readers instead of if-chains
(``anndata/_io/specs/registry.py``), each kind of content a file may hold
(a gene annotation, regions) keeps a :class:`Readers` table of one reader per
format, and :func:`detect` is the only function that looks at suffixes. A new
format is one :data:`FORMATS` entry and one registered reader.

Compression is recognised by a file's first bytes (:func:`._parse.read_bytes`),
so its suffix (``.gz`` …) is only looked past.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Format:
    """A file format: its name, the suffixes that mark it and, for text tables,
    the field separator."""

    name: str
    suffixes: tuple[str, ...]
    sep: str | None


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("gtf", (".gtf",), "\t"),
        Format("bed", (".bed",), "\t"),
        Format("tsv", (".tsv", ".txt", ".tab"), "\t"),
        Format("csv", (".csv",), ","),
        Format("fasta", (".fa", ".fasta", ".fna", ".fas"), None),
    )
}
COMPRESSION_SUFFIXES = (".gz", ".bgz", ".bz2", ".xz", ".zip")
_BY_SUFFIX = {suffix: f.name for f in FORMATS.values() for suffix in f.suffixes}


def suffix(path: str | os.PathLike) -> str:
    """The lowercased suffix that names the format (``""`` if none), past any
    compression suffix: ``genes.GTF.gz`` → ``.gtf``."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def detect(path: str | os.PathLike) -> str | None:
    """The name of the format of ``path`` (a key of :data:`FORMATS`), or ``None``."""
    return _BY_SUFFIX.get(suffix(path))


def table_sep(path: str | os.PathLike, default: str | None = "\t") -> str | None:
    """The field separator of a text table named ``path``: ``,`` for CSV, a tab for
    TSV/TXT/TAB, ``default`` for any other name."""
    found = detect(path)
    return FORMATS[found].sep if found in ("csv", "tsv") else default


def sniff_sep(first_line: bytes) -> str:
    """A tab if the first line of a table holds one, else a comma."""
    return "\t" if b"\t" in first_line else ","


Reader = Callable[[Path, Format], object]


class Readers:
    """One reader per format for one kind of content (e.g. gene annotations).

    Parameters
    ----------
    what
        The content, as error messages name it (``"genes"``).
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._readers: dict[str, Reader] = {}

    def register(self, *formats: str) -> Callable[[Reader], Reader]:
        """Decorator: ``reader(path, format)`` reads files of ``formats``."""
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"formats {unknown} are not among {list(FORMATS)}")

        def add(reader: Reader) -> Reader:
            for name in formats:
                self._readers[name] = reader
            return reader

        return add

    @property
    def formats(self) -> list[str]:
        """The names of the formats with a reader, in registration order."""
        return list(self._readers)

    def expected(self) -> str:
        """``".gtf, .bed, .tsv, .txt, .tab or .csv"`` for messages."""
        suffixes = [s for name in self._readers for s in FORMATS[name].suffixes]
        return ", ".join(suffixes[:-1]) + f" or {suffixes[-1]}"

    def read(self, path: Path, *, also: str = ""):
        """What the reader of ``path``'s format returns.

        Raises
        ------
        ValueError
            For a format without a reader, naming the suffix and the formats
            expected (``also`` adds to that list).
        """
        found = detect(path)
        if found not in self._readers:
            raise ValueError(
                f"{self.what}: unknown format {suffix(path)!r} of {path}; expected "
                f"{self.expected()}{also}, optionally compressed "
                f"({', '.join(COMPRESSION_SUFFIXES)})"
            )
        return self._readers[found](path, FORMATS[found])
