"""What the histone models rely on in real data: β, mark deletion and attribution, E123 and E003.

AttentiveChrome, DeepChrome and TransferChrome are fitted on each cell type
of the embedded REMC sample (±5 kb, 100 bins). Printed per cell type and
mark: AttentiveChrome's mean β over predicted ON and OFF genes, the mean
predicted change of deleting the mark (DeepChrome and AttentiveChrome) on
ON and OFF genes (ON: label 1), and DeepChrome's mean gradient×input; each
model's test AUROC says how far to trust it. Predicted ON is a prediction
above the cell type's median, as the labels are expression above the median. The papers' finding
is that H3K4me3 and H3K36me3 mark active genes and H3K27me3 and H3K9me3
repressed ones; the table says per mark whether our models agree.

    python benchmarks/_interpret_histone.py [--epochs 30]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

import chromtools as ct

CELL_TYPES = ("E123", "E003")
#: The published direction of each mark: +1 activating, -1 repressive (H3K4me1: enhancers, mixed).
EXPECTED = {"H3K4me3": 1, "H3K36me3": 1, "H3K27me3": -1, "H3K9me3": -1, "H3K4me1": 0}


def _fitted(epochs: int, seed: int):
    adata = ct.datasets.remc_sample()
    adata = adata[list(CELL_TYPES)].copy()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=seed)
    for model in ("attentivechrome", "deepchrome"):
        for cell in CELL_TYPES:
            key = f"{model}_{cell}"
            ct.tl.fit(adata, model, cell_types=[cell], key_added=key, epochs=epochs, seed=seed)
    return adata


def _predicted_on(adata, key: str, cell: str) -> np.ndarray:
    """Predicted ON: above the median prediction, as the labels are above the median expression.

    (A threshold of 0.5 would call every gene ON for a model whose ranking is
    good but whose probabilities are not calibrated.)
    """
    predicted = adata.layers[key][adata.obs_names.get_loc(cell)]
    return predicted > np.median(predicted)


def _test_auroc(adata, key: str, cell: str) -> float:
    metrics = adata.uns[key]["metrics"].set_index(["cell_type", "split"])
    return float(metrics.loc[(cell, "test"), "auroc"])


def run(epochs: int = 30, seed: int = 0) -> pd.DataFrame:
    """One row per cell type and mark; the columns are printed by ``__main__``."""
    adata = _fitted(epochs, seed)
    marks = ct.get.marks(adata)
    rows = []
    for cell in CELL_TYPES:
        row = adata.obs_names.get_loc(cell)
        attentive, deep = f"attentivechrome_{cell}", f"deepchrome_{cell}"
        ct.tl.attention(adata, attentive, cell_types=[cell])
        beta = ct.get.attention(adata, attentive)[1][row]
        on = _predicted_on(adata, attentive, cell)
        ct.tl.attribute(adata, deep, cell_types=[cell])
        attr = ct.get.attributions(adata, deep)[row].mean(axis=-1)  # genes × marks
        deep_on = _predicted_on(adata, deep, cell)
        change = {}
        for key in (attentive, deep):
            ct.tl.in_silico_deletion(adata, key, cell_types=[cell], key_added=f"del_{key}")
            summary = adata.uns[f"del_{key}"]["summary"].set_index(["perturbation", "status"])
            change[key] = summary["mean_change"]
        for m, mark in enumerate(marks):
            entry = {
                "cell_type": cell,
                "auroc_attentive": _test_auroc(adata, attentive, cell),
                "auroc_deep": _test_auroc(adata, deep, cell),
                "mark": mark,
                "beta_on": float(beta[on, m].mean()),
                "beta_off": float(beta[~on, m].mean()),
            }
            for key, name in ((attentive, "attentive"), (deep, "deep")):
                layer = f"del_{key}_{mark}"
                entry[f"delete_{name}_on"] = float(change[key][(layer, "ON")])
                entry[f"delete_{name}_off"] = float(change[key][(layer, "OFF")])
            entry["gxi_deep_on"] = float(attr[deep_on, m].mean())
            entry["gxi_deep_off"] = float(attr[~deep_on, m].mean())
            rows.append(entry)
    table = pd.DataFrame(rows)
    table["expected"] = table["mark"].map(
        {m: {1: "activating", -1: "repressive", 0: "mixed"}[d] for m, d in EXPECTED.items()}
    )
    for name in ("attentive", "deep"):
        table[f"agrees_{name}"] = [_agrees(r, name) for r in table.itertuples()]
    return table


def _agrees(row, model: str, negligible: float = 0.01) -> str:
    """Deleting an activating mark lowers ON genes' predictions; a repressive one raises OFF's.

    ``"≈0"`` when the mean change is below ``negligible`` (a probability), whatever its sign.
    """
    direction = EXPECTED.get(row.mark, 0)
    if direction == 0:
        return "n/a"
    status = "on" if direction > 0 else "off"
    change = getattr(row, f"delete_{model}_{status}")
    if abs(change) < negligible:
        return "≈0"
    return "yes" if np.sign(change) == -direction else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    ct.settings.progress = False
    pd.set_option("display.width", 200)
    print(run(args.epochs, args.seed).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
