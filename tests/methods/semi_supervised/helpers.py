"""Small helpers shared by the semi-supervised tests."""

from __future__ import annotations

import numpy as np


def mask_labels(y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``y`` with all but ``per_class`` random rows of each class set to -1."""
    rng = np.random.default_rng(seed)
    keep = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    )
    out = np.full(len(y), -1)
    out[keep] = y[keep]
    return out
