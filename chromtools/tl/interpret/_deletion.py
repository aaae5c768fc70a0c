"""``ct.tl.in_silico_deletion``: remove a mark, some bins or a TF's sites, predict the change.

Geneformer's in-silico deletion applied to chromatin models: every
perturbation (``_deletion_plan``) is applied to every (cell type, gene) the
model explains with the cores of ``_perturb``, and the predicted change
(perturbed − original) is stored as one layer per perturbation, with a
table of the mean change on ON and OFF genes. The model is any
``nn.Module`` with one output (:func:`~chromtools.functional.scalar_output`).
"""

from __future__ import annotations

from collections.abc import Sequence

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
from ._deletion_plan import plan_marks, plan_motifs, sites_by_motif
from ._interpreted import Interpreted, interpreted_model, scalar_output
from ._perturb import delete_marks, delete_sites

REPLACEMENTS = ("zero", "mean")


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
        perturbations, sites = plan_motifs(adata, key, key_added, marks, bins, motifs, replace)
    else:
        perturbations, sites = plan_marks(model, key, key_added, marks, bins, motifs), None
    layers = [p.layer for p in perturbations]
    earlier = adata.uns.get(key_added)
    previous = list(earlier.get("perturbations", [])) if kind_of(earlier) == "deletion" else []
    check_writable(adata, "deletion", key_added, owned_layers=previous, extra={"layers": layers})

    means = _mean_profiles(model, batch_size) if replace == "mean" else {}
    run = _Run(model, perturbations, sites_by_motif(sites), means, np.random.default_rng(seed))
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
