"""Training checkpoints: where they go, what run they belong to, and how they are written.

``checkpoint_dir=`` and ``resume=`` are checked once, before any work
(:func:`checkpoint_folder`, then :func:`check_checkpoint_files` for the files a
call will write); each training then writes its own file there
(:func:`checkpoint_file`), named by what it trains.

A checkpoint file is chromtools' own: a magic line, one line of JSON (what
wrote it, the run's identity, the SHA-256 of what follows) and the training
state as ``torch.save`` bytes, read back with ``weights_only=True``. So

- a file that is not a checkpoint (a user's own ``.pt``, an empty file) is
  recognised from its first bytes and never replaced or loaded;
- a damaged checkpoint (any byte changed) fails its checksum and is refused
  as a :class:`~chromtools.StoreError` naming the file;
- a checkpoint resumes only the run that wrote it: its identity
  (:func:`run_identity`) is everything that determines the run, and any
  difference is refused, naming what differs.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..._constants import VERSION
from ..._errors import StoreError
from ...io.store import atomic_file, enclosing_store, probe_writable
from ._data import Batches

MAGIC = b"chromtools-checkpoint/1\n"
KIND = "chromtools checkpoint"


def run_options(options: dict[str, object]) -> tuple[object, object, dict[str, object]]:
    """``checkpoint_dir`` (None when not given), ``resume`` (False) and the other keyword
    options (the training options) of a call that takes them all as ``**options``."""
    rest = dict(options)
    return rest.pop("checkpoint_dir", None), rest.pop("resume", False), rest


def checkpoint_folder(folder: object, resume: object) -> Path | None:
    """The checkpoint folder (not created yet), after checking both options; None without one.

    Refused before any work: an empty path, a path that is a file, a folder
    inside a Zarr store or saved model (the next write of that store would
    refuse the stranger), and a folder that cannot be created or written.
    """
    if not isinstance(resume, bool):
        raise ValueError(f"resume must be True or False, got {resume!r}")
    if folder is None:
        if resume:
            raise ValueError("resume=True needs checkpoint_dir=, the folder of the checkpoint")
        return None
    if not isinstance(folder, str | os.PathLike):
        raise ValueError(f"checkpoint_dir must be a folder path, got {folder!r}")
    if not str(folder):
        raise ValueError(
            "checkpoint_dir='' names no folder; give a folder such as 'checkpoints', or None "
            "for no checkpoints"
        )
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"checkpoint_dir={str(folder)!r} exists and is not a folder")
    inside = enclosing_store(folder)
    if inside is not None:
        raise ValueError(
            f"checkpoint_dir={str(folder)!r} is inside the {inside[1]} {str(inside[0])!r}, "
            "whose next write would refuse the stranger; keep checkpoints in a folder of "
            "their own"
        )
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f"checkpoint_dir={str(folder)!r} cannot be created: {str(existing)!r} is a file"
        )
    probe_writable(existing, folder, "checkpoint_dir")
    return folder


def _path(folder: Path, name: str) -> Path:
    """``folder/<name>.pt``; a path separator in ``name`` (a cell type such as
    ``"CD4/CD8"``) becomes ``_``, so every file stays in the folder."""
    return folder / (re.sub(r"[/\\]", "_", name) + ".pt")


def check_checkpoint_files(folder: Path | None, names: Iterable[str]) -> None:
    """Refuse, before training, checkpoint files that could not be written: a folder at
    the file's path, or a file there that is not a chromtools checkpoint (never replaced)."""
    if folder is None:
        return
    for name in names:
        path = _path(folder, name)
        if path.is_dir():
            raise IsADirectoryError(
                f"checkpoint_dir: {path} is a folder, where the checkpoint {path.name} goes; "
                "move it or choose another checkpoint_dir"
            )
        if os.path.lexists(path) and not is_checkpoint(path):
            raise ValueError(
                f"checkpoint_dir: {path} exists and is not a {KIND}; chromtools replaces only "
                "its own files. Remove it yourself or choose another checkpoint_dir."
            )


def checkpoint_file(folder: Path | None, name: str) -> Path | None:
    """``folder/<name>.pt``, the folder created and the file checked; None without a folder.
    (Each write checks the destination again: :func:`save_checkpoint`.)"""
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    check_checkpoint_files(folder, [name])
    return _path(folder, name)


def is_checkpoint(path: Path) -> bool:
    """Whether the file at ``path`` is a chromtools checkpoint (by its first bytes)."""
    try:
        with open(path, "rb") as file:
            return file.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _digest(arrays: Iterable[np.ndarray | torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        if isinstance(array, torch.Tensor):
            array = array.detach().cpu().numpy()
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def state_digest(state: Mapping[str, np.ndarray | torch.Tensor]) -> str:
    """SHA-256 of a state dict's names and values (a model's weights)."""
    names = sorted(state)
    return _digest([np.frombuffer("\0".join(names).encode(), np.uint8)] + [state[n] for n in names])


def _input_digest(batches: Iterable[Batches]) -> str:
    """SHA-256 of the input values the samples of ``batches`` read: per cell type, the
    inputs of every gene used (so a change of marks, normalisation or signal shows)."""
    batches = list(batches)
    inputs = batches[0].inputs
    cells = np.unique(np.concatenate([b.cells.ravel() for b in batches]))
    genes = np.unique(np.concatenate([b.genes for b in batches]))
    if not inputs.per_cell:
        parts = [inputs.array[genes]]
    else:
        parts = (inputs.array[int(cell)][genes] for cell in cells)
    return _digest(np.asarray(p.compute() if hasattr(p, "compute") else p) for p in parts)


def run_identity(
    model: nn.Module,
    batches: Iterable[Batches | None],
    *,
    description: str,
    training: Mapping[str, object],
    param_groups: list[dict],
    loss_function: object,
    extra: Mapping[str, object] | None = None,
) -> dict:
    """Everything that determines a training run, as JSON-ready values.

    The package's major version; what is trained (``description``); the
    model's name and every hyperparameter; its weights before training (for a
    transfer: the source model's, so fine-tuning another source differs);
    the samples (cell types, genes, targets) and the input values they read;
    the training options, which parameters train at which rate, and the
    loss; and what the caller adds (``extra``: marks, bins, window and
    normalisation of the data, the transfer's strategy and source).
    """
    used = [b for b in batches if b is not None and b.n_samples]
    names = {id(p): n for n, p in model.named_parameters()}
    return {
        "package": f"chromtools {VERSION.split('.')[0]}",
        "description": description,
        "model": dict(getattr(model, "config", {"class": type(model).__name__})),
        "initial_weights": state_digest(model.state_dict()),
        "samples": _digest(
            a for b in used for a in (b.cells, b.genes, b.target if b.target is not None else [])
        ),
        "inputs": _input_digest(used) if used else "",
        "training": dict(training),
        "parameter_groups": [
            {
                "lr": group.get("lr", training.get("lr")),
                "parameters": sorted(names.get(id(p), "?") for p in group["params"]),
            }
            for group in param_groups
        ],  # fmt: skip
        "loss": type(loss_function).__name__,
        **json.loads(json.dumps(dict(extra or {}), default=str)),
    }


# Parts of an identity that are SHA-256 digests of arrays.
_DIGESTS = ("initial_weights", "samples", "inputs", "source")
# How each part of an identity is named when it differs.
_PARTS = {
    "package": "the chromtools major version",
    "description": "what is trained",
    "model": "the model",
    "initial_weights": "the weights training starts from (the source model of a transfer, "
    "or the seed)",
    "samples": "the samples (cell types, genes or targets)",
    "inputs": "the input values (the signal, its marks or its normalisation)",
    "training": "the training options",
    "parameter_groups": "which weights train at which rate (the transfer strategy)",
    "loss": "the loss",
    "data": "the data",
    "source": "the source model (its weights)",
    "transfer": "the transfer",
}


def differences(saved: Mapping, now: Mapping) -> list[str]:
    """What differs between two identities, each part named, with values where short."""
    found = []
    for part in sorted(set(saved) | set(now), key=lambda p: (p not in _PARTS, p)):
        before, after = saved.get(part), now.get(part)
        if before == after:
            continue
        what = _PARTS.get(part, part)
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            changed = ", ".join(f"{k} {before.get(k)!r} then, {after.get(k)!r} now" for k in keys)
            found.append(f"{what} ({changed})")
        elif part in _DIGESTS:
            found.append(what)  # a digest: its value says nothing
        else:
            found.append(f"{what} ({before!r} then, {after!r} now)")
    return found


def save_checkpoint(path: Path, identity: dict, state: dict) -> None:
    """Write ``state`` (tensors and plain values) with ``identity`` to ``path``, atomically:
    a full disk or a kill leaves the previous checkpoint, and no debris."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    header = {"identity": identity, "sha256": hashlib.sha256(payload).hexdigest()}
    with atomic_file(path, "checkpoint_dir", ours=is_checkpoint, kind=KIND) as tmp:
        with open(tmp, "wb") as file:
            file.write(MAGIC)
            file.write(json.dumps(header).encode() + b"\n")
            file.write(payload)


def read_checkpoint(path: Path) -> tuple[dict, dict]:
    """The identity and state in the checkpoint at ``path``, its checksum verified.

    Raises :class:`~chromtools.StoreError` naming ``path`` for a file that is
    not a checkpoint (an empty one included) or is damaged.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise StoreError(f"cannot read the checkpoint {path}: {error.strerror}") from None
    if not data.startswith(MAGIC):
        what = "an empty file" if not data else "not a chromtools checkpoint"
        raise StoreError(f"{path} is {what}; delete it or pass resume=False")
    end = data.find(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC) : end])
        identity, checksum = header["identity"], header["sha256"]
    except (ValueError, KeyError, TypeError):
        raise StoreError(f"the checkpoint {path} is damaged: its header is unreadable") from None
    payload = data[end + 1 :]
    if end < 0 or hashlib.sha256(payload).hexdigest() != checksum:
        raise StoreError(
            f"the checkpoint {path} is damaged: its content does not match the checksum written "
            "with it (truncated or overwritten); delete it or pass resume=False"
        )
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as error:
        raise StoreError(f"the checkpoint {path} cannot be read: {error}") from None
    return identity, state


def load_checkpoint(path: Path, identity: dict) -> dict:
    """The state in ``path``, refusing a damaged checkpoint (:class:`StoreError`) or one
    another run wrote (``ValueError`` naming every part that differs)."""
    saved, state = read_checkpoint(path)
    different = differences(saved, identity)
    if different:
        raise ValueError(
            f"{identity['description']}: cannot resume from {path}: it was written by another "
            f"run; what differs: {'; '.join(different)}. Delete it or pass resume=False"
        )
    return state
