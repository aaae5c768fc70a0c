"""Where ``fit``, ``pretrain`` and ``finetune`` keep their per-epoch checkpoints.

``checkpoint_dir=`` and ``resume=`` are checked once, before any work
(:func:`checkpoint_folder`); each training then writes its own file there
(:func:`checkpoint_file`), named by what it trains, and the training loop
(:func:`~chromtools.tl._train.train`) refuses a file another training wrote.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def checkpoint_folder(folder: object, resume: object) -> Path | None:
    """The checkpoint folder (not created yet), after checking both options; None without one."""
    if not isinstance(resume, bool):
        raise ValueError(f"resume must be True or False, got {resume!r}")
    if folder is None:
        if resume:
            raise ValueError("resume=True needs checkpoint_dir=, the folder of the checkpoint")
        return None
    if not isinstance(folder, str | os.PathLike):
        raise ValueError(f"checkpoint_dir must be a folder path, got {folder!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"checkpoint_dir={str(folder)!r} exists and is not a folder")
    return folder


def checkpoint_file(folder: Path | None, name: str) -> Path | None:
    """``folder/<name>.pt``, the folder created; None without a folder.

    A path separator in ``name`` (a cell type such as ``"CD4/CD8"``) becomes
    ``_``, so every file stays in the folder.
    """
    if folder is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return folder / (re.sub(r"[/\\]", "_", name) + ".pt")
