"""One experiment of any semi-supervised estimator: fit on a label budget, then measure.

Every method goes through :func:`fit_and_measure` alike: the labelled and unlabelled train
rows as one flat ``X`` with ``y = -1`` for the unlabelled ones; the validation rows, and the
true labels of the unlabelled rows (for the pseudo-label precision of ``history_`` only),
go to ``fit`` where the estimator takes them (``sklearn.utils.validation.has_fit_parameter``).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import has_fit_parameter

from transfer_lab.methods.semi_supervised.history import pseudo_label_totals

#: metric → (split, value); a value of None is not measured.
Measurements = dict[str, tuple[str, float | None]]


def flat(X: np.ndarray) -> np.ndarray:
    """Rows as flat float64 vectors."""
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


def fit_and_measure(model: Any, view: Any) -> tuple[Measurements, list[dict[str, Any]]]:
    """Fit ``model`` on one budget view (a :class:`~transfer_lab.sources.splits.BudgetView`)
    and return its measurements and ``history_``.

    Measured: test, val and unlabelled-row accuracy, fit seconds; for estimators whose
    pseudo-labels enter training (``history_counts == "added"``) their number and precision
    over all rounds; the best epoch of a network and a distillation teacher's accuracy.
    """
    X = np.concatenate([flat(view.X_labeled), flat(view.X_unlabeled)])
    y = np.concatenate([view.y_labeled, np.full(len(view.X_unlabeled), -1)])
    offered = {"X_val": flat(view.X_val), "y_val": view.y_val, "y_true_unlabeled": view.y_unlabeled}
    fit_params = {name: value for name, value in offered.items() if has_fit_parameter(model, name)}
    with warnings.catch_warnings():
        # Slow convergence of the graph iteration or of a base learner on a handful of
        # labels still gives a usable model: report its accuracy rather than stop.
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y, **fit_params)
        seconds = time.perf_counter() - start
        unlabeled = model.predict(flat(view.X_unlabeled))
        measurements: Measurements = {
            "accuracy": ("test", model.score(flat(view.X_test), view.y_test)),
            "val_accuracy": ("val", model.score(flat(view.X_val), view.y_val)),
            "unlabeled_accuracy": ("unlabeled", float(np.mean(unlabeled == view.y_unlabeled))),
            "seconds": ("train", seconds),
        }
    history = list(getattr(model, "history_", []))
    if history and getattr(model, "history_counts", "added") == "added":
        added, precision = pseudo_label_totals(history)
        measurements["n_pseudo_labels"] = ("unlabeled", float(added))
        measurements["pseudo_label_precision"] = ("unlabeled", precision)
    if hasattr(model, "best_epoch_"):
        measurements["epochs"] = ("train", float(model.best_epoch_ + 1))
        measurements["teacher_accuracy"] = ("unlabeled", getattr(model, "teacher_accuracy_", None))
    return measurements, history
