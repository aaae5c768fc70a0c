"""In-silico mutagenesis (``chromtools.tl.interpret._ism``) and the fused ChromTransfer.

Every check compares values: the fast windowed ISM with one mutant per
forward pass (or, for long sequences, with the same mutants batched through
full forward passes), the fused model with the original in float32 and in
float64. The models have random weights and BatchNorm statistics far from
the identity, so that a fold or a window in the wrong place shows.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from chromtools.models import ChromTransfer
from chromtools.tl.interpret._ism import ism, ism_path, naive_ism

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest


def random_chromtransfer(seed: int = 0, n_outputs: int = 1) -> ChromTransfer:
    """A small ChromTransfer in eval mode, its BatchNorms with non-trivial running statistics."""
    torch.manual_seed(seed)
    network = ChromTransfer(n_outputs, filters=16, hidden=[16])
    generator = torch.Generator().manual_seed(seed)
    for module in network.modules():
        if isinstance(module, nn.BatchNorm1d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=generator) * 0.5)
            module.running_var.copy_(torch.rand(n, generator=generator) * 0.5 + 0.1)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(n, generator=generator) - 0.5)
        if isinstance(module, nn.Conv1d):
            # Larger weights, so that one base moves the logit by ~0.1 rather than ~1e-3.
            module.weight.data *= 1.4
    return network.eval()


def random_sequences(n: int, length: int, seed: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    bases = torch.randint(0, 4, (n, length), generator=generator)
    return nn.functional.one_hot(bases, 4).float()


class Wrapped(nn.Module):
    """A module that is not a ChromTransfer, so that ``ism`` takes its generic path."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.train(network.training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class SmallCNN(nn.Module):
    """A generic sequence CNN: conv, ReLU, max-pool, dense."""

    def __init__(self, length: int) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Conv1d(4, 8, 6, padding=3)
        self.pool = nn.MaxPool1d(2)
        self.dense = nn.Linear(8 * ((length + 1) // 2), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.pool(torch.relu(self.conv(x.transpose(1, 2))))
        return self.dense(hidden.flatten(1))


@pytest.mark.parametrize("length", [7, 200])
def test_fast_ism_equals_one_mutant_per_forward(length):
    network = random_chromtransfer()
    x = random_sequences(1, length)
    expected = naive_ism(network, x)
    assert expected.abs().max() > 0.01
    deltas = ism(network, x, batch_size=128, path="windowed")
    torch.testing.assert_close(deltas, expected, rtol=0, atol=1e-4)


@pytest.mark.parametrize("length", [333, 600])
def test_fast_ism_equals_batched_full_forwards(length):
    network = random_chromtransfer(seed=2)
    x = random_sequences(1, length, seed=length)
    expected = ism(Wrapped(network), x, batch_size=512)
    assert expected.abs().max() > 0.01
    deltas = ism(network, x, batch_size=700, path="windowed")
    torch.testing.assert_close(deltas, expected, rtol=0, atol=1e-4)


def test_generic_ism_equals_one_mutant_per_forward():
    x = random_sequences(2, 40)
    x[1, 5] = 0
    network = SmallCNN(40).eval()
    expected = naive_ism(network, x, output=1)
    assert expected.abs().max() > 0.01
    torch.testing.assert_close(
        ism(network, x, batch_size=50, output=1), expected, atol=1e-5, rtol=0
    )


def test_output_chooses_the_scored_column():
    network = random_chromtransfer(n_outputs=2)
    x = random_sequences(1, 30)
    second = ism(network, x, output=1)
    torch.testing.assert_close(second, naive_ism(network, x, output=1), rtol=0, atol=1e-4)
    assert not torch.allclose(second, ism(network, x), atol=1e-3)


@pytest.mark.parametrize("path", ["fast", "generic"])
def test_observed_bases_and_positions_without_a_base_score_zero(path):
    network = random_chromtransfer()
    x = random_sequences(2, 50)
    x[0, 10:13] = 0
    deltas = ism(network, x, path="windowed") if path == "fast" else ism(Wrapped(network), x)
    assert torch.equal(deltas[x.bool()], torch.zeros(int(x.sum())))
    assert torch.equal(deltas[0, 10:13], torch.zeros(3, 4))
    substituted = (x == 0) & (x.sum(dim=-1, keepdim=True) == 1)
    assert (deltas[substituted] != 0).float().mean() > 0.9


def test_uint8_input_gives_the_same_deltas():
    network = random_chromtransfer()
    x = random_sequences(1, 25)
    torch.testing.assert_close(ism(network, x.to(torch.uint8)), ism(network, x))


@pytest.mark.parametrize("length", [5, 19, 30, 200, 333])
def test_fused_chromtransfer_equals_the_original(length):
    network = random_chromtransfer(seed=length)
    x = random_sequences(4, length, seed=length)
    reference64 = copy.deepcopy(network).double()
    with torch.inference_mode():
        expected = network(x)
        exact = reference64.head(reference64.encoder(x.double().transpose(1, 2)))
        fused = network.fused()(x)
    scale = max(1.0, float(exact.abs().max()))
    torch.testing.assert_close(fused, expected, rtol=0, atol=1e-5 * scale)
    assert float((fused.double() - exact).abs().max()) < 1e-5 * scale


def test_the_fused_model_has_the_original_gradients_and_splits_large_batches():
    network = random_chromtransfer(seed=4)
    x = random_sequences(6, 120, seed=4)
    fused = network.fused()
    fused.chunk_positions = 250  # pieces of 2 sequences
    gradients = []
    for model in (network, fused):
        leaf = x.clone().requires_grad_()
        (gradient,) = torch.autograd.grad(model(leaf)[:, 0].sum(), leaf)
        gradients.append(gradient)
    original, folded = gradients
    scale = float(original.abs().max())
    assert scale > 0
    # float32 rounding can flip a ReLU whose input is ~1e-7, which moves a few
    # entries; everything else must agree to rounding
    close = (folded - original).abs() <= 1e-4 * scale
    assert close.float().mean() > 0.99, close.float().mean()
    assert torch.corrcoef(torch.stack([original.flatten(), folded.flatten()]))[0, 1] > 0.9999
    with torch.inference_mode():
        torch.testing.assert_close(fused(x), network(x), rtol=0, atol=1e-5)


def test_ism_takes_the_windowed_path_only_where_it_saves_work():
    network = random_chromtransfer()
    assert ism_path(network, 200) == "full"
    assert ism_path(network, 600) == "windowed"
    assert ism_path(Wrapped(network), 600) == "full"
    x = random_sequences(1, 40)
    full = ism(network, x)
    torch.testing.assert_close(ism(network, x, path="windowed"), full, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="needs a ChromTransfer"):
        ism(Wrapped(network), x, path="windowed")
    with pytest.raises(ValueError, match="path must be"):
        ism(network, x, path="fastest")


def test_fused_chromtransfer_is_for_inference_only():
    fused = random_chromtransfer().fused()
    assert not fused.training
    with pytest.raises(ValueError, match="inference only"):
        fused.train()


def test_fused_copy_does_not_follow_later_changes_of_the_model():
    network = random_chromtransfer()
    x = random_sequences(2, 40)
    fused = network.fused()
    with torch.inference_mode():
        before = network(x)
        network.head[-1].bias.data += 1.0
        torch.testing.assert_close(fused(x), before, rtol=0, atol=1e-5)


def bad_inputs() -> list:
    x = random_sequences(1, 20)
    two_bases = x.clone()
    two_bases[0, 3] = 1
    half = x.clone()
    half[0, 4] = 0.5 * half[0, 4]
    return [
        pytest.param(x[0], {}, ValueError, r"\(batch, length, 4\), got \(20, 4\)", id="2d"),
        pytest.param(x[..., :3], {}, ValueError, r"\(batch, length, 4\)", id="3 channels"),
        pytest.param(two_bases, {}, ValueError, "at most one 1 per position", id="two bases"),
        pytest.param(half, {}, ValueError, "values 0 or 1", id="not 0/1"),
        pytest.param(x.numpy(), {}, TypeError, "torch.Tensor", id="numpy"),
    ]


@pytest.mark.parametrize(("x", "options", "error", "message"), bad_inputs())
@pytest.mark.parametrize("function", [ism, naive_ism])
def test_bad_input_is_refused_with_a_clear_message(function, x, options, error, message):
    with pytest.raises(error, match=message):
        function(random_chromtransfer(), x, **options)


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError, match="batch_size must be a positive number, got 0"):
        ism(random_chromtransfer(), random_sequences(1, 10), batch_size=0)


@pytest.mark.parametrize("function", [ism, naive_ism])
def test_a_model_in_training_mode_is_refused(function):
    network = random_chromtransfer().train()
    with pytest.raises(ValueError, match=r"training mode.*network.eval\(\)"):
        function(network, random_sequences(1, 10))
    assert network.training
