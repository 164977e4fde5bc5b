"""Parameter norm penalties tied to a reference, and sparse representations.

* L2-SP, Li, Grandvalet & Davoine, *Explicit inductive bias for transfer learning with
  convolutional networks* (ICML 2018): fine-tuning a pretrained network with
  ``Omega(w) = alpha/2 |w_S - w_S^0|^2 + beta/2 |w_new|^2``, the shared weights ``w_S``
  pulled toward the source model's ``w_S^0`` rather than toward zero (Deep Learning book,
  sec. 7.9, parameter tying). Plain weight decay (sec. 7.1.1) is the same penalty with
  ``w_S^0 = 0``.
* Sparse representations (sec. 7.10): ``Omega(h) = lambda * |h|_1`` on a hidden layer's
  activations, averaged over the batch; :func:`activation_sparsity` measures the fraction
  of activations that are exactly zero (ReLU units switched off).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


def reference_weights(module: nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    """A detached copy of ``module``'s parameters, named as in ``model.named_parameters()``
    of the model that contains it under ``prefix`` (e.g. ``"encoder."``)."""
    return {f"{prefix}{name}": p.detach().clone() for name, p in module.named_parameters()}


def l2_sp_penalty(
    model: nn.Module, reference: Mapping[str, torch.Tensor], alpha: float, beta: float
) -> torch.Tensor:
    """``alpha/2 sum |w - w0|^2`` over the parameters named in ``reference`` plus
    ``beta/2 sum |w|^2`` over the others (a new head). With every ``w0 = 0`` this is plain
    L2 weight decay."""
    tied, free = 0.0, 0.0
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if name in reference:
            tied = tied + (parameter - reference[name].to(parameter.device)).pow(2).sum()
        else:
            free = free + parameter.pow(2).sum()
    return 0.5 * alpha * tied + 0.5 * beta * free


def zero_reference(reference: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same names, all weights zero: :func:`l2_sp_penalty` is then weight decay."""
    return {name: torch.zeros_like(w) for name, w in reference.items()}


def l1_activation_penalty(hidden: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight * mean over rows of |h|_1``."""
    return weight * hidden.abs().flatten(1).sum(1).mean()


def activation_sparsity(hidden: torch.Tensor, tolerance: float = 0.0) -> float:
    """Fraction of activations with ``|h| <= tolerance``."""
    return float((hidden.abs() <= tolerance).float().mean())
