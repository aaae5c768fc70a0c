"""``ct.tl.variant_effects`` and ``ct.pl.variant_effect`` on DNA with a planted REST site.

One small ChromTransfer learns that a REST site opens a region. A variant's
change of the logit must equal the ISM delta of that base and letter; a
variant in the core of the planted site must lower the prediction and be
reported as breaking a REST site; variants far from it must barely matter.
"""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest
import torch

import chromtools as ct
from chromtools.functional import ism
from chromtools.io._motifs import jaspar_motif
from chromtools.pl._utils import cell_label
from chromtools.tl.interpret._interpreted import load_network
from chromtools.tl.motifs._pvalues import _log_odds
from chromtools.tl.motifs._scan import scan

REST = "MA0138.3"
WIDTH = 100


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    adata = ct.datasets.synthetic_sequences(
        400, WIDTH, cell_types=("A",), motifs=[REST], shared_fraction=0, seed=0
    )
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "chromtransfer", cell_types="A", key_added="ct_A", epochs=8, batch_size=32,
              lr=3e-3, seed=0, hyperparameters={"filters": 16, "hidden": [16]})  # fmt: skip
    ct.tl.predict(adata, "ct_A")
    return adata


def _core_variant(adata) -> tuple[str, int, str, str, int]:
    """The best-predicted planted region and, at its site's most certain column, the
    least likely base: (region, position, ref, alt, site start)."""
    row_a = adata.obs_names.get_loc("A")
    planted = np.flatnonzero(adata.var["planted"].to_numpy() == "A")
    row = int(planted[np.argmax(np.asarray(adata.layers["ct_A"])[row_a, planted])])
    start = int(adata.var["motif_start"].iloc[row])
    minus = adata.var["motif_strand"].iloc[row] == "-"
    log_odds = _log_odds(jaspar_motif(REST)["frequencies"].T)
    column = int(np.argmax(log_odds.max(axis=1)))
    worst = int(np.argmin(log_odds[column]))
    position = start + (len(log_odds) - 1 - column if minus else column)
    alt = 3 - worst if minus else worst
    ref = int(adata.varm["onehot"][row, position].argmax())
    return str(adata.var_names[row]), position, "ACGT"[ref], "ACGT"[alt], start


def _table(*variants) -> pd.DataFrame:
    return pd.DataFrame(variants, columns=["region", "position", "ref", "alt"])


def _far_variants(adata, region: str, start: int) -> pd.DataFrame:
    """A substitution at every base 25 bp or more from the planted site."""
    row = adata.var_names.get_loc(region)
    bases = adata.varm["onehot"][row].argmax(axis=1)
    far = [p for p in range(WIDTH) if p < start - 25 or p > start + 20 + 25]
    return _table(*[(region, p, "ACGT"[bases[p]], "ACGT"[(bases[p] + 1) % 4]) for p in far])


@pytest.mark.parametrize("path", ["windowed", "full"])
def test_the_log_odds_change_is_the_ism_delta(fitted, path):
    adata = fitted.copy()
    region, position, ref, alt, _ = _core_variant(adata)
    row = adata.var_names.get_loc(region)
    bases = adata.varm["onehot"][row].argmax(axis=1)
    others = [(region, p, "ACGT"[bases[p]], "ACGT"[(bases[p] + 2) % 4]) for p in (0, 37, 99)]
    ct.tl.variant_effects(adata, "ct_A", _table((region, position, ref, alt), *others),
                          motifs=[REST], path=path)  # fmt: skip
    effects = adata.uns["variant_effects"]["effects"]
    network = load_network(adata.uns["ct_A"], torch.device("cpu"))
    x = torch.as_tensor(adata.varm["onehot"][[row]], dtype=torch.float32)
    deltas = ism(network, x, path=path)[0].numpy()
    alts = ["ACGT".index(a) for a in effects["alt"]]
    expected = deltas[effects["position"].to_numpy(), alts]
    np.testing.assert_allclose(effects["log_odds_delta"], expected, rtol=0, atol=1e-5)
    probability = np.asarray(adata.layers["ct_A"])[adata.obs_names.get_loc("A"), row]
    np.testing.assert_allclose(effects["ref_prediction"], probability, atol=1e-5)
    logit = np.log(effects["ref_prediction"] / (1 - effects["ref_prediction"]))
    alt_probability = 1 / (1 + np.exp(-(logit + effects["log_odds_delta"])))
    np.testing.assert_allclose(effects["alt_prediction"], alt_probability, atol=1e-6)
    np.testing.assert_allclose(
        effects["delta"], effects["alt_prediction"] - effects["ref_prediction"], atol=1e-12
    )


def _site_pvalues(adata, region: str, position: int, alt: str, start: int) -> tuple[float, float]:
    """p-value of the planted REST window with the ref and with the alt allele."""
    row = adata.var_names.get_loc(region)
    sequences = np.repeat(adata.varm["onehot"][[row]], 2, axis=0)
    sequences[1, position] = np.eye(4, dtype=np.uint8)["ACGT".index(alt)]
    sites = scan(sequences, [jaspar_motif(REST)], pvalue=1.0)
    strand = adata.var["motif_strand"].iloc[row]
    planted = sites[(sites["start"] == start) & (sites["strand"] == strand)]
    return tuple(planted.set_index("region")["pvalue"].reindex([0, 1]).fillna(1.0))


def test_a_variant_in_the_core_of_the_site_breaks_it_and_closes_the_region(fitted):
    adata = fitted.copy()
    region, position, ref, alt, start = _core_variant(adata)
    p_ref, p_alt = _site_pvalues(adata, region, position, alt, start)
    assert p_ref < p_alt
    threshold = float(np.sqrt(p_ref * p_alt))  # the site passes with ref, not with alt
    variants = pd.concat(
        [_table((region, position, ref, alt)), _far_variants(adata, region, start)]
    )
    ct.tl.variant_effects(adata, "ct_A", variants, motifs=[REST], pvalue=threshold)
    result = adata.uns["variant_effects"]
    effects = result["effects"].set_index("position")
    core = effects.loc[position]
    assert core["delta"] < 0 and core["log_odds_delta"] < 0, core
    assert core["sites_lost"] == "REST" and core["sites_gained"] == ""
    lost = result["sites"].iloc[0]
    assert len(result["sites"]) == 1
    assert (lost["variant"], lost["region"], lost["change"], lost["tf_name"]) == (
        f"{region}:{position}:{ref}>{alt}",
        region,
        "lost",
        "REST",
    )
    assert (lost["start"], lost["end"]) == (start, start + len(jaspar_motif(REST)["frequencies"]))
    assert lost["pvalue"] == pytest.approx(p_ref, rel=1e-9)
    far = effects.drop(index=position)
    assert (far["sites_lost"] == "").all()
    assert far["log_odds_delta"].abs().median() < 0.1 * abs(core["log_odds_delta"]), far


def test_a_variant_that_restores_a_broken_site_creates_it_and_opens_the_region(fitted):
    """The mirror of the core variant: in DNA where the planted REST site carries the
    breaking base, the variant back to the original base gains the site."""
    adata = fitted.copy()
    region, position, ref, alt, start = _core_variant(adata)
    p_intact, p_broken = _site_pvalues(adata, region, position, alt, start)
    row = adata.var_names.get_loc(region)
    onehot = np.array(adata.varm["onehot"])
    onehot[row, position] = np.eye(4, dtype=onehot.dtype)["ACGT".index(alt)]
    adata.varm["onehot"] = onehot
    threshold = float(np.sqrt(p_intact * p_broken))
    ct.tl.variant_effects(adata, "ct_A", _table((region, position, alt, ref)), motifs=[REST],
                          pvalue=threshold)  # fmt: skip
    result = adata.uns["variant_effects"]
    restored = result["effects"].iloc[0]
    assert restored["delta"] > 0 and restored["log_odds_delta"] > 0, restored
    assert restored["sites_gained"] == "REST" and restored["sites_lost"] == ""
    (gained,) = result["sites"].itertuples(index=False)
    assert (gained.variant, gained.change, gained.tf_name) == (
        f"{region}:{position}:{alt}>{ref}",
        "gained",
        "REST",
    )
    assert (gained.start, gained.end) == (start, start + len(jaspar_motif(REST)["frequencies"]))
    assert gained.pvalue == pytest.approx(p_intact, rel=1e-9)  # the alt allele's site


def test_variants_by_chromosome_and_vcf_position_match_region_and_position(fitted, tmp_path):
    adata = fitted.copy()
    region, position, ref, alt, _ = _core_variant(adata)
    start = int(adata.var.loc[region, "start"])
    chrom = adata.var.loc[region, "chrom"]
    vcf = tmp_path / "variants.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"{chrom}\t{start + position + 1}\trs1\t{ref}\t{alt}\t.\t.\t.\n"
        f"{chrom}\t{start + 3}\t.\t{_base(adata, region, 2)}\tA\t.\t.\t.\n"
        + "chrUn\t5\trs9\tA\tG\t.\t.\t.\n"
    )
    with pytest.warns(UserWarning, match=r"1 variants lie in no region.*rs9"):
        ct.tl.variant_effects(adata, "ct_A", vcf, motifs=[REST], key_added="from_vcf")
    by_vcf = adata.uns["from_vcf"]["effects"]
    assert by_vcf["variant"].tolist() == ["rs1", f"{chrom}:{start + 3}:{_base(adata, region, 2)}>A"]
    assert by_vcf["position"].tolist() == [position, 2]
    assert adata.uns["from_vcf"]["params"]["n_left_out"] == 1
    ct.tl.variant_effects(adata, "ct_A", _table((region, position, ref, alt)), motifs=[REST])
    by_region = adata.uns["variant_effects"]["effects"]
    # one mutant per pass or two: the same numbers to float32 rounding
    assert by_vcf["log_odds_delta"].iloc[0] == pytest.approx(
        by_region["log_odds_delta"].iloc[0], abs=1e-6
    )


def _base(adata, region: str, position: int) -> str:
    return "ACGT"[int(adata.varm["onehot"][adata.var_names.get_loc(region), position].argmax())]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"region": "chrX:1-2"}, KeyError, r"\['v'\] name regions \['chrX:1-2'\]"),
        ({"position": WIDTH}, ValueError, r"variant 'v': position 100 lies outside"),
        ({"ref": "wrong"}, ValueError, r"variant 'v': ref . does not match .* which is ."),
        ({"alt": "N"}, ValueError, r"variant 'v': alt 'N' is not a sequence of A, C, G, T"),
        ({"alt": "ACG"}, ValueError, r"variant 'v' \(.>ACG\) is an insertion or deletion"),
        ({"alt": "same"}, ValueError, r"\['v'\] have alt equal to ref"),
        ({"position": 1.5}, ValueError, r"variants\['position'\] must hold whole numbers"),
    ],
)
def test_a_bad_variant_is_refused_by_name_before_any_work(fitted, change, error, match):
    adata = fitted.copy()
    region = str(adata.var_names[0])
    bases = "ACGT"
    ref = _base(adata, region, 10)
    row = {"id": "v", "region": region, "position": 10, "ref": ref,
           "alt": bases[(bases.index(ref) + 1) % 4]}  # fmt: skip
    row.update(change)
    if row["ref"] == "wrong":
        row["ref"] = bases[(bases.index(ref) + 2) % 4]
    if row["alt"] == "same":
        row["alt"] = ref
    with pytest.raises(error, match=match):
        ct.tl.variant_effects(adata, "ct_A", pd.DataFrame([row]), motifs=[REST])
    assert "variant_effects" not in adata.uns


@pytest.mark.parametrize(
    ("variants", "match"),
    [
        (pd.DataFrame(columns=["region", "position", "ref", "alt"]), "variants is empty"),
        (pd.DataFrame({"region": ["r"], "ref": ["A"], "alt": ["G"]}), "needs the columns"),
        ([("r", 1, "A", "G")], "must be a DataFrame"),
    ],
)
def test_a_bad_variant_table_is_refused(fitted, variants, match):
    with pytest.raises(ValueError, match=match):
        ct.tl.variant_effects(fitted.copy(), "ct_A", variants)


def test_a_malformed_vcf_is_refused_naming_the_line(fitted, tmp_path):
    vcf = tmp_path / "bad.vcf"
    vcf.write_text("#CHROM\tPOS\tID\tREF\tALT\nchr1\tten\t.\tA\tG\n")
    with pytest.raises(ct.FormatError, match=r"line 2: POS 'ten' is not a 1-based position"):
        ct.tl.variant_effects(fitted.copy(), "ct_A", vcf)


def test_the_result_goes_through_the_registry_and_round_trips(fitted, tmp_path):
    adata = fitted.copy()
    region, position, ref, alt, _ = _core_variant(adata)
    variants = _table((region, position, ref, alt))
    with pytest.raises(ValueError, match=r"would overwrite uns\['ct_A'\] \(a model result\)"):
        ct.tl.variant_effects(adata, "ct_A", variants, motifs=[REST], key_added="ct_A")
    ct.tl.variant_effects(adata, "ct_A", variants, motifs=[REST])
    ct.tl.variant_effects(adata, "ct_A", variants, motifs=[REST])  # a rerun replaces its own
    result = adata.uns["variant_effects"]
    assert ct._results.kind_of(result) == "variant_effects"
    assert result["params"]["models"] == ["ct_A"] and result["params"]["n_variants"] == 1
    assert result["attributions"].shape == (1, 2, 41, 4)
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = anndata.read_h5ad(tmp_path / "a.h5ad")
    pd.testing.assert_frame_equal(
        back.uns["variant_effects"]["effects"], result["effects"], check_dtype=False
    )
    np.testing.assert_array_equal(back.uns["variant_effects"]["attributions"],
                                  result["attributions"])  # fmt: skip


def test_the_plot_draws_the_stored_logos_sites_and_predictions(fitted, close_figures):
    adata = fitted.copy()
    region, position, ref, alt, start = _core_variant(adata)
    p_ref, p_alt = _site_pvalues(adata, region, position, alt, start)
    ct.tl.variant_effects(adata, "ct_A", _table((region, position, ref, alt)), motifs=[REST],
                          pvalue=float(np.sqrt(p_ref * p_alt)))  # fmt: skip
    result = adata.uns["variant_effects"]
    name = result["effects"]["variant"].iloc[0]
    fig = ct.pl.variant_effect(adata, name, show=False)
    ref_ax, alt_ax, sites_ax = fig.axes
    for ax, allele in ((ref_ax, 0), (alt_ax, 1)):
        assert _glyph_heights(ax) == pytest.approx(
            _stored_heights(result["attributions"][0, allele], position), abs=1e-4
        )
    assert [t.get_text() for t in sites_ax.texts] == ["REST (+) lost".replace(
        "+", "\u2212" if adata.var.loc[region, "motif_strand"] == "-" else "+")]  # fmt: skip
    effect = result["effects"].iloc[0]
    assert f"{effect['ref_prediction']:.3f} → {effect['alt_prediction']:.3f}" in ref_ax.get_title()
    assert cell_label(adata, "A") in ref_ax.get_title()
    assert sites_ax.get_xlabel() == f"Position in {region} (bp)"


def _stored_heights(values: np.ndarray, position: int) -> dict[int, float]:
    """The non-zero attribution of each position, keyed by its place in the region."""
    per_base = values.sum(axis=1)
    first = position - (len(values) - 1) // 2
    return {first + i: float(v) for i, v in enumerate(per_base) if v != 0}


def _glyph_heights(ax) -> dict[int, float]:
    """The signed height of each letter logomaker drew (a PathPatch), keyed by its position."""
    from matplotlib.patches import PathPatch

    heights = {}
    for patch in ax.patches:
        if not isinstance(patch, PathPatch):
            continue
        extents = patch.get_path().get_extents()
        centre = int(round((extents.x0 + extents.x1) / 2))
        sign = -1.0 if extents.y0 < -1e-9 else 1.0
        heights[centre] = sign * extents.height
    return heights


def test_a_minus_strand_region_counts_from_its_end_with_complemented_alleles(fitted):
    adata = fitted.copy()
    region = str(adata.var_names[0])
    adata.var["strand"] = "+"
    adata.var.loc[region, "strand"] = "-"
    start, chrom = int(adata.var.loc[region, "start"]), adata.var.loc[region, "chrom"]
    stored = _base(adata, region, WIDTH - 1 - 10)  # genomic base 10 is read from the end
    genomic = {"A": "T", "C": "G", "G": "C", "T": "A"}[stored]
    alt = "A" if genomic != "A" else "C"
    variants = pd.DataFrame({"chrom": [chrom], "pos": [start + 11], "ref": [genomic], "alt": [alt]})
    ct.tl.variant_effects(adata, "ct_A", variants, motifs=[REST])
    effect = adata.uns["variant_effects"]["effects"].iloc[0]
    assert (effect["position"], effect["ref"]) == (WIDTH - 1 - 10, stored)
    assert effect["alt"] == {"A": "T", "C": "G"}[alt]


def test_several_models_give_one_block_of_rows_each(fitted):
    adata = fitted.copy()
    adata.uns["ct_A_copy"] = adata.uns["ct_A"]
    region, position, ref, alt, _ = _core_variant(adata)
    variants = _table((region, position, ref, alt), (region, 0, _base(adata, region, 0), "N"))
    variants.loc[1, "alt"] = "A" if variants.loc[1, "ref"] != "A" else "C"
    ct.tl.variant_effects(adata, ["ct_A", "ct_A_copy"], variants, motifs=[REST])
    effects = adata.uns["variant_effects"]["effects"]
    assert effects["model"].tolist() == ["ct_A", "ct_A", "ct_A_copy", "ct_A_copy"]
    assert effects["cell_type"].tolist() == ["A"] * 4
    halves = effects.iloc[:2].reset_index(drop=True), effects.iloc[2:].reset_index(drop=True)
    pd.testing.assert_frame_equal(halves[0].drop(columns="model"), halves[1].drop(columns="model"))
    assert adata.uns["variant_effects"]["attributions"].shape[0] == 4


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        ({"variant": "nope"}, KeyError, r"no variant 'nope'"),
        ({"key_added": "ct_A"}, ValueError, r"uns\['ct_A'\] is not a result of ct.tl.variant"),
        ({"ax": "one"}, ValueError, r"draws 3 panel\(s\): ax must be a sequence of 3 Axes"),
        ({"cell_types": "B"}, ValueError, r"draws one cell type, got cell_types='B'"),
        ({"colour": "red"}, TypeError, r"unexpected keyword argument 'colour'"),
    ],
)
def test_the_plot_refuses_what_was_not_stored(fitted, close_figures, call, error, match):
    adata = fitted.copy()
    region, position, ref, alt, _ = _core_variant(adata)
    ct.tl.variant_effects(adata, "ct_A", _table((region, position, ref, alt)), motifs=[REST])
    arguments = {"variant": f"{region}:{position}:{ref}>{alt}", "show": False, **call}
    with pytest.raises(error, match=match):
        ct.pl.variant_effect(adata, **arguments)


def test_the_plot_title_names_the_variant_as_stored(fitted, close_figures):
    adata = fitted.copy()
    region, position, ref, alt, _ = _core_variant(adata)
    ct.tl.variant_effects(adata, "ct_A", _table((region, position, ref, alt)), motifs=[REST])
    effect = adata.uns["variant_effects"]["effects"].iloc[0]
    fig = ct.pl.variant_effect(adata, effect["variant"], show=False)
    title = fig.axes[0].get_title()
    assert title.startswith(f"{region}:{position}:{ref}>{alt} · ct_A, A: P(open) ")
    assert title.endswith(f"(Δ {effect['delta']:+.3f})".replace("-", "\u2212"))
