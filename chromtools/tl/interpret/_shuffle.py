"""Shuffled references: dinucleotide shuffles of DNA, other genes' signal for histone marks.

:func:`dinucleotide_shuffle` is the exact shuffle of Altschul & Erickson
(1985); :func:`shuffled_references` gives every sample of a batch the
references that ``deeplift_shap`` and ``integrated_gradients`` compare it
with, and ``ct.tl.in_silico_deletion`` overwrites motif sites with a
region's shuffle.
"""

from __future__ import annotations

import numpy as np
import torch


def dinucleotide_shuffle(sequence: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random sequence with exactly the dinucleotide counts of ``sequence``.

    Altschul & Erickson (1985): the sequence is an Eulerian path through the
    graph whose vertices are bases and whose edges are its dinucleotides. A
    random arborescence of "last exits" towards the final base is drawn
    (Wilson's loop-erased random walk), the other exits of each base are
    shuffled, and the path is walked from the first base. First and last
    bases are kept.

    Parameters
    ----------
    sequence
        (length,) integer codes (0–3 for A, C, G, T).
    rng
        Random generator.

    Returns
    -------
    (length,) codes, a permutation of ``sequence`` with the same dinucleotides.
    """
    sequence = np.asarray(sequence)
    if len(sequence) < 3:
        return sequence.copy()
    exits: dict[int, list[int]] = {}
    for a, b in zip(sequence[:-1].tolist(), sequence[1:].tolist(), strict=True):
        exits.setdefault(a, []).append(b)
    last_exit = _last_exits(exits, int(sequence[-1]), rng)
    order = {}
    for vertex, targets in exits.items():
        targets = list(targets)
        final = targets.pop(last_exit[vertex]) if vertex in last_exit else None
        rng.shuffle(targets)
        order[vertex] = targets + ([final] if final is not None else [])
    walked = [int(sequence[0])]
    used = dict.fromkeys(order, 0)
    for _ in range(len(sequence) - 1):
        vertex = walked[-1]
        walked.append(order[vertex][used[vertex]])
        used[vertex] += 1
    return np.asarray(walked, dtype=sequence.dtype)


def _last_exits(exits: dict[int, list[int]], last: int, rng: np.random.Generator) -> dict[int, int]:
    """A random arborescence towards ``last``: the index of each base's last exit (Wilson)."""
    in_tree = {last}
    last_exit: dict[int, int] = {}
    for start in exits:
        vertex = start
        # loop-erased random walk until the tree is reached
        while vertex not in in_tree:
            last_exit[vertex] = int(rng.integers(len(exits[vertex])))
            vertex = exits[vertex][last_exit[vertex]]
        vertex = start
        while vertex not in in_tree:
            in_tree.add(vertex)
            vertex = exits[vertex][last_exit[vertex]]
    return last_exit


def shuffled_references(
    x: torch.Tensor, n: int, rng: np.random.Generator, *, sequence: bool
) -> torch.Tensor:
    """``n`` references per sample: dinucleotide shuffles of DNA, other genes' signal otherwise.

    Parameters
    ----------
    x
        A batch: (batch, length, 4) one-hot DNA when ``sequence``, else (batch, marks, bins).
    n
        References per sample.
    rng
        Random generator (seeded by the caller).
    sequence
        Whether ``x`` is one-hot DNA.

    Returns
    -------
    (n, batch, ...) references on the device of ``x``.
    """
    if not sequence:
        return torch.stack([x[torch.from_numpy(rng.permutation(len(x)))] for _ in range(n)])
    onehot = x.detach().cpu().numpy()
    codes, known = onehot.argmax(axis=-1), onehot.sum(axis=-1) > 0
    references = np.zeros((n, *onehot.shape), dtype=np.float32)
    eye = np.eye(4, dtype=np.float32)
    for i in range(len(onehot)):
        bases = codes[i, known[i]]
        for r in range(n):
            references[r, i, known[i]] = eye[dinucleotide_shuffle(bases, rng)]
    return torch.from_numpy(references).to(x.device)
