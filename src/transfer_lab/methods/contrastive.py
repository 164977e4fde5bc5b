"""Contrastive pretraining: SimCLR, MoCo and supervised contrastive learning.

Three losses, one small function each (the equation and the paper in the docstring), and for
each a ``pretrain_*`` function that trains an encoder with :func:`~transfer_lab.methods.
training.fit` and a ``step_fn``, fed by batched augmentation on the device
(:class:`~transfer_lab.methods.augment.Augmenter`):

* :func:`nt_xent` / :func:`pretrain_simclr`: SimCLR (Chen et al. 2020), two views per image,
  the other 2(N - 1) views of the batch as negatives;
* :func:`info_nce` / :class:`MoCo` / :func:`pretrain_moco`: MoCo (He et al. 2020), a
  momentum key encoder and a FIFO queue of keys as negatives;
* :func:`supcon_loss` / :func:`pretrain_supcon`: supervised contrastive learning (Khosla et
  al. 2020), every view of the same class is a positive.

Every ``pretrain_*`` returns ``(encoder, history)``: the trained encoder (the projection head
is dropped, as in the papers, because the features before it transfer better) and the
:class:`~transfer_lab.methods.training.TrainHistory` with the per-epoch loss.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.augment import Augmenter, build_augmenter, data_kind
from transfer_lab.methods.encoders import encoder_for
from transfer_lab.methods.training import TrainConfig, TrainHistory, fit

__all__ = [
    "nt_xent",
    "info_nce",
    "supcon_loss",
    "ProjectionHead",
    "ContrastiveModel",
    "MoCo",
    "pretrain_simclr",
    "pretrain_moco",
    "pretrain_supcon",
]

ArrayLike = np.ndarray | torch.Tensor
Steps = Sequence[Mapping[str, Any]] | None


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    r"""Normalised temperature-scaled cross-entropy (NT-Xent) of SimCLR (Chen et al. 2020).

    With the 2N projections :math:`z_k` of N images seen twice, cosine similarities
    :math:`s_{ik} = z_i^\top z_k / (\|z_i\| \|z_k\|)` and :math:`j(i)` the other view of
    :math:`i`'s image,

    .. math::

        \ell_i = -\log \frac{\exp(s_{i j(i)} / \tau)}
                            {\sum_{k=1}^{2N} \mathbb{1}[k \ne i] \exp(s_{ik} / \tau)},
        \qquad L = \frac{1}{2N} \sum_{i=1}^{2N} \ell_i ,

    so each anchor has one positive and the other 2(N - 1) views as negatives.

    Parameters
    ----------
    z1, z2 : torch.Tensor, shape (N, d)
        Projections of the first and second view; row ``i`` of both is the same image.
    temperature : float, default 0.5
        :math:`\tau`.

    Returns
    -------
    torch.Tensor
        The scalar mean of :math:`\ell_i` over the 2N anchors.
    """
    _check_temperature(temperature)
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError(
            f"z1 and z2 must both be (N, d), got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    n = z1.shape[0]
    if n < 2:
        raise ValueError("nt_xent needs at least 2 images per batch (the negatives)")
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    # An anchor is never its own negative: drop the diagonal from the softmax.
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, targets)


def info_nce(
    q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float = 0.2
) -> torch.Tensor:
    r"""InfoNCE with a queue of negatives, as in MoCo (He et al. 2020; van den Oord et al. 2018).

    For a query :math:`q`, its positive key :math:`k_+` and the K queued keys
    :math:`k_1..k_K` (all L2-normalised),

    .. math::

        \mathcal{L}_q = -\log \frac{\exp(q \cdot k_+ / \tau)}
            {\exp(q \cdot k_+ / \tau) + \sum_{i=1}^{K} \exp(q \cdot k_i / \tau)},

    a (K + 1)-way softmax classification with the positive as class 0.

    Parameters
    ----------
    q, k : torch.Tensor, shape (N, d)
        Queries and their positive keys (row ``i`` of each is the same image).
    queue : torch.Tensor, shape (K, d)
        Negative keys.
    temperature : float, default 0.2
        :math:`\tau`.

    Returns
    -------
    torch.Tensor
        The scalar mean of :math:`\mathcal{L}_q` over the N queries.
    """
    _check_temperature(temperature)
    if q.shape != k.shape or q.dim() != 2:
        raise ValueError(f"q and k must both be (N, d), got {tuple(q.shape)} and {tuple(k.shape)}")
    if queue.dim() != 2 or queue.shape[1] != q.shape[1]:
        raise ValueError(f"queue must be (K, {q.shape[1]}), got {tuple(queue.shape)}")
    q, k, queue = F.normalize(q, dim=1), F.normalize(k, dim=1), F.normalize(queue, dim=1)
    positive = (q * k).sum(dim=1, keepdim=True)
    logits = torch.cat([positive, q @ queue.T], dim=1) / temperature
    targets = torch.zeros(q.shape[0], dtype=torch.long, device=q.device)
    return F.cross_entropy(logits, targets)


def supcon_loss(z: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    r"""Supervised contrastive loss :math:`\mathcal{L}^{sup}_{out}` (Khosla et al. 2020, eq. 2).

    With normalised projections :math:`z_i`, :math:`A(i)` every sample but :math:`i` and
    :math:`P(i) = \{p \in A(i): y_p = y_i\}` its positives,

    .. math::

        \mathcal{L}_i = \frac{-1}{|P(i)|} \sum_{p \in P(i)} \log
            \frac{\exp(z_i \cdot z_p / \tau)}{\sum_{a \in A(i)} \exp(z_i \cdot z_a / \tau)} .

    Parameters
    ----------
    z : torch.Tensor, shape (M, d)
        Projections of every view in the batch (stack the views along the first axis).
    labels : torch.Tensor, shape (M,)
        Class of each row (repeat the image labels once per view).
    temperature : float, default 0.1
        :math:`\tau`.

    Returns
    -------
    torch.Tensor
        The scalar mean of :math:`\mathcal{L}_i` over the anchors that have at least one
        positive (0 when none has).
    """
    _check_temperature(temperature)
    if z.dim() != 2 or labels.shape != (z.shape[0],):
        raise ValueError(
            f"z must be (M, d) and labels (M,), got {tuple(z.shape)} and {tuple(labels.shape)}"
        )
    z = F.normalize(z, dim=1)
    m = z.shape[0]
    self_mask = torch.eye(m, dtype=torch.bool, device=z.device)
    logits = (z @ z.T / temperature).masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    n_pos = positives.sum(dim=1)
    # where(): the -inf on the diagonal must not reach the sum, even multiplied by 0.
    pos_log_prob = torch.where(positives, log_prob, torch.zeros_like(log_prob)).sum(dim=1)
    has_pos = n_pos > 0
    if not has_pos.any():
        return z.sum() * 0.0  # keeps the graph, so a step on such a batch is a no-op
    return -(pos_log_prob[has_pos] / n_pos[has_pos]).mean()


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------


class ProjectionHead(nn.Module):
    """The MLP ``g`` that maps features to the space where the contrastive loss is applied.

    ``Linear -> BatchNorm -> ReLU -> Linear`` (SimCLR v2 / MoCo v2 style).

    Parameters
    ----------
    in_features : int
    hidden_features : int, default 128
    out_features : int, default 64
    """

    def __init__(
        self, in_features: int, hidden_features: int = 128, out_features: int = 64
    ) -> None:
        super().__init__()
        if min(in_features, hidden_features, out_features) < 1:
            raise ValueError("ProjectionHead sizes must be >= 1")
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden_features, bias=False),
            nn.BatchNorm1d(hidden_features),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_features, out_features),
        )
        self.out_features = out_features

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.net(h)


class ContrastiveModel(nn.Module):
    """An encoder ``f`` followed by a projection head ``g``: ``z = g(f(x))``."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.head(self.encoder(x))


class MoCo(nn.Module):
    r"""Momentum Contrast (He et al. 2020): a query encoder, a momentum key encoder, a queue.

    The key encoder is a copy of the query encoder (and head) that receives no gradient and
    follows it by :math:`\theta_k \leftarrow m \theta_k + (1 - m) \theta_q` before each step.
    The queue keeps the last ``queue_size`` keys, first in first out, independently of the
    batch size, and provides the negatives of :func:`info_nce`.

    One device, so no shuffling BatchNorm: the paper shuffles the key batch across GPUs so
    that BN statistics cannot tell the positive key from the queued ones. Here queries and
    keys are normalised with their own batch statistics; on digits MoCo's linear probe still
    comes within about a point of SimCLR's.

    Parameters
    ----------
    encoder : nn.Module
        The query encoder (with an ``out_features`` attribute); trained in place.
    projection_dim : int, default 64
    hidden_dim : int, default 128
    queue_size : int, default 512
        K; keep it below the number of training images, or stale copies of the positive
        crowd the negatives.
    momentum : float, default 0.99
        m.
    temperature : float, default 0.2
    """

    def __init__(
        self,
        encoder: nn.Module,
        projection_dim: int = 64,
        hidden_dim: int = 128,
        queue_size: int = 512,
        momentum: float = 0.99,
        temperature: float = 0.2,
    ) -> None:
        super().__init__()
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        _check_temperature(temperature)
        self.encoder = encoder
        self.head = ProjectionHead(encoder.out_features, hidden_dim, projection_dim)
        self.key_encoder = copy.deepcopy(encoder)
        self.key_head = copy.deepcopy(self.head)
        for p in self._key_parameters():
            p.requires_grad_(False)
        self.momentum = momentum
        self.temperature = temperature
        # Random unit keys until real ones arrive, as in the reference implementation.
        self.register_buffer("queue", F.normalize(torch.randn(queue_size, projection_dim), dim=1))
        self.register_buffer("queue_ptr", torch.zeros((), dtype=torch.long))

    def _query_parameters(self):
        return [*self.encoder.parameters(), *self.head.parameters()]

    def _key_parameters(self):
        return [*self.key_encoder.parameters(), *self.key_head.parameters()]

    @torch.no_grad()
    def momentum_update(self) -> None:
        r""":math:`\theta_k \leftarrow m \theta_k + (1 - m) \theta_q` for every parameter."""
        for pk, pq in zip(self._key_parameters(), self._query_parameters(), strict=True):
            pk.mul_(self.momentum).add_(pq.detach(), alpha=1.0 - self.momentum)

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Push ``keys`` (N, d) into the FIFO queue, overwriting the oldest entries."""
        size = self.queue.shape[0]
        keys = keys.detach()[-size:]  # a batch larger than the queue keeps its newest keys
        idx = (self.queue_ptr + torch.arange(keys.shape[0], device=keys.device)) % size
        self.queue[idx] = keys.to(self.queue.dtype)
        self.queue_ptr.copy_((self.queue_ptr + keys.shape[0]) % size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Query projections ``g_q(f_q(x))``."""
        return self.head(self.encoder(x))

    def loss(self, x_q: torch.Tensor, x_k: torch.Tensor) -> torch.Tensor:
        """InfoNCE of the queries ``x_q`` against their keys ``x_k`` and the queue.

        Side effects, in MoCo's order: momentum update of the key encoder, then the keys of
        this batch are enqueued (after the loss used the queue as it was).
        """
        q = F.normalize(self(x_q), dim=1)
        with torch.no_grad():
            self.momentum_update()
            k = F.normalize(self.key_head(self.key_encoder(x_k)), dim=1)
        # clone: enqueue() writes the queue in place, and autograd still needs this version.
        loss = info_nce(q, k, self.queue.clone(), self.temperature)
        self.enqueue(k)
        return loss


# --------------------------------------------------------------------------------------------
# Pretraining
# --------------------------------------------------------------------------------------------


def _prepare(
    X: ArrayLike,
    encoder: nn.Module | None,
    encoder_kwargs: Mapping[str, Any] | None,
    augmentations: Steps,
    strength: float,
    device: Any,
) -> tuple[nn.Module, Augmenter]:
    # a shape the augmentations cannot take is refused before an encoder is built
    kind = data_kind(X) if len(X) else None
    encoder = encoder_for(X, encoder, encoder_kwargs)
    return encoder, build_augmenter(augmentations, kind, strength).to(device)


def pretrain_simclr(
    X: ArrayLike,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    augmentations: Steps = None,
    strength: float = 1.0,
    temperature: float = 1.0,
    projection_dim: int = 64,
    hidden_dim: int = 128,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    """Pretrain an encoder with SimCLR (Chen et al. 2020) on unlabelled samples.

    Each step augments the batch twice on the device and minimises :func:`nt_xent` between
    the two views' projections.

    Parameters
    ----------
    X : array or tensor, (n, C, H, W) images in [0, 1] or (n, C, L) signals
        Unlabelled training samples (never the test rows).
    encoder : nn.Module, optional
        Trained in place; by default ``build_encoder("auto", X.shape[1:], **encoder_kwargs)``.
    encoder_kwargs : dict, optional
        E.g. ``{"width": 32, "out_features": 128}``.
    augmentations : list of dict, optional
        :class:`~transfer_lab.methods.augment.Augmenter` steps; by default
        ``default_augmentations(kind, strength)``.
    strength : float, default 1.0
    temperature : float, default 1.0
        Higher than the paper's 0.1-0.5: with 1,077 small images and batches of 256, 0.2 and
        0.5 gave 2-5 points worse linear probes on digits than 1.0 (2.0 was worse again).
    projection_dim, hidden_dim : int, default 64, 128
    config : TrainConfig
        The training settings (keyword-only, required). Tuned on 8x8 digits: batch 256,
        Adam at 1e-3 with weight decay 1e-5, 300 epochs; no early stopping (there is no
        validation signal); see ``conf/base/parameters_pretraining.yml``.
    device : str or torch.device, default "cpu"

    Returns
    -------
    encoder : nn.Module
    history : TrainHistory
        ``train_loss`` holds the mean NT-Xent of each epoch.
    """
    _check_temperature(temperature)
    encoder, augmenter = _prepare(X, encoder, encoder_kwargs, augmentations, strength, device)
    model = ContrastiveModel(
        encoder, ProjectionHead(encoder.out_features, hidden_dim, projection_dim)
    )

    def step(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x = batch[0]
        z = m(torch.cat([augmenter(x), augmenter(x)]))  # one forward: BN sees both views
        z1, z2 = z.chunk(2)
        return nt_xent(z1, z2, temperature)

    history = fit(model, (X,), config=config, device=device,
                  step_fn=step, desc="simclr")
    return model.encoder, history


def pretrain_moco(
    X: ArrayLike,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    augmentations: Steps = None,
    strength: float = 1.0,
    temperature: float = 1.0,
    momentum: float = 0.99,
    queue_size: int = 512,
    projection_dim: int = 64,
    hidden_dim: int = 128,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    """Pretrain an encoder with MoCo (He et al. 2020) on unlabelled samples.

    Parameters
    ----------
    X : array or tensor
        Unlabelled training samples.
    encoder, encoder_kwargs, augmentations, strength, projection_dim, hidden_dim, config, device
        As in :func:`pretrain_simclr`.
    temperature : float, default 1.0
        As for SimCLR, the best of {0.2, 0.5, 1.0} on digits (the paper uses 0.07 / 0.2).
    momentum : float, default 0.99
        Key-encoder momentum ``m``.
    queue_size : int, default 512
        Number of queued negative keys, independent of the batch size.

    Returns
    -------
    encoder : nn.Module
        The query encoder.
    history : TrainHistory
    """
    encoder, augmenter = _prepare(X, encoder, encoder_kwargs, augmentations, strength, device)
    model = MoCo(encoder, projection_dim, hidden_dim, queue_size, momentum, temperature)

    def step(m: MoCo, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x = batch[0]
        return m.loss(augmenter(x), augmenter(x))

    history = fit(model, (X,), config=config, device=device,
                  step_fn=step, desc="moco")
    return model.encoder, history


def pretrain_supcon(
    X: ArrayLike,
    y: ArrayLike,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    augmentations: Steps = None,
    strength: float = 1.0,
    temperature: float = 0.1,
    projection_dim: int = 64,
    hidden_dim: int = 128,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    """Pretrain an encoder with supervised contrastive learning (Khosla et al. 2020).

    Two augmented views of every labelled sample; all views of the same class are positives
    (:func:`supcon_loss`). Only labelled rows are used, e.g. a budget's ``X_labeled``.

    Parameters
    ----------
    X : array or tensor
        Labelled samples.
    y : array or tensor of int, shape (n,)
        Their classes.
    encoder, encoder_kwargs, augmentations, strength, projection_dim, hidden_dim, config, device
        As in :func:`pretrain_simclr`. An ``encoder`` from :func:`pretrain_simclr` can be
        refined this way.
    temperature : float, default 0.1

    Returns
    -------
    encoder : nn.Module
    history : TrainHistory
    """
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    encoder, augmenter = _prepare(X, encoder, encoder_kwargs, augmentations, strength, device)
    model = ContrastiveModel(
        encoder, ProjectionHead(encoder.out_features, hidden_dim, projection_dim)
    )

    def step(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, labels = batch
        z = m(torch.cat([augmenter(x), augmenter(x)]))
        return supcon_loss(z, torch.cat([labels, labels]), temperature)

    history = fit(model, (X, y), config=config,
                  device=device,
                  step_fn=step, desc="supcon")
    return model.encoder, history
