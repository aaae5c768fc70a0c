# %% [markdown]
# # Why is a gene on? Interpreting histone and sequence models
#
# Two halves. First the histone models on the real Roadmap sample: where
# AttentiveChrome attends (α over bins, β over marks) and what deleting each
# mark does to its predictions. Then ChromTransfer, a sequence model, on DNA
# with planted JASPAR motifs, where the right answer is known: attribution,
# in-silico mutagenesis, JASPAR scanning and the motif enrichment test of
# Salvatore et al. (2022), motifs found without a database, and the effect
# of single-base variants. Every result is stored in the AnnData.

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import chromtools as ct

ct.settings.progress = False
adata = ct.datasets.remc_sample()
adata = adata[adata.obs["has_histone"]].copy()  # K562 (E123), H1 (E003)
ct.pp.crop(adata, (-5000, 5000))
ct.pp.normalize(adata)
ct.pp.split(adata, seed=0)
ct.tl.fit(adata, "attentivechrome", cell_types=["E123", "E003"], epochs=10, seed=0)

# %% [markdown]
# ## Attention (AttentiveChrome Fig. 2)
# `ct.tl.attention` stores α (cell types, genes, marks, bins) in
# `obsm["attentivechrome_alpha"]` and β (cell types, genes, marks) in
# `obsm["attentivechrome_beta"]`; `ct.get.attention` reads them aligned to
# `var`. The plot averages α per mark over the ON and the OFF genes.

# %%
ct.tl.attention(adata, "attentivechrome")
ct.pl.attention(adata, "attentivechrome", cell_types="E123", show=False)
plt.show()

# %% [markdown]
# β for a few highly expressed genes, in both cell types:

# %%
ct.pl.attention(adata, "attentivechrome", kind="beta", show=False)
plt.show()

# %% [markdown]
# ## Deleting marks
# Each mark in turn is replaced by zero and the genes predicted again; the
# change is stored per (cell type, gene) in one layer per mark, with a
# summary for ON and OFF genes. The papers' finding is that H3K4me3 and
# H3K36me3 mark active genes and H3K27me3/H3K9me3 repressed ones: deleting
# an activating mark should lower ON genes' predictions, deleting a
# repressive one raise OFF genes'.

# %%
ct.tl.in_silico_deletion(adata, "attentivechrome")
summary = adata.uns["attentivechrome_deletion"]["summary"]
print(
    summary.pivot_table(
        index="perturbation", columns=["cell_type", "status"], values="mean_change"
    ).round(3)
)
ct.pl.deletion(adata, "attentivechrome_deletion", cell_types="E123", show=False)
plt.show()

# %% [markdown]
# Gradient×input per mark and bin, the same layout as the signal, shaded
# behind one gene's marks:

# %%
ct.tl.attribute(adata, "attentivechrome", cell_types=["E123"])
gene = adata.var_names[np.nanargmax(adata.layers["attentivechrome"][0])]
ct.pl.signal(adata, gene, highlight="attentivechrome", show=False)
plt.show()

# %% [markdown]
# ## A sequence model with a known answer
# `synthetic_sequences` plants JASPAR sites in random DNA: REST sites open
# cell type A's own regions, ZNF143 sites B's, and TP53 sites the regions
# open in both. One ChromTransfer model per cell type learns which regions
# are open.

# %%
motifs = {"A": "MA0138.3", "B": "MA0088.2"}  # REST, ZNF143
dna = ct.datasets.synthetic_sequences(
    1200, 100, cell_types=("A", "B"), motifs=motifs, shared_motif="MA0106.3", seed=0
)
ct.pp.split(dna, seed=0)
for cell_type in motifs:
    ct.tl.fit(
        dna,
        "chromtransfer",
        cell_types=cell_type,
        key_added=f"ct_{cell_type}",
        epochs=8,
        batch_size=64,
        seed=0,
        hyperparameters={"filters": 32, "hidden": [32]},
    )
    print(
        cell_type,
        dna.uns[f"ct_{cell_type}"]["metrics"].query("split == 'test'")["auroc"].round(3).tolist(),
    )

# %% [markdown]
# ## ISM, and how well gradient×input agrees with it
# Exact in-silico mutagenesis scores all 3 substitutions of every base by
# brute force (only the receptive field of the changed base is recomputed).
# `compare="ism"` computes gradient×input too and stores each region's
# Pearson r between the two.

# %%
explain = list(dna.var_names[(dna.var["planted"] == "A").to_numpy()][:10])
ct.tl.attribute(dna, "ct_A", genes=explain, compare="ism")
print(dna.uns["ct_A_attr"]["compare"].round(3))

# %% [markdown]
# ## Attribution of every region, and JASPAR sites
# Gradient×input for every region (replacing the 10 above), and FIMO
# (memelite) with every JASPAR2024 vertebrate CORE matrix on both strands.

# %%
for key in ("ct_A", "ct_B"):
    ct.tl.attribute(dna, key)
ct.tl.scan_motifs(dna, pvalue=1e-4)
print(dna.uns["motif_sites_params"]["n_motifs"], "motifs,", len(dna.uns["motif_sites"]), "sites")
region = explain[0]
ct.pl.attribution(dna, "ct_A", region, show=False)
plt.show()

# %% [markdown]
# The planted REST site stands out in the logo, with its JASPAR hit beneath.

# %% [markdown]
# ## Which motifs does each model rely on?
# Each site gets the largest attribution over its bases; per TF, a
# Kolmogorov–Smirnov test compares its sites with every other TF's sites
# (signed D, BH FDR). Paralogs whose matrices match the same sites (TP53,
# TP63, TP73) share a `family`. The two models' tables, joined, give
# ChromTransfer's Fig. 3G: TP53 matters to both, REST to A only, ZNF143 to
# B only. Each model is tested on the regions it predicts open, so a motif
# with fewer than `min_sites` sites there is tested in one model only: REST
# (planted in A's regions) in A's, ZNF143 in B's. The scatter draws such
# motifs as open diamonds on the edge of the other model's axis, coloured
# by where they are significant; the strongest motif of each colour is named.
#
# The FDRs are printed in scientific notation: rounded to a few decimals,
# the top ones would all read 0. A KS p-value too small for a float64 is
# stored as its smallest positive value (about 2e-308), an upper bound, and
# would print here as `< 1e-300`.


# %%
def fdr_text(p: float) -> str:
    """An FDR in scientific notation; those at float64's floor as the bound they are."""
    return "< 1e-300" if p < 1e-300 else f"{p:.1e}"


joined = ct.tl.motif_enrichment(dna, "ct_A", cell_type="A", reference="ct_B", min_sites=20)
top = dna.uns["ct_A_motifs"][["tf_name", "family", "n_sites", "ks_d", "fdr"]].head(6)
print(top.to_string(formatters={"ks_d": "{:+.3f}".format, "fdr": fdr_text}))
ct.pl.motif_scatter(dna, "ct_A", "ct_B", show=False)
plt.show()

# %%
ct.pl.motif_ecdf(dna, "ct_A", "REST", show=False)
plt.show()

# %% [markdown]
# ## Motifs the model learned, without a database
# `ct.tl.denovo_motifs` looks for what the model relies on without asking
# JASPAR first: it cuts the stored gradient×input into seqlets (stretches of
# high attribution, kept where their false discovery rate against the
# negative tail is under 5 %), clusters them on both strands into patterns,
# and only then matches each pattern against JASPAR with TOMTOM (q-values
# by Benjamini–Hochberg over the JASPAR matrices). A pattern with no
# significant match would be a motif JASPAR does not have.

# %%
ct.tl.denovo_motifs(dna, "ct_A", cell_type="A")
patterns = dna.uns["denovo_motifs"]["patterns"]
print(
    patterns[["pattern", "n_seqlets", "best_match_tf", "qvalue", "family"]].to_string(
        index=False, formatters={"qvalue": "{:.1e}".format}
    )
)
ct.pl.denovo_motifs(dna, patterns=3, show=False)
plt.show()

# %% [markdown]
# Both motifs that open A's regions come out from the attributions alone:
# TP53 (planted in regions open in both cell types) and REST (A's own), each
# named by TOMTOM with its family. The logo of each pattern (its bases at
# their mean contribution) sits beside the JASPAR matrix it matches, turned
# to the pattern's strand and shifted to where TOMTOM aligned it
# (`match_strand`, `match_offset`). `finder="modisco"` runs TF-MoDISco
# (modisco-lite) instead of the built-in finder; its patterns land in the
# same tables and plots.

# %% [markdown]
# ## What does a variant do?
# `ct.tl.variant_effects` scores single-base variants, given as a table
# (region and 0-based position, or chromosome and VCF position) or a VCF
# file: each model predicts the region with the ref and the alt allele (the
# change of the logit is exactly the ISM delta of that base), and both
# alleles are scanned for JASPAR sites, so the table names the sites a
# variant breaks or creates. Here: in one region opened by its REST site,
# the most conserved base of the site, changed to the base REST likes
# least, and two bases far from the site.

# %%
rest = ct.io.read_jaspar(motifs=["MA0138.3"])[0]["frequencies"]  # (21, 4): A, C, G, T
region = dna.var_names[(dna.var["planted"] == "A").to_numpy()][0]
row = dna.var_names.get_loc(region)
start, strand = int(dna.var["motif_start"].iloc[row]), dna.var["motif_strand"].iloc[row]
column = int(np.argmax(rest.max(axis=1)))  # the site's most certain base
position = start + (len(rest) - 1 - column if strand == "-" else column)
bases = dna.varm["onehot"][row].argmax(axis=1)
least = int(np.argmin(rest[column]))
alt = "ACGT"[3 - least if strand == "-" else least]
variants = pd.DataFrame(
    {
        "id": ["rest_core", "far_5", "far_90"],
        "region": region,
        "position": [position, 5, 90],
        "ref": ["ACGT"[bases[p]] for p in (position, 5, 90)],
        "alt": [alt, "ACGT"[(bases[5] + 1) % 4], "ACGT"[(bases[90] + 1) % 4]],
    }
)
ct.tl.variant_effects(dna, "ct_A", variants, motifs=["MA0138.3", "MA0088.2", "MA0106.3"])
effects = dna.uns["variant_effects"]["effects"]
print(
    effects[
        [
            "variant",
            "position",
            "ref",
            "alt",
            "ref_prediction",
            "alt_prediction",
            "delta",
            "sites_lost",
            "sites_gained",
        ]
    ]
    .round(3)
    .to_string(index=False)
)
ct.pl.variant_effect(dna, "rest_core", show=False)
plt.show()

# %% [markdown]
# The variant in the core of the site lowers the predicted probability of an
# open region and is reported as breaking the REST site (`sites_lost`); the
# two far from it change the prediction by less than 0.001. The logos show
# why: at the changed base gradient×input turns strongly negative, and the
# bar beneath spans the REST site the alt allele breaks.
