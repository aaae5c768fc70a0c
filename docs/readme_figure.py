"""Draw the README's figure from the embedded Roadmap sample: ``python docs/readme_figure.py``.

Three panels from one object: ROC curves of DeepChrome and a logistic
regression on K562 (E123), zero-shot transfer between K562 and H1 (E003),
and what deleting each mark does to DeepChrome's predictions. Written to
``docs/images/readme.png``.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import chromtools as ct  # noqa: E402

OUT = Path(__file__).parent / "images" / "readme.png"


def main() -> None:
    ct.settings.progress = False
    adata = ct.datasets.remc_sample()
    adata = adata[adata.obs["has_histone"]].copy()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "logreg", cell_types="E123")
    ct.tl.transfer_matrix(adata, model="deepchrome", seed=0)  # fits deepchrome_E123, _E003
    ct.tl.in_silico_deletion(adata, "deepchrome_E123", cell_types=["E123"])

    with ct.pl._utils.style():
        fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), gridspec_kw={"width_ratios": [1, 1, 1.3]})
    ct.pl.roc(adata, ["deepchrome_E123", "logreg"], cell_types="E123", ax=axes[0], show=False)
    ct.pl.transfer_heatmap(adata, ax=axes[1], show=False)
    ct.pl.deletion(adata, "deepchrome_E123_deletion", ax=axes[2], show=False)
    axes[0].set_title("Predicting expression (K562, test genes)")
    axes[2].set_title("Deleting each mark (K562)")
    fig.tight_layout()
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=110, bbox_inches="tight")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
