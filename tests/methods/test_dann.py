"""Tests for transfer_lab.methods.dann: gradient reversal, schedules and a digits -> rotated run."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from transfer_lab.methods.dann import (
    DANN,
    GradientReversalLayer,
    dann_lambda,
    dann_lr,
    grad_reverse,
    train_dann,
    train_source_only,
    train_target_supervised,
)
from transfer_lab.methods.encoders import MLPEncoder
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import TrainConfig
from transfer_lab.sources import pairs, splits
from transfer_lab.sources.digits import load_digits

SMALL = {"width": 8, "out_features": 16}


def _config(**overrides) -> TrainConfig:
    """The paper's DANN setting (SGD + momentum at lr0 = 0.01, no early stopping), batch 64."""
    settings = {"epochs": 60, "batch_size": 64, "lr": 0.01, "optimizer": "sgd", "momentum": 0.9,
                "weight_decay": 1e-4, "patience": None, "progress": False}
    return TrainConfig(**{**settings, **overrides})



@pytest.fixture(scope="module")
def pair():
    ds = load_digits()
    table = splits.stratified_split(ds.y, 0.2, 0.2, 0)
    return pairs.make_domain_pair(ds, table, "clean", [], "rotated", [{"op": "rotate", "degrees": 30}], 0)


@pytest.mark.parametrize("lam", [0.0, 0.3, 2.0])
def test_gradient_reversal_is_identity_forward_and_negates_backward(lam):
    x = torch.randn(4, 3, requires_grad=True)
    upstream = torch.randn(4, 3)
    y = grad_reverse(x, lam)
    assert torch.equal(y, x)
    (grad,) = torch.autograd.grad(y, x, upstream)
    torch.testing.assert_close(grad, -lam * upstream)
    layer = GradientReversalLayer(lam)
    (grad,) = torch.autograd.grad((layer(x) ** 2).sum(), x)
    torch.testing.assert_close(grad, -lam * 2 * x.detach())


def test_reversal_flips_only_the_encoder_gradient():
    seed_everything(0)
    model = DANN(MLPEncoder(5, hidden=(6,), out_features=4), n_classes=3, domain_hidden=8)
    x = torch.randn(8, 5)
    domains = torch.tensor([0.0] * 4 + [1.0] * 4)

    def grads(lam: float):
        model.zero_grad()
        model.grl.lambda_ = lam
        h = model.features(x)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model.domain_logits(h), domains)
        loss.backward()
        enc = [p.grad.clone() for p in model.encoder.parameters()]
        dom = [p.grad.clone() for p in model.domain.parameters()]
        return enc, dom

    enc_plain, dom_plain = grads(-1.0)  # -(-1) = +1: the ordinary gradient
    enc_rev, dom_rev = grads(0.5)
    for a, b in zip(enc_rev, enc_plain, strict=True):
        torch.testing.assert_close(a, -0.5 * b)
    for a, b in zip(dom_rev, dom_plain, strict=True):
        torch.testing.assert_close(a, b)  # the domain classifier itself is not reversed


def test_schedules_follow_the_paper():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert dann_lambda(0.25, gamma=4) == pytest.approx(2 / (1 + math.exp(-1)) - 1)
    assert dann_lr(0.0, 0.01) == 0.01
    assert dann_lr(1.0, 0.01) == pytest.approx(0.01 / 11**0.75)
    assert dann_lr(0.5, 1.0, alpha=2, beta=1) == pytest.approx(0.5)
    values = [dann_lambda(p) for p in np.linspace(0, 1, 11)]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="progress"):
        dann_lambda(1.5)


def test_dann_runs_on_digits_to_rotated_with_its_schedules(pair):
    seed_everything(0)
    config = _config(epochs=3, batch_size=64)
    result = train_dann(pair, encoder_kwargs=SMALL, config=config)
    n_batches = math.ceil(len(pair.source_train_index) / 64)
    assert len(result.schedule) == 3 * n_batches and result.history.epochs_run == 3
    ps = [s["p"] for s in result.schedule]
    assert ps[0] == 0.0 and ps[-1] == pytest.approx(1.0) and ps == sorted(ps)
    for s in result.schedule:
        assert s["lambda"] == pytest.approx(2 / (1 + math.exp(-10 * s["p"])) - 1)
        assert s["lr"] == pytest.approx(0.01 / (1 + 10 * s["p"]) ** 0.75)
    assert result.model.grl.lambda_ == pytest.approx(result.schedule[-1]["lambda"])
    for acc in (result.target_test_accuracy, result.target_val_accuracy,
                result.source_test_accuracy, result.source_val_accuracy):
        assert 0.0 <= acc <= 1.0
    assert result.method == "dann"


def test_references_use_the_right_labels(pair):
    seed_everything(0)
    config = _config(epochs=8, optimizer="adam", lr=3e-3, patience=None)
    source = train_source_only(pair, encoder_kwargs=SMALL, config=config)
    target = train_target_supervised(pair, encoder_kwargs=SMALL, config=config)
    assert source.method == "source_only" and target.method == "target_supervised"
    # Each is best on the domain it was trained on: the shift is real, the ceiling is a ceiling.
    assert source.source_test_accuracy > source.target_test_accuracy + 0.1
    assert target.target_test_accuracy > target.source_test_accuracy + 0.1
    assert target.target_test_accuracy > source.target_test_accuracy


def test_pair_is_checked():
    with pytest.raises(ValueError, match="missing attribute"):
        train_dann(SimpleNamespace(source_X=np.zeros((2, 1, 8, 8))), config=_config())
