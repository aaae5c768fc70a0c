"""Save and load trained models: safetensors weights plus a JSON config, never pickle."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from safetensors.numpy import load_file, save_file

from ..io._zarr import atomic_path
from ._fit import check_compatible, rebuild, record_of

WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def _jsonable(value):
    """Plain JSON types from numpy scalars/arrays and pandas tables in uns."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="list")
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_model(
    adata: AnnData, key: str, path: str | os.PathLike, *, overwrite: bool = False
) -> None:
    """Write the model under ``uns[key]`` to a folder, atomically.

    Parameters
    ----------
    adata
        Object holding the fitted model in ``uns[key]``.
    key
        The model's key.
    path
        Folder to create; it gets ``model.safetensors`` (weights) and
        ``config.json`` (architecture, the data it was trained on — marks,
        bins, window, cell types, training genes, normalisation — its
        parameters and training history).
    overwrite
        Replace an existing folder.

    Returns
    -------
    ``None``; writes the folder at ``path``.
    """
    record = record_of(adata, key)
    if "state_dict" not in record:
        raise ValueError(f"uns[{key!r}] is a scikit-learn baseline; only PyTorch models are saved")
    state = {name: np.ascontiguousarray(value) for name, value in record["state_dict"].items()}
    config = {
        "format": "chromtools-model/1",
        "config": _jsonable(record["config"]),
        "params": _jsonable(record.get("params", {})),
        "history": _jsonable(record.get("history", {})),
    }
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.mkdir(parents=True)
        save_file(state, str(tmp / WEIGHTS))
        (tmp / CONFIG).write_text(json.dumps(config, indent=1))


def load_model(adata: AnnData, path: str | os.PathLike, *, key_added: str | None = None) -> None:
    """Load a model saved by :func:`save_model` into ``uns``, checking it fits the data.

    Parameters
    ----------
    adata
        Object the model will predict; its marks and bins must match the
        model's (marks are matched by name, so their order may differ).
    path
        Folder written by :func:`save_model`.
    key_added
        ``uns`` key for the model; the saved model's name by default.

    Returns
    -------
    ``None``. Writes ``adata.uns[key_added]`` with ``config``, ``params``
    (plus ``loaded_from``), ``history`` and ``state_dict``; predict with
    ``ct.tl.predict(adata, key_added)``.
    """
    path = Path(path)
    for name in (WEIGHTS, CONFIG):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path} is not a saved chromtools model: {name} is missing")
    saved = json.loads((path / CONFIG).read_text())
    if saved.get("format") != "chromtools-model/1":
        raise ValueError(f"{path / CONFIG} is not a chromtools model config")
    key = key_added or saved["params"].get("model", "model")
    check_compatible(adata, saved["config"]["data"], f"the model in {path}")
    record = {
        "params": {**saved["params"], "loaded_from": str(path)},
        "config": saved["config"],
        "history": pd.DataFrame(saved["history"]),
        "state_dict": load_file(str(path / WEIGHTS)),
    }
    rebuild(record)  # fails here, not at predict time, if weights and config disagree
    adata.uns[key] = record
