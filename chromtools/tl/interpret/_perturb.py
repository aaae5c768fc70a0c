"""``ct.tl.in_silico_deletion``: remove a mark, some bins or a TF's sites, predict the change.

Geneformer's in-silico deletion applied to chromatin models: every
perturbation is applied to every (cell type, gene) the model explains, and
the predicted change (perturbed − original) is stored as one layer per
perturbation, with a table of the mean change on ON and OFF genes.

The cores are plain functions of tensors (:func:`delete_marks`,
:func:`dinucleotide_shuffle`, :func:`delete_sites`); the model is any
``nn.Module`` with one output (:func:`~chromtools.functional.scalar_output`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from anndata import AnnData

from ..._expression import on_status
from ..._results import RESULTS, check_key, check_writable, kind_of, materialised, record_params
from ..._settings import resolve_seed
from ..._utils import check_int, progress
from ...get._lazy import values_at
from ...models import HISTONE
from ..engine import select_marks
from ._interpreted import Interpreted, interpreted_model, scalar_output

REPLACEMENTS = ("zero", "mean")
SITE_COLUMNS = ("region", "motif_id", "tf_name", "start", "end", "strand", "score", "pvalue")


# ---------------------------------------------------------------- cores


def delete_marks(
    x: torch.Tensor,
    marks: Sequence[int],
    bins: slice = slice(None),
    replacement: torch.Tensor | None = None,
) -> torch.Tensor:
    """A copy of ``x`` with some marks' signal replaced over some bins.

    Parameters
    ----------
    x
        (batch, marks, bins) signal.
    marks
        Positions of the marks to delete.
    bins
        The bins to delete (all by default).
    replacement
        (batch, marks, bins) values to put there (e.g. the mean profile); zero by default.

    Returns
    -------
    The perturbed (batch, marks, bins) tensor.
    """
    perturbed = x.clone()
    index = list(marks)
    if replacement is None:
        perturbed[:, index, bins] = 0.0
    else:
        perturbed[:, index, bins] = replacement[:, index, bins]
    return perturbed


def dinucleotide_shuffle(sequence: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random sequence with exactly the dinucleotide counts of ``sequence``.

    Altschul & Erickson (1985): the sequence is an Eulerian path through the
    graph whose vertices are bases and whose edges are its dinucleotides. A
    random arborescence of "last exits" towards the final base is drawn
    (Wilson's loop-erased random walk), the other exits of each base are
    shuffled, and the path is walked from the first base. First and last
    bases are kept.

    Parameters
    ----------
    sequence
        (length,) integer codes (0–3 for A, C, G, T).
    rng
        Random generator.

    Returns
    -------
    (length,) codes, a permutation of ``sequence`` with the same dinucleotides.
    """
    sequence = np.asarray(sequence)
    if len(sequence) < 3:
        return sequence.copy()
    exits: dict[int, list[int]] = {}
    for a, b in zip(sequence[:-1].tolist(), sequence[1:].tolist(), strict=True):
        exits.setdefault(a, []).append(b)
    last = int(sequence[-1])
    in_tree = {last}
    last_exit: dict[int, int] = {}
    for start in exits:
        vertex = start
        # loop-erased random walk until the tree is reached
        while vertex not in in_tree:
            last_exit[vertex] = int(rng.integers(len(exits[vertex])))
            vertex = exits[vertex][last_exit[vertex]]
        vertex = start
        while vertex not in in_tree:
            in_tree.add(vertex)
            vertex = exits[vertex][last_exit[vertex]]
    order = {}
    for vertex, targets in exits.items():
        targets = list(targets)
        final = targets.pop(last_exit[vertex]) if vertex in last_exit else None
        rng.shuffle(targets)
        order[vertex] = targets + ([final] if final is not None else [])
    walked = [int(sequence[0])]
    used = dict.fromkeys(order, 0)
    for _ in range(len(sequence) - 1):
        vertex = walked[-1]
        walked.append(order[vertex][used[vertex]])
        used[vertex] += 1
    return np.asarray(walked, dtype=sequence.dtype)


def delete_sites(
    onehot: np.ndarray, sites: Sequence[tuple[int, int]], rng: np.random.Generator
) -> np.ndarray:
    """One-hot DNA with the bases of some sites replaced by dinucleotide-shuffled sequence.

    The whole region is dinucleotide-shuffled once and its shuffled bases are
    written over the sites: a site shuffled within itself (6–20 bp) has few
    distinct shuffles and often keeps the motif, while the region's shuffle
    gives background of the region's own composition.

    Parameters
    ----------
    onehot
        (length, 4) one-hot sequence (A, C, G, T).
    sites
        ``(start, end)`` of each site, 0-based, end exclusive.
    rng
        Random generator.

    Returns
    -------
    The perturbed (length, 4) array, same dtype.
    """
    codes = onehot.argmax(axis=1)
    unknown = onehot.sum(axis=1) == 0
    shuffled = dinucleotide_shuffle(codes[~unknown], rng)
    background = codes.copy()
    background[~unknown] = shuffled
    perturbed = onehot.copy()
    for start, end in sites:
        part = slice(int(start), int(end))
        perturbed[part] = 0
        perturbed[part][np.arange(end - start), background[part]] = 1
        perturbed[part][unknown[part]] = 0
    return perturbed


# ---------------------------------------------------------------- checks


@dataclass
class Perturbation:
    """One deletion: what it removes and the layer its predicted change goes to."""

    layer: str
    marks: list[int] | None = None
    bins: slice = field(default_factory=lambda: slice(None))
    motif: str | None = None


def _check_bins(bins: object, data: dict) -> tuple[slice, tuple[int, int]]:
    window = [int(w) for w in data["window"]]
    bin_size = int(data["bin_size"])
    if (
        not isinstance(bins, Sequence)
        or isinstance(bins, str)
        or len(bins) != 2
        or not all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) for b in bins)
    ):
        raise ValueError(
            f"in_silico_deletion: bins must be a (start, end) range in bp around the TSS, "
            f"e.g. (-1000, 1000), got {bins!r}"
        )
    start, end = int(bins[0]), int(bins[1])
    if start >= end or start < window[0] or end > window[1]:
        raise ValueError(
            f"in_silico_deletion: bins=({start}, {end}) must be a range start < end inside the "
            f"model's window {window} bp around the TSS"
        )
    # every bin that overlaps [start, end)
    first = (start - window[0]) // bin_size
    last = -(-(end - window[0]) // bin_size)
    return slice(first, last), (start, end)


def _motif_sites(adata: AnnData, motifs: object) -> tuple[pd.DataFrame, dict[str, str]]:
    """The sites table and ``{motif_id: layer suffix}`` of every motif asked for."""
    sites = adata.uns.get(RESULTS["motif_sites"].default())
    if not isinstance(sites, pd.DataFrame):
        raise KeyError(
            "in_silico_deletion: motifs= needs the motif sites in adata.uns['motif_sites']; "
            "run ct.tl.scan_motifs(adata) first"
        )
    missing = [c for c in ("region", "motif_id", "tf_name", "start", "end") if c not in sites]
    if missing:
        raise ValueError(
            f"in_silico_deletion: adata.uns['motif_sites'] lacks the columns {missing}; "
            f"ct.tl.scan_motifs writes {list(SITE_COLUMNS)}"
        )
    if isinstance(motifs, str):
        motifs = [motifs]
    if not isinstance(motifs, Sequence) or not motifs:
        raise ValueError(
            f"in_silico_deletion: motifs must be JASPAR ids or TF names (a list), got {motifs!r}"
        )
    ids = sites["motif_id"].astype(str)
    tf_names = sites["tf_name"].astype(str)
    chosen: dict[str, str] = {}
    unknown = []
    for motif in motifs:
        if not isinstance(motif, str):
            unknown.append(motif)
        elif (ids == motif).any():
            chosen[motif] = motif
        elif (tf_names == motif).any():
            for matrix in sorted(set(ids[tf_names == motif])):
                chosen[matrix] = motif if ids[tf_names == motif].nunique() == 1 else matrix
        else:
            unknown.append(motif)
    if unknown:
        have = sorted(set(tf_names))
        raise KeyError(
            f"in_silico_deletion: motifs {unknown} have no sites in adata.uns['motif_sites']; "
            f"it holds {ids.nunique()} motifs, e.g. TFs {have[:10]}"
        )
    return sites[ids.isin(list(chosen))], chosen


# ---------------------------------------------------------------- AnnData wrapper


def _on(adata: AnnData, cells: np.ndarray, genes: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """ON per sample: label 1 where the label is known, else predicted > 0.5."""
    label = np.full(len(genes), np.nan)
    if "label" in adata.layers:
        label = values_at(adata.layers["label"], cells, genes).astype(float)
    return on_status(label, predicted)


def _mean_profiles(model: Interpreted, batch_size: int) -> dict[int, torch.Tensor]:
    """Mean (marks, bins) signal over every gene of each explained cell type."""
    sums: dict[int, torch.Tensor] = {}
    counts: dict[int, int] = {}
    every = interpreted_model(
        model.adata,
        model.key,
        cell_types=model.cell_types,
        device=str(model.device),
        what="in_silico_deletion",
    )
    for x, cells, _ in every.batches(batch_size):
        for cell in np.unique(cells):
            part = x[torch.from_numpy(cells == cell).to(x.device)]
            sums[int(cell)] = sums.get(int(cell), 0) + part.sum(dim=0)
            counts[int(cell)] = counts.get(int(cell), 0) + len(part)
    return {cell: sums[cell] / counts[cell] for cell in sums}


def in_silico_deletion(
    adata: AnnData,
    key: str,
    *,
    marks: Sequence[str] | str | None = None,
    bins: tuple[int, int] | None = None,
    motifs: Sequence[str] | str | None = None,
    cell_types: Sequence[str] | str | None = None,
    genes: Sequence[str] | str | None = None,
    replace: str = "zero",
    key_added: str | None = None,
    seed: int | None = None,
    batch_size: int = 256,
    device: str | None = None,
) -> None:
    """Delete marks, bins or TF binding sites in silico and store the predicted change.

    Histone models: each mark of ``marks`` is deleted on its own (every
    mark of the model when neither ``marks`` nor ``bins`` is given), over
    every bin or, with ``bins``, over the bins overlapping that TSS-relative
    range; ``bins`` alone deletes every mark there at once. A deleted value
    becomes zero (``replace="zero"``) or that bin's mean over every gene of
    the cell type (``replace="mean"``). Sequence models: each motif's sites
    (from ``uns['motif_sites']``, :func:`scan_motifs`) are overwritten by
    the region's dinucleotide-shuffled sequence (seeded), region by region.
    Everything is checked before any prediction.

    Parameters
    ----------
    adata
        Object with the inputs of the model.
    key
        The model's ``uns`` key.
    marks
        Marks to delete, one perturbation each (histone models).
    bins
        ``(start, end)`` in bp relative to the TSS (negative upstream), inside
        the model's window (histone models).
    motifs
        JASPAR matrix ids or TF names to delete, one perturbation each
        (sequence models); a TF name stands for all its matrices.
    cell_types
        Cell types to explain; every one with signal by default (a
        sequence model: its own).
    genes
        Genes or regions (names) to perturb; all by default.
    replace
        ``"zero"`` or ``"mean"``: what replaces a deleted mark's signal.
    key_added
        Where results go; ``f"{key}_deletion"`` by default.
    seed
        Seed of the dinucleotide shuffles; ``ct.settings.seed`` by default.
    batch_size
        Samples per forward pass.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``…; ``ct.settings.device`` by default.

    Returns
    -------
    ``None``. Writes

    ``adata.layers[f"{key_added}_{name}"]``
        float32 predicted change (perturbed − original; probabilities for
        classifiers) per (cell type, gene), one layer per perturbation,
        ``name`` being the mark, ``f"{mark}_{start}_{end}"``, ``f"bins_{start}_{end}"``
        or the motif id (its TF name when asked by name). NaN where not
        explained and, for motifs, in regions without a site.
    ``adata.uns[key_added]``
        ``perturbations`` (the layer names), ``summary`` (DataFrame: one row
        per perturbation × cell type × ``status`` ON/OFF, with ``n`` and
        ``mean_change``; ON is label 1 where the label is known, else
        predicted > 0.5) and ``params`` (``function``, ``model``, marks,
        bins, motifs, cell types, replace, seed, batch size, device).
    """
    if replace not in REPLACEMENTS:
        raise ValueError(
            f"in_silico_deletion: replace must be one of {list(REPLACEMENTS)}, got {replace!r}"
        )
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    seed = resolve_seed(seed)
    model = interpreted_model(
        adata, key, cell_types=cell_types, genes=genes, device=device, what="in_silico_deletion"
    )
    key_added = RESULTS["deletion"].default(key) if key_added is None else key_added
    check_key(key_added)
    targets = model.network.deletion_targets
    if not targets:
        raise ValueError(f"in_silico_deletion: uns[{key!r}] ({model.name}) has nothing to delete")
    if "motifs" in targets:
        perturbations, sites = _plan_motifs(adata, key, key_added, marks, bins, motifs, replace)
    else:
        perturbations, sites = _plan_marks(model, key, key_added, marks, bins, motifs), None
    layers = [p.layer for p in perturbations]
    earlier = adata.uns.get(key_added)
    previous = list(earlier.get("perturbations", [])) if kind_of(earlier) == "deletion" else []
    check_writable(adata, "deletion", key_added, owned_layers=previous, extra={"layers": layers})

    means = _mean_profiles(model, batch_size) if replace == "mean" else {}
    run = _Run(model, perturbations, _sites_by_motif(sites), means, np.random.default_rng(seed))
    run.predict(batch_size)
    summary = run.summary()

    materialised(adata)
    if kind_of(earlier) == "deletion":
        for name in earlier.get("perturbations", []):
            if name in adata.layers:
                del adata.layers[name]
    for name, values in run.changes.items():
        adata.layers[name] = values
    adata.uns[key_added] = {
        "params": record_params(
            "in_silico_deletion",
            key_added=key_added,
            model=key,
            marks=None if marks is None else list(np.atleast_1d(marks)),
            bins=None if bins is None else [int(b) for b in bins],
            motifs=None if motifs is None else list(np.atleast_1d(motifs)),
            cell_types=list(model.cell_types),
            replace=replace,
            seed=seed,
            batch_size=batch_size,
            device=str(model.device),
        ),
        "perturbations": layers,
        "summary": summary,
    }


def _plan_motifs(
    adata: AnnData, key: str, key_added: str, marks, bins, motifs, replace: str
) -> tuple[list[Perturbation], pd.DataFrame]:
    """One perturbation per motif of a sequence model, with the sites to overwrite."""
    if marks is not None or bins is not None:
        raise ValueError(
            f"in_silico_deletion: uns[{key!r}] reads DNA, not histone marks; delete motifs "
            "(motifs=[...]) instead of marks= or bins="
        )
    if motifs is None:
        raise ValueError(
            f"in_silico_deletion: uns[{key!r}] is a sequence model; name the motifs to "
            "delete (JASPAR ids or TF names from uns['motif_sites'])"
        )
    if replace != "zero":
        raise ValueError(
            "in_silico_deletion: replace= applies to histone marks; motif sites are "
            "replaced by dinucleotide-shuffled sequence"
        )
    sites, chosen = _motif_sites(adata, motifs)
    perturbations = [
        Perturbation(_layer(key_added, name), motif=matrix) for matrix, name in chosen.items()
    ]
    return perturbations, sites


def _plan_marks(
    model: Interpreted, key: str, key_added: str, marks, bins, motifs
) -> list[Perturbation]:
    """The perturbations of a histone model: one per mark, or every mark over ``bins``."""
    if motifs is not None:
        raise ValueError(
            f"in_silico_deletion: uns[{key!r}] is a histone model; motifs= needs a sequence "
            "model (e.g. chromtransfer). Delete marks= or bins= instead"
        )
    data = model.record["config"]["data"]
    model_marks = list(data["marks"])
    span, where = (slice(None), None) if bins is None else _check_bins(bins, data)
    if marks is None and bins is not None:
        indices = list(range(len(model_marks)))
        return [Perturbation(_layer(key_added, f"bins_{where[0]}_{where[1]}"), indices, span)]
    chosen = (
        model_marks
        if marks is None
        else select_marks(marks, model_marks, whose="the model's", what="in_silico_deletion: marks")
    )
    suffix = "" if where is None else f"_{where[0]}_{where[1]}"
    return [
        Perturbation(_layer(key_added, f"{m}{suffix}"), [model_marks.index(m)], span)
        for m in chosen
    ]


def _layer(key_added: str, name: str) -> str:
    """The layer of one perturbation (the registry's slot)."""
    return RESULTS["deletion"].slots(key_added, name=name)["layers"][0]


def _sites_by_motif(sites: pd.DataFrame | None) -> dict[str, dict[str, list[tuple[int, int]]]]:
    """``{motif_id: {region: [(start, end), ...]}}`` of the sites table."""
    by_motif: dict[str, dict[str, list[tuple[int, int]]]] = {}
    if sites is None:
        return by_motif
    for (region, motif), group in sites.groupby(["region", "motif_id"], sort=False, observed=True):
        by_motif.setdefault(str(motif), {})[str(region)] = list(
            zip(group["start"].astype(int), group["end"].astype(int), strict=True)
        )
    return by_motif


class _Run:
    """Predictions before and after every perturbation, batch by batch."""

    def __init__(self, model: Interpreted, perturbations, sites, means, rng) -> None:
        self.model, self.perturbations, self.sites = model, perturbations, sites
        self.means, self.rng = means, rng
        self.classifier = model.record["config"]["data"].get("task", "classification") == (
            "classification"
        )
        shape = model.adata.shape
        self.changes = {p.layer: np.full(shape, np.nan, dtype=np.float32) for p in perturbations}
        self.original, self.cells, self.genes = [], [], []

    def predicted(self, x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            out = scalar_output(self.model.fast, x)
            return (torch.sigmoid(out) if self.classifier else out).cpu().numpy()

    def predict(self, batch_size: int) -> None:
        model = self.model
        per_cell = len(model.cell_types) if model.input_kind == HISTONE else 1
        total = -(-len(model.genes) * per_cell // batch_size)
        batches = model.batches(batch_size)
        for x, cells, genes in progress(
            batches, total=total, desc=f"in_silico_deletion {model.name}"
        ):
            original = self.predicted(x)
            self.original.append(original)
            self.cells.append(cells)
            self.genes.append(genes)
            for perturbation in self.perturbations:
                if perturbation.motif is None:
                    self._delete_marks(perturbation, x, cells, genes, original)
                else:
                    self._delete_motif(perturbation, x, cells, genes, original)

    def _delete_marks(self, perturbation, x, cells, genes, original) -> None:
        replacement = torch.stack([self.means[int(c)] for c in cells]) if self.means else None
        perturbed = delete_marks(x, perturbation.marks, perturbation.bins, replacement)
        self.changes[perturbation.layer][cells, genes] = self.predicted(perturbed) - original

    def _delete_motif(self, perturbation, x, cells, genes, original) -> None:
        regions = self.model.adata.var_names[genes]
        per_region = self.sites.get(perturbation.motif, {})
        hit = np.array([r in per_region for r in regions])
        if not hit.any():
            return
        onehot = x[torch.from_numpy(hit).to(x.device)].cpu().numpy()
        perturbed = np.stack(
            [
                delete_sites(seq, per_region[r], self.rng)
                for seq, r in zip(onehot, regions[hit], strict=True)
            ]
        )
        change = self.predicted(torch.from_numpy(perturbed).to(x.device)) - original[hit]
        self.changes[perturbation.layer][cells[hit], genes[hit]] = change

    def summary(self) -> pd.DataFrame:
        """Mean change per perturbation × cell type × ON/OFF."""
        adata = self.model.adata
        original = np.concatenate(self.original)
        cells, genes = np.concatenate(self.cells), np.concatenate(self.genes)
        on = _on(adata, cells, genes, original)
        rows = []
        for perturbation in self.perturbations:
            change = self.changes[perturbation.layer][cells, genes]
            for cell in np.unique(cells):
                for status, wanted in (("ON", True), ("OFF", False)):
                    chosen = (cells == cell) & (on == wanted) & np.isfinite(change)
                    rows.append(
                        {
                            "perturbation": perturbation.layer,
                            "cell_type": str(adata.obs_names[cell]),
                            "status": status,
                            "n": int(chosen.sum()),
                            "mean_change": float(change[chosen].mean()) if chosen.any() else np.nan,
                        }
                    )
        return pd.DataFrame(
            rows, columns=["perturbation", "cell_type", "status", "n", "mean_change"]
        )
