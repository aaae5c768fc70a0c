"""ct.io.append_cell_types: new cell types join a store without rewriting its chunks,
atomically, checked first, and readers in other processes see the old or the new
store whole."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import dask.array as da
import numpy as np
import pandas as pd
import pytest

import chromtools as ct
from chromtools.io.store import _append, _append_checks, _read

N_GENES, N_BINS, CHUNK_GENES = 40, 10, 16


def _cell_types(names: list[str], seed: int, **options) -> ad.AnnData:
    options = {"n_bins": N_BINS, **options}
    n_genes = options.pop("n_genes", N_GENES)
    return ct.datasets.synthetic_histone(
        len(names), n_genes, cell_types=names, seed=seed, **options
    )


@pytest.fixture
def store(tmp_path) -> Path:
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(_cell_types(["cell0", "cell1", "cell2"], 3), path, chunk_genes=CHUNK_GENES)
    return path


@pytest.fixture
def new() -> ad.AnnData:
    return _cell_types(["new0", "new1"], 4)


def _bits(array) -> tuple:
    array = np.asarray(array)
    return (
        array.dtype.str,
        array.shape,
        hashlib.sha256(np.ascontiguousarray(array).tobytes()).digest(),
    )


def _assert_same(read: ad.AnnData, expected: ad.AnnData) -> None:
    """Bit for bit: X, every layer, obsm['histone']; obs as a frame."""
    assert list(read.obs_names) == list(expected.obs_names)
    assert _bits(read.X) == _bits(expected.X)
    assert sorted(read.layers) == sorted(expected.layers)
    for key in expected.layers:
        assert _bits(read.layers[key]) == _bits(expected.layers[key]), key
    assert _bits(read.obsm["histone"]) == _bits(expected.obsm["histone"])
    pd.testing.assert_frame_equal(read.obs, expected.obs)


def _tree(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- the result is the concatenation ------------------------------------------


@pytest.mark.parametrize("lazy", [True, False], ids=["lazy", "eager"])
def test_the_appended_store_reads_as_the_concatenation(store, new, lazy):
    old = ct.io.read_zarr(store, lazy=False)
    ct.io.append_cell_types(new, store)
    read = ct.io.read_zarr(store, lazy=lazy)
    assert read.n_obs == 5
    _assert_same(read.to_memory() if lazy else read, ad.concat([old, new], join="outer"))
    pd.testing.assert_frame_equal(read.var, old.var)  # var and uns stay the store's
    assert list(read.uns["chromtools"]["var_names"]) == list(old.uns["chromtools"]["var_names"])


def test_the_manifest_lists_the_appended_store(store, new):
    ct.io.append_cell_types(new, store)
    files = [p for p in store.rglob("*") if p.is_file() and p.name != "chromtools-manifest.json"]
    assert ct.io.verify(store) == {
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
    }


def test_appends_follow_each_other(store, new):
    old = ct.io.read_zarr(store, lazy=False)
    later = _cell_types(["new2"], 5)
    ct.io.append_cell_types(new, store)
    ct.io.append_cell_types(later, store)
    assert ct.io.verify(store)["files"] > 0
    expected = ad.concat([old, new, later], join="outer")
    _assert_same(ct.io.read_zarr(store, lazy=False), expected)


def test_lazy_cell_types_are_streamed_in(store, new, tmp_path):
    ct.io.write_zarr(new, tmp_path / "new.zarr", chunk_genes=8)
    lazy = ct.io.read_zarr(tmp_path / "new.zarr")
    assert isinstance(lazy.obsm["histone"], da.Array)
    old = ct.io.read_zarr(store, lazy=False)
    ct.io.append_cell_types(lazy, store)
    _assert_same(ct.io.read_zarr(store, lazy=False), ad.concat([old, new], join="outer"))


def test_small_obsm_and_new_obs_columns_are_merged_as_concat_does(tmp_path):
    path = tmp_path / "s.zarr"
    old = _cell_types(["cell0", "cell1"], 3)
    old.obsm["X_pca"] = np.arange(8, dtype=np.float32).reshape(2, 4)
    old.obs["tissue"] = pd.Categorical(["blood", "liver"])
    ct.io.write_zarr(old, path, chunk_genes=CHUNK_GENES)
    new = _cell_types(["new0"], 4)
    new.obsm["X_pca"] = np.full((1, 4), -1.0, dtype=np.float32)
    new.obs["tissue"] = pd.Categorical(["brain"])
    new.obs = new.obs.drop(columns="rule_shift")
    ct.io.append_cell_types(new, path)
    read = ct.io.read_zarr(path, lazy=False)
    expected = ad.concat([ct.io.read_zarr(path, lazy=False)[:2], new], join="outer")
    _assert_same(read, expected)
    np.testing.assert_array_equal(read.obsm["X_pca"], [[0, 1, 2, 3], [4, 5, 6, 7], [-1] * 4])
    assert list(read.obs["tissue"]) == ["blood", "liver", "brain"]
    assert read.obs["rule_shift"].isna().tolist() == [False, False, True]
    ct.io.verify(path)


# --- only the new rows are written --------------------------------------------


def _chunk_files(path: Path) -> dict[str, os.stat_result]:
    """Chunk files of the per-cell-type arrays, by path (not metadata, not obs)."""
    return {
        p.relative_to(path).as_posix(): p.stat()
        for folder in ("X", "layers", "obsm")
        for p in (path / folder).rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def test_the_chunks_of_stored_cell_types_are_not_rewritten(store, new):
    before = _chunk_files(store)
    # 4 arrays (X, 3 layers) of 3 × 3 chunks and histone's 3 × 3.
    assert len(before) == 5 * 3 * 3
    time.sleep(0.01)  # a rewrite would show in the modification time
    ct.io.append_cell_types(new, store)
    after = _chunk_files(store)
    for relative, stat in before.items():
        now = after[relative]
        # The same file (inode), never opened for writing since (mtime, size).
        assert (now.st_ino, now.st_mtime_ns, now.st_size) == (
            stat.st_ino,
            stat.st_mtime_ns,
            stat.st_size,
        ), relative
        assert now.st_nlink == 1  # the old store is gone, only the new one holds it
    added = sorted(set(after) - set(before))
    assert len(added) == 5 * 2 * 3  # two new cell types × three gene blocks
    assert {Path(name).name.split(".")[0] for name in added} == {"3", "4"}


def test_chunks_are_copied_where_hard_links_are_unsupported(store, new, monkeypatch):
    link = os.link

    def no_links(source, target, **options):
        if Path(source).is_relative_to(store):  # zarr links its own temporaries
            raise OSError(errno.EPERM, "Operation not permitted", str(target))
        link(source, target, **options)

    monkeypatch.setattr(os, "link", no_links)
    old = ct.io.read_zarr(store, lazy=False)
    ct.io.append_cell_types(new, store)
    _assert_same(ct.io.read_zarr(store, lazy=False), ad.concat([old, new], join="outer"))
    ct.io.verify(store)


# --- everything is checked before any work -------------------------------------


def _renamed_mark(adata: ad.AnnData) -> ad.AnnData:
    marks = list(adata.uns["chromtools"]["marks"])
    adata.uns["chromtools"]["marks"] = ["H3K27ac", *marks[1:]]
    return adata


def _without_layer(adata: ad.AnnData) -> ad.AnnData:
    del adata.layers["label"]
    return adata


def _with_obsm(adata: ad.AnnData) -> ad.AnnData:
    adata.obsm["X_pca"] = np.zeros((adata.n_obs, 2), dtype=np.float32)
    return adata


def _float64(adata: ad.AnnData) -> ad.AnnData:
    adata.X = adata.X.astype(np.float64)
    return adata


def _repeated(adata: ad.AnnData) -> ad.AnnData:
    adata.obs_names = ["new0", "new0"]
    return adata


def _with_obsp(adata: ad.AnnData) -> ad.AnnData:
    adata.obsp["distances"] = np.zeros((adata.n_obs, adata.n_obs))
    return adata


MISMATCHES = {
    "other_genes": (
        lambda: _cell_types(["new0"], 4, n_genes=41),
        r"var_names \(41 genes\) are not the 40 genes of .*s\.zarr; not in the store \['g000040'\]",
    ),
    "gene_order": (
        lambda: _cell_types(["new0"], 4)[:, ::-1].copy(),
        r"var_names hold the genes of .*s\.zarr in another order",
    ),
    "marks": (
        lambda: _renamed_mark(_cell_types(["new0"], 4)),
        r"uns\['chromtools'\]\['marks'\] is \['H3K27ac'.* appended cell types must have the "
        r"store's marks",
    ),
    "bin_size": (
        lambda: _cell_types(["new0"], 4, bin_size=200),
        r"uns\['chromtools'\]\['bin_size'\] is 200, but .*s\.zarr holds 100",
    ),
    "bins": (
        lambda: _cell_types(["new0"], 4, n_bins=20),
        r"obsm\['histone'\] does not fit .*s\.zarr: 20 bins, the store 10",
    ),
    "present": (
        lambda: _cell_types(["new0", "cell1"], 4),
        r"cell types \['cell1'\] of adata_new are already in .*s\.zarr",
    ),
    "repeated": (
        lambda: _repeated(_cell_types(["new0", "new1"], 4)),
        r"adata_new names cell types more than once: \['new0'\]",
    ),
    "missing_layer": (
        lambda: _without_layer(_cell_types(["new0"], 4)),
        r"adata_new has no layers\['label'\], which .*s\.zarr holds for every cell type",
    ),
    "extra_obsm": (
        lambda: _with_obsm(_cell_types(["new0"], 4)),
        r"adata_new has obsm\['X_pca'\], which .*s\.zarr does not hold",
    ),
    "dtype": (
        lambda: _float64(_cell_types(["new0"], 4)),
        r"adata_new\.X is ndarray of float64; .*s\.zarr holds a dense float32 array",
    ),
    "obsp": (
        lambda: _with_obsp(_cell_types(["new0"], 4)),
        r"obsp \(cell type × cell type\) of adata_new",
    ),
    "empty": (
        lambda: _cell_types(["new0"], 4)[[]].copy(),
        r"adata_new holds no cell types",
    ),
}


@pytest.mark.parametrize("case", list(MISMATCHES))
def test_a_mismatch_is_named_and_the_store_left_as_it_was(store, case):
    make, message = MISMATCHES[case]
    adata_new = make()
    before = _tree(store.parent)
    with pytest.raises(ValueError, match=message):
        ct.io.append_cell_types(adata_new, store)
    assert _tree(store.parent) == before


def test_only_a_chromtools_store_is_appended_to(new, tmp_path):
    path = tmp_path / "plain.zarr"
    _cell_types(["cell0"], 3).write_zarr(path)  # anndata's own writer: no manifest
    before = _tree(tmp_path)
    with pytest.raises(ct.StoreError, match=r"plain\.zarr is not a chromtools store"):
        ct.io.append_cell_types(new, path)
    assert _tree(tmp_path) == before


def test_a_damaged_store_is_not_appended_to(store, new):
    chunk = store / "obsm" / "histone" / "1.1.0.0"
    chunk.unlink()
    with pytest.raises(ct.StoreError, match=r"incomplete.*obsm/histone/1\.1\.0\.0 is missing"):
        ct.io.append_cell_types(new, store)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda a, p: ct.io.append_cell_types(a.X, p), TypeError, "adata_new must be an AnnData"),
        (lambda a, p: ct.io.append_cell_types(a, None), TypeError, "store must be a file system"),
        (
            lambda a, p: ct.io.append_cell_types(a, p.parent / "none.zarr"),
            FileNotFoundError,
            r"no Zarr store at .*none\.zarr",
        ),
    ],
    ids=["adata", "none", "missing"],
)
def test_bad_arguments_are_named(store, new, call, error, match):
    with pytest.raises(error, match=match):
        call(new, store)


# --- a killed append leaves the previous store ---------------------------------

_KILLER = f"""
import os, signal, sys
import chromtools as ct
from chromtools.io.store import _append, _atomic

path, step = sys.argv[1], sys.argv[2]
names = ["new0", "new1"]
new = ct.datasets.synthetic_histone(2, {N_GENES}, n_bins={N_BINS}, cell_types=names, seed=4)

def die(name):
    if name == step:
        os.kill(os.getpid(), signal.SIGKILL)

_atomic.step_hook = die
if step == "rows":  # killed after the first array's new rows are written
    real = _append._write_rows
    def write_then_die(*args):
        real(*args)
        die("rows")
    _append._write_rows = write_then_die
ct.io.append_cell_types(new, path)
"""


@pytest.mark.parametrize(
    ("step", "n_obs"),
    [
        ("rows", 3),  # killed while writing: the old store stays
        ("written", 3),  # killed before the switch
        ("exchanged", 5),  # killed after the switch, before the old version is removed
    ],
)
def test_a_killed_append_leaves_one_whole_store(store, new, step, n_obs):
    old = ct.io.read_zarr(store, lazy=False)
    before = _tree(store)
    script = store.parent / "killer.py"
    script.write_text(_KILLER)
    done = subprocess.run(
        [sys.executable, str(script), str(store), step], capture_output=True, timeout=120
    )
    script.unlink()
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    assert any(".tmp-" in p.name for p in store.parent.iterdir())  # the kill left its temporary
    read = ct.io.read_zarr(store, lazy=False)
    assert read.n_obs == n_obs
    expected = old if n_obs == 3 else ad.concat([old, new], join="outer")
    _assert_same(read, expected)
    ct.io.verify(store)
    if n_obs == 3:
        assert _tree(store) == before  # not one byte of the old store changed
    later = _cell_types(["new2"], 5)
    ct.io.append_cell_types(later, store)  # the next write removes the temporary
    assert sorted(p.name for p in store.parent.iterdir()) == ["s.zarr"]
    _assert_same(ct.io.read_zarr(store, lazy=False), ad.concat([expected, later], join="outer"))


# --- readers in other processes see the old or the new store whole -------------


def test_a_store_replaced_while_its_manifest_is_checked_is_read_again(store, new, monkeypatch):
    """The narrowest window: another process appends between the reader's reading of
    the manifest and its check of the files. The reader starts again; no error."""
    old = ct.io.read_zarr(store, lazy=False)
    check = _read._problems
    appended = []

    def append_first(path, manifest, **options):
        if not appended:
            appended.append(True)
            ct.io.append_cell_types(new, store)
        return check(path, manifest, **options)

    monkeypatch.setattr(_read, "_problems", append_first)
    read = ct.io.read_zarr(store, lazy=False)
    assert appended
    _assert_same(read, ad.concat([old, new], join="outer"))


_READER = """
import json, sys, time
from pathlib import Path
import numpy as np
import chromtools as ct

path, expected, stop, out = map(Path, sys.argv[1:5])
versions = dict(np.load(expected))
last = max(int(key.split("_")[0]) for key in versions)

def parts(adata):
    yield "obs", np.array(adata.obs.to_csv())
    yield "X", adata.X
    yield "histone", adata.obsm["histone"]
    for key in sorted(adata.layers):
        yield f"layer-{key}", adata.layers[key]

def bits(array):
    array = np.ascontiguousarray(array)
    return array.dtype.str, array.shape, array.tobytes()

def version(adata):
    found = dict(parts(adata))
    for v in range(last + 1):
        prefix = f"{v}_"
        wanted = {k[len(prefix):]: a for k, a in versions.items() if k.startswith(prefix)}
        if wanted.keys() == found.keys() and all(bits(found[k]) == bits(wanted[k]) for k in wanted):
            return v
    return -1  # a mixture of versions

reads, errors = [], []
deadline = time.monotonic() + 60
# Until told to stop and the last version is seen (or on time out).
while not (stop.exists() and reads and reads[-1][1] == last) and time.monotonic() < deadline:
    try:
        adata = ct.io.read_zarr(path, lazy=False)
        reads.append([adata.n_obs, version(adata)])
    except Exception as error:
        errors.append(f"{type(error).__name__}: {error}")
    if len(reads) + len(errors) == 1:
        print("reading", flush=True)
out.write_text(json.dumps({"reads": reads, "errors": errors}))
"""


def _versions(stores: list[ad.AnnData]) -> dict[str, np.ndarray]:
    """The expected content of each version, as the reader script compares it."""
    arrays = {}
    for v, adata in enumerate(stores):
        arrays[f"{v}_obs"] = np.array(adata.obs.to_csv())
        arrays[f"{v}_X"] = np.asarray(adata.X)
        arrays[f"{v}_histone"] = np.asarray(adata.obsm["histone"])
        for key in adata.layers:
            arrays[f"{v}_layer-{key}"] = np.asarray(adata.layers[key])
    return arrays


def test_readers_see_the_old_or_the_new_store_never_a_mixture(store):
    additions = [_cell_types([f"new{i}"], 10 + i) for i in range(3)]
    versions = [ct.io.read_zarr(store, lazy=False)]
    for addition in additions:
        versions.append(ad.concat([versions[-1], addition], join="outer"))
    folder = store.parent
    np.savez(folder / "expected.npz", **_versions(versions))
    (folder / "reader.py").write_text(_READER)
    stop = folder / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, str(folder / "reader.py"), str(store), str(folder / "expected.npz")]
            + [str(stop), str(folder / f"reads{i}.json")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    try:
        for reader in readers:  # both have imported chromtools and read once
            assert reader.stdout.readline().strip() == "reading"
        for addition in additions:  # this process appends while the two others read
            ct.io.append_cell_types(addition, store)
            time.sleep(0.1)
    finally:
        stop.touch()
        for reader in readers:
            reader.communicate(timeout=60)
    results = [json.loads((folder / f"reads{i}.json").read_text()) for i in range(2)]
    for result in results:
        assert result["errors"] == []
        seen = [v for _, v in result["reads"]]
        assert len(seen) >= 5
        assert -1 not in seen  # every read is exactly one version
        assert seen == sorted(seen)  # and never an older one after a newer one
        assert all(n_obs == 3 + v for n_obs, v in result["reads"])
        assert seen[0] == 0 and seen[-1] == 3
    _assert_same(ct.io.read_zarr(store, lazy=False), versions[-1])
    ct.io.verify(store)


# --- the new cell types' values are on the store's scale --------------------------


def _normalised(method):
    def run(adata: ad.AnnData) -> ad.AnnData:
        ct.pp.normalize(adata, method)
        return adata

    return run


def _binarised(threshold="median"):
    def run(adata: ad.AnnData) -> ad.AnnData:
        ct.pp.binarize(adata, threshold=threshold)
        return adata

    return run


def _raw(adata: ad.AnnData) -> ad.AnnData:
    return adata


_DEPTH_LOG1P = r"signal is normalised with depth_log1p \(per-track statistics over 40 genes\)"
_RAW = r"signal is raw \(not normalised by ct\.pp\.normalize\)"
_BINARISED = (
    r"labels are made by ct\.pp\.binarize \(X at threshold 'median' into layers\['label'\]\)"
)
_NOT_BINARISED = r"labels are not made by ct\.pp\.binarize"

SIGNAL_MISMATCHES = {  # the store's processing, the new cell types', the two states named
    "raw_into_depth_log1p": (_normalised("depth_log1p"), _raw, _DEPTH_LOG1P, _RAW),
    "depth_log1p_into_raw": (_raw, _normalised("depth_log1p"), _RAW, _DEPTH_LOG1P),
    "log1p_into_depth_log1p": (
        _normalised("depth_log1p"),
        _normalised("log1p"),
        _DEPTH_LOG1P,
        r"signal is normalised with log1p\.",
    ),
    "not_binarised_into_binarised": (_binarised(), _raw, _BINARISED, _NOT_BINARISED),
    "binarised_into_not_binarised": (_raw, _binarised(), _NOT_BINARISED, _BINARISED),
    "other_threshold": (
        _binarised(),
        _binarised(1.5),
        _BINARISED,
        r"labels are made by ct\.pp\.binarize \(X at threshold 1\.5 into layers\['label'\]\)",
    ),
}


def _stats(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under ``folder``: inode, size and modification time."""
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_size, p.stat().st_mtime_ns)
        for p in [folder, *folder.rglob("*")]
    }


@pytest.mark.parametrize("case", list(SIGNAL_MISMATCHES))
def test_new_cell_types_on_another_scale_are_refused_before_any_write(tmp_path, case, monkeypatch):
    store_pp, new_pp, store_state, new_state = SIGNAL_MISMATCHES[case]
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(store_pp(_cell_types(["cell0", "cell1"], 3)), path, chunk_genes=CHUNK_GENES)
    adata_new = new_pp(_cell_types(["new0"], 4))
    before, stats = _tree(tmp_path), _stats(tmp_path)

    def no_write(*args, **options):
        raise AssertionError("the append started writing")

    monkeypatch.setattr(_append, "atomic_write", no_write)
    time.sleep(0.01)  # a write would show in a modification time
    message = rf"the store's {store_state}.*; the new cell types' {new_state}"
    with pytest.raises(ValueError, match=message):
        ct.io.append_cell_types(adata_new, path)
    assert _tree(tmp_path) == before  # every byte of every file, the manifest included
    assert _stats(tmp_path) == stats  # no file or folder written, made or removed
    ct.io.verify(path)


SIGNAL_MATCHES = {
    "raw": _raw,
    "depth_log1p": _normalised("depth_log1p"),
    "zscore_binarised": lambda adata: _binarised()(_normalised("zscore")(adata)),
}


@pytest.mark.parametrize("case", list(SIGNAL_MATCHES))
def test_new_cell_types_on_the_store_scale_are_appended_with_their_records(tmp_path, case):
    process = SIGNAL_MATCHES[case]
    path = tmp_path / "s.zarr"
    old = process(_cell_types(["cell0", "cell1"], 3))
    ct.io.write_zarr(old, path, chunk_genes=CHUNK_GENES)
    adata_new = process(_cell_types(["new0"], 4))
    ct.io.append_cell_types(adata_new, path)
    read = ct.io.read_zarr(path, lazy=False)
    _assert_same(read, ad.concat([old, adata_new], join="outer"))
    state = _append_checks.signal_state
    assert state(ct.get.metadata(read)) == state(ct.get.metadata(old))
    # The records' per-cell-type tables (scale factors, thresholds) cover the new rows too.
    records, stored, added = (ct.get.metadata(a).get("pp", {}) for a in (read, old, adata_new))
    tables = [("normalize", "scale_factors"), ("normalize", "centers"), ("binarize", "thresholds")]
    for step, key in [(step, key) for step, key in tables if key in stored.get(step, {})]:
        expected = pd.concat([stored[step][key], added[step][key]])
        pd.testing.assert_frame_equal(records[step][key], expected)
    assert (case == "raw") == (not any(key in records.get(s, {}) for s, key in tables))
    ct.io.verify(path)


def test_a_normalisation_of_unknown_method_is_not_appended_to(tmp_path):
    path = tmp_path / "s.zarr"
    old = _normalised("depth")(_cell_types(["cell0"], 3))
    del old.uns["chromtools"]["pp"]["normalize"]["method"]  # as ad.concat leaves it
    ct.io.write_zarr(old, path, chunk_genes=CHUNK_GENES)
    adata_new = _normalised("depth")(_cell_types(["new0"], 4))
    del adata_new.uns["chromtools"]["pp"]["normalize"]["method"]
    with pytest.raises(ValueError, match=r"normalised with an unknown method"):
        ct.io.append_cell_types(adata_new, path)


# --- an append bigger than the disk leaves the previous store and no debris --------


def _random_signal(adata: ad.AnnData, lazy: bool) -> ad.AnnData:
    """Incompressible values, in chunks of one cell type (lazy) or whole (eager)."""
    rng = np.random.default_rng(1)
    for key in list(adata.layers):
        adata.layers[key] = rng.random(adata.shape, dtype=np.float32)
    signal = rng.random(adata.obsm["histone"].shape, dtype=np.float32)
    chunks = (1, CHUNK_GENES, *signal.shape[2:])
    adata.obsm["histone"] = da.from_array(signal, chunks=chunks) if lazy else signal
    return adata


@pytest.mark.parametrize("lazy", [True, False], ids=["dask-threads", "zarr-concurrent"])
def test_an_append_bigger_than_the_disk_leaves_the_store_and_no_debris(small_disk, fill_up, lazy):
    path = small_disk / "s.zarr"
    old = _cell_types(["cell0"], 3, n_genes=400)
    ct.io.write_zarr(old, path, chunk_genes=CHUNK_GENES)
    fill_up(small_disk, leave=1024 * 1024)  # room for the metadata, not for the rows
    before = _tree(path)
    big = _random_signal(_cell_types([f"new{i}" for i in range(4)], 4, n_genes=400), lazy)
    for _ in range(5):
        with pytest.raises(OSError, match=rf"cannot write {re.escape(str(path))}: No space") as e:
            ct.io.append_cell_types(big, path)
        assert e.value.errno == errno.ENOSPC
        assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "s.zarr"]
        time.sleep(0.3)  # a late writer would have recreated the temporary by now
        assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "s.zarr"]
        assert _tree(path) == before
    ct.io.verify(path)
    _assert_same(ct.io.read_zarr(path, lazy=False), old)
    (small_disk / "filler").unlink()  # with room again, the same append succeeds
    ct.io.append_cell_types(big, path)
    assert ct.io.read_zarr(path).n_obs == 5
    assert sorted(p.name for p in small_disk.iterdir()) == ["s.zarr"]
