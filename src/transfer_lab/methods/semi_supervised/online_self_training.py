"""Online self-training: pseudo-labels recomputed at every step of an incremental learner.

The scikit-learn-style counterpart of Lee (2013)'s pseudo-label method (the neural one is
:func:`transfer_lab.methods.semi_supervised.neural.pseudo_label.train_pseudo_label`). The base learner
is updated with ``partial_fit`` on mini-batches; each step takes a batch of labeled rows
and a batch of unlabeled rows whose targets are the learner's *current* predictions:

* ``"hard"``: the one-hot argmax (Lee 2013, Eq. 1);
* ``"soft"``: the predicted distribution ``p``;
* ``"sharpen"``: ``p_c^(1/T) / sum_k p_k^(1/T)`` (MixMatch, Berthelot et al. 2019, Eq. 7).

A probability target is passed to ``partial_fit`` as one copy of the row per class,
weighted by the target's probability of that class. For a learner minimising the
(weighted) log-loss this is exactly the soft-target cross-entropy
``-sum_c q_c log p_c``, so any classifier with ``partial_fit(X, y, sample_weight=...)``
and ``predict_proba`` (``SGDClassifier(loss="log_loss")``, ``MLPClassifier``) can learn
from soft and sharpened targets. Soft targets equal to the current prediction have a
vanishing gradient (``p - q = 0``); they matter through the other rows of the step and the
learner's loss normalisation only, which is why sharpening (or hard targets) is the usual
choice: on two moons hard and sharpened targets gain, soft ones do not.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from transfer_lab.methods.semi_supervised._base import (
    check_fit_input,
    check_int,
    check_predict_input,
    check_y_true_unlabeled,
)

__all__ = ["OnlineSelfTrainingClassifier", "pseudo_targets", "expand_soft_targets"]

TARGETS = ("hard", "soft", "sharpen")
# Per-class copies whose target probability is below this are dropped: they would add
# rows (10 per unlabeled row on digits) for a negligible part of the loss.
_MIN_TARGET = 1e-4


def pseudo_targets(proba: np.ndarray, targets: str, temperature: float) -> np.ndarray:
    """Target distributions for predicted probabilities ``proba`` (rows sum to 1).

    Parameters
    ----------
    proba : numpy.ndarray of shape (n, n_classes)
    targets : {"hard", "soft", "sharpen"}
    temperature : float
        ``T`` of ``"sharpen"``; ``T -> 0`` approaches ``"hard"``, ``T = 1`` is ``"soft"``.

    Returns
    -------
    numpy.ndarray of shape (n, n_classes)
    """
    if targets == "hard":
        out = np.zeros_like(proba)
        out[np.arange(len(proba)), proba.argmax(axis=1)] = 1.0
        return out
    if targets == "soft":
        return proba
    # In log space, as losses.sharpen does: p^(1/T) underflows for small T.
    logits = np.log(np.clip(proba, 1e-30, None)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    sharp = np.exp(logits)
    return sharp / sharp.sum(axis=1, keepdims=True)


def expand_soft_targets(
    X: np.ndarray, targets: np.ndarray, classes: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, labels and sample weights whose weighted log-loss is the soft cross-entropy.

    Row ``i`` becomes one copy per class ``c`` with ``targets[i, c] >= 1e-4``, labelled
    ``classes[c]`` and weighted ``weights[i] * targets[i, c]``, so that
    ``sum_copies w log p(label | x) = sum_i weights_i sum_c targets_ic log p_ic`` (up to the
    dropped negligible terms).
    """
    rows, cols = np.nonzero(targets >= _MIN_TARGET)
    return X[rows], classes[cols], weights[rows] * targets[rows, cols]


class OnlineSelfTrainingClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Online pseudo-labelling with hard, soft or temperature-sharpened targets.

    ``fit`` first calls ``partial_fit`` once on all labeled rows, then runs ``max_iter``
    epochs. An epoch is one shuffled pass over the unlabeled rows in batches of
    ``batch_size``; each batch is paired with ``batch_size`` labeled rows (cycled) and the
    step is ``partial_fit`` on the labeled rows (weight 1) plus the unlabeled rows with
    their targets (weight ``α(t) · target probability``, see
    :func:`expand_soft_targets`). Targets are computed from the learner as it is just
    before the step; rows whose highest probability is below ``threshold`` are left out.
    ``α(t) = weight · exp(-5 (1 - t)^2)`` rises over the first ``rampup_epochs`` epochs
    (Laine & Aila 2017), as Lee ramps his weight up so that the first, poor predictions do
    not lock themselves in.

    Parameters
    ----------
    estimator : estimator object
        A classifier with ``partial_fit(X, y, classes=..., sample_weight=...)`` and
        ``predict_proba``, e.g. ``SGDClassifier(loss="log_loss")`` or ``MLPClassifier``.
        Cloned, never modified.
    targets : {"hard", "soft", "sharpen"}, default "hard"
    threshold : float, default 0.0
        Confidence needed for a row to get a target (0 keeps every row, as Lee 2013).
    temperature : float, default 0.5
        ``T`` of ``targets="sharpen"``.
    weight : float, default 1.0
        ``α`` after the ramp-up.
    rampup_epochs : float, default 5.0
    max_iter : int, default 30
        Epochs over the unlabeled rows.
    batch_size : int, default 64
    random_state : int, RandomState or None, default None
        Shuffles the batches.

    Attributes
    ----------
    estimator_ : estimator object
        The incrementally trained learner.
    classes_ : numpy.ndarray
    n_iter_ : int
        Epochs run.
    history_ : list of dict
        One dict per epoch: ``round`` (the epoch, from 1), ``n_added`` (unlabeled rows that
        got a target in the epoch), ``mean_confidence`` of those rows, ``weight`` (α at the
        epoch's end) and, when ``fit`` got ``y_true_unlabeled``, ``precision``: the fraction
        of those rows whose argmax target was right when it was used (NaN when none).
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.linear_model import SGDClassifier
    >>> model = OnlineSelfTrainingClassifier(SGDClassifier(loss="log_loss"), targets="sharpen")
    """

    def __init__(
        self,
        estimator,
        targets: str = "hard",
        threshold: float = 0.0,
        temperature: float = 0.5,
        weight: float = 1.0,
        rampup_epochs: float = 5.0,
        max_iter: int = 30,
        batch_size: int = 64,
        random_state=None,
    ) -> None:
        self.estimator = estimator
        self.targets = targets
        self.threshold = threshold
        self.temperature = temperature
        self.weight = weight
        self.rampup_epochs = rampup_epochs
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.random_state = random_state

    def _check_params(self) -> None:
        if not hasattr(self.estimator, "partial_fit") or not hasattr(self.estimator, "predict_proba"):
            raise ValueError("estimator must be a classifier with partial_fit and predict_proba")
        if self.targets not in TARGETS:
            raise ValueError(f"targets must be one of {TARGETS}, got {self.targets!r}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not self.weight >= 0:
            raise ValueError(f"weight must be >= 0, got {self.weight}")
        if not self.rampup_epochs >= 0:
            raise ValueError(f"rampup_epochs must be >= 0, got {self.rampup_epochs}")
        check_int("max_iter", self.max_iter, 1)
        check_int("batch_size", self.batch_size, 1)

    def fit(self, X, y, y_true_unlabeled=None) -> OnlineSelfTrainingClassifier:
        """Fit by online self-training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels, ``-1`` for unlabeled rows.
        y_true_unlabeled : array-like, optional
            True labels, for ``history_``'s precision only (see
            :meth:`SelfTrainingClassifier.fit`); never used for training.

        Returns
        -------
        self
        """
        self._check_params()
        X, y, labeled = check_fit_input(self, X, y)
        y_true = check_y_true_unlabeled(y_true_unlabeled, y, labeled)
        self.classes_ = np.unique(y[labeled])
        rng = check_random_state(self.random_state)

        lab_idx, unl_idx = np.flatnonzero(labeled), np.flatnonzero(~labeled)
        model = clone(self.estimator)
        model.partial_fit(X[lab_idx], y[lab_idx], classes=self.classes_)
        n_batches = max(1, math.ceil(len(unl_idx) / self.batch_size))
        rampup_steps = self.rampup_epochs * n_batches
        labeled_stream = np.empty(0, dtype=np.int64)
        step = 0
        self.history_ = []
        self.n_iter_ = 0
        # Without unlabeled rows there is nothing to pseudo-label: the warm-up fit is the model.
        n_epochs = self.max_iter if len(unl_idx) else 0
        for epoch in range(1, n_epochs + 1):
            self.n_iter_ = epoch
            order = rng.permutation(unl_idx)
            n_added, confidence_sum, correct = 0, 0.0, 0
            alpha = 0.0
            for start in range(0, len(order), self.batch_size):
                batch_u = order[start : start + self.batch_size]
                if len(labeled_stream) < self.batch_size:
                    labeled_stream = np.concatenate([labeled_stream, rng.permutation(lab_idx)])
                batch_l = labeled_stream[: min(self.batch_size, len(lab_idx))]
                labeled_stream = labeled_stream[len(batch_l) :]

                progress = 1.0 if rampup_steps <= 0 else min(step / rampup_steps, 1.0)
                alpha = float(self.weight) * math.exp(-5.0 * (1.0 - progress) ** 2)
                step += 1
                proba = model.predict_proba(X[batch_u])
                confidence = proba.max(axis=1)
                keep = confidence >= self.threshold
                targets = pseudo_targets(proba[keep], self.targets, self.temperature)
                X_u, y_u, w_u = expand_soft_targets(
                    X[batch_u[keep]], targets, self.classes_, np.full(int(keep.sum()), alpha)
                )
                model.partial_fit(
                    np.concatenate([X[batch_l], X_u]),
                    np.concatenate([y[batch_l], y_u]),
                    sample_weight=np.concatenate([np.ones(len(batch_l)), w_u]),
                )
                n_added += int(keep.sum())
                confidence_sum += float(confidence[keep].sum())
                if y_true is not None:
                    predicted = self.classes_[proba[keep].argmax(axis=1)]
                    correct += int(np.sum(predicted == y_true[batch_u[keep]]))
            record = {
                "round": epoch,
                "n_added": n_added,
                "mean_confidence": confidence_sum / n_added if n_added else float("nan"),
                "weight": alpha,
            }
            if y_true is not None:
                record["precision"] = correct / n_added if n_added else float("nan")
            self.history_.append(record)
        self.estimator_ = model
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the trained learner, columns ordered as ``classes_``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(check_predict_input(self, X))

    def predict(self, X) -> np.ndarray:
        """Predicted class labels."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(check_predict_input(self, X))
