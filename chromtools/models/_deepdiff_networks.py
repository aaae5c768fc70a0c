"""DeepDiff's sub-networks by variant: the tracks its level-I encoders read, and the level-II
encoders and output heads it builds (AttentiveChrome's encoders throughout)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ._grouped_lstm import bilstm_attention
from .attentivechrome import BinLevelEncoder, MarkLevelEncoder

VARIANTS = ("raw_d", "raw_c", "raw", "aux", "raw_aux", "aux_siamese", "raw_aux_siamese")

# Level-I inputs read directly ("raw") by each variant: cell type A, B or A − B.
_RAW_TRACKS = {
    "raw_d": ("A-B",),
    "raw_c": ("A", "B"),
    "raw": ("A", "B", "A-B"),
    "aux": (),
    "raw_aux": ("A", "B", "A-B"),
    "aux_siamese": (),
    "raw_aux_siamese": ("A", "B", "A-B"),
}


class Layout(NamedTuple):
    """What a variant reads and builds."""

    #: Tracks read raw by level I and, all together, by one level-II encoder.
    raw_tracks: tuple[str, ...]
    #: Tracks with their own level-I weights: the raw ones, plus A and B where the
    #: auxiliary variants have separate (not Siamese) encoders for them.
    own_tracks: tuple[str, ...]
    #: Whether A and B each have a level-II encoder and an auxiliary head.
    auxiliary: bool
    #: Whether A and B share one level-I encoder.
    siamese: bool


def check_one_output(n_outputs: int) -> None:
    """Refuse any ``n_outputs`` but 1."""
    if n_outputs != 1:
        raise ValueError(
            f"DeepDiff predicts one log fold change per gene; got n_outputs={n_outputs}"
        )


def layout(variant: str) -> Layout:
    """The :class:`Layout` of ``variant``, refusing an unknown one."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown DeepDiff variant {variant!r}; choose one of {list(VARIANTS)}")
    raw_tracks = _RAW_TRACKS[variant]
    auxiliary = "aux" in variant
    siamese = variant.endswith("siamese")
    # Tracks with their own level-I weights run in one batched encoder; separate
    # encoders for A and B (non-Siamese auxiliary variants) are just more tracks.
    separate = ("A", "B") if auxiliary and not siamese else ()
    return Layout(raw_tracks, raw_tracks + separate, auxiliary, siamese)


def build_encoder(parts: Layout, n_marks: int, bin_hidden: int, mark_hidden: int) -> nn.ModuleDict:
    """Every LSTM and attention vector: level I ``bins`` (the own tracks) and ``shared_bins``
    (Siamese), level II ``marks`` (raw tracks), ``marks_a`` and ``marks_b`` (auxiliary)."""
    encoder = nn.ModuleDict()
    if parts.own_tracks:
        encoder["bins"] = BinLevelEncoder(len(parts.own_tracks) * n_marks, bin_hidden)
    if parts.siamese:
        encoder["shared_bins"] = BinLevelEncoder(n_marks, bin_hidden)
    embedding = 2 * bin_hidden
    if parts.raw_tracks:
        encoder["marks"] = MarkLevelEncoder(embedding, mark_hidden)
    if parts.auxiliary:
        encoder["marks_a"] = MarkLevelEncoder(embedding, mark_hidden)
        encoder["marks_b"] = MarkLevelEncoder(embedding, mark_hidden)
    return encoder


def level_one(encoder: nn.ModuleDict, tracks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every level-I track in one recurrence: (embeddings, α) of ``tracks`` (batch, tracks, bins).

    ``tracks`` holds the own tracks, then (Siamese) A and B. The shared
    encoder's weights stand in twice, once for A and once for B, so both cell
    types, the raw tracks and the difference advance together in one batched
    recurrence instead of two (about a third less time per step on a CPU);
    the shared weights' gradient is the sum over both uses, as before.
    """
    parts = [encoder["bins"]] if "bins" in encoder else []
    if "shared_bins" in encoder:
        parts += [encoder["shared_bins"]] * 2
    if len(parts) == 1:
        return parts[0](tracks)
    weights = [
        torch.cat([getattr(part, name) for part in parts])
        for name in ("weight_ih", "weight_hh", "bias", "context")
    ]
    return bilstm_attention(tracks, *weights)


def build_head(parts: Layout, mark_hidden: int) -> nn.ModuleDict:
    """The output layers: ``diff``, and ``aux_a``, ``aux_b`` for the auxiliary variants."""
    v = 2 * mark_hidden
    head = nn.ModuleDict()
    if parts.raw_tracks:
        head["diff"] = nn.Linear(v, 1)
    else:  # the authors' aux predictor: an MLP on both cell types' vectors
        head["diff"] = nn.Sequential(nn.Linear(2 * v, v), nn.ReLU(), nn.Linear(v, 1))
    if parts.auxiliary:
        head["aux_a"] = nn.Linear(v, 1)
        head["aux_b"] = nn.Linear(v, 1)
    return head
