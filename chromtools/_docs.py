"""Parameter text that several public functions share, written once (scanpy's ``_doc_params``).

A docstring names a shared entry in braces, ``{training}``, and the function
is decorated with ``@doc_params(**SHARED)``. Each entry's continuation lines
carry the indentation of a parameter description (8 spaces), so the filled-in
docstring is plain numpydoc.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

Function = TypeVar("Function", bound=Callable)

SHARED = {
    "model_default": """\
By default DeepChrome for objects with histone signal (fast, and as
        accurate as the others on the REMC sample), ChromTransfer for objects
        with one-hot DNA only: the same default in every ``ct.tl`` function.""",
    "split_key": """\
``var`` column with ``train``/``valid``/``test`` per gene (``ct.pp.split``).""",
    "training": """\
How to train: a :class:`~chromtools.tl.TrainingConfig`, or a dict of its
        fields (``epochs``, ``batch_size``, ``lr``, ``weight_decay``,
        ``patience``, ``device``, ``precision``, ``seed``). Fields left None
        take the model's defaults (``training_defaults`` of its class) and
        ``ct.settings``' device and seed.""",
    "training_options": """\
Any field of :class:`~chromtools.tl.TrainingConfig` given by name
        (``epochs=5, seed=0``); it wins over the same field in ``training``.
        Other names are refused.""",
    "checkpoint_dir": """\
Folder (created if needed) where each network trained writes its
        checkpoint after every epoch, atomically: weights, optimizer, random
        states, batch order, history. Nothing is written by default. Checked
        before any work: a folder inside a Zarr store or saved model, one that
        cannot be created or written, and a file of a checkpoint's name that
        is not a chromtools checkpoint (never replaced) are refused.""",
    "resume": """\
Continue from the checkpoints in ``checkpoint_dir``: a training whose
        checkpoint says it finished is not run again, one killed mid-epoch
        picks up after its last epoch written, and the results are those of
        an uninterrupted run with the same seed (on the CPU). A checkpoint
        resumes only the run that wrote it: one written with other data
        (values, marks, bins, window, normalisation), another model or
        hyperparameter, another source model, target or strategy, other
        training options or another chromtools major version is refused,
        naming what differs, and a damaged one (its checksum fails) is a
        :class:`~chromtools.StoreError` naming the file.""",
    "source_options": """\
Model to look for or fit on ``source``. By default DeepChrome (ChromTransfer
        for objects with one-hot DNA only), as in :func:`~chromtools.tl.fit`.
    source_key
        Transfer the model in ``uns[source_key]`` instead (e.g. from
        :func:`~chromtools.tl.pretrain` or :func:`~chromtools.tl.load_model`).
    strategy
        ``"full"`` (every weight at ``lr``), ``"freeze_encoder"`` (the source
        head trains, the encoder is frozen), ``"discriminative_lr"`` (the
        encoder at a tenth of ``lr``) or ``"head_only"`` (a new head on the
        frozen encoder). BatchNorm statistics stay those of the source.""",
    "client": """\
A ``dask.distributed.Client``: run this step's dask work on its cluster.
        By default the active client (the latest one created, or that of a
        ``with Client(...)`` block), else threads in this process. The
        result is the same, bit for bit, wherever it runs.""",
    "pass_size": """\
Samples per forward (and backward) pass; all at once by default.""",
    "compute_device": """\
Where to compute: ``"cpu"``, ``"cuda"``, ``"auto"`` or a
        :class:`torch.device`; the model is moved there. By default the model
        and ``x`` stay where they are. The result is on ``x``'s device.""",
}


# What every ``ct.pl`` function takes; ``{show_save}`` for those that draw a whole figure.
_SHOW_SAVE = """show
        Show the figure (the default); ``False`` returns the axes (or the
        figure, for multi-panel plots) to draw on further.
    save
        File to save the figure to; its suffix names the format (``.png``,
        ``.pdf``, ``.svg``…). Its folder must exist and be writable (checked
        before drawing); the figure is written beside it and renamed over
        the file, so a failed save (a full disk) leaves an earlier figure of
        that name whole."""
PLOT = {
    "ax_show_save": "ax\n        Axes to draw on; a new figure by default.\n    " + _SHOW_SAVE,
    "show_save": _SHOW_SAVE,
}


def doc_plot(function: Function) -> Function:
    """Fill ``{ax_show_save}`` or ``{show_save}`` in a plot's docstring (other braces stay)."""
    doc = function.__doc__
    for name, text in PLOT.items():
        doc = doc.replace("{" + name + "}", text)
    function.__doc__ = doc
    return function


def doc_params(**entries: str) -> Callable[[Function], Function]:
    """Fill ``{name}`` in the decorated function's docstring with ``entries[name]``."""

    def decorate(function: Function) -> Function:
        function.__doc__ = function.__doc__.format_map(entries)
        return function

    return decorate
