"""Cross-domain synthesis helpers: the PSNR metric and the interpolation baselines.

Used to judge semi-coupled dictionary learning (``sdl.py``) on coupled pairs such as
low-resolution → high-resolution digits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import RidgeCV

from transfer_lab.methods.dictionary_learning import flatten_rows
from transfer_lab.methods.sdl import COUPLED_METHODS, SemiCoupledDictionaryLearning

INTERPOLATION_MODES = ("bilinear", "bicubic")
RIDGE_ALPHAS = np.logspace(-3, 3, 13)  # RidgeCV's grid for the pixel → pixel baseline


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



@dataclass
class SynthesisComparison:
    """What :func:`compare_synthesis` measured on one coupled pair.

    Attributes
    ----------
    scores : list of (method, seed, metric, value)
        ``psnr`` (mean over the test images) of every method and seed, and SDL's final
        training ``objective``; deterministic baselines carry seed 0.
    predictions : dict of str to ndarray
        Each method's predicted test images, for the first seed.
    histories : dict of str to list of float
        Objective per iteration of ``sdl`` and ``coupled_identity``, for the first seed.
    """

    scores: list[tuple[str, int, str, float]] = field(default_factory=list)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    histories: dict[str, list[float]] = field(default_factory=dict)


def compare_synthesis(
    source_train: np.ndarray,
    target_train: np.ndarray,
    source_test: np.ndarray,
    target_test: np.ndarray,
    seeds: Iterable[int],
    **sdl_params,
) -> SynthesisComparison:
    """Predict target images from source images, by SDL and its baselines; PSNR on the test pair.

    * ``sdl``: semi-coupled dictionary learning (code the source, map with ``W``, decode
      with the target dictionary), fitted once per seed;
    * ``coupled_identity``: the same with ``W = I``;
    * ``ridge``: ridge regression pixel → pixel (``RidgeCV`` over :data:`RIDGE_ALPHAS`);
    * ``interpolation_bilinear`` / ``interpolation_bicubic``: where the two domains differ
      in resolution, the source image resized.

    Predictions are clipped to the value range of the training targets, and PSNR uses that
    range as its peak: [0, 1] for images, the signal's own span for standardised MNIST-1D
    (clipping those to [0, 1] flattened every curve). ``sdl_params`` go to
    :class:`~transfer_lab.methods.sdl.SemiCoupledDictionaryLearning`.
    """
    result = SynthesisComparison()
    X_train, Y_train, X_test = flatten_rows(source_train), flatten_rows(target_train), flatten_rows(source_test)
    low, high = min(0.0, float(Y_train.min())), max(1.0, float(Y_train.max()))

    def keep(method: str, seed: int, predicted: np.ndarray) -> None:
        score = psnr(predicted, target_test, data_range=high - low).mean()
        result.scores.append((method, seed, "psnr", float(score)))
        result.predictions.setdefault(method, predicted)

    for seed in seeds:
        for method, identity in COUPLED_METHODS:
            model = SemiCoupledDictionaryLearning(fix_w_identity=identity, random_state=seed, **sdl_params)
            model.fit(X_train, Y_train)
            keep(method, seed, np.clip(model.synthesize(X_test), low, high).reshape(target_test.shape))
            result.scores.append((method, seed, "objective", float(model.objective_history_[-1])))
            result.histories.setdefault(method, list(model.objective_history_))
    ridge = RidgeCV(alphas=RIDGE_ALPHAS).fit(X_train, Y_train)
    keep("ridge", 0, np.clip(ridge.predict(X_test), low, high).reshape(target_test.shape))
    if np.shape(source_test)[2:] != np.shape(target_test)[2:]:
        for mode in INTERPOLATION_MODES:
            keep(f"interpolation_{mode}", 0, interpolate(source_test, np.shape(target_test)[2:], mode))
    return result
