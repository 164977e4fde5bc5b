"""Each loss against a plain Python loop over its paper's equation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from transfer_lab.methods.semi_supervised.losses import (
    adversarial_direction,
    consistency_loss,
    distillation_loss,
    entropy_loss,
    fixmatch_loss,
    frozen_batchnorm_stats,
    mutual_information_loss,
    pseudo_label_targets,
    sharpen,
    sigmoid_rampup,
    soft_cross_entropy,
    vat_loss,
)


@pytest.fixture
def logits():
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 4, generator=g, dtype=torch.float64) * 2


def _softmax_rows(z):
    out = []
    for row in z.tolist():
        m = max(row)
        e = [math.exp(v - m) for v in row]
        s = sum(e)
        out.append([v / s for v in e])
    return out


def _entropy(p):
    return -sum(v * math.log(v) for v in p if v > 0)


def test_entropy_loss_matches_loop(logits):
    p = _softmax_rows(logits)
    expected = sum(_entropy(row) for row in p) / len(p)
    assert entropy_loss(logits).item() == pytest.approx(expected, rel=1e-10)
    # saturated predictions give 0, not NaN
    assert entropy_loss(torch.tensor([[1000.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("w", [1.0, 0.5])
def test_mutual_information_loss_matches_loop(logits, w):
    p = _softmax_rows(logits)
    n, c = len(p), len(p[0])
    conditional = sum(_entropy(row) for row in p) / n
    p_mean = [sum(p[i][k] for i in range(n)) / n for k in range(c)]
    expected = conditional - w * _entropy(p_mean)
    assert mutual_information_loss(logits, w).item() == pytest.approx(expected, rel=1e-10)
    # One confident class for everything: zero MI; confident and balanced: -log C.
    same = torch.tensor([[50.0, 0.0]] * 4, dtype=torch.float64)
    balanced = torch.tensor([[50.0, 0.0], [0.0, 50.0]] * 2, dtype=torch.float64)
    assert mutual_information_loss(same).item() == pytest.approx(0.0, abs=1e-9)
    assert mutual_information_loss(balanced).item() == pytest.approx(-math.log(2), abs=1e-9)


def test_sigmoid_rampup():
    assert sigmoid_rampup(0.0, 10.0) == pytest.approx(10 * math.exp(-5))
    assert sigmoid_rampup(0.5, 10.0) == pytest.approx(10 * math.exp(-5 * 0.25))
    assert sigmoid_rampup(1.0, 10.0) == 10.0
    assert sigmoid_rampup(3.0, 10.0) == 10.0
    values = [sigmoid_rampup(t / 10) for t in range(11)]
    assert values == sorted(values)


def test_consistency_losses_match_loops(logits):
    other = logits.flip(0)
    p, q = _softmax_rows(logits), _softmax_rows(other)
    n, c = len(p), len(p[0])
    mse = sum(sum((p[i][k] - q[i][k]) ** 2 for k in range(c)) for i in range(n)) / n / c
    kl = sum(sum(q[i][k] * math.log(q[i][k] / p[i][k]) for k in range(c)) for i in range(n)) / n
    assert consistency_loss(logits, other, "mse").item() == pytest.approx(mse, rel=1e-10)
    assert consistency_loss(logits, other, "kl").item() == pytest.approx(kl, rel=1e-10)
    assert consistency_loss(logits, logits, "kl").item() == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="kind"):
        consistency_loss(logits, other, "l1")


def test_soft_cross_entropy_and_sharpen_match_loops(logits):
    targets = torch.softmax(logits.flip(1), dim=1)
    weights = torch.tensor([1.0, 0.0, 1.0, 0.5, 0.0, 1.0], dtype=torch.float64)
    p = _softmax_rows(logits)
    t = targets.tolist()
    expected = sum(
        -weights[i].item() * sum(t[i][k] * math.log(p[i][k]) for k in range(4)) for i in range(6)
    ) / 6
    assert soft_cross_entropy(logits, targets, weights).item() == pytest.approx(expected)

    probs = torch.softmax(logits, dim=1)
    T = 0.5
    for i, row in enumerate(probs.tolist()):
        powered = [v ** (1 / T) for v in row]
        expected_row = [v / sum(powered) for v in powered]
        np.testing.assert_allclose(sharpen(probs, T)[i].numpy(), expected_row, rtol=1e-10)
    torch.testing.assert_close(sharpen(probs, 1.0), probs)
    assert sharpen(probs, 1e-3).max(dim=1).values.min().item() == pytest.approx(1.0)


def test_pseudo_label_targets(logits):
    probs = torch.softmax(logits, dim=1)
    hard, mask = pseudo_label_targets(logits, "hard", threshold=0.6)
    for i in range(6):
        assert hard[i].argmax().item() == probs[i].argmax().item()
        assert hard[i].sum().item() == 1.0
        assert mask[i].item() == float(probs[i].max().item() >= 0.6)
    soft, mask_all = pseudo_label_targets(logits, "soft")
    torch.testing.assert_close(soft, probs)
    assert mask_all.sum().item() == 6
    sharp, _ = pseudo_label_targets(logits, "sharpen", temperature=0.5)
    torch.testing.assert_close(sharp, sharpen(probs, 0.5))
    assert not pseudo_label_targets(logits.requires_grad_(), "soft")[0].requires_grad


def test_fixmatch_loss_matches_loop(logits):
    strong = logits.flip(0)
    loss, mask = fixmatch_loss(strong, logits, threshold=0.7)
    pw, ps = _softmax_rows(logits), _softmax_rows(strong)
    total = 0.0
    for i in range(6):
        if max(pw[i]) >= 0.7:
            total += -math.log(ps[i][pw[i].index(max(pw[i]))])
    assert loss.item() == pytest.approx(total / 6)  # mean over all μB rows (Eq. 4)
    assert mask.sum().item() == sum(max(r) >= 0.7 for r in pw)


@pytest.mark.parametrize("T", [1.0, 4.0])
def test_distillation_loss_matches_loop(logits, T):
    teacher = logits.flip(1) * 1.5
    ps, pt = _softmax_rows(logits / T), _softmax_rows(teacher / T)
    kl = sum(sum(pt[i][k] * math.log(pt[i][k] / ps[i][k]) for k in range(4)) for i in range(6)) / 6
    assert distillation_loss(logits, teacher, T).item() == pytest.approx(T * T * kl, rel=1e-10)
    # Student gradient at T: T^2 * (1/T) (p_s - p_t) / n = T (p_s - p_t) / n.
    student = logits.clone().requires_grad_(True)
    distillation_loss(student, teacher, T).backward()
    expected = T * (torch.tensor(ps) - torch.tensor(pt)) / 6
    torch.testing.assert_close(student.grad, expected.to(student.grad.dtype))


def _small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 3))
    return net.double()


def test_adversarial_direction_finds_top_hessian_eigenvector():
    """For a linear model, H = A^T (diag(p) - p p^T) A: power iteration must align with
    its top eigenvector."""
    torch.manual_seed(0)
    A = torch.randn(3, 16, dtype=torch.float64)
    model = nn.Linear(16, 3, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(A)
    x = torch.randn(1, 16, dtype=torch.float64)
    p = torch.softmax(model(x), dim=1)[0]
    H = A.T @ (torch.diag(p) - torch.outer(p, p)) @ A
    top = torch.linalg.eigh(H).eigenvectors[:, -1]
    d = adversarial_direction(model, x, xi=1e-6, n_power=20)
    assert d.norm().item() == pytest.approx(1.0)
    assert abs(torch.dot(d[0], top).item()) > 0.999


def test_vat_direction_beats_a_random_direction():
    model = _small_net()
    x = torch.rand(64, 1, 4, 4, dtype=torch.float64)
    with torch.no_grad():
        clean = torch.log_softmax(model(x), dim=1)

    def kl_at(r):
        with torch.no_grad():
            q = torch.log_softmax(model(x + r), dim=1)
        return (clean.exp() * (clean - q)).sum(dim=1)

    eps = 0.5
    d = adversarial_direction(model, x, xi=1e-6, n_power=1)
    norms = d.flatten(1).norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))
    rand = torch.randn_like(x)
    rand = rand / rand.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    adv_kl, rand_kl = kl_at(eps * d), kl_at(eps * rand)
    assert adv_kl.mean() > 5 * rand_kl.mean()
    assert (adv_kl > rand_kl).float().mean() > 0.9

    # vat_loss is KL(p(x) || p(x + eps d)) for the direction drawn with the same seed.
    torch.manual_seed(3)
    loss = vat_loss(model, x, xi=1e-6, eps=eps, n_power=1)
    torch.manual_seed(3)
    d3 = adversarial_direction(model, x, xi=1e-6, n_power=1)
    assert loss.item() == pytest.approx(kl_at(eps * d3).mean().item(), rel=1e-8)
    assert loss.requires_grad  # gradients flow into the perturbed branch


def test_vat_keeps_batchnorm_running_stats():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.BatchNorm1d(8), nn.Linear(8, 3))
    model.train()
    bn = model[2]
    x = torch.rand(32, 1, 4, 4)
    with torch.no_grad():
        model(x)  # one ordinary pass moves the statistics
    before = bn.running_mean.clone(), bn.running_var.clone()
    vat_loss(model, x, eps=1.0, n_power=2)
    torch.testing.assert_close(bn.running_mean, before[0])
    torch.testing.assert_close(bn.running_var, before[1])
    assert bn.momentum == 0.1  # restored
    with frozen_batchnorm_stats(model):
        assert bn.momentum == 0.0
