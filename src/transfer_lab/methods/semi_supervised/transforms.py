"""Batched random augmentations for the consistency methods (Π-model, FixMatch, ...).

Everything works on a whole batch on the batch's device, with one random draw per sample
from torch's global generator (seeded by :func:`~transfer_lab.methods.training.fit`), so an
augmented step costs a few tensor ops rather than a Python loop over images. Inputs are
``(n, C, L)`` signals, ``(n, C, H, W)`` images, or flat ``(n, D)`` vectors (noise only),
with values in [0, 1].

The defaults suit 8x8 digits: FixMatch's weak augmentation is a flip and a translation by
up to 12.5% of the side; here a 1-pixel shift (12.5% of 8) and no flip, since a mirrored
digit is another symbol (or none). The strong augmentation stands in for RandAugment with
the operations that keep a small grey-scale digit readable: a larger shift, brightness
scaling, Gaussian noise and Cutout (DeVries & Taylor 2017), which FixMatch always applies.
"""

from __future__ import annotations

import torch

__all__ = ["random_translate", "random_flip", "cutout", "weak_augment", "strong_augment"]


def _spatial_dims(x: torch.Tensor) -> int:
    if x.dim() not in (3, 4):
        raise ValueError(f"expected (n, C, L) or (n, C, H, W) inputs, got shape {tuple(x.shape)}")
    return x.dim() - 2


def random_translate(x: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Shift every sample by its own random integer offset in ``[-max_shift, max_shift]``.

    Pixels shifted in from outside are 0 (the digits' background). Works on ``(n, C, L)``
    and ``(n, C, H, W)`` batches; ``max_shift=0`` returns ``x`` unchanged.
    """
    if max_shift <= 0:
        return x
    dims = _spatial_dims(x)
    n = x.shape[0]
    s = max_shift
    padded = torch.nn.functional.pad(x, (s, s) * dims)
    shifts = torch.randint(0, 2 * s + 1, (n, dims), device=x.device)
    batch = torch.arange(n, device=x.device)
    if dims == 1:
        length = x.shape[-1]
        cols = torch.arange(length, device=x.device)[None, :] + shifts[:, :1]  # (n, L)
        # padded[b, :, cols[b]] for each b, via advanced indexing -> (n, L, C)
        out = padded[batch[:, None], :, cols]
        return out.permute(0, 2, 1).contiguous()
    h, w = x.shape[-2:]
    rows = torch.arange(h, device=x.device)[None, :] + shifts[:, :1]  # (n, H)
    cols = torch.arange(w, device=x.device)[None, :] + shifts[:, 1:]  # (n, W)
    out = padded[batch[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (n, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def random_flip(x: torch.Tensor, p: float = 0.5) -> torch.Tensor:
    """Mirror each sample along its last axis with probability ``p``."""
    if p <= 0:
        return x
    flip = torch.rand(x.shape[0], device=x.device) < p
    shape = (-1,) + (1,) * (x.dim() - 1)
    return torch.where(flip.view(shape), x.flip(-1), x)


def cutout(x: torch.Tensor, size: int) -> torch.Tensor:
    """Zero one random ``size``-wide square (segment for 1-d inputs) per sample.

    The centre may lie anywhere in the input, so the square can be partly outside it,
    as in DeVries & Taylor (2017).
    """
    if size <= 0:
        return x
    dims = _spatial_dims(x)
    n = x.shape[0]
    inside_all = None
    for axis, length in enumerate(x.shape[2:]):
        centre = torch.randint(0, length, (n,), device=x.device)
        pos = torch.arange(length, device=x.device)[None, :]
        start = (centre - size // 2)[:, None]
        inside = (pos >= start) & (pos < start + size)  # (n, length)
        view = [n] + [1] * dims
        view[1 + axis] = length
        inside = inside.view(view)
        inside_all = inside if inside_all is None else inside_all & inside
    # (n, 1, ...) broadcasts over the channels: the same square is cut from every channel.
    return x * (~inside_all).unsqueeze(1).to(x.dtype)


def weak_augment(x: torch.Tensor, max_shift: int = 1, flip: bool = False) -> torch.Tensor:
    """FixMatch's weak augmentation: random translation (and an optional horizontal flip).

    Flat ``(n, D)`` inputs are returned unchanged (no spatial structure to shift).
    """
    if x.dim() == 2:
        return x
    out = random_translate(x, max_shift)
    return random_flip(out) if flip else out


def strong_augment(
    x: torch.Tensor,
    max_shift: int = 2,
    noise_std: float = 0.1,
    cutout_size: int | None = None,
    brightness: float = 0.3,
    flip: bool = False,
) -> torch.Tensor:
    """A strong augmentation: translation, brightness scaling, Gaussian noise, Cutout.

    Parameters
    ----------
    x : torch.Tensor
        ``(n, C, L)``, ``(n, C, H, W)`` or flat ``(n, D)`` (noise and brightness only).
    max_shift : int, default 2
    noise_std : float, default 0.1
        Standard deviation of the additive noise (values are clipped back to [0, 1]).
    cutout_size : int or None
        Side of the Cutout square; ``None`` picks half the smallest side (4 for 8x8).
    brightness : float, default 0.3
        Each sample is scaled by a factor drawn uniformly from ``[1 - b, 1 + b]``.
    flip : bool, default False
    """
    out = x
    if x.dim() > 2:
        out = random_translate(out, max_shift)
        if flip:
            out = random_flip(out)
    if brightness > 0:
        shape = (-1,) + (1,) * (x.dim() - 1)
        scale = 1.0 + brightness * (2.0 * torch.rand(x.shape[0], device=x.device) - 1.0)
        out = out * scale.view(shape)
    if noise_std > 0:
        out = out + noise_std * torch.randn_like(out)
    out = out.clamp(0.0, 1.0)
    if x.dim() > 2:
        size = min(x.shape[2:]) // 2 if cutout_size is None else cutout_size
        out = cutout(out, size)
    return out
