"""scikit-learn's bundled 8x8 handwritten digits, as a project dataset dict.

The data ship inside scikit-learn, so loading them needs no network and no files of
ours: this is the dataset every default run and every test can rely on.
"""

from __future__ import annotations

import numpy as np
from sklearn import datasets as _sk_datasets

from transfer_lab.contracts import Dataset

__all__ = ["load_digits"]


def load_digits() -> Dataset:
    """Load the 1,797 8x8 digit images.

    Returns
    -------
    Dataset
        ``name="digits"``, ``kind="image"``, ``X`` float32 (1797, 1, 8, 8) in [0, 1],
        ``y`` int64 (1797,). Pixel values are scikit-learn's 0..16 counts divided by 16.
    """
    bunch = _sk_datasets.load_digits()
    X = (bunch.images.astype(np.float32) / np.float32(16.0))[:, None, :, :]
    return Dataset(
        name="digits", kind="image", X=X, y=bunch.target.astype(np.int64), declared_classes=len(bunch.target_names)
    )
