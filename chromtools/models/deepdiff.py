"""DeepDiff: differential expression between two cell types from their histone signal."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._base import HISTONE_PAIR, ChromModel, check_histone_input
from ._deepdiff_networks import (
    VARIANTS,
    build_encoder,
    build_head,
    check_one_output,
    layout,
    level_one,
)


def contrastive_loss(
    embed_a: torch.Tensor, embed_b: torch.Tensor, different: torch.Tensor, *, margin: float = 2.0
) -> torch.Tensor:
    """Contrastive loss of Hadsell, Chopra & LeCun (2006), as DeepDiff uses it.

    ``mean((1 - S) d² + S max(0, margin - d)²)`` with ``d`` the Euclidean
    distance between the two embeddings: similar pairs (S = 0) are pulled
    together, different pairs (S = 1) pushed at least ``margin`` apart.

    Parameters
    ----------
    embed_a, embed_b
        (batch, features) embeddings of the two cell types.
    different
        (batch,) 1 where the pair counts as different, else 0.
    margin
        Distance beyond which different pairs cost nothing.

    Returns
    -------
    The scalar loss.
    """
    distance = F.pairwise_distance(embed_a, embed_b)
    different = different.to(distance.dtype)
    return torch.mean(
        (1 - different) * distance.pow(2) + different * torch.clamp(margin - distance, min=0).pow(2)
    )


class DeepDiff(ChromModel):
    """DeepDiff (Sekhon et al., Bioinformatics 2018): predict log2 fold change between cell types.

    The target is ``log2((count_B + 1) / (count_A + 1))`` for a gene with
    histone signal ``X_A`` and ``X_B`` (batch, marks, bins) in cell types A
    and B. Every encoder is AttentiveChrome's (per-mark BiLSTM with bin
    attention, ``bin_hidden`` = 32 per direction: level I; BiLSTM over marks
    with mark attention, ``mark_hidden`` = 16: level II). Variants, as in
    the authors' code:

    - ``raw_d``: level I on ``X_A − X_B``; level II; linear → difference.
    - ``raw_c``: level I on ``[X_A, X_B]`` (2 × marks tracks); level II; linear.
    - ``raw``: level I on ``[X_A, X_B, X_A − X_B]`` (3 × marks); level II; linear.
    - ``aux``: separate level I and level II encoders for A and B; linear
      heads predict each cell type's ``log2(count + 1)`` (auxiliary MSE);
      an MLP on both level-II vectors predicts the difference.
    - ``raw_aux``: as ``raw``, with A's and B's level-I embeddings (from
      their own encoders, which also feed the auxiliary heads) joining the
      raw ones in one level-II encoder over 5 × marks embeddings.
    - ``aux_siamese``, ``raw_aux_siamese``: as ``aux`` and ``raw_aux``, but A
      and B share one level-I encoder, and a contrastive loss on their
      level-I embeddings (weight ``contrastive_weight`` = 4, margin 2) pulls
      them together unless ``|LFC| ≥ different_threshold`` (= 2).

    Loss (:meth:`loss`): MSE on the difference + MSE on each auxiliary
    target + ``contrastive_weight`` × contrastive loss. Training in the
    authors' code: Adam, lr 1e-4, batch 10, gradient clipping 1; 200 bins.

    Parameters
    ----------
    n_marks
        Histone marks per cell type.
    n_bins
        Bins per mark.
    n_outputs
        Must be 1: one log fold change per gene.
    variant
        One of ``raw_d``, ``raw_c``, ``raw``, ``aux``, ``raw_aux``,
        ``aux_siamese``, ``raw_aux_siamese`` (the paper's best).
    bin_hidden
        Level-I LSTM units per direction.
    mark_hidden
        Level-II LSTM units per direction.
    dropout
        Dropout on level-I embeddings. The authors pass 0.5 to one-layer
        LSTMs, where PyTorch ignores it, so the default is 0.
    contrastive_weight
        Weight of the contrastive term in :meth:`loss`.
    margin
        Margin of the contrastive loss.
    different_threshold
        ``|target_diff|`` from which a pair counts as different (S = 1).
    aux_residual
        Auxiliary variants only: predict the difference as ``aux_b − aux_a``
        (what the two per-cell-type regressions say) plus the difference
        head's correction, so the differential output starts from, and
        inherits, the single-cell predictions. Off by default: measured on
        the REMC sample over 3 split seeds it did not beat the paper's head
        beyond noise (``benchmarks/transfer.py``, part 3).

    Notes
    -----
    ``forward`` takes ``(x_a, x_b)`` or one (batch, 2, marks, bins) tensor
    and returns a dict: ``diff`` (batch,), and where the variant has them
    ``aux_a``, ``aux_b`` (batch,) and ``embed_a``, ``embed_b`` (batch, marks
    · 2 · bin_hidden); with ``return_attention=True`` also ``alpha`` (batch,
    tracks, bins) over :attr:`alpha_tracks` and ``beta`` (batch, tracks) over
    :attr:`beta_tracks`. ``encoder`` holds every LSTM and attention vector,
    ``head`` the output layers (``diff``, ``aux_a``, ``aux_b``).
    """

    name = "deepdiff"
    input_kind = HISTONE_PAIR
    # The authors train DeepDiff with Adam at lr 1e-4, batch 10. On the REMC
    # sample (E123 vs E003, ±5 kb, 238 training genes, 2 CPU cores, full-size
    # raw_aux_siamese), 15 epochs of that took 45 s and reached test Pearson 0.33;
    # batch 32 at lr 1e-3 took 19 s and reached 0.55, batch 64 at 1e-3 16 s and 0.40.
    # At ±10 kb over split seeds 0-5, 15 epochs at lr 2e-3 reach test Pearson 0.657
    # (AttentiveChrome difference 0.632) against 0.669 (0.660) for 30 epochs at 1e-3,
    # in 41 s instead of 74 s a call (docs/benchmarks.md, "The schedule's cost").
    training_defaults = {**ChromModel.training_defaults, "epochs": 15, "batch_size": 32, "lr": 2e-3}
    prediction_output = "diff"
    attention_outputs = ("alpha", "beta")
    attention_descriptions = {
        "alpha": "bin attention α of each cell type's own encoder (sums to 1 over bins)",
        "beta": "mark attention β of each cell type, renormalised over its marks",
    }

    def __init__(
        self,
        n_marks: int,
        n_bins: int,
        n_outputs: int = 1,
        *,
        variant: str = "raw_aux_siamese",
        bin_hidden: int = 32,
        mark_hidden: int = 16,
        dropout: float = 0.0,
        contrastive_weight: float = 4.0,
        margin: float = 2.0,
        different_threshold: float = 2.0,
        aux_residual: bool = False,
    ) -> None:
        super().__init__(locals())
        parts = layout(variant)
        check_one_output(n_outputs)
        if aux_residual and not parts.auxiliary:
            raise ValueError(
                f"DeepDiff: aux_residual=True adds aux_b − aux_a, which the variant {variant!r} "
                "does not predict; use an auxiliary variant (aux, raw_aux, aux_siamese, "
                "raw_aux_siamese)"
            )
        self.aux_residual = bool(aux_residual)
        self.n_marks, self.n_bins, self.variant = n_marks, n_bins, variant
        self._layout = parts
        self.raw_tracks, self.own_tracks = parts.raw_tracks, parts.own_tracks
        self.auxiliary, self.siamese = parts.auxiliary, parts.siamese
        self.contrastive_weight = contrastive_weight
        self.margin = margin
        self.different_threshold = different_threshold
        self.encoder = build_encoder(parts, n_marks, bin_hidden, mark_hidden)
        self.dropout = nn.Dropout(dropout)
        self.head = build_head(parts, mark_hidden)

    @property
    def alpha_tracks(self) -> list[tuple[str, int]]:
        """(cell type or difference, mark index) of each row of ``alpha``."""
        sources = list(self.own_tracks) + (["A", "B"] if self.siamese else [])
        return [(source, mark) for source in sources for mark in range(self.n_marks)]

    @property
    def beta_tracks(self) -> list[tuple[str, int]]:
        """(cell type or difference, mark index) of each entry of ``beta``."""
        sources = list(self.raw_tracks) + (["A", "B"] if self.auxiliary else [])
        return [(source, mark) for source in sources for mark in range(self.n_marks)]

    def _block(self, tracks: list[tuple[str, int]], source: str) -> slice | None:
        """The last block of ``n_marks`` rows that ``source`` owns among ``tracks``."""
        sources = [name for name, _ in tracks][:: self.n_marks]
        if source not in sources:
            return None
        start = (len(sources) - 1 - sources[::-1].index(source)) * self.n_marks
        return slice(start, start + self.n_marks)

    def check_attention(self) -> None:
        """Refuse ``raw_d``, whose attention is over A−B only, with no cell type of its own."""
        if self._block(self.alpha_tracks, "A") is None:
            raise ValueError(
                f"attention: the DeepDiff variant {self.variant!r} reads only the difference "
                "A−B, so it has no attention of either cell type; fit another variant "
                "(raw_c, raw, aux, raw_aux, aux_siamese, raw_aux_siamese)"
            )

    def attention_maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """α and β of each of the two cell types, in the layout of the input.

        A cell type's α comes from the level-I encoder of its own signal: the
        shared (Siamese) or separate encoder of the auxiliary variants, the raw
        track of ``raw_c`` and ``raw``. Its β is the block of mark attention over
        those embeddings, renormalised to sum 1 over its marks (``raw_aux``
        variants attend over all five blocks at once). The A−B track has no cell
        type and is not returned; ``raw_d`` reads only A−B and is refused
        (:meth:`check_attention`).

        Parameters
        ----------
        x
            (batch, 2, marks, bins): cell type A, then B.

        Returns
        -------
        ``alpha`` (batch, 2, marks, bins) and ``beta`` (batch, 2, marks), A then B.
        """
        self.check_attention()
        out = self(x, return_attention=True)
        alphas, betas = [], []
        for source in ("A", "B"):
            alphas.append(out["alpha"][:, self._block(self.alpha_tracks, source)].float())
            beta = out["beta"][:, self._block(self.beta_tracks, source)]
            betas.append((beta / beta.sum(dim=1, keepdim=True)).float())
        return {"alpha": torch.stack(alphas, dim=1), "beta": torch.stack(betas, dim=1)}

    def _split_pair(
        self, x_a: torch.Tensor, x_b: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if x_b is None:
            if x_a.ndim != 4 or x_a.shape[1] != 2:
                raise ValueError(
                    "DeepDiff takes (x_a, x_b), or one tensor of shape (batch, 2, marks, bins); "
                    f"got one tensor of shape {tuple(x_a.shape)}"
                )
            x_a, x_b = x_a.unbind(1)
        check_histone_input(x_a, self.n_marks, self.n_bins, self.name)
        check_histone_input(x_b, self.n_marks, self.n_bins, self.name)
        return x_a, x_b

    def _run(self, x_a: torch.Tensor, x_b: torch.Tensor) -> dict[str, torch.Tensor]:
        marks = self.n_marks
        inputs = {"A": x_a, "B": x_b, "A-B": x_a - x_b}
        out: dict[str, torch.Tensor] = {}
        sources = list(self.own_tracks) + (["A", "B"] if self.siamese else [])
        tracks = torch.cat([inputs[source] for source in sources], dim=1)
        embedded, alpha = level_one(self.encoder, tracks)
        if self.auxiliary:  # A's and B's own embeddings: the last two blocks
            embed_a = embedded[:, -2 * marks : -marks]
            embed_b = embedded[:, -marks:]
        if self.siamese:
            out["embed_a"], out["embed_b"] = embed_a.flatten(1), embed_b.flatten(1)
        betas = []
        if self.auxiliary:
            v_a, beta_a = self.encoder["marks_a"](self.dropout(embed_a))
            v_b, beta_b = self.encoder["marks_b"](self.dropout(embed_b))
            out["aux_a"] = self.head["aux_a"](v_a).squeeze(-1)
            out["aux_b"] = self.head["aux_b"](v_b).squeeze(-1)
        if self.raw_tracks:
            raw = embedded[:, : len(self.raw_tracks) * marks]
            if self.auxiliary:
                raw = torch.cat([raw, embed_a, embed_b], dim=1)
            representation, beta = self.encoder["marks"](self.dropout(raw))
            betas.append(beta)
        else:
            representation = torch.cat([v_a, v_b], dim=-1)
            betas += [beta_a, beta_b]
        out["representation"] = representation
        out["alpha"] = alpha
        out["beta"] = torch.cat(betas, dim=1)
        return out

    def encode(self, x_a: torch.Tensor, x_b: torch.Tensor | None = None) -> torch.Tensor:
        """The vector the difference head reads: (batch, 2 · ``mark_hidden``), or
        (batch, 4 · ``mark_hidden``) for ``aux`` and ``aux_siamese``, which have no raw tracks."""
        return self._run(*self._split_pair(x_a, x_b))["representation"]

    def forward(
        self, x_a: torch.Tensor, x_b: torch.Tensor | None = None, return_attention: bool = False
    ) -> dict[str, torch.Tensor]:
        """Predict the log fold change and, per variant, the auxiliary outputs.

        Parameters
        ----------
        x_a
            (batch, marks, bins) signal of cell type A, or (batch, 2, marks,
            bins) with A then B.
        x_b
            (batch, marks, bins) signal of cell type B (None when ``x_a`` holds both).
        return_attention
            Add ``alpha`` and ``beta`` to the result.

        Returns
        -------
        Dict with ``diff`` (batch,); ``aux_a``, ``aux_b`` (batch,) for the
        auxiliary variants; ``embed_a``, ``embed_b`` for the Siamese ones;
        ``alpha``, ``beta`` when asked.
        """
        out = self._run(*self._split_pair(x_a, x_b))
        out["diff"] = self.head["diff"](out.pop("representation")).squeeze(-1)
        if self.aux_residual:
            out["diff"] = out["diff"] + (out["aux_b"] - out["aux_a"])
        if not return_attention:
            del out["alpha"], out["beta"]
        return out

    def loss_terms(
        self,
        outputs: dict[str, torch.Tensor],
        target_diff: torch.Tensor,
        target_a: torch.Tensor | None = None,
        target_b: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Each term of the training loss and their weighted sum ``total``.

        Parameters
        ----------
        outputs
            What :meth:`forward` returned.
        target_diff
            (batch,) ``log2((count_B + 1) / (count_A + 1))``.
        target_a, target_b
            (batch,) ``log2(count + 1)`` of A and B; needed by the auxiliary variants.

        Returns
        -------
        Dict of scalar tensors: ``diff``; ``aux_a``, ``aux_b`` and
        ``contrastive`` where the variant has them; ``total``.
        """
        target_diff = target_diff.to(outputs["diff"].dtype).reshape(-1)
        terms = {"diff": F.mse_loss(outputs["diff"], target_diff)}
        total = terms["diff"]
        if "aux_a" in outputs:
            if target_a is None or target_b is None:
                raise ValueError(
                    f"DeepDiff variant {self.variant!r} also learns each cell type's "
                    "expression: pass target_a and target_b (log2(count + 1))"
                )
            for key, target in (("aux_a", target_a), ("aux_b", target_b)):
                terms[key] = F.mse_loss(outputs[key], target.to(outputs[key].dtype).reshape(-1))
                total = total + terms[key]
        if "embed_a" in outputs:
            different = target_diff.abs() >= self.different_threshold
            terms["contrastive"] = contrastive_loss(
                outputs["embed_a"], outputs["embed_b"], different, margin=self.margin
            )
            total = total + self.contrastive_weight * terms["contrastive"]
        terms["total"] = total
        return terms

    def loss(
        self,
        outputs: dict[str, torch.Tensor],
        target_diff: torch.Tensor,
        target_a: torch.Tensor | None = None,
        target_b: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The training loss: MSE on the difference + auxiliary MSEs + weighted contrastive loss.

        Parameters
        ----------
        outputs, target_diff, target_a, target_b
            As for :meth:`loss_terms`.

        Returns
        -------
        The scalar loss (``loss_terms(...)["total"]``).
        """
        return self.loss_terms(outputs, target_diff, target_a, target_b)["total"]

    def reset_head(self, n_outputs: int = 1) -> None:
        """Re-initialise the output layers (difference and auxiliary heads).

        Parameters
        ----------
        n_outputs
            Must be 1.
        """
        check_one_output(n_outputs)
        self._attach_head(build_head(self._layout, self._hyperparameters["mark_hidden"]))


__all__ = ["VARIANTS", "DeepDiff", "contrastive_loss"]
