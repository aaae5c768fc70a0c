"""The model zoo: shapes, attention, the batched LSTM's exactness, configs, transfer helpers,
DeepDiff's variants and loss, and that every model learns a planted rule."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

import chromtools as ct
from chromtools import models
from chromtools.models.attentivechrome import BinLevelEncoder
from chromtools.models.deepdiff import VARIANTS

HISTONE_MODELS = ["deepchrome", "attentivechrome", "transferchrome"]
TORCH_MODELS = [*HISTONE_MODELS, "deepdiff", "chromtransfer"]


def small(name: str, n_marks: int = 5, n_bins: int = 40, **options) -> nn.Module:
    """A model of ``name`` for ``n_marks`` × ``n_bins`` input (sequence models ignore both)."""
    if name == "chromtransfer":
        return models.build(name, **options)
    return models.build(name, n_marks=n_marks, n_bins=n_bins, **options)


def example_input(name: str, batch: int = 4, n_marks: int = 5, n_bins: int = 40, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    if name == "chromtransfer":
        bases = torch.randint(0, 4, (batch, 120), generator=generator)
        return (nn.functional.one_hot(bases, 4).to(torch.uint8),)
    x = torch.rand(batch, n_marks, n_bins, generator=generator) * 3
    if name == "deepdiff":
        return x, torch.rand(batch, n_marks, n_bins, generator=generator) * 3
    return (x,)


def output_of(model: nn.Module, inputs: tuple) -> torch.Tensor:
    out = model(*inputs)
    return out["diff"] if isinstance(out, dict) else out


def planted_histone(n: int = 64, n_marks: int = 5, n_bins: int = 40, seed: int = 0):
    """Label 1 exactly when mark 0 (H3K4me3) is high over the central bins."""
    rng = np.random.default_rng(seed)
    x = rng.gamma(1.0, 1.0, size=(n, n_marks, n_bins)).astype(np.float32)
    y = np.tile([0.0, 1.0], n // 2).astype(np.float32)
    centre = slice(n_bins // 2 - 4, n_bins // 2 + 4)
    x[y == 1, 0, centre] += 3.0
    return x, y


# --- registry -------------------------------------------------------------------------------


def test_registry_lists_every_model():
    assert set(models.MODELS) == {
        "deepchrome", "attentivechrome", "transferchrome", "deepdiff", "chromtransfer",
        "logreg", "rf", "svr", "svr2",
    }  # fmt: skip
    assert [n for n, m in models.MODELS.items() if m.is_sklearn] == ["logreg", "rf", "svr", "svr2"]
    assert models.get_model("deepdiff").input_kind == "histone_pair"
    assert models.get_model("chromtransfer").input_kind == "sequence"


def test_unknown_model_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model 'deepchrom'.*attentivechrome.*deepchrome"):
        models.get_model("deepchrom")
    with pytest.raises(ValueError, match="unknown model"):
        models.build("nope", n_marks=5, n_bins=100)


def test_build_refuses_unknown_or_missing_hyperparameters():
    with pytest.raises(ValueError, match=r"does not take \['hiden'\]"):
        models.build("attentivechrome", n_marks=5, n_bins=100, hiden=3)
    with pytest.raises(ValueError, match=r"needs \['n_bins'\]"):
        models.build("deepchrome", n_marks=5)


# --- shapes and attention -----------------------------------------------------------------------


@pytest.mark.parametrize("name", HISTONE_MODELS)
@pytest.mark.parametrize(("n_marks", "n_bins"), [(5, 100), (5, 200), (7, 100), (1, 100)])
def test_histone_models_take_any_marks_and_bins(name, n_marks, n_bins):
    model = small(name, n_marks, n_bins, n_outputs=3).eval()
    (x,) = example_input(name, 2, n_marks, n_bins)
    assert model(x).shape == (2, 3)
    assert model.encode(x).shape[0] == 2


@pytest.mark.parametrize("name", HISTONE_MODELS)
def test_wrong_input_shape_is_a_clear_error(name):
    model = small(name, 5, 100)
    with pytest.raises(ValueError, match=r"\(batch, 5 marks, 100 bins\), got \(2, 4, 100\)"):
        model(torch.rand(2, 4, 100))


def test_attentivechrome_attention_sums_to_one():
    model = small("attentivechrome", 5, 100).eval()
    logits, alpha, beta = model(torch.rand(3, 5, 100), return_attention=True)
    assert logits.shape == (3, 1) and alpha.shape == (3, 5, 100) and beta.shape == (3, 5)
    assert torch.allclose(alpha.sum(-1), torch.ones(3, 5), atol=1e-5)
    assert torch.allclose(beta.sum(-1), torch.ones(3), atol=1e-5)
    assert (alpha >= 0).all() and (beta >= 0).all()


def test_transferchrome_pooling_weights_sum_to_one():
    model = small("transferchrome", 5, 100).eval()
    logits, weights = model(torch.rand(3, 5, 100), return_attention=True)
    assert logits.shape == (3, 1) and weights.shape == (3, 100)
    assert torch.allclose(weights.sum(-1), torch.ones(3), atol=1e-5)


# --- the batched per-mark LSTM is the paper's model ----------------------------------------------


class SeparateLSTMs(nn.Module):
    """The authors' level I: one bidirectional nn.LSTM and one context vector per mark."""

    def __init__(self, encoder: BinLevelEncoder) -> None:
        super().__init__()
        marks, hidden = encoder.n_marks, encoder.hidden_size
        self.lstms = nn.ModuleList(
            nn.LSTM(1, hidden, batch_first=True, bidirectional=True) for _ in range(marks)
        )
        with torch.no_grad():
            for j, lstm in enumerate(self.lstms):
                for d, suffix in enumerate(("", "_reverse")):
                    getattr(lstm, f"weight_ih_l0{suffix}").copy_(encoder.weight_ih[j, d, :, None])
                    getattr(lstm, f"weight_hh_l0{suffix}").copy_(encoder.weight_hh[j, d])
                    getattr(lstm, f"bias_ih_l0{suffix}").copy_(encoder.bias[j, d])
                    getattr(lstm, f"bias_hh_l0{suffix}").zero_()
        self.context = nn.Parameter(encoder.context.detach().clone())

    def forward(self, x):
        embedded, alphas = [], []
        for j, lstm in enumerate(self.lstms):
            states, _ = lstm(x[:, j, :, None])
            alpha = torch.softmax(states @ self.context[j], dim=1)
            embedded.append(torch.einsum("bt,bth->bh", alpha, states))
            alphas.append(alpha)
        return torch.stack(embedded, 1), torch.stack(alphas, 1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_lstm_equals_separate_nn_lstms(dtype):
    torch.manual_seed(0)
    batched = BinLevelEncoder(n_marks=3, hidden_size=8).to(dtype)
    reference = SeparateLSTMs(batched).to(dtype)
    x = torch.rand(6, 3, 30, dtype=dtype) * 3
    weights = torch.randn(6, 3, 16, dtype=dtype), torch.randn(6, 3, 30, dtype=dtype)

    def run(model):
        inputs = x.clone().requires_grad_()
        embedded, alpha = model(inputs)
        ((embedded * weights[0]).sum() + (alpha * weights[1]).sum()).backward()
        return embedded, alpha, inputs.grad

    embedded, alpha, grad_x = run(batched)
    embedded_ref, alpha_ref, grad_x_ref = run(reference)
    tolerance = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(embedded, embedded_ref, atol=tolerance, rtol=0)
    torch.testing.assert_close(alpha, alpha_ref, atol=tolerance, rtol=0)
    torch.testing.assert_close(grad_x, grad_x_ref, atol=tolerance, rtol=0)
    torch.testing.assert_close(batched.context.grad, reference.context.grad, atol=tolerance, rtol=0)
    for j, lstm in enumerate(reference.lstms):
        for d, suffix in enumerate(("", "_reverse")):
            weight_hh = getattr(lstm, f"weight_hh_l0{suffix}").grad
            bias = getattr(lstm, f"bias_ih_l0{suffix}").grad
            weight_ih = getattr(lstm, f"weight_ih_l0{suffix}").grad[:, 0]
            scale = 10 * tolerance  # sums over batch and time
            torch.testing.assert_close(batched.weight_hh.grad[j, d], weight_hh, atol=scale, rtol=0)
            torch.testing.assert_close(batched.weight_ih.grad[j, d], weight_ih, atol=scale, rtol=0)
            torch.testing.assert_close(batched.bias.grad[j, d], bias, atol=scale, rtol=0)


def test_attentivechrome_inference_path_matches_training_path():
    model = small("attentivechrome", 5, 40).eval()
    x = torch.rand(4, 5, 40)
    with torch.no_grad():
        no_grad = model(x, return_attention=True)
    with_grad = model(x, return_attention=True)
    for a, b in zip(no_grad, with_grad, strict=True):
        torch.testing.assert_close(a, b.detach())


def test_batched_lstm_keeps_graphs_in_flight_apart():
    # Activation buffers are reused between calls; two passes of the same shape
    # alive at once (a Siamese pair, gradient accumulation) must not share them.
    torch.manual_seed(0)
    encoder = BinLevelEncoder(n_marks=2, hidden_size=4)
    x1, x2 = torch.rand(3, 2, 12), torch.rand(3, 2, 12)
    separate = []
    for x in (x1, x2):
        encoder.zero_grad()
        encoder(x)[0].sum().backward()
        separate.append(encoder.weight_hh.grad.clone())
    encoder.zero_grad()
    first, second = encoder(x1)[0], encoder(x2)[0]
    (first.sum() + second.sum()).backward()
    torch.testing.assert_close(encoder.weight_hh.grad, separate[0] + separate[1])


def test_batched_lstm_refuses_a_second_backward():
    model = small("attentivechrome", 2, 10)
    loss = model(torch.rand(3, 2, 10)).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="back-propagated twice"):
        loss.backward()


# --- configs and transfer helpers -----------------------------------------------------------------


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_config_round_trip_rebuilds_the_same_model(name):
    model = small(name).eval()
    config = json.loads(json.dumps(model.config))
    assert config == model.config and config["name"] == name
    copy = models.build(**config).eval()
    copy.load_state_dict(model.state_dict())
    inputs = example_input(name)
    torch.testing.assert_close(output_of(copy, inputs), output_of(model, inputs))


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_encoder_and_head_split_the_parameters(name):
    model = small(name)
    encoder = {id(p) for p in model.encoder_parameters()}
    head = {id(p) for p in model.head_parameters()}
    assert encoder and head and not encoder & head
    assert encoder | head == {id(p) for p in model.parameters()}
    model.freeze_encoder()
    assert not any(p.requires_grad for p in model.encoder_parameters())
    assert all(p.requires_grad for p in model.head_parameters())


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("deepchrome", {"hidden": [64]}),
        ("attentivechrome", {}),
        ("transferchrome", {"hidden": 16}),
        ("chromtransfer", {"hidden": [1024, 32]}),
    ],
)
def test_reset_head_changes_outputs_and_config(name, options):
    model = small(name)
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    model.reset_head(4, **options)
    assert model.config["n_outputs"] == 4
    model.eval()
    assert output_of(model, example_input(name)).shape == (4, 4)
    for key, value in model.encoder.state_dict().items():
        torch.testing.assert_close(value, before[key])  # the encoder is transferred as is
    rebuilt = models.build(**model.config)
    rebuilt.load_state_dict(model.state_dict())


def test_chromtransfer_takes_one_hot_sequences_length_last():
    model = models.build("chromtransfer").eval()
    x = nn.functional.one_hot(torch.randint(0, 4, (3, 600)), 4).to(torch.uint8)
    assert model(x).shape == (3, 1)
    assert model.encode(x).shape == (3, 64)
    with pytest.raises(ValueError, match=r"\(batch, length, 4\), got \(3, 4, 600\)"):
        model(x.transpose(1, 2))


def test_chromtransfer_trains_when_one_sample_is_left_for_the_last_batch():
    """batch_size + 1 training regions (257 at batch 256) left one sample in the last
    batch, and BatchNorm refused it in training ("Expected more than 1 value per channel")."""
    adata = ct.datasets.synthetic_sequences(40, 60, seed=0)
    ct.pp.split(adata, seed=0)
    n_train = int((adata.var["split"] == "train").sum())
    ct.tl.fit(adata, "chromtransfer", cell_types="A", epochs=2, batch_size=n_train - 1, seed=0,
              hyperparameters={"filters": 8, "hidden": [8]})  # fmt: skip
    record = adata.uns["chromtransfer"]
    assert record["params"]["batch_size"] == n_train - 1 and len(record["history"]) == 2
    assert np.isfinite(record["history"]["train_loss"]).all()
    # prediction one region at a time (eval mode: BatchNorm uses its running statistics)
    before = adata.layers["chromtransfer"].copy()
    ct.tl.predict(adata, "chromtransfer", batch_size=1)
    np.testing.assert_allclose(adata.layers["chromtransfer"], before, rtol=1e-5, atol=1e-6)


def test_frozen_batchnorm_keeps_its_statistics_in_train_mode():
    model = models.build("chromtransfer")
    model.reset_head(1, hidden=(1024, 32))
    model.freeze_batchnorm()
    model.train()
    encoder_norms = [m for m in model.encoder.modules() if isinstance(m, nn.BatchNorm1d)]
    head_norms = [m for m in model.head.modules() if isinstance(m, nn.BatchNorm1d)]
    assert encoder_norms and not any(m.training for m in encoder_norms)
    assert all(m.training for m in head_norms)  # the new head still learns its statistics
    before = [m.running_mean.clone() for m in encoder_norms]
    (x,) = example_input("chromtransfer", batch=8)
    model(x).sum().backward()
    for norm, mean in zip(encoder_norms, before, strict=True):
        torch.testing.assert_close(norm.running_mean, mean)
    assert not torch.equal(head_norms[0].running_mean, torch.zeros(1024))
    model.freeze_batchnorm(False)
    model.train()
    assert all(m.training for m in encoder_norms)


# --- DeepDiff ------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_deepdiff_variant_forward_loss_backward(variant):
    model = models.build("deepdiff", n_marks=3, n_bins=20, variant=variant)
    x_a, x_b = torch.rand(6, 3, 20), torch.rand(6, 3, 20)
    out = model(x_a, x_b, return_attention=True)
    assert out["diff"].shape == (6,)
    auxiliary, siamese = "aux" in variant, variant.endswith("siamese")
    assert ("aux_a" in out) == auxiliary and ("embed_a" in out) == siamese
    assert out["alpha"].shape == (6, len(model.alpha_tracks), 20)
    assert out["beta"].shape == (6, len(model.beta_tracks))
    torch.testing.assert_close(out["alpha"].sum(-1), torch.ones(6, len(model.alpha_tracks)))
    target = torch.tensor([-3.0, -1.0, 0.0, 0.5, 2.0, 4.0])
    terms = model.loss_terms(out, target, torch.rand(6), torch.rand(6))
    expected = {"diff", "total"}
    expected |= {"aux_a", "aux_b"} if auxiliary else set()
    expected |= {"contrastive"} if siamese else set()
    assert set(terms) == expected
    assert torch.isfinite(terms["total"])
    terms["total"].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    stacked = model(torch.stack([x_a, x_b], dim=1))  # the loader's (batch, 2, marks, bins)
    torch.testing.assert_close(stacked["diff"], model(x_a, x_b)["diff"])


@pytest.mark.parametrize("variant", ["raw_aux_siamese", "aux_siamese", "raw_aux"])
def test_deepdiff_one_recurrence_equals_each_encoder_on_its_own(variant):
    """Level I runs every track in one recurrence, with the Siamese weights standing in for
    A and for B; it must give what each encoder gives on its own tracks, and the shared
    weights' gradient must be the sum over both cell types."""
    torch.manual_seed(0)
    model = models.build("deepdiff", n_marks=3, n_bins=12, variant=variant)
    x_a, x_b = torch.rand(5, 3, 12), torch.rand(5, 3, 12)
    out = model(x_a, x_b, return_attention=True)
    tracks = {"A": x_a, "B": x_b, "A-B": x_a - x_b}
    alphas, embeddings = [], []
    if "bins" in model.encoder:
        own = torch.cat([tracks[name] for name in model.own_tracks], dim=1)
        embedded, alpha = model.encoder["bins"](own)
        embeddings.append(embedded), alphas.append(alpha)
    if model.siamese:
        for x in (x_a, x_b):
            embedded, alpha = model.encoder["shared_bins"](x)
            embeddings.append(embedded), alphas.append(alpha)
        torch.testing.assert_close(out["embed_a"], embeddings[-2].flatten(1))
        torch.testing.assert_close(out["embed_b"], embeddings[-1].flatten(1))
    torch.testing.assert_close(out["alpha"], torch.cat(alphas, dim=1))
    if model.siamese:
        shared = model.encoder["shared_bins"]
        (out["embed_a"].sum() + 2 * out["embed_b"].sum()).backward()
        fused = shared.weight_hh.grad.clone()
        shared.weight_hh.grad = None
        (shared(x_a)[0].sum() + 2 * shared(x_b)[0].sum()).backward()
        torch.testing.assert_close(fused, shared.weight_hh.grad)


def test_deepdiff_aux_residual_adds_the_auxiliary_difference():
    torch.manual_seed(0)
    model = models.build("deepdiff", n_marks=3, n_bins=12, variant="raw_aux_siamese",
                         aux_residual=True)  # fmt: skip
    x_a, x_b = torch.rand(5, 3, 12), torch.rand(5, 3, 12)
    out = model(x_a, x_b)
    head = model.head["diff"](model.encode(x_a, x_b)).squeeze(-1)
    torch.testing.assert_close(out["diff"], head + out["aux_b"] - out["aux_a"])
    with pytest.raises(ValueError, match="aux_residual=True adds aux_b − aux_a.*'raw_d'"):
        models.build("deepdiff", n_marks=3, n_bins=12, variant="raw_d", aux_residual=True)


def test_deepdiff_auxiliary_variants_need_cell_type_targets():
    model = models.build("deepdiff", n_marks=2, n_bins=10, variant="aux")
    out = model(torch.rand(4, 2, 10), torch.rand(4, 2, 10))
    with pytest.raises(ValueError, match="target_a and target_b"):
        model.loss(out, torch.zeros(4))


def test_deepdiff_rejects_unknown_variant():
    with pytest.raises(ValueError, match="unknown DeepDiff variant 'siamese'"):
        models.build("deepdiff", n_marks=5, n_bins=200, variant="siamese")


def test_contrastive_loss_known_values():
    a = torch.zeros(2, 3)
    b = torch.tensor([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])  # distances 0 and 5
    same = torch.tensor([0.0, 0.0])
    different = torch.tensor([1.0, 1.0])
    # (1 - S) d² + S max(0, 2 - d)², averaged over the two pairs.
    assert models.contrastive_loss(a, b, same, margin=2).item() == pytest.approx(12.5, rel=1e-4)
    assert models.contrastive_loss(a, b, different, margin=2).item() == pytest.approx(2, rel=1e-4)


def test_deepdiff_siamese_term_uses_the_lfc_threshold():
    model = models.build("deepdiff", n_marks=2, n_bins=10, variant="aux_siamese")
    out = {
        "diff": torch.zeros(2),
        "aux_a": torch.zeros(2),
        "aux_b": torch.zeros(2),
        "embed_a": torch.zeros(2, 4),
        "embed_b": torch.zeros(2, 4),
    }
    # Identical embeddings: no cost when |LFC| < 2, margin² when |LFC| >= 2.
    terms = model.loss_terms(out, torch.tensor([1.9, -2.0]), torch.zeros(2), torch.zeros(2))
    assert terms["contrastive"].item() == pytest.approx(4.0 / 2, rel=1e-4)
    assert terms["total"].item() == pytest.approx(terms["diff"].item() + 4.0 * 2.0, rel=1e-4)


# --- learning a planted rule -------------------------------------------------------------------


def fit_steps(model, inputs, target, loss_function, steps, lr, done) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        model.train()
        optimizer.zero_grad()
        loss_function(model(*inputs), target).backward()
        optimizer.step()
        if step % 10 == 9:
            model.eval()
            with torch.no_grad():
                if done(model(*inputs)):
                    return


def training_accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float(((logits.squeeze(-1) > 0).float() == y).float().mean())


@pytest.mark.parametrize(
    ("name", "lr"), [("deepchrome", 1e-3), ("attentivechrome", 1e-2), ("transferchrome", 3e-3)]
)
def test_histone_models_learn_a_planted_rule(name, lr):
    torch.manual_seed(0)
    x, y = map(torch.from_numpy, planted_histone())
    model = small(name, 5, 40)

    def bce(logits, target):
        return nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), target)

    fit_steps(model, (x,), y, bce, 300, lr, lambda out: training_accuracy(out, y) >= 0.95)
    model.eval()
    with torch.no_grad():
        assert training_accuracy(model(x), y) >= 0.95


def test_chromtransfer_learns_a_planted_motif():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    bases = rng.integers(0, 4, size=(48, 50))
    y = np.tile([0.0, 1.0], 24).astype(np.float32)
    motif = np.array([2, 0, 3, 0, 1, 2])  # GATACG, at a random place in the positives
    for row in np.flatnonzero(y):
        start = rng.integers(0, 50 - len(motif))
        bases[row, start : start + len(motif)] = motif
    x = nn.functional.one_hot(torch.from_numpy(bases), 4).float()
    target = torch.from_numpy(y)
    model = models.build("chromtransfer", hidden=[32])

    def bce(logits, t):
        return nn.functional.binary_cross_entropy_with_logits(logits.squeeze(-1), t)

    fit_steps(model, (x,), target, bce, 200, 3e-3, lambda o: training_accuracy(o, target) >= 0.95)
    model.eval()
    with torch.no_grad():
        assert training_accuracy(model(x), target) >= 0.95


def test_deepdiff_learns_a_planted_difference():
    torch.manual_seed(0)
    x_a, _ = map(torch.from_numpy, planted_histone(64, 3, 20, seed=1))
    x_b, _ = map(torch.from_numpy, planted_histone(64, 3, 20, seed=2))
    target = (x_b[:, 0, 6:14] - x_a[:, 0, 6:14]).mean(-1)  # B's H3K4me3 over A's
    model = models.build("deepdiff", n_marks=3, n_bins=20, variant="raw_d")

    def mse(out, t):
        return nn.functional.mse_loss(out["diff"], t)

    def r2(out) -> float:
        return 1 - float(((out["diff"] - target) ** 2).mean() / target.var())

    fit_steps(model, (x_a, x_b), target, mse, 300, 1e-2, lambda out: r2(out) >= 0.9)
    model.eval()
    with torch.no_grad():
        assert r2(model(x_a, x_b)) >= 0.9


# --- scikit-learn baselines ---------------------------------------------------------------------


def planted_split(n: int = 400, n_bins: int = 20):
    x, y = planted_histone(n, 3, n_bins, seed=3)
    flip = np.random.default_rng(4).random(n) < 0.05  # a little label noise
    y = np.where(flip, 1 - y, y)
    return (x[: n // 2], y[: n // 2]), (x[n // 2 :], y[n // 2 :])


@pytest.mark.parametrize("name", ["logreg", "rf"])
def test_classification_baselines_recover_the_planted_rule(name):
    (x_train, y_train), (x_test, y_test) = planted_split()
    estimator = models.build(name).fit(x_train, y_train)
    assert roc_auc_score(y_test, estimator.predict_proba(x_test)[:, 1]) > 0.9


@pytest.mark.parametrize("name", ["svr", "svr2", "rf"])
def test_regression_baselines_recover_the_planted_rule(name):
    (x_train, y_train), (x_test, y_test) = planted_split()
    # A continuous target: the central H3K4me3 signal, which the labels threshold.
    value = np.log1p(x_train[:, 0, 6:14].mean(-1))
    estimator = models.build(name).fit(x_train, value)
    predicted = estimator.predict(x_test)
    assert predicted.shape == (len(x_test),)
    assert roc_auc_score(y_test, predicted) > 0.9


def test_best_bin_svr_chooses_a_planted_bin():
    (x_train, _), _ = planted_split()
    value = np.log1p(x_train[:, 0, 6:14].mean(-1))
    estimator = models.build("svr").fit(x_train, value)
    assert estimator.best_mark_ == 0 and 6 <= estimator.best_bin_ < 14


def test_baselines_refuse_flat_features():
    with pytest.raises(ValueError, match=r"\(samples, marks, bins\)"):
        models.build("logreg").fit(np.zeros((10, 20)), np.zeros(10))
