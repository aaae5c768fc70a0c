# %% [markdown]
# # The chromtools data model on real Roadmap data
# Run as a script or open as a notebook (jupytext percent format).

# %%
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np

import chromtools as ct

ct.settings.progress = False
adata = ct.datasets.remc_sample()
print(adata)

# %% The DeepChrome setting: ±5 kb, depth-normalised, one split per gene
ct.pp.crop(adata, (-5000, 5000))
ct.pp.normalize(adata)
ct.pp.split(adata, seed=0)
print(adata.uns["chromtools"]["window"], adata.var["split"].value_counts().to_dict())

# %% Store it and read it back lazily
folder = Path(tempfile.mkdtemp())
ct.io.write_zarr(adata, folder / "remc.zarr")
lazy = ct.io.read_zarr(folder / "remc.zarr")
signal = ct.get.histone(lazy[["E003"], lazy.var_names[:10]], marks=["H3K4me3"])
print(type(signal).__name__, signal.shape)

# %% A new cell type with ChIP-seq but no RNA-seq is one more row
histone_only = adata[adata.obs["has_histone"]].copy()
new = histone_only[["E003"]].copy()
new.obs_names = ["E003_replicate"]
new.X[:] = np.nan
new.layers["label"][:] = np.nan
combined = ad.concat([histone_only, new], merge="same", uns_merge="same")
print(combined.obs_names.tolist(), ct.get.histone(combined).shape)

# %% Fit a baseline and DeepChrome on E123, predict the new cell type
ct.tl.fit(combined, "logreg", cell_types=["E123"])
ct.tl.fit(combined, "deepchrome", cell_types=["E123"], epochs=10)
for key in ("logreg", "deepchrome"):
    print(key, combined.uns[key]["metrics"].query("split == 'test'").round(3).to_string())
ct.tl.predict(combined, "deepchrome", cell_types=["E003_replicate"])
print("predicted high genes in E003_replicate:",
      int((combined.layers["deepchrome"][2] > 0.5).sum()))
