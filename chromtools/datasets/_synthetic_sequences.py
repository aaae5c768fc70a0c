"""Synthetic DNA with JASPAR motifs planted by class: open/closed chromatin per cell type."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from .._settings import resolve_seed
from .._utils import check_int, check_number
from ..get._aligned import META
from ..io._anndata import new_anndata
from ..io._motifs import JASPAR_RELEASE, jaspar_motif
from ..io.store import atomic_file, check_file_destination

# One motif per cell type, in this order, when none are given: master
# regulators of well-known cell lines (GATA1 in K562, HNF4A and CEBPA in
# HepG2, FOXA1 in MCF7/A549, EBF1 in GM12878, TEAD1 in HCT116), all human
# JASPAR CORE matrices that do not resemble each other or CTCF.
DEFAULT_MOTIFS = ("MA0035.5", "MA0114.5", "MA0102.5", "MA0148.5", "MA0154.5", "MA0090.4")
SHARED_MOTIF = "MA0139.2"  # CTCF, bound in most cell types
# Unplanted bases before the first region and after the last of each chromosome
# of the genome FASTA, and the gap between regions (a region's width).
_FLANK = 10_000
_LINE = 60
_RESERVED = ("any", "closed", "shared")


def _sample_sites(
    rng: np.random.Generator, frequencies: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` motif instances drawn base by base from the frequency matrix, on random strands.

    Returns base codes (0–3 for A, C, G, T) as read on the + strand and a
    boolean per site for the - strand (instances reverse-complemented).
    """
    cumulative = np.cumsum(frequencies, axis=1)[:, :3]
    draws = rng.random((n, len(frequencies)))
    sites = (draws[:, :, None] > cumulative[None]).sum(axis=2).astype(np.uint8)
    minus = rng.random(n) < 0.5
    # Base codes follow A, C, G, T, so 3 - code is the complement.
    sites[minus] = 3 - sites[minus, ::-1]
    return sites, minus


def _write_genome(path: Path, var: pd.DataFrame, bases: np.ndarray) -> None:
    """A FASTA with every region at its var coordinates, ``N`` elsewhere."""
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    # a full disk or a kill leaves the file that was there, whole
    with atomic_file(path, "fasta") as tmp, open(tmp, "wb") as handle:
        for chrom in var["chrom"].cat.categories:
            rows = np.flatnonzero((var["chrom"] == chrom).to_numpy())
            if not len(rows):
                continue
            starts = var["start"].to_numpy()[rows]
            sequence = np.full(int(var["end"].to_numpy()[rows].max()) + _FLANK, ord("N"), np.uint8)
            sequence[starts[:, None] + np.arange(bases.shape[1])] = letters[bases[rows]]
            full = len(sequence) // _LINE * _LINE
            lines = np.hstack(
                [sequence[:full].reshape(-1, _LINE), np.full((full // _LINE, 1), ord("\n"))]
            ).astype(np.uint8)
            handle.write(f">{chrom}\n".encode() + lines.tobytes())
            if len(sequence) > full:
                handle.write(sequence[full:].tobytes() + b"\n")
    # pyfaidx trusts an existing index; drop one left by an older file.
    Path(f"{path}.fai").unlink(missing_ok=True)


def _check_cell_types(cell_types: Sequence[str]) -> list[str]:
    """Distinct, non-empty cell-type names that are not one of the reserved classes."""
    if isinstance(cell_types, str):
        cell_types = [cell_types]
    if not all(isinstance(c, str) and c for c in cell_types):
        raise ValueError(f"cell_types must be non-empty names (strings), got {list(cell_types)}")
    cell_types = list(cell_types)
    if not cell_types or len(set(cell_types)) != len(cell_types):
        raise ValueError(f"cell_types must be distinct names, got {cell_types}")
    reserved = [c for c in cell_types if c in _RESERVED]
    if reserved:
        raise ValueError(f"cell_types {reserved} clash with the reserved names {_RESERVED}")
    return cell_types


def _classes(
    rng: np.random.Generator,
    n_regions: int,
    cell_types: list[str],
    open_fraction: float,
    shared_fraction: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Each region's class (closed, shared, or open in one cell type), in exact counts."""
    n_closed = round(n_regions * (1 - open_fraction))
    n_shared = round((n_regions - n_closed) * shared_fraction)
    n_specific = n_regions - n_closed - n_shared
    per_cell_type = np.full(len(cell_types), n_specific // len(cell_types))
    per_cell_type[: n_specific % len(cell_types)] += 1
    names = np.array(["closed", "shared", *cell_types], dtype=object)
    classes = rng.permutation(np.repeat(names, [n_closed, n_shared, *per_cell_type]))
    return classes, names


def _plant_sites(
    rng: np.random.Generator, bases: np.ndarray, classes: np.ndarray, planted: dict[str, dict]
) -> dict[str, np.ndarray]:
    """Write one sampled site of its class's motif into each open region of ``bases``.

    Returns the per-region site columns of ``var`` (empty or -1 for closed regions).
    """
    n_regions, width = bases.shape
    sites = {
        "motif_id": np.full(n_regions, "", dtype=object),
        "motif_name": np.full(n_regions, "", dtype=object),
        "motif_start": np.full(n_regions, -1, dtype=np.int64),
        "motif_strand": np.full(n_regions, "", dtype=object),
    }
    for label, motif in planted.items():
        rows = np.flatnonzero(classes == label)
        length = len(motif["frequencies"])
        sampled, minus = _sample_sites(rng, motif["frequencies"], len(rows))
        start = rng.integers(0, width - length + 1, len(rows))
        bases[rows[:, None], start[:, None] + np.arange(length)] = sampled
        sites["motif_start"][rows] = start
        sites["motif_strand"][rows] = np.where(minus, "-", "+")
        sites["motif_id"][rows] = motif["matrix_id"]
        sites["motif_name"][rows] = motif["name"]
    return {k: v if v.dtype != object else v.astype(str) for k, v in sites.items()}


def _region_table(
    rng: np.random.Generator, planted: pd.Categorical, sites: dict[str, np.ndarray], width: int
) -> pd.DataFrame:
    """``var``: regions laid out along chr1–chr22, ``width`` apart, with their planted sites."""
    chromosomes = [f"chr{i}" for i in range(1, 23)]
    chrom = pd.Categorical(rng.choice(chromosomes, len(planted)), categories=chromosomes)
    rank = pd.Series(chrom).groupby(chrom, observed=True).cumcount().to_numpy()
    start = _FLANK + rank * 2 * width
    var = pd.DataFrame(
        {"chrom": chrom, "start": start, "end": start + width, "planted": planted, **sites}
    )
    var.index = [f"{c}:{s}-{s + width}" for c, s in zip(chrom, start, strict=True)]
    return var


def synthetic_sequences(
    n_regions: int = 2000,
    width: int = 600,
    *,
    cell_types: Sequence[str] = ("A", "B"),
    motifs: Sequence[str] | Mapping[str, str] | None = None,
    shared_motif: str = SHARED_MOTIF,
    open_fraction: float = 0.5,
    shared_fraction: float = 1 / 3,
    gc: float = 0.41,
    label_noise: float = 0.0,
    seed: int | None = None,
    fasta: str | os.PathLike | None = None,
) -> ad.AnnData:
    """Random DNA regions, open or closed per cell type by planted JASPAR motifs.

    The rules, in the order they are drawn from one generator seeded by ``seed``:

    1. *Classes.* ``round(n_regions * (1 - open_fraction))`` regions are
       ``closed``; of the open ones ``round(n_open * shared_fraction)`` are
       ``shared`` (open in every cell type), the rest are open in exactly one
       cell type, split as evenly as possible (earlier cell types get the
       remainder). Classes are shuffled over the regions, so the label
       balance is exact, not random.
    2. *Background.* Every base is drawn independently: G and C each with
       probability ``gc / 2``, A and T each ``(1 - gc) / 2`` (``gc=0.41``,
       the human genome's GC content).
    3. *Motifs.* Each open region gets one site of its class's motif: the
       ``shared_motif`` (CTCF by default) in shared regions, the cell type's
       motif in a cell type's own regions; closed regions get none. A site is
       drawn base by base from the motif's position frequency matrix, on a
       random strand (``-`` sites are reverse-complemented), at a start drawn
       uniformly from ``0 … width - motif length`` and written over the
       background.
    4. *Labels.* ``label[c, r] = 1`` when region ``r`` is shared or open in
       ``c``; with ``label_noise`` each cell type's label is then flipped
       with that probability. The pseudo cell type ``any`` is 1 where any
       cell type's label is 1 (the cell-type-agnostic pre-training target).
    5. *Coordinates.* Each region is placed on a chromosome drawn uniformly
       from chr1–chr22, the regions of a chromosome one after another from
       base 10,000 with a region's width between them, so splits by
       chromosome work and ``fasta=`` can write a genome holding them.

    A model of ``any`` thus learns every motif; a model of one cell type must
    also learn that other cell types' motifs mean closed, which is what
    fine-tuning from ``any`` has to change.

    Parameters
    ----------
    n_regions
        Number of regions (var).
    width
        Length of every sequence in bp; at least the longest motif.
    cell_types
        Names of the cell types (obs, followed by ``any``).
    motifs
        One JASPAR matrix id or TF name per cell type, as a list in the
        order of ``cell_types`` or a dict ``{cell type: motif}``. By default
        GATA1 (MA0035.5), HNF4A (MA0114.5), CEBPA (MA0102.5), FOXA1
        (MA0148.5), EBF1 (MA0154.5), TEAD1 (MA0090.4), in this order.
    shared_motif
        Motif of the regions open in every cell type (CTCF, MA0139.2).
    open_fraction
        Share of regions open in at least one cell type.
    shared_fraction
        Share of open regions that are open in every cell type.
    gc
        GC content of the background.
    label_noise
        Probability of flipping each cell type's label of each region.
    seed
        Random seed; ``ct.settings.seed`` by default. Same seed, same data.
    fasta
        Also write a genome FASTA here holding every region at its ``var``
        coordinates (``N`` elsewhere), so ``ct.io.read_regions(adata.var,
        fasta, width)`` gives back ``varm['onehot']``.

    Returns
    -------
    AnnData with ``obs`` = ``cell_types`` + ``any``; ``var`` indexed
    ``chrom:start-end`` with ``chrom``, ``start``, ``end`` and the planted
    truth ``planted`` (``closed``, ``shared`` or the cell type),
    ``motif_id``, ``motif_name``, ``motif_start`` (0-based position of the
    site's first base, -1 without a site) and ``motif_strand``;
    ``varm['onehot']`` uint8 (regions, width, 4); ``layers['label']`` and
    ``X`` float32 labels; ``uns['chromtools']`` (``genome='synthetic'``,
    ``sequence_width``, ``fasta`` when written) and ``uns['synthetic']``
    recording every rule parameter, the seed, the JASPAR release and each
    motif's ``matrix_id``, ``name`` and ``frequencies`` (length × 4) under
    ``motifs[cell type]`` and ``motifs['shared']``.
    """
    cell_types = _check_cell_types(cell_types)
    for name, value in (
        ("open_fraction", open_fraction),
        ("shared_fraction", shared_fraction),
        ("gc", gc),
        ("label_noise", label_noise),
    ):
        if not 0 <= check_number(value, name) <= 1:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
    n_regions = check_int(n_regions, "n_regions", minimum=1)
    width = check_int(width, "width", minimum=1)
    seed = resolve_seed(seed)
    if fasta is not None:
        fasta = check_file_destination(fasta, "fasta")  # before any work
    motif_of = _motifs_by_cell_type(cell_types, motifs)
    planted = {c: jaspar_motif(m) for c, m in motif_of.items()}
    planted["shared"] = jaspar_motif(shared_motif)
    longest = max(len(m["frequencies"]) for m in planted.values())
    if width < longest:
        raise ValueError(f"width={width} is shorter than the longest motif ({longest} bp)")
    rng = np.random.default_rng(seed)

    classes, names = _classes(rng, n_regions, cell_types, open_fraction, shared_fraction)
    draws = rng.random((n_regions, width), dtype=np.float32)
    thresholds = np.cumsum([(1 - gc) / 2, gc / 2, gc / 2])
    bases = (draws[:, :, None] > thresholds.astype(np.float32)).sum(axis=2, dtype=np.uint8)
    del draws
    sites = _plant_sites(rng, bases, classes, planted)
    label = np.array([(classes == c) | (classes == "shared") for c in cell_types])
    label ^= rng.random(label.shape) < label_noise
    label = np.vstack([label, label.any(axis=0)]).astype(np.float32)
    var = _region_table(rng, pd.Categorical(classes, categories=names), sites, width)

    adata = new_anndata(
        obs_names=[*cell_types, "any"],
        var=var,
        genome="synthetic",
        X=label.copy(),
        layers={"label": label},
        varm={"onehot": np.eye(4, dtype=np.uint8)[bases]},
    )
    adata.uns[META]["sequence_width"] = int(width)
    if fasta is not None:
        _write_genome(fasta, adata.var, bases)
        adata.uns[META]["fasta"] = str(fasta)
    adata.uns["synthetic"] = {
        "seed": seed,
        "gc": float(gc),
        "open_fraction": float(open_fraction),
        "shared_fraction": float(shared_fraction),
        "label_noise": float(label_noise),
        "jaspar_release": JASPAR_RELEASE,
        "motifs": {
            key: {**motif, "frequencies": motif["frequencies"].astype(np.float32)}
            for key, motif in planted.items()
        },
    }
    return adata


def _motifs_by_cell_type(
    cell_types: list[str], motifs: Sequence[str] | Mapping[str, str] | None
) -> dict[str, str]:
    if motifs is None:
        if len(cell_types) > len(DEFAULT_MOTIFS):
            raise ValueError(
                f"{len(cell_types)} cell types but only {len(DEFAULT_MOTIFS)} default motifs; "
                "pass motifs= with one JASPAR id or TF name per cell type"
            )
        return dict(zip(cell_types, DEFAULT_MOTIFS, strict=False))
    if isinstance(motifs, str):
        motifs = [motifs]
    if not isinstance(motifs, Mapping | Sequence):
        raise ValueError(
            f"motifs must be a list of JASPAR ids or TF names (one per cell type) or a dict "
            f"{{cell type: motif}}, got {motifs!r}"
        )
    if isinstance(motifs, Mapping):
        missing = [c for c in cell_types if c not in motifs]
        if missing:
            raise ValueError(f"motifs has no motif for cell types {missing}")
        return {c: str(motifs[c]) for c in cell_types}
    motifs = [str(m) for m in motifs]
    if len(motifs) != len(cell_types):
        raise ValueError(
            f"motifs lists {len(motifs)} motifs for {len(cell_types)} cell types {cell_types}"
        )
    return dict(zip(cell_types, motifs, strict=True))
