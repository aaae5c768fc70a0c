"""The cores of chromtools: plain functions of (model, tensor), for any ``nn.Module``.

Every ``ct.tl`` function is a thin AnnData wrapper around one of these (the
style of tangermeme): it finds the fitted model and the inputs in the
AnnData, calls the core, and stores the result. Here the cores are public on
their own, so that any PyTorch model, chromtools' or not, and any tensor can
use them:

- the first argument is the model (any :class:`torch.nn.Module` with one
  output per sample: :func:`scalar_output` says which) or, for the functions
  of sequences and scores alone, the data;
- inputs are batches: (batch, marks, bins) histone signal or (batch, length,
  4) one-hot DNA (A, C, G, T);
- ``batch_size`` sets the samples per pass and ``device`` where to compute
  (the model is moved there); results come back on the input's device;
- no AnnData, no I/O, nothing stored.

Attribution
    :func:`gradients`, :func:`grad_x_input`, :func:`integrated_gradients`,
    :func:`deeplift_shap` (with :func:`shuffled_references`), :func:`ism`,
    :func:`naive_ism`, :func:`ism_scores`.
Attention
    :func:`attention_rollout`.
Perturbation and motifs
    :func:`dinucleotide_shuffle`, :func:`ks_enrichment` (the signed
    Kolmogorov–Smirnov test of ``ct.tl.motif_enrichment``).
Training and prediction
    :func:`train` (the one training loop, optimising as
    :class:`TrainOptions` say) and :func:`predict_batches` (the one
    prediction loop) read their samples from :class:`Batches`, the one
    loader. :meth:`Batches.from_arrays` makes one from plain arrays;
    :class:`Inputs` is what it reads, and its ``histone`` and ``onehot``
    constructors are the one bridge from an AnnData (the same loader
    ``ct.tl.fit`` uses, streaming Zarr chunks when they do not fit in memory).
    :func:`resolve_device` turns a device name into a checked
    :class:`torch.device`; :func:`score` and :func:`bootstrap_interval` are
    the metrics every ``ct.tl`` function reports.
"""

from __future__ import annotations

from .models.transferchrome import attention_rollout
from .tl.engine import (
    Batches,
    Inputs,
    TrainOptions,
    bootstrap_interval,
    predict_batches,
    resolve_device,
    score,
    train,
)
from .tl.interpret import (
    deeplift_shap,
    dinucleotide_shuffle,
    grad_x_input,
    gradients,
    integrated_gradients,
    ism,
    ism_scores,
    naive_ism,
    scalar_output,
    shuffled_references,
)
from .tl.motifs import ks_enrichment

__all__ = [
    "Batches",
    "Inputs",
    "TrainOptions",
    "attention_rollout",
    "bootstrap_interval",
    "deeplift_shap",
    "dinucleotide_shuffle",
    "grad_x_input",
    "gradients",
    "integrated_gradients",
    "ism",
    "ism_scores",
    "ks_enrichment",
    "naive_ism",
    "predict_batches",
    "resolve_device",
    "scalar_output",
    "score",
    "shuffled_references",
    "train",
]
