"""The labeled-only baseline on the same loader and steps as the semi-supervised methods."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.semi_supervised.neural.engine import (
    DeviceLike,
    EncoderBuilder,
    Meter,
    Schedule,
    SemiSupervisedHistory,
    check_common,
    read_arrays,
    run,
)
from transfer_lab.methods.semi_supervised.transforms import weak_augment
from transfer_lab.methods.training import TrainConfig


def train_supervised(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
    device: DeviceLike = "cpu",
    *,
    augment: bool = True,
    max_shift: int = 1,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """The labeled-only baseline: cross-entropy on the labeled rows.

    Uses the same loader as the semi-supervised methods, so it takes the same number of
    optimiser steps per epoch (the unlabeled rows are only counted, never read), and by
    default the same weak augmentation as FixMatch's labeled term, so that a comparison
    measures what the unlabeled rows add.

    Parameters
    ----------
    data, build_encoder, config, device
        See :mod:`~transfer_lab.methods.semi_supervised.neural.engine`.
    augment : bool, default True
        Random translation by up to ``max_shift`` pixels.
    max_shift : int, default 1
    unlabeled_ratio : int, default 1
        Only sets the epoch length, as for the other methods.
    n_classes : int, optional
        Defaults to ``max(y_labeled, y_val) + 1``.

    Returns
    -------
    model : Classifier
    history : SemiSupervisedHistory
    """
    arrays = read_arrays(data, need_unlabeled=False)
    check_common(0.0, 0.0, unlabeled_ratio)

    def make_step(meter: Meter, schedule: Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l = batch[0], batch[1]
            if augment:
                x_l = weak_augment(x_l, max_shift)
            loss = F.cross_entropy(model(x_l), y_l)
            meter.add(supervised_loss=loss.detach())
            return loss

        return step

    return run(
        "supervised", arrays, build_encoder, config, device, make_step,
        unlabeled_ratio=unlabeled_ratio, n_classes=n_classes,
    )
