"""The estimators behave as scikit-learn estimators: clone, get_params, Pipeline, checks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from transfer_lab.methods import semi_supervised
from transfer_lab.methods.semi_supervised import (
    CoTrainingClassifier,
    LabelPropagation,
    OnlineSelfTrainingClassifier,
    SelfTrainingClassifier,
    TriTrainingClassifier,
)

ESTIMATORS = [
    SelfTrainingClassifier(GaussianNB(), threshold=0.8, max_iter=3),
    CoTrainingClassifier(GaussianNB(), k=3, random_state=0),
    TriTrainingClassifier(GaussianNB(), random_state=0),
    LabelPropagation(n_neighbors=5, max_iter=5000),
    OnlineSelfTrainingClassifier(GaussianNB(), max_iter=3, random_state=0),
]
IDS = [type(e).__name__ for e in ESTIMATORS]


def test_package_exports():
    for name in ("SelfTrainingClassifier", "CoTrainingClassifier", "TriTrainingClassifier",
                 "LabelPropagation", "OnlineSelfTrainingClassifier"):
        assert name in semi_supervised.__all__


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_init_stores_params_and_clone_round_trips(estimator):
    params = estimator.get_params(deep=False)
    copy = clone(estimator)
    assert copy is not estimator
    for key, value in copy.get_params(deep=False).items():
        if hasattr(value, "get_params"):
            assert type(value) is type(params[key])
        else:
            assert value == params[key]
    # __init__ does no validation: nonsense is stored and only refused at fit.
    nonsense = {k: -3 for k in params if k in ("k_best", "n_neighbors", "max_iter", "u")}
    odd = type(estimator)(**{**params, **nonsense})
    assert odd.get_params(deep=False) == {**params, **nonsense}
    if "estimator" in params:
        deep = estimator.get_params(deep=True)
        assert "estimator__var_smoothing" in deep
        estimator_copy = clone(estimator).set_params(estimator__var_smoothing=1e-3)
        assert estimator_copy.estimator.var_smoothing == 1e-3


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_in_a_pipeline(estimator, moons):
    X, y_true, y, X_test, y_test = moons
    pipe = Pipeline([("scale", StandardScaler()), ("ssl", clone(estimator))])
    assert pipe.fit(X, y) is pipe
    fitted = pipe.named_steps["ssl"]
    np.testing.assert_array_equal(fitted.classes_, [0, 1])
    assert fitted.n_features_in_ == 2
    pred = pipe.predict(X_test)
    assert pred.shape == (len(X_test),) and set(np.unique(pred)) <= {0, 1}
    proba = pipe.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert pipe.score(X_test, y_test) > 0.6
    assert clone(pipe).named_steps["ssl"] is not fitted


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
def test_fit_returns_self_and_predict_needs_fit(estimator, moons):
    X, _, y, _, _ = moons
    model = clone(estimator)
    with pytest.raises(NotFittedError):
        model.predict(X)
    assert model.fit(X, y) is model
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :1])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=IDS)
@pytest.mark.parametrize(
    ("y_fn", "match"),
    [
        (lambda y: y[:-1], "rows but y has"),
        (lambda y: np.full(len(y), -1), "no labeled row"),
        (lambda y: np.where(y == 1, -1, y), "two classes"),
        (lambda y: y.reshape(-1, 1), "1-d"),
        (lambda y: np.where(y == 1, -2, y), ">= 0"),
        (lambda y: y.astype(str), "integer"),
    ],
)
def test_rejects_bad_y(estimator, y_fn, match, moons):
    X, _, y, _, _ = moons
    with pytest.raises(ValueError, match=match):
        clone(estimator).fit(X, y_fn(y))


def test_float_labels_with_minus_one_are_accepted(moons):
    X, _, y, _, _ = moons
    model = LabelPropagation().fit(X, y.astype(float))
    assert model.classes_.dtype.kind == "i"


WRAPPERS = [e for e in ESTIMATORS if "estimator" in e.get_params(deep=False)]


@pytest.mark.parametrize("estimator", WRAPPERS, ids=[type(e).__name__ for e in WRAPPERS])
def test_pipeline_routes_diagnostic_labels(estimator, moons):
    X, y_true, y, _, _ = moons
    pipe = Pipeline([("scale", StandardScaler()), ("ssl", clone(estimator))])
    pipe.fit(X, y, ssl__y_true_unlabeled=y_true)
    history = pipe.named_steps["ssl"].history_
    assert history and all("precision" in record for record in history)
