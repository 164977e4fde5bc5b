"""A small digits budget view shared by the tests of the regularisation methods."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits


@dataclass
class View:
    X_labeled: np.ndarray
    y_labeled: np.ndarray
    X_unlabeled: np.ndarray
    y_unlabeled: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    labels_per_class: str
    seed: int


@pytest.fixture(scope="session")
def digits_view():
    """Digits in [0, 1] as (n, 1, 8, 8): 500 labelled rows, 200 val, 300 test."""
    torch.set_num_threads(1)
    digits = load_digits()
    X, y = (digits.images / 16.0).astype(np.float32)[:, None], digits.target
    order = np.random.default_rng(0).permutation(len(X))
    tr, va, te = order[:500], order[500:700], order[700:1000]
    return View(X[tr], y[tr], X[:0], y[:0], X[va], y[va], X[te], y[te], "50", 0)
