"""Loss functions of the neural semi-supervised methods, one small function per loss.

Each docstring names the paper and the equation; ``tests/methods/semi_supervised/
test_losses.py`` checks each against a plain loop over that equation. All losses take
logits (not probabilities) and return a scalar mean over the batch unless said otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "entropy_loss",
    "mutual_information_loss",
    "sigmoid_rampup",
    "consistency_loss",
    "soft_cross_entropy",
    "sharpen",
    "pseudo_label_targets",
    "fixmatch_loss",
    "distillation_loss",
    "adversarial_direction",
    "vat_loss",
    "frozen_batchnorm_stats",
]

CONSISTENCY_KINDS = ("mse", "kl")
PSEUDO_LABEL_KINDS = ("hard", "soft", "sharpen")


def entropy_loss(logits: torch.Tensor) -> torch.Tensor:
    """Mean prediction entropy, the entropy-minimisation regulariser.

    Grandvalet, Y. and Bengio, Y. (2005). Semi-supervised learning by entropy minimization.
    NIPS 17, Eq. (7):  ``H = -(1/n) sum_i sum_c p_ic log p_ic`` with
    ``p_i = softmax(logits_i)``, added with weight λ to the supervised loss. Computed with
    ``log_softmax`` so that saturated predictions give 0, not NaN.
    """
    log_p = F.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(dim=1).mean()


def mutual_information_loss(logits: torch.Tensor, marginal_weight: float = 1.0) -> torch.Tensor:
    """Negative input-output mutual information, ``E[H(p)] - w H(E[p])``.

    Krause, A., Perona, P. and Gomes, R. (2010). Discriminative clustering by regularized
    information maximization (RIM). NIPS 23, Eq. (3):
    ``I(x; y) = H(p̄) - (1/n) sum_i H(p_i)`` with ``p̄ = (1/n) sum_i p_i``. Minimising the
    negative makes each prediction confident (small ``H(p_i)``) while keeping the classes
    balanced over the batch (large ``H(p̄)``), which stops entropy minimisation from putting
    everything in one class. ``marginal_weight`` (``w``) trades the two terms (1 = RIM).
    """
    log_p = F.log_softmax(logits, dim=1)
    p = log_p.exp()
    conditional = -(p * log_p).sum(dim=1).mean()
    p_mean = p.mean(dim=0)
    marginal = -(p_mean * torch.log(p_mean.clamp_min(1e-12))).sum()
    return conditional - marginal_weight * marginal


def sigmoid_rampup(progress: float, max_value: float = 1.0) -> float:
    """Gaussian ramp-up ``λ(t) = λ_max exp(-5 (1 - t)^2)`` for ``t = min(progress, 1)``.

    Laine, S. and Aila, T. (2017). Temporal ensembling for semi-supervised learning. ICLR,
    Section 3.1 / Appendix A: the unsupervised weight ramps up along this curve during the
    first epochs (80 in the paper), starting from ``λ_max e^-5`` (about 0.7% of it).
    ``progress`` is the elapsed fraction of the ramp-up period; ``progress >= 1`` gives
    ``max_value``. A period of zero length is handled by the caller (progress = 1).
    """
    t = min(max(float(progress), 0.0), 1.0)
    return float(max_value) * math.exp(-5.0 * (1.0 - t) ** 2)


def consistency_loss(
    logits: torch.Tensor, target_logits: torch.Tensor, kind: str = "mse"
) -> torch.Tensor:
    """Π-model consistency between two stochastic predictions of the same inputs.

    Laine & Aila (2017), Algorithm 1 (Π-model): ``(1/C) ||z_i - z̃_i||^2`` averaged over the
    batch, with ``z, z̃`` the softmax outputs of two augmented/dropout passes
    (``kind="mse"``). ``kind="kl"`` uses ``KL(p̃ || p) = sum_c p̃_c (log p̃_c - log p_c)``
    instead (as in VAT and the Mean-Teacher ablations). Gradients flow into both arguments;
    detach ``target_logits`` for a stop-gradient target.
    """
    if kind not in CONSISTENCY_KINDS:
        raise ValueError(f"kind must be one of {CONSISTENCY_KINDS}, got {kind!r}")
    if kind == "mse":
        p, q = F.softmax(logits, dim=1), F.softmax(target_logits, dim=1)
        return ((p - q) ** 2).sum(dim=1).mean() / logits.shape[1]
    log_p, log_q = F.log_softmax(logits, dim=1), F.log_softmax(target_logits, dim=1)
    return (log_q.exp() * (log_q - log_p)).sum(dim=1).mean()


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy with probability targets: ``-(1/n) sum_i w_i sum_c t_ic log p_ic``.

    ``weights`` (e.g. a 0/1 confidence mask) multiply each sample's term; the mean is over
    all ``n`` samples, as in FixMatch's Eq. (4), so masked-out samples count as zeros.
    """
    per_sample = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1)
    if weights is not None:
        per_sample = per_sample * weights
    return per_sample.mean()


def sharpen(p: torch.Tensor, temperature: float) -> torch.Tensor:
    """Temperature sharpening ``p_c^(1/T) / sum_k p_k^(1/T)``.

    Berthelot, D. et al. (2019). MixMatch: a holistic approach to semi-supervised learning.
    NeurIPS, Eq. (7). ``T -> 0`` approaches the one-hot argmax, ``T = 1`` leaves ``p``.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    # In log space: p^(1/T) underflows for small T and confident p.
    return F.softmax(torch.log(p.clamp_min(1e-30)) / temperature, dim=1)


def pseudo_label_targets(
    logits: torch.Tensor, kind: str = "hard", temperature: float = 0.5, threshold: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Targets and mask for online pseudo-labelling, computed without gradient.

    Lee, D.-H. (2013). Pseudo-label: the simple and efficient semi-supervised learning method
    for deep neural networks. ICML Workshop, Eq. (1): the hard pseudo-label
    ``y'_i = 1[c = argmax_k p_ik]``. ``kind="soft"`` uses ``p_i`` itself and
    ``kind="sharpen"`` uses :func:`sharpen` ``(p_i, T)``. The mask keeps samples whose
    highest probability is at least ``threshold`` (0 keeps all).

    Returns
    -------
    targets : torch.Tensor of shape (n, C)
    mask : torch.Tensor of shape (n,), float 0/1
    """
    if kind not in PSEUDO_LABEL_KINDS:
        raise ValueError(f"kind must be one of {PSEUDO_LABEL_KINDS}, got {kind!r}")
    with torch.no_grad():
        p = F.softmax(logits.detach(), dim=1)
        confidence, label = p.max(dim=1)
        mask = (confidence >= threshold).to(p.dtype)
        if kind == "hard":
            targets = F.one_hot(label, p.shape[1]).to(p.dtype)
        elif kind == "soft":
            targets = p
        else:
            targets = sharpen(p, temperature)
    return targets, mask


def fixmatch_loss(
    logits_strong: torch.Tensor, logits_weak: torch.Tensor, threshold: float = 0.95
) -> tuple[torch.Tensor, torch.Tensor]:
    """FixMatch's unlabeled loss and its confidence mask.

    Sohn, K. et al. (2020). FixMatch: simplifying semi-supervised learning with consistency
    and confidence. NeurIPS, Eq. (4):
    ``ℓ_u = (1/(μB)) sum_b 1[max(q_b) >= τ] H(q̂_b, p(y | A(u_b)))`` with
    ``q_b = p(y | α(u_b))`` the (gradient-free) prediction on the weak augmentation,
    ``q̂_b = argmax q_b`` and ``A(u_b)`` the strong augmentation.

    Returns
    -------
    loss : scalar torch.Tensor
    mask : torch.Tensor of shape (n,), float 0/1 (which samples got a pseudo-label)
    """
    targets, mask = pseudo_label_targets(logits_weak, "hard", threshold=threshold)
    return soft_cross_entropy(logits_strong, targets, mask), mask


def distillation_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """Knowledge distillation with temperature.

    Hinton, G., Vinyals, O. and Dean, J. (2015). Distilling the knowledge in a neural
    network. Section 2: the student matches the teacher's tempered distribution
    ``softmax(z_t / T)`` with its own ``softmax(z_s / T)``; the gradients scale as ``1/T^2``
    so the loss is multiplied by ``T^2``:
    ``T^2 (1/n) sum_i KL(softmax(z_t,i / T) || softmax(z_s,i / T))``.
    SimCLRv2 (Chen et al. 2020, Eq. 3) uses the same cross-entropy on unlabeled data; KL
    differs from it only by the teacher's entropy, a constant for the student.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_s = F.log_softmax(student_logits / temperature, dim=1)
    log_t = F.log_softmax(teacher_logits.detach() / temperature, dim=1)
    kl = (log_t.exp() * (log_t - log_s)).sum(dim=1).mean()
    return kl * temperature**2


def _kl_from_logits(target_logits: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Mean ``KL(softmax(target) || softmax(logits))`` over the batch."""
    log_t = F.log_softmax(target_logits, dim=1)
    return (log_t.exp() * (log_t - F.log_softmax(logits, dim=1))).sum(dim=1).mean()


def _l2_normalize(d: torch.Tensor) -> torch.Tensor:
    """Unit L2 norm per sample. Dividing by the max first (as in Miyato et al.'s code) keeps
    tiny power-iteration gradients from underflowing when squared."""
    flat = d.flatten(1)
    flat = flat / (flat.abs().amax(dim=1, keepdim=True) + 1e-12)
    flat = flat / (flat.norm(dim=1, keepdim=True) + 1e-12)
    return flat.view_as(d)


@contextmanager
def frozen_batchnorm_stats(model: nn.Module) -> Iterator[nn.Module]:
    """Keep BatchNorm running statistics unchanged during the extra forward passes.

    Used around every forward pass that :func:`vat_loss` and :func:`adversarial_direction`
    make themselves (the caller's ordinary pass is the one that should update them). VAT's
    perturbed passes must not pull the running mean/variance towards adversarial
    inputs; setting ``momentum = 0`` keeps them while the batch statistics are still used
    for normalisation in train mode.
    """
    saved = []
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            tracked = None if m.num_batches_tracked is None else m.num_batches_tracked.clone()
            saved.append((m, m.momentum, tracked))
            m.momentum = 0.0
    try:
        yield model
    finally:
        for m, momentum, tracked in saved:
            m.momentum = momentum
            if tracked is not None:
                # The counter drives the cumulative average of momentum=None layers.
                m.num_batches_tracked.copy_(tracked)


def adversarial_direction(
    model: nn.Module,
    x: torch.Tensor,
    xi: float = 1e-6,
    n_power: int = 1,
    logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """Unit-norm direction that most increases ``KL(p(x) || p(x + r))``, by power iteration.

    Miyato, T., Maeda, S., Koyama, M. and Ishii, S. (2018). Virtual adversarial training: a
    regularization method for supervised and semi-supervised learning. IEEE TPAMI,
    Eq. (14)-(15): the second-order approximation makes ``r_vadv`` the dominant eigenvector
    of the Hessian ``H`` of the KL at ``r = 0``; starting from a random unit ``d``, each
    power step sets ``d <- normalize(∇_r KL(p(x) || p(x + r)) |_{r = ξ d})``, which is
    ``≈ normalize(H d)``. ``ξ`` is the finite-difference step of that approximation.

    Parameters
    ----------
    model : nn.Module
        Returns logits.
    x : torch.Tensor
    xi : float, default 1e-6
        The paper's ξ.
    n_power : int, default 1
        Power iterations (the paper found one sufficient).
    logits : torch.Tensor, optional
        ``model(x)`` if already computed; treated as a constant target.

    Returns
    -------
    torch.Tensor
        Same shape as ``x``, unit L2 norm per sample, no gradient.
    """
    if n_power < 1:
        raise ValueError(f"n_power must be >= 1, got {n_power}")
    with frozen_batchnorm_stats(model):
        if logits is None:
            with torch.no_grad():
                logits = model(x)
        target = logits.detach()
        d = _l2_normalize(torch.randn_like(x))
        for _ in range(n_power):
            d = d.detach().requires_grad_(True)
            kl = _kl_from_logits(target, model(x + xi * d))
            (grad,) = torch.autograd.grad(kl, d)
            d = _l2_normalize(grad.detach())
    return d.detach()


def vat_loss(
    model: nn.Module,
    x: torch.Tensor,
    xi: float = 1e-6,
    eps: float = 1.0,
    n_power: int = 1,
    logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """Local distributional smoothness loss of VAT.

    Miyato et al. (2018), Eq. (5) and (15):
    ``LDS(x, θ) = KL(p(y | x, θ̂) || p(y | x + r_vadv, θ))`` with
    ``r_vadv = ε · adversarial_direction(x)`` and ``θ̂`` the current parameters held fixed
    (the clean prediction is a constant target). Mean over the batch.

    Parameters
    ----------
    model : nn.Module
    x : torch.Tensor
    xi : float, default 1e-6
        Finite-difference step of the power iteration.
    eps : float, default 1.0
        L2 norm of the adversarial perturbation per sample (the paper's ε; it used 2.0 for
        784-pixel MNIST, so about 0.5-1.0 suits 64-pixel digits).
    n_power : int, default 1
    logits : torch.Tensor, optional
        ``model(x)`` if already computed (used detached).
    """
    with frozen_batchnorm_stats(model):
        if logits is None:
            with torch.no_grad():
                logits = model(x)
        target = logits.detach()
        d = adversarial_direction(model, x, xi=xi, n_power=n_power, logits=target)
        return _kl_from_logits(target, model(x + eps * d))
