"""Tangent vectors of small image transformations, and the tangent distance (Simard et al.).

Simard, LeCun, Denker & Victorri, *Transformation invariance in pattern recognition —
tangent distance and tangent propagation* (1998; Deep Learning book, sec. 7.14). A small
transformation ``s(x, a)`` of an image moves it, to first order, along the tangent
``t = ds/da`` at ``a = 0``; from the (smoothed) image derivatives ``Ix = dI/dx`` and
``Iy = dI/dy`` and the pixel coordinates ``(x, y)`` about the image centre:

============== ==================
x-translation  ``Ix``
y-translation  ``Iy``
rotation       ``y * Ix - x * Iy``
scaling        ``x * Ix + y * Iy``
thickening     ``Ix**2 + Iy**2``
============== ==================

Signals ``(C, L)`` have translation, scaling and thickening along their one axis.

The two-sided tangent distance between ``x`` and ``y`` is the distance between the affine
planes ``x + Tx a`` and ``y + Ty b``::

    TD(x, y)^2 = min_{a, b} || x + Tx a - y - Ty b ||^2  (+ ridge (|a|^2 + |b|^2))

a linear least-squares problem (the ``ridge`` term is Simard's "spring" that keeps the
transformations small). ``a = b = 0`` is feasible, so ``TD <= ||x - y||``, with equality
when the tangents are zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

IMAGE_TANGENTS = ("translate_x", "translate_y", "rotate", "scale", "thicken")
SIGNAL_TANGENTS = ("translate_x", "scale", "thicken")


def _derivatives(images: np.ndarray, sigma: float, mode: str) -> list[np.ndarray]:
    """Central-difference derivatives of each (smoothed) image along its spatial axes,
    last axis (x) first."""
    spatial = images.ndim - 2  # (n, C, H, W) -> 2, (n, C, L) -> 1
    if sigma > 0:
        images = ndimage.gaussian_filter(images, sigma=[0, 0, *[sigma] * spatial], mode="constant" if mode == "zero" else "wrap")
    if mode == "wrap":
        return [(np.roll(images, -1, axis=a) - np.roll(images, 1, axis=a)) / 2 for a in range(images.ndim - 1, 1, -1)]
    return [np.gradient(images, axis=a) for a in range(images.ndim - 1, 1, -1)]


def tangent_vectors(
    X: np.ndarray, kinds: Sequence[str] = IMAGE_TANGENTS, sigma: float = 0.0, mode: str = "zero"
) -> np.ndarray:
    """The tangent vectors of ``kinds`` at each image (or signal) of ``X``.

    Parameters
    ----------
    X : array (n, C, H, W) or (n, C, L)
    kinds : names from :data:`IMAGE_TANGENTS` (signals: :data:`SIGNAL_TANGENTS`)
    sigma : float, default 0
        Gaussian smoothing (pixels) before differentiating; Simard smooths to make the
        derivatives of a pixelated image meaningful.
    mode : {"zero", "wrap"}
        ``zero``: ``numpy.gradient`` (central differences inside, one-sided at the border);
        ``wrap``: periodic central differences (the tangent of a circular shift).

    Returns
    -------
    array (n, len(kinds), *X.shape[1:])
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim not in (3, 4):
        raise ValueError(f"X must be (n, C, H, W) images or (n, C, L) signals, got shape {X.shape}")
    allowed = IMAGE_TANGENTS if X.ndim == 4 else SIGNAL_TANGENTS
    unknown = [k for k in kinds if k not in allowed]
    if unknown:
        raise ValueError(f"unknown tangent(s) {unknown} for {'images' if X.ndim == 4 else 'signals'}; allowed: {allowed}")
    if mode not in ("zero", "wrap"):
        raise ValueError(f"mode must be 'zero' or 'wrap', got {mode!r}")
    derivatives = _derivatives(X, sigma, mode)
    Ix = derivatives[0]
    Iy = derivatives[1] if X.ndim == 4 else np.zeros_like(Ix)
    coords = np.meshgrid(*[np.arange(s) - (s - 1) / 2 for s in X.shape[2:]], indexing="ij")
    xs = coords[-1]
    ys = coords[0] if X.ndim == 4 else np.zeros_like(xs)
    table = {
        "translate_x": lambda: Ix,
        "translate_y": lambda: Iy,
        "rotate": lambda: ys * Ix - xs * Iy,
        "scale": lambda: xs * Ix + ys * Iy,
        "thicken": lambda: Ix**2 + Iy**2,
    }
    return np.stack([table[k]() for k in kinds], axis=1)


def tangent_distance(
    X: np.ndarray, TX: np.ndarray, Y: np.ndarray, TY: np.ndarray, ridge: float = 1e-6, chunk: int = 64
) -> np.ndarray:
    """Two-sided tangent distances between every row of ``X`` and every row of ``Y``.

    Parameters
    ----------
    X : array (m, ...), TX : array (m, k, ...)
        Patterns and their tangents; ``Y`` (n, ...), ``TY`` (n, l, ...) likewise.
    ridge : float, default 1e-6
        Penalty ``ridge * (|a|^2 + |b|^2)`` on the transformation amounts (> 0 keeps the
        normal equations solvable when tangents are zero or collinear).
    chunk : int
        Rows of ``X`` per batch of normal equations (memory ~ chunk * n * (k + l)^2).

    Returns
    -------
    array (m, n): ``TD(x_i, y_j)``, never above the Euclidean distance.
    """
    if ridge <= 0:
        raise ValueError(f"ridge must be > 0, got {ridge}")
    X, Y = np.asarray(X, np.float64).reshape(len(X), -1), np.asarray(Y, np.float64).reshape(len(Y), -1)
    TX, TY = np.asarray(TX, np.float64).reshape(len(X), -1, X.shape[1]), np.asarray(TY, np.float64).reshape(len(Y), -1, Y.shape[1])
    k, n = TX.shape[1], len(Y)
    squared = (X**2).sum(1)[:, None] + (Y**2).sum(1)[None] - 2 * X @ Y.T
    gram_yy = np.einsum("nkd,nld->nkl", TY, TY)
    ty_y = np.einsum("nkd,nd->nk", TY, Y)
    out = np.empty((len(X), n))
    for start in range(0, len(X), chunk):
        x, tx = X[start : start + chunk], TX[start : start + chunk]
        c = len(x)
        gram = np.empty((c, n, k + TY.shape[1], k + TY.shape[1]))
        gram[:, :, :k, :k] = np.einsum("mkd,mld->mkl", tx, tx)[:, None]
        gram[:, :, k:, k:] = gram_yy[None]
        cross = -np.einsum("mkd,nld->mnkl", tx, TY)
        gram[:, :, :k, k:], gram[:, :, k:, :k] = cross, cross.transpose(0, 1, 3, 2)
        gram += ridge * np.eye(gram.shape[-1])
        # A = [Tx, -Ty], d = x - y: rhs = A^T d
        rhs = np.concatenate(
            [np.einsum("mkd,md->mk", tx, x)[:, None] - np.einsum("mkd,nd->mnk", tx, Y),
             -(np.einsum("nkd,md->mnk", TY, x) - ty_y[None])], axis=-1,
        )
        solved = np.linalg.solve(gram, rhs[..., None])[..., 0]
        out[start : start + c] = squared[start : start + c] - (rhs * solved).sum(-1)
    return np.sqrt(np.clip(out, 0.0, None))


class TangentDistanceClassifier:
    """1-nearest-neighbour classifier under the two-sided tangent distance.

    scikit-learn style: ``fit(X, y)`` stores the training patterns and their tangents,
    ``predict(X)`` returns the label of the nearest one. Parameters as in
    :func:`tangent_vectors` and :func:`tangent_distance`.
    """

    def __init__(self, kinds: Sequence[str] = IMAGE_TANGENTS, sigma: float = 0.8, ridge: float = 1e-3) -> None:
        self.kinds = kinds
        self.sigma = sigma
        self.ridge = ridge

    def _tangents(self, X: np.ndarray) -> np.ndarray:
        kinds = [k for k in self.kinds if np.asarray(X).ndim == 4 or k in SIGNAL_TANGENTS]
        return tangent_vectors(X, kinds, sigma=self.sigma)

    def fit(self, X: np.ndarray, y: np.ndarray) -> TangentDistanceClassifier:
        self.X_ = np.asarray(X, dtype=np.float64)
        self.T_ = self._tangents(self.X_)
        self.y_ = np.asarray(y)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        distances = tangent_distance(X, self._tangents(X), self.X_, self.T_, ridge=self.ridge)
        return self.y_[distances.argmin(axis=1)]

    def score(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) == np.asarray(y)))
