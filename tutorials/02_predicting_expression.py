# %% [markdown]
# # Predicting expression from histone marks
#
# DeepChrome (a CNN), AttentiveChrome (LSTMs with attention over bins and
# marks), TransferChrome (dense convolutions with self-attention) and a
# logistic-regression baseline, fitted on the real Roadmap sample through one
# `ct.tl.fit` call each, and compared with `ct.pl`.
#
# Every model is trained on the `train` genes of K562 (E123) and H1 (E003)
# pooled, early-stopped on `valid` and scored on `test`: one split per gene,
# so no gene is seen in training in any cell type and tested in another.

# %%
import matplotlib.pyplot as plt

import chromtools as ct

ct.settings.progress = False
adata = ct.datasets.remc_sample()
ct.pp.crop(adata, (-5000, 5000))  # DeepChrome's ±5 kb: 100 bins of 100 bp
ct.pp.normalize(adata)  # depth-scaled log1p per (cell type, mark)
ct.pp.split(adata, seed=0)
adata.var["split"].value_counts()

# %% [markdown]
# ## Fit
# Each call stores what it learned under its key: `uns[key]` (parameters,
# architecture, per-epoch history, weights, metrics) and `layers[key]`
# (predicted probability of high expression for every gene).

# %%
cell_types = ["E123", "E003"]
ct.tl.fit(adata, "logreg", cell_types=cell_types)
ct.tl.fit(adata, "deepchrome", cell_types=cell_types, seed=0)
ct.tl.fit(adata, "attentivechrome", cell_types=cell_types, epochs=15, seed=0)
ct.tl.fit(adata, "transferchrome", cell_types=cell_types, epochs=15, seed=0)
adata

# %%
keys = ["deepchrome", "attentivechrome", "transferchrome", "logreg"]
table = {k: adata.uns[k]["metrics"].query("split == 'test'").set_index("cell_type") for k in keys}
{k: t["auroc"].round(3).to_dict() for k, t in table.items()}

# %% [markdown]
# ## Compare
# `ct.pl.metrics` draws the stored test AUROC per cell type and model with a
# bootstrap interval over the test genes, the logistic regression as a grey
# bar and DeepChrome's published AUC for the full 19,802-gene data as a
# cross. With 83 test genes per cell type the intervals are wide: the models
# are within noise of each other here.

# %%
ct.pl.metrics(adata, ["deepchrome", "attentivechrome", "transferchrome"], show=False)
plt.show()

# %% [markdown]
# ROC curves of one cell type, every model overlaid (AUROC in the legend):

# %%
ct.pl.roc(adata, keys, cell_types="E123", show=False)
plt.show()

# %% [markdown]
# Learning curves: the training loss falls in both. DeepChrome's validation
# AUROC is highest early and then drifts down as it fits the training genes,
# so an early epoch is kept; AttentiveChrome's is still rising at its last
# epoch, so more epochs could help it (at more time). The dotted line is the
# epoch that was kept (best validation AUROC).

# %%
fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
ct.pl.learning_curve(adata, "deepchrome", ax=axes[0], show=False)
ct.pl.learning_curve(adata, "attentivechrome", ax=axes[1], show=False)
fig.tight_layout()
plt.show()

# %% [markdown]
# And whether the probabilities mean what they say (reliability curve and
# Brier score):

# %%
ct.pl.calibration(adata, ["deepchrome", "logreg"], cell_types="E003", show=False)
plt.show()
