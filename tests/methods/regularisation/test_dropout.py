"""Dropout's inference rules against the exact expectation over masks; bagging."""

import itertools

import numpy as np
import torch
from torch import nn

from transfer_lab.methods.regularisation import dropout
from transfer_lab.methods.regularisation.protocol import Setting, run_bagging, run_dropout
from transfer_lab.methods.training import TrainConfig

P = 0.3  # drop probability


def _linear_dropout_model(d=4, classes=3):
    torch.manual_seed(0)
    return nn.Sequential(nn.Dropout(P), nn.Linear(d, classes)).double()


def test_the_expectation_over_all_masks_is_the_weight_scaled_output_for_a_linear_model():
    model, x = _linear_dropout_model(), torch.rand(2, 4, dtype=torch.float64)
    linear = model[1]
    expected_logits, log_geometric = 0.0, 0.0
    for mask in itertools.product([0, 1], repeat=4):  # every sub-network, weighted by its probability
        m = torch.tensor(mask, dtype=torch.float64)
        weight = (1 - P) ** m.sum() * P ** (4 - m.sum())
        logits = linear(x * m / (1 - P))  # inverted dropout: kept inputs scaled by 1/(1-p)
        expected_logits = expected_logits + weight * logits
        log_geometric = log_geometric + weight * torch.log_softmax(logits, -1)
    scaled = dropout.weight_scaled_logits(model, x)
    torch.testing.assert_close(expected_logits, scaled)
    # the renormalised geometric mean of the sub-networks' softmax is softmax(weight-scaled logits)
    torch.testing.assert_close(torch.softmax(log_geometric, -1), torch.softmax(scaled, -1))


def test_monte_carlo_averages_converge_to_the_weight_scaled_output_for_a_linear_model():
    model, x = _linear_dropout_model(), torch.rand(3, 4, dtype=torch.float64)
    target = torch.softmax(dropout.weight_scaled_logits(model, x), -1)
    errors = []
    for n in (10, 100, 10_000):
        errors.append((dropout.mc_dropout_proba(model, x, n, seed=1, average="geometric") - target).abs().max().item())
    assert errors[-1] < 0.01 and errors[-1] < errors[0]
    logits = dropout.mc_dropout_logits(model, x, 10_000, seed=2)
    standard_error = logits.std(0) / 100
    assert ((logits.mean(0) - dropout.weight_scaled_logits(model, x)).abs() < 4 * standard_error + 1e-12).all()
    model.train()  # the caller's mode is restored after sampling
    dropout.mc_dropout_logits(model, x, 2)
    assert model.training
    model.eval()
    dropout.mc_dropout_logits(model, x, 2)
    assert not model.training and not model[0].training


def test_mc_masks_are_reproducible_and_vary_between_samples():
    model, x = _linear_dropout_model(), torch.rand(3, 4, dtype=torch.float64)
    a, b = dropout.mc_dropout_logits(model, x, 5, seed=3), dropout.mc_dropout_logits(model, x, 5, seed=3)
    torch.testing.assert_close(a, b)
    assert (a[0] != a[1]).any()


def test_bootstrap_samples_draw_n_rows_with_replacement():
    samples = dropout.bootstrap_indices(50, 4, seed=0)
    assert len(samples) == 4 and all(len(s) == 50 and s.max() < 50 for s in samples)
    assert all(len(np.unique(s)) < 50 for s in samples)  # some rows repeat (P(no repeat) ~ 1e-21)
    assert not np.array_equal(samples[0], samples[1])


def test_ensemble_probability_is_the_mean_of_the_members_softmax():
    torch.manual_seed(0)
    members, x = [nn.Linear(4, 3) for _ in range(3)], torch.rand(5, 4)
    want = torch.stack([torch.softmax(m(x), -1) for m in members]).mean(0)
    torch.testing.assert_close(dropout.ensemble_proba(members, x), want.detach())


def test_dropout_and_bagging_runners_on_digits(digits_view):
    setting = Setting(TrainConfig(epochs=15, batch_size=64, lr=3e-3, patience=None, progress=False), n_classes=10, hidden=(64,))
    results = run_dropout(digits_view, setting, p=0.5, input_p=0.2, mc_samples=10)
    scaled, mc = results["dropout_weight_scaling"], results["dropout_mc"]
    assert scaled["accuracy"][1] > 0.85 and mc["accuracy"][1] > 0.85
    assert np.isclose(mc["gap_to_weight_scaling"][1], mc["accuracy"][1] - scaled["accuracy"][1])
    bagged = run_bagging(digits_view, setting, k=3)["bagging"]
    assert bagged["accuracy"][1] > 0.85 and 0.5 < bagged["member_accuracy"][1] <= 1
