"""Tests for TriTrainingClassifier: gains on digits and Zhou & Li's Table 1, step by step."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from tests.methods.semi_supervised.helpers import mask_labels
from transfer_lab.methods.semi_supervised import TriTrainingClassifier

# Every fitted RecordingTree, in fit order: lets a test replay which h_j, h_k were current.
FIT_LOG: list[RecordingTree] = []


class RecordingTree(DecisionTreeClassifier):
    """A decision tree that remembers its training rows and logs itself when fitted."""

    def fit(self, X, y, sample_weight=None, check_input=True):
        super().fit(X, y, sample_weight=sample_weight, check_input=check_input)
        self.fit_X_, self.fit_y_ = np.array(X), np.array(y)
        FIT_LOG.append(self)
        return self


@pytest.fixture(scope="module")
def digits_split(digits_flat):
    X, y = digits_flat
    return [
        train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed) for seed in range(4)
    ]


def test_tri_training_beats_a_single_tree(digits_split):
    gains = []
    for seed, (X_tr, X_te, y_tr, y_te) in enumerate(digits_split):
        y = mask_labels(y_tr, 10, seed)
        labeled = y != -1
        tree = DecisionTreeClassifier(random_state=0)
        base = tree.fit(X_tr[labeled], y[labeled]).score(X_te, y_te)
        tri = TriTrainingClassifier(tree, random_state=seed).fit(X_tr, y)
        gains.append(tri.score(X_te, y_te) - base)
    print(f"tri-training gains over one tree on 100 labels: {np.round(gains, 3)}")
    assert np.mean(gains) >= 0.04


@pytest.fixture(scope="module")
def recorded_run(digits_split):
    X_tr, _, y_tr, _ = digits_split[0]
    y = mask_labels(y_tr, 10, 0)
    FIT_LOG.clear()
    model = TriTrainingClassifier(RecordingTree(random_state=0), random_state=0).fit(
        X_tr, y, y_true_unlabeled=y_tr
    )
    return X_tr, y, y_tr, model, list(FIT_LOG)


def _replay(model, log):
    """Yield (round, i, record, h_j, h_k, new_h_i) with the classifiers current at the round."""
    current = log[:3]
    pos = 3
    for round_ in range(1, model.n_iter_ + 1):
        records = [r for r in model.classifier_history_ if r["round"] == round_]
        new = {}
        for r in records:
            if r["updated"]:
                new[r["classifier"]] = log[pos]
                pos += 1
        for r in records:
            i = r["classifier"]
            j, k = (a for a in range(3) if a != i)
            yield round_, i, r, current[j], current[k], new.get(i)
        for i, h in new.items():
            current[i] = h
    assert pos == len(log), "every fit of the base learner is accounted for"
    assert all(a is b for a, b in zip(current, model.estimators_, strict=True))


def test_never_adds_a_row_the_other_two_disagree_on(recorded_run):
    X, y, _, model, log = recorded_run
    labeled = y != -1
    n_updates = 0
    for _, _, record, h_j, h_k, new_h in _replay(model, log):
        if not record["updated"]:
            assert new_h is None
            continue
        n_updates += 1
        rows = record["indices"]
        assert not np.any(labeled[rows]), "only unlabeled rows are pseudo-labeled"
        np.testing.assert_array_equal(h_j.predict(X[rows]), record["labels"])
        np.testing.assert_array_equal(h_k.predict(X[rows]), record["labels"])
        # Learn(L u L_i): exactly the labeled rows plus this round's L_i.
        n_l = int(labeled.sum())
        assert len(new_h.fit_y_) == n_l + len(rows)
        np.testing.assert_array_equal(new_h.fit_X_[:n_l], X[labeled])
        np.testing.assert_array_equal(new_h.fit_X_[n_l:], X[rows])
        np.testing.assert_array_equal(new_h.fit_y_[n_l:], record["labels"])
    assert n_updates >= 3


def test_follows_table_1(recorded_run):
    X, y, y_true, model, log = recorded_run
    labeled = y != -1
    X_l, y_l, X_u = X[labeled], y[labeled], X[~labeled]
    prev_error, prev_size = [0.5] * 3, [0] * 3
    # The first three fits are on bootstrap samples of L (with replacement, |S_i| = |L|).
    for h in log[:3]:
        assert len(h.fit_y_) == len(y_l)
    for round_, i, record, h_j, h_k, _ in _replay(model, log):
        # e_i: errors of h_j & h_k on the labeled rows where they agree.
        pj, pk = h_j.predict(X_l), h_k.predict(X_l)
        agree = pj == pk
        error = np.sum(agree & (pj != y_l)) / agree.sum()
        assert record["error"] == pytest.approx(error)
        assert record["previous_error"] == pytest.approx(prev_error[i])
        if not error < prev_error[i]:
            assert not record["updated"]
            continue
        n_agree = int(np.sum(h_j.predict(X_u) == h_k.predict(X_u)))
        assert record["n_agree"] == n_agree
        size = prev_size[i] or math.floor(error / (prev_error[i] - error) + 1)
        assert record["previous_size"] == size
        if size >= n_agree:
            assert not record["updated"]
        elif error * n_agree < prev_error[i] * size:
            assert record["updated"] and not record["subsampled"]
            assert record["n_added"] == n_agree
        elif size > error / (prev_error[i] - error):
            assert record["updated"] and record["subsampled"]
            assert record["n_added"] == math.ceil(prev_error[i] * size / error - 1)
            # the subsample satisfies the noise condition e_i |L_i| < e'_i l'_i
            assert error * record["n_added"] < prev_error[i] * size
        else:
            assert not record["updated"]
        prev_size[i] = size
        if record["updated"]:
            prev_error[i], prev_size[i] = error, record["n_added"]
            expected = np.mean(record["labels"] == y_true[record["indices"]])
            assert record["precision"] == pytest.approx(expected)
    # It stops because the last round updated nothing.
    assert not any(r["updated"] for r in model.classifier_history_ if r["round"] == model.n_iter_)


def test_majority_vote(digits_split):
    X_tr, X_te, y_tr, _ = digits_split[1]
    model = TriTrainingClassifier(DecisionTreeClassifier(random_state=0), random_state=0).fit(
        X_tr, mask_labels(y_tr, 10, 1)
    )
    votes = np.stack([h.predict(X_te) for h in model.estimators_])
    proba = model.predict_proba(X_te)
    for c_idx, c in enumerate(model.classes_):
        np.testing.assert_allclose(proba[:, c_idx], (votes == c).sum(axis=0) / 3)
    majority = np.array([np.bincount(v, minlength=10).argmax() for v in votes.T])
    np.testing.assert_array_equal(model.predict(X_te), model.classes_[majority])


def test_bootstrap_holds_every_class():
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.full(40, -1)
    y[:2], y[2:4] = 0, 1  # two labels per class: a bootstrap often misses one
    for seed in range(10):
        model = TriTrainingClassifier(DecisionTreeClassifier(), max_iter=1, random_state=seed)
        model.fit(X, y)
        assert model.n_iter_ == 1
        assert not model.stratified_bootstrap_
    # One label for each of 10 classes: a plain bootstrap holds all of them with p = 0.04%.
    y = np.full(40, -1)
    y[:10] = np.arange(10)
    model = TriTrainingClassifier(DecisionTreeClassifier(), max_iter=1, random_state=0).fit(X, y)
    assert model.stratified_bootstrap_
    np.testing.assert_array_equal(model.classes_, np.arange(10))


class CountingKNN(KNeighborsClassifier):
    """1-NN that logs the number of rows of every predict call (class-level, all clones)."""

    calls: list[int] = []

    def predict(self, X):
        CountingKNN.calls.append(len(X))
        return super().predict(X)


def test_predicts_unlabeled_rows_only_for_changed_classifiers(digits_split):
    # Each fitted classifier predicts U at most once (and only when some e_i passes its
    # test), so U is predicted at most 3 + (number of updates) times, never in a round that
    # updates nothing; the labels equal those of predicting everything every round.
    X_tr, _, y_tr, _ = digits_split[0]
    y = mask_labels(y_tr, 10, 0)
    n_l, n_u = int(np.sum(y != -1)), int(np.sum(y == -1))
    CountingKNN.calls = []
    model = TriTrainingClassifier(CountingKNN(n_neighbors=1), random_state=0).fit(X_tr, y)
    n_updates = sum(h["updated"] for h in model.classifier_history_)
    assert n_updates >= 1 and model.n_iter_ >= 2
    assert n_l != n_u
    assert 1 <= CountingKNN.calls.count(n_u) <= 3 + n_updates
    assert CountingKNN.calls.count(n_l) <= 3 + n_updates
    reference = TriTrainingClassifier(
        KNeighborsClassifier(n_neighbors=1), random_state=0
    ).fit(X_tr, y)
    assert len(model.classifier_history_) == len(reference.classifier_history_)
    for a, b in zip(model.classifier_history_, reference.classifier_history_):
        np.testing.assert_array_equal(a["indices"], b["indices"])
        np.testing.assert_array_equal(a["labels"], b["labels"])
