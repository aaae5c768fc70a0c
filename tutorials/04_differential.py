# %% [markdown]
# # Differential expression with DeepDiff
#
# Which genes change between two cell types, and can the marks of both
# predict by how much? DeepDiff (Sekhon et al. 2018) regresses the log2 fold
# change of expression between cell types A and B from the histone signal of
# both; `ct.tl.differential` fits it on the `train` genes, early-stops on
# `valid`, and scores it and its baselines on `test` (Pearson, Spearman, MSE).
# Here: K562 (E123) against H1 (E003) in the real Roadmap sample.

# %%
import matplotlib.pyplot as plt
import numpy as np

import chromtools as ct

ct.settings.progress = False
adata = ct.datasets.remc_sample()
adata = adata[adata.obs["has_histone"]].copy()
ct.pp.crop(adata, (-5000, 5000))
ct.pp.normalize(adata)
ct.pp.split(adata, seed=0)

# %% [markdown]
# The target: log2((count_B + 1) / (count_A + 1)) per gene, from the RNA-seq
# counts of both cell types.

# %%
ct.pp.log_fold_change(adata, "E123", "E003", key_added="log2fc")
adata.var["log2fc"].describe().round(2)

# %% [markdown]
# ## DeepDiff and its baselines
# `variant="raw_d"` is the paper's model on the raw signal of both cell types;
# `baselines=True` also fits the AttentiveChrome-difference and the SVR on
# the concatenated signal that the paper compares against.

# %%
ct.tl.differential(adata, "E123", "E003", variant="raw_d", epochs=10, seed=0, baselines=True)
metrics = adata.uns["deepdiff"]["metrics"]
metrics.query("split == 'test'").round(3)

# %% [markdown]
# Predicted against measured fold change on the test genes, for DeepDiff and
# each baseline (the columns `differential` wrote to `var`):

# %%
test = (adata.var["split"] == "test").to_numpy()
columns = [c for c in adata.var.columns if c.startswith("deepdiff")]
measured = adata.var["log2fc"].to_numpy(float)
size = (2.6 * len(columns), 3.0)
fig, axes = plt.subplots(1, len(columns), figsize=size, sharey=True, squeeze=False)
for ax, column in zip(axes[0], columns, strict=True):
    predicted = adata.var[column].to_numpy(float)
    r = np.corrcoef(measured[test], predicted[test])[0, 1]
    ax.scatter(measured[test], predicted[test], s=8, color="#0072B2")
    ax.axline((0, 0), slope=1, color="0.7", lw=0.8)
    ax.set_xlabel("Measured log2 FC\n(E003 / E123)")
    ax.set_title(f"{column}\nr = {r:.2f}", fontsize=9)
axes[0, 0].set_ylabel("Predicted log2 FC")
fig.tight_layout()
plt.show()

# %% [markdown]
# The genes DeepDiff predicts to change most:

# %%
order = adata.var["deepdiff"].sort_values()
extremes = list(order.index[:5]) + list(order.index[-5:])
adata.var.loc[extremes, ["gene_name", "log2fc", "deepdiff"]].round(2)
