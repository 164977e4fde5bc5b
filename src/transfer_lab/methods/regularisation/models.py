"""The small network the regularisation methods share: a multilayer perceptron on flat inputs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn


class MLP(nn.Module):
    """Flatten, then ``Linear -> ReLU (-> Dropout)`` per hidden layer, then a linear head.

    Parameters
    ----------
    input_shape : tuple of int
        One input without the batch dimension, e.g. ``(1, 8, 8)``.
    n_classes : int
    hidden : sequence of int, default (128,)
    dropout : float, default 0
        Dropout on each hidden layer's output (PyTorch's inverted dropout: kept units are
        scaled by ``1 / (1 - p)`` in training, so evaluation mode *is* the weight-scaling rule).
    input_dropout : float, default 0
        Dropout on the inputs.
    """

    def __init__(
        self, input_shape: Sequence[int], n_classes: int, hidden: Sequence[int] = (128,),
        dropout: float = 0.0, input_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, p in (("dropout", dropout), ("input_dropout", input_dropout)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p}")
        self.input_dropout = nn.Dropout(input_dropout)
        layers: list[nn.Module] = []
        width = int(np.prod(input_shape))
        for units in hidden:
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The last hidden layer's activations (the representation an L1 penalty makes sparse)."""
        return self.body(self.input_dropout(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, n_classes)``."""
        return self.head(self.hidden(x))
