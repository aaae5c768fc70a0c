"""JASPAR motifs, read offline from the sqlite releases bundled with pyjaspar."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import numpy as np

JASPAR_RELEASE = "JASPAR2024"
# How many existing ids or names an error about an unknown motif shows.
_SHOWN = 8


def _releases() -> list[str]:
    from pyjaspar import jaspar_releases

    return list(jaspar_releases)


@functools.lru_cache(maxsize=8)
def _database(release: str):
    """The pyjaspar database of ``release``, opened once per process."""
    from pyjaspar import jaspardb

    releases = _releases()
    if release not in releases:
        # pyjaspar prints and carries on without a connection; refuse instead.
        raise ValueError(f"release={release!r} is not a JASPAR release of pyjaspar; {releases}")
    return jaspardb(release=release)


@functools.lru_cache(maxsize=8)
def _vocabulary(release: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The collections and taxonomic groups of a release, as stored in its sqlite file."""
    connection = _database(release).conn
    collections = sorted(c for (c,) in connection.execute("SELECT DISTINCT COLLECTION FROM MATRIX"))
    tax_groups = sorted(
        t
        for (t,) in connection.execute(
            "SELECT DISTINCT VAL FROM MATRIX_ANNOTATION WHERE TAG = 'tax_group'"
        )
    )
    return tuple(collections), tuple(tax_groups)


def jaspar_collection(
    release: object, collection: object, tax_group: object
) -> tuple[str, str, str]:
    """The release, collection and tax group checked, spelled as the database spells them."""
    if not isinstance(release, str):
        raise ValueError(f"release must be a JASPAR release name, one of {_releases()}")
    _database(release)
    collections, tax_groups = _vocabulary(release)
    found = []
    for name, value, known in (
        ("collection", collection, collections),
        ("tax_group", tax_group, tax_groups),
    ):
        # The sqlite columns compare without case; so do we, and keep the stored spelling.
        match = [k for k in known if isinstance(value, str) and k.lower() == value.lower()]
        if not match:
            raise ValueError(f"{name}={value!r} is not in {release}; it has {list(known)}")
        found.append(match[0])
    return release, found[0], found[1]


def _frequencies(motif) -> np.ndarray:
    """A Bio.motifs matrix's counts as read-only frequencies (length × 4; A, C, G, T)."""
    counts = np.array([motif.counts[base] for base in "ACGT"], dtype=np.float64).T
    frequencies = counts / counts.sum(axis=1, keepdims=True)
    frequencies.setflags(write=False)
    return frequencies


@functools.lru_cache(maxsize=16)
def _collection(release: str, collection: str, tax_group: str) -> tuple[tuple, ...]:
    """``(matrix_id, name, frequencies)`` of every latest-version matrix of a collection."""
    found = _database(release).fetch_motifs(collection=collection, tax_group=tax_group)
    return tuple((str(m.matrix_id), str(m.name), _frequencies(m)) for m in found)


def _select(entries: tuple[tuple, ...], motifs: Sequence[str], where: str) -> list[tuple]:
    """The entries named by matrix id (``MA0035.5``), base id (``MA0035``) or TF name."""
    if isinstance(motifs, str):
        motifs = [motifs]
    if not isinstance(motifs, Sequence) or not all(isinstance(m, str) for m in motifs):
        raise ValueError(f"motifs must be a list of JASPAR matrix ids or TF names, got {motifs!r}")
    by_key: dict[str, list[int]] = {}
    for i, (matrix_id, name, _) in enumerate(entries):
        for key in {matrix_id, matrix_id.split(".")[0], name}:
            by_key.setdefault(key.upper(), []).append(i)
    unknown = [m for m in motifs if m.upper() not in by_key]
    if unknown:
        examples = [f"{matrix_id} ({name})" for matrix_id, name, _ in entries[:_SHOWN]]
        raise ValueError(
            f"motifs {unknown} are neither matrix ids nor TF names of {where}; "
            f"it has {len(entries)} motifs, e.g. {', '.join(examples)}"
        )
    chosen = sorted({i for m in motifs for i in by_key[m.upper()]})
    return [entries[i] for i in chosen]


def read_jaspar(
    release: str = JASPAR_RELEASE,
    collection: str = "CORE",
    tax_group: str = "vertebrates",
    *,
    motifs: Sequence[str] | None = None,
) -> list[dict]:
    """Position frequency matrices of a JASPAR collection, read offline from pyjaspar.

    The latest version of each matrix, as ``pyjaspar.jaspardb(release).fetch_motifs``
    returns them; each (release, collection, tax group) is read from the sqlite
    file once per process.

    Parameters
    ----------
    release
        JASPAR release bundled with pyjaspar (``"JASPAR2014"`` … ``"JASPAR2026"``).
    collection
        JASPAR collection, ``"CORE"`` or ``"UNVALIDATED"`` (older releases have more).
    tax_group
        Taxonomic group: ``"vertebrates"``, ``"plants"``, ``"insects"``, …
    motifs
        Only these: matrix ids (``"MA0035.5"``), base ids (``"MA0035"``) or TF
        names (``"GATA1"``, every matrix of that name), without regard to case.

    Returns
    -------
    One dict per matrix, in JASPAR's order: ``matrix_id``, ``name`` (the TF)
    and ``frequencies`` (motif length × 4, A, C, G, T; rows sum to 1).

    Raises
    ------
    ValueError
        An unknown release, collection, tax group or motif, with the ones that exist.
    """
    release, collection, tax_group = jaspar_collection(release, collection, tax_group)
    entries = _collection(release, collection, tax_group)
    if motifs is not None:
        entries = _select(entries, motifs, f"{release} {collection} {tax_group}")
    return [
        {"matrix_id": matrix_id, "name": name, "frequencies": frequencies.copy()}
        for matrix_id, name, frequencies in entries
    ]


@functools.lru_cache(maxsize=64)
def _jaspar(motif: str) -> tuple[str, str, np.ndarray]:
    database = _database(JASPAR_RELEASE)
    with warnings.catch_warnings():
        # pyjaspar warns (and returns None or []) for unknown ids and names.
        warnings.simplefilter("ignore")
        if motif.upper().startswith("MA"):
            found = database.fetch_motif_by_id(motif)
        else:
            matches = database.fetch_motifs_by_name(motif)
            human = [m for m in matches if "9606" in (m.species or [])]
            # The oldest profile (lowest base id) is the classic one, e.g.
            # HNF4A MA0114 rather than the dimer MA1494.
            found = min(human or matches, key=lambda m: m.base_id, default=None)
    if found is None:
        raise ValueError(
            f"motif {motif!r} is neither a matrix id (e.g. 'MA0035.5') nor a TF name "
            f"(e.g. 'GATA1') of {JASPAR_RELEASE}"
        )
    return str(found.matrix_id), str(found.name), _frequencies(found)


def jaspar_motif(motif: str) -> dict:
    """Position frequency matrix of one JASPAR2024 motif, read offline from pyjaspar.

    Parameters
    ----------
    motif
        Matrix id (``"MA0035.5"``; ``"MA0035"`` picks the latest version) or TF
        name (``"GATA1"``): among JASPAR's matrices of that name, the human one
        with the lowest base id (the longest-standing profile).

    Returns
    -------
    Dict with ``matrix_id``, ``name`` and ``frequencies`` (motif length × 4,
    A, C, G, T; rows sum to 1).
    """
    matrix_id, name, frequencies = _jaspar(str(motif))
    return {"matrix_id": matrix_id, "name": name, "frequencies": frequencies.copy()}
