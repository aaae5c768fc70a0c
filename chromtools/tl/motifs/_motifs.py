"""Transcription-factor binding sites: JASPAR scanning (FIMO) and ChromTransfer's enrichment test.

:func:`scan` is the core, a function of a one-hot array and a list of motifs;
:func:`scan_motifs` runs it over ``varm['onehot']`` and stores the site table.
:func:`motif_enrichment` asks which TFs' sites carry a model's attributions:
each site is scored by the attribution over its bases, and per motif a
Kolmogorov–Smirnov test compares its sites with the other motifs' sites
(Salvatore et al. 2022).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from anndata import AnnData

from ... import get
from ..._results import (
    RESULTS,
    check_writable,
    find_result,
    materialised,
    record_params,
    storage_name,
)
from ..._settings import logger
from ..._utils import check_int, check_number, progress
from ...get import attributed_cell_type
from ...get._lazy import concrete
from ...get._motifs import flat_positions, overlapping
from ...io._motifs import JASPAR_RELEASE, jaspar_collection, read_jaspar
from ._families import FAMILY_SIMILARITY, motif_families

# Where scan_motifs puts its sites by default, and motif_enrichment and ct.pl read them.
SITES = RESULTS["motif_sites"].default()
SITE_COLUMNS = ("region", "motif_id", "tf_name", "start", "end", "strand", "score", "pvalue")
SCORES = ("max", "min", "mean")
# Motifs per FIMO call: memelite's cost beyond the scan is a p-value table per
# motif plus a pass over the sequences per call, so a batch of 100 motifs keeps
# the second small and gives a progress bar 9 steps for JASPAR's 879.
MOTIFS_PER_CALL = 100
# Bases per FIMO call, so that memelite's per-position codes stay within memory.
_BASES_PER_CALL = 50_000_000
_PSEUDOCOUNT = 1e-4  # memelite's default eps
# Scores are sums of float64 log-odds; one computed in another order may differ by this.
_SCORE_TOLERANCE = 1e-9
# Regions read at a time to find the attributed ones: 4,096 × 600 bp × 4 float32 is 39 MB.
_REGIONS_PER_READ = 4096


# ---------------------------------------------------------------- scanning core


def _check_onehot(onehot: object, what: str) -> None:
    """Refuse anything but a (sequences, length, 4) array of 0 and 1."""
    shape = getattr(onehot, "shape", None)
    if shape is None or len(shape) != 3 or shape[2] != 4 or shape[1] < 1:
        raise ValueError(
            f"{what} must be one-hot DNA of shape (sequences, length, 4) with channels "
            f"A, C, G, T, got shape {shape}"
        )
    dtype = np.dtype(getattr(onehot, "dtype", object))
    if dtype.kind not in "biuf":
        raise ValueError(f"{what} must hold 0 and 1 (bool, integer or float), got dtype {dtype}")


def _as_bool(onehot: np.ndarray, what: str) -> np.ndarray:
    """``onehot`` as booleans, refused unless every position has at most one 1 and 0 elsewhere."""
    if onehot.dtype.kind == "u":
        binary = onehot.max(initial=0) <= 1
    else:
        binary = bool(((onehot == 0) | (onehot == 1)).all())
    if not binary or not (onehot.sum(axis=2, dtype=np.uint8) <= 1).all():
        raise ValueError(
            f"{what} is not one-hot: every position needs one 1 (or none, for N) among "
            "its 4 channels and 0 elsewhere"
        )
    # memelite reads booleans fastest (uint8 of 0 and 1 has the same bytes).
    return onehot.view(bool) if onehot.dtype.itemsize == 1 else onehot.astype(bool)


def _check_motifs(motifs: object) -> list[np.ndarray]:
    """Each motif's frequencies as (4, length), the layout memelite reads."""
    if not isinstance(motifs, Sequence) or isinstance(motifs, str) or not motifs:
        raise ValueError(
            "motifs must be a non-empty list of dicts with 'matrix_id', 'name' and "
            f"'frequencies' (ct.io.read_jaspar), got {type(motifs).__name__}"
        )
    pwms = []
    for i, motif in enumerate(motifs):
        if not isinstance(motif, dict) or not {"matrix_id", "name", "frequencies"} <= set(motif):
            raise ValueError(
                f"motifs[{i}] must be a dict with 'matrix_id', 'name' and 'frequencies', "
                f"got {motif!r:.80}"
            )
        frequencies = np.asarray(motif["frequencies"], dtype=np.float64)
        if frequencies.ndim != 2 or frequencies.shape[1] != 4 or len(frequencies) == 0:
            raise ValueError(
                f"motifs[{i}] ({motif['matrix_id']}): frequencies must be (length, 4), "
                f"got shape {frequencies.shape}"
            )
        pwms.append(np.ascontiguousarray(frequencies.T))
    # The values of every motif at once: one check instead of 879 small ones.
    columns = np.concatenate(pwms, axis=1)
    bad = ~np.isfinite(columns).all(axis=0) | (columns < 0).any(axis=0)
    bad |= np.abs(columns.sum(axis=0) - 1) > 1e-3
    if bad.any():
        i = int(np.searchsorted(np.cumsum([p.shape[1] for p in pwms]), np.argmax(bad), "right"))
        raise ValueError(
            f"motifs[{i}] ({motifs[i]['matrix_id']}): frequencies must be non-negative with "
            "rows summing to 1"
        )
    ids = [str(m["matrix_id"]) for m in motifs]
    repeated = sorted({m for m in ids if ids.count(m) > 1})
    if repeated:
        raise ValueError(f"motifs repeat the matrix ids {repeated}")
    return pwms


def _no_hits() -> list[np.ndarray]:
    return [np.empty(0, dtype) for dtype in (np.int64,) * 4 + (bool, np.float64, np.float64)]


def _log_odds(pwm: np.ndarray) -> np.ndarray:
    """(length, 4) log2 odds of a (4, length) frequency matrix, exactly as memelite scores."""
    return (np.log2(pwm + _PSEUDOCOUNT) - np.log2(0.25)).T


def tail_pvalue(log_odds: np.ndarray, score: float, limit: int = 1_000_000) -> float | None:
    """Exact chance that a uniformly random sequence scores ``score`` or more.

    Every sequence that can still reach ``score`` is followed base by base, so
    the cost grows with the number of such sequences: cheap for the top of the
    distribution, where memelite's binned table has nothing.

    Parameters
    ----------
    log_odds
        (length, 4) score of each base at each position.
    score
        The window score.
    limit
        Give up (return ``None``) when more partial sequences than this remain.

    Returns
    -------
    The p-value, or ``None`` past ``limit``.
    """
    best_rest = np.append(np.cumsum(log_odds.max(axis=1)[::-1])[::-1], 0.0)
    partial = np.zeros(1)
    for i, row in enumerate(log_odds):
        partial = (partial[:, None] + row[None, :]).ravel()
        partial = partial[partial + best_rest[i + 1] >= score - _SCORE_TOLERANCE]
        if len(partial) > limit:
            return None
    return len(partial) / 4.0 ** len(log_odds)


def _fimo_hits(
    sequences: np.ndarray,
    pwms: list[np.ndarray],
    motifs: np.ndarray,
    pvalue: float,
    unknown: np.ndarray,
) -> list[np.ndarray]:
    """memelite FIMO on both strands: ``[sequence, motif, start, end, minus, score, pvalue]``.

    ``unknown`` (:func:`unknown_bases` of ``sequences``): windows holding one
    of these bases are dropped, whatever their score.
    """
    from memelite import fimo

    # memelite takes frequencies and adds its own pseudocount before the log2.
    hits = fimo(
        {str(i): pwms[m] for i, m in enumerate(motifs)},
        sequences,
        threshold=pvalue,
        reverse_complement=True,
    )
    hits = [h for h in hits if len(h)]
    if not hits:
        return _no_hits()
    # One concat, then whole columns: 5× faster than a column of each motif's table.
    hits = pd.concat(hits, ignore_index=True)
    columns = ("sequence_name", "motif_idx", "start", "end", "strand", "score", "p-value")
    sequence, motif, start, end, strand, score, p = (hits[c].to_numpy() for c in columns)
    sequence, start, end = (c.astype(np.int64) for c in (sequence, start, end))
    # memelite scores an unknown base 0, so a window of N scores as well as a
    # good match to a long motif: such windows are never sites.
    known = ~_hold_unknown(unknown, sequences.shape[2], sequence, start, end)
    sequence, motif, start, end, strand, score, p = (
        c[known] for c in (sequence, motif, start, end, strand, score, p)
    )
    motif = motifs[motif.astype(np.int64)]
    score = score.astype(np.float64)
    p = _exact_zeros(pwms, motif, score, p.astype(np.float64))
    keep = p < pvalue
    return [column[keep] for column in (sequence, motif, start, end, strand == "-", score, p)]


# ---------------------------------------------------------------- unknown bases


def unknown_bases(onehot: np.ndarray) -> np.ndarray:
    """Where ``onehot`` holds no base: its all-zero positions, flat and sorted.

    N, every other letter that is not A, C, G or T, and the padding of a
    window beyond a chromosome end (:func:`~chromtools.io.read_regions`) are
    all-zero positions; no binding site may cover one.

    Parameters
    ----------
    onehot
        (sequences, length, 4) booleans (as :func:`_as_bool` returns them).

    Returns
    -------
    int64 positions ``sequence * length + position``, ascending.
    """
    return np.flatnonzero(~onehot.any(axis=2))


def _hold_unknown(
    unknown: np.ndarray, length: int, sequence: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Which windows ``[start, end)`` of ``sequence`` cover a position of ``unknown``."""
    if not len(unknown):
        return np.zeros(len(sequence), dtype=bool)
    first = sequence * length
    return np.searchsorted(unknown, first + start) < np.searchsorted(unknown, first + end)


def windows_with_unknown(unknown: np.ndarray, length: int, widths: Sequence[int]) -> int:
    """How many windows of motifs of ``widths`` cover a position of ``unknown``.

    A window is one motif at one start in one sequence (its two strands are one
    window). Per sequence with an unknown base, the windows of width ``w`` that
    cover none are those inside its runs of known bases, ``max(run - w + 1, 0)``
    per run; every other window is counted.

    Parameters
    ----------
    unknown
        :func:`unknown_bases` of (sequences, ``length``, 4) DNA.
    length
        Bases per sequence.
    widths
        One length per motif scanned.

    Returns
    -------
    The number of windows, summed over the motifs.
    """
    if not len(unknown):
        return 0
    sequence, position = np.divmod(unknown, length)
    first = np.r_[True, sequence[1:] != sequence[:-1]]  # first unknown base of its sequence
    last = np.r_[first[1:], True]
    # Known runs: before a sequence's first unknown base, between two, after its last.
    between = np.diff(position)[~first[1:]] - 1
    runs = np.concatenate([position[first], between, length - 1 - position[last]])
    n_sequences = int(first.sum())
    widths, motifs = np.unique(np.asarray(widths, dtype=np.int64), return_counts=True)
    total = 0
    for width, count in zip(widths, motifs, strict=True):
        if width > length:
            continue
        clear = int(np.maximum(runs - width + 1, 0).sum())
        total += int(count) * (n_sequences * int(length - width + 1) - clear)
    return total


def _exact_zeros(
    pwms: list[np.ndarray], motif: np.ndarray, score: np.ndarray, p: np.ndarray
) -> np.ndarray:
    """memelite's p-values with its zeros replaced by exact ones.

    memelite's table ends at the largest sum of rounded column scores, so a
    window scoring above it (a motif's consensus, often) reads p = 0, and
    passes any threshold even when no window of the motif can reach it.
    """
    zero = np.flatnonzero(p == 0)
    if not len(zero):
        return p
    p = p.copy()
    pairs, inverse = np.unique(np.stack([motif[zero], score[zero]]), axis=1, return_inverse=True)
    exact = np.array([_tail_or_best(_log_odds(pwms[int(m)]), s) for m, s in pairs.T])
    p[zero] = exact[inverse.ravel()]
    return p


def _tail_or_best(log_odds: np.ndarray, score: float) -> float:
    """``tail_pvalue``, or where too many sequences score that high, the consensus' p-value
    (a lower bound, so the site is kept)."""
    exact = tail_pvalue(log_odds, score)
    return _best_pvalue(log_odds) if exact is None else exact


def _best_pvalue(log_odds: np.ndarray) -> float:
    """The p-value of a motif's consensus score.

    Every sequence with a top base at each position reaches it: the product
    of each column's share of tied top bases (``tail_pvalue`` at the largest
    score, column by column).
    """
    top = log_odds >= log_odds.max(axis=1, keepdims=True) - _SCORE_TOLERANCE
    return float(np.prod(top.sum(axis=1) / 4))


def _reachable(pwms: list[np.ndarray], pvalue: float) -> np.ndarray:
    """The motifs whose best window (the consensus) has a p-value below ``pvalue``."""
    best = np.array([_best_pvalue(_log_odds(pwm)) for pwm in pwms])
    return np.flatnonzero(best < pvalue)


def _scan_chunks(
    onehot, pwms: list[np.ndarray], pvalue: float, batches: list[np.ndarray], what: str
) -> Iterable[tuple[list[np.ndarray], int]]:
    """FIMO hits of every batch of motifs over every chunk of sequences, each with the
    number of that batch's windows skipped for covering an unknown base."""
    n, length, _ = onehot.shape
    for offset in range(0, n, _sequences_per_call(length)):
        chunk = _as_bool(np.asarray(onehot[offset : offset + _sequences_per_call(length)]), what)
        unknown = unknown_bases(chunk)
        sequences = np.ascontiguousarray(chunk.transpose(0, 2, 1))
        for motifs in batches:
            hits = _fimo_hits(sequences, pwms, motifs, pvalue, unknown)
            hits[0] += offset
            widths = [pwms[m].shape[1] for m in motifs]
            yield hits, windows_with_unknown(unknown, length, widths)


def _sequences_per_call(length: int) -> int:
    return max(1, _BASES_PER_CALL // length)


def _batches(pwms: list[np.ndarray], pvalue: float, batch_size: int) -> list[np.ndarray]:
    reachable = _reachable(pwms, pvalue)
    return [reachable[i : i + batch_size] for i in range(0, len(reachable), batch_size)]


def _unreachable(pwms: list[np.ndarray], batches: list[np.ndarray]) -> list[int]:
    scanned = np.concatenate(batches) if batches else []
    return sorted(set(range(len(pwms))) - {int(i) for i in scanned})


def _site_table(
    hits: list[list[np.ndarray]], motifs: Sequence[dict], regions: pd.Index | None
) -> pd.DataFrame:
    """One sorted table of every hit, with categorical ids, names, strands and regions."""
    if not hits:
        hits = [_no_hits()]
    sequence, motif, start, end, minus, score, p = (
        np.concatenate(c) for c in zip(*hits, strict=True)
    )
    order = np.lexsort((minus, motif, start, sequence))
    ids = [str(m["matrix_id"]) for m in motifs]
    names = pd.Index([str(m["name"]) for m in motifs])
    name_codes, name_categories = pd.factorize(names)
    motif = motif[order]
    sequence = sequence[order]
    region = sequence if regions is None else pd.Categorical.from_codes(sequence, regions)
    return pd.DataFrame(
        {
            "region": region,
            "motif_id": pd.Categorical.from_codes(motif, ids),
            "tf_name": pd.Categorical.from_codes(name_codes[motif], name_categories),
            "start": start[order],
            "end": end[order],
            "strand": pd.Categorical.from_codes(minus[order].astype(np.int8), ["+", "-"]),
            "score": score[order],
            "pvalue": p[order],
        }
    )


def scan(
    onehot: np.ndarray,
    motifs: Sequence[dict],
    pvalue: float = 1e-5,
    *,
    batch_size: int = MOTIFS_PER_CALL,
) -> pd.DataFrame:
    """Binding sites of motifs in one-hot DNA, on both strands (FIMO, via memelite).

    A window's score is the sum over its bases of ``log2((frequency + 1e-4) /
    0.25)`` (memelite's pseudocount, a uniform background); its p-value is the
    chance of that score or more under the background. Minus-strand sites are
    those of the reverse-complement matrix, reported in forward coordinates.
    A window that covers a position with no base (N: all four channels 0) is
    never a site: memelite scores such a base 0, which over a long motif beats
    most real sequence.

    Parameters
    ----------
    onehot
        (sequences, length, 4) DNA, channels A, C, G, T; an all-zero position is N.
    motifs
        Dicts with ``matrix_id``, ``name`` and ``frequencies`` (length × 4), as
        :func:`~chromtools.io.read_jaspar` returns them.
    pvalue
        Keep sites with a p-value below this.
    batch_size
        Motifs per FIMO call.

    Returns
    -------
    Sites sorted by sequence and start: ``region`` (position of the sequence
    in ``onehot``), ``motif_id`` and ``tf_name`` (categorical), ``start`` and
    ``end`` (0-based, end exclusive, forward-strand coordinates), ``strand``
    (``"+"``/``"-"``), ``score`` (log2 odds) and ``pvalue``. Its
    ``attrs['n_windows_unknown']`` is the number of windows not scanned for
    covering an N (a motif at one start in one sequence, both strands; summed
    over the motifs scanned).
    """
    _check_onehot(onehot, "onehot")
    pwms = _check_motifs(motifs)
    pvalue = check_number(pvalue, "pvalue", minimum=0, maximum=1, strict_minimum=True)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    batches = _batches(pwms, pvalue, batch_size)
    hits, skipped = _gathered(_scan_chunks(onehot, pwms, pvalue, batches, "onehot"))
    table = _site_table(hits, motifs, None)
    table.attrs["n_windows_unknown"] = skipped
    return table


def _gathered(steps: Iterable[tuple[list[np.ndarray], int]]) -> tuple[list[list[np.ndarray]], int]:
    """The hits of every step of :func:`_scan_chunks`, and the windows they skipped in all."""
    hits, skipped = [], 0
    for step, n in steps:
        hits.append(step)
        skipped += n
    return hits, skipped


# ---------------------------------------------------------------- AnnData wrapper


def _write_uns(adata: AnnData, entries: dict) -> None:
    materialised(adata)
    for name, value in entries.items():
        adata.uns[name] = value


def _check_sequences(adata: AnnData, what: str) -> np.ndarray:
    if "onehot" not in adata.varm:
        raise ValueError(
            f"{what} reads one-hot DNA, and adata.varm['onehot'] is missing; read regions "
            "and a genome FASTA with ct.io.read_regions (or ct.pp.one_hot)"
        )
    onehot = get.onehot(adata)
    _check_onehot(onehot, "adata.varm['onehot']")
    if not adata.var_names.is_unique:
        raise ValueError(
            f"{what} names sites by their region, and adata.var_names repeat; "
            "run adata.var_names_make_unique() first"
        )
    return onehot


def scan_motifs(
    adata: AnnData,
    *,
    release: str = JASPAR_RELEASE,
    collection: str = "CORE",
    tax_group: str = "vertebrates",
    pvalue: float = 1e-5,
    motifs: Sequence[str] | None = None,
    batch_size: int = MOTIFS_PER_CALL,
    key_added: str = SITES,
) -> None:
    """Scan every region's DNA for JASPAR binding sites, on both strands (FIMO).

    The motifs are read offline (:func:`~chromtools.io.read_jaspar`) and
    scanned over ``varm['onehot']`` with memelite's FIMO (:func:`scan`). A
    window that covers a base other than A, C, G or T (an all-zero position:
    ``N``, another letter, or the padding of a window beyond a chromosome end,
    see :func:`~chromtools.io.read_regions`) is never a site.

    Parameters
    ----------
    adata
        Object with one-hot DNA in ``varm['onehot']`` (regions, length, 4).
    release
        JASPAR release bundled with pyjaspar.
    collection
        JASPAR collection (``"CORE"``, ``"UNVALIDATED"``).
    tax_group
        Taxonomic group (``"vertebrates"``…).
    pvalue
        Keep sites with a p-value below this (ChromTransfer: 1e-5).
    motifs
        Only these matrix ids or TF names; every motif of the collection by default.
    batch_size
        Motifs per FIMO call (the progress bar moves once per call).
    key_added
        Where the sites go: ``uns[key_added]`` and ``uns[f"{key_added}_params"]``;
        a rerun under the same key replaces its own sites only.

    Returns
    -------
    ``None``. Writes

    ``adata.uns['motif_sites']``
        DataFrame of sites sorted by region and start: ``region`` (var name),
        ``motif_id``, ``tf_name``, ``start``, ``end`` (0-based, end exclusive,
        forward strand), ``strand``, ``score`` (log2 odds), ``pvalue``;
        categorical region, ids, names and strands.
    ``adata.uns['motif_sites_params']``
        ``function``, ``release``, ``collection``, ``tax_group``, ``pvalue``,
        ``n_motifs``, ``n_regions``, ``n_sites``, ``length``, ``matrix_ids``
        and ``unreachable``: the motifs not scanned because even their
        consensus misses ``pvalue`` (at 1e-5, every motif of 8 bases or
        fewer, such as GATA1 MA0035.5, whose consensus has p = 4^-7);
        ``n_windows_unknown``: the windows not scanned because they cover
        a base other than A, C, G or T (a window is one motif at one start in
        one region, both strands; summed over the motifs scanned).
    """
    onehot = _check_sequences(adata, "scan_motifs")
    pvalue = check_number(pvalue, "pvalue", minimum=0, maximum=1, strict_minimum=True)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    table_key, params_key = check_writable(adata, "motif_sites", key_added)["uns"]
    release, collection, tax_group = jaspar_collection(release, collection, tax_group)
    found = read_jaspar(release, collection, tax_group, motifs=motifs)
    pwms = _check_motifs(found)

    batches = _batches(pwms, pvalue, batch_size)
    n_chunks = -(-onehot.shape[0] // _sequences_per_call(onehot.shape[1]))
    chunks = _scan_chunks(onehot, pwms, pvalue, batches, "adata.varm['onehot']")
    hits, skipped = _gathered(
        progress(chunks, total=len(batches) * n_chunks, desc=f"scan_motifs {len(pwms)} motifs")
    )
    table = _site_table(hits, found, adata.var_names)
    params = {
        **record_params("scan_motifs", key_added=key_added),
        "release": release,
        "collection": collection,
        "tax_group": tax_group,
        "pvalue": pvalue,
        "n_motifs": len(found),
        "n_regions": int(adata.n_vars),
        "n_sites": len(table),
        "length": int(onehot.shape[1]),
        "matrix_ids": [m["matrix_id"] for m in found],
        "unreachable": [found[i]["matrix_id"] for i in _unreachable(pwms, batches)],
        "n_windows_unknown": skipped,
    }
    _write_uns(adata, {table_key: table, params_key: params})


# ---------------------------------------------------------------- enrichment core


def site_scores(
    per_base: np.ndarray, row: np.ndarray, start: np.ndarray, end: np.ndarray, score: str
) -> np.ndarray:
    """Each site's ``score`` (``"max"``, ``"min"`` or ``"mean"``) of ``per_base`` over its bases.

    Parameters
    ----------
    per_base
        (regions, length) attribution of each base.
    row, start, end
        Each site's row in ``per_base`` and its bases ``start`` to ``end`` (exclusive).
    score
        How a site's bases are summarised.

    Returns
    -------
    One float per site.
    """
    reduce = {"max": np.max, "min": np.min, "mean": np.mean}[score]
    out = np.empty(len(row), dtype=np.float64)
    width = end - start
    # Sites of one motif share a length: gather each length's sites as one block.
    for w in np.unique(width):
        sites = np.flatnonzero(width == w)
        bases = per_base[row[sites, None], start[sites, None] + np.arange(w)]
        out[sites] = reduce(bases, axis=1)
    return out


def ks_enrichment(
    scores: np.ndarray,
    motif: np.ndarray,
    *,
    flat_start: np.ndarray,
    flat_end: np.ndarray,
    tested: Sequence[int],
) -> pd.DataFrame:
    """Signed two-sample KS of each tested motif's site scores against the others' sites.

    The background of motif ``m`` is every site of another motif that shares
    no base with a site of ``m``. ``D`` is positive when ``m``'s sites rank
    higher on average than the background's (Mann–Whitney's U above half).

    Parameters
    ----------
    scores
        One score per site.
    motif
        Each site's motif (integer code).
    flat_start, flat_end
        Each site's bases as positions along all regions laid end to end
        (``region * length + start``), so sites of different regions never overlap.
    tested
        Motif codes to test.

    Returns
    -------
    DataFrame indexed by motif code with ``n_sites``, ``ks_d`` (signed) and
    ``pvalue``; a motif without background sites gets NaN.
    """
    from scipy.stats import ks_2samp

    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    rows = []
    for m in tested:
        own = np.flatnonzero(motif == m)
        background = (motif != m) & ~overlapping(flat_start, flat_end, own)
        foreground = sorted_scores[(motif == m)[order]]
        others = sorted_scores[background[order]]
        if not len(others):
            rows.append((m, len(own), np.nan, np.nan))
            continue
        test = ks_2samp(foreground, others)
        # U: per own site, the background sites below it, ties counted half.
        below = np.searchsorted(others, foreground, "left") + np.searchsorted(
            others, foreground, "right"
        )
        higher = below.sum() / 2 >= len(foreground) * len(others) / 2
        rows.append((m, len(own), test.statistic * (1 if higher else -1), test.pvalue))
    return pd.DataFrame(rows, columns=["motif", "n_sites", "ks_d", "pvalue"]).set_index("motif")


# ---------------------------------------------------------------- enrichment wrapper


@dataclasses.dataclass
class _Enrichment:
    """What :func:`motif_enrichment` reads for one model, checked before any work."""

    key: str
    name: str  # the key as a slot name (storage_name)
    cell_type: str
    method: str
    score: str
    positive: np.ndarray | None  # per region, predicted positive; None: every region
    regions: np.ndarray  # per region, tested: attributed (and positive, if asked)

    @property
    def attributions(self) -> str:
        return _attribution_slot(self.name, self.cell_type)


def _attribution_slot(name: str, cell_type: str) -> str:
    """``varm`` of the attributions ``name`` (a sequence model's) of one cell type."""
    return RESULTS["attribution"].slots(name, cell_type=cell_type)["varm"][0]


def _check_sites(adata: AnnData, sites_key: str = SITES) -> pd.DataFrame:
    sites = concrete(adata).uns.get(sites_key)
    if not isinstance(sites, pd.DataFrame):
        raise ValueError(
            f"motif_enrichment reads binding sites from adata.uns[{sites_key!r}], which is "
            f"missing; run ct.tl.scan_motifs(adata, key_added={sites_key!r}) first"
        )
    missing = [c for c in SITE_COLUMNS if c not in sites.columns]
    if missing:
        raise ValueError(
            f"adata.uns[{sites_key!r}] lacks the columns {missing}; run ct.tl.scan_motifs"
        )
    return sites


def _predicted_positive(adata: AnnData, key: str, name: str, cell_type: str) -> np.ndarray:
    if name not in adata.layers:
        raise ValueError(
            f"positive_only=True reads the predictions of {key!r} in adata.layers[{name!r}], "
            f"which is missing; run ct.tl.predict(adata, {key!r}) first, or pass "
            "positive_only=False"
        )
    probability = np.asarray(adata.layers[name][adata.obs_names.get_loc(cell_type)], np.float64)
    positive = np.nan_to_num(probability, nan=0.0).ravel() > 0.5
    if not positive.any():
        raise ValueError(
            f"motif_enrichment: no region is predicted positive (probability > 0.5) for "
            f"{cell_type!r} in adata.layers[{name!r}]; pass positive_only=False to use every region"
        )
    return positive


def _plan(
    adata: AnnData,
    key: object,
    cell_type: object,
    score: object,
    positive_only: object,
    length: int,
    attributions: str | None = None,
) -> _Enrichment:
    if not isinstance(key, str) or not key:
        raise ValueError(f"key must be the uns key of a fitted model, got {key!r}")
    named = key if attributions is None else attributions
    name = find_result(adata, "attribution", named) or storage_name(named)
    cell_type = attributed_cell_type(adata, key, name, cell_type)
    slot = _attribution_slot(name, cell_type)
    values = adata.varm[slot]
    if values.ndim != 3 or values.shape[2] != 4 or values.shape[1] < length:
        raise ValueError(
            f"adata.varm[{slot!r}] has shape {values.shape}; expected (regions, length, 4) "
            f"covering the sites (up to base {length})"
        )
    record = adata.uns.get(RESULTS["attribution"].record_name(name), {})
    method = str(record.get("params", {}).get("method", "unknown"))
    if score is None:
        score = "min" if method == "ism" else "max"
    if score not in SCORES:
        raise ValueError(f"score must be one of {list(SCORES)} or None, got {score!r}")
    if not isinstance(positive_only, bool | np.bool_):
        raise ValueError(f"positive_only must be True or False, got {positive_only!r}")
    positive = (
        _predicted_positive(adata, key, storage_name(key), cell_type) if positive_only else None
    )
    attributed = _attributed(values)
    slot = f"adata.varm[{slot!r}]"
    if not attributed.any():
        raise ValueError(
            f"motif_enrichment: {slot} is NaN in every region, so no region is attributed; "
            f"run ct.tl.attribute(adata, {key!r}, cell_types=[{cell_type!r}]) first"
        )
    regions = attributed if positive is None else attributed & positive
    if not regions.any():
        raise ValueError(
            f"motif_enrichment: none of the {int(positive.sum())} regions predicted positive "
            f"for {cell_type!r} is attributed in {slot} (it covers {int(attributed.sum())} "
            f"other regions); run ct.tl.attribute(adata, {key!r}, genes=[...]) on them, or "
            "pass positive_only=False"
        )
    return _Enrichment(key, name, cell_type, method, score, positive, regions)


def _attributed(values) -> np.ndarray:
    """Per region, whether every attribution is finite: ``ct.tl.attribute`` leaves
    the regions it did not explain NaN."""
    out = np.empty(values.shape[0], dtype=bool)
    for first in range(0, len(out), _REGIONS_PER_READ):
        block = np.asarray(values[first : first + _REGIONS_PER_READ])
        out[first : first + len(block)] = np.isfinite(block).all(axis=(1, 2))
    return out


def _site_regions(adata: AnnData, sites: pd.DataFrame) -> np.ndarray:
    """Each site's position in ``var`` (-1 for regions this object no longer has)."""
    region = sites["region"]
    if isinstance(region.dtype, pd.CategoricalDtype):
        lookup = adata.var_names.get_indexer(region.cat.categories.astype(str))
        return np.where(region.cat.codes.to_numpy() < 0, -1, lookup[region.cat.codes.to_numpy()])
    return adata.var_names.get_indexer(region.astype(str))


@dataclasses.dataclass
class ScoredSites:
    """The sites one model's enrichment test reads, each with its importance score."""

    ids: pd.Categorical  # every motif scanned (codes index its categories)
    motif: np.ndarray  # per site, the motif code
    names: np.ndarray  # per site, the TF name
    importance: np.ndarray  # per site: its score, negated for ISM (higher = more important)
    region: np.ndarray  # per site, its region's position in var
    start: np.ndarray  # per site, its bases in the region
    end: np.ndarray
    length: int  # bases per region

    @property
    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """Each site's bases along all regions laid end to end."""
        return flat_positions(self.region, self.start, self.end, self.length)

    def table(self, var_names: pd.Index) -> pd.DataFrame:
        """What the KS tests compared, stored for ``ct.get.motif_site_scores`` and
        ``ct.pl.motif_ecdf``: per site, its motif, place and importance."""
        rows, row = np.unique(self.region, return_inverse=True)
        return pd.DataFrame(
            {
                "motif_id": pd.Categorical.from_codes(self.motif, self.ids.categories),
                "region": pd.Categorical.from_codes(row, var_names[rows].astype(str)),
                "start": self.start.astype(np.int32),
                "end": self.end.astype(np.int32),
                "importance": self.importance.astype(np.float32),
            }
        )


def scored_sites(adata: AnnData, plan: _Enrichment, sites: pd.DataFrame) -> ScoredSites:
    """Every site in the regions ``plan`` tests, scored by ``plan``'s attributions."""
    region = _site_regions(adata, sites)
    keep = (region >= 0) & plan.regions[np.maximum(region, 0)]
    region = region[keep]
    start = sites["start"].to_numpy(np.int64)[keep]
    end = sites["end"].to_numpy(np.int64)[keep]
    ids = sites["motif_id"]
    # scan_motifs' categories are every motif scanned, with sites or not.
    ids = ids.array if isinstance(ids.dtype, pd.CategoricalDtype) else pd.Categorical(ids)
    motif = ids.codes[keep].astype(np.int64)

    rows, row = np.unique(region, return_inverse=True)
    values = np.asarray(adata.varm[plan.attributions][rows], dtype=np.float64)
    # grad×input is non-zero at the observed base only; ISM is 0 there, so a
    # base's ISM score is the mean of its 3 substitutions.
    per_base = values.sum(axis=2) / (3 if plan.method == "ism" else 1)
    scores = site_scores(per_base, row, start, end, plan.score)
    # ISM deltas are most negative where a base matters: rank by importance.
    importance = -scores if plan.method == "ism" else scores
    names = sites["tf_name"].astype(str).to_numpy()[keep]
    return ScoredSites(ids, motif, names, importance, region, start, end, values.shape[1])


def _enrichment(
    adata: AnnData, plan: _Enrichment, sites: pd.DataFrame, min_sites: int, sites_key: str
) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    """The per-motif table of one model, the record of how it was made and the site scores
    it tested."""
    from scipy.stats import false_discovery_control

    scored = scored_sites(adata, plan, sites)
    ids, motif = scored.ids, scored.motif
    counts = np.bincount(motif, minlength=len(ids.categories))
    tested = np.flatnonzero(counts >= min_sites)
    flat_start, flat_end = scored.flat
    result = ks_enrichment(
        scored.importance, motif, flat_start=flat_start, flat_end=flat_end, tested=tested
    ).dropna()
    names = pd.Series(scored.names).groupby(motif).first()
    table = pd.DataFrame(
        {
            "tf_name": names.reindex(result.index).to_numpy(),
            "n_sites": result["n_sites"].to_numpy(np.int64),
            "ks_d": result["ks_d"].to_numpy(np.float64),
            "pvalue": result["pvalue"].to_numpy(np.float64),
            "fdr": false_discovery_control(result["pvalue"]) if len(result) else [],
        },
        index=pd.Index(ids.categories[result.index].astype(str), name="motif_id"),
    ).sort_values("ks_d", ascending=False, kind="stable")
    table.insert(1, "family", _families(adata, table, sites_key))
    skipped = sorted(set(ids.categories.astype(str)) - set(table.index))
    used = adata.n_vars if plan.positive is None else int(plan.positive.sum())
    unattributed = used - int(plan.regions.sum())
    if unattributed:
        which = "regions" if plan.positive is None else "regions predicted positive"
        logger.warning(
            f"motif_enrichment: {int(plan.regions.sum())} of the {used} {which} have "
            f"attributions of {plan.key!r} for {plan.cell_type!r} "
            f"(adata.varm[{plan.attributions!r}] is NaN in the others); only those are tested, "
            f"named in uns[{RESULTS['motif_enrichment'].record_name(plan.name)!r}]"
            "['regions_tested']"
        )
    params = {
        **record_params("motif_enrichment", key_added=plan.name),
        "key": plan.key,
        "cell_type": plan.cell_type,
        "method": plan.method,
        "score": plan.score,
        "min_sites": min_sites,
        "positive_only": plan.positive is not None,
        "n_regions": int(plan.regions.sum()),
        "n_regions_unattributed": unattributed,
        "regions_tested": adata.var_names[plan.regions].astype(str).tolist(),
        "n_sites": int(len(scored.importance)),
        "skipped": skipped,
    }
    return table, params, scored.table(adata.var_names)


def _families(adata: AnnData, table: pd.DataFrame, sites_key: str) -> list[str]:
    """Each tested motif's family (``motif_families``, in the table's order).

    The matrices are re-read from the JASPAR collection ``scan_motifs``
    recorded; a site table from elsewhere gives each motif its TF's name.
    """
    params = adata.uns.get(RESULTS["motif_sites"].record_name(sites_key), {})
    try:
        found = read_jaspar(
            params["release"], params["collection"], params["tax_group"], motifs=list(table.index)
        )
    except (KeyError, TypeError, ValueError):
        return table["tf_name"].astype(str).tolist()
    by_id = {m["matrix_id"]: m["frequencies"] for m in found}
    frequencies = [by_id[i] for i in table.index]
    return motif_families(frequencies, table["tf_name"].astype(str).tolist(), FAMILY_SIMILARITY)


def _joined(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Two enrichment tables side by side, one row per motif of either."""
    (first, a), (second, b) = tables.items()
    names = a["tf_name"].combine_first(b["tf_name"])
    columns = {"tf_name": names, "family": a["family"].combine_first(b["family"])}
    for field in ("n_sites", "ks_d", "fdr"):
        columns[f"{field}_{first}"] = a[field]
        columns[f"{field}_{second}"] = b[field]
    joined = pd.DataFrame(columns)
    joined.index.name = "motif_id"
    return joined.sort_values(f"ks_d_{first}", ascending=False, kind="stable", na_position="last")


def motif_enrichment(
    adata: AnnData,
    key: str,
    *,
    cell_type: str | None = None,
    min_sites: int = 100,
    score: str | None = None,
    positive_only: bool = True,
    reference: str | None = None,
    attributions: str | None = None,
    sites_key: str = SITES,
) -> pd.DataFrame:
    """Which TFs' binding sites carry a model's attributions (ChromTransfer's test).

    Each site of ``uns['motif_sites']`` in the regions the model predicts
    positive and that have attributions gets one score, the attribution over
    its bases (a base's attribution is the sum over its 4 channels; for ISM
    the mean of its 3 substitution deltas). Per motif with at least ``min_sites`` sites, a
    two-sample Kolmogorov–Smirnov test compares its sites' scores with those
    of every other motif's sites that share no base with its own; ``D`` is
    signed ``+`` when its sites rank as more important on average (higher
    attributions; for ISM, lower deltas). P-values are adjusted over the
    tested motifs (Benjamini–Hochberg).

    Only regions whose attributions are all finite are tested:
    :func:`attribute` run on some regions (``genes=``) leaves the others NaN.
    A warning says how many were left out; none attributed is an error.

    Parameters
    ----------
    adata
        Object with ``uns['motif_sites']`` (:func:`scan_motifs`) and the
        attributions ``varm[f"{key}_attr_{cell_type}"]`` (:func:`attribute`).
    key
        ``uns`` key of the model whose attributions are tested.
    cell_type
        Cell type whose attributions are read; needed only when ``key`` has
        attributions for several.
    min_sites
        Motifs with fewer sites in the regions used are not tested.
    score
        A site's score over its bases: ``"max"``, ``"min"`` or ``"mean"``. By
        default ``"min"`` for ISM deltas (a site that matters loses most when
        mutated) and ``"max"`` otherwise.
    positive_only
        Use only the regions predicted positive (probability > 0.5 in
        ``layers[key]``, :func:`predict`) for ``cell_type``; else every region.
    reference
        Another model's key: test its attributions the same way (its cell type
        is ``cell_type`` when it has attributions for it, else its only one)
        and join the two tables.
    attributions
        The key of the attributions to test (``key_added`` of
        :func:`attribute`); by default ``key``'s only ones (``key`` itself
        for gradient×input).
    sites_key
        The ``uns`` key of the sites (``key_added`` of :func:`scan_motifs`).

    Returns
    -------
    The table (with ``reference``, the joined table). Writes

    ``adata.uns[f"{key}_motifs"]``
        DataFrame indexed by ``motif_id``: ``tf_name``, ``family``,
        ``n_sites``, ``ks_d`` (signed), ``pvalue``, ``fdr``; sorted by
        ``ks_d``, largest first. ``family`` groups paralogs whose matrices
        match the same sites (TP53, TP63 and TP73), named by the best-ranked
        member (matrix similarity ≥ 0.75, in the table's order): read
        the top of the table one family at a time.
    ``adata.uns[f"{key}_motifs_params"]``
        ``function``, ``key``, ``cell_type``, ``method``, ``score``,
        ``min_sites``, ``positive_only``, ``n_regions`` (regions tested),
        ``n_regions_unattributed`` (regions left out for lacking
        attributions: NaN in ``varm``), ``regions_tested`` (the var names of
        the regions tested), ``n_sites`` and ``skipped`` (motifs not tested:
        too few sites, or no other sites).
    ``adata.uns[f"{key}_motif_scores"]``
        DataFrame of every site in the regions tested, as the KS tests compared
        them: ``motif_id`` and ``region`` (categorical), ``start``, ``end``
        (int32) and ``importance`` (float32: the site's score, negated for ISM
        so that higher is more important). :func:`~chromtools.get.motif_site_scores`
        reads one test's two samples from it; :func:`~chromtools.pl.motif_ecdf`
        draws them.
    ``adata.uns[f"{key}_vs_{reference}_motifs"]``
        With ``reference``: per motif ``tf_name``, ``family`` and ``n_sites``, ``ks_d``
        and ``fdr`` of each model (suffixed by its key), with ``..._params``
        alongside; ``uns[f"{reference}_motifs"]`` and its site scores are written too.

    ``/`` in a key becomes ``_`` in these names, as in ``layers``.
    """
    sites = _check_sites(adata, sites_key)
    min_sites = check_int(min_sites, "min_sites", minimum=1)
    length = int(sites["end"].max()) if len(sites) else 0
    plans = [_plan(adata, key, cell_type, score, positive_only, length, attributions)]
    if reference is not None:
        if not isinstance(reference, str) or storage_name(reference) == plans[0].name:
            raise ValueError(
                f"reference must be another model's key than {key!r}, got {reference!r}"
            )
        theirs = find_result(adata, "attribution", reference) or storage_name(reference)
        other = cell_type if _attribution_slot(theirs, str(cell_type)) in adata.varm else None
        plans.append(_plan(adata, reference, other, score, positive_only, length))
    enrichment = RESULTS["motif_enrichment"]
    joined = {"reference": plans[1].name} if reference is not None else {}
    names = check_writable(adata, "motif_enrichment", plans[0].name, **joined)["uns"]
    if reference is not None:
        check_writable(adata, "motif_enrichment", plans[1].name)
    # per model: the table, its params and the site scores tested
    outputs = [enrichment.slots(p.name)["uns"] for p in plans]

    results = [_enrichment(adata, plan, sites, min_sites, sites_key) for plan in plans]
    entries = {}
    for slots, result in zip(outputs, results, strict=True):
        entries.update(zip(slots, result, strict=True))
    if reference is None:
        _write_uns(adata, entries)
        return results[0][0]
    both = _joined({p.name: table for p, (table, _, _) in zip(plans, results, strict=True)})
    joined_table, joined_params = names[2:4]
    entries[joined_table] = both
    entries[joined_params] = {
        **record_params("motif_enrichment", key_added=plans[0].name),
        "keys": [p.key for p in plans],
        "cell_types": [p.cell_type for p in plans],
    }
    _write_uns(adata, entries)
    return both
