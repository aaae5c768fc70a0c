"""The embedded real Roadmap sample and the synthetic histone data's planted truth."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import chromtools as ct


def test_remc_sample_is_the_shared_real_data(remc, shared_data):
    assert remc.shape == (9, 400)
    assert list(remc.obs_names[:2]) == ["E123", "E003"]
    assert remc.obs["has_histone"].sum() == 2
    assert ct.get.marks(remc) == ["H3K4me3", "H3K4me1", "H3K36me3", "H3K27me3", "H3K9me3"]
    assert remc.uns["chromtools"]["window"] == [-10000, 10000]
    assert remc.uns["chromtools"]["genome"] == "hg19"
    shipped = ct.io.read_deepdiff({"E123": shared_data / "remc" / "histone" / "E123.valid.csv.gz"})
    np.testing.assert_array_equal(
        ct.get.histone(remc[["E123"], shipped.var_names]), ct.get.histone(shipped)
    )
    assert remc.obs.loc["E123", "deepchrome_auc"] == 0.92
    assert remc.obs.loc["E003", "name"] == "H1_Cell_Line"
    assert remc.var["chrom"].notna().sum() == 362


def test_remc_sample_shows_the_known_biology(remc):
    histone = ct.get.histone(remc[["E123", "E003"]])
    label = remc[["E123", "E003"]].layers["label"]
    marks = ct.get.marks(remc)
    k4me3 = histone[:, :, marks.index("H3K4me3")]
    # H3K4me3 peaks at the TSS (bins 100-101 of 200) and separates high from low genes
    assert 95 <= int(np.argmax(k4me3.mean(axis=(0, 1)))) <= 110
    for c in range(2):
        assert roc_auc_score(label[c], k4me3[c, :, 95:110].mean(axis=1)) > 0.75
    # sequencing depth differs: E003 has more H3K27me3 and H3K4me3 reads than E123
    means = histone.mean(axis=(1, 3))
    assert 2.5 < means[1, marks.index("H3K27me3")] / means[0, marks.index("H3K27me3")] < 4.5
    assert 1.6 < means[1, marks.index("H3K4me3")] / means[0, marks.index("H3K4me3")] < 2.5


def test_synthetic_histone_is_deterministic(synthetic):
    again = ct.datasets.synthetic_histone(3, 60, n_bins=20, seed=7)
    np.testing.assert_array_equal(again.obsm["histone"], synthetic.obsm["histone"])
    np.testing.assert_array_equal(again.X, synthetic.X)
    other = ct.datasets.synthetic_histone(3, 60, n_bins=20, seed=8)
    assert not np.array_equal(other.obsm["histone"], synthetic.obsm["histone"])


def test_synthetic_histone_plants_the_documented_rules():
    adata = ct.datasets.synthetic_histone(
        3,
        3000,
        n_bins=100,
        seed=1,
        depth=[1.0, 2.0, 4.0],
        rule_shift=1.0,
        expression_missing=["cell1"],
    )
    histone = ct.get.histone(adata)
    marks = ct.get.marks(adata)
    label = adata.layers["label"]
    # planted depth: every mark scales with the cell type's depth factor
    ratio = histone[2].mean() / histone[0].mean()
    assert ratio == pytest.approx(4.0, rel=0.05)
    # H3K4me3 peaks at the TSS, H3K36me3 lies downstream in the gene body
    assert 48 <= int(np.argmax(histone[:, :, marks.index("H3K4me3")].mean(axis=(0, 1)))) <= 51
    body = histone[0, :, marks.index("H3K36me3")].mean(axis=0)
    assert body[70:].mean() > 3 * body[:40].mean()
    # activating marks rise with the label; repression moves from H3K27me3 to H3K9me3
    auc = {
        (c, mark): roc_auc_score(label[c], histone[c, :, marks.index(mark)].mean(axis=1))
        for c in (0, 2)
        for mark in marks
    }
    assert auc[0, "H3K4me3"] > 0.9 and auc[2, "H3K4me3"] > 0.9
    assert auc[0, "H3K27me3"] < 0.1 and auc[2, "H3K27me3"] == pytest.approx(0.5, abs=0.05)
    assert auc[2, "H3K9me3"] < 0.1 and auc[0, "H3K9me3"] == pytest.approx(0.5, abs=0.05)
    # labels split each cell type at its median; the cell type without RNA-seq has none
    assert np.nanmean(label[0]) == pytest.approx(0.5, abs=0.01)
    assert np.isnan(label[1]).all() and np.isnan(adata.X[1]).all()
    assert adata.obs["has_expression"].tolist() == [True, False, True]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {"shared": 1.5}, "shared must be between 0 and 1"),
        ((2, 10), {"depth": [1.0]}, "depth must be 2 positive numbers"),
        ((2, 10), {"expression_missing": ["x"]}, r"expression_missing names \['x'\]"),
    ],
)
def test_synthetic_histone_rejects_bad_parameters(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        ct.datasets.synthetic_histone(*args, **kwargs)


def test_a_synthetic_genome_on_a_full_disk_keeps_the_previous_file(small_disk, fill_up):
    path = small_disk / "genome.fa"
    path.write_text(">mine\nACGT\n")
    fill_up(small_disk, leave=4096)
    with pytest.raises(OSError, match=r"fasta: cannot write .*genome.fa: No space left"):
        ct.datasets.synthetic_sequences(400, 600, seed=0, fasta=path)
    assert path.read_text() == ">mine\nACGT\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "genome.fa"]


def test_a_synthetic_genome_over_a_folder_is_refused(tmp_path):
    with pytest.raises(IsADirectoryError, match=r"fasta: .* is a folder"):
        ct.datasets.synthetic_sequences(10, 50, seed=0, fasta=tmp_path)
