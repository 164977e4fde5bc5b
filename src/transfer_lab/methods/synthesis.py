"""Cross-domain synthesis helpers: the PSNR metric and the interpolation baselines.

Used to judge semi-coupled dictionary learning (``sdl.py``) on coupled pairs such as
low-resolution → high-resolution digits.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

INTERPOLATION_MODES = ("bilinear", "bicubic")


def psnr(prediction: np.ndarray, truth: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio of each image, in dB: ``10 log10(range² / MSE)``.

    Parameters
    ----------
    prediction, truth : ndarray of shape (n, ...)
        Same shape; one image (any shape) per row.
    data_range : float, default 1.0
        The span of the pixel values (1 for images in [0, 1]).

    Returns
    -------
    ndarray of shape (n,)
        PSNR per image; a perfect prediction gives ``inf``.
    """
    prediction = np.asarray(prediction, dtype=np.float64)
    truth = np.asarray(truth, dtype=np.float64)
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction {prediction.shape} and truth {truth.shape} must have the same shape")
    mse = ((prediction - truth) ** 2).reshape(len(truth), -1).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range**2 / mse)


def interpolate(images: np.ndarray, size: tuple[int, int], mode: str = "bilinear") -> np.ndarray:
    """Resize a batch of images (n, C, H, W) to ``size`` by bilinear or bicubic interpolation.

    The result is clipped to [0, 1] (bicubic overshoots at edges) and returned as float32.
    """
    if mode not in INTERPOLATION_MODES:
        raise ValueError(f"mode must be one of {INTERPOLATION_MODES} (got {mode!r})")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (n, C, H, W) (got {images.shape})")
    with torch.no_grad():
        resized = F.interpolate(torch.from_numpy(images), size=tuple(size), mode=mode, align_corners=False)
    return resized.clamp_(0.0, 1.0).numpy()
