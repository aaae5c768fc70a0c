"""Every ct.tl function gives the same result on the three kinds of object it reads.

An in-memory AnnData, a lazy one from ``ct.io.read_zarr`` (dask arrays) and
one from ``anndata.experimental.read_lazy`` (xarray/dask, ``uns`` read
lazily too) of the same chromtools store: each function runs with a fixed
seed on all three, and whatever it writes (``uns``, ``layers``, ``obsm``,
``varm``, ``var``/``obs`` columns) and returns must agree.
"""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np
import pandas as pd
import pytest
from anndata.experimental import read_lazy

import chromtools as ct
from chromtools.get._lazy import values_at

TINY_SEQUENCE = {"filters": 8, "hidden": [8]}
SLOTS = ("uns", "layers", "obsm", "varm", "var", "obs")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """A histone store (3 cell types × 120 genes in 3 gene chunks, two fitted models) and
    a sequence store (60 regions of 100 bp, a ChromTransfer model, its attributions,
    motif sites), with the in-memory objects they were written from."""
    folder = tmp_path_factory.mktemp("lazy")
    histone = ct.datasets.synthetic_histone(3, 120, n_bins=20, seed=0)
    ct.pp.normalize(histone)
    ct.pp.split(histone, seed=0)
    for model, key in (("deepchrome", "dc"), ("attentivechrome", "ac")):
        ct.tl.fit(histone, model, cell_types=["cell0", "cell1"], key_added=key, epochs=1, seed=0)
    ct.io.write_zarr(histone, folder / "histone.zarr", chunk_genes=50)
    sequence = ct.datasets.synthetic_sequences(60, 100, seed=0)
    ct.pp.split(sequence, seed=0)
    ct.tl.fit(sequence, "chromtransfer", cell_types="A", key_added="cA", epochs=1, seed=0,
              hyperparameters=TINY_SEQUENCE)  # fmt: skip
    ct.tl.attribute(sequence, "cA", seed=0)
    ct.tl.scan_motifs(sequence, motifs=["CTCF", "GATA1"], pvalue=1e-3)
    ct.io.write_zarr(sequence, folder / "sequence.zarr", chunk_genes=25)
    return {
        "histone": (histone, folder / "histone.zarr"),
        "sequence": (sequence, folder / "sequence.zarr"),
        "folder": folder,
    }


def _save_and_load(adata, folder):
    path = folder / "model"  # the same path on every kind: the record names it
    ct.tl.save_model(adata, "dc", path, overwrite=True)
    ct.tl.load_model(adata, path, key_added="dc_loaded")


# name: (store, call, entries it overwrites besides the new ones)
CASES = {
    "fit": ("histone", lambda a, _: ct.tl.fit(
        a, "deepchrome", cell_types=["cell0"], key_added="f", epochs=2, seed=0), []),
    "predict": ("histone", lambda a, _: ct.tl.predict(a, "dc"), [("layers", "dc")]),
    "predict_other_cell_type": ("histone", lambda a, _: ct.tl.predict(
        a, "ac", cell_types=["cell2"]), [("layers", "ac")]),
    "evaluate": ("histone", lambda a, _: ct.tl.evaluate(a, "dc"), []),
    "pretrain": ("histone", lambda a, _: ct.tl.pretrain(
        a, "deepchrome", ["cell0", "cell1"], epochs=1, seed=0), []),
    "finetune": ("histone", lambda a, _: ct.tl.finetune(
        a, source_key="dc", target="cell2", epochs=1, seed=0), []),
    "subsample_curve": ("histone", lambda a, _: ct.tl.subsample_curve(
        a, None, "cell2", source_key="dc", fractions=(0.5,), n_boot=1, epochs=1, seed=0), []),
    "transfer_matrix": ("histone", lambda a, _: ct.tl.transfer_matrix(
        a, ["cell0"], ["cell2"], model="deepchrome", epochs=1, seed=0), []),
    "differential": ("histone", lambda a, _: ct.tl.differential(
        a, "cell0", "cell1", epochs=1, seed=0, baselines=False,
        hyperparameters={"bin_hidden": 8, "mark_hidden": 8}), []),
    "attention": ("histone", lambda a, _: ct.tl.attention(a, "ac"), []),
    "attention_agreement": ("histone", lambda a, _: (
        ct.tl.attention(a, "ac"),
        ct.tl.attention_agreement(a, "ac", mark="H3K4me3", signal_mark="H3K4me3"),
    ), []),
    "attribute": ("histone", lambda a, _: ct.tl.attribute(a, "dc", seed=0), []),
    "in_silico_deletion": ("histone", lambda a, _: ct.tl.in_silico_deletion(a, "dc"), []),
    "in_silico_deletion_bins": ("histone", lambda a, _: ct.tl.in_silico_deletion(
        a, "dc", bins=(-500, 500), cell_types=["cell1"], replace="mean"), []),
    "in_silico_deletion_marks_genes": ("histone", lambda a, _: ct.tl.in_silico_deletion(
        a, "ac", marks=["H3K27me3"], genes=list(a.var_names[60:75])), []),
    "save_model_load_model": ("histone", _save_and_load, []),
    "fit_sequence": ("sequence", lambda a, _: ct.tl.fit(
        a, "chromtransfer", cell_types="B", key_added="cB", epochs=1, seed=0,
        hyperparameters=TINY_SEQUENCE), []),
    "predict_sequence": ("sequence", lambda a, _: ct.tl.predict(a, "cA"), [("layers", "cA")]),
    "evaluate_sequence": ("sequence", lambda a, _: ct.tl.evaluate(a, "cA"), []),
    "attribute_sequence": ("sequence", lambda a, _: ct.tl.attribute(a, "cA", seed=0),
                           [("varm", "cA_attr_A"), ("uns", "cA_attr")]),
    "scan_motifs": ("sequence", lambda a, _: ct.tl.scan_motifs(
        a, motifs=["CTCF"], pvalue=1e-3), [("uns", "motif_sites")]),
    "motif_enrichment": ("sequence", lambda a, _: ct.tl.motif_enrichment(
        a, "cA", min_sites=1, positive_only=False), []),
    "in_silico_deletion_motifs": ("sequence", lambda a, _: ct.tl.in_silico_deletion(
        a, "cA", motifs=["CTCF"], seed=0), []),
}  # fmt: skip


def _open(kind: str, memory, path):
    if kind == "memory":
        return memory.copy()
    if kind == "read_zarr":
        return ct.io.read_zarr(path)
    return read_lazy(path)


def _keys(adata) -> dict[str, set]:
    return {slot: set(getattr(adata, slot).keys()) for slot in SLOTS}


def _run(stores, name: str, kind: str) -> tuple[object, dict]:
    """What ``name`` returns and writes on an object of ``kind``, read into memory."""
    store, call, overwritten = CASES[name]
    memory, path = stores[store]
    adata = _open(kind, memory, path)
    before = _keys(adata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the same warnings on every kind; not compared
        returned = call(adata, stores["folder"])
    written = {
        (slot, key)
        for slot, keys in _keys(adata).items()
        for key in keys - before[slot]
    } | set(overwritten)  # fmt: skip
    return returned, {entry: _loaded(getattr(adata, entry[0])[entry[1]]) for entry in written}


def _loaded(value):
    if isinstance(value, dict):
        return {key: _loaded(v) for key, v in value.items()}
    if isinstance(value, da.Array):
        return value.compute()
    return value


_REFERENCE: dict[str, tuple[object, dict]] = {}


def _assert_same(expected, actual, where: str) -> None:
    assert type(actual) is type(expected) or (
        isinstance(actual, np.ndarray) and isinstance(expected, np.ndarray)
    ), f"{where}: {type(actual).__name__} instead of {type(expected).__name__}"
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected), where
        for key in expected:
            if key != "device":
                _assert_same(expected[key], actual[key], f"{where}/{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), where
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _assert_same(e, a, f"{where}[{i}]")
    elif isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(actual, expected, rtol=1e-5, atol=1e-6, obj=where)
    elif isinstance(expected, pd.Series):
        pd.testing.assert_series_equal(actual, expected, rtol=1e-5, atol=1e-6, obj=where)
    elif isinstance(expected, np.ndarray) and np.issubdtype(expected.dtype, np.floating):
        # float32 tolerance: a lazy object is summed block by block (the signal check, the
        # mean profiles of replace="mean"), and float32 addition is not associative
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6, err_msg=where)
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(actual, expected, err_msg=where)
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, rel=1e-5, abs=1e-6, nan_ok=True), where
    else:
        assert actual == expected, where


@pytest.mark.parametrize("kind", ["read_zarr", "read_lazy"])
@pytest.mark.parametrize("name", list(CASES))
def test_a_lazy_object_gives_the_in_memory_result(stores, name, kind):
    if name not in _REFERENCE:
        _REFERENCE[name] = _run(stores, name, "memory")
    expected_return, expected = _REFERENCE[name]
    actual_return, actual = _run(stores, name, kind)
    assert expected or expected_return is not None, f"{name} gave nothing to compare"
    assert sorted(actual) == sorted(expected)
    for entry in expected:
        _assert_same(expected[entry], actual[entry], f"{name} {entry}")
    _assert_same(expected_return, actual_return, f"{name} returned")


def test_read_lazy_metadata_is_read_once_as_read_zarr_reads_it(stores):
    _, path = stores["histone"]
    lazy, eager = read_lazy(path), ct.io.read_zarr(path)
    assert ct.get.marks(lazy) == ct.get.marks(eager)
    assert ct.get.metadata(lazy)["window"] == ct.get.metadata(eager)["window"]  # a list again
    assert isinstance(lazy.var, pd.DataFrame) and isinstance(lazy.obs, pd.DataFrame)
    assert isinstance(ct.get.histone(lazy), da.Array)  # the arrays stay lazy


def test_values_at_reads_pairs_of_a_lazy_array_by_rows_and_columns():
    values = np.arange(60, dtype=np.float32).reshape(4, 15)
    rows, columns = np.array([3, 0, 3, 1]), np.array([14, 2, 5, 5])
    lazy = da.from_array(values, chunks=(1, 4))
    np.testing.assert_array_equal(values_at(lazy, rows, columns), values[rows, columns])
    np.testing.assert_array_equal(values_at(values, rows, columns), values[rows, columns])
    assert values_at(lazy, rows[:0], columns[:0]).shape == (0,)
