"""One-hot DNA: ct.io.read_regions, ct.pp.one_hot and ct.datasets.synthetic_sequences."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import chromtools as ct

# Two chromosomes written 10 bases a line: soft-masked bases, Ns, a short last line.
CHR1 = "ACGTACGTNNacgtTTGGCCAAAA"
CHR2 = "GGGGCCCCAATT"
ROWS = {"A": [1, 0, 0, 0], "C": [0, 1, 0, 0], "G": [0, 0, 1, 0], "T": [0, 0, 0, 1]}
COMPLEMENT = str.maketrans("ACGTacgtN", "TGCAtgcaN")


def expected(sequence: str) -> np.ndarray:
    """One-hot by hand; '.' marks a position beyond a chromosome end."""
    return np.array([ROWS.get(base.upper(), [0, 0, 0, 0]) for base in sequence], dtype=np.uint8)


def reverse_complement(sequence: str) -> str:
    return sequence.translate(COMPLEMENT)[::-1]


def write_fasta(path, records: dict[str, str], line: int = 10) -> str:
    with open(path, "w") as handle:
        for name, sequence in records.items():
            lines = [sequence[i : i + line] for i in range(0, len(sequence), line)]
            handle.write(f">{name}\n" + "\n".join(lines) + "\n")
    return str(path)


@pytest.fixture
def genome(tmp_path) -> str:
    return write_fasta(tmp_path / "genome.fa", {"chr1": CHR1, "chr2": CHR2})


# Regions at least `WIDTH` long, so a getfasta-style FASTA of them holds
# every base the genome read gives; the second is on the minus strand.
WIDTH = 8
REGIONS = pd.DataFrame(
    {
        "chrom": ["chr1", "chr1", "chr2"],
        "start": [2, 10, 0],
        "end": [12, 22, 12],
        "strand": ["+", "-", "+"],
        "K562": [1, 0, np.nan],
        "HepG2": [0, 1, 1],
    }
)
IDS = ["chr1:2-12", "chr1:10-22", "chr2:0-12"]
# Midpoints 7, 16, 6 → windows [3, 11), [12, 20) read backwards, [2, 10).
SEQUENCES = [CHR1[3:11], reverse_complement(CHR1[12:20]), CHR2[2:10]]


def test_one_hot_is_acgt_ordered_and_exact(genome):
    adata = ct.io.read_regions(["chr1:0-8"], genome, 8)
    assert adata.varm["onehot"].dtype == np.uint8
    np.testing.assert_array_equal(
        adata.varm["onehot"][0],
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]] * 2,
    )


def test_lowercase_counts_and_n_is_all_zero(genome):
    # chr1[6:14] = "GTNNacgt": crosses a line break, two Ns, soft-masked bases.
    onehot = ct.io.read_regions(["chr1:6-14"], genome, 8).varm["onehot"][0]
    np.testing.assert_array_equal(
        onehot,
        [
            [0, 0, 1, 0],
            [0, 0, 0, 1],
            [0, 0, 0, 0],
            [0, 0, 0, 0],
            [1, 0, 0, 0],
            [0, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 0, 0, 1],
        ],
    )


def test_minus_strand_is_reverse_complemented(genome):
    regions = pd.DataFrame({"chrom": ["chr1"], "start": [14], "end": [20], "strand": ["-"]})
    onehot = ct.io.read_regions(regions, genome, 6).varm["onehot"][0]
    # chr1[14:20] = "TTGGCC" → reverse complement "GGCCAA".
    np.testing.assert_array_equal(onehot, expected("GGCCAA"))


def test_windows_off_a_chromosome_end_are_padded_with_zero_rows(genome):
    # chr2 is 12 bp: the window [6, 14) of chr2:8-12 runs 2 bases off its end,
    # the window [-2, 4) of chr1:0-2 two bases off its start.
    adata = ct.io.read_regions(["chr2:8-12", "chr1:0-2"], genome, 8)
    np.testing.assert_array_equal(adata.varm["onehot"][0], expected("CCAATT.."))
    np.testing.assert_array_equal(
        ct.io.read_regions(["chr1:0-2"], genome, 6).varm["onehot"][0], expected("..ACGT")
    )


@pytest.mark.parametrize(
    ("region", "strand", "width", "sequence", "padded"),
    [
        ("chr2:8-12", "+", 8, "CCAATT..", (0, 2)),
        # The same window read on '-': its padding comes first.
        ("chr2:8-12", "-", 8, "..AATTGG", (2, 0)),
        ("chr1:0-2", "+", 6, "..ACGT", (2, 0)),
        ("chr1:0-2", "-", 6, "ACGT..", (0, 2)),
        # chr2 is 12 bp: a window of 16 runs off both of its ends.
        ("chr2:5-7", "+", 16, ".." + CHR2 + "..", (2, 2)),
        ("chr1:6-14", "+", 8, "GTNNacgt", (0, 0)),  # N is not padding
    ],
)
def test_padding_is_counted_in_var(genome, region, strand, width, sequence, padded):
    chrom, span = region.split(":")
    start, end = (int(x) for x in span.split("-"))
    regions = pd.DataFrame({"chrom": [chrom], "start": [start], "end": [end], "strand": [strand]})
    adata = ct.io.read_regions(regions, genome, width)
    np.testing.assert_array_equal(adata.varm["onehot"][0], expected(sequence))
    assert tuple(adata.var.loc[region, ["n_padded_start", "n_padded_end"]]) == padded
    assert adata.var["n_padded_start"].dtype == np.int64


def test_regions_are_recentred_on_their_midpoint(genome):
    adata = ct.io.read_regions(REGIONS, genome, WIDTH, labels=["K562", "HepG2"])
    assert list(adata.var_names) == IDS
    for row, sequence in enumerate(SEQUENCES):
        np.testing.assert_array_equal(adata.varm["onehot"][row], expected(sequence))
    # var keeps the regions as given, not the re-centred windows.
    assert adata.var["start"].tolist() == [2, 10, 0]
    assert adata.var["end"].tolist() == [12, 22, 12]
    assert adata.uns["chromtools"]["sequence_width"] == WIDTH
    assert adata.uns["chromtools"]["fasta"] == genome


def getfasta(path, regions: pd.DataFrame, names: bool = False) -> str:
    """What ``bedtools getfasta -s`` writes for ``regions`` of the test genome."""
    chromosomes = {"chr1": CHR1, "chr2": CHR2}
    records = {}
    for row in regions.itertuples():
        sequence = chromosomes[row.chrom][row.start : row.end]
        if row.strand == "-":
            sequence = reverse_complement(sequence)
        name = f"{row.chrom}:{row.start}-{row.end}({row.strand})"
        records[f"peak{row.Index}::{name}" if names else name] = sequence
    return write_fasta(path, records, line=7)


def test_every_region_input_gives_the_same_sequences_and_labels(genome, tmp_path):
    labels = ["K562", "HepG2"]
    bed = tmp_path / "regions.bed"
    bed.write_text(
        "track name=peaks\n#chrom\tstart\tend\tname\tscore\tstrand\tK562\tHepG2\n"
        "chr1\t2\t12\tp0\t0\t+\t1\t0\n"
        "chr1\t10\t22\tp1\t0\t-\t0\t1\n"
        "chr2\t0\t12\tp2\t0\t+\t\t1\n"
    )
    csv = tmp_path / "regions.csv"
    REGIONS.to_csv(csv, index=False)
    tsv = tmp_path / "regions.tsv.gz"
    REGIONS.to_csv(tsv, sep="\t", index=False)
    reads = {
        "DataFrame": ct.io.read_regions(REGIONS, genome, WIDTH, labels=labels),
        "BED": ct.io.read_regions(bed, genome, WIDTH, labels=labels),
        "CSV": ct.io.read_regions(csv, genome, WIDTH, labels=labels),
        "TSV.gz": ct.io.read_regions(tsv, genome, WIDTH, labels=labels),
    }
    want = np.stack([expected(s) for s in SEQUENCES])
    label = np.array([[1, 0, np.nan], [0, 1, 1]], dtype=np.float32)
    for what, adata in reads.items():
        assert list(adata.obs_names) == labels, what
        assert list(adata.var_names) == IDS, what
        np.testing.assert_array_equal(adata.varm["onehot"], want, err_msg=what)
        np.testing.assert_array_equal(adata.layers["label"], label, err_msg=what)
        assert adata.layers["label"].dtype == np.float32
    assert reads["BED"].var["name"].tolist() == ["p0", "p1", "p2"]

    # Strings carry no strand: the same windows, all read on +.
    unstranded = ct.io.read_regions(IDS, genome, WIDTH)
    np.testing.assert_array_equal(unstranded.varm["onehot"][[0, 2]], want[[0, 2]])
    np.testing.assert_array_equal(
        unstranded.varm["onehot"][1], expected(reverse_complement(SEQUENCES[1]))
    )
    assert list(unstranded.obs_names) == ["any"]
    assert np.isnan(unstranded.layers["label"]).all()

    # A getfasta FASTA of the regions: longer records are cut to their centre.
    fasta = getfasta(tmp_path / "regions.fa", REGIONS, names=True)
    from_fasta = ct.io.read_regions(fasta, width=WIDTH, cell_type="HepG2")
    assert list(from_fasta.var_names) == IDS
    assert from_fasta.var["strand"].tolist() == ["+", "-", "+"]
    assert from_fasta.var["name"].tolist() == ["peak0", "peak1", "peak2"]
    np.testing.assert_array_equal(from_fasta.varm["onehot"], want)
    assert list(from_fasta.obs_names) == ["HepG2"]


def test_per_file_classes_label_the_regions(genome, tmp_path):
    open_fa = getfasta(tmp_path / "open.fa", REGIONS.iloc[:2])
    closed_fa = getfasta(tmp_path / "closed.fa", REGIONS.iloc[2:])
    adata = ct.io.read_regions({1: open_fa, 0: closed_fa}, width=WIDTH)
    assert list(adata.var_names) == IDS
    np.testing.assert_array_equal(adata.layers["label"], [[1, 1, 0]])
    np.testing.assert_array_equal(adata.X, [[1, 1, 0]])
    assert list(adata.obs_names) == ["any"]
    np.testing.assert_array_equal(adata.varm["onehot"], np.stack([expected(s) for s in SEQUENCES]))
    assert (adata.var[["n_padded_start", "n_padded_end"]] == 0).all(axis=None)

    # The same classes from region tables read on the genome.
    by_table = ct.io.read_regions(
        {1: REGIONS.iloc[:2], 0: REGIONS.iloc[2:]}, genome, WIDTH, cell_type="K562"
    )
    np.testing.assert_array_equal(by_table.varm["onehot"], adata.varm["onehot"])
    assert list(by_table.obs_names) == ["K562"]


def test_short_fasta_records_are_padded_on_both_sides(tmp_path):
    fasta = write_fasta(tmp_path / "short.fa", {"chr1:10-14": "ACGT", "chr1:20-23(-)": "GGa"})
    adata = ct.io.read_regions(fasta, width=8)
    onehot = adata.varm["onehot"]
    np.testing.assert_array_equal(onehot[0], expected("..ACGT.."))
    np.testing.assert_array_equal(onehot[1], expected("..GGa..."))
    assert adata.var["n_padded_start"].tolist() == [2, 2]
    assert adata.var["n_padded_end"].tolist() == [2, 3]


def test_bgzipped_genome_reads_like_the_plain_one(genome, tmp_path):
    bgzf = pytest.importorskip("Bio.bgzf")
    path = tmp_path / "genome.fa.gz"
    with open(genome, "rb") as plain, bgzf.BgzfWriter(str(path), "wb") as out:
        out.write(plain.read())
    plain = ct.io.read_regions(REGIONS, genome, 10)
    packed = ct.io.read_regions(REGIONS, path, 10)
    np.testing.assert_array_equal(packed.varm["onehot"], plain.varm["onehot"])


def test_pp_one_hot_centres_genes_on_the_tss(genome):
    var = pd.DataFrame(
        {"chrom": ["chr1", "chr1"], "tss": [5, 15], "strand": ["+", "-"]},
        index=["plus_gene", "minus_gene"],
    )
    adata = ad.AnnData(var=var)
    assert ct.pp.one_hot(adata, genome, 4) is None
    onehot = adata.varm["onehot"]
    # + gene: TSS base chr1[4] = 'A' at position 2 of chr1[2:6] = "GTAC".
    np.testing.assert_array_equal(onehot[0], expected("GTAC"))
    # - gene: TSS base chr1[14] = 'T'; chr1[13:17] = "tTTG" read backwards is
    # "CAAa", the TSS's complement 'A' again at position 2, upstream first.
    np.testing.assert_array_equal(onehot[1], expected("CAAa"))
    meta = adata.uns["chromtools"]
    assert meta["sequence_width"] == 4
    assert meta["fasta"] == genome
    assert meta["pp"]["one_hot"] == {"fasta": genome, "width": 4, "centre": "tss"}


def test_pp_one_hot_on_regions_matches_read_regions_and_copies(genome):
    adata = ct.io.read_regions(REGIONS, genome, WIDTH)
    stripped = adata.copy()
    del stripped.varm["onehot"]
    result = ct.pp.one_hot(stripped, genome, WIDTH, copy=True)
    assert "onehot" not in stripped.varm
    np.testing.assert_array_equal(result.varm["onehot"], adata.varm["onehot"])
    np.testing.assert_array_equal(ct.get.onehot(result), adata.varm["onehot"])
    # In place on a view makes it an actual object, as scanpy does.
    view = stripped[:, ["chr2:0-12"]]
    ct.pp.one_hot(view, genome, WIDTH)
    np.testing.assert_array_equal(view.varm["onehot"], adata.varm["onehot"][[2]])


def test_no_motif_site_is_found_in_padding(tmp_path):
    """A CTCF site near a contig's end, in windows that run 75 bases off it: the site
    is found, and none in the padding, where windows of N would pass p < 1e-5."""
    ctcf = ct.io.read_jaspar(motifs=["MA0139.2"])[0]
    contig = np.random.default_rng(0).integers(0, 4, 300)
    width = len(ctcf["frequencies"])
    contig[270 : 270 + width] = ctcf["frequencies"].argmax(axis=1)
    fasta = write_fasta(tmp_path / "contig.fa", {"chrA": "".join(np.array(list("ACGT"))[contig])})
    regions = pd.DataFrame(
        {"chrom": "chrA", "start": [250, 251], "end": [300, 299], "strand": ["+", "-"]}
    )
    adata = ct.io.read_regions(regions, fasta, 200)  # both windows are [175, 375)
    assert adata.var["n_padded_start"].tolist() == [0, 75]
    assert adata.var["n_padded_end"].tolist() == [75, 0]
    assert adata.varm["onehot"][0, 125:].sum() == 0 and adata.varm["onehot"][1, :75].sum() == 0

    # These four motifs score a window of N as a site (test_motifs.py).
    motifs = ["MA0139.2", "MA0731.1", "MA0115.1", "MA0149.1", "MA2100.1"]
    ct.tl.scan_motifs(adata, motifs=motifs)
    sites = adata.uns["motif_sites"]
    padded_start = adata.var.loc[sites["region"].astype(str), "n_padded_start"].to_numpy()
    padded_end = adata.var.loc[sites["region"].astype(str), "n_padded_end"].to_numpy()
    assert (sites["start"].to_numpy() >= padded_start).all()
    assert (sites["end"].to_numpy() <= 200 - padded_end).all()
    # The planted site, at contig base 270: base 95 of the + window, 200 - 95 - width of the -.
    found = set(zip(sites["region"].astype(str), sites["start"], sites["strand"], strict=True))
    assert {("chrA:250-300", 95, "+"), ("chrA:251-299", 105 - width, "-")} <= found
    # Per region and motif, the windows of width w that reach into the 75 padded bases.
    widths = [len(m["frequencies"]) for m in ct.io.read_jaspar(motifs=motifs)]
    assert adata.uns["motif_sites_params"]["n_windows_unknown"] == 2 * sum(
        (200 - w + 1) - (125 - w + 1) for w in widths
    )


# --------------------------------------------------------------------------- synthetic


@pytest.fixture(scope="module")
def synthetic():
    return ct.datasets.synthetic_sequences(600, 200, seed=3)


def test_synthetic_sequences_are_deterministic_under_a_seed(synthetic):
    again = ct.datasets.synthetic_sequences(600, 200, seed=3)
    np.testing.assert_array_equal(again.varm["onehot"], synthetic.varm["onehot"])
    np.testing.assert_array_equal(again.layers["label"], synthetic.layers["label"])
    pd.testing.assert_frame_equal(again.var, synthetic.var)
    other = ct.datasets.synthetic_sequences(600, 200, seed=4)
    assert not np.array_equal(other.varm["onehot"], synthetic.varm["onehot"])
    assert not other.var["planted"].equals(synthetic.var["planted"])


def test_synthetic_sequences_layout_and_exact_label_balance(synthetic):
    assert list(synthetic.obs_names) == ["A", "B", "any"]
    assert synthetic.varm["onehot"].shape == (600, 200, 4)
    assert synthetic.varm["onehot"].dtype == np.uint8
    np.testing.assert_array_equal(synthetic.varm["onehot"].sum(axis=2), 1)
    # 300 closed; of 300 open, 100 shared, 100 open only in A, 100 only in B.
    assert synthetic.var["planted"].value_counts().to_dict() == {
        "closed": 300,
        "shared": 100,
        "A": 100,
        "B": 100,
    }
    label = pd.DataFrame(synthetic.layers["label"].T, columns=synthetic.obs_names)
    assert label.sum().to_dict() == {"A": 200, "B": 200, "any": 300}
    planted = synthetic.var["planted"].to_numpy()
    assert (label["A"].to_numpy() == np.isin(planted, ["A", "shared"])).all()
    assert (label["any"].to_numpy() == (planted != "closed")).all()
    closed = synthetic.var[planted == "closed"]
    assert (closed["motif_start"] == -1).all() and (closed["motif_id"] == "").all()
    motifs = synthetic.uns["synthetic"]["motifs"]
    assert motifs["A"]["name"] == "GATA1" and motifs["B"]["name"] == "HNF4A"
    assert motifs["shared"]["matrix_id"] == "MA0139.2"
    # Background GC near the documented 41 %.
    gc = synthetic.varm["onehot"][planted == "closed"][:, :, 1:3].sum() / (300 * 200)
    assert abs(gc - 0.41) < 0.01


def log_odds(onehot: np.ndarray, frequencies: np.ndarray) -> np.ndarray:
    """Score of each (sites, length, 4) window against a uniform background."""
    weights = np.log2((frequencies + 0.01) / 0.25)
    return np.einsum("nlb,lb->n", onehot.astype(np.float64), weights)


def test_planted_motifs_sit_at_the_recorded_positions(synthetic):
    onehot = synthetic.varm["onehot"]
    var = synthetic.var
    rng = np.random.default_rng(0)
    for key, motif in synthetic.uns["synthetic"]["motifs"].items():
        frequencies = np.asarray(motif["frequencies"])
        length = len(frequencies)
        sites = var[var["planted"] == key]
        assert (sites["motif_id"] == motif["matrix_id"]).all()
        window = sites["motif_start"].to_numpy()[:, None] + np.arange(length)
        found = onehot[var.index.get_indexer(sites.index)[:, None], window]
        minus = (sites["motif_strand"] == "-").to_numpy()
        found[minus] = found[minus, ::-1, ::-1]  # read - sites on their own strand
        closed = onehot[(var["planted"] == "closed").to_numpy()]
        start = rng.integers(0, onehot.shape[1] - length, len(closed))
        background = closed[np.arange(len(closed))[:, None], start[:, None] + np.arange(length)]
        planted_scores = log_odds(found, frequencies)
        background_scores = log_odds(background, frequencies)
        assert np.median(planted_scores) > np.quantile(background_scores, 0.99), key
        consensus = frequencies.argmax(axis=1)
        agreement = (found.argmax(axis=2) == consensus).mean()
        assert agreement > 0.7, key


def test_synthetic_genome_fasta_round_trips(tmp_path):
    path = tmp_path / "synthetic.fa"
    adata = ct.datasets.synthetic_sequences(200, 100, cell_types=("K562", "HepG2"), fasta=path)
    again = ct.io.read_regions(adata.var[["chrom", "start", "end"]], path, 100)
    np.testing.assert_array_equal(again.varm["onehot"], adata.varm["onehot"])
    wider = ct.io.read_regions(adata.var[["chrom", "start", "end"]], path, 140)
    np.testing.assert_array_equal(wider.varm["onehot"][:, 20:120], adata.varm["onehot"])
    # Flanks between regions are N: all-zero rows.
    assert wider.varm["onehot"][:, :20].sum() == 0


def test_synthetic_sequences_custom_motifs_and_noise():
    adata = ct.datasets.synthetic_sequences(
        400,
        100,
        cell_types=["liver", "blood", "lung"],
        motifs={"liver": "HNF4A", "blood": "MA0035", "lung": "FOXA1"},
        label_noise=0.1,
        seed=1,
    )
    motifs = adata.uns["synthetic"]["motifs"]
    assert [motifs[c]["matrix_id"] for c in ("liver", "blood", "lung")] == [
        "MA0114.5",
        "MA0035.5",
        "MA0148.5",
    ]
    planted = adata.var["planted"].to_numpy()
    clean = np.array([np.isin(planted, [c, "shared"]) for c in ("liver", "blood", "lung")])
    flipped = (adata.layers["label"][:3] != clean).mean()
    assert 0.05 < flipped < 0.15
    np.testing.assert_array_equal(adata.layers["label"][3], adata.layers["label"][:3].max(axis=0))


def test_synthetic_sequences_survive_a_zarr_round_trip(synthetic, tmp_path):
    ct.io.write_zarr(synthetic, tmp_path / "sequences.zarr")
    back = ct.io.read_zarr(tmp_path / "sequences.zarr", lazy=False)
    np.testing.assert_array_equal(back.varm["onehot"], synthetic.varm["onehot"])
    np.testing.assert_array_equal(
        back.uns["synthetic"]["motifs"]["A"]["frequencies"],
        synthetic.uns["synthetic"]["motifs"]["A"]["frequencies"],
    )


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        (lambda genome, tmp_path: (["chr1:0-8"], tmp_path / "nope.fa", 8), "nope.fa"),
        (lambda genome, tmp_path: (tmp_path / "nope.bed", genome, 8), "nope.bed"),
        (lambda genome, tmp_path: ("chr1:0-8", genome, 8), r"pass a list, \['chr1:0-8'\]"),
        (lambda genome, tmp_path: (tmp_path / "regions.fa",), "regions.fa"),
    ],
    ids=["fasta", "bed", "region_string", "regions_fasta"],
)
def test_missing_files_are_named(genome, tmp_path, arguments, match):
    with pytest.raises(FileNotFoundError, match=match):
        ct.io.read_regions(*arguments(genome, tmp_path))


def test_one_hot_names_a_missing_fasta(genome, tmp_path):
    adata = ct.io.read_regions(["chr1:0-8"], genome, 8)
    with pytest.raises(FileNotFoundError, match="nope.fa"):
        ct.pp.one_hot(adata, tmp_path / "nope.fa", 8)


def test_chromosome_names_that_do_not_match_the_fasta(genome):
    with pytest.raises(ValueError, match=r"\['1'\].*\['chr1', 'chr2'\].*'chr' prefix"):
        ct.io.read_regions(["1:0-8"], genome, 8)
    with pytest.raises(ValueError, match=r"\['chrX'\] are not in the FASTA"):
        ct.io.read_regions(["chrX:0-8"], genome, 8)


@pytest.mark.parametrize(
    ("regions", "kwargs", "error", "match"),
    [
        (["chr1:0-8", "chr1:0-8"], {}, ValueError, "appear more than once.*chr1:0-8"),
        (pd.DataFrame({"chrom": ["chr1"], "start": [0]}), {}, ValueError, r"missing.*'end'"),
        (["chr1:8-4"], {}, ValueError, "end must be greater than start"),
        (["chr1-0-8"], {}, ValueError, "not regions 'chrom:start-end'"),
        (["chr1:0-30"], {}, ValueError, "beyond their chromosome"),
        (REGIONS, {"labels": "GM12878"}, KeyError, r"\['GM12878'\] are not among"),
        (REGIONS.assign(K562=[1, 2, 0]), {"labels": "K562"}, ValueError, "1 \\(open\\), 0"),
        (REGIONS.assign(K562="open"), {"labels": "K562"}, ValueError, "hold \\['open'\\]"),
        (REGIONS, {"labels": "K562", "cell_type": ["a", "b"]}, ValueError, "2 names for 1"),
        ({2: REGIONS}, {}, ValueError, "classes 1 \\(open\\) or 0"),
        ({1: REGIONS}, {"labels": "K562"}, ValueError, "not both"),
        (REGIONS, {"width": 0}, ValueError, "width must be a positive"),
        (42, {}, TypeError, "got int"),
    ],
)
def test_bad_regions_raise_clearly(genome, regions, kwargs, error, match):
    kwargs = {"width": 8, **kwargs}
    with pytest.raises(error, match=match):
        ct.io.read_regions(regions, genome, **kwargs)


def _written(path, text: str):
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("source", "with_genome", "match"),
    [
        (lambda tmp_path: REGIONS, False, "need a genome FASTA"),
        (lambda tmp_path: getfasta(tmp_path / "regions.fa", REGIONS), True, "no genome is needed"),
        (
            lambda tmp_path: write_fasta(tmp_path / "unnamed.fa", {"seq1": "ACGT"}),
            False,
            r"not regions.*\['seq1'\]",
        ),
        (lambda tmp_path: _written(tmp_path / "regions.xlsx", "x"), True, "unknown format '.xlsx'"),
        (lambda tmp_path: _written(tmp_path / "broken.fa", "not a fasta\n"), False, "not a FASTA"),
    ],
    ids=["table_without_genome", "fasta_with_genome", "unnamed_fasta", "xlsx", "broken_fasta"],
)
def test_bad_sources_raise_clearly(genome, tmp_path, source, with_genome, match):
    fasta = [genome] if with_genome else []
    with pytest.raises(ValueError, match=match):
        ct.io.read_regions(source(tmp_path), *fasta, width=8)


def test_one_hot_refuses_var_without_coordinates(genome):
    adata = ct.io.read_regions(["chr1:0-8"], genome, 8)
    del adata.varm["onehot"]
    adata.var = adata.var.drop(columns=["end"])
    with pytest.raises(ValueError, match="chrom \\+ start \\+ end.*chrom \\+ tss \\+ strand"):
        ct.pp.one_hot(adata, genome, 8)
    assert "onehot" not in adata.varm


@pytest.mark.parametrize(
    ("tss", "strand", "match"),
    [(0, "+", "tss must be whole numbers ≥ 1"), (3, "*", "strand must be one of")],
)
def test_one_hot_refuses_bad_gene_coordinates(genome, tss, strand, match):
    genes = ad.AnnData(
        var=pd.DataFrame({"chrom": ["chr1"], "tss": [tss], "strand": [strand]}, index=["gene"])
    )
    with pytest.raises(ValueError, match=match):
        ct.pp.one_hot(genes, genome, 8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"motifs": ["NOT_A_TF", "GATA1"]}, "'NOT_A_TF' is neither a matrix id"),
        ({"motifs": ["GATA1"]}, "1 motifs for 2 cell types"),
        ({"motifs": {"A": "GATA1"}}, r"no motif for cell types \['B'\]"),
        ({"cell_types": list("ABCDEFG")}, "only 6 default motifs"),
        ({"cell_types": ["A", "any"]}, "reserved names"),
        ({"open_fraction": 1.5}, "open_fraction must be between 0 and 1"),
        ({"width": 10}, "shorter than the longest motif"),
    ],
)
def test_synthetic_sequences_refuse_bad_rules(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ct.datasets.synthetic_sequences(**{"n_regions": 10, **kwargs})


def test_one_hot_of_genes_records_the_padding(genome):
    """TSS windows off a chromosome end: the padded bases are counted in var, on the
    gene's strand (a minus-strand gene reads its window backwards)."""
    genes = ct.datasets.synthetic_histone(1, 3, n_bins=10, seed=0)
    genes.var = pd.DataFrame(
        {"chrom": ["chr2", "chr2", "chr1"], "tss": [11, 2, 9], "strand": ["+", "-", "+"]},
        index=genes.var_names,
    )
    ct.pp.one_hot(genes, genome, 8)
    # 1-based TSS 11 on the 12 bp chr2: window [6, 14) runs 2 off the end; TSS 2 on the minus
    # strand: window [-2, 6) runs 2 off the start, read backwards: 2 padded at the end
    assert genes.var["n_padded_start"].tolist() == [0, 0, 0]
    assert genes.var["n_padded_end"].tolist() == [2, 2, 0]
    onehot = genes.varm["onehot"]
    assert (onehot[0, -2:] == 0).all() and (onehot[1, -2:] == 0).all()
    assert (onehot[2].sum(axis=1) == 1).sum() == 8 - CHR1[4:12].upper().count("N")
