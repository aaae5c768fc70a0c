"""Test AUROC of every histone model on the real REMC sample, with 95 % bootstrap intervals.

For E123 (K562) and E003 (H1), each model is fitted on one cell type's train
genes, selected on valid and scored on test, for the central ±5 kb (DeepChrome's
100 bins) and the full ±10 kb (200 bins). The logistic-regression baseline and
DeepChrome's published AUROC are printed alongside. A deep model that does not
beat logreg is flagged. The sample holds 400 genes, so a test split has ~80:
read the intervals before the point estimates.

    python benchmarks/accuracy.py [--epochs 30] [--models deepchrome attentivechrome ...]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import chromtools as ct
from chromtools.functional import bootstrap_interval

PAPER = {"E123": 0.92, "E003": 0.77}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument(
        "--models", nargs="+", default=["logreg", "deepchrome", "attentivechrome", "transferchrome"]
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ct.settings.progress = False

    rows = []
    for window in ((-5000, 5000), (-10000, 10000)):
        adata = ct.datasets.remc_sample()
        adata = adata[adata.obs["has_histone"]].copy()
        ct.pp.crop(adata, window)
        ct.pp.normalize(adata)
        ct.pp.split(adata, seed=args.seed)
        test = (adata.var["split"] == "test").to_numpy()
        for model in args.models:
            for cell_type in PAPER:
                key = f"{model}_{cell_type}"
                start = time.perf_counter()
                options = {} if model in ("logreg", "rf") else {"epochs": args.epochs}
                ct.tl.fit(adata, model, cell_types=[cell_type], key_added=key,
                          seed=args.seed, **options)  # fmt: skip
                row = adata.obs_names.get_loc(cell_type)
                truth = adata.layers["label"][row, test]
                predicted = adata.layers[key][row, test]
                metrics = adata.uns[key]["metrics"].set_index(["cell_type", "split"])
                low, high = bootstrap_interval(truth, predicted, "classification", metric="auroc")
                rows.append(
                    {
                        "window": f"±{window[1] // 1000} kb",
                        "model": model,
                        "cell_type": cell_type,
                        "test_auroc": metrics.loc[(cell_type, "test"), "auroc"],
                        "ci95_low": low,
                        "ci95_high": high,
                        "n_test": int(np.isfinite(truth).sum()),
                        "paper_deepchrome": PAPER[cell_type],
                        "seconds (fit + bootstrap)": time.perf_counter() - start,
                    }
                )
    table = pd.DataFrame(rows)
    baseline = table[table["model"] == "logreg"].set_index(["window", "cell_type"])["test_auroc"]
    reference = [baseline[(r.window, r.cell_type)] for r in table.itertuples()]
    table["beats_logreg"] = np.where(
        table["model"] == "logreg",
        "baseline",
        np.where(table["test_auroc"] > reference, "yes", "NO"),
    )
    pd.set_option("display.width", 160)
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
