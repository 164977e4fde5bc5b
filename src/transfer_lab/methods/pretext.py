"""Pretext-task and supervised pretraining: rotation prediction, imputation, source labels.

* :func:`pretrain_rotation`: predict which of four transformations was applied (Gidaris et al.
  2018). Square images: rotations by 0, 90, 180 and 270 degrees. Signals have no rotation, so
  the analogue is *transformation recognition* over the four elements of the group generated
  by time reversal and negation: identity, reversed, negated, reversed and negated. Like the
  rotations they are exact (no interpolation), invertible, and recognisable only by a model
  that knows what an upright sample looks like.
* :func:`pretrain_imputation`: a context encoder (Pathak et al. 2016) reconstructs a masked
  region from the rest; the loss covers the masked region only.
* :func:`pretrain_supervised_source`: plain cross-entropy on a labelled source domain.

All three share one encoder across their inputs (the four transformed copies of an image go
through the same weights, the Siamese setting of the papers) and return ``(encoder, history)``
like :mod:`transfer_lab.methods.contrastive`; the task heads are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.augment import build_augmenter, data_kind, random_region_mask
from transfer_lab.methods.encoders import Classifier, encoder_for
from transfer_lab.methods.training import TrainConfig, TrainHistory, fit, fit_classifier

__all__ = [
    "N_TRANSFORMS",
    "transform_batch",
    "masked_mse",
    "ContextEncoder",
    "pretrain_rotation",
    "pretrain_imputation",
    "pretrain_supervised_source",
]

ArrayLike = np.ndarray | torch.Tensor
Steps = Sequence[Mapping[str, Any]] | None

#: classes of the rotation / transformation-recognition task
N_TRANSFORMS = 4



# --------------------------------------------------------------------------------------------
# Rotation / transformation recognition
# --------------------------------------------------------------------------------------------


def transform_batch(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All four transformed copies of every sample, and which transformation each got.

    Images ``(n, C, H, W)`` with ``H == W``: ``torch.rot90`` by ``t`` quarter turns
    (counter-clockwise), ``t = 0..3``. Signals ``(n, C, L)``: ``t = 0`` identity, 1 time
    reversal, 2 negation, 3 both.

    Returns
    -------
    x_t : torch.Tensor, shape (4n, ...)
        Copy ``t`` of sample ``i`` at row ``t * n + i``.
    t : torch.Tensor of int64, shape (4n,)
    """
    kind = data_kind(x)
    if kind == "image":
        if x.shape[-1] != x.shape[-2]:
            raise ValueError(
                f"rotation prediction needs square images, got {tuple(x.shape[-2:])}"
            )
        copies = [torch.rot90(x, t, dims=(2, 3)) for t in range(N_TRANSFORMS)]
    else:
        flipped = torch.flip(x, dims=(-1,))
        copies = [x, flipped, -x, -flipped]
    t = torch.arange(N_TRANSFORMS, device=x.device).repeat_interleave(x.shape[0])
    return torch.cat(copies), t


def pretrain_rotation(
    X: ArrayLike,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    augmentations: Steps | bool = True,
    strength: float = 1.0,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    r"""Pretrain by predicting the rotation (images) or transformation (signals) of each sample.

    Gidaris et al. 2018: every image of the batch is presented in all four rotations
    :math:`g_t(x)` to the same encoder with a 4-way linear head, and the loss is
    :math:`\frac{1}{4}\sum_t \mathrm{CE}(h(f(g_t(x))), t)`.

    Parameters
    ----------
    X : array or tensor
        Unlabelled samples; images must be square.
    encoder, encoder_kwargs : optional
        As in :func:`~transfer_lab.methods.contrastive.pretrain_simclr`.
    augmentations : list of dict, True or False, default True
        Augmentation before the transformations (True: the defaults at ``strength``). Without
        it the 8x8 digits' four rotations are memorised within a few epochs (loss ~0) and the
        features transfer badly (linear probe 47% at 10 labels per class against 76% with it).
    strength : float, default 1.0
    config : TrainConfig
        The training settings (keyword-only, required); the pipeline's are batch 128, Adam
        at 1e-3, 50 epochs, no early stopping.
    device : str or torch.device, default "cpu"

    Returns
    -------
    encoder : nn.Module
    history : TrainHistory
    """
    encoder = encoder_for(X, encoder, encoder_kwargs)
    kind = data_kind(X)
    if kind == "image" and X.shape[-1] != X.shape[-2]:
        raise ValueError(f"rotation prediction needs square images, got {tuple(X.shape[-2:])}")
    augmenter = None
    if augmentations is not False:
        steps = None if augmentations is True else augmentations
        augmenter = build_augmenter(steps, kind, strength).to(device)
    model = Classifier(encoder, N_TRANSFORMS)

    def step(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x = batch[0]
        if augmenter is not None:
            x = augmenter(x)
        x_t, t = transform_batch(x)
        return F.cross_entropy(m(x_t), t)

    history = fit(model, (X,), config=config, device=device,
                  step_fn=step, desc="rotation")
    return model.encoder, history


# --------------------------------------------------------------------------------------------
# Imputation (context encoder)
# --------------------------------------------------------------------------------------------


def masked_mse(x_hat: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Mean squared reconstruction error over the masked region (Pathak et al. 2016, eq. 1).

    .. math::

        \mathcal{L}_{rec} = \frac{\| M \odot (x - \hat x) \|_2^2}{\| M \|_1},
        \qquad \hat x = F((1 - M) \odot x),

    the context encoder's reconstruction loss normalised by the number of masked values.

    Parameters
    ----------
    x_hat, x : torch.Tensor
        Reconstruction and original, same shape.
    mask : torch.Tensor of bool
        ``True`` on the masked region; broadcastable to ``x``.
    """
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat shape {tuple(x_hat.shape)} does not match x {tuple(x.shape)}")
    m = mask.expand_as(x).to(x.dtype)
    return ((x_hat - x) ** 2 * m).sum() / m.sum().clamp(min=1.0)


class ContextEncoder(nn.Module):
    """An encoder and a small MLP decoder that predicts the whole input from its features.

    Parameters
    ----------
    encoder : nn.Module
        With ``out_features``.
    input_shape : tuple of int
        ``(C, H, W)`` or ``(C, L)``, without the batch dimension.
    hidden : int, default 256
    bounded : bool, default True
        Squash the output into [0, 1] with a sigmoid (images); signals are unbounded.
    """

    def __init__(
        self,
        encoder: nn.Module,
        input_shape: Sequence[int],
        hidden: int = 256,
        bounded: bool = True,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.input_shape = tuple(int(s) for s in input_shape)
        self.decoder = nn.Sequential(
            nn.Linear(encoder.out_features, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, math.prod(self.input_shape)),
        )
        self.bounded = bounded

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        out = self.decoder(self.encoder(x)).view(x.shape[0], *self.input_shape)
        return torch.sigmoid(out) if self.bounded else out


def pretrain_imputation(
    X: ArrayLike,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    mask_size: Sequence[float] = (0.375, 0.5),
    fill: float = 0.0,
    hidden: int = 256,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    """Pretrain by inpainting: reconstruct a random masked region (a context encoder).

    Each step masks one square (images) or segment (signals) per sample, wholly inside it, fills
    it with ``fill`` and trains encoder and decoder to restore it (:func:`masked_mse`). Pathak
    et al. add an adversarial loss for sharp inpainting; for representation learning the
    reconstruction loss alone is used here.

    Parameters
    ----------
    X : array or tensor
        Unlabelled samples.
    encoder, encoder_kwargs : optional
        As in :func:`pretrain_rotation`.
    mask_size : [low, high], default [0.375, 0.5]
        Side (images) or length (signals) of the masked region as a fraction of the sample's.
    fill : float, default 0.0
        Value written into the masked region (the background of a digit, the mean of a
        standardised signal).
    hidden : int, default 256
        Decoder width.
    config : TrainConfig
        The training settings (keyword-only, required); the pipeline's are batch 128, Adam
        at 1e-3, 50 epochs, no early stopping.
    device : str or torch.device, default "cpu"

    Returns
    -------
    encoder : nn.Module
    history : TrainHistory
        ``train_loss`` is the masked-region MSE per epoch.
    """
    encoder = encoder_for(X, encoder, encoder_kwargs)
    model = ContextEncoder(encoder, tuple(X.shape[1:]), hidden, bounded=data_kind(X) == "image")
    size = tuple(float(s) for s in mask_size)

    def step(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x = batch[0]
        mask = random_region_mask(x, size, inside=True)
        return masked_mse(m(x.masked_fill(mask, fill)), x, mask)

    history = fit(model, (X,), config=config, device=device,
                  step_fn=step, desc="imputation")
    return model.encoder, history


# --------------------------------------------------------------------------------------------
# Supervised pretraining on a source domain
# --------------------------------------------------------------------------------------------


def pretrain_supervised_source(
    X: ArrayLike,
    y: ArrayLike,
    *,
    X_val: ArrayLike | None = None,
    y_val: ArrayLike | None = None,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    n_classes: int | None = None,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    """Pretrain an encoder with cross-entropy on a labelled source domain.

    Parameters
    ----------
    X, y : arrays
        Labelled source samples and their classes.
    X_val, y_val : arrays, optional
        Source validation rows for early stopping on accuracy.
    encoder, encoder_kwargs : optional
        As in :func:`pretrain_rotation`.
    n_classes : int, optional
        Defaults to ``max(y) + 1``.
    config : TrainConfig
        The training settings (keyword-only, required); ``config.patience`` stops early on
        the source validation accuracy.
    device : str or torch.device, default "cpu"

    Returns
    -------
    encoder : nn.Module
    history : TrainHistory
    """
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    encoder = encoder_for(X, encoder, encoder_kwargs)
    n_classes = n_classes or int(np.max(np.asarray(y))) + 1
    model = Classifier(encoder, n_classes)
    history = fit_classifier(
        model, X, y, X_val, y_val, config=config,
        device=device, desc="supervised_source",
    )
    return model.encoder, history
