r"""Neural estimators of mutual information from the scores of a critic (statistics network).

A critic :math:`T_\omega(x, y)` scores pairs. *Joint* scores come from pairs drawn together,
:math:`(x, y) \sim \mathbb{P}_{XY}`; *marginal* scores from pairs drawn apart,
:math:`(x, \tilde y) \sim \mathbb{P}_X \otimes \mathbb{P}_Y` (in a batch: ``y`` shuffled or
every off-diagonal pair). Each function below is a lower bound on, or a surrogate of,
:math:`I(X; Y)` as a plain function of those scores; maximise it over the critic (and the
encoder that feeds it) by minimising its negative.

* :func:`dv_bound`: the Donsker–Varadhan representation of the KL divergence (Donsker &
  Varadhan 1983; MINE, Belghazi et al. 2018, eq. 2 / Theorem 1; the seed chapter's eq. 6.6–6.7)

  .. math:: I(X;Y) \ge \hat I_{DV} = \mathbb{E}_{\mathbb{P}}[T] - \log \mathbb{E}_{\mathbb{P}\otimes\mathbb{P}}[e^{T}] .

* :func:`mine_surrogate`: MINE's bias-corrected gradient (Belghazi et al. 2018, Sec. 3.2):
  the minibatch gradient of :math:`\log \bar{e^T}` is biased; MINE divides the gradient of
  the mean of :math:`e^T` by a moving average of that mean instead of by the minibatch mean.
* :func:`jsd_bound`: the Jensen–Shannon estimator Deep InfoMax uses (Hjelm et al. 2019,
  eq. 4; Nowozin et al. 2016's f-GAN form)

  .. math:: \hat I_{JSD} = \mathbb{E}_{\mathbb{P}}[-\mathrm{sp}(-T)] - \mathbb{E}_{\mathbb{P}\otimes\mathbb{P}}[\mathrm{sp}(T)],
     \qquad \mathrm{sp}(z) = \log(1 + e^z),

  a bound on :math:`2\,\mathrm{JSD} - 2\log 2` rather than on the MI in nats; its optimal
  critic is :math:`T^* = \log \frac{p(x,y)}{p(x)p(y)}`, so :math:`\mathbb{E}_{\mathbb{P}}[T^*] = I`.
* :func:`infonce_bound`: InfoNCE (van den Oord et al. 2018, eq. 4; Hjelm et al. 2019, eq. 5)
  over an :math:`N \times N` score matrix whose diagonal holds the joint pairs

  .. math:: \hat I_{NCE} = \log N + \frac{1}{N}\sum_i \Big[ s_{ii} - \log \sum_j e^{s_{ij}} \Big] \le \log N .

:func:`estimate` names them for the methods that let a parameter choose (Deep InfoMax).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["ESTIMATORS", "dv_bound", "mine_surrogate", "jsd_bound", "infonce_bound", "pair_scores", "estimate"]

#: the estimators :func:`estimate` knows, by name
ESTIMATORS = ("jsd", "dv", "infonce")


def _check(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> None:
    if t_joint.numel() == 0 or t_marginal.numel() == 0:
        raise ValueError("joint and marginal scores must both be non-empty")


def _log_mean_exp(t: torch.Tensor) -> torch.Tensor:
    return torch.logsumexp(t.reshape(-1), dim=0) - math.log(t.numel())


def dv_bound(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> torch.Tensor:
    r"""Donsker–Varadhan lower bound :math:`\mathbb{E}_P[T] - \log \mathbb{E}_{P \otimes P}[e^T]`
    (MINE, Belghazi et al. 2018, eq. 2), with the expectations as means over the scores.

    Parameters
    ----------
    t_joint : torch.Tensor, any shape
        Critic scores of joint pairs.
    t_marginal : torch.Tensor, any shape
        Critic scores of pairs drawn from the product of the marginals.
    """
    _check(t_joint, t_marginal)
    return t_joint.mean() - _log_mean_exp(t_marginal)


def mine_surrogate(
    t_joint: torch.Tensor, t_marginal: torch.Tensor, moving_average: torch.Tensor | float | None, rate: float = 0.01
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""MINE's bias-corrected objective (Belghazi et al. 2018, Sec. 3.2, Algorithm 1).

    The gradient of the DV bound is :math:`\mathbb{E}_P[\nabla T] - \mathbb{E}_{P\otimes P}[e^T \nabla T] / \mathbb{E}_{P\otimes P}[e^T]`;
    estimating the denominator with the same minibatch biases it. MINE replaces it by an
    exponential moving average :math:`\mu_t = (1 - \alpha)\mu_{t-1} + \alpha \overline{e^T}`.
    The returned surrogate :math:`\overline{T}_{joint} - \overline{e^T}_{marg} / \mu_t` (with
    :math:`\mu_t` held constant) has exactly that corrected gradient; its *value* is not an MI
    estimate (use :func:`dv_bound` for that).

    Parameters
    ----------
    t_joint, t_marginal : torch.Tensor
        Critic scores of joint and marginal pairs.
    moving_average : tensor, float or None
        :math:`\mu_{t-1}`; ``None`` on the first step (then :math:`\mu_t` is the batch mean).
    rate : float, default 0.01
        :math:`\alpha \in (0, 1]`.

    Returns
    -------
    surrogate : torch.Tensor
        Maximise it (minimise its negative).
    moving_average : torch.Tensor
        :math:`\mu_t`, detached, to pass to the next step.
    """
    _check(t_joint, t_marginal)
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"rate must be in (0, 1], got {rate}")
    batch_mean = torch.exp(t_marginal).mean()
    if moving_average is None:
        mu = batch_mean.detach()
    else:
        mu = (1.0 - rate) * torch.as_tensor(moving_average, dtype=batch_mean.dtype, device=batch_mean.device) + rate * batch_mean.detach()
    return t_joint.mean() - batch_mean / mu, mu


def jsd_bound(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> torch.Tensor:
    r"""Jensen–Shannon estimator of Deep InfoMax (Hjelm et al. 2019, eq. 4):
    :math:`\mathbb{E}_P[-\mathrm{sp}(-T)] - \mathbb{E}_{P\otimes P}[\mathrm{sp}(T)]`, at most 0."""
    _check(t_joint, t_marginal)
    return (-F.softplus(-t_joint)).mean() - F.softplus(t_marginal).mean()


def infonce_bound(scores: torch.Tensor) -> torch.Tensor:
    r"""InfoNCE lower bound (van den Oord et al. 2018, eq. 4) of an ``(N, M)`` score matrix,
    ``M >= N``: row ``i``'s joint pair is column ``i``, the other columns its negatives.

    :math:`\log M + \frac{1}{N}\sum_i [s_{ii} - \log\sum_j e^{s_{ij}}]`, which never exceeds
    :math:`\log M` (each bracket is a log-probability).
    """
    if scores.dim() != 2 or scores.shape[0] > scores.shape[1] or scores.shape[0] == 0:
        raise ValueError(f"scores must be (N, M) with 0 < N <= M, got {tuple(scores.shape)}")
    n, m = scores.shape
    log_prob = scores.diagonal() - torch.logsumexp(scores, dim=1)
    return math.log(m) + log_prob.mean()


def pair_scores(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Joint (diagonal) and marginal (off-diagonal) entries of a square ``(N, N)`` score matrix
    ``scores[i, j] = T(x_i, y_j)``: every other example of the batch is a draw from the marginal."""
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1] or scores.shape[0] < 2:
        raise ValueError(f"scores must be square (N, N) with N >= 2, got {tuple(scores.shape)}")
    eye = torch.eye(scores.shape[0], dtype=torch.bool, device=scores.device)
    return scores[eye], scores[~eye]


def estimate(name: str, scores: torch.Tensor) -> torch.Tensor:
    """The estimator ``name`` (``jsd``, ``dv`` or ``infonce``) of a square score matrix whose
    diagonal holds the joint pairs (:func:`pair_scores`)."""
    if name == "infonce":
        return infonce_bound(scores)
    if name not in ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r}; allowed: {', '.join(ESTIMATORS)}")
    joint, marginal = pair_scores(scores)
    return jsd_bound(joint, marginal) if name == "jsd" else dv_bound(joint, marginal)
