"""The main job on the embedded real Roadmap data, as ``make demo`` runs it.

Each step prints what it did under a heading; the run ends with a labelled
summary (every number named with its metric and split, cell types with their
names), the figures saved next to the store, and what to try next.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from . import datasets, get, io, pl, pp, tl

FIGURES = ("roc.png", "deletion.png", "finetune.png", "learning_curve.png")


def _named(adata, code: str) -> str:
    """``"E123 (K562)"``: the code and its Roadmap name."""
    return f"{code} ({adata.obs.loc[code, 'name'].replace('_', ' ')})"


def _step(title: str, started: float) -> None:
    print(f"\n== {title}  [{time.perf_counter() - started:.0f} s]")


def _mark_table(adata, cell_types: list[str]) -> pd.DataFrame:
    """Mean signal per mark and cell type, and the ratio of the second to the first."""
    means = np.asarray(get.histone(adata[cell_types])).mean(axis=(1, 3))
    table = pd.DataFrame(means.T, index=get.marks(adata), columns=cell_types)
    table[f"{cell_types[1]}/{cell_types[0]}"] = table[cell_types[1]] / table[cell_types[0]]
    return table


def _promoter_auroc(adata, cell_types: list[str]) -> pd.Series:
    """Test AUROC of the label from promoter H3K4me3 alone (±500 bp): a floor any model
    must beat."""
    meta = get.metadata(adata)
    tss = (0 - meta["window"][0]) // meta["bin_size"]
    test = (adata.var["split"] == "test").to_numpy()
    signal = np.asarray(get.histone(adata[cell_types], marks=["H3K4me3"]))
    promoter = signal[:, :, 0, tss - 5 : tss + 5].mean(axis=2)
    labels = adata[cell_types].layers["label"]
    return pd.Series(
        [roc_auc_score(labels[i, test], promoter[i, test]) for i in range(len(cell_types))],
        index=cell_types,
    )


def _deletion_table(adata, key: str) -> pd.DataFrame:
    """Marks × (ON, OFF) mean predicted change from ``ct.tl.in_silico_deletion``."""
    summary = adata.uns[key]["summary"].copy()
    summary["mark"] = summary["perturbation"].str.removeprefix(f"{key}_")
    table = summary.pivot_table(index="mark", columns="status", values="mean_change")
    return table.reindex(index=get.marks(adata), columns=["ON", "OFF"])


def _prepare(adata, with_histone: list[str]) -> None:
    print("Label balance (share of 'high' genes; threshold: the genome-wide median):")
    share = pd.Series(np.nanmean(adata.layers["label"], axis=1), index=adata.obs_names)
    print(share.rename(index=lambda c: _named(adata, c)).round(2).to_string())
    raw = _mark_table(adata, with_histone)
    pp.crop(adata, (-5000, 5000))
    pp.normalize(adata)
    print("\nMean signal per mark, raw read counts (sequencing depth differs):")
    print(raw.round(3).to_string())
    print("\nAfter ct.pp.crop(±5 kb) and ct.pp.normalize (depth-scaled log1p):")
    print(_mark_table(adata, with_histone).round(3).to_string())
    pp.split(adata, seed=0)
    counts = adata.var["split"].value_counts()
    print("\nGenes per split: " + ", ".join(f"{s} {int(counts[s])}" for s in counts.index))


def _fit_all(adata, with_histone: list[str]) -> pd.DataFrame:
    rows = []
    for model, options in (("logreg", {}), ("deepchrome", {"epochs": 30})):
        for cell_type in with_histone:
            key = f"{model}_{cell_type}"
            tl.fit(adata, model, cell_types=[cell_type], key_added=key, seed=0, **options)
            metrics = adata.uns[key]["metrics"].set_index(["cell_type", "split"])
            rows.append(
                {
                    "model": model,
                    "trained on": _named(adata, cell_type),
                    "test AUROC": metrics.loc[(cell_type, "test"), "auroc"],
                    "test genes": int(metrics.loc[(cell_type, "test"), "n"]),
                    "paper AUROC (genome-wide)": adata.obs.loc[cell_type, "deepchrome_auc"],
                }
            )
    table = pd.DataFrame(rows)
    floor = _promoter_auroc(adata, with_histone)
    table["H3K4me3-promoter AUROC"] = [floor[c.split()[0]] for c in table["trained on"]]
    print(table.round(3).to_string(index=False))
    return table


def _figures(adata, out: Path) -> list[Path]:
    """The demo's figures, saved to ``out`` without showing them."""
    paths = [out / name for name in FIGURES]
    keys = ["deepchrome_E123", "logreg_E123"]
    pl.roc(adata, keys, cell_types="E123", show=False, save=paths[0])
    pl.deletion(adata, "deletion", show=False, save=paths[1])
    pl.finetune(adata, "finetune", show=False, save=paths[2])
    pl.learning_curve(adata, "deepchrome_E123", show=False, save=paths[3])
    import matplotlib.pyplot as plt

    plt.close("all")
    return paths


def run_demo(out: str | Path = "demo_output") -> None:
    """Load the REMC sample, prepare it as the papers do, fit, interpret, transfer, compare
    two cell types, store the result and read it back lazily; then summarise."""
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    print(
        "chromtools demo: the main job on the embedded Roadmap sample. It takes about "
        f"1-2 minutes on 2 CPU cores and writes to {out}/."
    )
    adata = datasets.remc_sample()
    with_histone = list(adata.obs_names[adata.obs["has_histone"]])
    _step("Data", started)
    print(
        f"{adata.n_obs} cell types × {adata.n_vars} genes; histone ChIP-seq "
        f"({', '.join(get.marks(adata))}) for {', '.join(_named(adata, c) for c in with_histone)}"
        "; RNA-seq for all of them"
    )
    _prepare(adata, with_histone)
    _step("Fit one model per cell type on the train genes, select on valid", started)
    fits = _fit_all(adata, with_histone)
    _step("Why a gene is on: each mark deleted in silico (DeepChrome, E123)", started)
    tl.in_silico_deletion(adata, "deepchrome_E123", cell_types=["E123"], key_added="deletion")
    print("Mean change of the predicted probability of 'high', ON vs OFF genes:")
    print(_deletion_table(adata, "deletion").round(3).to_string())
    _step("Transfer K562 → H1: the E123 DeepChrome model on E003", started)
    tl.finetune(adata, source_key="deepchrome_E123", target="E003", seed=0)
    transfer = adata.uns["finetune"]["metrics"][["target", "approach", "auroc", "n_train", "n"]]
    transfer = transfer.astype({"n_train": int, "n": int})
    print(transfer.round(3).to_string(index=False))
    _step("DeepDiff: E123 vs E003 log2 fold change, against its baselines", started)
    tl.differential(adata, "E123", "E003", seed=0)
    deepdiff = adata.uns["deepdiff"]["metrics"].query("split == 'test'").astype({"n": int})
    print(deepdiff[["model", "pearson", "spearman", "n"]].round(3).to_string(index=False))
    _step("Store and read back", started)
    store = out / "remc.zarr"
    io.write_zarr(adata, store)
    same = np.array_equal(
        get.histone(io.read_zarr(store)).compute(), np.asarray(get.histone(adata)), equal_nan=True
    )
    if not same:
        raise RuntimeError(f"the store at {store} does not hold what was written")
    figures = _figures(adata, out)
    print(summary(adata, fits, transfer, deepdiff, store, figures, time.perf_counter() - started))


def summary(adata, fits, transfer, deepdiff, store, figures, seconds: float) -> str:
    """The labelled summary that ends the demo, and what to try next."""
    lines = ["", "== Summary", f"Data      {adata.n_obs} cell types × {adata.n_vars} genes"]
    counts = adata.var["split"].value_counts()
    lines.append("Split     " + ", ".join(f"{int(counts[s])} {s}" for s in counts.index) + " genes")
    for row in fits.itertuples(index=False):
        lines.append(
            f"Fitted    {row.model} on {row[1]}: test AUROC {row[2]:.3f} over {row[3]} "
            f"test genes (DeepChrome paper, genome-wide: {row[4]:.2f})"
        )
    scores = transfer.set_index("approach")
    words = {"zero_shot": "zero-shot", "finetuned": "fine-tuned"}
    parts = [f"{words.get(a, a)} {scores.loc[a, 'auroc']:.3f}" for a in scores.index]
    n_train = int(scores["n_train"].max())
    lines.append(
        f"Transfer  {_named(adata, 'E123')} → {_named(adata, 'E003')}, test AUROC: "
        f"{', '.join(parts)} (fine-tuned and scratch on {n_train} E003 train genes)"
    )
    for row in deepdiff.itertuples(index=False):
        what = "DeepDiff" if row.model == "deepdiff" else f"baseline {row.model}"
        lines.append(
            f"DeepDiff  {what}: test Pearson r {row.pearson:.3f}, "
            f"Spearman {row.spearman:.3f} over {int(row.n)} genes"
        )
    lines.append(f"Store     {store} (read back lazily: identical signal)")
    lines.append("Figures   " + ", ".join(str(f) for f in figures))
    lines.append(f"Took      {seconds:.0f} s")
    lines += [
        "",
        "Try next:",
        "  - the tutorials (docs/tutorials): data model, prediction, transfer, DeepDiff,",
        "    interpretation and scanpy;",
        "  - your own bigWigs and genes: ct.io.read_bigwigs(",
        '        [("E123", "H3K4me3", "k562_h3k4me3.bw"), ...], "genes.gtf")',
        '  - a lazy store: adata = ct.io.read_zarr("demo_output/remc.zarr"), then ct.tl.fit(adata)',
    ]
    return "\n".join(lines)
