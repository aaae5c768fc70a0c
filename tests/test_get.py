"""ct.get.histone stays aligned with var through every AnnData operation."""

from __future__ import annotations

import anndata as ad
import dask.array as da
import numpy as np
import pytest

import chromtools as ct


def _by_gene(adata) -> dict[str, np.ndarray]:
    """Each gene's signal for every cell type, keyed by gene id (reference values)."""
    histone = np.asarray(ct.get.histone(adata))
    return {gene: histone[:, i] for i, gene in enumerate(adata.var_names)}


def test_histone_follows_a_gene_mask(synthetic):
    truth = _by_gene(synthetic)
    mask = synthetic.var["strand"].to_numpy() == "-"
    subset = synthetic[:, mask]
    histone = ct.get.histone(subset)
    assert histone.shape == (3, mask.sum(), 5, 20)
    for i, gene in enumerate(subset.var_names):
        np.testing.assert_array_equal(histone[:, i], truth[gene])


def test_histone_follows_cell_type_selection_and_reordering(synthetic):
    truth = _by_gene(synthetic)
    order = synthetic.var_names[np.random.default_rng(0).permutation(synthetic.n_vars)]
    subset = synthetic[["cell2", "cell0"], order]
    histone = ct.get.histone(subset)
    for i, gene in enumerate(order):
        np.testing.assert_array_equal(histone[0, i], truth[gene][2])
        np.testing.assert_array_equal(histone[1, i], truth[gene][0])


def test_histone_selects_marks_by_name(synthetic):
    full = ct.get.histone(synthetic)
    marks = ct.get.marks(synthetic)
    picked = ct.get.histone(synthetic, marks=["H3K27me3", "H3K4me3"])
    np.testing.assert_array_equal(picked[:, :, 0], full[:, :, marks.index("H3K27me3")])
    np.testing.assert_array_equal(picked[:, :, 1], full[:, :, marks.index("H3K4me3")])
    with pytest.raises(KeyError, match=r"marks \['H3K27ac'\] are not in this object's marks"):
        ct.get.histone(synthetic, marks=["H3K27ac"])


def test_concat_of_a_new_cell_type(synthetic):
    truth = _by_gene(synthetic)
    reference, new = synthetic[:2].copy(), synthetic[2:].copy()
    new.X[:] = np.nan  # a cell type with ChIP-seq but no RNA-seq
    combined = ad.concat([reference, new], uns_merge="same")
    assert list(combined.obs_names) == ["cell0", "cell1", "cell2"]
    histone = ct.get.histone(combined)
    for i, gene in enumerate(combined.var_names):
        np.testing.assert_array_equal(histone[:, i], truth[gene])
    assert np.isnan(combined.X[2]).all()


def test_concat_refuses_to_guess_a_lost_gene_order(synthetic):
    reference = synthetic[:2].copy()
    # built separately with the genes in another order: the stored orders differ
    new = synthetic[2:, synthetic.var_names[::-1]].copy()
    ct.get.realign(new)
    combined = ad.concat([reference, new[:, reference.var_names]], uns_merge="same")
    with pytest.raises(KeyError, match="var_names'] is missing"):
        ct.get.histone(combined)
    # the fix the message names: realign each part to the reference order first
    fixed = new[:, reference.var_names].copy()
    ct.get.realign(fixed)
    combined = ad.concat([reference, fixed], uns_merge="same")
    np.testing.assert_array_equal(ct.get.histone(combined), ct.get.histone(synthetic))


def test_plain_concat_without_metadata_is_refused(synthetic):
    combined = ad.concat([synthetic[:2], synthetic[2:]])
    with pytest.raises(KeyError, match="uns_merge='same'"):
        ct.get.histone(combined)


def test_realign_shrinks_the_store_to_the_current_genes(synthetic):
    truth = _by_gene(synthetic)
    subset = synthetic[:, ::3].copy()
    assert subset.obsm["histone"].shape[1] == synthetic.n_vars
    ct.get.realign(subset)
    assert subset.obsm["histone"].shape[1] == subset.n_vars
    assert list(subset.uns["chromtools"]["var_names"]) == list(subset.var_names)
    for i, gene in enumerate(subset.var_names):
        np.testing.assert_array_equal(ct.get.histone(subset)[:, i], truth[gene])


def test_zarr_round_trip_stays_aligned_and_lazy(synthetic, tmp_path):
    truth = _by_gene(synthetic)
    subset = synthetic[:, synthetic.var_names[::-2]]
    ct.io.write_zarr(subset, tmp_path / "s.zarr", chunk_genes=8)
    lazy = ct.io.read_zarr(tmp_path / "s.zarr")
    histone = ct.get.histone(lazy)
    assert isinstance(histone, da.Array)
    computed = histone.compute()
    for i, gene in enumerate(lazy.var_names):
        np.testing.assert_array_equal(computed[:, i], truth[gene])
    again = ct.get.histone(lazy[["cell1"], lazy.var_names[:5]])
    np.testing.assert_array_equal(
        again.compute()[0], np.stack([truth[g][1] for g in lazy.var_names[:5]])
    )


def test_missing_histone_and_onehot_are_named(synthetic):
    with pytest.raises(KeyError, match=r"obsm\['nope_attr'\] does not exist"):
        ct.get.attributions(synthetic, "nope")
    with pytest.raises(KeyError, match="ct.pp.one_hot"):
        ct.get.onehot(synthetic)


def test_as_features_flattens_one_cell_type_mark_major_after_a_gene_subset(synthetic):
    subset = synthetic[:, synthetic.var_names[::-3]]  # reordered genes: stored order differs
    cell_type = str(subset.obs_names[1])
    features = ct.get.as_features(subset, cell_type, marks=ct.get.marks(subset)[::-1])
    signal = np.asarray(ct.get.histone(subset, marks=ct.get.marks(subset)[::-1])[1])
    n_genes, n_marks, n_bins = signal.shape
    assert features.shape == (n_genes, n_marks * n_bins)
    assert list(features.obs_names) == list(subset.var_names)
    np.testing.assert_array_equal(features.X, signal.reshape(n_genes, -1).astype(np.float32))
    # feature j is mark j // n_bins at bin j % n_bins, named by the bin's TSS-relative start
    j = n_bins + 2
    assert features.var["mark"].iloc[j] == ct.get.marks(subset)[::-1][1]
    meta = subset.uns["chromtools"]
    assert features.var["bin_start"].iloc[j] == meta["window"][0] + 2 * meta["bin_size"]
    np.testing.assert_array_equal(
        features.obs["label"], np.asarray(subset.layers["label"][1], dtype=float)
    )
    assert features.uns["as_features"]["cell_type"] == cell_type


def test_as_features_feeds_scanpy_pca_as_it_is(synthetic):
    import scanpy as sc

    features = ct.get.as_features(synthetic, str(synthetic.obs_names[0]))
    sc.pp.pca(features, n_comps=5)
    assert features.obsm["X_pca"].shape == (synthetic.n_vars, 5)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"cell_type": "nope"}, r"cell_type='nope' is not in adata.obs_names"),
        ({"marks": ["H3K27ac"]}, r"marks \['H3K27ac'\] are not among"),
        ({"key": "onehot"}, r"key='onehot' must name a 4-D obsm entry"),
    ],
)
def test_as_features_refuses_bad_input(synthetic, arguments, message):
    arguments = {"cell_type": str(synthetic.obs_names[0]), **arguments}
    with pytest.raises(ValueError, match=message):
        ct.get.as_features(synthetic, **arguments)
