"""Synthetic histone signal and expression with planted, documented rules."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import anndata as ad
import numpy as np
import pandas as pd

from .._settings import resolve_seed
from .._utils import CORE_MARKS, check_int, check_number
from ..io._anndata import new_anndata

# Relative width of the promoter peak and where the gene body starts, as
# fractions of the window, so the rules scale with any number of bins.
_PEAK_SD = 0.03
_BODY_START = 0.55


def _profiles(n_bins: int) -> dict[str, np.ndarray]:
    """Shape of each mark's planted signal along the bins (peak height 1)."""
    position = (np.arange(n_bins) + 0.5) / n_bins  # 0 = most upstream, 0.5 = TSS
    promoter = np.exp(-0.5 * ((position - 0.5) / _PEAK_SD) ** 2)
    flank = np.exp(-0.5 * ((np.abs(position - 0.5) - 0.12) / 0.05) ** 2)
    body = np.clip((position - _BODY_START) / 0.1, 0, 1)
    broad = np.exp(-0.5 * ((position - 0.5) / 0.2) ** 2)
    return {"promoter": promoter, "flank": flank, "body": body, "broad": broad}


def _cell_type_names(cell_types: Sequence[str] | None, n_cell_types: int) -> list[str]:
    """Given names (distinct, non-empty strings, one per cell type) or ``cell0`` …"""
    if cell_types is None:
        return [f"cell{i}" for i in range(n_cell_types)]
    if isinstance(cell_types, str):
        cell_types = [cell_types]
    cell_types = list(cell_types)
    if len(cell_types) != n_cell_types:
        raise ValueError(f"{len(cell_types)} cell_types names for n_cell_types={n_cell_types}")
    if not all(isinstance(c, str) and c for c in cell_types) or len(set(cell_types)) != len(
        cell_types
    ):
        raise ValueError(f"cell_types must be distinct, non-empty names, got {cell_types}")
    return cell_types


def _missing_expression(expression_missing: Sequence[str], cell_types: list[str]) -> np.ndarray:
    """Mask of the cell types named in ``expression_missing`` (checked against ``cell_types``)."""
    if isinstance(expression_missing, str):
        expression_missing = [expression_missing]
    unknown = sorted(set(expression_missing) - set(cell_types))
    if unknown:
        raise ValueError(f"expression_missing names {unknown}, which are not in {cell_types}")
    return np.isin(cell_types, list(expression_missing))


def _depth(
    depth: Sequence[float] | None, n_cell_types: int, rng: np.random.Generator
) -> np.ndarray:
    """The given depth factors, checked, or factors drawn from 0.5–3."""
    if depth is None:
        return rng.uniform(0.5, 3.0, n_cell_types)
    if isinstance(depth, str) or not all(
        isinstance(d, numbers.Real) and not isinstance(d, bool) for d in np.ravel(depth)
    ):
        raise ValueError(f"depth must be {n_cell_types} positive numbers, got {depth!r}")
    depth = np.asarray(depth, dtype=np.float64)
    if depth.shape != (n_cell_types,) or not np.isfinite(depth).all() or (depth <= 0).any():
        raise ValueError(f"depth must be {n_cell_types} positive numbers, got {depth}")
    return depth


def _histone_counts(
    p: np.ndarray,
    shift: np.ndarray,
    depth: np.ndarray,
    shapes: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """Poisson counts (cell types, genes, marks, bins) of the planted mark rules."""
    n_cell_types, n_genes = p.shape
    n_bins = len(shapes["promoter"])
    histone = np.empty((n_cell_types, n_genes, len(CORE_MARKS), n_bins), dtype=np.float32)
    for c in range(n_cell_types):
        amplitude = {
            "H3K4me3": (8 * p[c], shapes["promoter"]),
            "H3K4me1": (3 * p[c], shapes["flank"]),
            "H3K36me3": (5 * p[c], shapes["body"]),
            "H3K27me3": (6 * (1 - p[c]) * (1 - shift[c]), shapes["broad"]),
            "H3K9me3": (6 * (1 - p[c]) * shift[c], shapes["broad"]),
        }
        for m, mark in enumerate(CORE_MARKS):
            height, shape = amplitude[mark]
            rate = depth[c] * (1 + height[:, None] * shape[None, :])
            histone[c, :, m] = rng.poisson(rate)
    return histone


def _expression(
    activity: np.ndarray, noise: float, missing: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Counts, log2 expression, per-cell-type medians and labels (NaN where missing)."""
    counts = np.round(2 ** (8 + 3 * activity + noise * rng.standard_normal(activity.shape)))
    counts = counts.astype(np.float32)
    counts[missing] = np.nan
    expression = np.log2(counts + 1)
    medians = np.nanmedian(np.where(missing[:, None], 0, expression), axis=1)
    medians[missing] = np.nan
    label = np.where(np.isnan(expression), np.nan, expression > medians[:, None])
    return counts, expression, medians, label


def _gene_table(n_genes: int, rng: np.random.Generator) -> pd.DataFrame:
    """``var`` of ``n_genes`` genes spread over chr1–chr22 with random TSSs and strands."""
    chromosomes = np.array([f"chr{i}" for i in range(1, 23)])
    return pd.DataFrame(
        {
            "gene_name": [f"GENE{i}" for i in range(n_genes)],
            "chrom": pd.Categorical(rng.choice(chromosomes, n_genes), categories=chromosomes),
            "tss": rng.integers(1_000_000, 200_000_000, n_genes),
            "strand": rng.choice(["+", "-"], n_genes),
        },
        index=[f"g{i:06d}" for i in range(n_genes)],
    )


def synthetic_histone(
    n_cell_types: int = 3,
    n_genes: int = 2000,
    *,
    n_bins: int = 100,
    bin_size: int = 100,
    cell_types: Sequence[str] | None = None,
    shared: float = 0.8,
    rule_shift: float = 0.5,
    depth: Sequence[float] | None = None,
    noise: float = 0.3,
    expression_missing: Sequence[str] = (),
    seed: int | None = None,
) -> ad.AnnData:
    """Histone ChIP-seq counts and expression generated from planted rules.

    Every gene ``g`` has a latent activity ``a[c, g]`` in each cell type ``c``:
    ``a = sqrt(shared) * z_g + sqrt(1 - shared) * z_cg`` with independent
    standard normals, so ``shared`` is the correlation of activity between
    cell types. With ``p = sigmoid(2 a)`` the expected count of each mark
    along the bins (bin 0 most upstream, the TSS in the middle) is
    ``depth[c, mark] * (1 + amplitude * shape)``:

    ==========  ==========================  ====================================
    mark        shape                       amplitude
    ==========  ==========================  ====================================
    H3K4me3     promoter peak at the TSS    ``8 p`` (activating)
    H3K4me1     flanks ±12 % of the window  ``3 p`` (activating, weak)
    H3K36me3    gene body, downstream       ``5 p`` (activating)
    H3K27me3    broad over the window       ``6 (1 - p) (1 - s_c)`` (repressive)
    H3K9me3     broad over the window       ``6 (1 - p) s_c`` (repressive)
    ==========  ==========================  ====================================

    ``s_c = rule_shift * c / (n_cell_types - 1)`` moves repression from
    H3K27me3 (cell type 0) towards H3K9me3, so cell types share most but not
    all rules: a model of cell type 0 transfers, imperfectly, to the others.
    Counts are Poisson. Expression is ``log2(count + 1)`` with
    ``count ~ 2 ** (8 + 3 a + noise * N(0, 1))``; the label is expression
    above the cell type's median, as in the papers.

    Parameters
    ----------
    n_cell_types
        Number of cell types (obs).
    n_genes
        Number of genes (var), spread over chr1–chr22 with random strands.
    n_bins
        Bins per gene window, centred on the TSS.
    bin_size
        Base pairs per bin.
    cell_types
        Names of the cell types; ``cell0`` … by default.
    shared
        Correlation of gene activity between cell types (0–1).
    rule_shift
        Share of repression carried by H3K9me3 instead of H3K27me3 in the last
        cell type (0 = identical rules everywhere).
    depth
        Sequencing depth factor per cell type (multiplies every mark); drawn
        from 0.5–3 by default so raw counts are not comparable across cell
        types, as in real data.
    noise
        Standard deviation of expression noise around the planted activity.
    expression_missing
        Cell types to leave without expression (``X`` and labels NaN), like a
        cell type with ChIP-seq but no RNA-seq.
    seed
        Random seed; ``ct.settings.seed`` by default. Same seed, same data.

    Returns
    -------
    AnnData with ``obsm['histone']`` (cell types, genes, 5 marks, bins) float32
    counts, ``X`` log2 expression, ``layers['counts']``, ``layers['label']``,
    ``layers['activity']`` (the latent ``a``), ``var`` with ``chrom``, ``tss``,
    ``strand``, ``obs['depth']``, ``obs['rule_shift']`` and
    ``uns['synthetic']`` recording every planted parameter and the mark
    profiles.
    """
    for name, value in (("shared", shared), ("rule_shift", rule_shift)):
        if check_number(value, name) < 0 or value > 1:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
    n_cell_types = check_int(n_cell_types, "n_cell_types", minimum=1)
    n_genes = check_int(n_genes, "n_genes", minimum=2)
    n_bins = check_int(n_bins, "n_bins", minimum=10)
    bin_size = check_int(bin_size, "bin_size", minimum=1)
    noise = check_number(noise, "noise", minimum=0)
    seed = resolve_seed(seed)
    cell_types = _cell_type_names(cell_types, n_cell_types)
    missing = _missing_expression(expression_missing, cell_types)
    rng = np.random.default_rng(seed)
    depth = _depth(depth, n_cell_types, rng)
    shift = rule_shift * np.arange(n_cell_types) / max(n_cell_types - 1, 1)

    activity = np.sqrt(shared) * rng.standard_normal(n_genes) + np.sqrt(
        1 - shared
    ) * rng.standard_normal((n_cell_types, n_genes))
    shapes = _profiles(n_bins)
    histone = _histone_counts(1 / (1 + np.exp(-2 * activity)), shift, depth, shapes, rng)
    counts, expression, medians, label = _expression(activity, noise, missing, rng)
    obs = pd.DataFrame(
        {
            "depth": depth,
            "rule_shift": shift,
            "has_expression": ~missing,
            "expression_median": medians,
        }
    )
    half = n_bins * bin_size // 2
    adata = new_anndata(
        obs_names=cell_types,
        var=_gene_table(n_genes, rng),
        histone=histone,
        marks=list(CORE_MARKS),
        bin_size=bin_size,
        window=(-half, n_bins * bin_size - half),
        genome="synthetic",
        X=expression.astype(np.float32),
        layers={
            "counts": counts,
            "label": label.astype(np.float32),
            "activity": activity.astype(np.float32),
        },
        obs=obs,
    )
    adata.uns["synthetic"] = {
        "shared": float(shared),
        "rule_shift": float(rule_shift),
        "noise": float(noise),
        "seed": seed,
        "activating": ["H3K4me3", "H3K4me1", "H3K36me3"],
        "repressive": ["H3K27me3", "H3K9me3"],
        "profiles": {name: shape.astype(np.float32) for name, shape in shapes.items()},
    }
    return adata
