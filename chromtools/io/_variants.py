"""Variants as a table: a DataFrame or a VCF file, read defensively and checked.

:func:`variant_table` turns what a user passes to
:func:`~chromtools.tl.variant_effects` into one table with a ``variant`` name,
the place (``region`` and ``position``, or ``chrom`` and ``pos``), ``ref`` and
``alt``, upper-case. A VCF is read by :func:`read_vcf`, a small parser of the
first five columns (no VCF library is a dependency): its ``POS`` is 1-based,
and a record with several ALT alleles becomes one variant per allele. Every
mistake is refused before any work, naming the variant, line or column.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._errors import FormatError
from ._parse import check_file, read_bytes

PLACES = (("region", "position"), ("chrom", "pos"))
_BASES = frozenset("ACGT")


def variant_table(variants: object) -> pd.DataFrame:
    """``variants`` (a DataFrame or a VCF path) as a checked table of variants.

    Returns
    -------
    DataFrame with ``variant`` (the ``id`` column, else made of the place and
    alleles: ``"chr1:1234:A>G"``), the place columns as given (``region`` as str
    with ``position`` int64, or ``chrom`` as str with ``pos`` int64) and
    upper-case ``ref`` and ``alt``.
    """
    if isinstance(variants, str | os.PathLike):
        return variant_table(read_vcf(variants))
    if not isinstance(variants, pd.DataFrame):
        raise ValueError(
            "variants must be a DataFrame (columns region and position, or chrom and pos; "
            f"ref, alt; optionally id) or a VCF path, got {type(variants).__name__}"
        )
    if not len(variants):
        raise ValueError("variants is empty; pass at least one variant")
    place = next((p for p in PLACES if set(p) <= set(variants.columns)), None)
    missing = [c for c in ("ref", "alt") if c not in variants.columns]
    if place is None or missing:
        raise ValueError(
            "variants needs the columns region and position (0-based in the region) or chrom "
            f"and pos (1-based, as in a VCF), and ref and alt; it has {list(variants.columns)}"
        )
    table = pd.DataFrame(
        {place[0]: variants[place[0]].astype(str).to_numpy()}, index=np.arange(len(variants))
    )
    table[place[1]] = _whole_numbers(variants[place[1]], place[1])
    for allele in ("ref", "alt"):
        table[allele] = variants[allele].astype(str).str.strip().str.upper().to_numpy()
    names = (
        variants["id"].astype(str).to_numpy()
        if "id" in variants.columns
        else table[place[0]] + ":" + table[place[1]].astype(str) + ":" + table["ref"] + ">"
        + table["alt"]
    )  # fmt: skip
    table.insert(0, "variant", names)
    _check_alleles(table)
    repeated = table["variant"][table["variant"].duplicated()].unique().tolist()
    if repeated:
        raise ValueError(f"variants repeat the names {repeated[:5]}; each variant needs its own id")
    return table


def _whole_numbers(values: pd.Series, column: str) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"variants[{column!r}] must hold whole numbers, got {values.iloc[first]!r} "
            f"in row {first}"
        )
    return numbers.astype(np.int64)


def _check_alleles(table: pd.DataFrame) -> None:
    """Refuse alleles that are not A, C, G, T strings, and variants that change nothing."""
    for allele in ("ref", "alt"):
        for name, value in zip(table["variant"], table[allele], strict=True):
            if not value or not set(value) <= _BASES:
                raise ValueError(
                    f"variant {name!r}: {allele} {value!r} is not a sequence of A, C, G, T "
                    "(symbolic, missing and N alleles cannot be scored)"
                )
    same = table["variant"][table["ref"] == table["alt"]].tolist()
    if same:
        raise ValueError(f"variants {same[:5]} have alt equal to ref: nothing changes")


def read_vcf(path: str | os.PathLike) -> pd.DataFrame:
    """The variants of a VCF file (plain or gzipped) as a table.

    Only the first five columns are read (``CHROM POS ID REF ALT``); header
    lines (``#``) are skipped. ``ID`` ``.`` becomes a name made of the place
    and alleles; a record with several ALT alleles (``A,T``) gives one variant
    per allele, named ``ID_ALT`` when it has an ID.

    Parameters
    ----------
    path
        VCF file.

    Returns
    -------
    DataFrame with ``id``, ``chrom``, ``pos`` (1-based, as in the file), ``ref``, ``alt``.
    """
    path = check_file(path, "variants")
    text = read_bytes(Path(path), "variants").decode("utf-8")
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 5:
            raise FormatError(
                f"variants: {path}: line {number} has {len(fields)} tab-separated fields; a VCF "
                "record has at least CHROM, POS, ID, REF, ALT"
            )
        chrom, pos, name, ref, alts = (f.strip() for f in fields[:5])
        if not pos.isdigit() or int(pos) < 1:
            raise FormatError(
                f"variants: {path}: line {number}: POS {pos!r} is not a 1-based position"
            )
        for alt in alts.split(","):
            made = f"{chrom}:{pos}:{ref.upper()}>{alt.upper()}"
            own = made if name in ("", ".") else name if "," not in alts else f"{name}_{alt}"
            rows.append((own, chrom, int(pos), ref, alt))
    if not rows:
        raise FormatError(f"variants: {path} holds no variant records")
    return pd.DataFrame(rows, columns=["id", "chrom", "pos", "ref", "alt"])
