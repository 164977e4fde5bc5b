"""Tests for OnlineSelfTrainingClassifier: targets, the soft-target expansion, gains on moons."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier
from sklearn.neural_network import MLPClassifier

from tests.methods.semi_supervised.helpers import mask_labels
from transfer_lab.methods.semi_supervised import OnlineSelfTrainingClassifier
from transfer_lab.methods.semi_supervised.online_self_training import (
    expand_soft_targets,
    pseudo_targets,
)


def _mlp() -> MLPClassifier:
    return MLPClassifier(hidden_layer_sizes=(64,), learning_rate_init=0.01, random_state=0)


def test_pseudo_targets():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4), size=6)
    hard = pseudo_targets(proba, "hard", 0.5)
    np.testing.assert_array_equal(hard.argmax(axis=1), proba.argmax(axis=1))
    np.testing.assert_array_equal(hard.sum(axis=1), 1.0)
    np.testing.assert_array_equal(pseudo_targets(proba, "soft", 0.5), proba)
    for T in (0.25, 0.5, 1.0):
        loop = np.array([[p ** (1 / T) for p in row] for row in proba])
        np.testing.assert_allclose(pseudo_targets(proba, "sharpen", T), loop / loop.sum(axis=1, keepdims=True))
    # a small temperature approaches the hard target
    np.testing.assert_allclose(pseudo_targets(proba, "sharpen", 1e-3), hard, atol=1e-6)


def test_expanded_rows_give_the_soft_cross_entropy():
    """sum over copies of w log p(label | x) equals sum_i weight_i sum_c t_ic log p_ic."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(5, 3))
    classes = np.array([2, 5, 7])
    targets = rng.dirichlet(np.ones(3), size=5)
    targets[0] = [1.0, 0.0, 0.0]  # a hard row gets a single copy
    weights = rng.uniform(0.5, 2.0, size=5)
    log_p = np.log(rng.dirichlet(np.ones(3), size=5))  # any model's log-probabilities
    rows, labels, w = expand_soft_targets(X, targets, classes, weights)
    assert np.sum(np.all(rows == X[0], axis=1)) == 1
    row_of = [int(np.flatnonzero(np.all(X == r, axis=1))[0]) for r in rows]
    expanded = sum(wi * log_p[i, np.searchsorted(classes, c)] for wi, i, c in zip(w, row_of, labels, strict=True))
    direct = sum(weights[i] * sum(targets[i, c] * log_p[i, c] for c in range(3)) for i in range(5))
    assert expanded == pytest.approx(direct)


def _gains(targets: str, draws: int = 3) -> list[float]:
    gains = []
    for seed in range(draws):
        X, y = make_moons(300, noise=0.1, random_state=seed)
        X_test, y_test = make_moons(1000, noise=0.1, random_state=seed + 100)
        y_masked = mask_labels(y, 3, seed)
        labeled = y_masked != -1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            base = _mlp().set_params(max_iter=2000).fit(X[labeled], y[labeled]).score(X_test, y_test)
            model = OnlineSelfTrainingClassifier(
                _mlp(), targets=targets, max_iter=25, batch_size=64, random_state=seed
            ).fit(X, y_masked)
        gains.append(model.score(X_test, y_test) - base)
    return gains


@pytest.mark.parametrize("targets", ["hard", "sharpen"])
def test_hard_and_sharpened_targets_help_on_moons(targets):
    """Six labels of two moons: the labeled-only MLP cuts across the moons, pseudo-labels
    recomputed online pull the boundary into the gap (the cluster assumption)."""
    gains = _gains(targets)
    print(f"online self-training ({targets}) gains over the labeled-only MLP: {np.round(gains, 3)}")
    assert np.mean(gains) >= 0.03
    assert min(gains) > -0.03


def test_history_precision_and_diagnostics_change_nothing(moons):
    X, y_true, y, X_test, _ = moons
    n_unlabeled = int((y == -1).sum())
    params = dict(targets="hard", threshold=0.9, max_iter=5, rampup_epochs=2, batch_size=50, random_state=0)
    plain = OnlineSelfTrainingClassifier(SGDClassifier(loss="log_loss", random_state=0), **params).fit(X, y)
    model = OnlineSelfTrainingClassifier(SGDClassifier(loss="log_loss", random_state=0), **params).fit(
        X, y, y_true_unlabeled=y_true
    )
    np.testing.assert_array_equal(plain.predict_proba(X_test), model.predict_proba(X_test))
    assert [r["round"] for r in model.history_] == [1, 2, 3, 4, 5] and model.n_iter_ == 5
    for record in model.history_:
        assert 0 <= record["n_added"] <= n_unlabeled
        if record["n_added"]:
            assert 0.0 <= record["precision"] <= 1.0 and record["mean_confidence"] >= 0.9
        else:
            assert np.isnan(record["precision"])
    assert "precision" not in plain.history_[0]
    weights = [r["weight"] for r in model.history_]
    assert weights == sorted(weights) and weights[-1] == pytest.approx(1.0)


def test_rejects_bad_params(moons):
    X, _, y, _, _ = moons
    sgd = SGDClassifier(loss="log_loss")
    for params, match in [
        ({"targets": "mixed"}, "targets"),
        ({"threshold": 1.5}, "threshold"),
        ({"temperature": 0.0}, "temperature"),
        ({"max_iter": 0}, "max_iter"),
        ({"batch_size": 0}, "batch_size"),
    ]:
        with pytest.raises(ValueError, match=match):
            OnlineSelfTrainingClassifier(sgd, **params).fit(X, y)
    with pytest.raises(ValueError, match="partial_fit"):
        OnlineSelfTrainingClassifier(object()).fit(X, y)
