"""Online pseudo-labelling (Lee 2013), the neural counterpart of self-training."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.semi_supervised.losses import pseudo_label_targets, soft_cross_entropy
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
from transfer_lab.methods.semi_supervised.transforms import weak_augment
from transfer_lab.methods.training import TrainConfig


def train_pseudo_label(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
    device: DeviceLike = "cpu",
    *,
    kind: str = "hard",
    threshold: float = 0.95,
    temperature: float = 0.5,
    weight: float = 1.0,
    rampup_epochs: float = 5.0,
    augment: bool = True,
    max_shift: int = 1,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Online pseudo-labelling (Lee 2013), the neural counterpart of self-training.

    At every step the network's own current prediction on each unlabeled row becomes its
    target (:func:`~.losses.pseudo_label_targets`): ``"hard"`` one-hot argmax (Lee's
    pseudo-label), ``"soft"`` the probabilities, ``"sharpen"`` the probabilities sharpened
    with temperature ``T`` (MixMatch's Eq. 7); rows whose confidence is below ``threshold``
    are masked out. Loss: ``CE(labeled) + α(t) soft_CE(x_u, targets)`` with α ramped up (Lee
    ramps it from 0 to 3 over the first epochs).

    With ``augment`` the targets come from the clean row (no gradient) and the loss is on
    a randomly translated copy, so the network must also agree with itself under shifts;
    without it, targets and loss use the same forward pass, exactly as in the paper.

    Parameters
    ----------
    data, build_encoder, config, device
        See :mod:`~transfer_lab.methods.semi_supervised.neural.engine`.
    kind : {"hard", "soft", "sharpen"}, default "hard"
    threshold : float, default 0.95
        Confidence needed for a pseudo-label (0 keeps every row, as in Lee 2013).
    temperature : float, default 0.5
        ``T`` for ``kind="sharpen"``.
    weight : float, default 1.0
        α after the ramp-up.
    rampup_epochs : float, default 5
    augment : bool, default True
    max_shift : int, default 1
    unlabeled_ratio, n_classes
        As for :func:`train_entropy_minimisation`.

    Returns
    -------
    model, history
    """
    arrays = read_arrays(data)
    check_common(weight, rampup_epochs, unlabeled_ratio)
    check_threshold("threshold", threshold)
    if kind not in ("hard", "soft", "sharpen"):
        raise ValueError(f"kind must be 'hard', 'soft' or 'sharpen', got {kind!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")

    def make_step(meter: Meter, schedule: Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            if augment:
                inputs = torch.cat(
                    [weak_augment(x_l, max_shift), x_u, weak_augment(x_u, max_shift)]
                )
                logits_l, logits_clean, logits_u = split(
                    model(inputs), [len(x_l), len(x_u), len(x_u)]
                )
            else:
                logits_l, logits_u = split(model(torch.cat([x_l, x_u])), [len(x_l), len(x_u)])
                logits_clean = logits_u
            targets, mask = pseudo_label_targets(logits_clean, kind, temperature, threshold)
            sup = F.cross_entropy(logits_l, y_l)
            unsup = soft_cross_entropy(logits_u, targets, mask)
            w = weight * schedule()
            return meter.weighted_loss(sup, unsup, w, mask_rate=mask.mean())

        return step

    return run(
        "pseudo_label", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=threshold if threshold > 0 else 0.95,
    )
