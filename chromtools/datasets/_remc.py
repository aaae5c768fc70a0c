"""The real Roadmap Epigenomics sample shipped inside chromtools."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ..io._csv import read_deepdiff

# Cell types whose histone signal is shipped; expression is shipped for all nine.
HISTONE_CELL_TYPES = ("E123", "E003")


def _data_dir() -> Path:
    return Path(str(resources.files("chromtools.datasets") / "_data"))


def deepchrome_reference() -> pd.DataFrame:
    """DeepChrome's published test AUC for the 56 REMC cell types.

    Returns
    -------
    DataFrame indexed by Roadmap epigenome id (``E003`` …) with columns
    ``cell_type`` (Roadmap name) and ``deepchrome_auc``.
    """
    return pd.read_csv(_data_dir() / "reference" / "deepchrome_auc_56_celltypes.csv", index_col=0)


def chromtransfer_reference() -> pd.DataFrame:
    """ChromTransfer's published test auROC/auPR for six cell lines (chr2/chr3 held out).

    Returns
    -------
    DataFrame indexed by cell line with the multi-class baseline's auROC and
    auPR and the fine-tuned model's auROC.
    """
    return pd.read_csv(
        _data_dir() / "reference" / "chromtransfer_auroc_6_celllines.csv", index_col=0
    )


def remc_genes() -> pd.DataFrame:
    """GENCODE (hg38) transcription start sites of the sample's genes, for ``read_bigwigs``.

    The 362 of :func:`remc_sample`'s 400 genes whose name, chromosome and
    strand match one GENCODE gene (from the GENCODE hg38 TSS table; the
    sample's signal itself is hg19). A gene table as
    :func:`~chromtools.io.read_genes` takes it, to build bigWig examples
    around real TSSs.

    Returns
    -------
    DataFrame with ``gene_id`` (Ensembl), ``gene_name``, ``chrom``, ``tss``
    (1-based), ``strand`` and ``gene_type``.
    """
    return pd.read_csv(_data_dir() / "remc" / "gencode_tss.tsv", sep="\t")


def remc_sample() -> ad.AnnData:
    """Real Roadmap (REMC, hg19) histone signal and RNA-seq for 400 genes.

    Histone signal: read counts of H3K4me3, H3K4me1, H3K36me3, H3K27me3 and
    H3K9me3 in 200 bins of 100 bp (±10 kb around the TSS, 5'→3' on the gene's
    strand) for K562 (``E123``) and H1 ES cells (``E003``), the same 400 genes
    in both, as distributed with DeepDiff. Expression: RNA-seq read counts of
    nine cell types (E003–E007, E037, E038, E116, E123). The binary label is
    the papers' rule: log2(count + 1) above the cell type's median over all
    19,795 genes of its table (not over the 400 shipped here).

    Which cell types carry what (codes are ``obs_names``; ``obs['name']`` holds
    the Roadmap names)::

        code   name                                         ChIP-seq  RNA-seq
        E123   K562                                         yes       yes
        E003   H1 ES cells (H1_Cell_Line)                   yes       yes
        E004   H1 BMP4-derived mesendoderm                  no        yes
        E005   H1 BMP4-derived trophoblast                  no        yes
        E006   H1-derived mesenchymal stem cells            no        yes
        E007   H1-derived neuronal progenitors              no        yes
        E037   CD4 memory primary cells                     no        yes
        E038   CD4 naive primary cells                      no        yes
        E116   GM12878 (lymphoblastoid)                     no        yes

    Models train and predict on E123 and E003; the other seven have
    expression (labels) only, so they can be scored but not predicted here.
    ``ct.tl.finetune(adata, source="E123", target="E003")`` moves a K562
    model to H1. Pass codes, not names: ``source="GM12878"`` is refused with
    its code ``E116``.

    Crop to the central ±5 kb with ``ct.pp.crop(adata, (-5000, 5000))`` for the
    DeepChrome/AttentiveChrome setting.

    Returns
    -------
    AnnData, 9 cell types × 400 genes, with

    ``obs``
        ``name`` (Roadmap cell type), ``has_histone`` (False for the seven
        cell types with expression only, whose histone signal is NaN),
        ``expression_median`` (genome-wide label threshold) and
        ``deepchrome_auc`` (DeepChrome's published test AUC).
    ``var``
        ``gene_name``; ``chrom``, ``strand`` and ``gene_type`` matched by gene
        symbol to GENCODE (NaN for 38 genes renamed since hg19); ``split``:
        the ``train``/``valid`` file each gene came from in the published data.
    ``X``, ``layers['counts']``, ``layers['label']``
        log2(count + 1), raw read counts and high/low labels.
    ``obsm['histone']``
        (9, 400, 5, 200) float32 read counts.
    ``uns['chromtools']``
        marks, ``bin_size`` 100, ``window`` (-10000, 10000), genome ``hg19``.
    """
    root = _data_dir() / "remc"
    histone = {
        cell_type: {
            split: root / "histone" / f"{cell_type}.{split}.csv.gz" for split in ("train", "valid")
        }
        for cell_type in HISTONE_CELL_TYPES
    }
    adata = read_deepdiff(histone, root / "expression", genome="hg19")

    genes = pd.read_csv(root / "genes.tsv", sep="\t", index_col="gene_id")
    for column in ("chrom", "strand", "gene_type"):
        adata.var[column] = genes[column].reindex(adata.var_names).to_numpy()

    reference = deepchrome_reference()
    adata.obs.insert(0, "name", reference["cell_type"].reindex(adata.obs_names).to_numpy())
    adata.obs["deepchrome_auc"] = (
        reference["deepchrome_auc"].reindex(adata.obs_names).to_numpy(dtype=np.float64)
    )
    return adata
