"""Save and load trained models: safetensors weights plus a JSON config, never pickle."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
from anndata import AnnData
from safetensors import SafetensorError
from safetensors.numpy import load, save

from ..._errors import StoreError
from ..._results import check_writable
from ...io.store import MODEL_CONFIG as CONFIG
from ...io.store import MODEL_FORMAT, atomic_write, check_destination
from ...io.store import MODEL_WEIGHTS as WEIGHTS
from ..engine import ADAPTERS, adapter_of, check_finite_weights, check_model, record_of


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
        parameters, training history and the SHA-256 of the weights, which
        :func:`load_model` verifies).
    overwrite
        Replace an existing folder.

    Returns
    -------
    ``None``; writes the folder at ``path``.
    """
    check_destination(path, overwrite=overwrite, kind="model")
    record = record_of(adata, key)
    adapter = adapter_of(record)
    state = adapter.stored(record)
    check_finite_weights(state, f"the model under uns[{key!r}]")
    config = {
        "format": MODEL_FORMAT,
        "kind": adapter.kind,
        "config": _jsonable(record["config"]),
        "params": _jsonable(record.get("params", {})),
        "history": _jsonable(record.get("history", {})),
    }
    weights = save(state)
    # load_model verifies the weights against this: a changed byte is refused, not loaded
    config["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    with atomic_write(path, overwrite=overwrite, kind="model") as tmp:
        tmp.mkdir()
        (tmp / WEIGHTS).write_bytes(weights)
        (tmp / CONFIG).write_text(json.dumps(config, indent=1))


def _read_config(path: Path) -> dict:
    file = path / CONFIG
    try:
        saved = json.loads(file.read_text())
    except json.JSONDecodeError as error:
        raise StoreError(
            f"{file} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}); "
            "the saved model is truncated or damaged"
        ) from None
    except UnicodeDecodeError:
        raise StoreError(f"{file} is not a text file; the saved model is damaged") from None
    if not isinstance(saved, dict) or saved.get("format") != MODEL_FORMAT:
        raise StoreError(f"{file} is not a chromtools model config (format {MODEL_FORMAT!r})")
    required = {
        "config": dict,
        "params": dict,
        "history": dict,
        "config.model": dict,
        "config.data": dict,
        "config.model.name": str,
    }
    for name, kind in required.items():
        node = saved
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, kind):
            raise StoreError(
                f"{file} lacks {name!r} (a {kind.__name__}); the saved model is incomplete"
            )
    return saved


def _read_weights(path: Path, checksum: object) -> dict[str, np.ndarray]:
    """The weights in ``path``, verified against the SHA-256 its config holds (a model saved
    before chromtools wrote one is read unverified)."""
    file = path / WEIGHTS
    try:
        data = file.read_bytes()
    except OSError as error:
        raise StoreError(f"cannot read {file}: {error.strerror}") from None
    if checksum is not None and hashlib.sha256(data).hexdigest() != checksum:
        raise StoreError(
            f"{file} is damaged: its content does not match the checksum in {path / CONFIG} "
            "(truncated or overwritten)"
        )
    try:
        return load(data)
    except (SafetensorError, ValueError) as error:
        raise StoreError(
            f"{file} is not a readable safetensors file ({error}); the saved model is damaged "
            "(chromtools never loads pickles)"
        ) from None


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

    Raises
    ------
    FileNotFoundError
        Nothing is at ``path``.
    chromtools.StoreError
        The folder is not a saved model, or a file in it is truncated,
        damaged or does not match the architecture (missing, extra or
        mis-shaped tensors).
    ValueError
        The weights hold NaN or infinity, or the model does not fit ``adata``
        (marks, bins, window).

    Warns
    -----
    NormalizationWarning
        ``adata``'s signal is normalised otherwise than the model's training
        signal (as :func:`predict` and :func:`finetune` warn).
    """
    if key_added is not None:
        check_writable(adata, "model", key_added)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no saved chromtools model at {path}")
    if not path.is_dir():
        raise StoreError(f"{path} is a file, not a saved chromtools model (a folder)")
    for name in (CONFIG, WEIGHTS):
        if not (path / name).is_file():
            raise StoreError(f"{path} is not a saved chromtools model: {name} is missing")
    saved = _read_config(path)
    state = _read_weights(path, saved.get("weights_sha256"))
    key = key_added or saved["params"].get("model", "model")
    check_writable(adata, "model", key)
    kind = saved.get("kind", "torch")
    if not isinstance(kind, str) or kind not in ADAPTERS:
        raise StoreError(f"{path / CONFIG}: unknown model kind {kind!r}, expected {list(ADAPTERS)}")
    adapter = ADAPTERS[kind]
    record = {
        "params": {**saved["params"], "loaded_from": str(path)},
        "config": saved["config"],
        "history": pd.DataFrame(saved["history"]),
        **adapter.restored(state),
    }
    check_model(adata, record, f"the model in {path}")
    try:
        adapter.load(record)  # fails here, not at predict time, if weights and config disagree
    except StoreError:
        raise
    except (RuntimeError, TypeError, ValueError, KeyError) as error:
        raise StoreError(
            f"the weights in {path / WEIGHTS} do not match the architecture in {path / CONFIG}: "
            f"{str(error).splitlines()[0]} {_state_mismatch(error)}"
        ) from None
    adata.uns[key] = record


def _state_mismatch(error: Exception) -> str:
    """The informative lines of torch's load_state_dict message (missing, unexpected, size)."""
    lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip()]
    return " ".join(lines[:4])
