"""Tangent vectors and the tangent distance against their formulas (Simard et al. 1998)."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from transfer_lab.methods.regularisation.tangents import (
    IMAGE_TANGENTS,
    TangentDistanceClassifier,
    tangent_distance,
    tangent_vectors,
)


def _blob(size=32, width=3.0, centre=(15.3, 16.1)):
    rows, cols = np.mgrid[0:size, 0:size].astype(float)
    return np.exp(-((cols - centre[1]) ** 2 + (rows - centre[0]) ** 2) / (2 * width**2))


def test_translation_tangents_are_the_finite_difference_derivatives():
    rng = np.random.default_rng(0)
    X = rng.random((3, 1, 8, 8))
    T = tangent_vectors(X, ["translate_x", "translate_y"], sigma=0.0)
    # central differences inside, one-sided at the border: numpy's gradient, x = last axis
    np.testing.assert_allclose(T[:, 0], np.gradient(X, axis=3))
    np.testing.assert_allclose(T[:, 1], np.gradient(X, axis=2))
    inner = X[:, :, :, 2:] - X[:, :, :, :-2]
    np.testing.assert_allclose(T[:, 0, :, :, 1:-1], inner / 2)


def test_translation_tangent_is_the_derivative_of_a_small_shift():
    image = _blob(width=4.0)
    tangent = tangent_vectors(image[None, None], ["translate_x"])[0, 0, 0]
    h = 1e-3
    # I(u + h) - I(u) over h: the image moved by -h along x, to first order h * Ix
    rows, cols = np.mgrid[0:32, 0:32].astype(float)
    moved = np.exp(-((cols + h - 16.1) ** 2 + (rows - 15.3) ** 2) / 32.0)
    derivative = (moved - image) / h
    # central differences err by f'''/6 per unit step: 1/(2 width^2) ~ 3% of the peak here
    assert np.abs(tangent - derivative).max() < 0.04 * np.abs(derivative).max()


def test_rotation_and_scaling_tangents_follow_their_formulas():
    image = _blob()[None, None]
    Ix, Iy = np.gradient(image, axis=3), np.gradient(image, axis=2)
    ys, xs = np.meshgrid(np.arange(32) - 15.5, np.arange(32) - 15.5, indexing="ij")
    T = tangent_vectors(image, ["rotate", "scale", "thicken"])
    np.testing.assert_allclose(T[:, 0], ys * Ix - xs * Iy)
    np.testing.assert_allclose(T[:, 1], xs * Ix + ys * Iy)
    np.testing.assert_allclose(T[:, 2], Ix**2 + Iy**2)


def test_unknown_tangent_is_refused():
    with pytest.raises(ValueError, match="unknown tangent"):
        tangent_vectors(np.zeros((1, 1, 8)), ["rotate"])


def _reference_distance(x, tx, y, ty, ridge):
    """min_{a,b} |x + Tx a - y - Ty b|^2 + ridge |(a, b)|^2 as one augmented least squares."""
    A = np.concatenate([tx.reshape(len(tx), -1).T, -ty.reshape(len(ty), -1).T], axis=1)
    A = np.concatenate([A, np.sqrt(ridge) * np.eye(A.shape[1])])
    b = np.concatenate([(y - x).ravel(), np.zeros(A.shape[1])])
    coef = np.linalg.lstsq(A, b, rcond=None)[0]
    return np.sqrt(((A @ coef - b) ** 2).sum())


def test_tangent_distance_equals_a_loop_over_least_squares_and_never_exceeds_euclidean():
    rng = np.random.default_rng(1)
    X, Y = rng.random((5, 1, 8, 8)), rng.random((7, 1, 8, 8))
    TX, TY = tangent_vectors(X, IMAGE_TANGENTS, sigma=0.5), tangent_vectors(Y, IMAGE_TANGENTS, sigma=0.5)
    got = tangent_distance(X, TX, Y, TY, ridge=1e-3, chunk=2)
    want = np.array([[_reference_distance(x, tx, y, ty, 1e-3) for y, ty in zip(Y, TY)] for x, tx in zip(X, TX)])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    euclidean = np.sqrt(((X.reshape(5, 1, -1) - Y.reshape(1, 7, -1)) ** 2).sum(-1))
    assert (got <= euclidean + 1e-12).all() and (got < euclidean - 1e-3).any()


def test_tangent_distance_is_euclidean_when_tangents_are_zero():
    rng = np.random.default_rng(2)
    X, Y = rng.random((4, 1, 8, 8)), rng.random((3, 1, 8, 8))
    got = tangent_distance(X, np.zeros((4, 5, 1, 8, 8)), Y, np.zeros((3, 5, 1, 8, 8)))
    euclidean = np.sqrt(((X.reshape(4, 1, -1) - Y.reshape(1, 3, -1)) ** 2).sum(-1))
    np.testing.assert_allclose(got, euclidean, rtol=1e-12)


def test_a_pattern_moved_along_its_tangent_is_at_distance_zero():
    rng = np.random.default_rng(3)
    x = rng.random((1, 1, 8, 8))
    tx = tangent_vectors(x, IMAGE_TANGENTS, sigma=0.5)
    y = x + 0.3 * tx[:, 2] - 0.2 * tx[:, 0]
    assert tangent_distance(x, tx, y, tx, ridge=1e-9)[0, 0] < 1e-3 * np.linalg.norm(y - x)


def test_tangent_distance_1nn_beats_euclidean_1nn_on_digits_with_few_labels():
    digits = load_digits()
    X, y = (digits.images / 16.0)[:, None], digits.target
    rng = np.random.default_rng(0)
    test = rng.permutation(len(X))[:300]
    rest = np.setdiff1d(np.arange(len(X)), test)
    train = np.concatenate([rng.choice(rest[y[rest] == c], 5, replace=False) for c in range(10)])
    euclidean = KNeighborsClassifier(1).fit(X[train].reshape(len(train), -1), y[train])
    plain = euclidean.score(X[test].reshape(len(test), -1), y[test])
    tangent = TangentDistanceClassifier(sigma=0.5, ridge=1e-2).fit(X[train], y[train]).score(X[test], y[test])
    assert tangent > plain + 0.02, (tangent, plain)


def test_the_tangent_distance_settings_are_chosen_on_validation_never_on_test(digits_view):
    from dataclasses import replace

    from transfer_lab.methods.regularisation.protocol import select_tangent_distance

    view = replace(digits_view, X_labeled=digits_view.X_labeled[:50], y_labeled=digits_view.y_labeled[:50])
    grid = dict(kinds=["translate_x", "translate_y"], sigma=[0.0, 1.0], ridge=[0.01, 10.0])
    _, val, chosen = select_tangent_distance(view, **grid)
    # the chosen candidate is the best on validation: refit each and compare
    from transfer_lab.methods.regularisation.tangents import TangentDistanceClassifier

    scores = {
        (s, r): TangentDistanceClassifier(kinds=grid["kinds"], sigma=s, ridge=r)
        .fit(view.X_labeled, view.y_labeled).score(view.X_val, view.y_val)
        for s in grid["sigma"] for r in grid["ridge"]
    }
    assert val == max(scores.values()) == scores[(chosen["selected_sigma"], chosen["selected_ridge"])]
    # shuffled or garbled test labels and images change nothing in the selection
    rng = np.random.default_rng(1)
    garbled = replace(view, X_test=rng.random(view.X_test.shape).astype(np.float32), y_test=rng.permutation(view.y_test))
    assert select_tangent_distance(garbled, **grid)[1:] == (val, chosen)
