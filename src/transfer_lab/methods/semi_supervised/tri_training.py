"""Tri-training (Zhou & Li 2005): three classifiers, each taught by the other two.

Zhou, Z.-H. and Li, M. (2005). Tri-training: exploiting unlabeled data using three
classifiers. IEEE Transactions on Knowledge and Data Engineering 17(11), 1529-1541,
Table 1 (the algorithm), implemented step by step:

    for i in {1, 2, 3}:
        S_i <- BootstrapSample(L); h_i <- Learn(S_i); e'_i <- 0.5; l'_i <- 0
    repeat until none of h_1, h_2, h_3 changes:
        for i in {1, 2, 3}:
            L_i <- {}; update_i <- False
            e_i <- MeasureError(h_j & h_k)             (j, k != i)
            if e_i < e'_i:
                L_i <- {(x, h_j(x)) : x in U, h_j(x) = h_k(x)}
                if l'_i = 0:                           (h_i has not been updated before)
                    l'_i <- floor(e_i / (e'_i - e_i) + 1)
                if l'_i < |L_i|:
                    if e_i |L_i| < e'_i l'_i:
                        update_i <- True
                    else if l'_i > e_i / (e'_i - e_i):
                        L_i <- Subsample(L_i, ceil(e'_i l'_i / e_i - 1)); update_i <- True
        for i in {1, 2, 3}:
            if update_i: h_i <- Learn(L u L_i); e'_i <- e_i; l'_i <- |L_i|
    output h(x) = argmax_y sum_{i: h_i(x) = y} 1

``MeasureError(h_j & h_k)`` is, as in the paper's Section 3, the number of labeled examples
that ``h_j`` and ``h_k`` both misclassify divided by the number on which they agree. The
conditions ``e_i |L_i| < e'_i |L'_i|`` keep the classification noise rate of the
newly-labeled set decreasing (the paper's Eq. 9-10); the subsampling step rescues a round
in which ``L_i`` is too large to satisfy it.
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
    precision,
)
from transfer_lab.methods.semi_supervised.history import rounds_summary

__all__ = ["TriTrainingClassifier"]

# A bootstrap sample of a handful of labels can miss a class; redraw up to this many times
# before resampling class by class.
_MAX_BOOTSTRAP_DRAWS = 100


class TriTrainingClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Tri-training (Zhou & Li 2005, Table 1) with majority-vote prediction.

    Parameters
    ----------
    estimator : estimator object
        Classifier with ``fit`` and ``predict``, cloned three times.
    random_state : int, RandomState or None, default None
        Draws the bootstrap samples and the subsamples.
    max_iter : int or None, default 100
        Safety cap on the number of rounds; the algorithm itself stops as soon as a round
        updates none of the three classifiers (in practice after a few rounds).

    Attributes
    ----------
    estimators_ : list of three estimators
        ``h_1, h_2, h_3`` at the end.
    classes_ : numpy.ndarray
    n_iter_ : int
        Rounds run (the last one updated nothing unless ``max_iter`` stopped the loop).
    history_ : list of dict
        One dict per round in the common schema
        (:mod:`~transfer_lab.methods.semi_supervised.history`): ``round``, ``n_added`` (the
        rows of the three ``L_i`` used that round) and, with ``y_true_unlabeled``,
        ``precision`` (of those labels, weighted by each ``|L_i|``).
    classifier_history_ : list of dict
        One dict per round and classifier: ``round``, ``classifier`` (0, 1, 2), ``error``
        (``e_i``; NaN when ``h_j`` and ``h_k`` agree on no labeled row), ``previous_error``
        (``e'_i`` before the round), ``previous_size`` (``l'_i`` as used by the round's
        test), ``n_agree`` (``|L_i|`` before any subsampling), ``n_added`` (``|L_i|`` used),
        ``subsampled``, ``updated``, ``indices`` and ``labels`` of the rows in ``L_i``
        (empty unless updated) and, when ``fit`` got ``y_true_unlabeled``, ``precision`` of
        those labels.
    stratified_bootstrap_ : bool
        True when 100 plain bootstrap draws all missed a class and the samples were drawn
        class by class instead (see Notes).
    n_features_in_ : int

    Notes
    -----
    A bootstrap sample that misses a class is redrawn, so that each ``h_i`` knows every
    class (with three labels per class a sample misses one a few times in a hundred). When
    100 draws all miss a class (one label per class), each class's rows are resampled with
    replacement on their own; with a single label per class the three samples are then
    equal to ``L`` and the three classifiers differ only through the base learner's own
    randomness.

    Ties of the majority vote (three different predictions) go to the class listed first
    in ``classes_``.
    """

    def __init__(self, estimator, random_state=None, max_iter: int | None = 100) -> None:
        self.estimator = estimator
        self.random_state = random_state
        self.max_iter = max_iter

    def _bootstrap(self, y_l: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
        for _ in range(_MAX_BOOTSTRAP_DRAWS):
            sample = rng.randint(0, len(y_l), size=len(y_l))
            if len(np.unique(y_l[sample])) == len(self.classes_):
                return sample
        # With one or two labels per class a plain bootstrap practically never holds every
        # class (10 classes x 1 label: 10!/10^10 = 0.04%): resample within each class.
        self.stratified_bootstrap_ = True
        return np.concatenate([
            rng.choice(np.flatnonzero(y_l == c), size=int(np.sum(y_l == c)), replace=True)
            for c in self.classes_
        ])

    def fit(self, X, y, y_true_unlabeled=None) -> TriTrainingClassifier:
        """Fit by tri-training.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels, ``-1`` for unlabeled rows.
        y_true_unlabeled : array-like, optional
            True labels, for the histories' precision only; never used for training.

        Returns
        -------
        self
        """
        if not hasattr(self.estimator, "fit") or not hasattr(self.estimator, "predict"):
            raise ValueError("estimator must be a classifier with fit and predict")
        check_int("max_iter", self.max_iter, 1, allow_none=True)
        X, y, labeled = check_fit_input(self, X, y)
        y_true = check_y_true_unlabeled(y_true_unlabeled, y, labeled)
        self.classes_ = np.unique(y[labeled])
        rng = check_random_state(self.random_state)

        self.stratified_bootstrap_ = False
        lab_idx, unl_idx = np.flatnonzero(labeled), np.flatnonzero(~labeled)
        X_l, y_l, X_u = X[lab_idx], y[lab_idx], X[unl_idx]
        models = []
        for _ in range(3):
            sample = self._bootstrap(y_l, rng)
            models.append(clone(self.estimator).fit(X_l[sample], y_l[sample]))
        prev_error = [0.5, 0.5, 0.5]  # e'_i
        prev_size = [0, 0, 0]  # l'_i

        self.classifier_history_ = []
        self.n_iter_ = 0
        # Predictions of each classifier, cached until it is refitted: a round that updates
        # nothing (the last one) or only h_i re-predicts only what changed, and U is
        # predicted only for a pair h_j, h_k whose e_i passes the test (else |L_i| is unused).
        # Predicting is deterministic, so the results equal re-predicting every round.
        pred_l: list[np.ndarray | None] = [None] * 3
        pred_u: list[np.ndarray | None] = [None] * 3

        def predicted_u(a: int) -> np.ndarray:
            if pred_u[a] is None:
                pred_u[a] = models[a].predict(X_u) if len(unl_idx) else np.array([])
            return pred_u[a]

        while self.max_iter is None or self.n_iter_ < self.max_iter:
            self.n_iter_ += 1
            # All three classifiers as they stand at the start of the round: updates are
            # applied only after every L_i has been built (Table 1's second inner loop).
            pred_l = [p if p is not None else m.predict(X_l) for p, m in zip(pred_l, models)]
            updates: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
            for i in range(3):
                j, k = (a for a in range(3) if a != i)
                agree_l = pred_l[j] == pred_l[k]
                n_agree_l = int(agree_l.sum())
                error = (
                    float(np.sum(agree_l & (pred_l[j] != y_l)) / n_agree_l)
                    if n_agree_l
                    else float("nan")
                )
                record = {
                    "round": self.n_iter_,
                    "classifier": i,
                    "error": error,
                    "previous_error": prev_error[i],
                    "previous_size": prev_size[i],
                    "n_agree": 0,
                    "n_added": 0,
                    "subsampled": False,
                    "updated": False,
                    "indices": np.array([], dtype=np.int64),
                    "labels": np.array([], dtype=y.dtype),
                }
                # NaN < e'_i is False: no agreement on L, no estimate, no update.
                if error < prev_error[i]:
                    agree_u = np.flatnonzero(predicted_u(j) == predicted_u(k))
                    record["n_agree"] = int(len(agree_u))
                    if prev_size[i] == 0:
                        prev_size[i] = math.floor(error / (prev_error[i] - error) + 1)
                    record["previous_size"] = prev_size[i]
                    chosen, update = agree_u, False
                    if prev_size[i] < len(agree_u):
                        if error * len(agree_u) < prev_error[i] * prev_size[i]:
                            update = True
                        elif prev_size[i] > error / (prev_error[i] - error):
                            size = math.ceil(prev_error[i] * prev_size[i] / error - 1)
                            chosen = np.sort(rng.choice(agree_u, size=size, replace=False))
                            record["subsampled"] = True
                            update = True
                    if update:
                        labels = predicted_u(j)[chosen]
                        updates[i] = (chosen, labels, error)
                        record.update(
                            updated=True,
                            n_added=int(len(chosen)),
                            indices=unl_idx[chosen],
                            labels=labels.copy(),
                        )
                        if y_true is not None:
                            record["precision"] = precision(labels, y_true[unl_idx[chosen]])
                if y_true is not None and "precision" not in record:
                    record["precision"] = float("nan")
                self.classifier_history_.append(record)
            for i, (chosen, labels, error) in updates.items():
                # Learn(L u L_i): the original labeled set, not the bootstrap sample, plus
                # this round's L_i only (earlier rounds' L_i are not kept, as in the paper).
                models[i] = clone(self.estimator).fit(
                    np.concatenate([X_l, X_u[chosen]]), np.concatenate([y_l, labels])
                )
                prev_error[i] = error
                prev_size[i] = len(chosen)
                pred_l[i] = pred_u[i] = None
            if not updates:
                break

        self.estimators_ = models
        self.history_ = rounds_summary(self.classifier_history_)
        return self

    def _votes(self, X) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        X = check_predict_input(self, X)
        votes = np.zeros((len(X), len(self.classes_)))
        for model in self.estimators_:
            pred = model.predict(X)
            votes[np.arange(len(X)), np.searchsorted(self.classes_, pred)] += 1
        return votes

    def predict_proba(self, X) -> np.ndarray:
        """Fraction of the three classifiers voting for each class (columns as ``classes_``)."""
        return self._votes(X) / 3.0

    def predict(self, X) -> np.ndarray:
        """Majority vote of the three classifiers."""
        votes = self._votes(X)  # checks that the model is fitted first
        return self.classes_[votes.argmax(axis=1)]
