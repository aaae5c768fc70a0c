"""JASPAR motifs: reading them, scanning DNA for them (FIMO) and ChromTransfer's enrichment test."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.stats import false_discovery_control, ks_2samp, rankdata

import chromtools as ct
from chromtools._results import RESULTS
from chromtools.io._motifs import _collection, jaspar_motif, read_jaspar
from chromtools.tl.motifs._enrichment import motif_enrichment
from chromtools.tl.motifs._families import motif_families, motif_similarity
from chromtools.tl.motifs._pvalues import _reachable, tail_pvalue
from chromtools.tl.motifs._scan import scan
from chromtools.tl.motifs._scan_motifs import scan_motifs

GATA1, HNF4A, CTCF = "MA0035.5", "MA0114.5", "MA0139.2"
PLANTED_START = 123


@pytest.fixture(scope="module")
def vertebrates():
    return read_jaspar()


def _log_odds(motif: dict) -> np.ndarray:
    """(length, 4) log2 odds against a uniform background, memelite's pseudocount."""
    return np.log2(motif["frequencies"] + 1e-4) - np.log2(0.25)


def _consensus(motif: dict) -> np.ndarray:
    return motif["frequencies"].argmax(axis=1)


def _regions(bases: np.ndarray) -> ad.AnnData:
    """An object holding these base codes (0–3 for A, C, G, T) as one-hot DNA."""
    var = pd.DataFrame(index=[f"r{i}" for i in range(len(bases))])
    return ad.AnnData(
        obs=pd.DataFrame(index=["A"]), var=var, varm={"onehot": np.eye(4, dtype=np.uint8)[bases]}
    )


def _planted(motif: dict, strand: str, n: int = 4, width: int = 300, seed: int = 0) -> np.ndarray:
    """Random DNA with the motif's consensus in region 2 at PLANTED_START, on ``strand``."""
    bases = np.random.default_rng(seed).integers(0, 4, (n, width))
    site = _consensus(motif)
    if strand == "-":
        site = 3 - site[::-1]  # reverse complement: codes follow A, C, G, T
    bases[2, PLANTED_START : PLANTED_START + len(site)] = site
    return bases


# ---------------------------------------------------------------- reading JASPAR


def test_read_jaspar_reads_the_vertebrate_core_collection(vertebrates):
    from pyjaspar import jaspardb

    assert len(vertebrates) == 879
    assert len({m["matrix_id"] for m in vertebrates}) == 879
    for motif in vertebrates:
        assert motif["frequencies"].shape[1] == 4
        np.testing.assert_allclose(motif["frequencies"].sum(axis=1), 1)
    gata1 = next(m for m in vertebrates if m["matrix_id"] == GATA1)
    record = jaspardb(release="JASPAR2024").fetch_motif_by_id(GATA1)
    counts = np.array([record.counts[b] for b in "ACGT"]).T
    assert gata1["name"] == "GATA1"
    np.testing.assert_array_equal(gata1["frequencies"], counts / counts.sum(axis=1, keepdims=True))


def test_read_jaspar_reads_the_database_once_per_collection(vertebrates):
    before = _collection.cache_info()
    read_jaspar()
    read_jaspar(motifs=["GATA1"])
    after = _collection.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 2


def test_read_jaspar_returns_copies(vertebrates):
    first = read_jaspar(motifs=[GATA1])[0]
    first["frequencies"][:] = 0
    assert read_jaspar(motifs=[GATA1])[0]["frequencies"].sum() == pytest.approx(7)


@pytest.mark.parametrize(
    ("motifs", "expected"),
    [
        ([GATA1], [GATA1]),
        (["MA0035"], [GATA1]),
        (["gata1"], [GATA1]),
        (["CTCF"], ["MA0139.2", "MA1929.2", "MA1930.2"]),
        ([HNF4A, "GATA1"], [GATA1, HNF4A]),
    ],
)
def test_read_jaspar_restricts_to_ids_and_names(motifs, expected):
    assert [m["matrix_id"] for m in read_jaspar(motifs=motifs)] == expected


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"release": "JASPAR2099"}, r"'JASPAR2099' is not a JASPAR release.*'JASPAR2024'"),
        ({"release": 2024}, r"release must be a JASPAR release name.*'JASPAR2022'"),
        ({"collection": "FOO"}, r"collection='FOO' is not in JASPAR2024.*'CORE', 'UNVALIDATED'"),
        ({"tax_group": "martians"}, r"tax_group='martians'.*'vertebrates'"),
        ({"motifs": ["MA9999.1", GATA1]}, r"\['MA9999.1'\] are neither.*879 motifs, e.g. MA0004"),
        ({"motifs": [7]}, r"motifs must be a list of JASPAR matrix ids or TF names"),
    ],
)
def test_read_jaspar_refuses_what_does_not_exist(arguments, message):
    with pytest.raises(ValueError, match=message):
        read_jaspar(**arguments)


def test_jaspar_motif_moved_to_io_and_synthetic_data_uses_it():
    adata = ct.datasets.synthetic_sequences(20, 60, seed=0)
    planted = adata.uns["synthetic"]["motifs"]["A"]
    assert planted["matrix_id"] == GATA1
    expected = jaspar_motif("GATA1")["frequencies"].astype(np.float32)
    np.testing.assert_array_equal(planted["frequencies"], expected)
    with pytest.raises(ValueError, match="'NOTATF' is neither a matrix id"):
        jaspar_motif("NOTATF")


# ---------------------------------------------------------------- scanning


@pytest.mark.parametrize("strand", ["+", "-"])
@pytest.mark.parametrize(("motif_id", "pvalue"), [(CTCF, 1e-5), (HNF4A, 1e-5), (GATA1, 1e-4)])
def test_scan_motifs_finds_a_planted_site_on_either_strand(motif_id, pvalue, strand):
    motif = read_jaspar(motifs=[motif_id])[0]
    adata = _regions(_planted(motif, strand))
    scan_motifs(adata, motifs=[motif_id], pvalue=pvalue)
    sites = adata.uns["motif_sites"]
    length = len(motif["frequencies"])
    site = sites[(sites["region"] == "r2") & (sites["start"] == PLANTED_START)]
    assert len(site) == 1
    site = site.iloc[0]
    assert (site["end"], site["strand"], site["motif_id"]) == (
        PLANTED_START + length,
        strand,
        motif_id,
    )
    assert site["tf_name"] == motif["name"]
    assert site["pvalue"] < pvalue
    best = _log_odds(motif).max(axis=1).sum()  # the consensus, on either strand
    assert site["score"] == pytest.approx(best, abs=1e-6)


def test_a_motif_that_cannot_reach_the_threshold_has_no_sites():
    """GATA1 (MA0035.5) has 7 columns: even its consensus has p = 4^-7 = 6.1e-5 > 1e-5.

    memelite reports such windows with p = 0 (above its score table); scan
    gives them their exact p-value and drops them.
    """
    motif = read_jaspar(motifs=[GATA1])[0]
    assert tail_pvalue(_log_odds(motif), _log_odds(motif).max(axis=1).sum()) == 4.0**-7
    onehot = np.eye(4, dtype=np.uint8)[_planted(motif, "+")]
    assert len(scan(onehot, [motif], 1e-5)) == 0
    sites = scan(onehot, [motif], 1e-4)
    planted = sites[(sites["region"] == 2) & (sites["start"] == PLANTED_START)]
    assert planted["pvalue"].tolist() == [4.0**-7]


def test_tail_pvalue_equals_counting_every_sequence():
    rng = np.random.default_rng(3)
    log_odds = rng.normal(size=(6, 4))
    every = np.stack(np.meshgrid(*[np.arange(4)] * 6, indexing="ij"), -1).reshape(-1, 6)
    scores = log_odds[np.arange(6), every].sum(axis=1)
    for threshold in np.quantile(scores, [0.5, 0.99, 0.9999, 1.0]):
        assert tail_pvalue(log_odds, threshold) == pytest.approx((scores >= threshold).mean())


@pytest.mark.parametrize("pvalue", [1e-4, 1e-5, 1e-6])
def test_scan_skips_exactly_the_motifs_whose_consensus_misses_the_threshold(vertebrates, pvalue):
    pwms = [m["frequencies"].T for m in vertebrates]
    best = [tail_pvalue(_log_odds(m), _log_odds(m).max(axis=1).sum()) for m in vertebrates]
    expected = [i for i, p in enumerate(best) if p < pvalue]
    np.testing.assert_array_equal(_reachable(pwms, pvalue), expected)
    assert 0 < len(expected) < 879


def _reference_scores(onehot: np.ndarray, motif: dict) -> np.ndarray:
    """Every window's log-odds score, (sequences, 2 strands, starts), by a plain sum."""
    log_odds = _log_odds(motif)
    reverse = log_odds[::-1, ::-1]  # reverse complement: columns reversed, A<->T, C<->G
    length = len(log_odds)
    n, width, _ = onehot.shape
    scores = np.empty((n, 2, width - length + 1))
    for start in range(width - length + 1):
        window = onehot[:, start : start + length].astype(float)
        scores[:, 0, start] = (window * log_odds).sum(axis=(1, 2))
        scores[:, 1, start] = (window * reverse).sum(axis=(1, 2))
    return scores


def test_scan_equals_a_reference_log_odds_scan(vertebrates):
    motifs = [m for m in vertebrates if m["matrix_id"] in (GATA1, HNF4A, CTCF)]
    motifs += [vertebrates[i] for i in np.random.default_rng(0).choice(879, 30, replace=False)]
    bases = np.random.default_rng(1).integers(0, 4, (10, 600))
    for i, motif in enumerate(motifs[:3]):
        bases[i, 50 : 50 + len(motif["frequencies"])] = _consensus(motif)
    onehot = np.eye(4, dtype=np.uint8)[bases]
    sites = scan(onehot, motifs, 1e-4)
    assert len(sites) > 30
    assert (sites["pvalue"] < 1e-4).all()
    for motif in motifs:
        reference = _reference_scores(onehot, motif)
        hits = sites[sites["motif_id"] == motif["matrix_id"]]
        strand = (hits["strand"] == "-").to_numpy().astype(int)
        expected = reference[hits["region"], strand, hits["start"]]
        np.testing.assert_allclose(hits["score"], expected, atol=1e-3)
        assert ((hits["end"] - hits["start"]) == len(motif["frequencies"])).all()
        if len(hits):
            # FIMO keeps the windows above one score per motif: every window
            # scoring above its weakest hit is a hit too.
            above = np.argwhere(reference > hits["score"].min() + 1e-6)
            found = set(zip(hits["region"], strand, hits["start"], strict=True))
            assert {tuple(w) for w in above} <= found
            ordered = hits.sort_values("score")
            assert (np.diff(ordered["pvalue"].to_numpy()) <= 0).all()


def test_scan_motifs_stores_a_compact_table_and_its_params():
    adata = ct.datasets.synthetic_sequences(60, 200, seed=2)
    scan_motifs(adata, motifs=["CTCF", "HNF4A"], pvalue=1e-4)
    sites = adata.uns["motif_sites"]
    assert list(sites.columns) == [
        "region",
        "motif_id",
        "tf_name",
        "start",
        "end",
        "strand",
        "score",
        "pvalue",
    ]
    for column in ("region", "motif_id", "tf_name", "strand"):
        assert isinstance(sites[column].dtype, pd.CategoricalDtype), column
    assert list(sites["region"].cat.categories) == list(adata.var_names)
    order = pd.DataFrame({"region": sites["region"].cat.codes, "start": sites["start"]})
    assert order.equals(order.sort_values(["region", "start"], kind="stable"))
    params = adata.uns["motif_sites_params"]
    assert params == {
        "function": "scan_motifs",
        "version": ct.__version__,
        "key_added": "motif_sites",
        "release": "JASPAR2024",
        "collection": "CORE",
        "tax_group": "vertebrates",
        "pvalue": 1e-4,
        "n_motifs": 5,
        "n_regions": 60,
        "n_sites": len(sites),
        "length": 200,
        "matrix_ids": params["matrix_ids"],
        "unreachable": [],
        "n_windows_unknown": 0,
    }
    # Every matrix named CTCF or HNF4A (the dimer MA1494.2 too).
    assert sorted(params["matrix_ids"]) == [
        "MA0114.5",
        "MA0139.2",
        "MA1494.2",
        "MA1929.2",
        "MA1930.2",
    ]
    # Shared regions got a CTCF site each; those that score as CTCF are found where planted.
    planted = adata.var[adata.var["motif_id"] == CTCF]
    found = set(
        zip(sites["region"].astype(str), sites["start"], sites["strand"].astype(str), strict=True)
    )
    truth = set(zip(planted.index, planted["motif_start"], planted["motif_strand"], strict=True))
    assert len(truth & found) >= len(truth) // 2


def test_scan_motifs_lists_the_motifs_too_short_for_the_pvalue():
    adata = _regions(_planted(read_jaspar(motifs=[GATA1])[0], "+"))
    scan_motifs(adata, motifs=[GATA1, CTCF], pvalue=1e-5)
    assert adata.uns["motif_sites_params"]["unreachable"] == [GATA1]
    assert GATA1 not in set(adata.uns["motif_sites"]["motif_id"])


# ---------------------------------------------------------------- unknown bases

# Motifs whose best windows score below 0 by so little that a window of N (scored 0
# by memelite) passes p < 1e-5: before N was refused, 100 bp of N held 167 sites of each.
SCORE_N_AS_A_SITE = ["MA0731.1", "MA0115.1", "MA0149.1", "MA2100.1"]


def _windows_covering(unknown: np.ndarray, widths: list[int]) -> int:
    """Windows (motif, sequence, start) that cover a True of ``unknown``, counted one by one."""
    n, length = unknown.shape
    return sum(
        bool(unknown[s, start : start + w].any())
        for w in widths
        for s in range(n)
        for start in range(length - w + 1)
    )


def test_regions_of_n_hold_no_site_and_every_window_is_counted():
    adata = _regions(np.zeros((5, 100), dtype=int))
    adata.varm["onehot"][:] = 0  # every base N
    motifs = read_jaspar(motifs=[*SCORE_N_AS_A_SITE, GATA1])
    scan_motifs(adata, motifs=[*SCORE_N_AS_A_SITE, GATA1])
    params = adata.uns["motif_sites_params"]
    assert len(adata.uns["motif_sites"]) == 0 and params["n_sites"] == 0
    # GATA1 cannot reach p < 1e-5 and is not scanned, so none of its windows is counted.
    assert params["unreachable"] == [GATA1]
    widths = [len(m["frequencies"]) for m in motifs if m["matrix_id"] != GATA1]
    assert params["n_windows_unknown"] == 5 * sum(100 - w + 1 for w in widths)


@pytest.mark.parametrize("dtype", [np.uint8, bool, np.float32])
def test_a_planted_site_with_one_base_made_n_is_not_found(dtype):
    ctcf = read_jaspar(motifs=[CTCF])[0]
    bases = _planted(ctcf, "+")
    onehot = np.eye(4, dtype=dtype)[bases]
    motifs = read_jaspar(motifs=[CTCF, HNF4A])
    found = scan(onehot, motifs)
    planted = (found["region"] == 2) & (found["start"] == PLANTED_START)
    assert found.loc[planted, "motif_id"].tolist() == [CTCF]
    assert found.attrs["n_windows_unknown"] == 0

    n_at = PLANTED_START + 5
    onehot[2, n_at] = 0
    masked = scan(onehot, motifs)
    covers = (masked["region"] == 2) & (masked["start"] <= n_at) & (masked["end"] > n_at)
    assert not covers.any()
    # Every window of each motif that holds the N: as many as the motif has bases.
    assert masked.attrs["n_windows_unknown"] == sum(len(m["frequencies"]) for m in motifs)
    # Every other site is found as before.
    elsewhere = ~((found["region"] == 2) & (found["start"] <= n_at) & (found["end"] > n_at))
    pd.testing.assert_frame_equal(masked, found[elsewhere].reset_index(drop=True))


@pytest.mark.parametrize("seed", range(4))
def test_scan_drops_exactly_the_windows_over_an_n(seed):
    """Random Ns (at the ends too) in random DNA: the sites are those of the same DNA
    without them, less every window covering one; the count is that of a plain loop."""
    rng = np.random.default_rng(seed)
    bases = rng.integers(0, 4, (4, 120))
    unknown = rng.random(bases.shape) < rng.choice([0.01, 0.05, 0.3])
    unknown[seed % 4, [0, -1]] = True
    clean = np.eye(4, dtype=np.uint8)[bases]
    motifs = read_jaspar(motifs=[CTCF, HNF4A, GATA1])
    every = scan(clean, motifs, 1e-3)
    masked = clean.copy()
    masked[unknown] = 0
    sites = scan(masked, motifs, 1e-3)
    cover = [
        unknown[r, s:e].any()
        for r, s, e in zip(every["region"], every["start"], every["end"], strict=True)
    ]
    expected = every[~np.array(cover, dtype=bool)].reset_index(drop=True)
    pd.testing.assert_frame_equal(sites, expected)
    widths = [len(m["frequencies"]) for m in motifs]
    assert sites.attrs["n_windows_unknown"] == _windows_covering(unknown, widths)


def _stored(adata: ad.AnnData) -> set[str]:
    return set(adata.uns)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"release": "JASPAR1999"}, r"'JASPAR1999' is not a JASPAR release.*JASPAR2024"),
        ({"collection": "PBM"}, r"collection='PBM' is not in JASPAR2024.*'CORE'"),
        ({"motifs": ["MA0000.9"]}, r"\['MA0000.9'\] are neither matrix ids nor TF names"),
        ({"pvalue": 0}, r"pvalue must be > 0"),
        ({"pvalue": 1.5}, r"pvalue must be <= 1"),
        ({"batch_size": 0}, r"batch_size must be a positive integer"),
    ],
)
def test_scan_motifs_refuses_bad_arguments_and_stores_nothing(arguments, message):
    adata = _regions(np.zeros((3, 50), dtype=int))
    before = _stored(adata)
    with pytest.raises(ValueError, match=message):
        scan_motifs(adata, **arguments)
    assert _stored(adata) == before


def test_scan_motifs_without_dna_says_how_to_get_it():
    adata = _regions(np.zeros((3, 50), dtype=int))
    del adata.varm["onehot"]
    with pytest.raises(ValueError, match=r"varm\['onehot'\] is missing.*ct.io.read_regions"):
        scan_motifs(adata)
    assert "motif_sites" not in adata.uns


@pytest.mark.parametrize(
    ("onehot", "message"),
    [
        (np.zeros((3, 50)), r"shape \(sequences, length, 4\).*got shape \(3, 50\)"),
        (np.full((3, 50, 4), 1), r"not one-hot"),
        (np.full((3, 50, 4), "A"), r"dtype <U1"),
    ],
)
def test_scan_refuses_what_is_not_one_hot(onehot, message):
    with pytest.raises(ValueError, match=message):
        scan(onehot, read_jaspar(motifs=[CTCF]))


@pytest.mark.parametrize(
    ("motifs", "message"),
    [
        ([], r"motifs must be a non-empty list of dicts"),
        ([{"matrix_id": "x"}], r"motifs\[0\] must be a dict with 'matrix_id', 'name'"),
        ([{"matrix_id": "x", "name": "X", "frequencies": np.ones(4)}], r"must be \(length, 4\)"),
        (
            [
                {"matrix_id": "a", "name": "A", "frequencies": np.full((3, 4), 0.25)},
                {"matrix_id": "b", "name": "B", "frequencies": np.full((5, 4), 0.3)},
            ],
            r"motifs\[1\] \(b\): frequencies must be non-negative with rows summing to 1",
        ),
        (
            [{"matrix_id": "a", "name": "A", "frequencies": np.full((3, 4), 0.25)}] * 2,
            r"repeat the matrix ids \['a'\]",
        ),
    ],
)
def test_scan_refuses_malformed_motifs(motifs, message):
    with pytest.raises(ValueError, match=message):
        scan(np.zeros((2, 20, 4), np.uint8), motifs)


def test_scan_motifs_replaces_only_its_own_table():
    adata = _regions(_planted(read_jaspar(motifs=[CTCF])[0], "+"))
    adata.uns["motif_sites"] = "the user's"
    with pytest.raises(ValueError, match=r"would overwrite uns\['motif_sites'\]"):
        scan_motifs(adata, motifs=[CTCF])
    assert adata.uns["motif_sites"] == "the user's"
    del adata.uns["motif_sites"]
    scan_motifs(adata, motifs=[CTCF])
    scan_motifs(adata, motifs=[CTCF], pvalue=1e-6)  # its own results are replaced
    assert adata.uns["motif_sites_params"]["pvalue"] == 1e-6


# ---------------------------------------------------------------- enrichment

DECOY = "MA0031.2"  # FOXD1, never planted; the unplanted motif with most sites here


@pytest.fixture(scope="module")
def scanned():
    """Cell type A's regions hold GATA1, B's HNF4A, shared ones CTCF; 879 motifs scanned."""
    adata = ct.datasets.synthetic_sequences(900, 200, seed=4)
    scan_motifs(adata, pvalue=1e-4)
    return adata


def _with_attributions(adata: ad.AnnData, key: str, method: str, planted: bool = True):
    """Noise attributions, with the planted GATA1 sites of A's regions made important."""
    adata = adata.copy()
    onehot = adata.varm["onehot"].astype(np.float32)
    rng = np.random.default_rng(0)
    noise = rng.normal(size=onehot.shape).astype(np.float32)
    values = noise * onehot if method != "ism" else noise * (1 - onehot)
    if planted:
        var = adata.var
        for i in np.flatnonzero((var["planted"] == "A").to_numpy()):
            bases = slice(var["motif_start"].iloc[i], var["motif_start"].iloc[i] + 7)
            # grad×input: large at the observed base; ISM: every substitution costs a lot.
            values[i, bases] = (
                4 * onehot[i, bases] if method != "ism" else -4 * (1 - onehot[i, bases])
            )
    adata.varm[f"{key}_attr_A"] = values
    adata.uns[f"{key}_attr"] = {"params": {"function": "attribute", "method": method}}
    adata.layers[key] = np.where(adata.layers["label"] > 0, 0.9, 0.1).astype(np.float32)
    return adata


@pytest.mark.parametrize("method", ["grad_x_input", "ism"])
def test_the_planted_tf_is_enriched_and_a_decoy_is_not(scanned, method):
    adata = _with_attributions(scanned, "m", method)
    table = motif_enrichment(adata, "m", cell_type="A", min_sites=20)
    assert adata.uns["m_motifs"] is table
    assert table.index[0] == GATA1
    assert table.loc[GATA1, "fdr"] < 1e-3 and table.loc[GATA1, "ks_d"] > 0.5
    # ChromTransfer's threshold is FDR < 0.001; the decoy's sites are not more important.
    assert table.loc[DECOY, "fdr"] > 1e-3 and table.loc[DECOY, "ks_d"] < 0.1
    assert HNF4A not in table.index[:10]
    params = adata.uns["m_motifs_params"]
    assert params["score"] == ("min" if method == "ism" else "max")
    assert params["method"] == method and params["cell_type"] == "A"


def _reference_enrichment(adata, key, motif_id, positive, reducer):
    """One motif's signed KS by plain loops: site scores, overlaps, ranks."""
    sites = adata.uns["motif_sites"]
    region = adata.var_names.get_indexer(sites["region"].astype(str))
    sites = sites[positive[region]]
    region = adata.var_names.get_indexer(sites["region"].astype(str))
    per_base = adata.varm[f"{key}_attr_A"].sum(axis=2)
    scores = np.array(
        [
            reducer(per_base[r, s:e])
            for r, s, e in zip(region, sites["start"], sites["end"], strict=True)
        ]
    )
    own = (sites["motif_id"] == motif_id).to_numpy()
    spans = list(zip(region, sites["start"], sites["end"], strict=True))
    own_spans: dict[int, list[tuple[int, int]]] = {}
    for i in np.flatnonzero(own):
        own_spans.setdefault(spans[i][0], []).append(spans[i][1:])
    background = np.array(
        [
            not own[i] and not any(s < f and b > e for e, f in own_spans.get(r, []))
            for i, (r, s, b) in enumerate(spans)
        ]
    )
    foreground, others = scores[own], scores[background]
    test = ks_2samp(foreground, others)
    ranks = rankdata(np.concatenate([foreground, others]))
    sign = 1 if ranks[: len(foreground)].mean() >= ranks[len(foreground) :].mean() else -1
    return own.sum(), sign * test.statistic, test.pvalue


@pytest.mark.parametrize(
    ("score", "reducer", "positive_only"),
    [("max", np.max, True), ("mean", np.mean, True), ("min", np.min, False)],
)
def test_enrichment_equals_a_reference_computation(scanned, score, reducer, positive_only):
    adata = _with_attributions(scanned, "m", "grad_x_input")
    table = motif_enrichment(adata, "m", min_sites=20, score=score, positive_only=positive_only)
    positive = adata.layers["m"][0] > 0.5 if positive_only else np.ones(adata.n_vars, bool)
    for motif_id in (GATA1, DECOY, table.index[-1]):
        n_sites, ks_d, pvalue = _reference_enrichment(adata, "m", motif_id, positive, reducer)
        assert table.loc[motif_id, "n_sites"] == n_sites
        assert table.loc[motif_id, "ks_d"] == pytest.approx(ks_d, abs=1e-12)
        assert table.loc[motif_id, "pvalue"] == pytest.approx(pvalue, rel=1e-9)
    np.testing.assert_allclose(table["fdr"], false_discovery_control(table["pvalue"]))
    assert table["ks_d"].is_monotonic_decreasing
    params = adata.uns["m_motifs_params"]
    assert params["n_regions"] == positive.sum()
    counts = adata.uns["motif_sites"]["motif_id"][
        positive[adata.var_names.get_indexer(adata.uns["motif_sites"]["region"].astype(str))]
    ].value_counts()
    assert set(params["skipped"]) == set(counts.index[counts < 20].astype(str))
    assert set(table.index) == set(counts.index[counts >= 20].astype(str))


def test_enrichment_against_a_reference_model_joins_the_tables(scanned):
    adata = _with_attributions(scanned, "m", "grad_x_input")
    noise = _with_attributions(scanned, "n", "grad_x_input", planted=False)
    adata.varm["n_attr_A"] = noise.varm["n_attr_A"]
    adata.uns["n_attr"] = noise.uns["n_attr"]
    adata.layers["n"] = noise.layers["n"]
    joined = motif_enrichment(adata, "m", min_sites=20, reference="n")
    assert adata.uns["m_vs_n_motifs"] is joined
    for key in ("m", "n"):
        table = adata.uns[f"{key}_motifs"]
        np.testing.assert_array_equal(joined.loc[table.index, f"ks_d_{key}"], table["ks_d"])
        np.testing.assert_array_equal(joined.loc[table.index, f"fdr_{key}"], table["fdr"])
    assert joined.loc[GATA1, "fdr_m"] < 1e-3 and joined.loc[GATA1, "fdr_n"] > 0.05
    assert joined.loc[GATA1, "tf_name"] == "GATA1"


@pytest.fixture
def attributed(scanned):
    return _with_attributions(scanned, "m", "grad_x_input")


def _without(adata, *names):
    adata = adata.copy()
    for name in names:
        for slot in (adata.uns, adata.varm, adata.layers):
            if name in slot:
                del slot[name]
    return adata


@pytest.mark.parametrize(
    ("change", "arguments", "message"),
    [
        (("motif_sites",), {}, r"uns\['motif_sites'\], which is missing; run ct.tl.scan_motifs"),
        (("m_attr_A",), {}, r"no attributions of 'm'.*run ct.tl.attribute\(adata, 'm'\)"),
        ((), {"cell_type": "C"}, r"cell_type='C' is not a cell type of adata.obs_names"),
        ((), {"cell_type": "B"}, r"no attributions of 'm' for 'B'.*cell_types=\['B'\]"),
        (("m",), {}, r"layers\['m'\], which is missing; run ct.tl.predict"),
        ((), {"score": "median"}, r"score must be one of \['max', 'min', 'mean'\]"),
        ((), {"min_sites": 0}, r"min_sites must be a positive integer"),
        ((), {"reference": "m"}, r"reference must be another model's key"),
        ((), {"reference": "other"}, r"no attributions of 'other'"),
        ((), {"positive_only": "yes"}, r"positive_only must be True or False"),
    ],
)
def test_motif_enrichment_refuses_bad_input_and_stores_nothing(
    attributed, change, arguments, message
):
    adata = _without(attributed, *change)
    before = _stored(adata)
    with pytest.raises(ValueError, match=message):
        motif_enrichment(adata, "m", **arguments)
    assert _stored(adata) == before


def test_motif_enrichment_needs_a_cell_type_when_several_were_attributed(attributed):
    adata = attributed.copy()
    adata.varm["m_attr_B"] = adata.varm["m_attr_A"]
    with pytest.raises(ValueError, match=r"attributions for the cell types \['A', 'B'\]"):
        motif_enrichment(adata, "m")
    assert "m_motifs" not in adata.uns


def test_motif_enrichment_replaces_only_its_own_table(attributed):
    adata = attributed.copy()
    adata.uns["m_motifs"] = "the user's"
    with pytest.raises(ValueError, match=r"would overwrite uns\['m_motifs'\]"):
        motif_enrichment(adata, "m", min_sites=20)
    assert adata.uns["m_motifs"] == "the user's"


@pytest.mark.parametrize("positive_only", [True, False])
def test_enrichment_tests_only_the_attributed_regions(attributed, positive_only, caplog):
    """Half the regions without attributions (NaN): the table is the one of the object
    holding only the other half, and params name the regions tested."""
    adata = attributed.copy()
    half = np.arange(adata.n_vars) % 2 == 0
    adata.varm["m_attr_A"][~half] = np.nan
    with caplog.at_level(logging.WARNING, logger="chromtools"):
        table = motif_enrichment(adata, "m", min_sites=20, positive_only=positive_only)
    subset = attributed[:, half].copy()
    expected = motif_enrichment(subset, "m", min_sites=20, positive_only=positive_only)
    assert len(table) > 20 and table.index[0] == GATA1
    pd.testing.assert_frame_equal(table, expected)

    tested = half & (adata.layers["m"][0] > 0.5) if positive_only else half
    params = adata.uns["m_motifs_params"]
    assert params["regions_tested"] == list(adata.var_names[tested])
    assert params["n_regions"] == tested.sum() == subset.uns["m_motifs_params"]["n_regions"]
    used = adata.layers["m"][0] > 0.5 if positive_only else np.ones(adata.n_vars, bool)
    assert params["n_regions_unattributed"] == (used & ~half).sum() > 0
    assert params["n_sites"] == subset.uns["m_motifs_params"]["n_sites"]
    assert subset.uns["m_motifs_params"]["n_regions_unattributed"] == 0
    (warning,) = [r.message for r in caplog.records if r.name.startswith("chromtools")]
    assert f"{tested.sum()} of the {used.sum()} regions" in warning
    assert "'regions_tested'" in warning


def test_enrichment_after_attribute_on_some_regions(sequence_results):
    """ct.tl.attribute run on 150 of 300 regions: those 150 are tested, not none."""
    adata = sequence_results.copy()
    for name in ("ct_A_attr_A", "ct_A_attr", *RESULTS["motif_enrichment"].slots("ct_A")["uns"]):
        for slot in (adata.varm, adata.uns):
            slot.pop(name, None)
    regions = list(adata.var_names[::2])
    ct.tl.attribute(adata, "ct_A", genes=regions)
    table = motif_enrichment(adata, "ct_A", min_sites=10, positive_only=False)
    assert len(table) > 0
    params = adata.uns["ct_A_motifs_params"]
    assert params["regions_tested"] == regions and params["n_regions_unattributed"] == 150


def test_enrichment_refuses_attributions_that_are_all_nan(attributed):
    adata = attributed.copy()
    adata.varm["m_attr_A"][:] = np.nan
    with pytest.raises(ValueError, match=r"varm\['m_attr_A'\] is NaN in every region.*attribute"):
        motif_enrichment(adata, "m", min_sites=20)
    assert "m_motifs" not in adata.uns


def test_enrichment_refuses_when_no_positive_region_is_attributed(attributed):
    adata = attributed.copy()
    positive = adata.layers["m"][0] > 0.5
    adata.varm["m_attr_A"][positive] = np.nan
    with pytest.raises(ValueError, match=r"none of the \d+ regions predicted positive.*False"):
        motif_enrichment(adata, "m", min_sites=20)
    assert "m_motifs" not in adata.uns
    motif_enrichment(adata, "m", min_sites=20, positive_only=False)
    assert adata.uns["m_motifs_params"]["n_regions"] == (~positive).sum()


def test_sites_and_enrichment_survive_a_zarr_round_trip(attributed, tmp_path):
    adata = attributed.copy()
    table = motif_enrichment(adata, "m", min_sites=20)
    ct.io.write_zarr(adata, tmp_path / "motifs.zarr")
    back = ct.io.read_zarr(tmp_path / "motifs.zarr")
    pd.testing.assert_frame_equal(back.uns["motif_sites"], adata.uns["motif_sites"])
    pd.testing.assert_frame_equal(back.uns["m_motifs"], table)
    assert list(back.uns["m_motifs_params"]["skipped"]) == adata.uns["m_motifs_params"]["skipped"]
    # Enrichment runs again on the object read back (lazily), with no model in memory.
    pd.testing.assert_frame_equal(motif_enrichment(back, "m", min_sites=20), table)
    scan_motifs(back, pvalue=1e-4)  # from the lazy varm['onehot']
    pd.testing.assert_frame_equal(back.uns["motif_sites"], adata.uns["motif_sites"])


# ---------------------------------------------------------------- motif families


def _slow_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """motif_similarity by a loop over strands and offsets, each overlap flattened."""
    a, best = a - 0.25, 0.0
    for other in (b - 0.25, (b - 0.25)[::-1, ::-1]):
        for d in range(-(len(other) - 1), len(a)):
            first, stop = max(0, d), min(len(a), len(other) + d)
            if stop - first < max(1, (min(len(a), len(other)) + 1) // 2):
                continue
            x, y = a[first:stop].ravel(), other[first - d : stop - d].ravel()
            cosine = x @ y / np.sqrt((x @ x) * (y @ y))
            best = max(best, cosine * (stop - first) / max(len(a), len(other)))
    return best


def test_motif_similarity_equals_a_loop_over_offsets_and_strands(vertebrates):
    rng = np.random.default_rng(0)
    pairs = rng.integers(len(vertebrates), size=(150, 2))
    for i, j in pairs:
        a, b = vertebrates[i]["frequencies"], vertebrates[j]["frequencies"]
        assert motif_similarity(a, b) == pytest.approx(_slow_similarity(a, b), abs=1e-12)


def test_motif_similarity_is_one_for_a_motif_and_its_reverse_complement(vertebrates):
    tp53 = jaspar_motif("MA0106.3")["frequencies"]
    assert motif_similarity(tp53, tp53) == pytest.approx(1.0)
    assert motif_similarity(tp53, tp53[::-1, ::-1]) == pytest.approx(1.0)
    # half of it, aligned: the cosine is 1 over the overlap, scaled by its share
    half = tp53[: len(tp53) // 2]
    assert motif_similarity(tp53, half) == pytest.approx(len(half) / len(tp53))


def test_motif_families_group_paralogs_and_keep_unrelated_tfs_apart(vertebrates):
    by_name = {m["name"]: m["frequencies"] for m in vertebrates}
    names = ["TP53", "REST", "TP63", "ZNF143", "TP73", "ZNF76", "CTCF", "GATA1", "GATA2"]
    families = motif_families([by_name[n] for n in names], names)
    expected = ["TP53", "REST", "TP53", "ZNF143", "TP53", "ZNF143", "CTCF", "GATA1", "GATA1"]
    assert families == expected
    # the family is named by whichever member is ranked first
    pair = motif_families([by_name["TP73"], by_name["TP53"]], ["TP73", "TP53"])
    assert pair == ["TP73", "TP73"]
    # a threshold above every paralog pair's similarity leaves each motif on its own
    assert motif_families([by_name[n] for n in names], names, threshold=0.99) == names


def test_the_enrichment_table_names_each_motifs_family(attributed):
    table = motif_enrichment(attributed.copy(), "m", min_sites=20)
    assert list(table.columns[:2]) == ["tf_name", "family"]
    frequencies = {m["matrix_id"]: m["frequencies"] for m in read_jaspar(motifs=list(table.index))}
    expected = motif_families([frequencies[i] for i in table.index], list(table["tf_name"]))
    assert table["family"].tolist() == expected
    # every family is named by its best-ranked member
    first = table.groupby("family", sort=False)["tf_name"].first()
    assert (first.index == first.to_numpy()).all()
