"""Tests for LabelPropagation: the paper's fixed point, scikit-learn's transductions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.linalg import spsolve
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier
from sklearn.semi_supervised import LabelPropagation as SklearnLabelPropagation
from sklearn.semi_supervised import LabelSpreading

from tests.methods.semi_supervised.helpers import mask_labels
from transfer_lab.methods.semi_supervised import LabelPropagation, knn_graph


def test_labeled_rows_stay_clamped(moons):
    X, _, y, _, _ = moons
    model = LabelPropagation().fit(X, y)
    labeled = y != -1
    np.testing.assert_array_equal(model.transduction_[labeled], y[labeled])
    np.testing.assert_array_equal(
        model.label_distributions_[labeled], np.eye(2)[y[labeled]]
    )
    np.testing.assert_allclose(model.label_distributions_.sum(axis=1), 1.0)


def test_reaches_the_harmonic_solution(moons):
    """Zhu & Ghahramani: the fixed point is Y_U = (I - T̄_uu)^-1 T̄_ul Y_L, T̄ row-normalised."""
    X, _, y, _, _ = moons
    model = LabelPropagation(max_iter=20000, tol=1e-9).fit(X, y)
    W = knn_graph(X, 7)
    T = W @ sparse.diags(1.0 / W.sum(axis=0).A1)
    T_bar = sparse.diags(1.0 / T.sum(axis=1).A1) @ T
    lab, unl = np.flatnonzero(y != -1), np.flatnonzero(y == -1)
    T_bar = sparse.csr_matrix(T_bar)
    A = sparse.identity(len(unl)) - T_bar[unl][:, unl]
    Y_L = np.eye(2)[y[lab]]
    Y_U = np.column_stack([spsolve(A.tocsc(), T_bar[unl][:, lab] @ Y_L[:, c]) for c in range(2)])
    np.testing.assert_allclose(model.label_distributions_[unl], Y_U, atol=1e-4)


def test_graph_is_sparse_symmetric_knn():
    X = np.random.default_rng(0).normal(size=(50, 2))
    W = knn_graph(X, 5)
    assert sparse.issparse(W)
    assert (W != W.T).nnz == 0
    np.testing.assert_array_equal(W.diagonal(), 1.0)
    degrees = np.asarray((W - sparse.identity(50)).sum(axis=1)).ravel()
    assert degrees.min() >= 5  # each point keeps its own 5 neighbours after symmetrisation


def test_unlabeled_rows_help_on_moons():
    """Eight draws of moons with 3 labels per class: the graph beats 1-NN on the labels."""
    ours, knn = [], []
    for seed in range(8):
        X, y_true = make_moons(n_samples=300, noise=0.1, random_state=seed)
        X_test, y_test = make_moons(n_samples=1000, noise=0.1, random_state=seed + 100)
        y = mask_labels(y_true, 3, seed)
        labeled = y != -1
        knn.append(
            KNeighborsClassifier(n_neighbors=1).fit(X[labeled], y[labeled]).score(X_test, y_test)
        )
        with warnings.catch_warnings():
            # Two draws need more than the default 1000 iterations to meet tol=1e-3 on
            # the long chains of a moon, and are already accurate: not the point here.
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours.append(LabelPropagation().fit(X, y).score(X_test, y_test))
    print(f"label propagation test accuracy {np.round(ours, 3)} (mean {np.mean(ours):.3f}); "
          f"1-NN on the 6 labels: mean {np.mean(knn):.3f}")
    assert np.mean(ours) >= 0.95
    assert np.mean(ours) >= np.mean(knn) + 0.05


def test_matches_sklearn_label_propagation_and_spreading():
    """Close to scikit-learn's knn LabelPropagation (directed graph) and at least as good.

    The two graphs differ (symmetrised here), so where a k-NN edge bridges the moons the
    transductions can differ; over eight draws with 10 labels per class they agree on
    >= 95% of the rows on average.
    """
    agreements, ours_acc, sk_acc, ls_acc = [], [], [], []
    for seed in range(8):
        X, y_true = make_moons(n_samples=300, noise=0.1, random_state=seed)
        y = mask_labels(y_true, 10, seed)
        ours = LabelPropagation(n_neighbors=7).fit(X, y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = SklearnLabelPropagation(kernel="knn", n_neighbors=7, max_iter=5000).fit(X, y)
        spread = LabelSpreading(kernel="knn", n_neighbors=7).fit(X, y)
        agreements.append(np.mean(ours.transduction_ == ref.transduction_))
        ours_acc.append(np.mean(ours.transduction_ == y_true))
        sk_acc.append(np.mean(ref.transduction_ == y_true))
        ls_acc.append(np.mean(spread.transduction_ == y_true))
    print(f"agreement with sklearn {np.round(agreements, 3)}; accuracy ours "
          f"{np.mean(ours_acc):.3f}, sklearn LP {np.mean(sk_acc):.3f}, LS {np.mean(ls_acc):.3f}")
    assert np.mean(agreements) >= 0.95
    assert min(agreements) >= 0.9
    assert np.mean(ours_acc) >= np.mean(sk_acc) - 0.01
    assert np.mean(ours_acc) >= np.mean(ls_acc) - 0.01


def test_predict_on_training_points_matches_transduction(moons):
    X, _, y, _, _ = moons
    model = LabelPropagation().fit(X, y)
    assert np.mean(model.predict(X) == model.transduction_) >= 0.98
    proba = model.predict_proba(X[:10])
    assert proba.shape == (10, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_component_without_labels_gets_uniform_distribution():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 100.0])
    y = np.full(40, -1)
    y[0], y[1] = 0, 1  # both labels in the first cluster
    model = LabelPropagation(n_neighbors=3).fit(X, y)
    np.testing.assert_allclose(model.label_distributions_[20:], 0.5)


def test_warns_without_convergence(moons):
    X, _, y, _, _ = moons
    with pytest.warns(ConvergenceWarning):
        LabelPropagation(max_iter=2).fit(X, y)


def test_reaches_the_closed_form_at_20k_rows():
    """20,000 moons rows, 10 labels per class: the CG solve meets the harmonic closed form
    Y_U = (I - T̄_uu)^-1 T̄_ul Y_L (sparse LU) to 1e-6 at tol=1e-8, and at the default tol
    stops without a warning on the same argmax for >= 99% of the rows. The paper's loop
    with the scale-free rule stops too (the former absolute-sum rule ran into max_iter)."""
    X, y_true = make_moons(n_samples=20_000, noise=0.1, random_state=0)
    y = mask_labels(y_true, 10, 0)
    W = knn_graph(X, 7)
    T = W @ sparse.diags(1.0 / W.sum(axis=0).A1)
    T_bar = sparse.csr_matrix(sparse.diags(1.0 / T.sum(axis=1).A1) @ T)
    lab, unl = np.flatnonzero(y != -1), np.flatnonzero(y == -1)
    A = (sparse.identity(len(unl)) - T_bar[unl][:, unl]).tocsc()
    Y_U = spsolve(A, T_bar[unl][:, lab] @ np.eye(2)[y[lab]])

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        tight = LabelPropagation(tol=1e-8).fit(X, y)
        default = LabelPropagation().fit(X, y)
        loop = LabelPropagation(solver="iterate").fit(X, y)
    np.testing.assert_allclose(tight.label_distributions_[unl], Y_U, atol=1e-6)
    assert tight.n_iter_ < tight.max_iter
    agree = default.label_distributions_[unl].argmax(axis=1) == Y_U.argmax(axis=1)
    assert agree.mean() >= 0.99
    assert loop.n_iter_ < loop.max_iter
    np.testing.assert_allclose(default.label_distributions_.sum(axis=1), 1.0)


def test_iterate_solver_matches_cg_solver(moons):
    X, _, y, _, _ = moons
    cg = LabelPropagation(tol=1e-10, max_iter=5000).fit(X, y)
    loop = LabelPropagation(tol=1e-10, max_iter=100_000, solver="iterate").fit(X, y)
    np.testing.assert_allclose(cg.label_distributions_, loop.label_distributions_, atol=1e-6)
    with pytest.raises(ValueError):
        LabelPropagation(solver="lu").fit(X, y)
