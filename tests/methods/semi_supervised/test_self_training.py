"""Tests for SelfTrainingClassifier: scikit-learn's reference, gains, history precision."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.semi_supervised import SelfTrainingClassifier as SklearnSelfTraining

from tests.methods.semi_supervised.helpers import mask_labels
from transfer_lab.methods.semi_supervised import SelfTrainingClassifier


def gaussians(seed: int, n: int, d: int = 50, separation: float = 4.0):
    """Two isotropic Gaussians at ±mu in 50-d, ||2 mu|| = separation (Bayes error ~2%).

    With 3 labels per class logistic regression estimates the direction poorly; the
    unlabeled rows (the cluster assumption holds) pull it towards the mean difference.
    """
    rng = np.random.default_rng(seed)
    mu = np.full(d, separation / 2 / np.sqrt(d))
    y = rng.integers(0, 2, n)
    return rng.normal(size=(n, d)) + np.where(y[:, None] == 1, mu, -mu), y


@pytest.fixture(scope="module")
def blobs():
    X, y = gaussians(0, 300)
    return X, y, mask_labels(y, 3, seed=0)


@pytest.mark.parametrize(
    "params",
    [
        {"threshold": 0.75},
        {"threshold": 0.9, "max_iter": 3},
        {"criterion": "k_best", "k_best": 10, "max_iter": 5},
        {"criterion": "k_best", "k_best": 40, "max_iter": None},
    ],
)
def test_matches_sklearn_self_training(blobs, params):
    X, _, y = blobs
    ours = SelfTrainingClassifier(LogisticRegression(), **params).fit(X, y)
    ref = SklearnSelfTraining(LogisticRegression(), **params).fit(X, y)
    np.testing.assert_array_equal(ours.transduction_, ref.transduction_)
    np.testing.assert_array_equal(ours.labeled_iter_, ref.labeled_iter_)
    assert ours.n_iter_ == ref.n_iter_
    assert ours.termination_condition_ == ref.termination_condition_
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-10)


def test_unlabeled_rows_help_logistic_regression():
    gains = []
    for seed in (0, 1, 2):
        X, y = gaussians(seed, 300)
        X_test, y_test = gaussians(seed + 100, 2000)
        y_masked = mask_labels(y, 3, seed)
        labeled = y_masked != -1
        base = LogisticRegression().fit(X[labeled], y[labeled]).score(X_test, y_test)
        model = SelfTrainingClassifier(LogisticRegression(), threshold=0.75).fit(X, y_masked)
        gains.append(model.score(X_test, y_test) - base)
    print(f"self-training gains over labeled-only logistic regression: {np.round(gains, 3)}")
    assert np.mean(gains) >= 0.04
    assert min(gains) > 0


def test_history_precision_and_counts(blobs):
    X, y_true, y = blobs
    model = SelfTrainingClassifier(LogisticRegression(), threshold=0.75).fit(
        X, y, y_true_unlabeled=y_true
    )
    assert model.history_, "expected at least one round"
    for record in model.history_:
        rows = np.flatnonzero(model.labeled_iter_ == record["round"])
        assert record["n_added"] == len(rows)
        if len(rows):
            expected = np.mean(model.transduction_[rows] == y_true[rows])
            assert record["precision"] == pytest.approx(expected)
            assert 0.0 <= record["precision"] <= 1.0
        else:
            assert np.isnan(record["precision"])
    assert model.history_[-1]["n_labeled"] == int((model.transduction_ != -1).sum())
    # The precision on an engineered pseudo-labelling: the true labels of the unlabeled rows
    # shifted by one class make every pseudo-label wrong.
    wrong = np.where(y == -1, 1 - y_true, y_true)
    again = SelfTrainingClassifier(LogisticRegression(), threshold=0.75).fit(
        X, y, y_true_unlabeled=wrong
    )
    for rec, rec_wrong in zip(model.history_, again.history_, strict=True):
        if rec["n_added"]:
            assert rec_wrong["precision"] == pytest.approx(1.0 - rec["precision"])


def test_diagnostic_labels_change_nothing(blobs):
    X, y_true, y = blobs
    plain = SelfTrainingClassifier(LogisticRegression(), threshold=0.75).fit(X, y)
    full = SelfTrainingClassifier(LogisticRegression(), threshold=0.75).fit(
        X, y, y_true_unlabeled=y_true
    )
    short = SelfTrainingClassifier(LogisticRegression(), threshold=0.75).fit(
        X, y, y_true_unlabeled=y_true[y == -1]
    )
    np.testing.assert_array_equal(plain.transduction_, full.transduction_)
    assert [r["precision"] for r in full.history_] == pytest.approx(
        [r["precision"] for r in short.history_], nan_ok=True
    )
    assert "precision" not in plain.history_[0]


def test_given_labels_never_change_and_k_best_counts(blobs):
    X, _, y = blobs
    labeled = y != -1
    model = SelfTrainingClassifier(
        LogisticRegression(), criterion="k_best", k_best=7, max_iter=4
    ).fit(X, y)
    np.testing.assert_array_equal(model.transduction_[labeled], y[labeled])
    assert np.all(model.labeled_iter_[labeled] == 0)
    assert [r["n_added"] for r in model.history_] == [7, 7, 7, 7]
    assert model.termination_condition_ == "max_iter"


def test_rejects_bad_input(blobs):
    X, _, y = blobs
    with pytest.raises(ValueError, match="criterion"):
        SelfTrainingClassifier(LogisticRegression(), criterion="best").fit(X, y)
    with pytest.raises(ValueError, match="threshold"):
        SelfTrainingClassifier(LogisticRegression(), threshold=1.5).fit(X, y)
    with pytest.raises(ValueError, match="k_best"):
        SelfTrainingClassifier(LogisticRegression(), criterion="k_best", k_best=0).fit(X, y)
    with pytest.raises(ValueError, match="predict_proba"):
        SelfTrainingClassifier(object()).fit(X, y)
    with pytest.raises(ValueError, match="y_true_unlabeled"):
        SelfTrainingClassifier(LogisticRegression()).fit(X, y, y_true_unlabeled=y[:5])
