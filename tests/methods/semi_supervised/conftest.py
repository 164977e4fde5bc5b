"""Fixtures of the semi-supervised tests: small data sets (threads: see tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_moons

from tests.methods.semi_supervised.helpers import mask_labels


@pytest.fixture(scope="session")
def moons():
    """make_moons(300, noise=0.1) with 3 labels per class, and a 1000-point test set."""
    X, y = make_moons(n_samples=300, noise=0.1, random_state=0)
    X_test, y_test = make_moons(n_samples=1000, noise=0.1, random_state=100)
    return X, y, mask_labels(y, 3, seed=0), X_test, y_test


@pytest.fixture(scope="session")
def digits_flat():
    """sklearn digits as (n, 64) floats in [0, 1] and int64 labels."""
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float64), y.astype(np.int64)
