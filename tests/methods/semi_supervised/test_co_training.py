"""Tests for CoTrainingClassifier: two views that must help, invariants, view helpers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.neighbors import KNeighborsClassifier
from sklearn.naive_bayes import GaussianNB

from tests.methods.semi_supervised.helpers import mask_labels
from transfer_lab.methods.semi_supervised import CoTrainingClassifier, image_views


def two_view_moons(n: int, noise: float, seed: int):
    """Each row joins two independent moons points of its class: x1 ⟂ x2 given y.

    This is Blum & Mitchell's setting (two sufficient, conditionally independent views),
    where a confident label from one view is a random, informative example for the other.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = np.zeros((n, 4))
    for v, offset in ((0, 0), (1, 1000)):
        A, ya = make_moons(4 * n, noise=noise, random_state=seed + offset)
        for c in (0, 1):
            rows = np.flatnonzero(y == c)
            X[rows, 2 * v : 2 * v + 2] = A[
                rng.choice(np.flatnonzero(ya == c), len(rows), replace=False)
            ]
    return X, y


@pytest.fixture(scope="module")
def views_data():
    X, y = two_view_moons(400, 0.1, seed=0)
    X_test, y_test = two_view_moons(1000, 0.1, seed=50)
    return X, y, mask_labels(y, 3, seed=0), X_test, y_test


def test_co_training_beats_labeled_only(views_data):
    X, y_true, y, X_test, y_test = views_data
    labeled = y != -1
    knn = KNeighborsClassifier(n_neighbors=3)
    single = KNeighborsClassifier(n_neighbors=3).fit(X[labeled], y[labeled]).score(X_test, y_test)
    # The same two-view product rule fitted on the labeled rows alone.
    two_view = CoTrainingClassifier(knn).fit(X[labeled], y[labeled]).score(X_test, y_test)
    model = CoTrainingClassifier(knn, p=2, n=2, u=75, k=30, random_state=0).fit(
        X, y, y_true_unlabeled=y_true
    )
    acc = model.score(X_test, y_test)
    precisions = [r["precision"] for r in model.history_]
    print(f"co-training {acc:.3f} vs labeled-only {single:.3f} / two views {two_view:.3f}; "
          f"pseudo-label precision {np.mean(precisions):.3f}")
    assert acc >= max(single, two_view) + 0.05
    assert np.mean(precisions) >= 0.9


def test_never_relabels_a_labeled_row(views_data):
    X, _, y, _, _ = views_data
    labeled = y != -1
    model = CoTrainingClassifier(GaussianNB(), p=1, n=3, u=75, k=30, random_state=1).fit(X, y)
    np.testing.assert_array_equal(model.transduction_[labeled], y[labeled])
    assert np.all(model.labeled_iter_[labeled] == 0)
    assert np.all(model.labeled_by_view_[labeled] == -1)
    added = np.concatenate([r["indices"] for r in model.history_])
    assert not np.any(labeled[added]), "a given label was relabeled"
    assert len(np.unique(added)) == len(added), "a row was labeled twice"
    for record in model.history_:
        # Binary: at most p positives + n negatives per view.
        assert record["n_added"] <= 2 * (1 + 3)
        assert record["n_added_view0"] + record["n_added_view1"] == record["n_added"]
        assert record["pool_size"] <= 75
        np.testing.assert_array_equal(model.transduction_[record["indices"]], record["labels"])
        assert np.all(model.labeled_iter_[record["indices"]] == record["round"])
    assert model.n_iter_ == 30
    # Final classifiers are fitted on exactly the rows that have a label.
    assert sum(1 for t in model.transduction_ if t != -1) == labeled.sum() + len(added)


def test_multiclass_labels_p_per_class_per_view(digits_flat):
    X, y_true = digits_flat
    X, y_true = X[:600], y_true[:600]
    y = mask_labels(y_true, 5, seed=0)
    model = CoTrainingClassifier(
        GaussianNB(), views="left_right", image_shape=(8, 8), p=1, u=100, k=5, random_state=0
    ).fit(X, y, y_true_unlabeled=y_true)
    for record in model.history_:
        for v in (0, 1):
            mine = model.labeled_by_view_[record["indices"]] == v
            labels = record["labels"][mine]
            # each view labels at most p=1 row per class per round
            assert np.all(np.bincount(labels, minlength=10) <= 1)
    assert model.predict_proba(X[:5]).shape == (5, 10)
    np.testing.assert_allclose(model.predict_proba(X[:5]).sum(axis=1), 1.0)


def test_image_views():
    left, right = image_views((8, 8), "left_right")
    assert len(left) == len(right) == 32
    assert set(left % 8) == {0, 1, 2, 3} and set(right % 8) == {4, 5, 6, 7}
    top, bottom = image_views((8, 8), "top_bottom")
    np.testing.assert_array_equal(top, np.arange(32))  # row-major: top half = first half
    np.testing.assert_array_equal(bottom, np.arange(32, 64))
    c_left, _ = image_views((2, 4, 3), "left_right")  # odd width: left gets the smaller half
    assert len(c_left) == 2 * 4 * 1
    model = CoTrainingClassifier(GaussianNB(), views=None).fit(
        np.random.default_rng(0).normal(size=(20, 5)), np.r_[0, 1, [-1] * 18]
    )
    np.testing.assert_array_equal(model.views_[0], [0, 1])
    np.testing.assert_array_equal(model.views_[1], [2, 3, 4])


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"views": "left_right"}, "image_shape"),
        ({"views": "left_right", "image_shape": (3, 3)}, "image_shape"),
        ({"views": [[0, 1]]}, "two lists"),
        ({"views": [[0], [9]]}, "column indices"),
        ({"views": "diagonal"}, "views must be one of"),
        ({"p": 0}, "p must be"),
        ({"u": 0}, "u must be"),
    ],
)
def test_rejects_bad_views_and_params(params, match):
    X = np.random.default_rng(0).normal(size=(20, 4))
    y = np.r_[0, 1, [-1] * 18]
    with pytest.raises(ValueError, match=match):
        CoTrainingClassifier(GaussianNB(), **params).fit(X, y)
