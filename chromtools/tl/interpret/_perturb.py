"""Perturbation cores: plain functions of tensors that ``ct.tl.in_silico_deletion`` applies.

:func:`delete_marks` replaces some marks' signal over some bins;
:func:`delete_sites` overwrites TF binding sites of one-hot DNA with the
region's dinucleotide shuffle (:func:`~chromtools.functional.dinucleotide_shuffle`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ._shuffle import dinucleotide_shuffle


def delete_marks(
    x: torch.Tensor,
    marks: Sequence[int],
    bins: slice = slice(None),
    replacement: torch.Tensor | None = None,
) -> torch.Tensor:
    """A copy of ``x`` with some marks' signal replaced over some bins.

    Parameters
    ----------
    x
        (batch, marks, bins) signal.
    marks
        Positions of the marks to delete.
    bins
        The bins to delete (all by default).
    replacement
        (batch, marks, bins) values to put there (e.g. the mean profile); zero by default.

    Returns
    -------
    The perturbed (batch, marks, bins) tensor.
    """
    perturbed = x.clone()
    index = list(marks)
    if replacement is None:
        perturbed[:, index, bins] = 0.0
    else:
        perturbed[:, index, bins] = replacement[:, index, bins]
    return perturbed


def delete_sites(
    onehot: np.ndarray, sites: Sequence[tuple[int, int]], rng: np.random.Generator
) -> np.ndarray:
    """One-hot DNA with the bases of some sites replaced by dinucleotide-shuffled sequence.

    The whole region is dinucleotide-shuffled once and its shuffled bases are
    written over the sites: a site shuffled within itself (6–20 bp) has few
    distinct shuffles and often keeps the motif, while the region's shuffle
    gives background of the region's own composition.

    Parameters
    ----------
    onehot
        (length, 4) one-hot sequence (A, C, G, T).
    sites
        ``(start, end)`` of each site, 0-based, end exclusive.
    rng
        Random generator.

    Returns
    -------
    The perturbed (length, 4) array, same dtype.
    """
    codes = onehot.argmax(axis=1)
    unknown = onehot.sum(axis=1) == 0
    shuffled = dinucleotide_shuffle(codes[~unknown], rng)
    background = codes.copy()
    background[~unknown] = shuffled
    perturbed = onehot.copy()
    for start, end in sites:
        part = slice(int(start), int(end))
        perturbed[part] = 0
        perturbed[part][np.arange(end - start), background[part]] = 1
        perturbed[part][unknown[part]] = 0
    return perturbed
