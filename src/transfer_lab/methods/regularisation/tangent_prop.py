"""Tangent propagation and the manifold tangent classifier (Deep Learning book, sec. 7.14).

* Tangent propagation, Simard, Victorri, LeCun & Denker, *Tangent prop — a formalism for
  specifying selected invariances in an adaptive network* (NIPS 1992): the penalty
  ``Omega(f) = sum_i |J_f(x) v_i|^2`` on the directional derivatives of the network's output
  along the tangent vectors ``v_i`` of the transformations it should be invariant to
  (computed exactly with forward-mode differentiation, ``torch.func.jvp``).
* The manifold tangent classifier, Rifai, Dauphin, Vincent, Bengio & Muller (NIPS 2011):
  the tangents are not given by hand but learned: a contractive auto-encoder (Rifai et al.,
  ICML 2011; ``h = sigmoid(W x + b)``, loss ``|x - r(h)|^2 + lambda |J_h(x)|_F^2``) is
  trained on unlabelled inputs, and the leading right singular vectors of its encoder's
  Jacobian ``J_h(x) = diag(h (1 - h)) W`` at each ``x`` are the directions the data vary
  along; tangent propagation then uses them.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


def directional_derivatives(model: nn.Module, x: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
    """``J_f(x) v_i`` for every row and tangent: ``tangents`` ``(n, k, *x.shape[1:])`` →
    ``(n, k, outputs)``; differentiable with respect to the model's parameters."""
    if tangents.shape[0] != x.shape[0] or tangents.shape[2:] != x.shape[1:]:
        raise ValueError(f"tangents must be (n, k, *x.shape[1:]), got {tuple(tangents.shape)} for x {tuple(x.shape)}")
    return torch.stack(
        [torch.func.jvp(model, (x,), (tangents[:, i],))[1] for i in range(tangents.shape[1])], dim=1
    )


def tangent_prop_penalty(model: nn.Module, x: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
    """``mean over rows of sum_i |J_f(x) v_i|^2``."""
    return directional_derivatives(model, x, tangents).pow(2).sum(dim=(1, 2)).mean()


def tangent_prop_step(weight: float) -> Callable[[nn.Module, tuple], torch.Tensor]:
    """A ``step_fn`` for :func:`~transfer_lab.methods.training.fit` on ``(x, tangents, y)``
    batches: cross-entropy plus ``weight`` times the tangent-prop penalty."""

    def step(model: nn.Module, batch: tuple) -> torch.Tensor:
        x, tangents, y = batch
        return F.cross_entropy(model(x), y) + weight * tangent_prop_penalty(model, x, tangents)

    return step


class ContractiveAutoencoder(nn.Module):
    """``h = sigmoid(W x + b)``, ``r = W^T h + c`` (tied weights, linear decoder)."""

    def __init__(self, n_inputs: int, n_hidden: int) -> None:
        super().__init__()
        self.encoder = nn.Linear(n_inputs, n_hidden)
        self.decoder_bias = nn.Parameter(torch.zeros(n_inputs))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.encoder(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.encode(x), self.encoder.weight.t(), self.decoder_bias)

    def jacobian(self, x: torch.Tensor) -> torch.Tensor:
        """``J_h(x) = diag(h (1 - h)) W`` per row: ``(n, hidden, inputs)``."""
        h = self.encode(x)
        return (h * (1 - h)).unsqueeze(-1) * self.encoder.weight.unsqueeze(0)

    def contraction(self, x: torch.Tensor) -> torch.Tensor:
        """``|J_h(x)|_F^2`` per row, in closed form: ``sum_j (h_j (1 - h_j))^2 |W_j|^2``."""
        h = self.encode(x)
        return ((h * (1 - h)).pow(2) * self.encoder.weight.pow(2).sum(1)).sum(1)


def contractive_step(contraction: float) -> Callable[[nn.Module, tuple], torch.Tensor]:
    """A ``step_fn`` on ``(x,)`` batches: squared reconstruction error plus
    ``contraction`` times the Jacobian's squared Frobenius norm, both summed per row."""

    def step(model: nn.Module, batch: tuple) -> torch.Tensor:
        x = batch[0]
        error = (model(x) - x.flatten(1)).pow(2).sum(1)
        return (error + contraction * model.contraction(x)).mean()

    return step


def manifold_tangents(autoencoder: ContractiveAutoencoder, X: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` leading right singular vectors of ``J_h(x)`` at each row of ``X``, shaped
    like the inputs: ``(n, k, *X.shape[1:])`` (unit norm, orthogonal per row)."""
    with torch.no_grad():
        _, _, vh = torch.linalg.svd(autoencoder.jacobian(X), full_matrices=False)
    if k > vh.shape[1]:
        raise ValueError(f"k={k} tangents but the auto-encoder has only {vh.shape[1]} hidden units")
    return vh[:, :k].reshape(len(X), k, *X.shape[1:])
