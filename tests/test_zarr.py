"""Chunked, atomic Zarr storage and lazy reading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import zarr

import chromtools as ct
from chromtools.io import _zarr


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

    real_write = _zarr._write_array

    def fail_on_histone(group, key, array, chunks):
        if key == "histone":
            real_write(group, key, np.asarray(array)[:1], (1, *chunks[1:]))
            raise KeyboardInterrupt  # the user pressed Ctrl-C half-way
        real_write(group, key, array, chunks)

    monkeypatch.setattr(_zarr, "_write_array", fail_on_histone)
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
