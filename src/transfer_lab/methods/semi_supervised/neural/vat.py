"""Virtual adversarial training (Miyato et al. 2018)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.semi_supervised.losses import entropy_loss, vat_loss
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
from transfer_lab.methods.training import TrainConfig


def train_vat(
    data: Any,
    build_encoder: EncoderBuilder,
    config: TrainConfig,
    device: DeviceLike = "cpu",
    *,
    weight: float = 1.0,
    eps: float = 1.0,
    xi: float = 1e-6,
    n_power: int = 1,
    entropy_weight: float = 0.0,
    rampup_epochs: float = 0.0,
    unlabeled_ratio: int = 1,
    n_classes: int | None = None,
    monitor_threshold: float = 0.95,
) -> tuple[nn.Module, SemiSupervisedHistory]:
    """Virtual adversarial training (Miyato et al. 2018).

    Loss: ``CE(labeled) + α LDS(x) [+ β H(p(y | x_u))]`` with :func:`~.losses.vat_loss`
    over the labeled and unlabeled inputs of the batch (the paper's Eq. 16);
    ``entropy_weight > 0`` gives the paper's "VAT + EntMin".

    Parameters
    ----------
    data, build_encoder, config, device
        See :mod:`~transfer_lab.methods.semi_supervised.neural.engine`.
    weight : float, default 1.0
        α (1 in the paper).
    eps : float, default 1.0
        Perturbation norm ε per input (2.0 for 784-pixel MNIST in the paper).
    xi : float, default 1e-6
        Finite-difference step ξ of the power iteration (the paper's 1e-6).
    n_power : int, default 1
    entropy_weight : float, default 0.0
    rampup_epochs : float, default 0
        Ramp α (and β) up; the paper uses none.
    unlabeled_ratio, n_classes, monitor_threshold
        As for :func:`train_entropy_minimisation`.

    Returns
    -------
    model, history
    """
    arrays = read_arrays(data)
    check_common(weight, rampup_epochs, unlabeled_ratio)
    if eps <= 0 or xi <= 0:
        raise ValueError(f"eps and xi must be > 0, got eps={eps}, xi={xi}")
    if entropy_weight < 0:
        raise ValueError(f"entropy_weight must be >= 0, got {entropy_weight}")

    def make_step(meter: Meter, schedule: Schedule):
        def step(model: nn.Module, batch: tuple) -> torch.Tensor:
            x_l, y_l, x_u = batch[:3]
            x = torch.cat([x_l, x_u])
            logits = model(x)
            sup = F.cross_entropy(logits[: len(x_l)], y_l)
            lds = vat_loss(model, x, xi=xi, eps=eps, n_power=n_power, logits=logits)
            ramp = schedule()
            w = weight * ramp
            loss = sup + w * lds
            if entropy_weight > 0:
                loss = loss + ramp * entropy_weight * entropy_loss(logits[len(x_l) :])
            meter.add(supervised_loss=sup.detach(), unsupervised_loss=lds.detach())
            meter.set(weight=w)
            return loss

        return step

    return run(
        "vat", arrays, build_encoder, config, device, make_step,
        rampup_epochs=rampup_epochs, unlabeled_ratio=unlabeled_ratio,
        n_classes=n_classes, monitor_threshold=monitor_threshold,
    )
