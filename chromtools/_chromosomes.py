"""Chromosome names in the two styles genomes use: UCSC ``chr1`` and Ensembl ``1``."""

from __future__ import annotations

from collections.abc import Container, Iterable


def other_style(name: str) -> str:
    """``chr1`` → ``1`` and ``1`` → ``chr1``."""
    return name[3:] if name.startswith("chr") else f"chr{name}"


def in_other_style(names: Iterable[str], known: Container[str]) -> list[str]:
    """The ``names`` that are in ``known`` only once ``chr`` is added or removed."""
    return [name for name in names if name not in known and other_style(name) in known]


def rename_code(example: str, column: str) -> str:
    """The pandas line that renames ``column`` from ``example``'s style to the other."""
    if example.startswith("chr"):
        return f"{column} = {column}.str.removeprefix('chr')"
    return f"{column} = 'chr' + {column}"
