"""Co-training (Blum & Mitchell 1998): two views teach each other.

Blum, A. and Mitchell, T. (1998). Combining labeled and unlabeled data with co-training.
COLT '98, Table 1:

    Given a set L of labeled examples and a set U of unlabeled examples,
    create a pool U' of u examples chosen at random from U.
    Loop for k iterations:
        use L to train h1 that considers only the x1 portion of x
        use L to train h2 that considers only the x2 portion of x
        allow h1 to label p positive and n negative examples from U'
        allow h2 to label p positive and n negative examples from U'
        add these self-labeled examples to L
        randomly choose 2p + 2n examples from U to replenish U'

The paper's defaults are p=1, n=3, u=75, k=30 (a 1:3 class ratio in its web-page data).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from transfer_lab.methods.semi_supervised._base import (
    check_classifier,
    check_fit_input,
    check_int,
    check_predict_input,
    check_y_true_unlabeled,
    precision,
)

__all__ = ["CoTrainingClassifier", "image_views"]

VIEW_SPLITS = ("halves", "left_right", "top_bottom")


def image_views(image_shape: Sequence[int], split: str = "left_right") -> list[np.ndarray]:
    """Column indices of the two halves of images flattened row-major.

    Parameters
    ----------
    image_shape : (H, W) or (C, H, W)
        Shape of one image before flattening (channels first).
    split : {"left_right", "top_bottom"}, default "left_right"
        With an odd width (height) the first view gets the smaller half.

    Returns
    -------
    list of two numpy.ndarray
        Sorted column indices of the flattened image, e.g. for 8x8 digits and
        ``"left_right"`` the columns with ``col < 4`` and those with ``col >= 4``.
    """
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"image_shape must be (H, W) or (C, H, W), got {image_shape!r}")
    if split not in ("left_right", "top_bottom"):
        raise ValueError(f"split must be 'left_right' or 'top_bottom', got {split!r}")
    h, w = shape[-2:]
    grid = np.arange(int(np.prod(shape))).reshape(shape)
    if split == "left_right":
        if w < 2:
            raise ValueError(f"cannot split images of width {w} into left and right halves")
        first, second = grid[..., : w // 2], grid[..., w // 2 :]
    else:
        if h < 2:
            raise ValueError(f"cannot split images of height {h} into top and bottom halves")
        first, second = grid[..., : h // 2, :], grid[..., h // 2 :, :]
    return [np.sort(first.ravel()), np.sort(second.ravel())]


class CoTrainingClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Two-view co-training (Blum & Mitchell 1998) with a replenished pool.

    Each round fits one clone of ``estimator`` per view on the labeled rows seen through
    that view; each view's classifier then labels its most confident rows of the pool and
    these rows join the labeled set with that label. Given labels are never changed and a
    row is labeled at most once.

    *Multi-class generalisation.* With two classes the paper's rule is kept: each view labels
    the ``p`` rows most confidently of ``classes_[1]`` ("positive") and the ``n`` most
    confidently of ``classes_[0]``. With more classes each view labels, for every class, the
    ``p`` pool rows it predicts as that class with the highest probability (``n`` is
    unused). "Most confident for class c" only considers rows whose predicted class is ``c``;
    a row already chosen in the round (by the other view or for another class) is skipped,
    so a round adds at most ``2(p + n)`` (binary) or ``2 p C`` rows, and the pool is
    replenished with as many rows drawn at random from the rest of ``U``.

    Parameters
    ----------
    estimator : estimator object
        Classifier with ``fit`` and ``predict_proba``, cloned for each view.
    views : None, "halves", "left_right", "top_bottom" or list of two lists of int
        Column indices of the two views. ``None`` / ``"halves"``: the first and second half
        of the columns (for images flattened row-major this is top/bottom).
        ``"left_right"`` / ``"top_bottom"``: image halves, which need ``image_shape``.
    p : int, default 1
        Rows per class (multi-class) or positive rows (binary) each view labels per round.
    n : int, default 3
        Negative rows each view labels per round (binary problems only).
    u : int, default 75
        Size of the pool ``U'`` of unlabeled rows the classifiers may label from.
    k : int, default 30
        Number of rounds.
    image_shape : (H, W) or (C, H, W), optional
        Needed by the image splits of ``views``.
    random_state : int, RandomState or None, default None
        Draws the pool and its replenishments.

    Attributes
    ----------
    estimators_ : list of two estimators
        The view classifiers refitted on the final labeled set.
    views_ : list of two numpy.ndarray
        The resolved column indices.
    classes_ : numpy.ndarray
    transduction_ : numpy.ndarray of shape (n_samples,)
        Given labels, co-training labels, and ``-1`` for rows never labeled.
    labeled_iter_ : numpy.ndarray of shape (n_samples,)
        ``0`` for given labels, the round for co-trained rows, ``-1`` for never labeled.
    labeled_by_view_ : numpy.ndarray of shape (n_samples,)
        Which view (0 or 1) labeled the row; ``-1`` for given labels and unlabeled rows.
    n_iter_ : int
    history_ : list of dict
        Per round: ``round``, ``n_added``, ``n_added_view0``, ``n_added_view1``,
        ``pool_size`` (before replenishing), ``indices`` and ``labels`` of the added rows,
        and ``precision`` when ``fit`` got ``y_true_unlabeled``.
    n_features_in_ : int

    Notes
    -----
    Prediction multiplies the two views' class probabilities and renormalises, as the paper
    combines its two naive Bayes classifiers; where the product is zero for every class (two
    hard classifiers that disagree) the two probabilities are averaged instead.
    """

    def __init__(
        self,
        estimator,
        views=None,
        p: int = 1,
        n: int = 3,
        u: int = 75,
        k: int = 30,
        image_shape: Sequence[int] | None = None,
        random_state=None,
    ) -> None:
        self.estimator = estimator
        self.views = views
        self.p = p
        self.n = n
        self.u = u
        self.k = k
        self.image_shape = image_shape
        self.random_state = random_state

    def _resolve_views(self, n_features: int) -> list[np.ndarray]:
        views = self.views
        if views is None or (isinstance(views, str) and views == "halves"):
            if n_features < 2:
                raise ValueError("co-training needs at least 2 features to split into views")
            half = n_features // 2
            return [np.arange(half), np.arange(half, n_features)]
        if isinstance(views, str):
            if views not in VIEW_SPLITS:
                raise ValueError(
                    f"views must be one of {VIEW_SPLITS} or two index lists, got {views!r}"
                )
            if self.image_shape is None:
                raise ValueError(f"views={views!r} needs image_shape=(H, W) or (C, H, W)")
            if int(np.prod(self.image_shape)) != n_features:
                raise ValueError(
                    f"image_shape {tuple(self.image_shape)} has {int(np.prod(self.image_shape))} "
                    f"values but X has {n_features} features"
                )
            return image_views(self.image_shape, views)
        if len(views) != 2:
            raise ValueError(f"views must be two lists of column indices, got {len(views)}")
        resolved = []
        for view in views:
            idx = np.asarray(view, dtype=np.int64).ravel()
            if len(idx) == 0 or idx.min() < 0 or idx.max() >= n_features:
                raise ValueError(
                    f"each view needs column indices in [0, {n_features}), got {list(view)}"
                )
            resolved.append(idx)
        return resolved

    def _quotas(self) -> dict[int, int]:
        """Rows of each class (index into ``classes_``) that one view labels per round."""
        if len(self.classes_) == 2:
            return {1: int(self.p), 0: int(self.n)}
        return {c: int(self.p) for c in range(len(self.classes_))}

    def fit(self, X, y, y_true_unlabeled=None) -> CoTrainingClassifier:
        """Fit by co-training.

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
        check_classifier(self.estimator)
        for name in ("p", "u", "k"):
            check_int(name, getattr(self, name), 1)
        check_int("n", self.n, 0)
        X, y, labeled = check_fit_input(self, X, y)
        y_true = check_y_true_unlabeled(y_true_unlabeled, y, labeled)
        self.views_ = self._resolve_views(X.shape[1])
        self.classes_ = np.unique(y[labeled])
        rng = check_random_state(self.random_state)

        transduction = np.where(labeled, y, -1)
        labeled_iter = np.where(labeled, 0, -1)
        labeled_by_view = np.full(len(y), -1)
        has_label = labeled.copy()
        remaining = rng.permutation(np.flatnonzero(~labeled))
        pool, remaining = remaining[: self.u], remaining[self.u :]
        quotas = self._quotas()
        self.history_ = []
        self.n_iter_ = 0
        for round_ in range(1, self.k + 1):
            if len(pool) == 0:
                break
            self.n_iter_ = round_
            chosen: dict[int, tuple[int, int]] = {}  # pool position -> (class index, view)
            for v, cols in enumerate(self.views_):
                model = clone(self.estimator).fit(X[has_label][:, cols], transduction[has_label])
                proba = model.predict_proba(X[pool][:, cols])
                # Columns of the view model follow its classes_, which equal ours because
                # every class of the given labels stays in the training set.
                predicted = proba.argmax(axis=1)
                for c, quota in quotas.items():
                    if quota == 0:
                        continue
                    candidates = np.flatnonzero(predicted == c)
                    order = candidates[np.argsort(-proba[candidates, c], kind="stable")]
                    taken = 0
                    for pos in order:
                        if taken == quota:
                            break
                        if int(pos) not in chosen:
                            chosen[int(pos)] = (c, v)
                            taken += 1
            positions = np.array(sorted(chosen), dtype=np.int64)
            added = pool[positions]
            labels = self.classes_[[chosen[int(p)][0] for p in positions]] if len(positions) else (
                np.array([], dtype=self.classes_.dtype)
            )
            by_view = np.array([chosen[int(p)][1] for p in positions], dtype=np.int64)
            # Only pool rows are ever labeled, and the pool only holds rows without a label.
            transduction[added] = labels
            labeled_iter[added] = round_
            labeled_by_view[added] = by_view
            has_label[added] = True
            record = {
                "round": round_,
                "n_added": int(len(added)),
                "n_added_view0": int((by_view == 0).sum()),
                "n_added_view1": int((by_view == 1).sum()),
                "pool_size": int(len(pool)),
                "indices": added.copy(),
                "labels": labels.copy(),
            }
            if y_true is not None:
                record["precision"] = precision(labels, y_true[added])
            self.history_.append(record)
            pool = np.delete(pool, positions)
            # Replenish with as many rows as were taken (2p + 2n in the binary paper setting).
            pool = np.concatenate([pool, remaining[: len(added)]])
            remaining = remaining[len(added) :]
            if len(added) == 0:
                break  # the classifiers and the pool would stay the same: nothing changes

        self.transduction_ = transduction
        self.labeled_iter_ = labeled_iter
        self.labeled_by_view_ = labeled_by_view
        self.estimators_ = [
            clone(self.estimator).fit(X[has_label][:, cols], transduction[has_label])
            for cols in self.views_
        ]
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Product of the two views' probabilities, renormalised (columns as ``classes_``)."""
        check_is_fitted(self, "estimators_")
        X = check_predict_input(self, X)
        p1, p2 = (m.predict_proba(X[:, cols]) for m, cols in zip(self.estimators_, self.views_))
        joint = p1 * p2
        total = joint.sum(axis=1, keepdims=True)
        mean = (p1 + p2) / 2.0
        return np.where(total > 0, joint / np.where(total > 0, total, 1.0), mean)

    def predict(self, X) -> np.ndarray:
        """Class with the highest combined probability."""
        proba = self.predict_proba(X)  # checks that the model is fitted first
        return self.classes_[proba.argmax(axis=1)]
