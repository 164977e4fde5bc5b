"""Π-model (Laine & Aila 2017): consistency between two stochastic passes."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.semi_supervised.losses import consistency_loss
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


def train_pi_model(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
    device: DeviceLike = "cpu",
    *,
    weight: float = 10.0,
    rampup_epochs: float = 10.0,
    kind: str = "mse",
    max_shift: int = 1,
    noise_std: float = 0.15,
    stop_gradient: bool = True,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Π-model (Laine & Aila 2017): consistency between two stochastic passes.

    Every input (labeled and unlabeled) is augmented twice (random translation + Gaussian
    input noise, as in the paper) and both passes go through the network (with its dropout,
    if the encoder has any). Loss: ``CE(labeled, pass 1) + λ(t) consistency(pass 1, pass 2)``
    with ``λ(t) = λ_max exp(-5 (1 - t)^2)`` during the ramp-up
    (:func:`~.losses.sigmoid_rampup`) and :func:`~.losses.consistency_loss`.

    Parameters
    ----------
    data, build_encoder, config, device
        See :mod:`~transfer_lab.methods.semi_supervised.neural.engine`.
    weight : float, default 10.0
        ``λ_max`` (the paper used 100 with its ``1/C``-scaled squared error on CIFAR-10 and
        many more epochs).
    rampup_epochs : float, default 10
        The ramp-up period (80 in the paper).
    kind : {"mse", "kl"}, default "mse"
        Squared L2 between the softmax outputs, or KL from pass 2 to pass 1.
    max_shift : int, default 1
    noise_std : float, default 0.15
        Gaussian input noise (the paper's σ = 0.15).
    stop_gradient : bool, default True
        Treat pass 2 as a fixed target. The paper back-propagates through both passes
        (``False``); the stop-gradient is the common, more stable, choice since Mean Teacher.
    unlabeled_ratio, n_classes, monitor_threshold
        As for :func:`train_entropy_minimisation`.

    Returns
    -------
    model, history
    """
    arrays = read_arrays(data)
    check_common(weight, rampup_epochs, unlabeled_ratio)
    if kind not in ("mse", "kl"):
        raise ValueError(f"kind must be 'mse' or 'kl', got {kind!r}")

    def augment(x: torch.Tensor) -> torch.Tensor:
        x = weak_augment(x, max_shift)
        return x + noise_std * torch.randn_like(x) if noise_std > 0 else x

    def make_step(meter: Meter, schedule: Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            x = torch.cat([x_l, x_u])
            # One forward for both passes: half the Python overhead, shared BN statistics.
            z1, z2 = split(model(torch.cat([augment(x), augment(x)])), [len(x), len(x)])
            sup = F.cross_entropy(z1[: len(x_l)], y_l)
            cons = consistency_loss(z1, z2.detach() if stop_gradient else z2, kind)
            w = weight * schedule()
            return meter.weighted_loss(sup, cons, w)

        return step

    return run(
        "pi_model", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=monitor_threshold,
    )
