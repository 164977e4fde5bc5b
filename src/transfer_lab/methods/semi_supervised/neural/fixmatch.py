"""FixMatch (Sohn et al. 2020): confident weak-view pseudo-labels train the strong view."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.semi_supervised.losses import fixmatch_loss
from transfer_lab.methods.semi_supervised.neural.engine import (
    DeviceLike,
    EncoderBuilder,
    Meter,
    Schedule,
    SemiSupervisedHistory,
    check_common,
    check_threshold,
    read_arrays,
    run,
    split,
)
from transfer_lab.methods.semi_supervised.transforms import strong_augment, weak_augment
from transfer_lab.methods.training import TrainConfig


def train_fixmatch(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
    device: DeviceLike = "cpu",
    *,
    threshold: float = 0.95,
    weight: float = 1.0,
    rampup_epochs: float = 0.0,
    unlabeled_ratio: int = 2,
    weak_shift: int = 1,
    strong_shift: int = 2,
    noise_std: float = 0.1,
    cutout_size: int | None = None,
    brightness: float = 0.3,
    flip: bool = False,
    n_classes: int | None = None,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """FixMatch (Sohn et al. 2020): confident weak-view pseudo-labels train the strong view.

    Loss: ``CE(weak(x_l), y_l) + λ_u ℓ_u`` with ℓ_u from :func:`~.losses.fixmatch_loss`:
    the hard pseudo-label of the weakly augmented unlabeled row (translation, optional
    flip) is kept when its probability is at least τ and is the target for the strongly
    augmented row (translation, brightness, noise, Cutout; see
    :mod:`~transfer_lab.methods.semi_supervised.transforms`). All three views go through
    the network in one batch, as in the paper's implementation.

    Parameters
    ----------
    data, build_encoder, config, device
        See :mod:`~transfer_lab.methods.semi_supervised.neural.engine`.
    threshold : float, default 0.95
        τ.
    weight : float, default 1.0
        λ_u (1 in the paper).
    rampup_epochs : float, default 0
        The paper needs none: the threshold already keeps early pseudo-labels out.
    unlabeled_ratio : int, default 2
        μ (7 in the paper; 2 keeps CPU steps cheap on 8x8 digits).
    weak_shift, strong_shift : int
        Translation ranges of the two augmentations.
    noise_std, cutout_size, brightness : strong augmentation settings.
    flip : bool, default False
        Horizontal flips in both augmentations (off for digits).
    n_classes : int, optional

    Returns
    -------
    model, history
        ``mask_rate`` per epoch is the fraction of unlabeled rows above τ in the batches;
        the monitor counts rows above τ at the epoch's end.
    """
    arrays = read_arrays(data)
    check_common(weight, rampup_epochs, unlabeled_ratio)
    check_threshold("threshold", threshold)

    def make_step(meter: Meter, schedule: Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            inputs = torch.cat([
                weak_augment(x_l, weak_shift, flip),
                weak_augment(x_u, weak_shift, flip),
                strong_augment(x_u, strong_shift, noise_std, cutout_size, brightness, flip),
            ])
            logits_l, logits_weak, logits_strong = split(
                model(inputs), [len(x_l), len(x_u), len(x_u)]
            )
            sup = F.cross_entropy(logits_l, y_l)
            unsup, mask = fixmatch_loss(logits_strong, logits_weak, threshold)
            w = weight * schedule()
            return meter.weighted_loss(sup, unsup, w, mask_rate=mask.mean())

        return step

    return run(
        "fixmatch", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=threshold,
    )
