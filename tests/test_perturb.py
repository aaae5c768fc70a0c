"""ct.tl.in_silico_deletion: planted activating and repressive marks, values by hand, shuffles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import chromtools as ct
from chromtools.tl.interpret._interpreted import interpreted_model
from chromtools.tl.interpret._perturb import delete_sites
from chromtools.tl.interpret._shuffle import dinucleotide_shuffle

ACTIVATING, REPRESSIVE = "H3K4me3", "H3K27me3"


@pytest.fixture(scope="module")
def planted():
    """H3K4me3 and H3K27me3 carry the planted rule; the other marks are shuffled across genes."""
    adata = ct.datasets.synthetic_histone(2, 500, n_bins=20, rule_shift=0.0, seed=4)
    rng = np.random.default_rng(0)
    signal = np.array(adata.obsm["histone"])
    for m, mark in enumerate(ct.get.marks(adata)):
        if mark not in (ACTIVATING, REPRESSIVE):
            for c in range(adata.n_obs):
                signal[c, :, m] = signal[c, rng.permutation(adata.n_vars), m]
    adata.obsm["histone"] = signal
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", epochs=8, seed=0)
    return adata


def _summary(adata, key="deepchrome_deletion") -> pd.Series:
    summary = adata.uns[key]["summary"]
    return summary.groupby(["perturbation", "status"])["mean_change"].mean()


def test_deleting_the_planted_marks_moves_predictions_the_planted_way(planted):
    adata = planted.copy()
    ct.tl.in_silico_deletion(adata, "deepchrome")
    change = _summary(adata)
    marks = ct.get.marks(adata)
    assert adata.uns["deepchrome_deletion"]["perturbations"] == [
        f"deepchrome_deletion_{m}" for m in marks
    ]
    activating = change[(f"deepchrome_deletion_{ACTIVATING}", "ON")]
    repressive = change[(f"deepchrome_deletion_{REPRESSIVE}", "OFF")]
    assert activating < -0.1, change
    assert repressive > 0.1, change
    # deleting an activating mark cannot switch OFF genes off much further,
    # and the shuffled marks matter far less than the planted ones
    assert activating < change[(f"deepchrome_deletion_{ACTIVATING}", "OFF")]
    for mark in set(marks) - {ACTIVATING, REPRESSIVE}:
        for status in ("ON", "OFF"):
            assert abs(change[(f"deepchrome_deletion_{mark}", status)]) < abs(activating) / 2
    summary = adata.uns["deepchrome_deletion"]["summary"]
    n = summary[summary["perturbation"] == summary["perturbation"][0]]
    assert n.groupby("cell_type")["n"].sum().tolist() == [500, 500]


def _by_hand(adata, cell: int, genes, perturb) -> np.ndarray:
    network = interpreted_model(adata, "deepchrome", what="test").network
    x = torch.from_numpy(np.asarray(ct.get.histone(adata)[cell, genes], dtype=np.float32))
    with torch.no_grad():
        before = torch.sigmoid(network(x)[:, 0])
        after = torch.sigmoid(network(perturb(x.clone()))[:, 0])
    return (after - before).numpy()


def test_each_layer_is_the_change_of_the_predicted_probability(planted):
    adata = planted.copy()
    ct.tl.in_silico_deletion(adata, "deepchrome", marks=[REPRESSIVE], cell_types=["cell1"])
    m = ct.get.marks(adata).index(REPRESSIVE)

    def zero(x):
        x[:, m] = 0
        return x

    layer = adata.layers[f"deepchrome_deletion_{REPRESSIVE}"]
    np.testing.assert_allclose(layer[1, :6], _by_hand(adata, 1, slice(0, 6), zero), atol=1e-6)
    assert np.isnan(layer[0]).all()


def test_bins_delete_every_mark_over_the_overlapping_bins(planted):
    adata = planted.copy()
    # window ±1000 bp in 20 bins of 100 bp: (-150, 250) overlaps bins 8–12
    ct.tl.in_silico_deletion(adata, "deepchrome", bins=(-150, 250), key_added="tss")
    assert adata.uns["tss"]["perturbations"] == ["tss_bins_-150_250"]

    def tss(x):
        x[:, :, 8:13] = 0
        return x

    got = adata.layers["tss_bins_-150_250"][0, :6]
    np.testing.assert_allclose(got, _by_hand(adata, 0, slice(0, 6), tss), atol=1e-6)


def test_mean_replacement_uses_the_cell_types_mean_profile(planted):
    adata = planted.copy()
    ct.tl.in_silico_deletion(
        adata, "deepchrome", marks=[ACTIVATING], replace="mean", key_added="mean"
    )
    signal = np.asarray(ct.get.histone(adata)[0], dtype=np.float32)
    m = ct.get.marks(adata).index(ACTIVATING)
    profile = torch.from_numpy(signal[:, m].mean(axis=0))

    def mean(x):
        x[:, m] = profile
        return x

    got = adata.layers[f"mean_{ACTIVATING}"][0, :6]
    np.testing.assert_allclose(got, _by_hand(adata, 0, slice(0, 6), mean), atol=1e-5)


def test_a_rerun_replaces_its_own_layers_only(planted):
    adata = planted.copy()
    ct.tl.in_silico_deletion(adata, "deepchrome", key_added="d")
    ct.tl.in_silico_deletion(adata, "deepchrome", marks=[ACTIVATING], key_added="d")
    assert [k for k in adata.layers if k.startswith("d_")] == [f"d_{ACTIVATING}"]
    assert adata.uns["d"]["params"]["marks"] == [ACTIVATING]


def _dinucleotides(codes: np.ndarray) -> pd.Series:
    return pd.Series(list(zip(codes[:-1], codes[1:], strict=True))).value_counts().sort_index()


def test_dinucleotide_shuffle_keeps_every_dinucleotide():
    rng = np.random.default_rng(0)
    sequence = rng.integers(0, 4, 300)
    shuffles = [dinucleotide_shuffle(sequence, np.random.default_rng(s)) for s in range(20)]
    for shuffled in shuffles:
        pd.testing.assert_series_equal(_dinucleotides(shuffled), _dinucleotides(sequence))
        assert shuffled[0] == sequence[0] and shuffled[-1] == sequence[-1]
    assert len({s.tobytes() for s in shuffles}) == 20  # random, not a fixed rearrangement
    again = dinucleotide_shuffle(sequence, np.random.default_rng(3))
    np.testing.assert_array_equal(again, shuffles[3])


def test_delete_sites_changes_only_the_sites():
    rng = np.random.default_rng(1)
    onehot = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, 100)]
    onehot[50:53] = 0  # N
    out = delete_sites(onehot, [(10, 20), (45, 60)], np.random.default_rng(0))
    outside = np.r_[0:10, 20:45, 60:100]
    np.testing.assert_array_equal(out[outside], onehot[outside])
    assert (out[50:53] == 0).all()
    assert (out[10:20].sum(axis=1) == 1).all() and out.dtype == onehot.dtype
    assert not np.array_equal(out[10:20], onehot[10:20])


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"marks": ["H3K79me2"]}, KeyError, "not in the model's marks"),
        ({"marks": []}, ValueError, "mark names"),
        ({"bins": (-5000, 0)}, ValueError, "inside the model's window"),
        ({"bins": (100, 100)}, ValueError, "start < end"),
        ({"bins": "tss"}, ValueError, r"\(start, end\)"),
        ({"motifs": ["GATA1"]}, ValueError, "histone model"),
        ({"replace": "noise"}, ValueError, "replace must be one of"),
        ({"key_added": "label"}, ValueError, "overwrite|reserved"),
        ({"cell_types": ["cell9"]}, KeyError, "cell9"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(planted, options, error, match):
    adata = planted.copy()
    before = (set(adata.layers), set(adata.uns))
    with pytest.raises(error, match=match):
        ct.tl.in_silico_deletion(adata, "deepchrome", **options)
    assert (set(adata.layers), set(adata.uns)) == before


def test_baselines_and_unknown_keys_are_refused(planted):
    adata = planted.copy()
    ct.tl.fit(adata, "logreg", cell_types=["cell0"])
    with pytest.raises(ValueError, match="scikit-learn baseline"):
        ct.tl.in_silico_deletion(adata, "logreg")
    with pytest.raises(KeyError, match="nothing"):
        ct.tl.in_silico_deletion(adata, "nothing")
