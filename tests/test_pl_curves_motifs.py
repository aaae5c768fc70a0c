"""ct.pl's curves (ROC, precision–recall, calibration) and motif plots: what is drawn is
what is stored, labelled, with no legend over data and no label over another.

The curves read DeepChrome and logistic regression fitted on the real REMC sample
(K562 E123, H1 E003); the motif plots read the two ChromTransfer models on synthetic
DNA of ``sequence_results``.
"""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

import chromtools as ct  # noqa: E402
from chromtools.pl._legend import legend_overlaps  # noqa: E402

ONE_MODEL = "tested in one model only"


pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(scope="module")
def fitted(remc):
    adata = remc.copy()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", cell_types=["E123", "E003"], epochs=3, seed=0)
    ct.tl.fit(adata, "logreg", cell_types=["E123", "E003"])
    return adata


@pytest.fixture(scope="module")
def sequences(sequence_results):
    return sequence_results.copy()


def _scored(adata, key: str, cell_type: str, split: str = "test"):
    """(labels, predictions) of one cell type's genes of ``split`` where both are finite."""
    row = adata.obs_names.get_loc(cell_type)
    genes = (adata.var["split"] == split).to_numpy()
    truth = np.asarray(adata.layers["label"][row, genes], dtype=float)
    guess = np.asarray(adata.layers[key][row, genes], dtype=float)
    known = np.isfinite(truth) & np.isfinite(guess)
    return truth[known], guess[known]


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _prevalence_lines(ax) -> dict[str, float]:
    return {
        line.get_label(): line.get_ydata()[0]
        for line in ax.get_lines()
        if line.get_label().startswith("prevalence")
    }


# ---------------------------------------------------------------- precision–recall


def test_pr_draws_the_prevalence_at_the_fraction_of_positives(fitted):
    ax = ct.pl.pr(fitted, "deepchrome", cell_types="E123", show=False)
    truth, _ = _scored(fitted, "deepchrome", "E123")
    ((label, level),) = _prevalence_lines(ax).items()
    assert level == pytest.approx(truth.mean())
    assert label == f"prevalence {truth.mean():.2f}"
    assert label in _legend(ax)
    assert ax.get_lines()[1].get_linestyle() == "--"


def test_pr_draws_one_prevalence_per_cell_type_where_they_differ(fitted):
    ax = ct.pl.pr(fitted, ["deepchrome", "logreg"], show=False)
    levels = _prevalence_lines(ax)
    expected = {
        f"prevalence {level:.2f} · {name}": level
        for level, name in (
            (_scored(fitted, "deepchrome", "E123")[0].mean(), "K562 (E123)"),
            (_scored(fitted, "deepchrome", "E003")[0].mean(), "H1 Cell Line (E003)"),
        )
    }
    assert levels == pytest.approx(expected)
    assert (
        len({line.get_linestyle() for line in ax.get_lines() if "prevalence" in line.get_label()})
        == 2
    )


def test_pr_names_cell_types_by_their_label_and_the_shared_model_in_the_title(fitted):
    ax = ct.pl.pr(fitted, "deepchrome", show=False)
    curves = [t for t in _legend(ax) if "AUPRC" in t]
    assert [t.split(" (AUPRC")[0] for t in curves] == ["K562 (E123)", "H1 Cell Line (E003)"]
    assert ax.get_title() == "Precision–recall (test genes)\ndeepchrome"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Recall", "Precision")


# ---------------------------------------------------------------- calibration


@pytest.mark.parametrize("given_ax", [False, True], ids=["new figure", "ax given"])
@pytest.mark.parametrize("n_bins", [5, 10])
def test_calibration_counts_equal_a_histogram_of_the_predictions(fitted, given_ax, n_bins):
    ax = plt.subplots()[1] if given_ax else None
    drawn = ct.pl.calibration(
        fitted, ["deepchrome", "logreg"], cell_types="E123", n_bins=n_bins, ax=ax, show=False
    )
    assert drawn is ax if given_ax else drawn.figure is not None
    steps = [p for p in drawn.counts.patches if p.get_fill() is False]
    assert len(steps) == 2
    for step, key in zip(steps, ("deepchrome", "logreg"), strict=True):
        values, edges, _ = step.get_data()
        expected, expected_edges = np.histogram(
            _scored(fitted, key, "E123")[1], bins=n_bins, range=(0, 1)
        )
        np.testing.assert_array_equal(values, expected)
        np.testing.assert_allclose(edges, expected_edges)
    # the counts on a twin of the given axes, on a panel of their own otherwise
    assert (drawn.counts.bbox.bounds == drawn.bbox.bounds) is given_ax


def test_calibration_is_labelled_and_names_cell_types(fitted):
    ax = ct.pl.calibration(fitted, "logreg", show=False)
    assert ax.get_ylabel() == "Fraction high"
    assert ax.counts.get_xlabel() == "Mean predicted probability"
    assert ax.counts.get_ylabel() == "Genes per bin"
    names = [t.split(" (Brier")[0] for t in _legend(ax)]
    assert names == ["K562 (E123)", "H1 Cell Line (E003)"]
    assert ax.get_title() == "Calibration (test genes)\nlogreg"


# ---------------------------------------------------------------- roc


def test_roc_names_model_and_cell_type_where_they_differ(fitted):
    ax = ct.pl.roc(fitted, ["deepchrome", "logreg"], cell_types="E003", show=False)
    assert [t.split(" (AUROC")[0] for t in _legend(ax)] == ["deepchrome", "logreg"]
    assert ax.get_title() == "ROC (test genes)\nH1 Cell Line (E003)"


# ---------------------------------------------------------------- every plot


CURVES = {
    "roc one": lambda a, ax: ct.pl.roc(a, "deepchrome", cell_types="E123", ax=ax, show=False),
    "roc all": lambda a, ax: ct.pl.roc(a, ["deepchrome", "logreg"], ax=ax, show=False),
    "pr one": lambda a, ax: ct.pl.pr(a, "logreg", cell_types=["E003"], ax=ax, show=False),
    "pr all": lambda a, ax: ct.pl.pr(a, ["deepchrome", "logreg"], ax=ax, show=False),
    "calibration one": lambda a, ax: ct.pl.calibration(a, "deepchrome", ax=ax, show=False),
    "calibration all": lambda a, ax: ct.pl.calibration(
        a, ["deepchrome", "logreg"], ax=ax, show=False
    ),
}


@pytest.mark.parametrize("given_ax", [False, True], ids=["new figure", "ax given"])
@pytest.mark.parametrize("plot", CURVES)
def test_no_curve_legend_lies_over_data(fitted, plot, given_ax):
    ax = CURVES[plot](fitted, plt.subplots()[1] if given_ax else None)
    ax.figure.canvas.draw()
    for each in ax.figure.axes:
        assert legend_overlaps(each) == 0
    assert ax.get_legend() is not None


@pytest.mark.parametrize("plot", [ct.pl.roc, ct.pl.pr, ct.pl.calibration])
def test_a_curve_saves_where_asked(fitted, plot, tmp_path):
    path = tmp_path / "curve.png"
    assert plot(fitted, "deepchrome", cell_types="E123", save=path) is None
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- motif_scatter


def _one_model_only(sequences, motifs: int = 3):
    """A copy whose joined table says ct_B did not test the first ``motifs`` significant
    motifs of ct_A and ct_A not the last one: motifs with too few sites in one model."""
    adata = sequences.copy()
    joined = adata.uns["ct_A_vs_ct_B_motifs"].copy()
    only_a = joined.index[:motifs]
    only_b = joined.index[-1:]
    joined.loc[only_a, ["n_sites_ct_B", "ks_d_ct_B", "fdr_ct_B"]] = np.nan
    joined.loc[only_b, ["n_sites_ct_A", "ks_d_ct_A", "fdr_ct_A"]] = np.nan
    adata.uns["ct_A_vs_ct_B_motifs"] = joined
    return adata, list(only_a), list(only_b)


def test_motif_scatter_draws_every_motif_tested_in_either_model(sequences):
    adata, only_a, only_b = _one_model_only(sequences)
    joined = adata.uns["ct_A_vs_ct_B_motifs"]
    ax = ct.pl.motif_scatter(adata, "ct_A", "ct_B", fdr=0.05, show=False)
    low = ax.get_xlim()[0]
    assert ax.get_ylim()[0] == low
    both = [c for c in ax.collections if ONE_MODEL not in c.get_label()]
    one = [c for c in ax.collections if ONE_MODEL in c.get_label()]
    drawn_both = np.concatenate([c.get_offsets() for c in both])
    tested_both = joined.dropna(subset=["ks_d_ct_A", "ks_d_ct_B"])
    np.testing.assert_allclose(
        sorted(map(tuple, drawn_both)),
        sorted(zip(tested_both["ks_d_ct_A"], tested_both["ks_d_ct_B"], strict=True)),
    )
    # one-model motifs: at their D on the model that tested them, on the other's axis edge
    drawn_one = sorted(map(tuple, np.concatenate([c.get_offsets() for c in one])))
    d_a, d_b = joined["ks_d_ct_A"].to_numpy(float), joined["ks_d_ct_B"].to_numpy(float)
    expected = [
        (low if np.isnan(x) else x, low if np.isnan(y) else y)
        for x, y in zip(d_a, d_b, strict=True)
        if np.isnan(x) != np.isnan(y)
    ]
    np.testing.assert_allclose(drawn_one, sorted(expected))
    for motif in only_a:
        assert (joined.loc[motif, "ks_d_ct_A"], low) in expected
    for motif in only_b:
        assert (low, joined.loc[motif, "ks_d_ct_B"]) in expected
    assert len(drawn_both) + len(drawn_one) == len(joined)
    for collection in one:  # open diamonds, whole on the axis line
        assert collection.get_clip_on() is False
        assert (collection.get_facecolor()[:, :3] == 1).all()
    assert f"{ONE_MODEL} ({len(expected)})" in _legend(ax)


def test_motif_scatter_counts_one_model_motifs_in_their_significance_group(sequences):
    adata, only_a, _ = _one_model_only(sequences)
    joined = adata.uns["ct_A_vs_ct_B_motifs"]
    ax = ct.pl.motif_scatter(adata, "ct_A", "ct_B", fdr=0.05, show=False)
    significant_a = (joined["fdr_ct_A"] < 0.05) & ~(joined["fdr_ct_B"] < 0.05)
    assert f"ct_A only ({int(significant_a.sum())})" in _legend(ax)


def test_motif_scatter_without_one_model_motifs_has_no_such_entry(sequences):
    adata = sequences.copy()
    joined = adata.uns["ct_A_vs_ct_B_motifs"]
    adata.uns["ct_A_vs_ct_B_motifs"] = joined.dropna(subset=["ks_d_ct_A", "ks_d_ct_B"])
    ax = ct.pl.motif_scatter(adata, "ct_A", "ct_B", fdr=0.05, show=False)
    assert not any(ONE_MODEL in t for t in _legend(ax))


@pytest.mark.parametrize("n_labels", [5, 20])
@pytest.mark.parametrize("given_ax", [False, True], ids=["new figure", "ax given"])
def test_motif_scatter_labels_overlap_no_other_and_stay_inside(sequences, n_labels, given_ax):
    adata, _, _ = _one_model_only(sequences)
    ax = plt.subplots(figsize=(3, 3))[1] if given_ax else None
    ax = ct.pl.motif_scatter(adata, "ct_A", "ct_B", fdr=0.05, n_labels=n_labels, ax=ax, show=False)
    ax.figure.canvas.draw()
    texts = ax.texts
    joined = adata.uns["ct_A_vs_ct_B_motifs"]
    significant = ((joined["fdr_ct_A"] < 0.05) | (joined["fdr_ct_B"] < 0.05)).sum()
    if given_ax:  # in a small axes, a label that finds no room is left out
        assert min(n_labels, significant, 5) <= len(texts) <= min(n_labels, significant)
    else:
        assert len(texts) == min(n_labels, significant)
    boxes = [Text.get_window_extent(t) for t in texts]
    for first, second in itertools.combinations(boxes, 2):
        assert not first.overlaps(second)
    frame = ax.get_window_extent()
    for box in boxes:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1
    assert legend_overlaps(ax) == 0
    legend = ax.get_legend().get_window_extent()
    assert not any(legend.overlaps(box) for box in boxes)


@pytest.mark.parametrize("n_labels", [2, 3, 6])
def test_motif_scatter_names_each_colours_strongest_then_the_next_strongest(sequences, n_labels):
    adata, _, _ = _one_model_only(sequences)
    joined = adata.uns["ct_A_vs_ct_B_motifs"]
    ax = ct.pl.motif_scatter(adata, "ct_A", "ct_B", fdr=0.05, n_labels=n_labels, show=False)
    table = joined.assign(
        in_a=joined["fdr_ct_A"] < 0.05,
        in_b=joined["fdr_ct_B"] < 0.05,
        strength=np.fmax(joined["ks_d_ct_A"].abs(), joined["ks_d_ct_B"].abs()),
    )
    table = table[table["in_a"] | table["in_b"]].sort_values("strength", ascending=False)
    leaders = list(table.groupby(["in_a", "in_b"])["strength"].idxmax())
    leaders = sorted(leaders, key=list(table.index).index)[:n_labels]
    rest = [m for m in table.index if m not in leaders][: n_labels - len(leaders)]
    expected = [m for m in table.index if m in leaders + rest]
    drawn = [t.get_text() for t in ax.texts]
    assert len(drawn) == min(n_labels, len(table))
    # motifs of equal strength may swap places: each label names a TF with a motif of the
    # strength expected at its place (a TF may have several motifs)
    names = table["tf_name"].astype(str)
    for name, wanted in zip(drawn, table.loc[expected, "strength"], strict=True):
        assert np.isclose(table.loc[names == name, "strength"], wanted).any(), (name, wanted)


# ---------------------------------------------------------------- motif_ecdf


def test_motif_ecdf_is_labelled_and_its_legend_clear(sequences):
    table = sequences.uns["ct_A_motifs"]
    motif = table.index[0]
    ax = ct.pl.motif_ecdf(sequences, "ct_A", motif, show=False)
    ax.figure.canvas.draw()
    assert legend_overlaps(ax) == 0
    tf = table.loc[motif, "tf_name"]
    assert _legend(ax)[0] == f"{tf} sites (n = {table.loc[motif, 'n_sites']})"
    assert ax.get_ylabel() == "Cumulative fraction"
    assert ax.get_xlabel().startswith("Site score")
    cell_type = sequences.uns["ct_A_motifs_params"]["cell_type"]
    assert ax.get_title().startswith(f"{tf} ({motif}) · ct_A, cell type {cell_type}\n")
