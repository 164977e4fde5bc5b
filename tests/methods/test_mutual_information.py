"""MI estimators against closed forms: correlated Gaussians, I = -d/2 log(1 - rho^2)."""

import math

import pytest
import torch
from torch import nn

from transfer_lab.methods import mutual_information as mi

RHO, D = 0.8, 1
TRUE_MI = -D / 2 * math.log(1 - RHO**2)  # 0.511 nats
TOLERANCE = 0.1  # nats; a 300-step critic on batches of 64, scored on 512 fresh pairs


def _sample(n, generator):
    x = torch.randn(n, D, generator=generator)
    return x, RHO * x + math.sqrt(1 - RHO**2) * torch.randn(n, D, generator=generator)


def _scores(critic, x, y):
    """scores[i, j] = T(x_i, y_j): diagonal joint, off-diagonal product of marginals."""
    n = len(x)
    pairs = torch.cat([x[:, None, :].expand(n, n, D), y[None, :, :].expand(n, n, D)], dim=-1)
    return critic(pairs).squeeze(-1)


def _train(objective, steps=300, batch=64):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    critic = nn.Sequential(nn.Linear(2 * D, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    optimizer = torch.optim.Adam(critic.parameters(), lr=3e-3)
    state = {"ma": None}
    for _ in range(steps):
        loss = -objective(_scores(critic, *_sample(batch, generator)), state)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return _scores(critic, *_sample(512, torch.Generator().manual_seed(1)))


def _mine(scores, state):
    joint, marginal = mi.pair_scores(scores)
    surrogate, state["ma"] = mi.mine_surrogate(joint, marginal, state["ma"], rate=0.05)
    return surrogate


def test_mine_critic_recovers_the_gaussian_mi_through_the_dv_bound():
    joint, marginal = mi.pair_scores(_train(_mine))
    assert abs(mi.dv_bound(joint, marginal).item() - TRUE_MI) < TOLERANCE


def test_jsd_critic_is_the_log_density_ratio_so_its_joint_mean_is_the_mi():
    joint, _ = mi.pair_scores(_train(lambda s, _: mi.estimate("jsd", s)))
    assert abs(joint.mean().item() - TRUE_MI) < TOLERANCE


def test_infonce_critic_recovers_the_gaussian_mi():
    assert abs(mi.infonce_bound(_train(lambda s, _: mi.estimate("infonce", s))).item() - TRUE_MI) < TOLERANCE


def test_untrained_critic_estimates_are_far_from_the_mi():
    """The tolerance above is meaningful: a constant critic gives DV = InfoNCE = 0."""
    scores = torch.zeros(64, 64)
    assert abs(mi.estimate("dv", scores).item() - TRUE_MI) > TOLERANCE
    assert abs(mi.estimate("infonce", scores).item() - TRUE_MI) > TOLERANCE


@pytest.mark.parametrize("scale", [0.1, 10.0, 1e4])
def test_infonce_never_exceeds_log_n(scale):
    generator = torch.Generator().manual_seed(3)
    for n, m in [(2, 2), (16, 16), (8, 40)]:
        scores = scale * torch.randn(n, m, generator=generator)
        scores.diagonal().add_(scale * 5)  # even strongly separated positives
        assert mi.infonce_bound(scores).item() <= math.log(m) + 1e-6


def test_estimators_match_a_loop_over_their_equations():
    generator = torch.Generator().manual_seed(4)
    s = torch.randn(5, 5, generator=generator)
    joint = [s[i, i].item() for i in range(5)]
    marginal = [s[i, j].item() for i in range(5) for j in range(5) if i != j]
    sp = lambda z: math.log1p(math.exp(z))  # noqa: E731
    dv = sum(joint) / 5 - math.log(sum(math.exp(t) for t in marginal) / 20)
    jsd = sum(-sp(-t) for t in joint) / 5 - sum(sp(t) for t in marginal) / 20
    nce = math.log(5) + sum(s[i, i].item() - math.log(sum(math.exp(s[i, j].item()) for j in range(5))) for i in range(5)) / 5
    assert mi.estimate("dv", s).item() == pytest.approx(dv, abs=1e-5)
    assert mi.estimate("jsd", s).item() == pytest.approx(jsd, abs=1e-5)
    assert mi.estimate("infonce", s).item() == pytest.approx(nce, abs=1e-5)


def test_mine_surrogate_has_the_moving_average_corrected_gradient():
    """grad = mean grad T_joint - mean(e^T grad T_marg) / mu_t, mu_t = (1-a) mu_{t-1} + a mean e^T."""
    w = torch.tensor(0.7, requires_grad=True)
    a, b = torch.tensor([0.5, -1.0, 2.0]), torch.tensor([1.0, 0.3, -0.4, 2.5])
    surrogate, mu = mi.mine_surrogate(w * a, w * b, torch.tensor(3.0), rate=0.1)
    surrogate.backward()
    e = torch.exp(0.7 * b)
    expected_mu = 0.9 * 3.0 + 0.1 * e.mean().item()
    assert mu.item() == pytest.approx(expected_mu, rel=1e-6)
    assert w.grad.item() == pytest.approx(a.mean().item() - (e * b).mean().item() / expected_mu, rel=1e-5)
    assert not mu.requires_grad


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        mi.estimate("kl", torch.zeros(3, 3))
    with pytest.raises(ValueError):
        mi.infonce_bound(torch.zeros(4, 2))
    with pytest.raises(ValueError):
        mi.mine_surrogate(torch.zeros(2), torch.zeros(2), None, rate=0.0)
