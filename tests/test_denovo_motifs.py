"""``ct.tl.denovo_motifs`` and ``ct.pl.denovo_motifs``: motifs found in attributions.

The seqlet caller and the clustering are tested on planted contribution
arrays (exact: every planted site found at its place, reverse-complemented
copies in one pattern); the whole path on DNA where a region is open when it
holds a CTCF site or a made-up motif that JASPAR lacks: a small ChromTransfer
learns both, and both come back, CTCF named by TOMTOM and the made-up one
not matched but drawn as planted.
"""

from __future__ import annotations

import anndata
import numpy as np
import pandas as pd
import pytest
import torch

import chromtools as ct
from chromtools.tl.motifs._modisco import modisco_patterns
from chromtools.tl.motifs._seqlets import call_seqlets, find_patterns, reverse_complement

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest

CTCF = "MA0139.2"
MADE_UP = "AGCTTACGATCCAG"  # TOMTOM's best JASPAR2024 match has q = 0.99
MOTIF_A = "AGTTCAGCTA"
MOTIF_B = "CCTAAGGTCG"


def _codes(consensus: str) -> np.ndarray:
    return np.array(["ACGT".index(b) for b in consensus])


def _planted(n: int = 200, length: int = 120, seed: int = 0):
    """One-hot DNA with MOTIF_A in even and MOTIF_B in odd regions, on random strands;
    contributions are small noise except at the sites (weights rising along the motif)."""
    rng = np.random.default_rng(seed)
    onehot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
    contributions = onehot * rng.normal(0, 0.05, (n, length, 1)).astype(np.float32)
    weights = np.linspace(1, 2, 10, dtype=np.float32)[:, None]
    truth = []
    for row in range(n):
        site = np.eye(4, dtype=np.float32)[_codes(MOTIF_A if row % 2 == 0 else MOTIF_B)]
        start, minus = int(rng.integers(0, length - 10)), bool(rng.random() < 0.5)
        onehot[row, start : start + 10] = reverse_complement(site) if minus else site
        contributions[row, start : start + 10] = onehot[row, start : start + 10] * (
            weights[::-1] if minus else weights
        )
        truth.append((row, start, minus))
    return onehot, contributions, truth


def test_the_seqlet_caller_finds_every_planted_site_at_its_place():
    onehot, contributions, truth = _planted()
    region, start, _, threshold = call_seqlets(contributions.sum(axis=2), 10, 0.05, 2000)
    found = set(zip(region.tolist(), start.tolist(), strict=True))
    assert {(row, s) for row, s, _ in truth} <= found
    assert 0.3 < threshold < 15  # above the noise (sd 0.16 a window), below a site (15)


def test_the_seqlet_caller_finds_nothing_in_noise():
    rng = np.random.default_rng(1)
    region, _, _, _ = call_seqlets(rng.normal(0, 1, (200, 120)), 10, 0.01, 2000)
    assert len(region) < 5


def test_reverse_complemented_copies_cluster_into_one_pattern_each():
    onehot, contributions, truth = _planted()
    region, start, _, _ = call_seqlets(contributions.sum(axis=2), 10, 0.05, 2000)
    patterns = find_patterns(contributions, onehot, region, start, width=10,
                             min_similarity=0.6, min_seqlets=20)  # fmt: skip
    assert [len(p.members) for p in patterns] == [100, 100]
    consensus = ["".join("ACGT"[i] for i in p.frequencies.argmax(axis=1)) for p in patterns]
    reverse = {c: "".join("ACGT"[3 - i] for i in _codes(c)[::-1]) for c in (MOTIF_A, MOTIF_B)}
    for motif in (MOTIF_A, MOTIF_B):
        assert sum(c in (motif, reverse[motif]) for c in consensus) == 1
    for pattern in patterns:
        rows = region[pattern.members]
        assert len(set(rows % 2)) == 1  # every member is a site of one motif
        planted_minus = np.array([truth[r][2] for r in rows])
        # a pattern reads each site on the strand that makes it the same motif
        assert len(set(planted_minus ^ pattern.minus)) == 1


def _made_up(adata, rng: np.random.Generator) -> np.ndarray:
    """Each B region's planted site replaced by background with a MADE_UP site at its start."""
    frequencies = np.full((len(MADE_UP), 4), 0.05)
    frequencies[np.arange(len(MADE_UP)), _codes(MADE_UP)] = 0.85
    onehot = np.array(adata.varm["onehot"])
    for row in np.flatnonzero(adata.var["planted"].to_numpy() == "B"):
        start = int(adata.var["motif_start"].iloc[row])
        onehot[row, start : start + 21] = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, 21)]
        codes = (rng.random((len(MADE_UP), 1)) > np.cumsum(frequencies, axis=1)[:, :3]).sum(1)
        onehot[row, start : start + len(MADE_UP)] = np.eye(4, dtype=np.uint8)[codes]
    adata.varm["onehot"] = onehot
    return frequencies


@pytest.fixture(scope="module")
def found():
    """A ChromTransfer of 'any' (open: a CTCF or a MADE_UP site) with its de novo motifs,
    fitted on one thread: a module fixture is set up before the function-scoped
    ``one_thread``, and the float sums of two threads end the fit elsewhere (37 CTCF
    seqlets instead of 63)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    adata = ct.datasets.synthetic_sequences(
        600, 200, cell_types=("A", "B"), motifs=[CTCF, "MA0138.3"], shared_fraction=0, seed=0
    )
    frequencies = _made_up(adata, np.random.default_rng(0))
    ct.pp.split(adata, seed=0)
    small = {"filters": 32, "hidden": [16]}
    ct.tl.fit(adata, "chromtransfer", cell_types="any", key_added="ct_any", epochs=10,
              batch_size=32, lr=3e-3, seed=0, hyperparameters=small)  # fmt: skip
    ct.tl.attribute(adata, "ct_any")
    ct.tl.denovo_motifs(adata, "ct_any")
    torch.set_num_threads(threads)
    return adata, frequencies


def _correlation(pwm: np.ndarray, planted: np.ndarray, min_overlap: int = 10) -> float:
    """Best Pearson correlation of two frequency matrices over offsets and strands."""
    best = -1.0
    for other in (planted, reverse_complement(planted)):
        for d in range(-len(pwm) + min_overlap, len(other) - min_overlap + 1):
            a = pwm[max(0, -d) : max(0, -d) + min(len(pwm), len(other) - d)]
            b = other[max(0, d) : max(0, d) + len(a)]
            if len(a) >= min_overlap and len(a) == len(b):
                best = max(best, float(np.corrcoef(a.ravel(), b.ravel())[0, 1]))
    return best


def test_the_planted_jaspar_motif_is_found_and_named(found):
    adata, _ = found
    patterns = adata.uns["denovo_motifs"]["patterns"]
    ctcf = patterns[patterns["family_members"].str.split(",").map(lambda m: "CTCF" in m)]
    assert len(ctcf) == 1
    assert ctcf["qvalue"].iloc[0] < 0.01
    assert ctcf["n_seqlets"].iloc[0] >= 40


def test_the_match_is_stored_with_tomtoms_alignment(found):
    """Read on its stored strand and placed at its stored offset, CTCF's JASPAR matrix lines
    up with the pattern's base frequencies; the alignment differs from the unaligned one."""
    adata, _ = found
    result = adata.uns["denovo_motifs"]
    ctcf = result["patterns"][result["patterns"]["best_match"] == CTCF].iloc[0]
    pwm, match = result["pwms"][ctcf["pattern"]], result["match_pwms"][ctcf["pattern"]]
    oriented = reverse_complement(match) if ctcf["match_strand"] == "-" else match
    offset = int(ctcf["match_offset"])
    first, last = max(0, offset), min(len(pwm), offset + len(match))
    assert last - first >= 10  # CTCF's core lies inside the pattern
    overlap = pwm[first:last], oriented[first - offset : last - offset]
    aligned = np.corrcoef(overlap[0].ravel(), overlap[1].ravel())[0, 1]
    assert aligned > 0.8
    matches = result["matches"]
    best = matches[(matches["pattern"] == ctcf["pattern"]) & (matches["rank"] == 0)].iloc[0]
    assert (best["offset"], best["strand"]) == (offset, ctcf["match_strand"])
    assert set(result["patterns"]["match_strand"]) <= {"+", "-"}


def test_modisco_lite_patterns_hold_every_seqlet_at_its_planted_place_and_strand():
    """modisco-lite's patterns come back as the built-in finder's: each seqlet's trimmed
    window starts at the planted site, on the planted strand relative to its pattern."""
    onehot, contributions, truth = _planted(n=300)
    patterns, region = modisco_patterns(contributions, onehot, min_seqlets=20, max_seqlets=2000)
    consensus = ["".join("ACGT"[i] for i in p.frequencies.argmax(axis=1)) for p in patterns]
    motifs = {MOTIF_A: 0, MOTIF_B: 1}  # parity of the regions each is planted in
    reverse = {"".join("TGCA"[i] for i in _codes(m)[::-1]): parity for m, parity in motifs.items()}
    assert {motifs.get(c, reverse.get(c)) for c in consensus} == {0, 1}
    for pattern, letters in zip(patterns, consensus, strict=True):
        rows = region[pattern.members]
        assert (rows % 2 == motifs.get(letters, reverse.get(letters))).all()
        planted = np.array([truth[r][1:] for r in rows])
        np.testing.assert_array_equal(pattern.start, planted[:, 0])
        np.testing.assert_array_equal(
            pattern.minus, planted[:, 1].astype(bool) ^ (letters in reverse)
        )
        np.testing.assert_allclose(pattern.frequencies.sum(axis=1), 1, atol=1e-6)
    assert len(region) == sum(len(p.members) for p in patterns)


def test_modisco_lite_finds_nothing_in_noise_or_in_no_signal():
    rng = np.random.default_rng(0)
    onehot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (100, 120))]
    noise = onehot * rng.normal(0, 0.05, (100, 120, 1)).astype(np.float32)
    for contributions in (noise, onehot * 0):
        patterns, region = modisco_patterns(contributions, onehot, min_seqlets=20,
                                            max_seqlets=2000)  # fmt: skip
        assert patterns == [] and len(region) == 0


@pytest.mark.slow  # ~60 s: modisco-lite's Leiden runs on some 800 seqlets
def test_modisco_lite_finds_both_planted_motifs_stored_the_same_way(found):
    """finder='modisco': TF-MoDISco (modisco-lite, its defaults) on the same attributions.
    It splits CTCF into several patterns (five here, every one named CTCF with q < 0.01)
    and finds the made-up motif unmatched."""
    adata = found[0].copy()
    ct.tl.denovo_motifs(adata, "ct_any", finder="modisco", key_added="modisco")
    result = adata.uns["modisco"]
    patterns = result["patterns"]
    assert result["params"]["finder"] == "modisco" and "threshold" not in result["params"]
    assert patterns["n_seqlets"].is_monotonic_decreasing and len(patterns) >= 2
    ctcf = patterns[patterns["family"] == "CTCF"]
    assert len(ctcf) and (ctcf["qvalue"] < 0.01).all()
    unmatched = patterns[patterns["qvalue"] >= 0.05]
    correlations = [_correlation(result["pwms"][p], found[1]) for p in unmatched["pattern"]]
    assert max(correlations) > 0.8
    seqlets = result["seqlets"]
    counts = seqlets["pattern"].value_counts()
    assert counts[patterns["pattern"]].tolist() == patterns["n_seqlets"].tolist()
    assert result["params"]["n_seqlets"] == len(seqlets)
    # each stored seqlet window holds its pattern's consensus at twice chance (0.25) or more
    onehot = np.asarray(adata.varm["onehot"])
    rows = adata.var_names.get_indexer(seqlets["region"].astype(str))
    first = patterns.iloc[0]
    mine = seqlets[seqlets["pattern"] == first["pattern"]]
    consensus = result["pwms"][first["pattern"]].argmax(axis=1)
    agree = []
    for row, start, strand in zip(rows[mine.index], mine["start"], mine["strand"], strict=True):
        window = onehot[row, max(start, 0) : start + len(consensus)].argmax(axis=1)
        window = 3 - window[::-1] if strand == "-" else window
        if len(window) == len(consensus):
            agree.append(np.mean(window == consensus))
    assert np.mean(agree) > 0.5


def test_the_made_up_motif_is_found_unmatched_and_as_planted(found):
    adata, frequencies = found
    result = adata.uns["denovo_motifs"]
    unmatched = result["patterns"][result["patterns"]["qvalue"] >= 0.05]
    correlations = [_correlation(result["pwms"][p], frequencies) for p in unmatched["pattern"]]
    assert max(correlations) > 0.8
    assert unmatched["family"].iloc[int(np.argmax(correlations))] == ""


def test_the_patterns_are_ordered_by_seqlets_and_their_seqlets_stored(found):
    adata, _ = found
    result = adata.uns["denovo_motifs"]
    patterns, seqlets = result["patterns"], result["seqlets"]
    assert patterns["n_seqlets"].is_monotonic_decreasing
    counts = seqlets["pattern"].value_counts()
    assert counts[patterns["pattern"]].tolist() == patterns["n_seqlets"].tolist()
    for name, pwm in result["pwms"].items():
        assert pwm.shape == result["contributions"][name].shape
        np.testing.assert_allclose(pwm.sum(axis=1), 1, atol=1e-5)
    assert set(seqlets["region"]) <= set(adata.var_names)
    assert result["params"]["function"] == "denovo_motifs"


def test_the_result_is_written_and_read_back(found, tmp_path):
    adata, _ = found
    adata.write_h5ad(tmp_path / "a.h5ad")
    back = anndata.read_h5ad(tmp_path / "a.h5ad")
    pd.testing.assert_frame_equal(
        back.uns["denovo_motifs"]["patterns"], adata.uns["denovo_motifs"]["patterns"]
    )


def test_a_rerun_replaces_its_own_result_and_refuses_another(found):
    adata = found[0].copy()
    ct.tl.denovo_motifs(adata, "ct_any", min_seqlets=1000)
    assert adata.uns["denovo_motifs"]["patterns"].empty
    adata.uns["taken"] = {"mine": 1}
    with pytest.raises(ValueError, match="taken"):
        ct.tl.denovo_motifs(adata, "ct_any", key_added="taken")


@pytest.mark.parametrize(
    ("change", "arguments", "match"),
    [
        (None, {"key": "nothing"}, "not a fitted model"),
        (None, {"cell_type": "Z"}, "not a cell type"),
        ("drop", {}, r"ct.tl.attribute\(adata, 'ct_any'"),
        (None, {"width": 0}, "width"),
        (None, {"fdr": 0}, "fdr"),
        (None, {"min_similarity": 2}, "min_similarity"),
        (None, {"finder": "homer"}, "finder must be one of"),
        (None, {"finder": "modisco", "width": 21}, r"width=21 set the built-in finder"),
    ],
)
def test_bad_inputs_are_refused_before_any_work(found, change, arguments, match):
    adata = found[0].copy()
    if change == "drop":
        del adata.varm["ct_any_attr_any"]
    arguments = {"key": "ct_any", **arguments}
    before = adata.uns["denovo_motifs"]
    with pytest.raises(ValueError, match=match):
        ct.tl.denovo_motifs(adata, arguments.pop("key"), **arguments)
    assert adata.uns["denovo_motifs"] is before  # nothing written


def _stored_result() -> anndata.AnnData:
    """An AnnData with a hand-made denovo_motifs result: one matched, one unmatched pattern."""
    adata = anndata.AnnData(np.zeros((1, 1), np.float32))
    pwm = np.eye(4, dtype=np.float32)[_codes("ACGTA")] * 0.9 + 0.025
    table = pd.DataFrame({"pattern": ["pattern_0", "pattern_1"], "n_seqlets": [30, 20],
                          "best_match": ["MA0139.2", "MA0090.4"],
                          "best_match_tf": ["CTCF", "TEAD1"],
                          "qvalue": [1e-5, 0.5], "family": ["CTCF", ""],
                          "match_offset": [-2, 1], "match_strand": ["-", "+"]})  # fmt: skip
    names = list(table["pattern"])
    adata.uns["denovo_motifs"] = {"patterns": table,
                                  "contributions": {n: pwm * (i + 1) for i, n in enumerate(names)},
                                  "match_pwms": {n: pwm for n in names}}  # fmt: skip
    return adata


def test_the_match_is_drawn_on_the_patterns_strand_and_positions():
    from chromtools.pl._denovo import aligned_match, information

    pwm = np.eye(4)[_codes("AACGT")] * 0.7 + 0.075
    minus = aligned_match(pwm, pd.Series({"match_offset": -2, "match_strand": "-"}))
    assert list(minus.index) == [-2, -1, 0, 1, 2]
    # read backwards and complemented: the last column's T becomes the first column's A
    np.testing.assert_allclose(minus.to_numpy(), information(reverse_complement(pwm)))
    assert minus.idxmax(axis=1).tolist() == list("ACGTT")
    plus = aligned_match(pwm, pd.Series({"match_offset": 3, "match_strand": "+"}))
    assert list(plus.index) == [3, 4, 5, 6, 7] and plus.idxmax(axis=1).tolist() == list("AACGT")
    unaligned = aligned_match(pwm, pd.Series({"qvalue": 0.5}))  # a result stored before
    assert list(unaligned.index) == [0, 1, 2, 3, 4]


def test_the_plot_draws_each_patterns_contributions_and_its_match(close_figures):
    import matplotlib

    matplotlib.use("Agg")
    adata = _stored_result()
    panels = ct.pl.denovo_motifs(adata, show=False)
    assert panels.shape == (2, 2)
    assert panels[0, 0].get_title() == "pattern_0: 30 seqlets"
    assert panels[0, 1].get_title().startswith("CTCF (−) (MA0139.2), q = 1e-05")
    assert panels[1, 1].get_title().startswith("no significant match")
    # Both panels of a row share pattern positions: the match (5 columns) starts 2 bases
    # before pattern_0 and 1 base into pattern_1.
    assert panels[0, 0].get_xlim() == panels[0, 1].get_xlim() == (-2.5, 4.5)
    assert panels[1, 0].get_xlim() == panels[1, 1].get_xlim() == (-0.5, 5.5)
    for row, scale in ((0, 1), (1, 2)):
        top = panels[row, 0].get_ylim()[1]
        assert top == pytest.approx(0.925 * scale, rel=0.1)  # the tallest letter as stored
    with pytest.raises(ValueError, match="two panels per pattern"):
        ct.pl.denovo_motifs(adata, ax=panels[0, 0], show=False)
