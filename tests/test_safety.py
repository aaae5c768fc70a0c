"""Data safety on disk: only our own folders are replaced, writes are atomic even
when the process is killed, one writer wins, a damaged store is never read as
data, and the live object stays right after its own store is replaced."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chromtools as ct
from chromtools.io.store import _atomic, _write


def _digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (or the file itself) with its SHA-256."""
    if folder.is_file():
        return {folder.name: hashlib.sha256(folder.read_bytes()).hexdigest()}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _tree(folder: Path) -> dict[str, str]:
    """Every entry of ``folder``, its own files and its siblings' alike."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def small():
    adata = ct.datasets.synthetic_histone(2, 40, n_bins=20, seed=3)
    ct.pp.split(adata, seed=0)
    return adata


@pytest.fixture
def user_folder(tmp_path) -> Path:
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "thesis.docx").write_bytes(b"years of work")
    (folder / "notes").mkdir()
    (folder / "notes" / "todo.txt").write_text("do not delete")
    return folder


# --- only our own folders are replaced ---------------------------------------


def test_write_zarr_refuses_a_users_folder(small, user_folder):
    before = _tree(user_folder.parent)
    with pytest.raises(ValueError, match=r"thesis\.docx.*not a Zarr store.*replaces only its own"):
        ct.io.write_zarr(small, user_folder, overwrite=True)
    assert _tree(user_folder.parent) == before


def test_write_zarr_refuses_a_store_with_foreign_files(small, tmp_path):
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(small, path)
    (path / "my_figure.png").write_bytes(b"png")
    before = _tree(tmp_path)
    with pytest.raises(ValueError, match=r"also holds \['my_figure\.png'\]"):
        ct.io.write_zarr(small, path)
    assert _tree(tmp_path) == before


def test_write_zarr_refuses_a_regular_file_and_leaves_nothing(small, tmp_path):
    path = tmp_path / "data.zarr"
    path.write_text("a file, not a store")
    with pytest.raises(ValueError, match="is a file, not a Zarr store"):
        ct.io.write_zarr(small, path)
    assert path.read_text() == "a file, not a store"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.zarr"]


def test_save_model_refuses_a_users_folder(small, user_folder):
    ct.tl.fit(small, "deepchrome", cell_types=["cell0"], epochs=1)
    before = _tree(user_folder.parent)
    with pytest.raises(ValueError, match="not a saved chromtools model"):
        ct.tl.save_model(small, "deepchrome", user_folder, overwrite=True)
    assert _tree(user_folder.parent) == before


def test_read_bigwigs_refuses_a_users_folder_before_reading(user_folder, tmp_path):
    import pandas as pd
    import pyBigWig

    bigwig_path = tmp_path / "track.bw"
    bigwig = pyBigWig.open(str(bigwig_path), "w")
    bigwig.addHeader([("chr1", 5000)])
    bigwig.addEntries(["chr1"], [1000], ends=[1100], values=[1.0])
    bigwig.close()
    genes = pd.DataFrame({"chrom": ["chr1"], "tss": [1500], "strand": ["+"]}, index=["g1"])
    before = _tree(tmp_path)
    with pytest.raises(ValueError, match=r"thesis\.docx.*not a Zarr store"):
        ct.io.read_bigwigs(
            [("E003", "H3K4me3", bigwig_path)],
            genes,
            window=(-200, 200),
            bin_size=100,
            store=user_folder,
            overwrite=True,
        )
    assert _tree(tmp_path) == before


def test_our_own_folders_are_replaced(small, tmp_path):
    store = tmp_path / "s.zarr"
    ct.io.write_zarr(small, store)
    changed = small.copy()
    changed.obsm["histone"] = changed.obsm["histone"] * 2
    ct.io.write_zarr(changed, store)
    np.testing.assert_array_equal(
        ct.io.read_zarr(store, lazy=False).obsm["histone"], changed.obsm["histone"]
    )
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    ct.io.write_zarr(small, empty)  # an empty folder holds nothing to lose
    assert ct.io.verify(empty)["files"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.zarr", "s.zarr"]


# --- a kill at any step leaves a whole store ----------------------------------

_KILLER = """
import os, signal, sys
import numpy as np
import chromtools as ct
from chromtools.io.store import _atomic, _write

path, step, value, fallback = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1"
adata = ct.datasets.synthetic_histone(2, 40, n_bins=20, seed=3)
adata.obsm["histone"] = np.full_like(adata.obsm["histone"], value)

def die(name):
    if name == step:
        os.kill(os.getpid(), signal.SIGKILL)

_atomic.step_hook = die
if fallback:
    _atomic._exchange = lambda a, b: False
if step == "histone":
    real = _write._write_array
    def write(group, key, array, chunks):
        if key == "histone":
            real(group, key, np.asarray(array)[:1], (1, *chunks[1:]))
            os.kill(os.getpid(), signal.SIGKILL)
        real(group, key, array, chunks)
    _write._write_array = write
ct.io.write_zarr(adata, path)
"""


def _killed_write(path: Path, step: str, value: float, *, fallback: bool = False) -> int:
    script = path.parent / "killer.py"
    script.write_text(_KILLER)
    done = subprocess.run(
        [sys.executable, str(script), str(path), step, str(value), "1" if fallback else "0"],
        capture_output=True,
        timeout=120,
    )
    script.unlink()
    return done.returncode


def _histone_value(path: Path) -> float:
    values = np.unique(ct.io.read_zarr(path, lazy=False).obsm["histone"])
    assert values.size == 1, "a store mixes two writes"
    return float(values[0])


@pytest.mark.parametrize(
    ("step", "fallback", "expected"),
    [
        ("histone", False, 1.0),  # killed while writing: the old store stays
        ("written", False, 1.0),  # killed before the switch
        ("exchanged", False, 2.0),  # killed after the switch, before the old one is removed
        ("moved-aside", True, 1.0),  # two-rename fallback, killed between the renames
    ],
)
def test_a_killed_write_leaves_one_whole_store(tmp_path, step, fallback, expected):
    path = tmp_path / "s.zarr"
    adata = ct.datasets.synthetic_histone(2, 40, n_bins=20, seed=3)
    adata.obsm["histone"] = np.full_like(adata.obsm["histone"], 1.0)
    ct.io.write_zarr(adata, path)
    assert _killed_write(path, step, 2.0, fallback=fallback) == -9
    # The reader sees one complete store (a lone backup is put back first).
    assert _histone_value(path) == expected
    ct.io.verify(path)
    # The next write cleans every temporary the kill left.
    adata.obsm["histone"] = np.full_like(adata.obsm["histone"], 3.0)
    ct.io.write_zarr(adata, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]
    assert _histone_value(path) == 3.0


def test_a_temporary_is_never_read_as_a_store(tmp_path):
    path = tmp_path / "s.zarr"
    assert _killed_write(path, "written", 2.0) == -9
    assert not path.exists()
    (tmp,) = [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
    assert _atomic.is_temporary(tmp)
    with pytest.raises(ct.StoreError, match="unfinished temporary of a write"):
        ct.io.read_zarr(tmp)
    with pytest.raises(FileNotFoundError, match="no Zarr store at"):
        ct.io.read_zarr(path)


_WRITER = """
import sys, time
import numpy as np
import chromtools as ct

path, value, start = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
adata = ct.datasets.synthetic_histone(3, 400, n_bins=50, seed=3)
adata.obsm["histone"] = np.full_like(adata.obsm["histone"], value)
time.sleep(max(0.0, start - time.time()))
try:
    ct.io.write_zarr(adata, path, overwrite=sys.argv[4] == "1", chunk_genes=16)
    print("written")
except FileExistsError as error:
    print("refused:", error)
"""


def _writers(path: Path, values: list[float], overwrite: bool) -> list[str]:
    script = path.parent / "writer.py"
    script.write_text(_WRITER)
    start = time.time() + 4  # both are imported and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(path), str(v), str(start), str(int(overwrite))],
            stdout=subprocess.PIPE,
            text=True,
        )
        for v in values
    ]
    outputs = [p.communicate(timeout=180)[0].strip() for p in procs]
    script.unlink()
    return outputs


def test_two_writers_of_a_new_path_one_wins_the_other_is_refused(tmp_path):
    path = tmp_path / "s.zarr"
    outputs = _writers(path, [1.0, 2.0], overwrite=False)
    assert sorted(o.split(":")[0] for o in outputs) == ["refused", "written"]
    winner = [1.0, 2.0][outputs.index("written")]
    assert _histone_value(path) == winner
    assert "pass overwrite=True" in next(o for o in outputs if o.startswith("refused"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def test_a_reader_sees_the_old_or_the_new_store_never_a_mixture(tmp_path):
    path = tmp_path / "s.zarr"
    adata = ct.datasets.synthetic_histone(3, 400, n_bins=50, seed=3)
    adata.obsm["histone"] = np.full_like(adata.obsm["histone"], 1.0)
    ct.io.write_zarr(adata, path, chunk_genes=16)
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    writer = subprocess.Popen(
        [sys.executable, str(script), str(path), "2.0", str(time.time()), "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen = set()
    while writer.poll() is None:
        seen.add(_histone_value(path))
    writer.communicate(timeout=60)
    seen.add(_histone_value(path))
    assert seen <= {1.0, 2.0}
    assert 2.0 in seen


# --- a damaged store is an error, never data --------------------------------


@pytest.mark.parametrize(
    ("check", "message"),
    [
        (ct.io.read_zarr, "incomplete.*{} is missing"),
        (lambda path: ct.io.read_zarr(path, lazy=False), "{} is missing"),
        (ct.io.verify, "{} is missing"),
    ],
    ids=["read_zarr", "read_zarr_eager", "verify"],
)
def test_a_missing_chunk_is_named_on_read(small, tmp_path, check, message):
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(small, path, chunk_genes=16)
    chunk = next((path / "obsm" / "histone").glob("1.1.*"))
    chunk.unlink()
    relative = chunk.relative_to(path).as_posix()
    with pytest.raises(ct.StoreError, match=message.format(relative)):
        check(path)


def test_a_missing_group_is_named_on_read(small, tmp_path):
    import shutil

    path = tmp_path / "s.zarr"
    ct.io.write_zarr(small, path)
    shutil.rmtree(path / "obs")
    with pytest.raises(ct.StoreError, match=r"obs/_index/.* is missing"):
        ct.io.read_zarr(path)


def test_truncated_and_altered_files_are_found(small, tmp_path):
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(small, path)
    chunk = next((path / "X").glob("0.*"))
    data = chunk.read_bytes()
    chunk.write_bytes(data[:-3])
    with pytest.raises(ct.StoreError, match=rf"X/{chunk.name} has {len(data) - 3} bytes"):
        ct.io.read_zarr(path)
    chunk.write_bytes(bytes(b ^ 0xFF for b in data))  # same size, other bytes
    ct.io.read_zarr(path)  # the quick check on read looks at sizes only
    with pytest.raises(ct.StoreError, match=rf"X/{chunk.name} was altered"):
        ct.io.verify(path)


def test_verify_counts_what_was_written(small, tmp_path):
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(small, path)
    report = ct.io.verify(path)
    files = [p for p in path.rglob("*") if p.is_file() and p.name != _atomic.STORE_MANIFEST]
    assert report == {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}


@pytest.mark.parametrize("what", ["empty", "file", "foreign"])
def test_reading_something_that_is_not_a_store(tmp_path, what):
    path = tmp_path / "thing"
    if what == "file":
        path.write_text("x")
        match = "is a file, not a Zarr store"
    else:
        path.mkdir()
        match = "holds nothing" if what == "empty" else r"holds \[a\.txt\], which is not"
        if what == "foreign":
            (path / "a.txt").write_text("x")
    with pytest.raises(ct.StoreError, match=match):
        ct.io.read_zarr(path)


def test_a_store_without_manifest_cannot_be_verified(small, tmp_path):
    path = tmp_path / "plain.zarr"
    small.write_zarr(path)  # anndata's own writer
    assert ct.io.read_zarr(path, lazy=False).n_obs == small.n_obs
    with pytest.raises(ct.StoreError, match="no chromtools-manifest.json"):
        ct.io.verify(path)


# --- what is written is what is read ----------------------------------------


def test_uns_types_survive_a_round_trip(small, tmp_path):
    small.uns["run"] = {"cell_types": ["cell0", "cell1"], "window": (-500, 500), "n": 3}
    ct.io.write_zarr(small, tmp_path / "s.zarr")
    back = ct.io.read_zarr(tmp_path / "s.zarr")
    assert back.uns["run"]["cell_types"] == ["cell0", "cell1"]
    assert back.uns["run"]["window"] == (-500, 500)
    assert type(back.uns["chromtools"]["window"]) is type(small.uns["chromtools"]["window"])
    assert back.uns["chromtools"]["marks"] == small.uns["chromtools"]["marks"]


@pytest.mark.parametrize(
    ("slot", "key"), [("uns", "finetune/E003"), ("layers", "a/b"), ("uns", "")]
)
def test_keys_zarr_cannot_hold_are_refused_before_writing(small, tmp_path, slot, key):
    if slot == "uns":
        small.uns[key] = 1
    else:
        small.layers[key] = small.X
    with pytest.raises(ValueError, match=rf"{slot}\[{key!r}\] cannot be written"):
        ct.io.write_zarr(small, tmp_path / "s.zarr")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("chunk_genes", [1.5, 0, "10", True])
def test_chunk_genes_must_be_a_positive_integer(small, tmp_path, chunk_genes):
    with pytest.raises(ValueError, match="chunk_genes must be a positive integer"):
        ct.io.write_zarr(small, tmp_path / "s.zarr", chunk_genes=chunk_genes)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_destination_names_it_not_the_temporary(small, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/hidden/.s.zarr.tmp-0")

    monkeypatch.setattr(_write, "_write_manifest", denied)
    path = tmp_path / "s.zarr"
    with pytest.raises(PermissionError, match=rf"cannot write {path}: Permission denied"):
        ct.io.write_zarr(small, path)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_parent_folder_is_named(small, tmp_path):
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere does not exist"):
        ct.io.write_zarr(small, tmp_path / "nowhere" / "s.zarr")


# --- the live object ----------------------------------------------------------


def test_writing_a_lazy_object_over_its_own_store_normalises_once(small, tmp_path):
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(small, path)
    expected = ct.pp.normalize(small, copy=True).obsm["histone"]
    lazy = ct.io.read_zarr(path)
    ct.pp.normalize(lazy)
    ct.io.write_zarr(lazy, path)
    np.testing.assert_allclose(np.asarray(lazy.obsm["histone"]), expected, rtol=1e-6)
    again = ct.io.read_zarr(path)
    np.testing.assert_allclose(np.asarray(again.obsm["histone"]), expected, rtol=1e-6)
    assert again.uns["chromtools"]["pp"]["normalize"]["method"] == "depth_log1p"


# --- saved models ---------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    adata = ct.datasets.synthetic_histone(2, 40, n_bins=20, seed=3)
    ct.pp.split(adata, seed=0)
    ct.pp.normalize(adata)
    ct.tl.fit(adata, "deepchrome", cell_types=["cell0"], epochs=1)
    path = tmp_path_factory.mktemp("model") / "deepchrome"
    ct.tl.save_model(adata, "deepchrome", path)
    return adata, path


def _tamper(path: Path, how: str) -> None:
    from safetensors.numpy import load_file, save_file

    weights, config = path / "model.safetensors", path / "config.json"
    state = load_file(str(weights))
    name = sorted(state)[0]
    if how == "pickle":
        import pickle

        weights.write_bytes(pickle.dumps(state))
    elif how == "misshaped":
        state[name] = np.zeros((3, 3), dtype=np.float32)
        save_file(state, str(weights))
    elif how == "missing-tensor":
        del state[name]
        save_file(state, str(weights))
    elif how == "extra-tensor":
        state["surprise"] = np.zeros(2, dtype=np.float32)
        save_file(state, str(weights))
    elif how == "nan":
        save_file({k: np.full_like(v, np.nan) for k, v in state.items()}, str(weights))
    elif how == "truncated-config":
        config.write_text(config.read_text()[:200])
    elif how == "incomplete-config":
        saved = json.loads(config.read_text())
        del saved["config"]["model"]
        config.write_text(json.dumps(saved))
    elif how == "no-weights":
        weights.unlink()
    elif how == "overwritten-bytes":
        _overwrite_every_tensor(weights)
    if how not in ("overwritten-bytes", "truncated-config", "no-weights"):
        # a crafted folder: its checksum made to fit, so the checks behind it are reached
        saved = json.loads(config.read_text())
        saved["weights_sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
        config.write_text(json.dumps(saved))


def _overwrite_every_tensor(weights: Path) -> None:
    """64 bytes overwritten in the middle of every tensor's data in a safetensors file."""
    raw = bytearray(weights.read_bytes())
    header_size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_size])
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = (8 + header_size + offset for offset in entry["data_offsets"])
        at = max(start, (start + end) // 2 - 32)
        size = min(64, end - at)
        raw[at : at + size] = b"\x7f" * size
    weights.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("how", "error", "match"),
    [
        ("pickle", ct.StoreError, "not a readable safetensors file.*never loads pickles"),
        ("misshaped", ct.StoreError, "do not match the architecture.*size mismatch"),
        ("missing-tensor", ct.StoreError, "do not match the architecture.*Missing key"),
        ("extra-tensor", ct.StoreError, "do not match the architecture.*Unexpected key.*surprise"),
        ("nan", ValueError, "non-finite .*weights.*cannot predict"),
        ("truncated-config", ct.StoreError, r"config\.json is not valid JSON \(line \d+"),
        ("incomplete-config", ct.StoreError, "lacks 'config.model'"),
        ("no-weights", ct.StoreError, "model.safetensors is missing"),
        ("overwritten-bytes", ct.StoreError, r"model.safetensors is damaged: .*checksum"),
    ],
)
def test_a_tampered_model_folder_is_refused(saved_model, tmp_path, how, error, match):
    import shutil

    adata, saved = saved_model
    path = tmp_path / "model"
    shutil.copytree(saved, path)
    _tamper(path, how)
    before = set(adata.uns)
    with pytest.raises(error, match=match):
        ct.tl.load_model(adata, path, key_added="loaded")
    assert set(adata.uns) == before


def test_a_model_folder_is_replaced_and_reloads(saved_model):
    adata, path = saved_model
    ct.tl.save_model(adata, "deepchrome", path, overwrite=True)
    ct.tl.load_model(adata, path, key_added="again")
    ct.tl.predict(adata, "again")
    ct.tl.predict(adata, "deepchrome")
    np.testing.assert_allclose(adata.layers["again"], adata.layers["deepchrome"], atol=1e-6)
    assert sorted(p.name for p in path.parent.iterdir()) == ["deepchrome"]


def test_save_model_on_a_full_disk_keeps_the_previous_model(saved_model, small_disk, fill_up):
    import shutil

    adata, saved = saved_model
    path = small_disk / "deepchrome"
    shutil.copytree(saved, path)
    before = {p.name: p.read_bytes() for p in path.iterdir()}
    fill_up(small_disk, leave=1024)
    with pytest.raises(OSError, match=rf"cannot write {re.escape(str(path))}: No space left"):
        ct.tl.save_model(adata, "deepchrome", path, overwrite=True)
    assert {p.name: p.read_bytes() for p in path.iterdir()} == before
    assert sorted(p.name for p in small_disk.iterdir()) == ["deepchrome", "filler"]


def test_save_model_refuses_non_finite_weights(saved_model, tmp_path):
    adata, _ = saved_model
    record = adata.uns["deepchrome"]
    adata.uns["broken"] = {
        **record,
        "state_dict": {k: np.full_like(v, np.nan) for k, v in record["state_dict"].items()},
    }
    with pytest.raises(ValueError, match="non-finite"):
        ct.tl.save_model(adata, "broken", tmp_path / "m")
    del adata.uns["broken"]
    assert list(tmp_path.iterdir()) == []


def test_load_model_warns_when_the_signal_is_normalised_otherwise(tmp_path):
    from chromtools.tl import NormalizationWarning

    trained = ct.datasets.synthetic_histone(2, 40, n_bins=20, seed=3)
    ct.pp.split(trained, seed=0)
    raw = trained.copy()
    ct.pp.normalize(trained)
    ct.tl.fit(trained, "deepchrome", cell_types=["cell0"], epochs=1)
    ct.tl.save_model(trained, "deepchrome", tmp_path / "m")
    with pytest.warns(NormalizationWarning, match="depth_log1p"):
        ct.tl.load_model(raw, tmp_path / "m")


def test_a_lazy_object_notices_its_store_was_replaced(small, tmp_path):
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(small, path)
    lazy = ct.io.read_zarr(path)
    changed = small.copy()
    changed.obsm["histone"] = changed.obsm["histone"] + 1
    ct.io.write_zarr(changed, path)  # as another process would
    with pytest.raises(ct.StoreError, match="replaced by another write after this object"):
        np.asarray(lazy.obsm["histone"])
    np.testing.assert_array_equal(
        np.asarray(ct.io.read_zarr(path).obsm["histone"]), changed.obsm["histone"]
    )


_BIGWIG_KILLER = """
import os, signal, sys
import pandas as pd
import pyBigWig
import chromtools as ct
from chromtools.io.store import _atomic

folder, step, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
bigwig_path = os.path.join(folder, f"track{value:g}.bw")
bigwig = pyBigWig.open(bigwig_path, "w")
bigwig.addHeader([("chr1", 5000)])
bigwig.addEntries(["chr1"], [0], ends=[5000], values=[value])
bigwig.close()
genes = pd.DataFrame(
    {"chrom": ["chr1"] * 3, "tss": [1000, 2000, 3000], "strand": ["+", "-", "+"]},
    index=["g1", "g2", "g3"],
)

def die(name):
    if name == step:
        os.kill(os.getpid(), signal.SIGKILL)

_atomic.step_hook = die
ct.io.read_bigwigs(
    [("E003", "H3K4me3", bigwig_path)], genes, window=(-200, 200), bin_size=100,
    store=os.path.join(folder, "s.zarr"), overwrite=True,
)
"""


@pytest.mark.parametrize(("step", "expected"), [("written", 1.0), ("exchanged", 2.0)])
def test_a_killed_read_bigwigs_leaves_one_whole_store(tmp_path, step, expected):
    script = tmp_path / "killer.py"
    script.write_text(_BIGWIG_KILLER)

    def run(step: str, value: float) -> int:
        command = [sys.executable, str(script), str(tmp_path), step, str(value)]
        return subprocess.run(command, capture_output=True, timeout=120).returncode

    assert run("none", 1.0) == 0
    assert run(step, 2.0) == -9
    assert _histone_value(tmp_path / "s.zarr") == expected
    ct.io.verify(tmp_path / "s.zarr")
    assert run("none", 3.0) == 0
    assert _histone_value(tmp_path / "s.zarr") == 3.0
    stores = sorted(p.name for p in tmp_path.iterdir() if p.suffix not in (".bw", ".py"))
    assert stores == ["s.zarr"]


@pytest.mark.parametrize("key_added", ["label", "counts", "a/b"])
def test_load_model_refuses_a_key_that_would_overwrite_data(saved_model, key_added):
    adata, path = saved_model
    labels = adata.layers["label"].copy()
    with pytest.raises(ValueError, match=rf"key_added={key_added!r}"):
        ct.tl.load_model(adata, path, key_added=key_added)
    np.testing.assert_array_equal(adata.layers["label"], labels)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda a, p: ct.io.write_zarr("adata", p), TypeError, "adata must be an AnnData, got str"),
        (lambda a, p: ct.io.write_zarr(a, None), TypeError, "path must be a file system path"),
        (lambda a, p: ct.io.write_zarr(a, p, overwrite="no"), ValueError, "overwrite must be True"),
        (lambda a, p: ct.io.read_zarr(p, lazy="no"), ValueError, "lazy must be True or False"),
    ],
)
def test_bad_io_arguments_are_named(small, tmp_path, call, error, match):
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(small, path)
    before = _tree(tmp_path)
    with pytest.raises(error, match=match):
        call(small, path)
    assert _tree(tmp_path) == before


@pytest.mark.parametrize(
    ("value", "match"),
    [(object(), "No method registered.*key 'x'.* to /uns"), ([[1, 2], [3]], "ragged list")],
)
def test_uns_values_zarr_cannot_encode_are_named(small, tmp_path, value, match):
    small.uns["x"] = value
    with pytest.raises(ValueError, match=rf"adata cannot be written to .*s\.zarr.*{match}"):
        ct.io.write_zarr(small, tmp_path / "s.zarr")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", [[], "keras", 3])
def test_a_model_config_of_an_unknown_kind_is_refused(saved_model, tmp_path, kind):
    import shutil

    adata, saved = saved_model
    path = tmp_path / "model"
    shutil.copytree(saved, path)
    config = json.loads((path / "config.json").read_text())
    config["kind"] = kind
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ct.StoreError, match="unknown model kind"):
        ct.tl.load_model(adata, path, key_added="loaded")
