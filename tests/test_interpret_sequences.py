"""Interpretation of a ChromTransfer model end to end, on DNA with planted JASPAR motifs.

One model is fitted on cell type A: REST sites open its own regions, TP53
sites the regions open in every cell type, and ZNF143 sites (cell type B's)
mean closed in A. Six JASPAR motifs that were never planted (the default
motifs of ``synthetic_sequences``) are the decoys. ISM explains 60 regions
only: at 100 bp a base reaches the whole sequence, so windowed recomputation
saves nothing and each region costs 300 forward passes.
"""

from __future__ import annotations

import numpy as np
import pytest

import chromtools as ct

PLANTED = {"A": "MA0138.3", "B": "MA0088.2"}  # REST, ZNF143
SHARED = "MA0106.3"  # TP53
DECOYS = ["MA0035.5", "MA0114.5", "MA0102.5", "MA0148.5", "MA0154.5", "MA0090.4"]
WIDTH = 100

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fitted():
    adata = ct.datasets.synthetic_sequences(
        1000, WIDTH, cell_types=("A", "B"), motifs=PLANTED, shared_motif=SHARED, seed=0
    )
    ct.pp.split(adata, seed=0)
    ct.tl.fit(
        adata,
        "chromtransfer",
        cell_types="A",
        epochs=8,
        batch_size=64,
        seed=0,
        hyperparameters={"filters": 32, "hidden": [32]},
    )
    test = adata.uns["chromtransfer"]["metrics"].set_index("split").loc["test", "auroc"]
    assert test > 0.9, f"the model did not learn the planted motifs (test AUROC {test:.3f})"
    ct.tl.scan_motifs(adata, pvalue=1e-4)  # all 879 JASPAR2024 vertebrate CORE motifs
    ct.tl.attribute(adata, "chromtransfer")
    return adata


def _explained(adata) -> list[str]:
    """40 regions open in A (its own or shared) and 20 closed ones."""
    var = adata.var
    open_in_a = var.index[var["planted"].isin(["A", "shared"])][:40]
    closed = var.index[var["planted"] == "closed"][:20]
    return [*open_in_a, *closed]


def _planted_sites(adata) -> tuple[np.ndarray, np.ndarray]:
    """Region positions with a planted site, and a (regions, width) mask of its bases."""
    var = adata.var
    has = (var["motif_start"] >= 0).to_numpy()
    mask = np.zeros((adata.n_vars, WIDTH), dtype=bool)
    lengths = {
        m["matrix_id"]: len(m["frequencies"]) for m in adata.uns["synthetic"]["motifs"].values()
    }
    for i in np.flatnonzero(has):
        start = int(var["motif_start"].iloc[i])
        mask[i, start : start + lengths[var["motif_id"].iloc[i]]] = True
    return np.flatnonzero(has), mask


def test_the_planted_motifs_lead_the_enrichment_and_decoys_do_not(fitted):
    adata = fitted.copy()
    table = ct.tl.motif_enrichment(adata, "chromtransfer", cell_type="A", min_sites=10)
    planted = [PLANTED["A"], SHARED]
    assert (table.loc[planted, "fdr"] < 1e-3).all(), table.loc[planted]
    assert (table.loc[planted, "ks_d"] > 0.4).all(), table.loc[planted]
    # only TP53's paralogs, whose matrices match the planted TP53 sites, may rank
    # above REST: TP53 and REST lead once the p53 family counts as one
    above = table.loc[: PLANTED["A"], "tf_name"].iloc[:-1]
    assert set(above) <= {"TP53", "TP63", "TP73"}, table.head(6)
    decoys = table.loc[table.index.isin(DECOYS)]
    assert len(decoys) >= 2  # the others have < 10 sites in positive regions
    enriched = (decoys["ks_d"] > 0) & (decoys["fdr"] < 0.05)
    assert not enriched.any(), decoys
    assert adata.uns["chromtransfer_motifs"].equals(table)


def test_ism_is_larger_at_the_planted_sites(fitted):
    adata = fitted.copy()
    genes = _explained(adata)
    ct.tl.attribute(adata, "chromtransfer", method="ism", genes=genes)
    deltas = ct.get.attributions(adata, "chromtransfer", "A")
    assert deltas.shape == (adata.n_vars, WIDTH, 4)
    rows = adata.var_names.get_indexer(genes)
    assert np.isfinite(deltas[rows]).all() and np.isnan(np.delete(deltas, rows, axis=0)).all()
    observed = adata.varm["onehot"][rows].astype(bool)
    assert np.all(deltas[rows][observed] == 0)
    _, sites = _planted_sites(adata)
    regions = rows[:40]
    effect = np.abs(deltas).sum(axis=-1)[regions]
    inside, outside = effect[sites[regions]].mean(), effect[~sites[regions]].mean()
    assert inside > 3 * outside, (inside, outside)


def test_gradient_x_input_agrees_with_ism_on_positive_sequences(fitted):
    adata = fitted.copy()
    genes = _explained(adata)
    ct.tl.attribute(adata, "chromtransfer", genes=genes, compare="ism")
    compare = adata.uns["chromtransfer_attr"]["compare"].set_index("cell_type")
    assert compare.loc["A", "n"] == len(genes)
    r = adata.layers["chromtransfer_attr_vs_ism"][adata.obs_names.get_loc("A")]
    positive = adata.layers["label"][adata.obs_names.get_loc("A")] == 1
    assert np.nanmean(r[positive]) > 0.5, np.nanmean(r[positive])


def test_deleting_a_planted_motif_closes_its_regions(fitted):
    adata = fitted.copy()
    ct.tl.in_silico_deletion(adata, "chromtransfer", motifs=["REST", DECOYS[0]], seed=0)
    perturbations = adata.uns["chromtransfer_deletion"]["perturbations"]
    assert perturbations == ["chromtransfer_deletion_REST", f"chromtransfer_deletion_{DECOYS[0]}"]
    row = adata.obs_names.get_loc("A")
    rest = adata.layers["chromtransfer_deletion_REST"][row]
    in_a = (adata.var["planted"] == "A").to_numpy()
    assert np.nanmean(rest[in_a]) < -0.3, np.nanmean(rest[in_a])
    decoy = adata.layers[f"chromtransfer_deletion_{DECOYS[0]}"][row]
    assert abs(np.nanmean(decoy)) < 0.1
    summary = adata.uns["chromtransfer_deletion"]["summary"]
    on = summary.set_index(["perturbation", "status"]).loc[("chromtransfer_deletion_REST", "ON")]
    assert on["mean_change"] < 0
