"""ct.io and ct.pp on a dask.distributed cluster (client=, or the active client):
the same stores, chunk for chunk and byte for byte, as on this process's threads."""

from __future__ import annotations

import ast
import importlib
import json
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pyBigWig
import pytest
import zarr
from anndata import AnnData

import chromtools as ct
from chromtools._dask import resolve_client

distributed = pytest.importorskip("distributed")

LENGTHS = {"chr1": 30_000, "chr2": 9_000}
CELL_TYPES = ("E1", "E2")
MARKS = ("H3K4me3", "H3K27me3")
N_GENES, CHUNK_GENES = 150, 32
N_READS = len(CELL_TYPES) * len(MARKS) * -(-N_GENES // CHUNK_GENES)  # (track, gene block)


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes with one thread each, chromtools imported on both."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},  # its HTTP server on a free port
    ) as cluster:  # fmt: skip
        with distributed.Client(cluster, set_as_default=False) as client:
            client.run(importlib.import_module, "chromtools.io._bigwig")
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    """A client that is passed as client= (not the default one)."""
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


def _bigwig(path: Path, rng: np.random.Generator) -> Path:
    """Runs of 1-80 bp of random signal with 25 % gaps on every chromosome."""
    bigwig = pyBigWig.open(str(path), "w")
    bigwig.addHeader(list(LENGTHS.items()))
    for chrom, length in LENGTHS.items():
        ends = np.unique(np.r_[np.cumsum(rng.integers(1, 80, length // 20)), length])
        ends = ends[ends <= length]
        starts = np.r_[0, ends[:-1]]
        covered = rng.random(len(starts)) > 0.25
        bigwig.addEntries(
            [chrom] * int(covered.sum()),
            starts[covered].tolist(),
            ends=ends[covered].tolist(),
            values=rng.uniform(0, 20, int(covered.sum())).tolist(),
        )
    bigwig.close()
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict:
    """Four tracks, 150 genes on both strands (some windows off chromosome ends) and
    expression counts of both cell types."""
    folder = tmp_path_factory.mktemp("tracks")
    rng = np.random.default_rng(11)
    tracks = [
        (cell, mark, _bigwig(folder / f"{cell}_{mark}.bw", rng))
        for cell in CELL_TYPES
        for mark in MARKS
    ]
    chroms = rng.choice(list(LENGTHS), N_GENES)
    genes = pd.DataFrame(
        {
            "chrom": chroms,
            "tss": [int(rng.integers(1, LENGTHS[c] + 1)) for c in chroms],
            "strand": rng.choice(["+", "-"], N_GENES),
        },
        index=pd.Index([f"g{i}" for i in range(N_GENES)], name="gene_id"),
    )
    counts = {c: pd.Series(rng.poisson(30, N_GENES), index=genes.index) for c in CELL_TYPES}
    return {"tracks": tracks, "genes": genes, "expression": counts}


def _read(inputs: dict, store: Path | None, **kwargs):
    return ct.io.read_bigwigs(
        inputs["tracks"], inputs["genes"], store, window=(-1000, 1000), bin_size=100,
        chunk_genes=CHUNK_GENES, expression=inputs["expression"], **kwargs,
    )  # fmt: skip


@pytest.fixture(scope="module")
def local_store(inputs, tmp_path_factory) -> Path:
    """The store read on this process's threads, the reference."""
    store = tmp_path_factory.mktemp("local") / "local.zarr"
    progress, ct.settings.progress = ct.settings.progress, False
    try:
        _read(inputs, store, n_jobs=1)
    finally:
        ct.settings.progress = progress
    return store


def _arrays(store: Path) -> dict[str, zarr.Array]:
    group = zarr.open_group(store, mode="r")
    return {
        name: node for name, node in group.members(max_depth=None) if isinstance(node, zarr.Array)
    }


def _files(store: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()
    }


def assert_same_store(store: Path, reference: Path) -> None:
    """Same arrays (names, shapes, chunks, dtypes, values with NaN), the same bytes in
    every file (every chunk, the metadata), and the same manifest but for its write id."""
    arrays, expected = _arrays(store), _arrays(reference)
    assert sorted(arrays) == sorted(expected)
    assert "obsm/histone" in arrays and "X" in arrays
    for name, array in arrays.items():
        other = expected[name]
        assert array.shape == other.shape and array.chunks == other.chunks, name
        assert array.dtype == other.dtype, name
        np.testing.assert_array_equal(array[...], other[...], err_msg=name)
    files, reference_files = _files(store), _files(reference)
    assert sorted(files) == sorted(reference_files)
    histone = arrays["obsm/histone"]
    chunk_files = [n for n in files if n.startswith("obsm/histone/") and "/." not in n]
    assert len(chunk_files) == histone.nchunks == 2 * 5  # cell types × gene blocks
    manifest = "chromtools-manifest.json"  # the same files, sizes and checksums
    different = [n for n in files if n != manifest and files[n] != reference_files[n]]
    assert not different, f"files that differ: {different[:10]}"
    written, expected_manifest = (json.loads(f[manifest]) for f in (files, reference_files))
    assert written.pop("write_id") != expected_manifest.pop("write_id")  # one per write
    assert written == expected_manifest


def _tasks(stream, prefix: str) -> list[dict]:
    return [t for t in stream.data if str(t["key"]).strip("('").startswith(prefix)]


# --- read_bigwigs ------------------------------------------------------------


def test_read_bigwigs_on_a_cluster_writes_the_same_store(client, inputs, local_store, tmp_path):
    store = tmp_path / "cluster.zarr"
    with distributed.get_task_stream(client) as stream:
        adata = _read(inputs, store, client=client)
    reads = _tasks(stream, "_read_block")
    assert len(reads) == N_READS  # every (track, gene block) was read on a worker
    assert {t["worker"] for t in reads} <= set(client.scheduler_info()["workers"])
    assert_same_store(store, local_store)
    expected = ct.io.read_zarr(local_store)
    np.testing.assert_array_equal(
        adata.obsm["histone"].compute(), expected.obsm["histone"].compute()
    )


def test_read_bigwigs_in_memory_on_a_cluster_equals_local_threads(client, inputs):
    with distributed.get_task_stream(client) as stream:
        remote = _read(inputs, None, client=client)
    local = _read(inputs, None, n_jobs=1)
    assert len(_tasks(stream, "_read_block")) == N_READS
    assert remote.obsm["histone"].dtype == np.float32
    assert np.isfinite(remote.obsm["histone"]).all() and remote.obsm["histone"].max() > 0
    np.testing.assert_array_equal(remote.obsm["histone"], local.obsm["histone"])


# --- ct.pp steps on the lazy store -------------------------------------------


def _preprocess(store: Path, out: Path, client) -> AnnData:
    """normalize, binarize (medians over the genes present) and log_fold_change on the
    lazy object read from ``store``, written to ``out``."""
    adata = ct.io.read_zarr(store)
    adata.obs = adata.obs.drop(columns="expression_median")  # binarize takes medians here
    ct.pp.normalize(adata, "zscore", client=client)
    ct.pp.binarize(adata, key_added="high", client=client)
    ct.pp.log_fold_change(adata, "E1", "E2", client=client)
    ct.io.write_zarr(adata, out, chunk_genes=CHUNK_GENES)
    return adata


@pytest.mark.slow
def test_pp_steps_on_a_cluster_write_the_same_store(client, local_store, inputs, tmp_path):
    with distributed.get_task_stream(client) as stream:
        remote = _preprocess(local_store, tmp_path / "remote.zarr", client)
    local = _preprocess(local_store, tmp_path / "local.zarr", None)
    # the statistics and the median rows were reduced on the workers
    assert len(stream.data) > 0
    assert {t["worker"] for t in stream.data} <= set(client.scheduler_info()["workers"])
    assert_same_store(tmp_path / "remote.zarr", tmp_path / "local.zarr")
    steps, expected = remote.uns["chromtools"]["pp"], local.uns["chromtools"]["pp"]
    pd.testing.assert_frame_equal(
        steps["normalize"]["scale_factors"],
        expected["normalize"]["scale_factors"],
        check_exact=True,
    )
    thresholds = steps["binarize"]["thresholds"]
    pd.testing.assert_frame_equal(thresholds, expected["binarize"]["thresholds"], check_exact=True)
    counts = inputs["expression"]
    for cell in CELL_TYPES:  # the median of log2(count + 1) over the genes present
        median = np.median(np.log2(counts[cell] + 1.0))
        np.testing.assert_allclose(thresholds.loc[cell, "threshold"], median, rtol=1e-6)
    np.testing.assert_allclose(
        remote.var["log2fc_E2_vs_E1"], np.log2(counts["E2"] + 1.0) - np.log2(counts["E1"] + 1.0)
    )


# --- the active client ---------------------------------------------------------


def test_the_active_client_is_used_without_client_argument(cluster, inputs, local_store, tmp_path):
    store = tmp_path / "active.zarr"
    with distributed.Client(cluster) as active:
        assert resolve_client(None, "test") is active
        with distributed.get_task_stream(active) as stream:
            adata = _read(inputs, store)
            ct.pp.normalize(adata)
        # dask's own setting for a local scheduler wins, as in dask.compute
        with dask.config.set(scheduler="threads"):
            assert resolve_client(None, "test") is None
    assert resolve_client(None, "test") is None  # closed: back to local threads
    assert len(_tasks(stream, "_read_block")) == N_READS
    assert len(stream.data) > N_READS  # and normalize's statistics
    assert_same_store(store, local_store)
    local = ct.io.read_zarr(local_store)
    ct.pp.normalize(local)
    factors = adata.uns["chromtools"]["pp"]["normalize"]["scale_factors"]
    expected = local.uns["chromtools"]["pp"]["normalize"]["scale_factors"]
    pd.testing.assert_frame_equal(factors, expected, check_exact=True)
    assert (factors.to_numpy() > 0).all()


# --- a bad client= -------------------------------------------------------------

STEPS = {
    "read_bigwigs": lambda inputs, store, client: _read(inputs, store, client=client),
    "normalize": lambda inputs, store, client: ct.pp.normalize(
        ct.io.read_zarr(store), client=client
    ),
    "binarize": lambda inputs, store, client: ct.pp.binarize(ct.io.read_zarr(store), client=client),
    "log_fold_change": lambda inputs, store, client: ct.pp.log_fold_change(
        ct.io.read_zarr(store), "E1", "E2", client=client
    ),
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_client_that_is_not_a_client_is_refused_by_name(step, inputs, local_store, tmp_path):
    store = local_store if step != "read_bigwigs" else tmp_path / "never.zarr"
    before = _files(local_store)
    with pytest.raises(
        ValueError, match=rf"{step}: client= must be a dask.distributed.Client.*got str"
    ):
        STEPS[step](inputs, store, "tcp://127.0.0.1:8786")
    assert not (tmp_path / "never.zarr").exists() and _files(local_store) == before


def test_a_closed_client_is_refused(cluster, inputs, tmp_path):
    closed = distributed.Client(cluster, set_as_default=False)
    closed.close()
    with pytest.raises(ValueError, match="read_bigwigs: client= is closed, not running"):
        _read(inputs, tmp_path / "never.zarr", client=closed)
    assert not (tmp_path / "never.zarr").exists()


def _imports_distributed(node: ast.AST) -> bool:
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "distributed" for alias in node.names)
    return isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "distributed"


def test_distributed_is_imported_only_inside_functions():
    """``import chromtools`` stays fast: distributed is imported where a client is
    resolved, never at a module's top level (``if TYPE_CHECKING:`` is for hints)."""
    top_level, inside = [], []
    for path in sorted(Path(ct.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text())
        top_level += [path.name for node in tree.body if _imports_distributed(node)]
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        inside += [path.name for f in functions for n in ast.walk(f) if _imports_distributed(n)]
    assert not top_level
    assert "_dask.py" in inside
