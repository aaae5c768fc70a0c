"""Property: a damaged model folder or Zarr store is refused with a documented
error, is never read as data, and nothing on disk changes.

Model folders get random edits of their two files (truncation, random bytes,
random JSON, tensors renamed, reshaped, dropped or added); stores get files
truncated, deleted or grown. The number of examples per property is
``CHROMTOOLS_HYPOTHESIS_EXAMPLES`` (60 here by default); run with ``-s`` to see
how many were tried.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import load_file, save_file

import chromtools as ct
from chromtools.io.store._atomic import STORE_MANIFEST

N_EXAMPLES = int(os.environ.get("CHROMTOOLS_HYPOTHESIS_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=N_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ALLOWED = (ValueError, KeyError, FileNotFoundError, PermissionError)
TRIED: collections.Counter[str] = collections.Counter()


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    adata = ct.datasets.synthetic_histone(2, 40, n_bins=20, seed=3)
    ct.pp.split(adata, seed=0)
    ct.tl.fit(adata, "deepchrome", cell_types=["cell0"], epochs=1)
    folder = tmp_path_factory.mktemp("saved") / "model"
    ct.tl.save_model(adata, "deepchrome", folder)
    store = tmp_path_factory.mktemp("store") / "s.zarr"
    ct.io.write_zarr(adata, store, chunk_genes=16)
    yield adata, folder, store
    print(f"\ndamaged inputs tried: {dict(TRIED)}")  # shown with -s


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)


@st.composite
def model_damage(draw, config: dict, state: dict[str, np.ndarray]):
    """One random way of breaking a saved model: (file name, new bytes) or a new state."""
    kind = draw(
        st.sampled_from(["truncate", "bytes", "json", "edit-config", "rename", "reshape", "drop"])
    )
    if kind in ("truncate", "bytes", "json", "edit-config"):
        name = draw(st.sampled_from(["config.json", "model.safetensors"]))
        if kind == "truncate":
            return name, ("truncate", draw(st.floats(0, 0.99)))
        if kind == "bytes":
            return name, ("bytes", draw(st.binary(max_size=200)))
        if kind == "json":
            return name, ("bytes", json.dumps(draw(JSON_VALUES)).encode())
        edited = json.loads(json.dumps(config))
        section = draw(st.sampled_from(["config", "params", "history"]))
        target = edited["config"]["model"] if section == "config" else edited
        keys = sorted(target) or ["format"]
        target[draw(st.sampled_from(keys))] = draw(JSON_VALUES)
        return "config.json", ("bytes", json.dumps(edited).encode())
    names = sorted(state)
    name = draw(st.sampled_from(names))
    edited = dict(state)
    if kind == "rename":
        edited[name + draw(st.sampled_from(["_", ".x", "0"]))] = edited.pop(name)
    elif kind == "reshape":
        edited[name] = np.zeros(draw(st.integers(1, 7)), dtype=np.float32)
    else:
        del edited[name]
    return "model.safetensors", ("state", edited)


@SETTINGS
@given(data=st.data())
def test_a_damaged_model_folder_is_refused(fitted, tmp_path, data):
    adata, saved, _ = fitted
    config = json.loads((saved / "config.json").read_text())
    state = load_file(str(saved / "model.safetensors"))
    name, (how, value) = data.draw(model_damage(config, state))
    folder = tmp_path / f"m{uuid.uuid4().hex}"
    shutil.copytree(saved, folder)
    try:
        _damage_and_load(adata, folder, name, how, value)
    finally:
        shutil.rmtree(folder)


def _damage_and_load(adata, folder: Path, name: str, how: str, value) -> None:
    tmp_path = folder.parent
    file = folder / name
    if how == "truncate":
        content = file.read_bytes()
        file.write_bytes(content[: int(len(content) * value)])
    elif how == "bytes":
        file.write_bytes(value)
    else:
        save_file(value, str(file))
    before_disk, before_uns = _digest(tmp_path), set(adata.uns)
    TRIED["model folder"] += 1
    try:
        ct.tl.load_model(adata, folder, key_added="loaded")
    except ALLOWED:
        assert set(adata.uns) == before_uns
    else:  # an edit that changed nothing the model needs: it must still predict
        ct.tl.predict(adata, "loaded", cell_types=["cell0"])
        assert np.isfinite(adata.layers["loaded"][0]).all()
        del adata.uns["loaded"], adata.layers["loaded"]
    assert _digest(tmp_path) == before_disk


@SETTINGS
@given(data=st.data())
def test_a_damaged_store_is_refused_on_read(fitted, tmp_path, data):
    _, _, store = fitted
    copy = tmp_path / f"s{uuid.uuid4().hex}.zarr"
    shutil.copytree(store, copy)
    try:
        _damage_and_read(copy, data)
    finally:
        shutil.rmtree(copy)


def _damage_and_read(copy: Path, data) -> None:
    tmp_path = copy.parent
    files = sorted(
        p.relative_to(copy).as_posix()
        for p in copy.rglob("*")
        if p.is_file() and p.name != STORE_MANIFEST
    )
    damaged = data.draw(st.lists(st.sampled_from(files), min_size=1, max_size=3, unique=True))
    for relative in damaged:
        file = copy / relative
        how = data.draw(st.sampled_from(["delete", "truncate", "grow"]))
        content = file.read_bytes()
        if how == "delete":
            file.unlink()
        elif how == "truncate":
            file.write_bytes(content[: data.draw(st.integers(0, max(0, len(content) - 1)))])
        else:
            file.write_bytes(content + data.draw(st.binary(min_size=1, max_size=20)))
    before = _digest(tmp_path)
    TRIED["store"] += 1
    lazy = data.draw(st.booleans())
    with pytest.raises(ct.StoreError, match="incomplete or damaged") as error:
        ct.io.read_zarr(copy, lazy=lazy)
    assert damaged[0] in str(error.value) or "more" in str(error.value)
    assert _digest(tmp_path) == before
