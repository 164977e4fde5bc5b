"""methods.combined on small cases: the assignments against their definitions, the teacher
on separable data, and a run that never reads the held-out labels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from transfer_lab.methods import combined
from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.sources.splits import BudgetView


def test_class_mass_normalise_gives_distributions_with_equal_class_masses():
    P = np.random.default_rng(0).dirichlet([0.3, 1.0, 3.0], size=50)
    Q = combined.class_mass_normalise(P)
    assert np.allclose(Q.sum(axis=1), 1.0)
    assert np.allclose(Q.sum(axis=0), 50 / 3, rtol=1e-6)
    # a fixed point: already balanced distributions stay as they are
    balanced = np.array([[0.8, 0.2], [0.2, 0.8]])
    assert np.allclose(combined.class_mass_normalise(balanced), balanced, atol=1e-9)


def test_balanced_assignment_maximises_the_log_likelihood_under_equal_counts():
    rng = np.random.default_rng(1)
    P = rng.dirichlet([1.0, 1.0, 1.0], size=6)
    labels = combined.balanced_assignment(P)
    assert np.bincount(labels, minlength=3).max() <= 2
    best = max(
        (a for a in itertools.product(range(3), repeat=6) if np.bincount(a, minlength=3).max() <= 2),
        key=lambda a: np.log(P[np.arange(6), a]).sum(),
    )
    assert np.isclose(np.log(P[np.arange(6), labels]).sum(), np.log(P[np.arange(6), best]).sum())


def test_balanced_assignment_gives_back_a_class_that_argmax_loses():
    # class 1's rows lean to class 0 (0.6 vs 0.4): argmax gives class 1 nothing, the
    # balanced assignment gives it the rows that lean to it the most
    P = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.55, 0.45]])
    assert (P.argmax(axis=1) == 0).all()
    assert combined.balanced_assignment(P).tolist() == [0, 0, 1, 1]


def test_teacher_labels_two_separated_blobs_from_one_label_each():
    rng = np.random.default_rng(0)
    centres = 3 * np.eye(6)[:2]
    F = np.concatenate([rng.normal(0, 0.3, (30, 6)) + centres[0], rng.normal(0, 0.3, (30, 6)) + centres[1]])
    y = np.repeat([0, 1], 30)
    labeled = np.array([0, 30])
    unlabeled = np.setdiff1d(np.arange(60), labeled)
    for assignment in combined.ASSIGNMENTS:
        P, predict = combined.teacher(F[labeled], y[labeled], F[unlabeled], 10, assignment, 2)
        assert (P[2:].argmax(axis=1) == y[unlabeled]).all(), assignment
        assert (predict(centres) == [0, 1]).all()


def _digits_view(seed: int = 0, classes: int = 3) -> BudgetView:
    digits = load_digits(n_class=classes)
    X = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target
    order = np.random.default_rng(seed).permutation(len(y))
    train, val, test = np.split(order, [len(y) // 2, 3 * len(y) // 4])
    labeled = np.concatenate([train[y[train] == c][:1] for c in range(classes)])
    unlabeled = np.setdiff1d(train, labeled)
    return BudgetView(X[labeled], y[labeled], X[unlabeled], y[unlabeled], X[val], y[val], X[test], y[test],
                      "1", seed, classes)


def _settings(rounds: int = 1) -> combined.CombinedSettings:
    return combined.CombinedSettings(config=TrainConfig(epochs=2, batch_size=128, progress=False, seed=0),
                                     rounds=rounds, n_classes=3)


def _encoder() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_encoder("auto", (1, 8, 8), width=4, depth=2, out_features=16)


def test_run_and_select_never_read_the_test_or_unlabelled_labels():
    view = _digits_view()
    rng = np.random.default_rng(5)
    shuffled = dataclasses_replace(view, y_test=rng.permutation(view.y_test), y_unlabeled=rng.permutation(view.y_unlabeled))
    assert (shuffled.y_test != view.y_test).any()
    encoder = _encoder()
    candidates = [combined.Candidate("e", k, a) for k in (3, 5) for a in combined.ASSIGNMENTS]
    features = {"e": lambda X: extract_features(encoder, X)}
    # no without_held_out_labels here: the functions themselves must not look
    assert combined.select(features, [view], candidates, 3) == combined.select(features, [shuffled], candidates, 3)
    first, second = (combined.run(encoder, v, candidates[-1], _settings()) for v in (view, shuffled))
    for (name, a), (_, b) in zip(first.model.state_dict().items(), second.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert [s["val_accuracy"] for s in first.stages] == [s["val_accuracy"] for s in second.stages]
    assert [s["fair_val_accuracy"] for s in first.stages] == [s["fair_val_accuracy"] for s in second.stages]
    # while the measurement does read them
    assert combined.measure(first, view) != combined.measure(first, shuffled)


def test_without_held_out_labels_hides_exactly_the_unlabelled_and_test_labels():
    view = _digits_view()
    hidden = combined.without_held_out_labels(view)
    assert (hidden.y_test == -1).all() and (hidden.y_unlabeled == -1).all()
    assert (hidden.y_labeled == view.y_labeled).all() and (hidden.y_val == view.y_val).all()


def test_the_stages_of_a_run_and_the_teacher_alone():
    view = combined.without_held_out_labels(_digits_view())
    encoder = _encoder()
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    result = combined.run(encoder, view, combined.Candidate("e", 5, "balanced"), _settings(rounds=2))
    assert [s["stage"] for s in result.stages] == ["teacher_1", "student_1", "teacher_2", "student_2"]
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # the encoder is not changed
    alone = combined.run(encoder, view, combined.Candidate("e", 5, "balanced"), _settings(rounds=0))
    assert alone.model is None and [s["stage"] for s in alone.stages] == ["teacher_1"]
    # the teacher of three digit classes on a random network's features is far above chance
    assert combined.measure(alone, _digits_view())["accuracy"] > 0.6


def dataclasses_replace(view, **changes):
    import dataclasses

    return dataclasses.replace(view, **changes)


def test_select_and_run_with_every_label_have_no_unlabelled_rows_to_embed():
    view = combined.without_held_out_labels(_digits_view())
    every = dataclasses_replace(view, X_unlabeled=view.X_unlabeled[:0], y_unlabeled=view.y_unlabeled[:0])
    encoder = _encoder()
    (record,) = combined.select({"e": lambda X: extract_features(encoder, X)}, [every], [combined.Candidate("e", 5, "balanced")], 3)
    assert 0.0 <= record["val_accuracy"] <= 1.0
    result = combined.run(encoder, every, combined.Candidate("e", 5, "balanced"), _settings(rounds=2))
    assert [s["stage"] for s in result.stages] == ["teacher_1", "student_1"]  # every label: one student


def test_stratified_halves_take_half_of_every_class():
    y = np.repeat([0, 1, 2], [10, 7, 4])
    mask = combined.stratified_halves(y, seed=3)
    assert [int(mask[y == c].sum()) for c in range(3)] == [5, 3, 2]
    assert (combined.stratified_halves(y, seed=3) == mask).all() and (combined.stratified_halves(y, seed=4) != mask).any()


def _one_hot_trajectory(right: list[np.ndarray], y: np.ndarray) -> np.ndarray:
    """Softmax records (epochs, rows, 2 classes) right exactly where each epoch's mask says."""
    P = np.zeros((len(right), len(y), 2))
    for epoch, mask in enumerate(right):
        P[epoch, np.arange(len(y)), np.where(mask, y, 1 - y)] = 1.0
    return P


def test_crossfit_accuracy_scores_each_half_at_the_epoch_the_other_half_chose():
    y = np.repeat([0, 1], 6)
    first = combined.stratified_halves(y)
    # epoch 0 right on the first half only, epoch 1 on the second only: on all rows either epoch
    # scores 0.5, but an epoch chosen on one half is wrong on the other: 0
    assert combined.crossfit_accuracy(_one_hot_trajectory([first, ~first], y), y, patience=None) == 0.0
    # the same predictions at every epoch: the cross-fitted accuracy is the plain one
    steady = np.arange(len(y)) % 3 > 0
    assert combined.crossfit_accuracy(_one_hot_trajectory([steady] * 4, y), y, patience=None) == steady.mean()
    # an epoch right everywhere is found by both halves, unless patience stopped before it
    epochs = [np.zeros(len(y), bool)] * 3 + [np.ones(len(y), bool)]
    assert combined.crossfit_accuracy(_one_hot_trajectory(epochs, y), y, patience=None) == 1.0
    assert combined.crossfit_accuracy(_one_hot_trajectory(epochs, y), y, patience=2) == 0.0
    assert np.isnan(combined.crossfit_accuracy(np.zeros((3, 0, 2)), np.zeros(0, int), patience=None))  # no val rows


def test_fit_student_trains_the_same_student_as_finetune_and_scores_it_cross_fitted():
    # recording the validation softmax after each epoch must not change the training
    from transfer_lab.methods.transfer import finetune

    view = combined.without_held_out_labels(_digits_view())
    encoder, settings = _encoder(), _settings()
    P, _ = combined.teacher(extract_features(encoder, view.X_labeled), view.y_labeled,
                            extract_features(encoder, view.X_unlabeled), 5, "balanced", 3)
    model, fair = combined.fit_student(encoder, view, P.argmax(1), settings)
    rows = np.concatenate([view.X_labeled, view.X_unlabeled])
    labels = np.concatenate([view.y_labeled, P.argmax(1)[len(view.y_labeled):]])
    taught = dataclasses_replace(view, X_labeled=rows, y_labeled=labels, X_test=view.X_val, y_test=view.y_val)
    torch.manual_seed(settings.config.seed)
    plain = finetune(encoder, taught, config=settings.config, encoder_lr=settings.encoder_lr, strength=settings.strength,
                     n_classes=settings.n_classes).model
    for (name, a), (_, b) in zip(model.state_dict().items(), plain.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert 0.0 <= fair <= 1.0
