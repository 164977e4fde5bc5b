r"""Mutual-information pretraining: Deep InfoMax and contrastive predictive coding.

* :func:`pretrain_dim`: Deep InfoMax (Hjelm et al. 2019). An intermediate feature map
  :math:`C_\psi(x)` (the output of the first ``local_blocks`` blocks: ``M \times M`` locations
  of an image, ``M`` positions of a signal; the global critic reads the last map before the
  pool) and the global feature :math:`y = E_\psi(x)`; the objective (the seed chapter's
  eq. 6.5, Hjelm et al. eq. 7–8)

  .. math::

      \max_{\omega, \psi}\; \alpha\, \hat I_\omega(X; E_\psi(X))
        + \frac{\beta}{M^2} \sum_{i=1}^{M^2} \hat I_\omega(C^{(i)}_\psi(X); E_\psi(X))
        - \gamma\, \text{prior matching},

  with :math:`\hat I` one of the estimators of :mod:`~transfer_lab.methods.mutual_information`
  (JSD by default, DV or InfoNCE), the critics "encode-and-dot" (a score is the dot product
  of an embedding of the local/global input and one of :math:`y`; Hjelm et al. App. A.2),
  negatives the other images of the batch. The optional prior term is adversarial: a
  discriminator tells :math:`\sigma(y)` from uniform samples and the encoder is trained
  against it through a gradient reversal. With ``strength > 0`` the global feature of one
  augmented view is paired with the local features of another view of the same image
  (AMDIM, Bachman et al. 2019), the same estimators and critics.
* :func:`pretrain_cpc`: contrastive predictive coding (van den Oord et al. 2018). A sample is
  cut into an ordered sequence of overlapping strips (rows of an image, time windows of a
  signal); each strip, alone on a blank canvas of the input's size, goes through the
  encoder, giving latents :math:`z_t`; a GRU summarises :math:`z_{\le t}` into
  :math:`c_t`, and :math:`W_k c_t` predicts :math:`z_{t+k}` for :math:`k = 1..K` under the
  InfoNCE loss (eq. 4) whose negatives are every other latent of the batch: other
  positions of the same sample and every position of the other samples. Several prediction
  directions (CPC v2, Hénaff et al. 2020, Sec. 4.1: top to bottom, bottom to top, left to
  right, right to left) each get their own GRU and predictors over the same encoder; their
  losses are averaged. With ``grid=True`` the sample is instead cut as CPC v2 cuts an image
  (Hénaff et al. 2020, Sec. 4.1): the sample, optionally upsampled, into an overlapping grid
  of patches of the input's own size (:func:`patch_grid`), each encoded whole; a GRU runs
  down each column of the grid (along each row for ``right``/``left``; along the segments of
  a signal) and predicts the patches 1..K rows below, the negatives every other patch of the
  batch.

Both return ``(encoder, history)`` like :mod:`~transfer_lab.methods.contrastive`; critics,
discriminator, GRU and predictors are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.augment import build_augmenter, data_kind
from transfer_lab.methods.dann import grad_reverse
from transfer_lab.methods.encoders import encoder_for, with_map_readout
from transfer_lab.methods.mutual_information import ESTIMATORS, estimate
from transfer_lab.methods.puzzles import upsampled
from transfer_lab.methods.training import TrainConfig, TrainHistory, fit

__all__ = [
    "feature_map",
    "local_scores",
    "dim_objective",
    "DeepInfoMax",
    "pretrain_dim",
    "strips",
    "patch_grid",
    "CPC_DIRECTIONS",
    "cpc_loss",
    "CPC",
    "cpc_objective",
    "cpc_grid_objective",
    "recompute_batchnorm",
    "pretrain_cpc",
]

ArrayLike = np.ndarray | torch.Tensor



def feature_map(encoder: nn.Module, x: torch.Tensor, n_blocks: int | None = None) -> torch.Tensor:
    """The output of the encoder's first ``n_blocks`` blocks (default: every block but the
    pooling head): ``(n, C, H, W)`` for images, ``(n, C, L)`` for signals."""
    blocks = getattr(encoder, "blocks", None)
    if blocks is None or len(blocks) < 2:
        raise ValueError(f"{type(encoder).__name__} has no conv blocks before its head; Deep InfoMax needs a feature map")
    n_blocks = len(blocks) - 1 if n_blocks is None else n_blocks
    if not 1 <= n_blocks < len(blocks):
        raise ValueError(f"n_blocks must be in [1, {len(blocks) - 1}], got {n_blocks}")
    out = blocks[:n_blocks](x)
    if out.dim() < 3:
        raise ValueError("the encoder's blocks before the head give no spatial feature map (an MLP encoder?)")
    return out


# --------------------------------------------------------------------------------------------
# Deep InfoMax
# --------------------------------------------------------------------------------------------


def local_scores(local: torch.Tensor, global_: torch.Tensor) -> torch.Tensor:
    """Encode-and-dot scores ``s[i, j, l] = <global_i, local_j at location l>``.

    Parameters
    ----------
    local : (N, D, L) embedded local features (locations flattened)
    global_ : (N, D) embedded global features
    """
    return torch.einsum("id,jdl->ijl", global_, local)


def dim_objective(
    global_scores: torch.Tensor, location_scores: torch.Tensor, alpha: float, beta: float, estimator: str = "jsd"
) -> torch.Tensor:
    r""":math:`\alpha \hat I_{global} + \frac{\beta}{M^2}\sum_l \hat I_{local, l}` (Hjelm et al.
    2019, eq. 7–8) from score matrices whose diagonals are the joint pairs.

    Parameters
    ----------
    global_scores : (N, N)
        ``[i, j]``: the global critic on image ``j``'s input and image ``i``'s feature.
    location_scores : (N, N, L)
        ``[i, j, l]``: the local critic on image ``j``'s location ``l`` and image ``i``'s feature.
    estimator : {"jsd", "dv", "infonce"}
    """
    local = torch.stack([estimate(estimator, location_scores[:, :, l]) for l in range(location_scores.shape[2])])
    return alpha * estimate(estimator, global_scores) + beta * local.mean()


class DeepInfoMax(nn.Module):
    """Encoder plus DIM's critics (1x1 convolutions over the feature map, MLPs over the global
    feature) and an optional prior discriminator."""

    def __init__(
        self, encoder: nn.Module, sample: torch.Tensor, embed_dim: int = 64, prior: bool = False, local_blocks: int = 1
    ) -> None:
        super().__init__()
        self.encoder, self.local_blocks = encoder, local_blocks
        with torch.no_grad():
            was = encoder.training
            encoder.eval()
            local, fmap = feature_map(encoder, sample[:2], local_blocks), feature_map(encoder, sample[:2])
            encoder.train(was)
        channels, flat, conv = local.shape[1], fmap[0].numel(), nn.Conv2d if fmap.dim() == 4 else nn.Conv1d
        d = encoder.out_features
        self.local_embed = nn.Sequential(conv(channels, embed_dim, 1), nn.ReLU(), conv(embed_dim, embed_dim, 1))
        self.local_feature = nn.Sequential(nn.Linear(d, embed_dim), nn.ReLU(), nn.Linear(embed_dim, embed_dim))
        self.global_embed = nn.Sequential(nn.Flatten(), nn.Linear(flat, embed_dim), nn.ReLU(), nn.Linear(embed_dim, embed_dim))
        self.global_feature = nn.Sequential(nn.Linear(d, embed_dim), nn.ReLU(), nn.Linear(embed_dim, embed_dim))
        self.prior = nn.Sequential(nn.Linear(d, embed_dim), nn.ReLU(), nn.Linear(embed_dim, 1)) if prior else None

    def scores(
        self, x: torch.Tensor, other: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(global (N, N), local (N, N, L), y)`` for a batch.

        With ``other`` (a second augmented view of the same images, AMDIM's setting), the
        global feature ``y`` is of ``x`` and the local / last feature maps the critics pair it
        with are of ``other``; without it, all come from ``x`` (Hjelm et al.)."""
        blocks = self.encoder.blocks
        local_map = blocks[: self.local_blocks](x)
        fmap = blocks[self.local_blocks : -1](local_map)
        y = blocks[-1](fmap)
        if other is not None:
            local_map = blocks[: self.local_blocks](other)
            fmap = blocks[self.local_blocks : -1](local_map)
        local = self.local_embed(local_map).flatten(2)
        return self.global_feature(y) @ self.global_embed(fmap).T, local_scores(local, self.local_feature(y)), y

    def prior_loss(self, y: torch.Tensor) -> torch.Tensor:
        """Discriminator cross-entropy, uniform samples (real) against sigmoid(y) (fake); the
        gradient reaching the encoder is reversed, so the encoder maximises it."""
        fake = self.prior(grad_reverse(torch.sigmoid(y)))
        real = self.prior(torch.rand_like(y))
        return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
            fake, torch.zeros_like(fake)
        )


def pretrain_dim(
    X: ArrayLike,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    estimator: str = "jsd",
    alpha: float = 0.5,
    beta: float = 1.0,
    gamma: float = 0.0,
    embed_dim: int = 64,
    local_blocks: int = 1,
    strength: float = 0.0,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    """Pretrain an encoder with Deep InfoMax (Hjelm et al. 2019) on unlabelled samples.

    Parameters
    ----------
    X : array or tensor
        Unlabelled images ``(n, C, H, W)`` or signals ``(n, C, L)``; a conv encoder.
    estimator : {"jsd", "dv", "infonce"}, default "jsd"
        The MI estimator of both terms (Hjelm et al. found JSD the most stable).
    alpha, beta, gamma : float, default 0.5, 1.0, 0.0
        Weights of the global MI, the mean local MI and the prior-matching term (eq. 6.5);
        ``gamma = 0`` switches the prior term (and its discriminator) off. The paper's
        DIM(L) is ``(0, 1, 0.1)``, DIM(G) ``(1, 0, 1)``.
    embed_dim : int, default 64
        Width of the critics' embeddings.
    local_blocks : int, default 1
        The local features are the output of the encoder's first ``local_blocks`` blocks
        (DIM takes them from an intermediate layer, whose small receptive fields make the
        global feature keep what all locations share): 4x4 locations of an 8x8 digit, 20 of
        an MNIST-1D signal.
    strength : float, default 0.0
        ``0``: the paper's DIM, local and global features of the same image. ``> 0``: two
        independently augmented views of each image (the default augmentations at this
        strength), the global feature of one against the local features of the other —
        the multi-view extension of Bachman et al. 2019 (AMDIM, "Learning representations
        by maximizing mutual information across views", Sec. 3.2), same estimators.
    config : TrainConfig
    device : str or torch.device

    Returns
    -------
    encoder : nn.Module
    history : TrainHistory
        ``train_loss``: the negative objective per epoch (the prior term added).
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown estimator {estimator!r}; allowed: {', '.join(ESTIMATORS)}")
    if min(alpha, beta, gamma) < 0 or alpha + beta == 0:
        raise ValueError("alpha, beta, gamma must be >= 0 with alpha + beta > 0")
    encoder = encoder_for(X, encoder, encoder_kwargs)
    sample = torch.as_tensor(np.asarray(X[:2]), dtype=torch.float32)
    model = DeepInfoMax(encoder, sample, embed_dim, prior=gamma > 0, local_blocks=local_blocks)
    augment = build_augmenter(None, data_kind(X), strength).to(device) if strength > 0 else None

    def step(m: DeepInfoMax, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        views = (batch[0], None) if augment is None else (augment(batch[0]), augment(batch[0]))
        global_scores, location_scores, y = m.scores(*views)
        loss = -dim_objective(global_scores, location_scores, alpha, beta, estimator)
        return loss + gamma * m.prior_loss(y) if gamma > 0 else loss

    history = fit(model, (X,), config=config, device=device, step_fn=step, desc="dim")
    return model.encoder, history


# --------------------------------------------------------------------------------------------
# Contrastive predictive coding
# --------------------------------------------------------------------------------------------


#: CPC's prediction directions: (axis the strips are cut along, reversed order). Axis 0: the
#: rows of an image (``"down"`` top to bottom, ``"up"`` bottom to top) or the time steps of a
#: signal (``"down"`` forward, ``"up"`` backward); axis 1: the columns of an image
#: (``"right"`` left to right, ``"left"`` right to left). CPC v2 predicts in all four
#: (Hénaff et al. 2020, Sec. 4.1); the original CPC top to bottom only.
CPC_DIRECTIONS: dict[str, tuple[int, bool]] = {
    "down": (0, False), "up": (0, True), "right": (1, False), "left": (1, True),
}


def strips(x: torch.Tensor, size: int, stride: int, axis: int = 0) -> torch.Tensor:
    """The ordered overlapping strips of each sample, each alone on a blank canvas.

    Images ``(n, C, H, W)``: rows ``t*stride .. t*stride+size`` (top to bottom), or with
    ``axis=1`` columns (left to right); signals ``(n, C, L)``: time steps (``axis=0`` only).
    Returns ``(n, T, *x.shape[1:])`` with zeros outside strip ``t``, so the encoder sees one
    strip at a time at the input size it was built for.
    """
    dim = 2 + axis
    if axis not in (0, 1) or dim >= x.dim():
        raise ValueError(f"axis {axis} does not exist for inputs of shape {tuple(x.shape)}")
    length = x.shape[dim]
    if not 1 <= size <= length or stride < 1:
        raise ValueError(f"strip size must be in [1, {length}] and stride >= 1, got {size}, {stride}")
    starts = range(0, length - size + 1, stride)
    mask = torch.zeros(len(starts), length, dtype=x.dtype, device=x.device)
    for t, start in enumerate(starts):
        mask[t, start : start + size] = 1.0
    shape = [1, len(starts)] + [1] * (x.dim() - 1)
    shape[dim + 1] = length
    return x[:, None] * mask.view(shape)


def patch_grid(x: torch.Tensor, size: Sequence[int], stride: int) -> torch.Tensor:
    """The overlapping grid of patches of each sample (CPC v2's cutting, Hénaff et al. 2020).

    Images ``(n, C, H, W)``: every ``size[0] x size[1]`` window whose top-left corner lies on
    multiples of ``stride``, as ``(n, R, K, C, *size)`` (``R`` grid rows top to bottom, ``K``
    columns left to right); signals ``(n, C, L)``: every window of ``size[0]`` steps, as
    ``(n, T, C, size[0])``. Windows that would run past the border are not cut.
    """
    spatial = tuple(int(s) for s in x.shape[2:])
    size = tuple(int(s) for s in size)
    if len(size) != len(spatial) or stride < 1 or any(not 1 <= p <= s for p, s in zip(size, spatial, strict=True)):
        raise ValueError(f"patches of {size} every {stride} do not fit samples of shape {tuple(x.shape[1:])}")
    patches = x
    for axis, side in enumerate(size):
        patches = patches.unfold(2 + axis, side, stride)  # (n, C, R[, K], *size)
    order = [0, *range(2, 2 + len(size)), 1, *range(2 + len(size), patches.dim())]
    return patches.permute(order).contiguous()


def cpc_loss(predictions: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    r"""InfoNCE of CPC (van den Oord et al. 2018, eq. 4) for every step ahead.

    Parameters
    ----------
    predictions : (K, N, T, D)
        ``predictions[k-1, i, t]``: :math:`W_k c_{i,t}`, the prediction of
        :math:`z_{i, t+k}` (entries with :math:`t + k \ge T` are ignored).
    z : (N, T, D)
        The latents.

    Returns
    -------
    The mean over k, i and t < T - k of
    :math:`-\log \frac{\exp(z_{i,t+k}^\top W_k c_{i,t})}{\sum_{j, u} \exp(z_{j,u}^\top W_k c_{i,t})}`:
    the positive against every latent of the batch (other positions, other samples).
    """
    k_max, n, t_len, _ = predictions.shape
    if k_max >= t_len:
        raise ValueError(f"{k_max} steps ahead need sequences longer than {t_len}")
    bank = z.reshape(n * t_len, -1)
    losses = []
    for k in range(1, k_max + 1):
        pred = predictions[k - 1, :, : t_len - k].reshape(-1, z.shape[-1])
        target = (torch.arange(n, device=z.device)[:, None] * t_len + torch.arange(k, t_len, device=z.device)).reshape(-1)
        losses.append(F.cross_entropy(pred @ bank.T, target, reduction="none"))
    return torch.cat(losses).mean()


class CPC(nn.Module):
    """Encoder (strip -> z_t) and, per prediction direction, a GRU context (z_<=t -> c_t) and
    one linear predictor per step ahead."""

    def __init__(
        self, encoder: nn.Module, steps: int, context_dim: int = 64, directions: int = 1
    ) -> None:
        super().__init__()
        self.encoder = encoder
        d = encoder.out_features
        self.grus = nn.ModuleList(
            nn.GRU(d, context_dim, batch_first=True) for _ in range(directions)
        )
        self.predictors = nn.ModuleList(
            nn.ModuleList(nn.Linear(context_dim, d, bias=False) for _ in range(steps))
            for _ in range(directions)
        )

    def encode(self, sequence: torch.Tensor) -> torch.Tensor:
        """``sequence`` ``(N, T, ...)`` -> the latents ``z`` ``(N, T, D)``."""
        n, t_len = sequence.shape[:2]
        return self.encoder(sequence.flatten(0, 1)).view(n, t_len, -1)

    def predict(self, z: torch.Tensor, direction: int = 0) -> torch.Tensor:
        """Latents ``(N, T, D)`` in the direction's order -> predictions ``(K, N, T, D)``."""
        context, _ = self.grus[direction](z)
        return torch.stack([w(context) for w in self.predictors[direction]])

    def forward(self, sequence: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``sequence`` ``(N, T, ...)`` -> ``(predictions (K, N, T, D), z (N, T, D))`` of the
        first direction."""
        z = self.encode(sequence)
        return self.predict(z), z


def cpc_objective(
    model: CPC, x: torch.Tensor, directions: Sequence[str], sizes: Mapping[int, int], stride: int
) -> torch.Tensor:
    """CPC's loss on a batch: :func:`cpc_loss` per direction (the model's ``i``-th GRU and
    predictors for ``directions[i]``), averaged. ``sizes[axis]``: the strip size along that
    axis; the strips of an axis are encoded once and reversed for the opposite direction."""
    axes = sorted({CPC_DIRECTIONS[d][0] for d in directions})
    z = {axis: model.encode(strips(x, sizes[axis], stride, axis)) for axis in axes}
    return _mean_over_directions(model, z, directions)


def cpc_grid_objective(
    model: CPC, x: torch.Tensor, directions: Sequence[str], upsample: int, stride: int
) -> torch.Tensor:
    """CPC's loss on the patch grid of a batch (``grid=True``): ``x`` upsampled ``upsample``
    times, cut by :func:`patch_grid` into patches of ``x``'s own size every ``stride``, each
    patch encoded once; per direction, every column of the grid (``down``/``up``; every row for
    ``right``/``left``; the segments of a signal) is one sequence for that direction's GRU, and
    :func:`cpc_loss` runs over all of them at once, so the negatives of a prediction are every
    patch of the batch. Mean over directions."""
    n, spatial = x.shape[0], tuple(x.shape[2:])
    patches = patch_grid(upsampled(x, upsample), spatial, stride)
    grid = patches.shape[1 : 1 + len(spatial)]
    z = model.encoder(patches.flatten(0, len(spatial))).view(n, *grid, -1)
    sequences = {}
    for axis in sorted({CPC_DIRECTIONS[d][0] for d in directions}):
        along = z.transpose(1, 2) if z.dim() == 4 and axis == 0 else z  # (n, other axis, sequence, D)
        sequences[axis] = along.reshape(-1, along.shape[-2], along.shape[-1])
    return _mean_over_directions(model, sequences, directions)


def _mean_over_directions(
    model: CPC, sequences: Mapping[int, torch.Tensor], directions: Sequence[str]
) -> torch.Tensor:
    """:func:`cpc_loss` of each direction (the model's ``i``-th GRU and predictors for
    ``directions[i]``) on the latent sequences ``(N, T, D)`` of its axis, reversed for ``up`` /
    ``left``, averaged over directions; a direction and its reverse share the latents."""
    losses = []
    for i, name in enumerate(directions):
        axis, reverse = CPC_DIRECTIONS[name]
        ordered = sequences[axis].flip(1) if reverse else sequences[axis]
        losses.append(cpc_loss(model.predict(ordered, i), ordered))
    return torch.stack(losses).mean()


def recompute_batchnorm(encoder: nn.Module, X: ArrayLike, max_rows: int = 4096) -> nn.Module:
    """Re-estimate every BatchNorm layer's running statistics on the whole samples ``X``
    (AdaBN, Li et al. 2018; "precise BN", Wu & Johnson 2021), in place; weights untouched.

    CPC trains its encoder on strips alone on a blank canvas, so the running statistics it
    keeps are those of mostly blank inputs, while the transfer protocols feed whole samples.
    Here the statistics are reset and recomputed by forward passes in training mode with
    cumulative averaging (``momentum=None``) over near-equal chunks of at most ``max_rows``
    samples (one chunk: exactly the batch mean and unbiased variance of each layer's input);
    each layer's momentum and every module's mode are restored afterwards."""
    norms = [m for m in encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms or len(X) == 0:
        return encoder
    momenta, modes = [m.momentum for m in norms], [(m, m.training) for m in encoder.modules()]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None
    device = next(encoder.parameters()).device
    X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    encoder.train()
    with torch.no_grad():
        for rows in np.array_split(np.arange(len(X)), -(-len(X) // max_rows)):
            encoder(X[torch.from_numpy(rows)].to(device))
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    for module, mode in modes:
        module.training = mode
    return encoder


def pretrain_cpc(
    X: ArrayLike,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    strip_size: float = 0.375,
    stride: int = 1,
    steps: int = 2,
    context_dim: int = 64,
    strength: float = 0.0,
    directions: Sequence[str] = ("down",),
    readout_blocks: int | Sequence[int] = 0,
    readout_grid: int = 2,
    train_readout: bool = False,
    grid: bool = False,
    upsample: int = 1,
    patch_stride: int = 4,
    recompute_bn: bool = False,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    """Pretrain an encoder with CPC (van den Oord et al. 2018) on unlabelled samples.

    Parameters
    ----------
    X : array or tensor
        Images (sequences of rows) or signals (sequences of time windows).
    strip_size : float, default 0.375
        Height (images) or length (signals) of a strip as a fraction of the sample's:
        3 rows of an 8x8 digit, 15 steps of a 40-step MNIST-1D signal.
    stride : int, default 1
        Rows / time steps between consecutive strips (overlap defends against the trivial
        continuation of a stroke across a strip border only partly; the paper's patches
        overlap by half).
    steps : int, default 2
        K, how many strips ahead are predicted.
    context_dim : int, default 64
        GRU width.
    strength : float, default 0.0
        Strength of the default augmentations applied to each sample before it is cut into
        strips (``0``: none), as CPC v2 augments its patches (Hénaff et al. 2020, "Data-
        efficient image recognition with contrastive predictive coding", Sec. 4.1).
    directions : sequence of {"down", "up", "right", "left"}, default ("down",)
        The orders the strips are predicted in (:data:`CPC_DIRECTIONS`), each with its own GRU
        and predictors; the loss is the mean over directions. ``"right"``/``"left"`` cut the
        columns of an image (images only); a direction and its reverse share the latents.
    readout_blocks : int, default 0
        ``k > 0``: the returned encoder outputs its block-``k`` map average-pooled to at most
        ``readout_grid`` positions per side (:func:`~transfer_lab.methods.encoders.with_map_readout`),
        not the head trained on strips (the z_t); ``0``: the encoder's own head; a list of
        increasing blocks (``[1, 2]``): those blocks' pooled maps concatenated (a hypercolumn).
    readout_grid : int, default 2
    train_readout : bool, default False
        ``True`` (with ``readout_blocks > 0``): the encoder is cut to its read-out before
        training, so the strips' latents z_t are the pooled block map itself and CPC trains
        the very features it hands on (as in the paper, where z_t is the representation);
        ``False``: z_t is the encoder's head and the read-out is cut after training.
    grid : bool, default False
        ``True``: CPC v2's patch grid instead of strips (:func:`cpc_grid_objective`): the
        sample upsampled ``upsample`` times is cut into overlapping patches of the input's own
        size every ``patch_stride`` (pixels / steps of the upsampled sample), each patch filling
        the encoder's input; ``strip_size`` and ``stride`` are then unused. An 8x8 digit with
        ``upsample=2, patch_stride=4``: a 3x3 grid of 8x8 patches of the 16x16 digit (each
        overlapping its neighbours by half, as in the paper); ``patch_stride=2``: 5x5.
    upsample : int, default 1
        Bilinear (linear for signals) upsampling before cutting the grid
        (:func:`~transfer_lab.methods.puzzles.upsampled`); ``grid`` needs ``>= 2``, since a
        patch of the input's size covers the whole un-upsampled sample.
    patch_stride : int, default 4
    recompute_bn : bool, default False
        ``True``: after training, the encoder's BatchNorm statistics are re-estimated on the
        whole unlabelled samples ``X`` (:func:`recompute_batchnorm`), not kept from the strips
        or patches; the weights are CPC's.
    config : TrainConfig
    device : str or torch.device
    """
    if data_kind(X) not in ("image", "signal"):
        raise ValueError("CPC needs images or signals")
    if train_readout and not isinstance(readout_blocks, list | tuple) and readout_blocks == 0:
        raise ValueError("train_readout needs readout_blocks > 0")
    if upsample != 1 and not grid:
        raise ValueError(f"upsample {upsample} needs grid: true (strips are cut from the sample as it is)")
    if grid and (upsample < 2 or patch_stride < 1):
        raise ValueError(f"grid needs upsample >= 2 and patch_stride >= 1, got {upsample}, {patch_stride}")
    directions = tuple(directions)
    known = set(directions) <= set(CPC_DIRECTIONS)
    if not directions or len(set(directions)) < len(directions) or not known:
        allowed = ", ".join(CPC_DIRECTIONS)
        raise ValueError(f"directions must be distinct, non-empty, of {allowed}; got {directions}")
    axes = sorted({CPC_DIRECTIONS[d][0] for d in directions})
    if axes[-1] + 2 >= len(X.shape):
        raise ValueError(
            f"directions {directions} need images (columns); samples of shape {tuple(X.shape[1:])}"
        )
    sizes = {axis: max(1, round(strip_size * int(X.shape[2 + axis]))) for axis in axes}
    for axis, size in sizes.items():
        side = int(X.shape[2 + axis])
        if grid and (side * upsample - side) // patch_stride + 1 <= steps:
            raise ValueError(
                f"a grid of {side}-wide patches every {patch_stride} of the {upsample}x sample "
                f"has too few positions for {steps} steps ahead"
            )
        if not grid and (side - size) // stride + 1 <= steps:
            raise ValueError(
                f"strips of {size} every {stride} give too few positions for {steps} steps ahead"
            )
    encoder = encoder_for(X, encoder, encoder_kwargs)
    if train_readout:
        encoder = with_map_readout(encoder, readout_blocks, readout_grid)
    augment = build_augmenter(None, data_kind(X), strength).to(device) if strength > 0 else (lambda x: x)
    model = CPC(encoder, steps, context_dim, len(directions))

    def step(m: CPC, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        if grid:
            return cpc_grid_objective(m, augment(batch[0]), directions, upsample, patch_stride)
        return cpc_objective(m, augment(batch[0]), directions, sizes, stride)

    history = fit(model, (X,), config=config, device=device, step_fn=step, desc="cpc")
    if recompute_bn:
        recompute_batchnorm(model.encoder, X)
    if train_readout:
        return model.encoder, history
    return with_map_readout(model.encoder, readout_blocks, readout_grid), history
