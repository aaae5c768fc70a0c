"""The model side of ``ct.tl.variant_effects``: where each variant lies and what it does.

:func:`locate` places every variant of a table (``chromtools.io._variants``)
at a base of a region's one-hot DNA and checks its ref allele there.
:func:`substitution_scores` scores chosen substitutions with any sequence
model: through ChromTransfer's windowed ISM (only the window a base change
reaches is recomputed, as :func:`~chromtools.functional.ism` does for every
substitution) or through full forward passes of the mutants.
:func:`scored_variants` turns one fitted model's scores into rows of the
effects table, with both alleles' gradient × input around each variant.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from torch import nn

from ..._substitutions import Mutants
from ...models import SEQUENCE, ChromTransfer
from ...models._chromtransfer_ism import FoldedWeights, windowed_changes
from ..engine import inference_network
from ._interpreted import Interpreted, interpreted_model
from ._ism import chosen_path, full_changes, score_of
from ._methods import grad_x_input

BASES = "ACGT"
_COMPLEMENT = str.maketrans("ACGT", "TGCA")
# Bases on either side of a variant in the stored attribution logos.
FLANK = 20
# The columns of one model's block of effects (before variant, region and the sites).
COLUMNS = ["position", "ref", "alt", "model", "cell_type", "ref_prediction", "alt_prediction",
           "delta", "log_odds_delta"]  # fmt: skip


@dataclass
class Located:
    """Each scored variant's row of the table, region (var position), base and alleles."""

    rows: np.ndarray  # row of the variant table (a variant in two regions: twice)
    regions: np.ndarray  # var positions
    positions: np.ndarray  # 0-based in the region's sequence as stored
    ref: np.ndarray  # base codes 0–3, on the region's strand
    alt: np.ndarray


def locate(adata: AnnData, table: pd.DataFrame, onehot: np.ndarray) -> Located:
    """Every variant at its base, checked: the region exists, the base lies in it,
    the variant is a substitution and its ref allele is the base there."""
    width = onehot.shape[1]
    if "region" in table.columns:
        regions = adata.var_names.get_indexer(table["region"])
        unknown = table["variant"][regions < 0].tolist()
        if unknown:
            names = table["region"][regions < 0].tolist()
            raise KeyError(
                f"variants {unknown[:5]} name regions {names[:5]} that are not in adata.var_names"
            )
        rows, positions = np.arange(len(table)), table["position"].to_numpy()
        minus = np.zeros(len(table), dtype=bool)
    else:
        rows, regions, positions, minus = _by_coordinates(adata, table, width)
    outside = (positions < 0) | (positions >= width)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"variant {table['variant'].iloc[rows[i]]!r}: position {positions[i]} lies outside "
            f"its region {adata.var_names[regions[i]]!r} (0 to {width - 1})"
        )
    ref = table["ref"].to_numpy()[rows]
    alt = table["alt"].to_numpy()[rows]
    indel = np.array([len(r) != 1 or len(a) != 1 for r, a in zip(ref, alt, strict=True)], bool)
    if indel.any():
        i = int(np.flatnonzero(indel)[0])
        raise ValueError(
            f"variant {table['variant'].iloc[rows[i]]!r} ({ref[i]}>{alt[i]}) is an insertion or "
            "deletion; variant_effects scores single-base substitutions only (an indel shifts "
            "every base after it, which the model's fixed window does not allow)"
        )
    ref = np.where(minus, [r.translate(_COMPLEMENT) for r in ref], ref)
    alt = np.where(minus, [a.translate(_COMPLEMENT) for a in alt], alt)
    codes = np.array([BASES.index(b) for b in ref]), np.array([BASES.index(b) for b in alt])
    _check_ref(adata, table, onehot, rows, regions, positions, codes[0])
    return Located(rows, regions, positions, *codes)


def _by_coordinates(
    adata: AnnData, table: pd.DataFrame, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Variants given by chrom and 1-based pos placed in every region window holding them.

    A window is ``width`` bp from ``(start + end) // 2 - width // 2`` (as
    :func:`~chromtools.io.read_regions` reads it); on a ``-`` strand region the
    position counts from the window's end. Variants in no region are left out
    with a warning; none in any region is an error.
    """
    missing = [c for c in ("chrom", "start", "end") if c not in adata.var.columns]
    if missing:
        raise ValueError(
            f"variants given by chrom and pos need adata.var's chrom, start and end; it lacks "
            f"{missing}. Give region and position (0-based in the region) instead"
        )
    var = adata.var
    first = ((var["start"].to_numpy() + var["end"].to_numpy()) // 2 - width // 2).astype(np.int64)
    chrom = var["chrom"].astype(str).to_numpy()
    strand = var["strand"].astype(str).to_numpy() if "strand" in var.columns else None
    found = ([], [], [], [])
    for i, (c, pos) in enumerate(zip(table["chrom"], table["pos"], strict=True)):
        offset = int(pos) - 1 - first  # VCF POS is 1-based
        for region in np.flatnonzero((chrom == c) & (offset >= 0) & (offset < width)):
            minus = strand is not None and strand[region] == "-"
            position = width - 1 - offset[region] if minus else offset[region]
            for column, value in zip(found, (i, region, position, minus), strict=True):
                column.append(value)
    rows, regions, positions, minus = (np.asarray(c) for c in found)
    left_out = table["variant"].drop(index=np.unique(rows)).tolist()
    if len(left_out) == len(table):
        raise ValueError(
            f"none of the {len(table)} variants lies in a region of adata (e.g. "
            f"{left_out[:3]}); check the chromosome names (chr1 vs 1) and the assembly"
        )
    if left_out:
        warnings.warn(
            f"{len(left_out)} variants lie in no region and are not scored: {left_out[:5]}",
            UserWarning,
            stacklevel=4,
        )
    return rows, regions.astype(np.int64), positions.astype(np.int64), minus.astype(bool)


def _check_ref(adata, table, onehot, rows, regions, positions, ref) -> None:
    """Refuse a ref allele that is not the base of the sequence, naming the variant."""
    observed = np.asarray(onehot[regions, positions], dtype=np.float32)
    has_base = observed.sum(axis=1) == 1
    found = np.where(has_base, observed.argmax(axis=1), -1)
    wrong = np.flatnonzero(found != ref)
    if len(wrong):
        i = int(wrong[0])
        base = BASES[found[i]] if found[i] >= 0 else "N (no base)"
        raise ValueError(
            f"variant {table['variant'].iloc[rows[i]]!r}: ref {BASES[ref[i]]} does not match the "
            f"sequence of region {adata.var_names[regions[i]]!r} at position {positions[i]}, "
            f"which is {base} ({len(wrong)} variants mismatch); check the assembly and the "
            "coordinates (pos is 1-based, position 0-based)"
        )


def substitution_scores(
    network: nn.Module,
    x: torch.Tensor,
    mutants: Mutants,
    *,
    batch_size: int = 512,
    output: int | None = None,
    path: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The scalar output of each sequence and its change by each chosen substitution.

    Parameters
    ----------
    network
        A sequence model in eval mode.
    x
        (sequences, length, 4) float one-hot DNA, on the network's device.
    mutants
        Which sequence, position and new base (a base other than the observed one).
    batch_size
        Mutants per pass.
    output
        The output column scored; the scalar output by default.
    path
        ``"windowed"`` (ChromTransfer: only the window each change reaches is
        recomputed), ``"full"`` (each mutant through the whole network) or
        ``"auto"``: the path :func:`~chromtools.tl.interpret._ism.ism_path` names.

    Returns
    -------
    (sequences,) outputs of ``x``, and (mutants,) changes: output of the mutant
    minus output of its sequence, exactly as ISM computes them.
    """
    chosen = chosen_path(network, x.shape[1], path)
    if chosen == "windowed" and not isinstance(network, ChromTransfer):
        raise ValueError(
            f"path='windowed' needs a ChromTransfer, got {type(network).__name__}; use 'full'"
        )
    fast = inference_network(network)
    with torch.inference_mode():
        reference = torch.cat(
            [score_of(fast, x[i : i + batch_size], output) for i in range(0, len(x), batch_size)]
        )
        changes = torch.empty(len(mutants.sequence), device=x.device)
        weights = FoldedWeights(network) if chosen == "windowed" else None
        for start in range(0, len(changes), batch_size):
            part = slice(start, start + batch_size)
            chunk = mutants[part]
            if weights is None:
                changes[part] = full_changes(fast, x, chunk, reference, output)
            else:
                changes[part] = windowed_changes(network, x, chunk, output, weights)
    return reference, changes


def variant_models(adata: AnnData, key: object, device: str | None) -> list[Interpreted]:
    """Every model scored, each a PyTorch sequence model."""
    keys = [key] if isinstance(key, str) else key
    if not isinstance(keys, Sequence) or not keys or not all(isinstance(k, str) for k in keys):
        raise ValueError(
            f"variant_effects: key must be a model key or a non-empty list of them, got {key!r}"
        )
    repeated = sorted({k for k in keys if list(keys).count(k) > 1})
    if repeated:
        raise ValueError(f"variant_effects: key names {repeated} more than once")
    models = []
    for k in keys:
        model = interpreted_model(adata, k, device=device, what="variant_effects")
        if model.input_kind != SEQUENCE:
            raise ValueError(
                f"variant_effects: uns[{k!r}] is a {model.input_kind.replace('_', ' ')} model "
                f"({model.name}); variants change DNA, so they need a sequence model "
                "(ChromTransfer)"
            )
        models.append(model)
    return models


def scored_variants(
    model: Interpreted, onehot: np.ndarray, located: Located, path: str, batch_size: int
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """One model's rows of ``effects`` (one block per cell type it models), their
    attribution logos, and which located variant each row is."""
    regions, inverse = np.unique(located.regions, return_inverse=True)
    device = model.device
    x = torch.as_tensor(np.asarray(onehot[regions]), dtype=torch.float32, device=device)
    mutants = Mutants(
        *(torch.as_tensor(v, device=device) for v in (inverse, located.positions, located.alt))
    )
    reference, change = substitution_scores(
        model.network, x, mutants, batch_size=batch_size, path=path
    )
    ref_logit = reference[mutants.sequence].double().cpu().numpy()
    change = change.double().cpu().numpy()
    alt_logit = ref_logit + change
    classification = model.record["config"]["data"].get("task") == "classification"
    if classification:
        ref_value, alt_value = 1 / (1 + np.exp(-ref_logit)), 1 / (1 + np.exp(-alt_logit))
    else:
        ref_value, alt_value = ref_logit, alt_logit
    n = len(located.positions)
    block = {
        "position": located.positions.astype(np.int64),
        "ref": np.array([BASES[b] for b in located.ref]),
        "alt": np.array([BASES[b] for b in located.alt]),
        "model": model.key,
        "ref_prediction": ref_value,
        "alt_prediction": alt_value,
        "delta": alt_value - ref_value,
        "log_odds_delta": change if classification else np.full(n, np.nan),
    }
    frames = [pd.DataFrame({**block, "cell_type": cell})[COLUMNS] for cell in model.cell_types]
    logos = _logos(model, x, mutants, batch_size)
    cells = len(model.cell_types)
    return (
        pd.concat(frames, ignore_index=True),
        np.tile(logos, (cells, 1, 1, 1)),
        np.tile(np.arange(n), cells),
    )


def _logos(model: Interpreted, x: torch.Tensor, variants: Mutants, batch_size: int) -> np.ndarray:
    """(variants, 2, 2 × FLANK + 1, 4) gradient × input of the ref and alt sequences
    around each variant (a substitution of a sequence of ``x``); the ref's is computed
    once per sequence."""
    reference = grad_x_input(model.fast, x, batch_size=batch_size)
    alt = grad_x_input(model.fast, variants.applied(x), batch_size=batch_size)
    alleles = [reference[variants.sequence], alt]
    padded = [torch.nn.functional.pad(a, (0, 0, FLANK, FLANK)).cpu().numpy() for a in alleles]
    span = variants.position.cpu().numpy()[:, None] + np.arange(2 * FLANK + 1)
    picked = [p[np.arange(len(span))[:, None], span] for p in padded]
    return np.stack(picked, axis=1).astype(np.float32)
