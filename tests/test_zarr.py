"""Chunked, atomic Zarr storage and lazy reading."""

from __future__ import annotations

import errno
import hashlib
import re
import shutil
import threading
import time
from pathlib import Path

import anndata as ad
import dask.array as da
import numpy as np
import pandas as pd
import pytest
import zarr

import chromtools as ct
from chromtools.io.store import _gate, _write


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_elements_are_chunked_per_cell_type_and_gene_block(synthetic, tmp_path):
    ct.io.write_zarr(synthetic, tmp_path / "s.zarr", chunk_genes=16)
    root = zarr.open_group(tmp_path / "s.zarr", mode="r")
    assert root["obsm"]["histone"].chunks == (1, 16, 5, 20)
    assert root["X"].chunks == (1, 16)
    assert root["layers"]["label"].chunks == (1, 16)


def test_read_is_lazy_and_to_memory_gives_the_same_object(synthetic, tmp_path):
    ct.io.write_zarr(synthetic, tmp_path / "s.zarr", chunk_genes=16)
    lazy = ct.io.read_zarr(tmp_path / "s.zarr")
    assert isinstance(lazy.obsm["histone"], da.Array)
    assert isinstance(lazy.layers["label"], da.Array)
    assert lazy.obsm["histone"].chunks[1][0] == 16
    memory = lazy.to_memory()
    np.testing.assert_array_equal(np.asarray(memory.obsm["histone"]), synthetic.obsm["histone"])
    np.testing.assert_array_equal(np.asarray(memory.X), synthetic.X)
    np.testing.assert_array_equal(np.asarray(memory.layers["counts"]), synthetic.layers["counts"])
    assert list(memory.var["chrom"]) == list(synthetic.var["chrom"])
    assert ct.get.marks(memory) == ct.get.marks(synthetic)
    eager = ct.io.read_zarr(tmp_path / "s.zarr", lazy=False)
    np.testing.assert_array_equal(eager.obsm["histone"], synthetic.obsm["histone"])


def test_lazy_object_is_rewritten_chunk_by_chunk(synthetic, tmp_path):
    ct.io.write_zarr(synthetic, tmp_path / "a.zarr", chunk_genes=16)
    lazy = ct.io.read_zarr(tmp_path / "a.zarr")
    ct.io.write_zarr(lazy, tmp_path / "b.zarr", chunk_genes=32)
    again = ct.io.read_zarr(tmp_path / "b.zarr")
    assert again.obsm["histone"].chunks[1][0] == 32
    np.testing.assert_array_equal(again.obsm["histone"].compute(), synthetic.obsm["histone"])


def test_interrupted_write_keeps_the_old_store(synthetic, tmp_path, monkeypatch):
    path = tmp_path / "s.zarr"
    ct.io.write_zarr(synthetic, path)
    before = _digest(path)

    real_write = _write._write_array

    def fail_on_histone(group, key, array, chunks):
        if key == "histone":
            real_write(group, key, np.asarray(array)[:1], (1, *chunks[1:]))
            raise KeyboardInterrupt  # the user pressed Ctrl-C half-way
        real_write(group, key, array, chunks)

    monkeypatch.setattr(_write, "_write_array", fail_on_histone)
    changed = synthetic.copy()
    changed.obsm["histone"] = changed.obsm["histone"] + 1
    with pytest.raises(KeyboardInterrupt):
        ct.io.write_zarr(changed, path)
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]
    np.testing.assert_array_equal(
        ct.io.read_zarr(path).obsm["histone"].compute(), synthetic.obsm["histone"]
    )


def test_write_refuses_to_overwrite_when_asked(synthetic, tmp_path):
    ct.io.write_zarr(synthetic, tmp_path / "s.zarr")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ct.io.write_zarr(synthetic, tmp_path / "s.zarr", overwrite=False)


def test_bad_arguments_are_named(synthetic, tmp_path):
    with pytest.raises(FileNotFoundError, match="no Zarr store at"):
        ct.io.read_zarr(tmp_path / "missing.zarr")
    with pytest.raises(ValueError, match="chunk_genes must be a positive integer"):
        ct.io.write_zarr(synthetic, tmp_path / "s.zarr", chunk_genes=0)
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.parametrize("lazy", [False, True])
def test_text_with_missing_values_comes_back_missing_not_the_string_nan(synthetic, tmp_path, lazy):
    adata = synthetic.copy()
    chrom = adata.var["chrom"].astype(object).to_numpy()
    chrom[::7] = np.nan  # genes whose chromosome is unknown
    adata.var["chrom"] = chrom
    adata.uns["table"] = pd.DataFrame({"tf": ["REST", np.nan, "CTCF"], "d": [0.5, 0.1, np.nan]})
    ct.io.write_zarr(adata, tmp_path / "s.zarr")
    back = ct.io.read_zarr(tmp_path / "s.zarr", lazy=lazy)
    assert back.var["chrom"].dtype == object
    assert back.var["chrom"].isna().sum() == adata.var["chrom"].isna().sum() > 0
    assert "nan" not in set(back.var["chrom"].dropna())
    pd.testing.assert_frame_equal(back.var, adata.var)
    pd.testing.assert_frame_equal(back.uns["table"], adata.uns["table"])
    assert adata.var["chrom"].dtype == object  # the object written is left as it was


# --- a write bigger than the disk leaves the previous store and no debris ----------


def _bigger_than_the_disk(lazy: bool) -> ad.AnnData:
    """8 MB of incompressible signal in 4 × 10 chunks, for a 4 MiB disk."""
    rng = np.random.default_rng(0)
    adata = ad.AnnData(X=rng.random((4, 2000), dtype=np.float32))
    signal = rng.random((4, 2000, 5, 50), dtype=np.float32)
    adata.obsm["histone"] = da.from_array(signal, chunks=(1, 200, 5, 50)) if lazy else signal
    return adata


@pytest.mark.parametrize("lazy", [True, False], ids=["dask-threads", "zarr-concurrent"])
def test_a_write_bigger_than_the_disk_leaves_the_old_store_and_no_debris(
    synthetic, small_disk, lazy
):
    """One chunk write fails with ENOSPC while other threads still write chunks into the
    temporary: its removal must come after the last of them, or they recreate it."""
    path = small_disk / "s.zarr"
    ct.io.write_zarr(synthetic, path, chunk_genes=16)
    before = _digest(path)
    big = _bigger_than_the_disk(lazy)
    for _ in range(5):
        with pytest.raises(OSError, match=rf"cannot write {re.escape(str(path))}: No space") as e:
            ct.io.write_zarr(big, path, overwrite=True, chunk_genes=200)
        assert e.value.errno == errno.ENOSPC
        assert sorted(p.name for p in small_disk.iterdir()) == ["s.zarr"]
        time.sleep(0.3)  # a late writer would have recreated the temporary by now
        assert sorted(p.name for p in small_disk.iterdir()) == ["s.zarr"]
        assert _digest(path) == before
    ct.io.verify(path)
    np.testing.assert_array_equal(
        ct.io.read_zarr(path, lazy=False).obsm["histone"], synthetic.obsm["histone"]
    )


def test_the_write_ends_after_its_last_writer_and_refuses_later_ones(tmp_path):
    """Leaving :func:`_gate.writing` waits for a write still in flight, and a chunk written
    later (a straggling thread) is refused without creating anything."""
    tmp = tmp_path / "t.zarr"
    ended = []

    def slow_writer(gate):
        with gate.passage():
            time.sleep(0.3)
            ended.append(time.monotonic())

    with _gate.writing(tmp) as store:
        array = zarr.open_group(store, mode="w").create_array(
            "a", shape=(4,), chunks=(1,), dtype="f4"
        )
        writer = threading.Thread(target=slow_writer, args=(store.gate,))
        writer.start()
        time.sleep(0.05)
    left = time.monotonic()
    writer.join()
    assert ended and ended[0] <= left
    shutil.rmtree(tmp)
    with pytest.raises(ct.StoreError, match="has ended"):
        array[:] = 1.0
    assert not tmp.exists()
