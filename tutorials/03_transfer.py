# %% [markdown]
# # Transfer across cell types, on real Roadmap data
# Run as a script (`.venv/bin/python tutorials/03_transfer.py`, under a
# minute on two cores) or open as a notebook (jupytext percent format).
#
# The question chromtools exists for: a cell type has ChIP-seq but few or no
# RNA-seq labels. How well does a model trained on a well-profiled cell type
# predict it, and how many target labels does transfer save?

# %%
import warnings

import anndata as ad
import matplotlib.pyplot as plt
import numpy as np

import chromtools as ct
from chromtools.tl import NormalizationWarning

ct.settings.progress = False
adata = ct.datasets.remc_sample()
adata = adata[adata.obs["has_histone"]].copy()  # K562 (E123) and H1 (E003)

# %% [markdown]
# Cell types differ in sequencing depth: raw counts are not comparable.
# `ct.pp.normalize` divides each (cell type, mark) track by its mean, then
# takes log1p; `finetune` warns when source and target signal were not
# normalised the same way.

# %%
raw_means = np.asarray(ct.get.histone(adata)).mean(axis=(1, 3))
ratios = raw_means[adata.obs_names.get_loc("E003")] / raw_means[adata.obs_names.get_loc("E123")]
marks = ct.get.marks(adata)
print(
    "E003 / E123 raw mean per mark:",
    {m: round(float(r), 2) for m, r in zip(marks, ratios, strict=True)},
)
ct.pp.crop(adata, (-5000, 5000))
ct.pp.normalize(adata)
ct.pp.split(adata, seed=0)

# %% Zero-shot, fine-tuned and from-scratch on E003, from a DeepChrome fitted on E123
ct.tl.fit(adata, "deepchrome", cell_types="E123", key_added="k562", seed=0)
ct.tl.finetune(adata, source="E123", target="E003", seed=0)
print(adata.uns["finetune"]["metrics"][["target", "approach", "auroc", "auprc", "n_train"]])
ct.pl.finetune(adata, show=False)
plt.show()

# %% [markdown]
# That is why the signal was normalised before fitting: a source model
# trained on raw counts, fine-tuned on this object's normalised signal, is
# flagged with a `NormalizationWarning` (caught and printed here), and its
# numbers should not be trusted.

# %% A model trained on raw counts, moved to normalised signal, is flagged
raw = ct.datasets.remc_sample()
raw = raw[raw.obs["has_histone"]].copy()
ct.pp.crop(raw, (-5000, 5000))
ct.pp.split(raw, seed=0)
ct.tl.fit(raw, "deepchrome", cell_types="E123", key_added="raw_k562", seed=0, epochs=5)
normalised = adata.copy()  # a copy, so that adata keeps only the models above
normalised.uns["raw_k562"] = raw.uns["raw_k562"]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", NormalizationWarning)
    ct.tl.finetune(normalised, source_key="raw_k562", target="E003", key_added="from_raw", epochs=5)
print(caught[0].message if caught else "no warning")

# %% [markdown]
# The fine-tuned model is kept, under `uns['finetune']['models']['E003']`, and
# can predict by name; its predictions for every gene are in
# `layers['finetune']`, and the test predictions of all three approaches in
# `uns['finetune']['test_predictions']` (for ROC curves).

# %%
ct.tl.predict(adata, "finetune/E003", cell_types="E003")
print(adata.layers["finetune_E003"][1, :5].round(3))

# %% How much target data does transfer save? (ChromTransfer's design)
curve = ct.tl.subsample_curve(
    adata, "E123", "E003", fractions=(0.05, 0.1, 0.5, 1.0), n_boot=3, seed=0
)
print(curve[["fraction", "approach", "n_train", "auroc_mean", "auroc_sd"]].round(3))
ct.pl.subsample_curve(adata, show=False)
plt.show()

# %% Every source against every target, applied as it is
print(ct.tl.transfer_matrix(adata, model="deepchrome", seed=0).round(3))
ct.pl.transfer_heatmap(adata, show=False)
plt.show()

# %% [markdown]
# ## A cell type with ChIP-seq and no RNA-seq
# Its labels are unknown, so there is nothing to fine-tune on: `finetune`
# gives it the source model's zero-shot predictions, and says so in
# `uns[key]['targets']`.

# %%
unlabelled = adata[["E003"]].copy()
unlabelled.obs_names = ["E003_no_rnaseq"]
unlabelled.X[:] = np.nan
unlabelled.layers["label"][:] = np.nan
both = ad.concat([adata, unlabelled], merge="same", uns_merge="same")
both.uns["k562"] = adata.uns["k562"]
ct.tl.finetune(both, source_key="k562", target="E003_no_rnaseq", key_added="new_cell_type")
targets = both.uns["new_cell_type"]["targets"].set_index("target")
print(targets.loc["E003_no_rnaseq", ["approach", "evaluated", "reason"]].to_string())
predicted = both.layers["new_cell_type"][both.obs_names.get_loc("E003_no_rnaseq")]
print("genes predicted high:", int((predicted > 0.5).sum()), "of", both.n_vars)

# %% [markdown]
# ## Conclusion
# On this pair of cell types a K562 model applied to H1 as it is (zero-shot)
# already ranks H1's genes well. Transfer pays off when the target has only
# a handful of labelled genes: with 5 % of them, fine-tuning the K562 model
# is better and far more stable across resamples than training from scratch.
# With more target labels a model trained from scratch on the target catches
# up, and with all of them it is the best of the three. A cell type with
# ChIP-seq and no RNA-seq still gets predictions, the zero-shot ones, and
# a model is only moved between objects whose signal was normalised the same
# way.
