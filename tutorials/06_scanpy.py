# %% [markdown]
# # Chaining with scanpy
#
# A chromtools object is an ordinary AnnData: cell types are observations
# and genes are variables, so predicted expression (`layers[key]`) is a
# cell types × genes matrix that scanpy takes as it is. The 4-D histone
# signal is the one thing scverse tools cannot read directly; for them,
# `ct.get.as_features` flattens one cell type's signal into a genes ×
# (mark, bin) AnnData.

# %%
import anndata as ad
import matplotlib.pyplot as plt
import numpy as np
import scanpy as sc

import chromtools as ct

ct.settings.progress = False
adata = ct.datasets.remc_sample()
ct.pp.crop(adata, (-5000, 5000))
ct.pp.normalize(adata)
ct.pp.split(adata, seed=0)

# %% [markdown]
# ## Predicted expression for every cell type
# Fit DeepChrome on K562 (E123) and predict both cell types with ChIP-seq.
# Its layer is a (cell types, genes) matrix like `X`; NaN where a cell type
# has no signal.

# %%
ct.tl.fit(adata, "deepchrome", cell_types="E123", seed=0)
ct.tl.predict(adata, "deepchrome", cell_types=["E123", "E003"])
print(adata.layers["deepchrome"].shape, np.isfinite(adata.layers["deepchrome"]).sum(axis=1))

# %% [markdown]
# Measured and predicted side by side, as one AnnData with an `obs` column
# saying which is which: the measured labels of E123 and E003 and
# DeepChrome's predicted probabilities for them.

# %%
with_signal = adata[adata.obs["has_histone"]]
measured = ad.AnnData(
    np.asarray(with_signal.layers["label"], dtype=np.float32), var=adata.var[["gene_name"]]
)
measured.obs_names = [f"{c} measured" for c in with_signal.obs_names]
predicted = ad.AnnData(
    np.asarray(with_signal.layers["deepchrome"], dtype=np.float32), var=adata.var[["gene_name"]]
)
predicted.obs_names = [f"{c} predicted" for c in with_signal.obs_names]
both = ad.concat([measured, predicted], merge="same")
both.obs["source"] = ["measured"] * 2 + ["predicted"] * 2
both.obs["cell_type"] = list(with_signal.obs_names) * 2
both.obs["source"] = both.obs["source"].astype("category")
both

# %% [markdown]
# `sc.pl.heatmap` of the 30 genes DeepChrome is most sure about:

# %%
order = np.argsort(-np.abs(predicted.X[0] - 0.5))[:30]
top = both[:, both.var_names[order]].copy()
top.var_names = top.var["gene_name"].astype(str).to_numpy()
sc.pl.heatmap(top, top.var_names, groupby="source", cmap="viridis", show=False)
plt.show()

# %% [markdown]
# `sc.tl.rank_genes_groups` between the predicted and measured rows: the
# genes where DeepChrome's probabilities differ most from the labels.

# %%
sc.tl.rank_genes_groups(both, "source", method="t-test", reference="measured")
ranked = sc.get.rank_genes_groups_df(both, group="predicted").head(8)
ranked.insert(0, "gene_name", adata.var.loc[ranked["names"], "gene_name"].to_numpy())
ranked.drop(columns="names").set_index("gene_name")

# %% [markdown]
# ## The histone signal for scverse tools
# `ct.get.as_features(adata, "E123")` returns genes × (mark × bin) features
# for one cell type, with the cell type's expression, label and predictions
# as `obs` columns. PCA embeds genes by their chromatin, and the leading
# component separates expressed from silent genes.

# %%
features = ct.get.as_features(adata, "E123")
features

# %%
sc.pp.pca(features, n_comps=10)
features.obs["label"] = features.obs["label"].map({0.0: "low", 1.0: "high"}).astype("category")
sc.pl.pca(features, color=["label", "deepchrome"], ncols=1, show=False)
plt.show()

# %%
pc1 = features.obsm["X_pca"][:, 0]
print(
    "PC1 vs measured expression, Pearson r:",
    np.corrcoef(pc1, features.obs["expression"])[0, 1].round(2),
)
print(
    "PC1 loading, largest features:",
    list(features.var_names[np.argsort(-np.abs(features.varm["PCs"][:, 0]))[:5]]),
)
