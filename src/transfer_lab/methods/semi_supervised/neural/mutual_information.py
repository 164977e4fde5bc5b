"""Input-output mutual-information maximisation (Krause et al. 2010, RIM)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.semi_supervised.losses import mutual_information_loss
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


def train_mutual_information(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
    device: DeviceLike = "cpu",
    *,
    weight: float = 0.3,
    marginal_weight: float = 1.0,
    rampup_epochs: float = 5.0,
    augment: bool = True,
    max_shift: int = 1,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Input-output mutual-information maximisation (Krause et al. 2010, RIM).

    Loss: ``CE(labeled) - λ(t) [w H(E[p]) - E[H(p)]]`` over the unlabeled batch with
    :func:`~.losses.mutual_information_loss`: confident predictions that stay spread over
    the classes.

    Parameters
    ----------
    data, build_encoder, config, device
        See :mod:`~transfer_lab.methods.semi_supervised.neural.engine`.
    weight : float, default 0.3
        λ after the ramp-up.
    marginal_weight : float, default 1.0
        ``w``, the weight of the class-balance term ``H(E[p])``.
    rampup_epochs, augment, max_shift, unlabeled_ratio, n_classes, monitor_threshold
        As for :func:`train_entropy_minimisation`.

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
            sup = F.cross_entropy(logits_l, y_l)
            unsup = mutual_information_loss(logits_u, marginal_weight)
            w = weight * schedule()
            return meter.weighted_loss(sup, unsup, w)

        return step

    return run(
        "mutual_information", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=monitor_threshold,
    )
