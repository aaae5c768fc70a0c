"""ct.pl.transfer_heatmap, finetune, subsample_curve, metrics and learning_curve: honest
and labelled (issue 26).

What is drawn equals what is stored; written values have enough digits to tell
different values apart; a bounded metric's axis reads nothing past its bound and
is wide enough that a change of 0.01 looks small; labels name the metric, the
split and the cell types; no legend covers data. The real results are a small
fit on the REMC sample (E123 = K562, E003 = H1); the edge cases (AUROCs of
0.987–0.993, scores at 0.999) are stored records written here.
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from anndata import AnnData  # noqa: E402

import chromtools as ct  # noqa: E402
from chromtools.pl._legend import (
    covered,  # noqa: E402
    legend_overlaps,  # noqa: E402
)
from chromtools.pl._metrics import MIN_SPAN  # noqa: E402
from chromtools.pl._transfer import decimals  # noqa: E402

K562, H1 = "K562 (E123)", "H1 Cell Line (E003)"


pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(scope="module")
def results():
    """deepchrome and logreg on E123 and E003, the transfer matrix, a subsample curve
    and a fine-tuning from E123 to E003, each trained for a few epochs."""
    adata = ct.datasets.remc_sample()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", cell_types=["E123", "E003"], epochs=3, seed=0)
    ct.tl.fit(adata, "logreg", cell_types=["E123", "E003"])
    ct.tl.transfer_matrix(adata, model="deepchrome", epochs=2, seed=0)
    ct.tl.subsample_curve(
        adata, "E123", "E003", fractions=(0.5, 1.0), n_boot=2, model="deepchrome", epochs=2
    )
    ct.tl.finetune(adata, source="E123", target="E003", model="deepchrome", epochs=2)
    return adata


def _cells(names: dict[str, str]) -> AnnData:
    """An object of cell types only (``obs['name']``), for stored records written by hand."""
    obs = pd.DataFrame({"name": list(names.values())}, index=list(names))
    return AnnData(np.zeros((len(names), 1)), obs=obs)


def _transfer_record(matrix: np.ndarray, codes: list[str]) -> dict:
    table = pd.DataFrame(matrix, index=pd.Index(codes, name="source"), columns=codes)
    table.columns.name = "target"
    scores = table.stack().rename("auroc").reset_index()
    params = {"sources": codes, "targets": codes, "model": "deepchrome", "metric": "auroc"}
    return {"params": params, "matrix": table, "scores": scores}


def _finetune_record(scores: dict[str, float]) -> dict:
    metrics = pd.DataFrame(
        {"target": "E2", "approach": list(scores), "n": 80.0, "auroc": list(scores.values())}
    )
    return {
        "params": {"source": "E1", "targets": ["E2"], "model": "deepchrome"},
        "metrics": metrics,
    }


def _tick_values(ax) -> list[float]:
    """The y tick labels drawn (those within the limits), as numbers."""
    ax.figure.canvas.draw()
    low, high = sorted(ax.get_ylim())
    locations, labels = ax.yaxis.get_majorticklocs(), ax.yaxis.get_ticklabels()
    return [
        float(label.get_text().replace("\u2212", "-"))
        for location, label in zip(locations, labels, strict=True)
        if low - 1e-9 <= location <= high + 1e-9
    ]


def _legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _clear(ax, *twins) -> None:
    """No plotted point under the legend, nor any line, band or error bar (twins too)."""
    ax.figure.canvas.draw()
    assert legend_overlaps(ax) == 0
    assert covered(ax.get_legend(), [ax, *twins]) == 0


# ---------------------------------------------------------------- transfer_heatmap


@pytest.mark.parametrize(
    ("values", "places"),
    [
        ([0.62, 0.91], 2),
        ([0.987, 0.993], 3),  # the matrix: every cell read "0.99"
        ([0.9901, 0.9904, 0.993], 4),  # 3 decimals would print 0.990 twice
        ([0.99011, 0.99014], 5),
        ([0.9, 0.9], 4),  # equal values may print alike
    ],
)
def test_decimals_tell_different_values_apart(values, places):
    assert decimals(np.array(values)) == places


def test_transfer_heatmap_writes_close_values_distinctly():
    matrix = np.array([[0.9901, 0.9874], [0.9904, 0.9932]])
    adata = _cells({"E1": "K562", "E2": "H1"})
    adata.uns["transfer_matrix"] = _transfer_record(matrix, ["E1", "E2"])
    ax = ct.pl.transfer_heatmap(adata, show=False)
    written = [t.get_text() for t in ax.texts]
    assert written == [f"{v:.4f}" for v in matrix.ravel()]  # 0.990 would be written twice
    assert len(set(written)) == 4
    np.testing.assert_allclose(ax.get_images()[0].get_array(), matrix)
    colour_bar = ax.images[0].colorbar.ax.get_ylabel()
    assert "AUROC" in colour_bar and "test" in colour_bar and "0.9874–0.9932" in colour_bar


def test_transfer_heatmap_cells_equal_the_stored_matrix(results):
    ax = ct.pl.transfer_heatmap(results, show=False)
    matrix = results.uns["transfer_matrix"]["matrix"]
    values = matrix.to_numpy(float)
    np.testing.assert_allclose(ax.get_images()[0].get_array(), values)
    places = decimals(values)
    assert [t.get_text() for t in ax.texts] == [f"{v:.{places}f}" for v in values.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == [K562, H1]
    assert [t.get_text() for t in ax.get_yticklabels()] == [K562, H1]
    assert ax.get_xlabel() == "Target (scored on)" and ax.get_ylabel() == "Source (trained on)"


def test_transfer_heatmap_outlines_the_diagonal_and_says_what_it_is(results):
    ax = ct.pl.transfer_heatmap(results, show=False)
    corners = sorted(patch.get_xy() for patch in ax.patches)
    assert corners == [(-0.5, -0.5), (0.5, 0.5)]  # (E123, E123) and (E003, E003)
    assert "deepchrome" in ax.get_title()
    assert "diagonal: model scored on its own cell type" in ax.get_title()


def test_transfer_heatmap_draws_another_metric_from_the_scores(results):
    ax = ct.pl.transfer_heatmap(results, metric="auprc", show=False)
    scores = results.uns["transfer_matrix"]["scores"].set_index(["source", "target"])
    expected = [[scores.loc[(s, t), "auprc"] for t in ("E123", "E003")] for s in ("E123", "E003")]
    np.testing.assert_allclose(ax.get_images()[0].get_array(), expected)
    assert "AUPRC" in ax.images[0].colorbar.ax.get_ylabel()


# ---------------------------------------------------------------- finetune


def test_finetune_draws_the_stored_scores_and_names_source_and_target(results):
    ax = ct.pl.finetune(results, show=False)
    table = results.uns["finetune"]["metrics"].set_index("approach")
    drawn = {c.get_label(): c.get_offsets()[0, 1] for c in ax.collections}
    for approach, label in (("zero_shot", "zero-shot"), ("finetuned", "fine-tuned"),
                            ("scratch", "scratch")):  # fmt: skip
        assert drawn[label] == pytest.approx(table.loc[approach, "auroc"])
    assert [t.get_text() for t in ax.get_xticklabels()] == [H1]
    assert f"{K562} → {H1}" in ax.get_title()
    assert ax.get_ylabel() == "AUROC on target test genes"
    low, high = ax.get_ylim()
    assert high - low >= MIN_SPAN
    _clear(ax)


@pytest.mark.parametrize(
    "scores",
    [
        {"zero_shot": 0.995, "finetuned": 0.999, "scratch": 0.97},
        {"zero_shot": 1.0, "finetuned": 1.0, "scratch": 1.0},
        {"zero_shot": 0.2, "finetuned": 0.999, "scratch": 0.6},
    ],
)
def test_finetune_reads_no_auroc_above_1(scores):
    adata = _cells({"E1": "K562", "E2": "H1"})
    adata.uns["finetune"] = _finetune_record(scores)
    ax = ct.pl.finetune(adata, show=False)
    low, high = ax.get_ylim()
    assert high <= 1 + 0.02 * (high - low) + 1e-12  # a margin, not a step
    assert high - low >= MIN_SPAN
    ticks = _tick_values(ax)
    assert ticks and max(ticks) <= 1
    _clear(ax)


# ---------------------------------------------------------------- subsample_curve


def test_subsample_curve_draws_means_and_sd_bands_and_says_what_the_band_is(results):
    ax = ct.pl.subsample_curve(results, show=False)
    summary = results.uns["subsample_curve"]["summary"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    bands = ax.collections
    assert len(bands) == 2
    for (approach, label), band in zip(
        (("finetuned", "fine-tuned"), ("scratch", "scratch")), bands, strict=True
    ):
        rows = summary[summary["approach"] == approach].sort_values("n_train")
        np.testing.assert_allclose(lines[label].get_xdata(), rows["n_train"])
        np.testing.assert_allclose(lines[label].get_ydata(), rows["auroc_mean"])
        edge = band.get_paths()[0].vertices[:, 1]
        sd = rows["auroc_sd"].to_numpy()
        assert edge.min() == pytest.approx((rows["auroc_mean"] - sd).min())
        assert edge.max() == pytest.approx((rows["auroc_mean"] + sd).max())
    zero = summary.loc[summary["approach"] == "zero_shot", "auroc_mean"].iloc[0]
    assert lines["zero-shot"].get_ydata()[0] == pytest.approx(zero)
    assert "band: ± 1 sd over 2 subsamples" in _legend_texts(ax)
    _clear(ax)


def test_subsample_curve_axes_say_genes_shares_metric_and_cell_types(results):
    ax = ct.pl.subsample_curve(results, show=False)
    summary = results.uns["subsample_curve"]["summary"]
    trained = summary[summary["approach"] == "finetuned"].sort_values("n_train")
    shares = zip(trained["fraction"], trained["n_train"], strict=True)
    expected = [f"{n:g}\n{100 * f:g}%" for f, n in shares]
    assert [t.get_text() for t in ax.get_xticklabels()] == expected
    assert "training genes" in ax.get_xlabel() and "%" in ax.get_xlabel()
    assert ax.get_ylabel() == "AUROC on target test genes"
    assert f"{K562} → {H1}" in ax.get_title()
    low, high = ax.get_ylim()
    assert high - low >= MIN_SPAN and max(_tick_values(ax)) <= 1


# ---------------------------------------------------------------- metrics


def test_metrics_draws_the_stored_values_and_names_metric_split_and_interval(results):
    ax = ct.pl.metrics(results, "deepchrome", n_boot=20, show=False)
    table = results.uns["deepchrome"]["metrics"]
    test = table[table["split"] == "test"]
    dots = [c for c in ax.collections if c.get_label() == "deepchrome"][0]
    np.testing.assert_allclose(dots.get_offsets()[:, 1], test["auroc"])
    assert [t.get_text() for t in ax.get_xticklabels()] == [K562, H1]
    assert ax.get_xlabel() == "Cell type" and ax.get_ylabel() == "AUROC on test genes"
    n = int(test["n"].iloc[0])
    assert "95% bootstrap interval (20 resamples, n=" + f"{n} genes)" in ax.get_title()
    assert "AUROC" in ax.get_title() and "test" in ax.get_title()
    _clear(ax)


def test_metrics_of_another_split_and_no_intervals(results):
    ax = ct.pl.metrics(results, "deepchrome", metric="auprc", split="valid", n_boot=0, show=False)
    assert ax.get_ylabel() == "AUPRC on valid genes"
    assert "interval" not in ax.get_title()
    assert max(_tick_values(ax)) <= 1


# ---------------------------------------------------------------- learning_curve


def test_learning_curve_title_legend_and_score_axis(results):
    ax = ct.pl.learning_curve(results, "deepchrome", show=False)
    record = results.uns["deepchrome"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), record["history"]["train_loss"])
    assert ax.get_title() == f"deepchrome on {K562}, {H1}"
    assert f"best epoch {record['params']['best_epoch']}" in _legend_texts(ax)
    low, high = ax.right.get_ylim()
    assert high - low >= MIN_SPAN  # the validation AUROC moves by less than 0.01
    assert max(_tick_values(ax.right)) <= 1
    assert ax.right.get_ylabel() == "Validation AUROC, AUPRC"
    _clear(ax, ax.right)


def _history_record(history: dict, cell_types: list[str], best: int) -> dict:
    params = {"model": "deepchrome", "cell_types": cell_types, "best_epoch": best}
    return {"params": params, "metrics": pd.DataFrame(), "history": pd.DataFrame(history)}


def test_learning_curve_of_a_regression_draws_mse_with_the_loss():
    adata = _cells({"E1": "K562"})
    history = {"epoch": [1, 2, 3], "train_loss": [2.0, 1.5, 1.4], "valid_mse": [2.2, 1.8, 1.9],
               "valid_pearson": [0.5, 0.55, 0.54]}  # fmt: skip
    adata.uns["expression"] = _history_record(history, ["E1"], 2)
    ax = ct.pl.learning_curve(adata, "expression", show=False)
    left = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    np.testing.assert_allclose(left["validation mse"], history["valid_mse"])
    right = {line.get_label(): line.get_ydata() for line in ax.right.get_lines()}
    np.testing.assert_allclose(right["validation pearson"], history["valid_pearson"])
    assert ax.get_title() == "deepchrome on K562 (E1) ('expression')"
    _clear(ax, ax.right)


def test_learning_curve_scores_near_1_read_no_tick_above_it():
    adata = _cells({"E1": "K562"})
    history = {"epoch": [1, 2, 3, 4], "train_loss": [0.3, 0.1, 0.05, 0.04],
               "valid_auroc": [0.996, 0.998, 0.999, 0.999]}  # fmt: skip
    adata.uns["deepchrome"] = _history_record(history, ["E1"], 3)
    ax = ct.pl.learning_curve(adata, "deepchrome", show=False)
    low, high = ax.right.get_ylim()
    assert high - low >= MIN_SPAN and high <= 1 + 0.02 * (high - low) + 1e-12
    assert max(_tick_values(ax.right)) <= 1
    _clear(ax, ax.right)


# ---------------------------------------------------------------- ax, show, save


PLOTS = {
    "transfer_heatmap": (ct.pl.transfer_heatmap, ()),
    "finetune": (ct.pl.finetune, ()),
    "subsample_curve": (ct.pl.subsample_curve, ()),
    "metrics": (ct.pl.metrics, ("deepchrome",)),
    "learning_curve": (ct.pl.learning_curve, ("deepchrome",)),
}


@pytest.mark.parametrize("name", PLOTS)
def test_each_plot_draws_on_the_given_axes_and_saves(results, tmp_path, name):
    plot, arguments = PLOTS[name]
    fig, ax = plt.subplots()
    assert plot(results, *arguments, ax=ax, show=False) is ax
    assert ax.figure is fig
    path = tmp_path / f"{name}.png"
    assert plot(results, *arguments, save=path) is None
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", PLOTS)
def test_each_plot_refuses_axes_that_are_not_one(results, name):
    plot, arguments = PLOTS[name]
    fig, panels = plt.subplots(1, 2)
    with pytest.raises(ValueError, match=re.escape("ax must be a matplotlib Axes")):
        plot(results, *arguments, ax=panels, show=False)
