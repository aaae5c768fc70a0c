"""ct.pl.attention, deletion, signal and attribution say what they draw (issue 26).

Each plot is drawn headless from results on the real REMC sample (or the
synthetic sequences) and compared with what is stored: the uniform level of
attention is drawn at ``1/n`` and the scales hold it without zooming onto
noise; every axis names its units; ``ax=`` draws where it is told; the old
keyword names still work, with a ``FutureWarning``; no legend covers data.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402

import chromtools as ct  # noqa: E402
from chromtools.pl._attention import MIN_HALF_SPAN, uniform_span  # noqa: E402
from chromtools.pl._legend import legend_overlaps  # noqa: E402

MODEL = "attentivechrome"


pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(scope="module")
def remc():
    adata = ct.datasets.remc_sample()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", cell_types=["E123", "E003"], epochs=2, seed=0)
    ct.tl.fit(adata, MODEL, cell_types="E123", epochs=2, seed=0)
    ct.tl.attention(adata, MODEL)
    ct.tl.attribute(adata, "deepchrome", cell_types=["E123"])
    ct.tl.in_silico_deletion(adata, "deepchrome", cell_types=["E123"])
    return adata


@pytest.fixture(scope="module")
def sequences(sequence_results):
    return sequence_results.copy()


def _region(sequences) -> str:
    return str(sequences.var_names[(sequences.var["planted"] == "A").to_numpy()][0])


def _meshes(fig) -> list[QuadMesh]:
    """The bins' colours of ct.pl.signal: a QuadMesh behind each panel (not the colourbar's)."""
    bars = {c.ax for c in _colourbars(fig)}
    return [
        c for ax in fig.axes if ax not in bars for c in ax.collections if isinstance(c, QuadMesh)
    ]


def _colourbars(fig) -> list:
    return [ax._colorbar for ax in fig.axes if hasattr(ax, "_colorbar")]


# ---------------------------------------------------------------- attention


def test_uniform_span_holds_every_value_and_is_never_below_the_minimum():
    assert uniform_span(np.array([0.197, 0.202, np.nan]), 0.2) == MIN_HALF_SPAN * 0.2
    assert uniform_span(np.array([0.05, 0.9]), 0.2) == pytest.approx(0.7)


def test_attention_alpha_draws_the_uniform_level_and_a_y_axis_from_zero(remc):
    fig = ct.pl.attention(remc, MODEL, cell_types="E123", show=False)
    alpha = np.asarray(ct.get.attention(remc, MODEL)[0][0], dtype=float)
    n_bins = alpha.shape[-1]
    for ax in fig.axes[:2]:
        (uniform,) = [line for line in ax.get_lines() if line.get_label().startswith("uniform")]
        assert list(uniform.get_ydata()) == [1 / n_bins, 1 / n_bins]
        assert uniform.get_label() == f"uniform (1/{n_bins})"
        low, high = ax.get_ylim()
        marks = remc.uns[f"{MODEL}_attention"]["marks"]
        drawn = np.concatenate([ln.get_ydata() for ln in ax.get_lines() if ln.get_label() in marks])
        # near-uniform α (about 0.0095-0.0105) is drawn on 0..≥2/n_bins, not zoomed onto
        assert low == 0 and high >= (1 + MIN_HALF_SPAN) / n_bins and high >= drawn.max()
        assert "K562 (E123)" in ax.get_title()
    assert "attention weight per bin" in fig.axes[0].get_ylabel()
    assert legend_overlaps(fig.axes[1]) == 0
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend == [*remc.uns[f"{MODEL}_attention"]["marks"], f"uniform (1/{n_bins})"]


def test_attention_alpha_draws_into_the_two_axes_given(remc):
    fig, panels = plt.subplots(1, 2)
    assert ct.pl.attention(remc, MODEL, cell_types=["E123"], ax=panels, show=False) is fig
    alpha = np.asarray(ct.get.attention(remc, MODEL)[0][0], dtype=float)
    on = remc.layers["label"][0] == 1
    marks = remc.uns[f"{MODEL}_attention"]["marks"]
    for ax, genes in zip(panels, (on, ~on), strict=True):
        lines = [line for line in ax.get_lines() if line.get_label() in marks]
        for j, line in enumerate(lines):
            np.testing.assert_allclose(line.get_ydata(), alpha[genes, j].mean(axis=0), rtol=1e-6)
    assert len(fig.axes) == 2  # nothing added beside them


def test_attention_beta_colours_are_centred_on_the_uniform_level(remc):
    genes = list(remc.var_names[:4])
    fig = ct.pl.attention(remc, MODEL, kind="beta", genes=genes, show=False)
    image = fig.axes[0].get_images()[0]
    beta = np.asarray(ct.get.attention(remc, MODEL)[1][:2, :4], dtype=float)
    np.testing.assert_allclose(image.get_array(), beta.transpose(1, 0, 2).reshape(8, -1))
    uniform = 1 / beta.shape[-1]
    low, high = image.get_clim()
    assert (low + high) / 2 == pytest.approx(uniform)  # white is uniform
    assert high - uniform >= MIN_HALF_SPAN * uniform - 1e-12
    assert low <= beta.min() and high >= beta.max()
    (bar,) = _colourbars(fig)
    assert bar.ax.get_ylabel() == "attention weight β\n(uniform = 0.2)"
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels[:2] == [f"{remc.var['gene_name'].iloc[0]} · {c}" for c in
                          ("K562 (E123)", "H1 Cell Line (E003)")]  # fmt: skip


def test_attention_beta_draws_into_the_axes_given(remc):
    fig, ax = plt.subplots()
    ct.pl.attention(remc, MODEL, kind="beta", genes=[remc.var_names[0]], ax=ax, show=False)
    assert ax.get_images() and ax.get_title() == f"{MODEL}: attention over marks"


def test_attention_refuses_one_axes_for_its_two_panels(remc):
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"draws 2 panel\(s\): ax must be a sequence of 2 Axes"):
        ct.pl.attention(remc, MODEL, cell_types="E123", ax=ax, show=False)


def test_attention_draws_one_cell_type_and_says_so(remc):
    with pytest.raises(ValueError, match=r"draws one cell type, got cell_types=\['E123', 'E003'\]"):
        ct.pl.attention(remc, MODEL, cell_types=["E123", "E003"], show=False)


# ---------------------------------------------------------------- deletion


def test_deletion_names_the_model_the_cell_type_and_the_units(remc):
    ax = ct.pl.deletion(remc, "deepchrome_deletion", cell_types="E123", show=False)
    assert ax.get_ylabel() == "Mean change in predicted\nprobability of high expression"
    assert ax.get_title() == "In silico deletion: deepchrome\nK562 (E123)"
    assert ax.get_xlabel() == "Deleted mark"
    summary = remc.uns["deepchrome_deletion"]["summary"]
    n = summary.groupby("status")["n"].first()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"ON genes (n = {n['ON']})", f"OFF genes (n = {n['OFF']})"]
    assert legend_overlaps(ax) == 0


def test_deletion_of_a_regression_model_is_in_expression_units(remc):
    adata = remc.copy()
    adata.uns["deepchrome"]["params"]["y"] = "expression"
    ax = ct.pl.deletion(adata, "deepchrome_deletion", show=False)
    assert ax.get_ylabel() == "Mean change in predicted\nexpression (log2(count + 1))"


def test_deletion_draws_into_the_axes_given(remc):
    fig, (left, right) = plt.subplots(1, 2)
    assert ct.pl.deletion(remc, "deepchrome_deletion", ax=right, show=False) is right
    assert len(right.patches) == 2 * len(remc.uns["deepchrome_deletion"]["perturbations"])
    assert not left.patches


# ---------------------------------------------------------------- signal


def test_signal_says_the_normalisation_on_its_y_axis(remc):
    fig = ct.pl.signal(remc, remc.var_names[5], show=False)
    assert fig.get_supylabel() == "log(1 + signal / track mean)"  # depth_log1p


def test_raw_signal_is_labelled_raw():
    adata = ct.datasets.remc_sample()
    fig = ct.pl.signal(adata, adata.var_names[0], cell_types="E123", show=False)
    assert fig.axes[0].get_ylabel() == "signal per bin (raw)"


def test_signal_highlight_has_a_labelled_colourbar_from_zero(remc):
    fig = ct.pl.signal(remc, remc.var_names[5], highlight="deepchrome", show=False)
    weights = np.abs(np.asarray(ct.get.attributions(remc, "deepchrome")[:, 5])).sum(axis=1)
    meshes = _meshes(fig)
    assert len(meshes) == 2  # E123, E003 (not attributed: all NaN, so left blank)
    np.testing.assert_allclose(np.ravel(meshes[0].get_array()), weights[0], rtol=1e-5)
    assert np.isnan(np.ma.filled(meshes[1].get_array(), np.nan)).all()
    (bar,) = _colourbars(fig)
    assert bar.ax.get_xlabel() == "deepchrome: |attribution| per bin"
    assert bar.norm.vmin == 0 and bar.norm.vmax == pytest.approx(np.nanmax(weights))
    assert legend_overlaps(fig.axes[0]) == 0


def test_signal_highlight_by_alpha_is_centred_on_the_uniform_level(remc):
    gene = remc.var_names[7]
    fig = ct.pl.signal(remc, gene, cell_types="E123", highlight=MODEL, highlight_by="alpha",
                       show=False)  # fmt: skip
    alpha = np.asarray(ct.get.attention(remc, MODEL)[0][0, 7], dtype=float).mean(axis=0)
    (mesh,) = _meshes(fig)
    np.testing.assert_allclose(np.ravel(mesh.get_array()), alpha, rtol=1e-6)
    uniform = 1 / alpha.size
    assert (mesh.norm.vmin + mesh.norm.vmax) / 2 == pytest.approx(uniform)
    assert mesh.norm.vmax - uniform >= MIN_HALF_SPAN * uniform - 1e-12
    (bar,) = _colourbars(fig)
    assert bar.ax.get_xlabel() == f"{MODEL}: mean α per bin\n(uniform = 1/{alpha.size})"


def test_signal_draws_into_the_axes_given(remc):
    fig, panels = plt.subplots(2, 1)
    assert ct.pl.signal(remc, remc.var_names[5], ax=panels, show=False) is fig
    signal = np.asarray(ct.get.histone(remc)[:2, 5], dtype=float)
    for row, ax in enumerate(panels):
        np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), signal[row, 0], rtol=1e-6)
        assert ax.get_ylabel() == "log(1 + signal / track mean)"
    _, ax = plt.subplots()
    ct.pl.signal(remc, remc.var_names[5], cell_types="E003", ax=ax, show=False)
    assert ax.get_title(loc="left") == "H1 Cell Line (E003)"
    with pytest.raises(ValueError, match=r"ct.pl.signal draws 2 panel\(s\)"):
        ct.pl.signal(remc, remc.var_names[5], ax=ax, show=False)


# ---------------------------------------------------------------- attribution


def test_attribution_labels_its_axes_and_draws_into_the_axes_given(sequences):
    region = _region(sequences)
    fig, (top, bottom) = plt.subplots(2, 1)
    assert ct.pl.attribution(sequences, "ct_A", region, cell_types=["A"], ax=(top, bottom),
                             show=False) is fig  # fmt: skip
    assert top.get_ylabel() == "attribution\n(grad × input)"
    assert bottom.get_xlabel() == "Position in region (bp)"
    assert bottom.get_ylabel() == "JASPAR\nsites"
    assert top.get_title() == f"{region} · ct_A, A (grad_x_input)"
    row = sequences.var_names.get_loc(region)
    per_base = sequences.varm["ct_A_attr_A"][row].sum(axis=1)
    low, high = top.get_ylim()
    assert low <= per_base.min() and high >= per_base.max()


# ---------------------------------------------------------------- old names, unknown names


@pytest.mark.parametrize(
    ("plot", "arguments", "old", "new"),
    [
        ("attention", (MODEL,), {"cell_type": "E123"}, {"cell_types": "E123"}),
        ("deletion", ("deepchrome_deletion",), {"cell_type": "E123"}, {"cell_types": "E123"}),
        ("signal", ("GENE",), {"shade": "deepchrome"}, {"highlight": "deepchrome"}),
        ("signal", ("GENE",), {"shade": MODEL, "shade_by": "alpha"},
         {"highlight": MODEL, "highlight_by": "alpha"}),
    ],
)  # fmt: skip
def test_old_keyword_names_still_work_with_a_future_warning(remc, plot, arguments, old, new):
    arguments = tuple(remc.var_names[5] if a == "GENE" else a for a in arguments)
    plot = getattr(ct.pl, plot)
    expected = plot(remc, *arguments, **new, show=False)
    with pytest.warns(FutureWarning, match=r"=\.\.\.\) is renamed") as caught:
        drawn = plot(remc, *arguments, **old, show=False)
    assert sorted(str(w.message).split("(")[1].split("=")[0] for w in caught) == sorted(old)
    assert _drawn(drawn) == _drawn(expected)


def _drawn(result) -> list:
    fig = result.figure  # an Axes's figure, or the figure itself
    values = []
    for ax in fig.axes:
        values += [tuple(np.round(line.get_ydata(), 9)) for line in ax.get_lines()]
        values += [round(p.get_height(), 9) for p in ax.patches]
        values += [tuple(np.round(np.ravel(c.get_array()), 9)) for c in ax.collections
                   if isinstance(c, QuadMesh)]  # fmt: skip
    return [str(v) for v in values]


def test_attribution_takes_its_old_cell_type_keyword(sequences):
    with pytest.warns(FutureWarning, match=r"ct.pl.attribution\(cell_type=\.\.\.\) is renamed"):
        fig = ct.pl.attribution(sequences, "ct_A", _region(sequences), cell_type="A", show=False)
    assert fig.axes[0].get_title().endswith(", A (grad_x_input)")


@pytest.mark.parametrize(
    ("plot", "arguments"),
    [
        ("attention", (MODEL,)),
        ("deletion", ("x",)),
        ("signal", ("x",)),
        ("attribution", ("x", "y")),
    ],
)
def test_an_unknown_keyword_is_refused_by_name(remc, plot, arguments):
    message = rf"ct.pl.{plot}\(\) got an unexpected keyword argument 'colour'"
    with pytest.raises(TypeError, match=message):
        getattr(ct.pl, plot)(remc, *arguments, colour="red", show=False)
    assert plt.get_fignums() == []


def test_old_and_new_name_together_are_refused(remc):
    with pytest.raises(ValueError, match=r"pass highlight= alone \(shade= is its old name\)"):
        ct.pl.signal(remc, remc.var_names[5], shade="deepchrome", highlight="deepchrome")


@pytest.mark.parametrize(
    ("plot", "arguments", "options"),
    [
        ("attention", (MODEL,), {"cell_types": "E123"}),
        ("attention", (MODEL,), {"kind": "beta"}),
        ("deletion", ("deepchrome_deletion",), {}),
        ("signal", ("GENE",), {"highlight": "deepchrome"}),
        ("signal", ("GENE",), {"highlight": MODEL, "highlight_by": "alpha", "cell_types": "E123"}),
    ],
)
def test_no_legend_covers_data(remc, plot, arguments, options):
    arguments = tuple(remc.var_names[5] if a == "GENE" else a for a in arguments)
    fig = getattr(ct.pl, plot)(remc, *arguments, **options, show=False).figure
    fig.canvas.draw()
    assert [legend_overlaps(ax) for ax in fig.axes if ax.get_legend()] in ([], [0])
