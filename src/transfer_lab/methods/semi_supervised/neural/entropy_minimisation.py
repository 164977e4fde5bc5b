"""Entropy minimisation (Grandvalet & Bengio 2005)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.semi_supervised.losses import entropy_loss
from transfer_lab.methods.semi_supervised.neural.engine import (
    DeviceLike,
    EncoderBuilder,
    Meter,
    Schedule,
    SemiSupervisedHistory,
    check_common,
    read_arrays,
    run,
    split,
)
from transfer_lab.methods.semi_supervised.transforms import weak_augment
from transfer_lab.methods.training import TrainConfig


def train_entropy_minimisation(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
    device: DeviceLike = "cpu",
    *,
    weight: float = 0.3,
    rampup_epochs: float = 5.0,
    augment: bool = True,
    max_shift: int = 1,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Entropy minimisation (Grandvalet & Bengio 2005).

    Loss: ``CE(labeled) + λ(t) H(p(y | x_u))`` with :func:`~.losses.entropy_loss` and the
    weight ramped up as in :func:`~.losses.sigmoid_rampup` (a full weight from the first
    step makes the random initial predictions confident and locks them in).

    Parameters
    ----------
    data, build_encoder, config, device
        See :mod:`~transfer_lab.methods.semi_supervised.neural.engine`.
    weight : float, default 0.3
        λ, the paper's entropy weight after the ramp-up.
    rampup_epochs : float, default 5
    augment, max_shift : weak augmentation of all inputs (translation).
    unlabeled_ratio : int, default 1
        Unlabeled rows per labeled row in a step.
    n_classes : int, optional
    monitor_threshold : float, default 0.95
        Confidence counted as a pseudo-label by the monitor.

    Returns
    -------
    model, history
    """
    arrays = read_arrays(data)
    check_common(weight, rampup_epochs, unlabeled_ratio)

    def make_step(meter: Meter, schedule: Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            x = torch.cat([x_l, x_u])
            if augment:
                x = weak_augment(x, max_shift)
            logits_l, logits_u = split(model(x), [len(x_l), len(x_u)])
            sup, unsup = F.cross_entropy(logits_l, y_l), entropy_loss(logits_u)
            w = weight * schedule()
            return meter.weighted_loss(sup, unsup, w)

        return step

    return run(
        "entropy_minimisation", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=monitor_threshold,
    )
