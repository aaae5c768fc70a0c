# %% [markdown]
# # The chromtools data model on real Roadmap data
# Run as a script (`.venv/bin/python tutorials/01_data_model.py`) or open as a
# notebook (jupytext percent format). Everything it writes goes to a temporary
# folder.

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

# %% Subsetting genes: obsm keeps every stored gene, ct.get.histone follows var
first10 = adata[:, adata.var_names[:10]]
print("stored:", first10.obsm["histone"].shape, "aligned:", ct.get.histone(first10).shape)
# equal_nan: cell types without ChIP-seq hold NaN
same = np.array_equal(ct.get.histone(first10), adata.obsm["histone"][:, :10], equal_nan=True)
print("same values:", same)
print("what pp recorded:", list(adata.uns["chromtools"]["pp"]))

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

# %% Fit a baseline and DeepChrome on every cell type with labels (E123, E003),
# then predict the new cell type, which has histone signal but no labels
ct.tl.fit(combined, "logreg")
ct.tl.fit(combined, "deepchrome", epochs=10)
for key in ("logreg", "deepchrome"):
    print(key, combined.uns[key]["metrics"].query("split == 'test'").round(3).to_string())
ct.tl.predict(combined, "deepchrome", cell_types=["E003_replicate"])
print(
    "predicted high genes in E003_replicate:", int((combined.layers["deepchrome"][2] > 0.5).sum())
)
