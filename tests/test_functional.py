"""ct.functional: every core works on a plain ``nn.Module`` and gives the known answer."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

import chromtools as ct
from chromtools import functional as F

BASE_WEIGHTS = torch.tensor([0.5, -1.0, 2.0, 3.0])


class OneBase(nn.Module):
    """Scores one position of a (batch, length, 4) sequence: the weight of its base."""

    def __init__(self, position: int) -> None:
        super().__init__()
        self.position = position
        self.weights = nn.Parameter(BASE_WEIGHTS.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, self.position] * self.weights).sum(dim=-1, keepdim=True)


def _linear(n_features: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(n_features, 1)).eval()


def _onehot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    codes = np.random.default_rng(seed).integers(0, 4, (n, length))
    return torch.from_numpy(np.eye(4, dtype=np.float32)[codes])


def test_every_name_is_public_and_documented():
    assert ct.functional is F
    for name in F.__all__:
        assert (getattr(F, name).__doc__ or "").strip(), name


@pytest.mark.parametrize("batch_size", [None, 2])
def test_grad_x_input_of_a_linear_model_is_weight_times_input(batch_size):
    model = _linear(12)
    x = torch.randn(5, 3, 4)
    attributions = F.grad_x_input(model, x, batch_size=batch_size, device="cpu")
    weight = model[1].weight.detach().reshape(3, 4)
    torch.testing.assert_close(attributions, weight * x)


def test_gradients_do_not_depend_on_the_batch_size():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 1)).eval()
    x = torch.randn(7, 2, 4)
    torch.testing.assert_close(F.gradients(model, x, batch_size=3), F.gradients(model, x))


def test_integrated_gradients_are_complete():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1)).eval()
    x = torch.randn(4, 3, 4)
    baseline = torch.randn(4, 3, 4)
    attributions = F.integrated_gradients(model, x, baseline=baseline, steps=200, batch_size=3)
    with torch.no_grad():
        expected = (model(x) - model(baseline))[:, 0]
    torch.testing.assert_close(attributions.sum(dim=(1, 2)), expected, atol=1e-4, rtol=1e-3)


def test_deeplift_shap_of_a_linear_model_is_weight_times_mean_difference():
    model = _linear(12)
    x = torch.randn(3, 3, 4)
    references = torch.randn(5, 3, 3, 4)
    attributions = F.deeplift_shap(model, x, references, batch_size=2)
    weight = model[1].weight.detach().reshape(3, 4)
    torch.testing.assert_close(attributions, weight * (x - references).mean(dim=0))


@pytest.mark.parametrize("function", [F.ism, F.naive_ism], ids=["ism", "naive_ism"])
def test_ism_of_a_one_base_model_gives_the_exact_deltas(function):
    position = 3
    x = _onehot(4, 8)
    deltas = function(OneBase(position).eval(), x, device="cpu")
    observed = x[:, position].argmax(dim=-1)
    expected = torch.zeros_like(x)
    expected[:, position] = BASE_WEIGHTS[None] - BASE_WEIGHTS[observed][:, None]
    torch.testing.assert_close(deltas, expected)


def test_ism_scores_are_minus_the_mean_substitution():
    x = _onehot(2, 6, seed=1)
    deltas = F.ism(OneBase(2).eval(), x)
    observed = BASE_WEIGHTS[x[:, 2].argmax(dim=-1)]
    expected = observed - (BASE_WEIGHTS.sum() - observed) / 3
    torch.testing.assert_close(F.ism_scores(deltas)[:, 2], expected)
    assert not F.ism_scores(deltas)[:, [0, 1, 3, 4, 5]].any()


def test_ism_refuses_a_model_in_training_mode():
    with pytest.raises(ValueError, match="training mode"):
        F.ism(OneBase(0), _onehot(1, 4))


def test_attention_rollout_of_one_layer_mixes_in_the_residual():
    attention = torch.softmax(torch.randn(2, 3, 5, 5), dim=-1)
    rollout = F.attention_rollout([attention])
    torch.testing.assert_close(rollout, (attention.mean(dim=1) + torch.eye(5)) / 2)
    two = F.attention_rollout([attention, attention])
    torch.testing.assert_close(two, rollout @ rollout)
    torch.testing.assert_close(two.sum(dim=-1), torch.ones(2, 5))


def _dinucleotides(codes: np.ndarray) -> Counter:
    return Counter(zip(codes[:-1].tolist(), codes[1:].tolist(), strict=True))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dinucleotide_shuffle_keeps_dinucleotides_and_ends(seed):
    rng = np.random.default_rng(seed)
    sequence = rng.integers(0, 4, 200)
    shuffled = F.dinucleotide_shuffle(sequence, rng)
    assert _dinucleotides(shuffled) == _dinucleotides(sequence)
    assert (shuffled[0], shuffled[-1]) == (sequence[0], sequence[-1])
    assert not np.array_equal(shuffled, sequence)


def test_shuffled_references_are_dinucleotide_shuffles():
    x = _onehot(2, 50)
    references = F.shuffled_references(x, 3, np.random.default_rng(0), sequence=True)
    assert references.shape == (3, 2, 50, 4)
    for reference in references:
        for original, shuffled in zip(x, reference, strict=True):
            codes = original.argmax(dim=-1).numpy()
            assert _dinucleotides(shuffled.argmax(dim=-1).numpy()) == _dinucleotides(codes)


def test_ks_enrichment_ranks_the_planted_motif_first():
    rng = np.random.default_rng(0)
    n_motifs, per_motif, width = 4, 60, 6
    motif = np.repeat(np.arange(n_motifs), per_motif)
    scores = rng.normal(size=len(motif))
    scores[motif == 2] += 2.0  # the planted motif's sites carry the attribution
    flat_start = np.arange(len(motif)) * (width + 1)
    table = F.ks_enrichment(
        scores,
        motif,
        flat_start=flat_start,
        flat_end=flat_start + width,
        tested=range(n_motifs),
    )
    ranked = table.sort_values("ks_d", ascending=False)
    assert ranked.index[0] == 2
    assert ranked.loc[2, "ks_d"] > 0.5 and ranked.loc[2, "pvalue"] < 1e-6
    assert (table["n_sites"] == per_motif).all()


def _separable(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2, 3)).astype(np.float32)
    y = (x[:, 0, 0] + x[:, 1, 2] > 0).astype(np.float32)
    return x, y


def test_training_loop_lowers_the_loss_of_a_plain_module():
    x, y = _separable()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 1))
    history, best_epoch = F.train(
        model,
        F.Batches.from_arrays(x, y, batch_size=32, shuffle=True),
        None,
        task="classification",
        epochs=15,
        lr=0.05,
        device=F.resolve_device("cpu"),
        precision="fp32",
    )
    assert len(history) == 15 and best_epoch >= 1
    assert history["train_loss"].iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    predicted = F.predict_batches(model, F.Batches.from_arrays(x), device=torch.device("cpu"))
    assert F.score(y, predicted, "classification")["accuracy"] > 0.9


def test_batches_from_arrays_yield_every_sample_once():
    x, y = _separable(n=10)
    batches = F.Batches.from_arrays(torch.from_numpy(x), y, batch_size=4, shuffle=True, seed=1)
    seen = []
    for inputs, targets, rows in batches:
        torch.testing.assert_close(inputs, torch.from_numpy(x[rows]))
        torch.testing.assert_close(targets, torch.from_numpy(y[rows]))
        seen += rows.tolist()
    assert sorted(seen) == list(range(10))


def test_bootstrap_interval_of_perfect_predictions():
    truth = np.array([0, 1, 0, 1, 1, 0], dtype=float)
    low, high = F.bootstrap_interval(truth, truth, "classification", metric="auroc", n_boot=50)
    assert low == high == 1.0
