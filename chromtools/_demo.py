"""The main job on the embedded real Roadmap data, as ``make demo`` runs it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from . import datasets, get, io, pp, tl


def _mark_table(adata, cell_types: list[str]) -> pd.DataFrame:
    """Mean signal per mark and cell type, and the ratio of the last to the first."""
    means = np.asarray(get.histone(adata[cell_types])).mean(axis=(1, 3))
    table = pd.DataFrame(means.T, index=get.marks(adata), columns=cell_types)
    table[f"{cell_types[1]}/{cell_types[0]}"] = table[cell_types[1]] / table[cell_types[0]]
    return table


def _promoter_auroc(adata, cell_types: list[str]) -> pd.Series:
    """AUROC of the label from promoter H3K4me3 alone (±500 bp): a floor any model must beat."""
    window = adata.uns["chromtools"]["window"]
    bin_size = adata.uns["chromtools"]["bin_size"]
    tss = (0 - window[0]) // bin_size
    signal = np.asarray(get.histone(adata[cell_types], marks=["H3K4me3"]))
    promoter = signal[:, :, 0, tss - 5 : tss + 5].mean(axis=2)
    labels = adata[cell_types].layers["label"]
    return pd.Series(
        [roc_auc_score(labels[i], promoter[i]) for i in range(len(cell_types))],
        index=cell_types,
        name="H3K4me3 promoter AUROC",
    )


def _deletion_table(adata, key: str) -> pd.DataFrame:
    """Marks × (ON, OFF) mean predicted change from ``ct.tl.in_silico_deletion``."""
    summary = adata.uns[key]["summary"].copy()
    summary["mark"] = summary["perturbation"].str.removeprefix(f"{key}_")
    table = summary.pivot_table(index="mark", columns="status", values="mean_change")
    return table.reindex(index=get.marks(adata), columns=["ON", "OFF"])


def run_demo(out: str | Path = "demo_output") -> None:
    """Load the REMC sample, prepare it as the papers do, store it, read it back lazily."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    adata = datasets.remc_sample()
    with_histone = list(adata.obs_names[adata.obs["has_histone"]])
    print(
        f"REMC sample: {adata.n_obs} cell types × {adata.n_vars} genes, "
        f"histone for {with_histone}, marks {get.marks(adata)}"
    )
    print("\nLabel balance (share of 'high' genes, genome-wide median threshold):")
    print(pd.Series(np.nanmean(adata.layers["label"], axis=1), index=adata.obs_names).round(3))

    raw = _mark_table(adata, with_histone)
    pp.crop(adata, (-5000, 5000))
    pp.normalize(adata)
    normalized = _mark_table(adata, with_histone)
    print("\nMean signal per mark, raw read counts (sequencing depth differs):")
    print(raw.round(3).to_string())
    print("\nAfter ct.pp.crop(±5 kb) and ct.pp.normalize (depth-scaled log1p):")
    print(normalized.round(3).to_string())

    pp.split(adata, seed=0)
    print("\nGenes per split:", adata.var["split"].value_counts().to_dict())
    print()
    print(_promoter_auroc(adata, with_histone).round(3).to_string())

    print("\nFitting per cell type on the train genes, selecting on valid (E123 and E003):")
    rows = []
    for model, options in (("logreg", {}), ("deepchrome", {"epochs": 30})):
        for cell_type in with_histone:
            key = f"{model}_{cell_type}"
            tl.fit(adata, model, cell_types=[cell_type], key_added=key, seed=0, **options)
            metrics = adata.uns[key]["metrics"].set_index(["cell_type", "split"])
            rows.append(
                {
                    "model": model,
                    "cell_type": cell_type,
                    "test_auroc": metrics.loc[(cell_type, "test"), "auroc"],
                    "test_genes": int(metrics.loc[(cell_type, "test"), "n"]),
                    "deepchrome_paper": adata.obs.loc[cell_type, "deepchrome_auc"],
                }
            )
    print(pd.DataFrame(rows).round(3).to_string(index=False))

    print("\nWhy a gene is on: delete each mark in silico from the E123 DeepChrome model")
    print("(mean predicted change of the probability, measured ON vs OFF genes):")
    tl.in_silico_deletion(adata, "deepchrome_E123", cell_types=["E123"], key_added="deletion")
    print(_deletion_table(adata, "deletion").round(3).to_string())

    print("\nTransfer K562 → H1 (the E123 DeepChrome model, fine-tuned on E003's train genes):")
    tl.finetune(adata, source="E123", target="E003", model="deepchrome", seed=0)
    transfer = adata.uns["finetune"]["metrics"][["target", "approach", "auroc", "n_train"]]
    print(transfer.round(3).to_string(index=False))

    print("\nDeepDiff E123 vs E003 (log2 fold change of counts), test split:")
    tl.differential(adata, "E123", "E003", seed=0)
    deepdiff = adata.uns["deepdiff"]["metrics"].query("split == 'test'")
    print(deepdiff[["model", "pearson", "spearman", "n"]].round(3).to_string(index=False))

    store = out / "remc.zarr"
    io.write_zarr(adata, store)
    lazy = io.read_zarr(store)
    same = np.array_equal(
        get.histone(lazy).compute(), np.asarray(get.histone(adata)), equal_nan=True
    )
    print(f"\nWrote {store} and read it back lazily; identical signal: {same}")
    if not same:
        raise RuntimeError(f"the store at {store} does not hold what was written")
