"""Dropout's two inference rules, and bagging (Deep Learning book, sec. 7.11-7.12).

* Srivastava et al., *Dropout: a simple way to prevent neural networks from overfitting*
  (JMLR 2014). A dropout network is an ensemble of the sub-networks its masks pick.
  **Weight scaling** evaluates the whole network with each unit's outgoing weights scaled
  by its keep probability (PyTorch's inverted dropout scales at training time instead, so
  evaluation mode is this rule). **Monte-Carlo averaging** samples ``n`` masks and averages
  the sub-networks' predictions: arithmetically (the bagging rule) or as the renormalised
  geometric mean, which for a softmax is ``softmax(mean of the logits)``. For a model
  linear in its dropped inputs, the mean of the logits over masks *is* the weight-scaled
  logits (exactly in expectation), so the geometric MC average converges to the
  weight-scaled output.
* Breiman, *Bagging predictors* (Machine Learning 1996): ``k`` models, each trained on a
  bootstrap sample (``n`` rows drawn with replacement), their probabilities averaged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn


def _dropout_layers(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, nn.Dropout | nn.Dropout1d | nn.Dropout2d)]


def weight_scaled_logits(model: nn.Module, X: torch.Tensor) -> torch.Tensor:
    """The weight-scaling rule: the whole network in evaluation mode."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(X)
    finally:
        model.train(was_training)


def mc_dropout_logits(model: nn.Module, X: torch.Tensor, n_samples: int, seed: int = 0) -> torch.Tensor:
    """Logits of ``n_samples`` sampled dropout masks, shape ``(n_samples, n, classes)``:
    only the dropout layers run in training mode (one fresh mask per row and sample)."""
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    was_training = model.training
    model.eval()
    for layer in _dropout_layers(model):
        layer.train()
    devices = [X.device] if X.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(seed)
            return torch.stack([model(X) for _ in range(n_samples)])
    finally:
        model.train(was_training)


def mc_dropout_proba(
    model: nn.Module, X: torch.Tensor, n_samples: int, seed: int = 0,
    average: Literal["arithmetic", "geometric"] = "arithmetic",
) -> torch.Tensor:
    """Class probabilities averaged over sampled masks: the arithmetic mean of the
    sub-networks' softmax, or their renormalised geometric mean (``softmax`` of the mean logits)."""
    logits = mc_dropout_logits(model, X, n_samples, seed)
    if average == "geometric":
        return torch.softmax(logits.mean(0), dim=-1)
    if average == "arithmetic":
        return torch.softmax(logits, dim=-1).mean(0)
    raise ValueError(f"average must be 'arithmetic' or 'geometric', got {average!r}")


def bootstrap_indices(n: int, k: int, seed: int) -> list[np.ndarray]:
    """``k`` bootstrap samples of ``range(n)``, each of size ``n`` drawn with replacement."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n, size=n) for _ in range(k)]


def bagged_models(
    make_model: Callable[[int], nn.Module], train: Callable[[nn.Module, np.ndarray, int], None],
    n: int, k: int, seed: int,
) -> list[nn.Module]:
    """Bagging: ``k`` models, model ``i`` made by ``make_model(i)`` and trained by
    ``train(model, rows, i)`` on bootstrap sample ``i``."""
    models = []
    for i, rows in enumerate(bootstrap_indices(n, k, seed)):
        model = make_model(i)
        train(model, rows, i)
        models.append(model)
    return models


def ensemble_proba(models: Sequence[nn.Module], X: torch.Tensor) -> torch.Tensor:
    """The arithmetic mean of the members' softmax outputs (each in evaluation mode)."""
    return torch.stack([torch.softmax(weight_scaled_logits(m, X), dim=-1) for m in models]).mean(0)
