"""Every result ct.tl stores survives a Zarr round trip bit for bit, and ct.pl draws it back.

One object per data kind carries the results of fit, finetune, differential,
attention, attribution, deletion, motif scanning and enrichment; each test
writes it with ``ct.io.write_zarr``, reads it back (in memory and lazily) and
compares one result kind element by element: the same keys, dtypes, shapes
and values, NaN where NaN was.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import chromtools as ct  # noqa: E402


@pytest.fixture(scope="module")
def histone(tmp_path_factory):
    adata = ct.datasets.remc_sample()
    adata = adata[adata.obs["has_histone"]].copy()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", cell_types="E123", epochs=3, seed=0)
    ct.tl.fit(adata, "attentivechrome", cell_types="E123", epochs=2, seed=0)
    ct.tl.fit(adata, "logreg", cell_types="E123")
    ct.tl.finetune(adata, source="E123", target="E003", epochs=2, seed=0)
    ct.tl.differential(adata, "E123", "E003", epochs=2, seed=0, baselines=False)
    ct.tl.attention(adata, "attentivechrome")
    ct.tl.attribute(adata, "deepchrome", cell_types=["E123"])
    ct.tl.in_silico_deletion(adata, "deepchrome", cell_types=["E123"])
    path = tmp_path_factory.mktemp("histone") / "results.zarr"
    ct.io.write_zarr(adata, path)
    return adata, path


@pytest.fixture(scope="module")
def sequences(sequence_results, tmp_path_factory):
    adata = sequence_results.copy()
    path = tmp_path_factory.mktemp("sequences") / "results.zarr"
    ct.io.write_zarr(adata, path)
    return adata, path


def assert_identical(before, after, where: str) -> None:
    """Same structure, types and values, recursively; NaN equals NaN."""
    if isinstance(before, pd.DataFrame):
        assert isinstance(after, pd.DataFrame), where
        pd.testing.assert_frame_equal(after, before, check_exact=True, obj=where)
    elif isinstance(before, dict):
        assert isinstance(after, dict) and set(after) == set(before), (
            where,
            set(before) ^ set(after),
        )
        for k in before:
            assert_identical(before[k], after[k], f"{where}[{k!r}]")
    elif isinstance(before, np.ndarray | list | tuple) and not isinstance(before, str):
        before, after = np.asarray(before), np.asarray(after)
        assert before.dtype == after.dtype and before.shape == after.shape, (
            where,
            before.dtype,
            after.dtype,
            before.shape,
            after.shape,
        )
        np.testing.assert_array_equal(after, before, err_msg=where)
    elif isinstance(before, float) and np.isnan(before):
        assert np.isnan(after), where
    else:
        assert after == before, (where, before, after)


def _read(path, lazy: bool):
    adata = ct.io.read_zarr(path, lazy=lazy)
    return adata.to_memory() if lazy else adata


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize(
    "key",
    [
        "deepchrome",
        "attentivechrome",
        "logreg",
        "finetune",
        "deepdiff",
        "attentivechrome_attention",
        "deepchrome_attr",
        "deepchrome_deletion",
    ],
)
def test_a_histone_result_in_uns_survives_the_round_trip(histone, key, lazy):
    adata, path = histone
    assert_identical(adata.uns[key], _read(path, lazy).uns[key], f"uns[{key!r}]")


@pytest.mark.parametrize("lazy", [False, True])
def test_histone_layers_obsm_and_var_results_survive_the_round_trip(histone, lazy):
    adata, path = histone
    back = _read(path, lazy)
    for name in adata.layers:
        assert_identical(adata.layers[name], np.asarray(back.layers[name]), f"layers[{name!r}]")
    for name in ("attentivechrome_alpha", "attentivechrome_beta", "deepchrome_attr"):
        assert_identical(adata.obsm[name], np.asarray(back.obsm[name]), f"obsm[{name!r}]")
    pd.testing.assert_frame_equal(back.var, adata.var, check_exact=True)


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize(
    "key",
    [
        "ct_A",
        "ct_B",
        "ct_A_attr",
        "motif_sites",
        "motif_sites_params",
        "ct_A_motifs",
        "ct_A_motifs_params",
        "ct_A_motif_scores",
        "ct_B_motif_scores",
        "ct_A_vs_ct_B_motifs",
    ],
)
def test_a_sequence_result_survives_the_round_trip(sequences, key, lazy):
    adata, path = sequences
    back = _read(path, lazy)
    assert_identical(adata.uns[key], back.uns[key], f"uns[{key!r}]")
    for name in ("ct_A_attr_A", "ct_B_attr_B"):
        assert_identical(adata.varm[name], np.asarray(back.varm[name]), f"varm[{name!r}]")


def test_a_model_read_back_predicts_what_it_predicted(histone):
    adata, path = histone
    back = ct.io.read_zarr(path, lazy=False)
    before = adata.layers["deepchrome"].copy()
    ct.tl.predict(back, "deepchrome", cell_types=["E123"])
    np.testing.assert_allclose(back.layers["deepchrome"][0], before[0], rtol=1e-5, atol=1e-6)


def test_plots_draw_from_an_object_read_back_with_no_model_in_memory(histone, sequences):
    """DESIGN §3: ct.pl draws only what ct.tl stored, so a store read back is enough."""
    adata, path = histone
    back = ct.io.read_zarr(path)  # lazy, as a user would open it
    ax = ct.pl.roc(back, "deepchrome", cell_types="E123", show=False)
    fresh = ct.pl.roc(adata, "deepchrome", cell_types="E123", show=False)
    np.testing.assert_array_equal(ax.get_lines()[0].get_ydata(), fresh.get_lines()[0].get_ydata())
    ct.pl.deletion(back, "deepchrome_deletion", show=False)
    ct.pl.attention(back, "attentivechrome", cell_type="E123", show=False)
    ct.pl.finetune(back, show=False)
    seq, seq_path = sequences
    seq_back = ct.io.read_zarr(seq_path)
    ct.pl.motif_scatter(seq_back, "ct_A", "ct_B", fdr=1.0, show=False)
    motif = seq.uns["ct_A_motifs"].index[0]
    drawn = ct.pl.motif_ecdf(seq_back, "ct_A", motif, show=False).get_lines()[:2]
    fresh = ct.pl.motif_ecdf(seq, "ct_A", motif, show=False).get_lines()[:2]
    for line, expected in zip(drawn, fresh, strict=True):
        np.testing.assert_array_equal(line.get_xdata(), expected.get_xdata())
    region = str(seq.uns["motif_sites"]["region"].iloc[0])
    fig = ct.pl.attribution(seq_back, "ct_A", region, show=False)
    assert len(fig.axes[1].patches) == (seq.uns["motif_sites"]["region"] == region).sum()
    plt.close("all")
