"""Input checks and small helpers shared by the semi-supervised estimators.

The estimators follow ``sklearn.semi_supervised``: one ``y`` for all rows with ``-1`` marking
the unlabeled ones. The checks live here so that every estimator refuses bad input with the
same one-line messages.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import validate_data

UNLABELED = -1


def check_fit_input(estimator, X, y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate ``X, y`` for ``fit``; set ``n_features_in_``; return ``X, y, labeled_mask``.

    Raises
    ------
    ValueError
        If ``y`` is not 1-d integer labels, has a length other than ``len(X)``, has no
        labeled row, a negative label other than ``-1``, or fewer than two classes.
    """
    # ensure_min_samples=2: a graph or a pool of one row has nothing to propagate to.
    X = validate_data(estimator, X, reset=True, dtype=np.float64, ensure_min_samples=2)
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-d with -1 for unlabeled rows, got shape {y.shape}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    if y.dtype.kind not in "iuf":
        raise ValueError(f"y must hold integer class labels and -1 for unlabeled, got {y.dtype}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("y must hold integer class labels and -1 for unlabeled rows")
        y = y.astype(np.int64)
    labeled = y != UNLABELED
    if not labeled.any():
        raise ValueError("y has no labeled row; mark only the unlabeled rows with -1")
    if np.any(y[labeled] < 0):
        raise ValueError("class labels must be >= 0; -1 is reserved for unlabeled rows")
    if len(np.unique(y[labeled])) < 2:
        raise ValueError("the labeled rows must contain at least two classes")
    return X, y, labeled


def check_predict_input(estimator, X) -> np.ndarray:
    """Validate ``X`` for ``predict``/``predict_proba`` against the fitted feature count."""
    return validate_data(estimator, X, reset=False, dtype=np.float64)


def check_y_true_unlabeled(y_true, y: np.ndarray, labeled: np.ndarray) -> np.ndarray | None:
    """Align the optional diagnostic labels with the rows of ``X``.

    Parameters
    ----------
    y_true : array-like or None
        Either one label per row of ``X`` (values at labeled rows are ignored) or one label
        per unlabeled row, in the order those rows appear in ``X``.
    y, labeled : numpy.ndarray
        The ``y`` given to ``fit`` and its labeled mask.

    Returns
    -------
    numpy.ndarray or None
        One label per row of ``X`` (the given ``y`` at labeled rows), or ``None``.
    """
    if y_true is None:
        return None
    y_true = np.asarray(y_true)
    n_unlabeled = int((~labeled).sum())
    if y_true.ndim != 1 or len(y_true) not in (len(y), n_unlabeled):
        raise ValueError(
            f"y_true_unlabeled must have {len(y)} (all rows) or {n_unlabeled} (unlabeled rows) "
            f"values, got shape {y_true.shape}"
        )
    if len(y_true) == len(y):
        full = y_true.copy()
        full[labeled] = y[labeled]
        return full
    full = y.copy()
    full[~labeled] = y_true
    return full


def precision(y_pred: np.ndarray, y_true: np.ndarray | None) -> float | None:
    """Fraction of ``y_pred`` equal to ``y_true``; NaN for no rows, None without ``y_true``."""
    if y_true is None:
        return None
    if len(y_pred) == 0:
        return float("nan")
    return float(np.mean(np.asarray(y_pred) == np.asarray(y_true)))


def check_int(name: str, value, minimum: int, allow_none: bool = False) -> None:
    """Raise a one-line ValueError unless ``value`` is an integer >= ``minimum`` (or None)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        extra = " or None" if allow_none else ""
        raise ValueError(f"{name} must be an integer >= {minimum}{extra}, got {value!r}")


def check_classifier(estimator, name: str = "estimator") -> None:
    """Raise unless ``estimator`` looks like a probabilistic scikit-learn classifier."""
    if not hasattr(estimator, "fit") or not hasattr(estimator, "predict_proba"):
        raise ValueError(f"{name} must be a classifier with fit and predict_proba")
