"""Adversarial examples and adversarial training.

* FGSM, Goodfellow, Shlens & Szegedy, *Explaining and harnessing adversarial examples*
  (ICLR 2015): ``x_adv = clip(x + eps * sign(grad_x J(theta, x, y)))``.
* PGD, Madry et al., *Towards deep learning models resistant to adversarial attacks*
  (ICLR 2018): repeated signed-gradient steps of size ``step_size`` from a random start in
  the L-inf ball, each projected back onto the ball of radius ``eps`` (and the pixel range).
* Adversarial training (Goodfellow et al. 2015, eq. 6):
  ``J~ = alpha J(theta, x, y) + (1 - alpha) J(theta, x_FGSM, y)``, the FGSM examples made
  afresh from the current model at every batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Attack = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
CLIP = (0.0, 1.0)  # the data's pixel range


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``grad_x`` of the mean cross-entropy, without touching the parameters' ``.grad``."""
    x = x.detach().requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    (gradient,) = torch.autograd.grad(loss, x)
    return gradient


def fgsm(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, clip: tuple[float, float] | None = CLIP
) -> torch.Tensor:
    """The fast gradient sign method: ``x + epsilon * sign(grad_x loss)``, clipped to ``clip``."""
    adversarial = x.detach() + epsilon * input_gradient(model, x, y).sign()
    return adversarial if clip is None else adversarial.clamp(*clip)


def pgd(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, epsilon: float, step_size: float, steps: int,
    random_start: bool = True, clip: tuple[float, float] | None = CLIP, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Projected gradient descent (ascent on the loss) in the L-inf ball of radius ``epsilon``."""
    x = x.detach()
    adversarial = x.clone()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, device="cpu").to(x.device)
        adversarial = adversarial + epsilon * (2 * noise - 1)
    for _ in range(steps):
        adversarial = adversarial + step_size * input_gradient(model, adversarial, y).sign()
        adversarial = torch.max(torch.min(adversarial, x + epsilon), x - epsilon)
        if clip is not None:
            adversarial = adversarial.clamp(*clip)
    return adversarial.detach()


def adversarial_training_step(epsilon: float, alpha: float = 0.5) -> Callable[[nn.Module, tuple], torch.Tensor]:
    """A ``step_fn`` for :func:`~transfer_lab.methods.training.fit`: Goodfellow et al.'s
    mixed objective on ``(x, y)`` batches."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")

    def step(model: nn.Module, batch: tuple) -> torch.Tensor:
        x, y = batch[0], batch[1]
        adversarial = fgsm(model, x, y, epsilon)
        return alpha * F.cross_entropy(model(x), y) + (1 - alpha) * F.cross_entropy(model(adversarial), y)

    return step


def attacked_accuracy(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, attack: Attack | None = None, batch_size: int = 512
) -> float:
    """Accuracy on ``attack(model, x, y)`` (``None``: the clean inputs), in evaluation mode;
    the attack sees the true labels (white box)."""
    was_training = model.training
    model.eval()
    correct = 0
    try:
        for start in range(0, len(X), batch_size):
            xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            inputs = xb if attack is None else attack(model, xb, yb)
            with torch.no_grad():
                correct += int((model(inputs).argmax(1) == yb).sum())
    finally:
        model.train(was_training)
    return correct / max(len(X), 1)
