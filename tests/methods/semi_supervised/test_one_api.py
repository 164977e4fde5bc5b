"""One semi-supervised API: NeuralSSLClassifier is a scikit-learn estimator, and every
estimator (classic or neural) exposes the same ``history_`` schema."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from tests.methods.semi_supervised.helpers import mask_labels
from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.semi_supervised import (
    HISTORY_COLUMNS,
    METHODS,
    CoTrainingClassifier,
    LabelPropagation,
    NeuralSSLClassifier,
    OnlineSelfTrainingClassifier,
    SelfTrainingClassifier,
    TriTrainingClassifier,
    check_history,
    make_estimator,
)
from transfer_lab.methods.semi_supervised.neural import train_semi_supervised
from transfer_lab.methods.semi_supervised.protocol import fit_and_measure
from transfer_lab.methods.training import TrainConfig
from transfer_lab.sources.digits import load_digits
from transfer_lab.sources.splits import budget_view, label_subsets, stratified_split

TINY = {"kind": "cnn2d", "width": 4, "depth": 2, "out_features": 16}
CONFIG = TrainConfig(epochs=2, batch_size=16, lr=3e-3, patience=None, progress=False)


@pytest.fixture(scope="module")
def view():
    """Digits, 2 labels per class, 150 unlabeled and 60 validation rows."""
    data = load_digits()
    split = stratified_split(data.y, 0.2, 0.2, seed=0)
    full = budget_view(data, split, label_subsets(data.y, split, [2], seeds=[0]), 2, 0)
    return dataclasses.replace(
        full, X_unlabeled=full.X_unlabeled[:150], y_unlabeled=full.y_unlabeled[:150],
        X_val=full.X_val[:60], y_val=full.y_val[:60],
    )


def _flat_xy(view):
    X = np.concatenate([view.X_labeled, view.X_unlabeled]).reshape(-1, 64)
    y = np.concatenate([view.y_labeled, np.full(len(view.X_unlabeled), -1)])
    return X, y


def test_neural_estimator_follows_the_scikit_learn_api(view):
    model = NeuralSSLClassifier("fixmatch", TINY, CONFIG, input_shape=(1, 8, 8), threshold=0.5)
    params = model.get_params()
    assert params["method"] == "fixmatch" and params["threshold"] == 0.5 and params["encoder"] == TINY
    copy = clone(model)
    assert copy is not model and copy.get_params() == params
    assert clone(model).set_params(threshold=0.7, weight=2.0).get_params()["weight"] == 2.0
    X, y = _flat_xy(view)
    with pytest.raises(NotFittedError):
        model.predict(X)
    # labels that are not 0..k-1 come back as themselves
    labels = np.array([3, 7, 11, 12, 20, 21, 22, 30, 31, 40])
    y_odd = np.where(y == -1, -1, labels[np.maximum(y, 0)])
    assert model.fit(X, y_odd) is model
    np.testing.assert_array_equal(model.classes_, labels)
    assert model.n_features_in_ == 64 and model.input_shape_ == (1, 8, 8)
    assert set(model.predict(X[:20])) <= set(labels)
    np.testing.assert_allclose(model.predict_proba(X[:20]).sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :10])
    with pytest.raises(ValueError, match="no labeled row"):
        clone(model).fit(X, np.full(len(y), -1))


def test_neural_estimator_in_a_scikit_learn_pipeline(view):
    X, y = _flat_xy(view)
    pipe = Pipeline([("scale", StandardScaler()), ("ssl", NeuralSSLClassifier("vat", TINY, CONFIG, input_shape=(1, 8, 8)))])
    assert pipe.fit(X, y) is pipe
    assert 0.0 <= pipe.score(view.X_test.reshape(-1, 64), view.y_test) <= 1.0


def test_neural_estimator_trains_what_the_engine_trains(view):
    """Same data, config and hyper-parameters: the estimator's weights are the engine's (up to
    float rounding: the same values at another address in memory round differently in
    torch's CPU kernels, ~1e-7 after two epochs)."""
    X, y = _flat_xy(view)
    model = NeuralSSLClassifier("pseudo_label", TINY, CONFIG, input_shape=(1, 8, 8), threshold=0.5).fit(
        X, y, X_val=view.X_val.reshape(-1, 64), y_val=view.y_val, y_true_unlabeled=view.y_unlabeled
    )
    reference, history = train_semi_supervised(
        "pseudo_label", view, functools.partial(build_encoder, "cnn2d", (1, 8, 8), **{k: v for k, v in TINY.items() if k != "kind"}),
        CONFIG, "cpu", threshold=0.5, n_classes=10,
    )
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(model.model_.state_dict()[key], value, rtol=1e-4, atol=1e-5)
    assert [r["round"] for r in model.history_] == [r["epoch"] + 1 for r in history.epochs]
    assert [r["loss"] for r in model.history_] == pytest.approx([r["loss"] for r in history.epochs], rel=1e-4)


CLASSIC = [
    SelfTrainingClassifier(GaussianNB(), threshold=0.8, max_iter=3),
    CoTrainingClassifier(GaussianNB(), k=3, random_state=0),
    TriTrainingClassifier(GaussianNB(), random_state=0),
    LabelPropagation(n_neighbors=5, max_iter=5000),
    OnlineSelfTrainingClassifier(GaussianNB(), max_iter=3, random_state=0),
    NeuralSSLClassifier("supervised", TINY, CONFIG, input_shape=(1, 8, 8)),
    NeuralSSLClassifier("fixmatch", TINY, CONFIG, input_shape=(1, 8, 8), threshold=0.5),
]


@pytest.mark.parametrize("estimator", CLASSIC, ids=[getattr(e, "method", type(e).__name__) for e in CLASSIC])
@pytest.mark.parametrize("with_truth", [True, False])
def test_every_history_has_the_common_schema(estimator, with_truth, view):
    X, y = _flat_xy(view)
    model = clone(estimator)
    if with_truth and "y_true_unlabeled" in model.fit.__code__.co_varnames:
        model.fit(X, y, y_true_unlabeled=view.y_unlabeled)
    else:
        with_truth = False
        model.fit(X, y)
    check_history(model.history_)
    for row in model.history_:
        assert set(HISTORY_COLUMNS if with_truth else HISTORY_COLUMNS[:2]) <= set(row)
        if not with_truth:
            assert "precision" not in row
    if not isinstance(model, LabelPropagation):
        assert model.history_, "a method with rounds records them"
    assert getattr(model, "history_counts", "added") in ("added", "confident")


@pytest.mark.parametrize("method", METHODS)
def test_every_method_runs_through_one_path(method, view):
    """make_estimator + fit_and_measure: the pipeline's single code path, for each method."""
    base = ("gaussian_nb", {}) if method in ("self_training", "online_self_training", "co_training", "tri_training") else None
    params = {"max_iter": 2} if method in ("self_training", "online_self_training") else {}
    if method == "distillation":
        params = {"teacher": "label_propagation"}
    model = make_estimator(method, params, seed=0, base=base, input_shape=(1, 8, 8), encoder=TINY, config=CONFIG)
    measurements, history = fit_and_measure(model, view)
    assert 0.0 <= measurements["accuracy"][1] <= 1.0 and measurements["accuracy"][0] == "test"
    assert set(measurements) >= {"accuracy", "val_accuracy", "unlabeled_accuracy", "seconds"}
    check_history(history)
    assert ("n_pseudo_labels" in measurements) == (bool(history) and getattr(model, "history_counts", "added") == "added")
    assert ("epochs" in measurements) == (method in NEURAL)


NEURAL = ("supervised", "entropy_minimisation", "mutual_information", "pi_model", "vat", "fixmatch", "pseudo_label", "distillation")
