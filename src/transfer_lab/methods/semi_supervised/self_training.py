"""Offline self-training: pseudo-label the confident unlabeled rows, refit, repeat.

The classic wrapper method (Yarowsky 1995; Scudder 1965): a base classifier trained on the
labeled rows labels the unlabeled rows it is most confident about, these join the training
set, and the classifier is refitted. The neural, online counterpart (pseudo-labels
recomputed at every gradient step, with hard, soft or sharpened targets) is
:func:`transfer_lab.methods.semi_supervised.neural.pseudo_label.train_pseudo_label`.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted

from transfer_lab.methods.semi_supervised._base import (
    check_classifier,
    check_fit_input,
    check_int,
    check_predict_input,
    check_y_true_unlabeled,
    precision,
)

__all__ = ["SelfTrainingClassifier"]

CRITERIA = ("threshold", "k_best")


class SelfTrainingClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Self-training with a confidence threshold or the k most confident rows per round.

    Each round fits a clone of ``estimator`` on the rows labeled so far, predicts the
    still-unlabeled rows and adds the selected ones with their predicted label. Rows once
    pseudo-labeled keep their label (as in scikit-learn's ``SelfTrainingClassifier``); the
    given labels are never changed.

    Parameters
    ----------
    estimator : estimator object
        A classifier with ``fit`` and ``predict_proba``; cloned, never modified.
    threshold : float, default 0.75
        With ``criterion="threshold"``, rows whose highest predicted probability is strictly
        above ``threshold`` are added.
    criterion : {"threshold", "k_best"}, default "threshold"
        ``"k_best"`` adds the ``k_best`` most confident rows each round instead.
    k_best : int, default 10
        Rows added per round with ``criterion="k_best"``.
    max_iter : int or None, default 10
        Maximum number of pseudo-labelling rounds; ``None`` runs until every row is labeled
        or a round adds nothing.
    verbose : bool, default False
        Print one line per round.

    Attributes
    ----------
    estimator_ : estimator object
        The base classifier refitted on all labeled and pseudo-labeled rows.
    classes_ : numpy.ndarray
        The labels seen in ``y`` (without ``-1``).
    transduction_ : numpy.ndarray of shape (n_samples,)
        Labels used for the final fit; ``-1`` for rows never pseudo-labeled.
    labeled_iter_ : numpy.ndarray of shape (n_samples,)
        Round in which each row got its label: ``0`` for the given labels, ``-1`` for never.
    n_iter_ : int
        Number of pseudo-labelling rounds run.
    termination_condition_ : {"max_iter", "no_change", "all_labeled"}
    history_ : list of dict
        One dict per round: ``round``, ``n_added``, ``n_labeled`` (after the round),
        ``mean_confidence`` of the added rows and, when ``fit`` got ``y_true_unlabeled``,
        ``precision``: the fraction of this round's pseudo-labels that are correct (NaN when
        nothing was added). The true labels are only compared, never used for selection.
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.svm import SVC
    >>> model = SelfTrainingClassifier(SVC(probability=True), threshold=0.9)
    """

    def __init__(
        self,
        estimator,
        threshold: float = 0.75,
        criterion: str = "threshold",
        k_best: int = 10,
        max_iter: int | None = 10,
        verbose: bool = False,
    ) -> None:
        self.estimator = estimator
        self.threshold = threshold
        self.criterion = criterion
        self.k_best = k_best
        self.max_iter = max_iter
        self.verbose = verbose

    def _check_params(self) -> None:
        check_classifier(self.estimator)
        if self.criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {self.criterion!r}")
        if self.criterion == "threshold" and not 0.0 <= self.threshold < 1.0:
            raise ValueError(f"threshold must be in [0, 1), got {self.threshold}")
        if self.criterion == "k_best":
            check_int("k_best", self.k_best, 1)
        check_int("max_iter", self.max_iter, 0, allow_none=True)

    def fit(self, X, y, y_true_unlabeled=None) -> SelfTrainingClassifier:
        """Fit by self-training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels, ``-1`` for unlabeled rows.
        y_true_unlabeled : array-like, optional
            True labels for diagnostics only: one per row of ``X`` or one per unlabeled row
            (in order). Used to record the precision of each round's pseudo-labels in
            ``history_``; never used for training or selection.

        Returns
        -------
        self
        """
        self._check_params()
        X, y, labeled = check_fit_input(self, X, y)
        y_true = check_y_true_unlabeled(y_true_unlabeled, y, labeled)
        self.classes_ = np.unique(y[labeled])

        transduction = np.where(labeled, y, -1)
        labeled_iter = np.where(labeled, 0, -1)
        has_label = labeled.copy()
        self.history_ = []
        self.n_iter_ = 0
        self.termination_condition_ = "all_labeled"
        while not has_label.all():
            if self.max_iter is not None and self.n_iter_ >= self.max_iter:
                self.termination_condition_ = "max_iter"
                break
            self.n_iter_ += 1
            model = clone(self.estimator).fit(X[has_label], transduction[has_label])
            candidates = np.flatnonzero(~has_label)
            proba = model.predict_proba(X[candidates])
            confidence = proba.max(axis=1)
            predicted = model.classes_[proba.argmax(axis=1)]
            if self.criterion == "threshold":
                chosen = np.flatnonzero(confidence > self.threshold)
            else:
                k = min(int(self.k_best), len(candidates))
                # Stable sort on -confidence: ties resolve to the earlier row, reproducibly.
                chosen = np.argsort(-confidence, kind="stable")[:k]
            added = candidates[chosen]
            transduction[added] = predicted[chosen]
            labeled_iter[added] = self.n_iter_
            has_label[added] = True
            record = {
                "round": self.n_iter_,
                "n_added": int(len(added)),
                "n_labeled": int(has_label.sum()),
                "mean_confidence": float(confidence[chosen].mean()) if len(added) else float("nan"),
            }
            if y_true is not None:
                record["precision"] = precision(predicted[chosen], y_true[added])
            self.history_.append(record)
            if self.verbose:
                print(f"self-training round {self.n_iter_}: " + ", ".join(
                    f"{k}={v}" for k, v in record.items() if k != "round"))
            if len(added) == 0:
                self.termination_condition_ = "no_change"
                break

        self.transduction_ = transduction
        self.labeled_iter_ = labeled_iter
        self.estimator_ = clone(self.estimator).fit(X[has_label], transduction[has_label])
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of the final base classifier, columns ordered as ``classes_``."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(check_predict_input(self, X))

    def predict(self, X) -> np.ndarray:
        """Predicted class labels."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(check_predict_input(self, X))
