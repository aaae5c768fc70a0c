"""ct.pl: every plot drawn headless from stored results, its content checked against them.

The histone plots read models fitted on the real REMC sample (E123, E003);
the sequence plots read two ChromTransfer models on synthetic DNA with
planted motifs. Each test compares what was drawn (line data, bar heights,
heatmap cells, legend text) with the values in ``uns``/``layers``/``obsm``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy.stats import ks_2samp  # noqa: E402

import chromtools as ct  # noqa: E402

pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(scope="module")
def remc():
    adata = ct.datasets.remc_sample()
    ct.pp.crop(adata, (-5000, 5000))
    ct.pp.normalize(adata)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", cell_types=["E123", "E003"], epochs=5, seed=0)
    ct.tl.fit(adata, "attentivechrome", cell_types="E123", epochs=4, seed=0)
    ct.tl.fit(adata, "logreg", cell_types=["E123", "E003"])
    ct.tl.attention(adata, "attentivechrome")
    ct.tl.attribute(adata, "deepchrome", cell_types=["E123"])
    ct.tl.in_silico_deletion(adata, "deepchrome", cell_types=["E123"])
    ct.tl.transfer_matrix(adata, model="deepchrome", epochs=3, seed=0)
    ct.tl.subsample_curve(
        adata, "E123", "E003", fractions=(0.1, 0.5, 1.0), n_boot=2, model="deepchrome", epochs=3
    )
    ct.tl.finetune(adata, source="E123", target="E003", model="deepchrome", epochs=3)
    return adata


@pytest.fixture(scope="module")
def sequences(sequence_results):
    return sequence_results.copy()


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def _test_metric(adata, key, cell_type, metric):
    table = adata.uns[key]["metrics"]
    row = table[(table["cell_type"] == cell_type) & (table["split"] == "test")]
    return float(row[metric].iloc[0])


# ---------------------------------------------------------------- metrics


def test_roc_draws_one_curve_per_model_and_cell_type_with_the_stored_auroc(remc):
    ax = ct.pl.roc(remc, ["deepchrome", "logreg"], show=False)
    curves = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert len(curves) == 4  # deepchrome and logreg, each on E123 and E003
    for text in _legend(ax):
        # cell types by their name and code: "deepchrome · K562 (E123) (AUROC 0.920)"
        key, cell_type, value = re.match(r"(\w+) · .* \((\w+)\) \(AUROC ([\d.]+)\)", text).groups()
        assert float(value) == pytest.approx(_test_metric(remc, key, cell_type, "auroc"), abs=5e-4)
    for line in curves:  # a ROC curve runs from (0, 0) to (1, 1), never down
        x, y = line.get_xdata(), line.get_ydata()
        assert (x[0], y[0]) == (0, 0) and (x[-1], y[-1]) == (1, 1)
        assert np.all(np.diff(x) >= 0) and np.all(np.diff(y) >= 0)
    assert ax.get_xlabel() == "False positive rate" and ax.get_ylabel() == "True positive rate"


def test_pr_legend_gives_the_stored_auprc(remc):
    ax = ct.pl.pr(remc, "deepchrome", cell_types="E003", show=False)
    (text,) = [t for t in _legend(ax) if not t.startswith("prevalence")]
    value = float(re.search(r"AUPRC ([\d.]+)", text).group(1))
    assert value == pytest.approx(_test_metric(remc, "deepchrome", "E003", "auprc"), abs=5e-4)
    assert ax.get_xlabel() == "Recall"


def test_metrics_draws_the_stored_values_intervals_baseline_and_published(remc):
    ax = ct.pl.metrics(remc, ["deepchrome", "attentivechrome"], n_boot=50, show=False)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["K562 (E123)", "H1 Cell Line (E003)"]
    dots = {
        c.get_label(): c.get_offsets()
        for c in ax.collections
        if c.get_label() in ("deepchrome", "attentivechrome", "DeepChrome (published)")
    }
    np.testing.assert_allclose(
        dots["deepchrome"][:, 1],
        [_test_metric(remc, "deepchrome", c, "auroc") for c in ("E123", "E003")],
    )
    np.testing.assert_allclose(
        dots["attentivechrome"][:, 1], [_test_metric(remc, "attentivechrome", "E123", "auroc")]
    )
    published = remc.obs["deepchrome_auc"].loc[["E123", "E003"]].to_numpy(float)
    np.testing.assert_allclose(dots["DeepChrome (published)"][:, 1], published)
    # the logreg baseline as one grey bar per cell type at its stored value
    bars = [c for c in ax.collections if c.get_label() in ("logreg", "_logreg")]
    levels = sorted(seg[0, 1] for c in bars for seg in c.get_segments())
    assert levels == pytest.approx(
        sorted(_test_metric(remc, "logreg", c, "auroc") for c in ("E123", "E003"))
    )
    # each dot sits inside its bootstrap interval
    errorbars = [
        c for c in ax.collections if type(c).__name__ == "LineCollection" and c not in bars
    ]
    segments = np.concatenate([c.get_segments() for c in errorbars])
    assert len(segments) == 3
    for low, high in ((s[0, 1], s[1, 1]) for s in segments):
        assert low <= high and 0.5 < low and high <= 1


def test_learning_curve_draws_the_history_and_marks_the_best_epoch(remc):
    ax = ct.pl.learning_curve(remc, "deepchrome", show=False)
    history = remc.uns["deepchrome"]["history"]
    loss = ax.get_lines()[0]
    np.testing.assert_allclose(loss.get_ydata(), history["train_loss"])
    right = {line.get_label(): line.get_ydata() for line in ax.right.get_lines()}
    np.testing.assert_allclose(right["validation AUROC"], history["valid_auroc"])
    best = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert best[0].get_xdata()[0] == remc.uns["deepchrome"]["params"]["best_epoch"]


def test_calibration_bins_and_brier_score_equal_a_direct_computation(remc):
    ax = ct.pl.calibration(remc, "deepchrome", cell_types="E123", n_bins=5, show=False)
    test = (remc.var["split"] == "test").to_numpy()
    truth = remc.layers["label"][0, test].astype(float)
    guess = remc.layers["deepchrome"][0, test].astype(float)
    (text,) = _legend(ax)
    assert float(re.search(r"Brier ([\d.]+)", text).group(1)) == pytest.approx(
        np.mean((guess - truth) ** 2), abs=5e-4
    )
    curve = [line for line in ax.get_lines() if line.get_label() == text][0]
    which = np.clip(np.digitize(guess, np.linspace(0, 1, 6)[1:-1]), 0, 4)
    expected = [truth[which == b].mean() for b in range(5) if (which == b).any()]
    np.testing.assert_allclose(curve.get_ydata(), expected)


# ---------------------------------------------------------------- transfer


def test_transfer_heatmap_cells_equal_the_stored_matrix(remc):
    ax = ct.pl.transfer_heatmap(remc, show=False)
    matrix = remc.uns["transfer_matrix"]["matrix"]
    np.testing.assert_allclose(ax.get_images()[0].get_array(), matrix.to_numpy(float))
    names = [ct.pl._utils.cell_label(remc, c) for c in matrix.columns]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.get_yticklabels()] == names  # sources are the targets
    places = ct.pl._transfer.decimals(matrix.to_numpy())  # 3 while the spread is below 0.05
    written = sorted(float(t.get_text()) for t in ax.texts)
    assert written == pytest.approx(sorted(np.round(matrix.to_numpy().ravel(), places)))
    assert len(ax.patches) == 2  # the diagonal, outlined


def test_subsample_curve_draws_the_summary_and_the_zero_shot_line(remc):
    ax = ct.pl.subsample_curve(remc, show=False)
    summary = remc.uns["subsample_curve"]["summary"]
    lines = {line.get_label(): line for line in ax.get_lines()}
    for approach, label in (("finetuned", "fine-tuned"), ("scratch", "scratch")):
        rows = summary[summary["approach"] == approach].sort_values("n_train")
        np.testing.assert_allclose(lines[label].get_xdata(), rows["n_train"])
        np.testing.assert_allclose(lines[label].get_ydata(), rows["auroc_mean"])
    zero = summary.loc[summary["approach"] == "zero_shot", "auroc_mean"].iloc[0]
    assert lines["zero-shot"].get_ydata()[0] == pytest.approx(zero)
    assert len(ax.collections) == 2  # one sd band per approach


def test_finetune_draws_each_approach_at_its_stored_score(remc):
    ax = ct.pl.finetune(remc, show=False)
    metrics = remc.uns["finetune"]["metrics"].set_index("approach")
    drawn = {c.get_label(): c.get_offsets()[0, 1] for c in ax.collections}
    for approach, label in (
        ("zero_shot", "zero-shot"),
        ("finetuned", "fine-tuned"),
        ("scratch", "scratch"),
    ):
        assert drawn[label] == pytest.approx(metrics.loc[approach, "auroc"])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["H1 Cell Line (E003)"]


# ---------------------------------------------------------------- attention and deletion


def test_attention_alpha_is_the_mean_map_of_on_and_off_genes(remc):
    fig = ct.pl.attention(remc, "attentivechrome", cell_types="E123", show=False)
    on_ax, off_ax = fig.axes[:2]
    alpha, _ = ct.get.attention(remc, "attentivechrome")
    alpha = np.asarray(alpha[0], dtype=float)
    on = remc.layers["label"][0] == 1
    marks = remc.uns["attentivechrome_attention"]["marks"]
    for ax, genes in ((on_ax, on), (off_ax, ~on)):
        lines = [line for line in ax.get_lines() if line.get_label() in marks]
        assert [line.get_label() for line in lines] == marks
        for j, line in enumerate(lines):
            np.testing.assert_allclose(line.get_ydata(), alpha[genes, j].mean(axis=0), rtol=1e-6)
        assert f"(n = {int(genes.sum())})" in ax.get_title()
    x = on_ax.get_lines()[0].get_xdata()
    assert x[0] == -4950 and x[-1] == 4950  # bin centres of ±5 kb in 100 bp bins


def test_attention_beta_heatmap_equals_the_stored_beta(remc):
    genes = list(remc.var_names[:3])
    fig = ct.pl.attention(remc, "attentivechrome", kind="beta", genes=genes, show=False)
    _, beta = ct.get.attention(remc, "attentivechrome")
    image = fig.axes[0].get_images()[0].get_array()
    # one row per gene × cell type explained (both E123 and E003 have signal)
    expected = np.asarray(beta[:2, :3], dtype=float).transpose(1, 0, 2).reshape(6, -1)
    np.testing.assert_allclose(image, expected, rtol=1e-6)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    names = remc.var["gene_name"].iloc[:3]
    cells = ("K562 (E123)", "H1 Cell Line (E003)")  # cell_label: name (code)
    assert labels == [f"{g} · {c}" for g in names for c in cells]


def test_deletion_bars_equal_the_summary(remc):
    ax = ct.pl.deletion(remc, "deepchrome_deletion", show=False)
    summary = remc.uns["deepchrome_deletion"]["summary"]
    perturbations = remc.uns["deepchrome_deletion"]["perturbations"]
    heights = [bar.get_height() for bar in ax.patches]
    expected = [
        summary.set_index(["perturbation", "status"]).loc[(p, status), "mean_change"]
        for status in ("ON", "OFF")
        for p in perturbations
    ]
    np.testing.assert_allclose(heights, expected, rtol=1e-6)
    marks = [t.get_text() for t in ax.get_xticklabels()]
    assert marks == [p.removeprefix("deepchrome_deletion_") for p in perturbations]


def test_signal_draws_each_cell_types_marks_and_the_attribution_shade(remc):
    gene = remc.var_names[5]
    fig = ct.pl.signal(remc, gene, highlight="deepchrome", show=False)
    signal = np.asarray(ct.get.histone(remc)[:, 5], dtype=float)
    marks = ct.get.marks(remc)
    mark_axes = [ax for ax in fig.axes if ax.get_lines() and ax.get_title(loc="left")]
    # the two with signal, by name and code
    assert [ax.get_title(loc="left") for ax in mark_axes] == ["K562 (E123)", "H1 Cell Line (E003)"]
    for row, ax in enumerate(mark_axes):
        lines = [line for line in ax.get_lines() if line.get_label() in marks]
        for j, line in enumerate(lines):
            np.testing.assert_allclose(line.get_ydata(), signal[row, j], rtol=1e-6)
    # E123 was explained: its bins are coloured by |attribution| on one scale from 0
    mesh = [c for ax in fig.axes for c in ax.collections if hasattr(c, "get_array")][0]
    weights = np.abs(np.asarray(ct.get.attributions(remc, "deepchrome")[0, 5])).sum(axis=0)
    np.testing.assert_allclose(np.ravel(mesh.get_array()), weights, rtol=1e-5)
    assert mesh.norm.vmin == 0 and mesh.norm.vmax == pytest.approx(weights.max())


# ---------------------------------------------------------------- sequence models


def test_attribution_draws_the_logo_and_every_site_of_the_region(sequences):
    region = str(sequences.var_names[(sequences.var["planted"] == "A").to_numpy()][0])
    fig = ct.pl.attribution(sequences, "ct_A", region, show=False)
    logo, sites_ax = fig.axes[:2]
    sites = sequences.uns["motif_sites"]
    sites = sites[sites["region"].astype(str) == region]
    assert len(sites_ax.patches) == len(sites) > 0
    labels = sorted(t.get_text() for t in sites_ax.texts)
    # the strand reads as a sign in brackets, never as a hyphen glued to the name
    signs = {"+": "+", "-": "\u2212"}
    assert labels == sorted(
        f"{tf} ({signs[s]})" for tf, s in zip(sites["tf_name"], sites["strand"], strict=True)
    )
    spans = sorted(
        (round(p.get_x() + 0.5), round(p.get_x() + 0.5 + p.get_width())) for p in sites_ax.patches
    )
    assert spans == sorted(zip(sites["start"], sites["end"], strict=True))
    # the logo's extent is the observed bases' attributions
    row = sequences.var_names.get_loc(region)
    per_base = sequences.varm["ct_A_attr_A"][row].sum(axis=1)
    low, high = logo.get_ylim()
    assert low <= per_base.min() and high >= per_base.max()
    assert logo.get_xlim() == pytest.approx((-0.5, sequences.varm["onehot"].shape[1] - 0.5))


def test_motif_ecdf_draws_the_two_samples_of_the_ks_test(sequences):
    table = sequences.uns["ct_A_motifs"]
    motif = table.index[0]
    ax = ct.pl.motif_ecdf(sequences, "ct_A", motif, show=False)
    own, other = (line.get_xdata() for line in ax.get_lines()[:2])
    assert len(own) == table.loc[motif, "n_sites"]
    assert ks_2samp(own, other).statistic == pytest.approx(abs(table.loc[motif, "ks_d"]))
    assert f"D = {table.loc[motif, 'ks_d']:+.2f}" in ax.get_title()
    # a TF name finds its matrix
    ax = ct.pl.motif_ecdf(sequences, "ct_A", str(table["tf_name"].iloc[0]), show=False)
    assert len(ax.get_lines()[0].get_xdata()) == table["n_sites"].iloc[0]


def test_motif_ecdf_draws_the_scores_the_enrichment_tested(sequences):
    """The stored site scores are those the KS tests compared: the curves are the ones
    drawn before, when ct.pl recomputed every site's score from the attributions."""
    from chromtools.tl.motifs._enrichment import scored_sites
    from chromtools.tl.motifs._plan import _check_sites, _plan

    params = sequences.uns["ct_A_motifs_params"]
    sites = _check_sites(sequences)
    plan = _plan(sequences, "ct_A", params["cell_type"], params["score"],
                 params["positive_only"], int(sites["end"].max()))  # fmt: skip
    scored = scored_sites(sequences, plan, sites)
    stored = sequences.uns["ct_A_motif_scores"]
    assert stored["importance"].dtype == np.float32
    assert isinstance(stored["motif_id"].dtype, pd.CategoricalDtype)
    np.testing.assert_array_equal(stored["importance"], scored.importance.astype(np.float32))
    np.testing.assert_array_equal(
        stored["motif_id"].astype(str), scored.ids.categories[scored.motif].astype(str)
    )
    table = sequences.uns["ct_A_motifs"]
    for motif in table.index[[0, len(table) // 2, -1]]:
        ax = ct.pl.motif_ecdf(sequences, "ct_A", motif, show=False)
        code = list(scored.ids.categories).index(motif)
        own = scored.motif == code
        flat_start, flat_end = scored.flat
        # the background by brute force: other motifs' sites sharing no base with its own
        shares_a_base = (flat_start[own][None, :] < flat_end[:, None]) & (
            flat_end[own][None, :] > flat_start[:, None]
        )
        background = ~own & ~shares_a_base.any(axis=1)
        for line, expected in zip(ax.get_lines()[:2], (own, background), strict=True):
            np.testing.assert_allclose(
                line.get_xdata(), np.sort(scored.importance[expected]), rtol=1e-6
            )


def test_pl_imports_no_private_module_of_another_subpackage():
    """DESIGN §6: ct.pl reads through ct.get and the registry; it may import a package
    (``from ..get import x``, ``from ..tl import x``), never its private modules."""
    offenders = []
    for path in sorted((Path(ct.__file__).parent / "pl").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            parts = (node.module or "").split(".")
            # level 2 reaches chromtools: a subpackage then one of its private modules
            absolute = node.level == 0 and parts[0] == "chromtools"
            inside = parts[1:] if absolute else parts if node.level == 2 else []
            if len(inside) >= 2 and inside[0] != "pl" and inside[1].startswith("_"):
                offenders.append(f"{path.name}:{node.lineno} {'.' * node.level}{node.module}")
    assert offenders == []


def test_motif_scatter_places_each_tf_at_its_two_signed_d(sequences):
    ax = ct.pl.motif_scatter(sequences, "ct_A", "ct_B", fdr=0.05, show=False)
    joined = sequences.uns["ct_A_vs_ct_B_motifs"].dropna(subset=["ks_d_ct_A", "ks_d_ct_B"])
    # motifs one model did not test are drawn apart, on the edge of its axis
    tested_in_both = [c for c in ax.collections if "one model" not in c.get_label()]
    points = np.concatenate([c.get_offsets() for c in tested_in_both])
    assert len(points) == len(joined)
    np.testing.assert_allclose(
        sorted(map(tuple, points)),
        sorted(zip(joined["ks_d_ct_A"], joined["ks_d_ct_B"], strict=True)),
    )
    counts = {c.get_label(): len(c.get_offsets()) for c in tested_in_both}
    significant_a = (joined["fdr_ct_A"] < 0.05).sum()
    assert counts.get("ct_A only", 0) + counts.get("both", 0) == significant_a
    assert ax.get_xlabel() == "KS D, ct_A" and ax.get_ylabel() == "KS D, ct_B"


# ---------------------------------------------------------------- show, save, errors


def test_save_writes_the_figure_and_show_closes_it_on_agg(remc, tmp_path):
    path = tmp_path / "roc.png"
    assert ct.pl.roc(remc, "deepchrome", save=path) is None  # saved and shown (closed on Agg)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == []
    fig, ax = plt.subplots()
    assert ct.pl.roc(remc, "deepchrome", ax=ax, show=False) is ax


@pytest.mark.parametrize(
    ("plot", "arguments", "message"),
    [
        (ct.pl.roc, ("nope",), r"adata.uns\['nope'\], which is missing; run ct.tl.fit"),
        (ct.pl.learning_curve, ("logreg",), r"no per-epoch history"),
        (ct.pl.transfer_heatmap, ("missing",), r"run ct.tl.transfer_matrix"),
        (ct.pl.attention, ("deepchrome",), r"run ct.tl.attention\(adata, 'deepchrome'\)"),
        (ct.pl.signal, ("not-a-gene",), r"gene='not-a-gene' is not in adata.var_names"),
        (ct.pl.motif_ecdf, ("deepchrome", "CTCF"), r"run ct.tl.motif_enrichment"),
        (ct.pl.deletion, ("attentivechrome_deletion",), r"run ct.tl.in_silico_deletion"),
    ],
)
def test_a_plot_without_its_results_names_the_tool_to_run(remc, plot, arguments, message):
    with pytest.raises(ValueError, match=message):
        plot(remc, *arguments, show=False)
    assert plt.get_fignums() == []  # refused before drawing


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"show": "yes"}, r"show must be True, False or None"),
        ({"save": 3}, r"save must be a file name"),
        ({"save": "figure.unknown"}, r"must end in a format matplotlib writes"),
        ({"split": "holdout"}, r"split must be one of"),
        ({"cell_types": "E004"}, r"the ones with results are \['E123', 'E003'\]"),
    ],
)
def test_bad_plot_arguments_are_refused(remc, arguments, message):
    with pytest.raises(ValueError, match=message):
        ct.pl.roc(remc, "deepchrome", **arguments)
    assert plt.get_fignums() == []


def test_a_failed_save_leaves_the_existing_figure_as_it_was(remc, small_disk, fill_up):
    path = small_disk / "figure.png"
    ct.pl.roc(remc, "deepchrome", save=path)
    before = path.read_bytes()
    fill_up(small_disk)
    message = rf"save='{re.escape(str(path))}': cannot write {re.escape(str(path))}: No space left"
    with pytest.raises(OSError, match=message):
        ct.pl.pr(remc, "deepchrome", save=path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["figure.png", "filler"]  # no .tmp-*


@pytest.mark.parametrize(
    ("where", "error", "message"),
    [
        ("folder", IsADirectoryError, r"save='{path}': {path} is a folder; give a figure name"),
        ("read-only", OSError, r"save='{path}': cannot write {path}: Read-only file system"),
        ("missing", FileNotFoundError, r"save='{path}': .*the folder {parent} does not exist"),
    ],
)
def test_a_save_that_cannot_be_written_is_refused_before_drawing(
    remc, tmp_path, request, where, error, message
):
    path = {
        "folder": tmp_path,
        "read-only": request.getfixturevalue("read_only_folder") / "roc.png",
        "missing": tmp_path / "no" / "roc.png",
    }[where]
    expected = message.format(path=re.escape(str(path)), parent=re.escape(str(path.parent)))
    with pytest.raises(error, match=expected):
        ct.pl.roc(remc, "deepchrome", save=path)
    assert plt.get_fignums() == []
    assert [p.name for p in tmp_path.rglob("*")] in ([], ["read_only"])  # nothing written


def _plots() -> list:
    return [getattr(ct.pl, name) for name in ct.pl.__all__]


@pytest.mark.parametrize("plot", _plots(), ids=lambda plot: plot.__name__)
def test_every_plot_checks_its_save_destination_first(remc, tmp_path, plot):
    required = [
        p
        for p in inspect.signature(plot).parameters.values()
        if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty
    ]
    arguments = ["not-drawn"] * (len(required) - 1)  # after the AnnData
    folder = re.escape(str(tmp_path))
    with pytest.raises(IsADirectoryError, match=rf"save='{folder}': {folder} is a folder"):
        plot(remc, *arguments, save=tmp_path)
    assert plt.get_fignums() == []


def test_no_plot_saves_a_figure_but_through_the_one_helper():
    """A plot calling ``savefig`` itself would write in place, bypassing the atomic save."""
    package = importlib.import_module("chromtools.pl")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name == "_utils":
            continue
        source = inspect.getsource(importlib.import_module(f"chromtools.pl.{module.name}"))
        assert "savefig(" not in source and "print_figure(" not in source, module.name


def test_every_plot_has_one_signature_shape():
    """ax=, show=, save= keyword-only on every plot; a cell-type argument is cell_types."""
    import inspect

    for name in ct.pl.__all__:
        parameters = inspect.signature(getattr(ct.pl, name)).parameters
        for option in ("ax", "show", "save"):
            assert parameters[option].kind is inspect.Parameter.KEYWORD_ONLY, (name, option)
            assert parameters[option].default is None, (name, option)
        cell = [p for p in parameters if p.startswith("cell")]
        assert cell in ([], ["cell_types"]), (name, cell)
