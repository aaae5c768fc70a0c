# %% [markdown]
# # From bigWigs to AnnData
#
# chromtools keeps everything in one AnnData: **cell types in `obs`, genes in
# `var`**, expression in `X` and `layers["label"]`, and the binned histone
# signal as a 4-D `obsm["histone"]` (cell types, genes, marks, bins), backed
# by a chunked Zarr store.
#
# This tutorial writes a few bigWig files (small fixtures with peaks around
# real GENCODE TSSs, as a ChIP-seq pipeline would produce them), reads them
# with `ct.io.read_bigwigs` straight into a Zarr store, inspects the store
# lazily, and adds a cell type that has ChIP-seq but no RNA-seq.
# Everything is written to a temporary folder.

# %%
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pyBigWig

import chromtools as ct

ct.settings.progress = False
folder = Path(tempfile.mkdtemp())

# %% [markdown]
# ## Fixture bigWigs around real TSSs
# `ct.datasets.remc_genes()` holds the GENCODE TSSs of the 362 genes of the
# embedded Roadmap sample. For two cell types we write one bigWig per mark:
# H3K4me3 peaks at the TSS of the genes the cell type expresses (its real
# RNA-seq, from `remc_sample`), H3K36me3 over their bodies, H3K27me3 around
# the silent ones, and low background everywhere.

# %%
genes = ct.datasets.remc_genes()
counts = ct.datasets.remc_sample()[:, genes["gene_id"]].layers["counts"]
expressed = {cell: counts[i] > np.median(counts[i]) for i, cell in enumerate(["E123", "E003"])}
sizes = (genes.groupby("chrom")["tss"].max() + 20_000).to_dict()
rng = np.random.default_rng(0)


def write_track(path, cell, mark):
    """One bigWig of 50 bp bins over ±6 kb of every TSS: background plus mark-specific peaks."""
    on = expressed[cell]
    with pyBigWig.open(str(path), "w") as bigwig:
        bigwig.addHeader(sorted(sizes.items()))
        for chrom in sorted(sizes):
            here = genes[genes["chrom"] == chrom]
            centres = here["tss"].to_numpy() // 50
            covered = np.unique((centres[:, None] + np.arange(-120, 120)).ravel())
            covered = covered[covered >= 0]
            signal = pd.Series(rng.gamma(1.0, 0.2, size=len(covered)), index=covered)
            for centre, strand, is_on in zip(centres, here["strand"], on[here.index], strict=True):
                sign = 1 if strand == "+" else -1
                if mark == "H3K4me3" and is_on:
                    signal.loc[centre - 20 : centre + 19] += 8
                if mark == "H3K36me3" and is_on:
                    low, high = sorted((centre + sign * 10, centre + sign * 90))
                    signal.loc[low:high] += 3
                if mark == "H3K27me3" and not is_on:
                    signal.loc[centre - 60 : centre + 59] += 4
            starts = (covered * 50).tolist()
            ends = (covered * 50 + 50).tolist()
            bigwig.addEntries([chrom] * len(starts), starts, ends=ends, values=signal.tolist())


rows = []
for cell in ("E123", "E003"):
    for mark in ("H3K4me3", "H3K36me3", "H3K27me3"):
        path = folder / f"{cell}_{mark}.bw"
        write_track(path, cell, mark)
        rows.append((cell, mark, path))
tracks = pd.DataFrame(rows, columns=["cell_type", "mark", "path"])
tracks

# %% [markdown]
# ## Read them into a Zarr store
# `read_bigwigs` bins each mark in 100 bp bins over ±5 kb of every TSS, on
# the gene's strand, and streams the result into the store chunk by chunk.
# The expression tables (here the sample's RNA-seq counts) give `X`
# (log2(count + 1)) and the papers' high/low label.

# %%
expression = {
    cell: pd.Series(counts[i], index=genes["gene_id"]) for i, cell in enumerate(["E123", "E003"])
}
adata = ct.io.read_bigwigs(
    tracks, genes, folder / "fixture.zarr", window=(-5000, 5000), expression=expression
)
adata

# %%
print("obsm['histone']:", adata.obsm["histone"].shape, "(cell types, genes, marks, bins)")
print("marks:", ct.get.marks(adata))
print("genes labelled high per cell type:", np.nansum(np.asarray(adata.layers["label"]), axis=1))

# %% [markdown]
# ## Read it back lazily
# `ct.io.read_zarr` is lazy by default: the signal stays on disk as a dask
# array until it is computed. AnnData indexes `obsm` by cell type only, so
# the gene axis of a 4-D array would not follow a gene subset; `ct.get`
# returns it aligned to the current `var`, and still lazy.

# %%
lazy = ct.io.read_zarr(folder / "fixture.zarr")
subset = lazy[["E003"], lazy.var_names[:10]]
signal = ct.get.histone(subset, marks=["H3K4me3"])
print(type(signal).__name__, signal.shape)
profile = np.asarray(signal).mean(axis=(0, 1, 2))
print("mean H3K4me3 at the 10 bins around the TSS:", profile[45:55].round(2))

# %% [markdown]
# The planted TSS peaks are there: H3K4me3 is high in the central bins of the
# genes E003 expresses, and the DeepChrome models of the next tutorial learn
# exactly this.

# %%
on = np.asarray(adata.layers["label"])[1] == 1
h3k4me3 = np.asarray(ct.get.histone(adata, marks=["H3K4me3"]))[1, :, 0]
print(
    "E003 H3K4me3 at the TSS, ON vs OFF genes:",
    h3k4me3[on, 45:55].mean().round(2),
    h3k4me3[~on, 45:55].mean().round(2),
)

# %% [markdown]
# ## A cell type with ChIP-seq but no RNA-seq
# It is one more row: its expression and labels are NaN, which every tool
# reads as "unknown" (a model can still predict it). `ad.concat` keeps the
# chromtools metadata with `uns_merge="same"`.

# %%
new = adata[["E003"]].copy()
new.obs_names = ["E003_no_rnaseq"]
new.X[:] = np.nan
new.layers["label"][:] = np.nan
combined = ad.concat([adata, new], merge="same", uns_merge="same")
print(combined.obs_names.tolist(), ct.get.histone(combined).shape)
print(
    "labelled genes per cell type:", np.isfinite(np.asarray(combined.layers["label"])).sum(axis=1)
)

# %% [markdown]
# The same layout holds the real data: `ct.datasets.remc_sample()` is real
# Roadmap signal (K562 and H1) and RNA-seq for nine cell types.

# %%
ct.datasets.remc_sample()
