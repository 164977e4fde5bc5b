"""Label propagation on a sparse, symmetric k-nearest-neighbour graph.

Zhu, X. and Ghahramani, Z. (2002). Learning from labeled and unlabeled data with label
propagation. CMU-CALD-02-107, Section 2. With edge weights ``w_ij`` the probabilistic
transition matrix is

    T_ij = P(j -> i) = w_ij / sum_k w_kj

and, starting from the one-hot labels ``Y`` (zeros for unlabeled rows), the algorithm
repeats until convergence:

    1. propagate      Y <- T Y
    2. row-normalise  Y_i <- Y_i / sum_c Y_ic
    3. clamp the labeled data to their labels.

The fixed point is the harmonic solution of the graph (Zhu, Ghahramani & Lafferty 2003).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted

from transfer_lab.methods.semi_supervised._base import (
    check_fit_input,
    check_int,
    check_predict_input,
)

__all__ = ["LabelPropagation", "knn_graph"]


def knn_graph(X: np.ndarray, n_neighbors: int, n_jobs: int | None = None) -> sparse.csr_matrix:
    """Symmetric 0/1 k-nearest-neighbour graph with unit self-loops.

    ``w_ij = 1`` if ``j`` is among the ``n_neighbors`` nearest neighbours of ``i`` (itself
    excluded) *or* ``i`` among those of ``j``; ``w_ii = 1`` as for the paper's Gaussian
    weights ``exp(-d_ii^2 / sigma^2)``. The self-loop also stops the iteration from
    oscillating on bipartite pieces of the graph.

    Parameters
    ----------
    X : numpy.ndarray of shape (n_samples, n_features)
    n_neighbors : int
        Capped at ``n_samples - 1``.
    n_jobs : int or None
        Passed to :class:`sklearn.neighbors.NearestNeighbors`.

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n_samples, n_samples)
    """
    n = len(X)
    k = min(n_neighbors, n - 1)
    nn = NearestNeighbors(n_neighbors=k, n_jobs=n_jobs).fit(X)
    # X=None queries the training points themselves and leaves each point out of its list.
    directed = nn.kneighbors_graph(None, n_neighbors=k, mode="connectivity")
    graph = directed.maximum(directed.T) + sparse.identity(n, format="csr")
    return sparse.csr_matrix(graph)


class LabelPropagation(ClassifierMixin, BaseEstimator):
    """Zhu & Ghahramani (2002) label propagation on a symmetric k-NN graph.

    Parameters
    ----------
    n_neighbors : int, default 7
        Neighbours per point before symmetrisation.
    max_iter : int, default 1000
    tol : float, default 1e-3
        Stop when the sum of absolute changes of the label distributions in one iteration
        falls below ``tol`` (scikit-learn's criterion).
    n_jobs : int or None, default None
        Parallel jobs of the neighbour search.

    Attributes
    ----------
    X_ : numpy.ndarray
        The training rows (the graph for new points is built to them).
    nn_ : sklearn.neighbors.NearestNeighbors
        Neighbour index over ``X_``, used by ``predict``.
    classes_ : numpy.ndarray
    label_distributions_ : numpy.ndarray of shape (n_samples, n_classes)
        Row-stochastic label distributions; labeled rows are one-hot. Rows in a connected
        component without any labeled row receive the uniform distribution.
    transduction_ : numpy.ndarray of shape (n_samples,)
        Label of every training row (the given label for labeled rows).
    graph_ : scipy.sparse.csr_matrix
        The symmetric weight matrix ``W``.
    n_iter_ : int
    history_ : list
        Empty: label propagation labels every row at once, in no pseudo-labelling rounds
        (the common schema of :mod:`~transfer_lab.methods.semi_supervised.history`).
    n_features_in_ : int

    Notes
    -----
    Memory and time are ``O(n k)`` per iteration, so a few thousand rows take well under a
    second. scikit-learn's ``LabelPropagation(kernel="knn")`` propagates over the directed
    k-NN graph with the self-neighbour counted; this class follows the paper's transition
    matrix on the symmetrised graph, so the two give close but not identical transductions.
    """

    def __init__(
        self,
        n_neighbors: int = 7,
        max_iter: int = 1000,
        tol: float = 1e-3,
        n_jobs: int | None = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs

    def fit(self, X, y) -> LabelPropagation:
        """Propagate the labels of ``y`` (``-1`` = unlabeled) over the graph of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        check_int("n_neighbors", self.n_neighbors, 1)
        check_int("max_iter", self.max_iter, 1)
        if not self.tol > 0:
            raise ValueError(f"tol must be > 0, got {self.tol}")
        X, y, labeled = check_fit_input(self, X, y)
        self.X_ = X
        self.nn_ = NearestNeighbors(n_jobs=self.n_jobs).fit(X)
        self.classes_ = np.unique(y[labeled])
        n, n_classes = len(X), len(self.classes_)

        self.graph_ = knn_graph(X, self.n_neighbors, self.n_jobs)
        # T_ij = w_ij / sum_k w_kj: divide every column by its sum (W D^-1).
        T = sparse.csr_matrix(self.graph_ @ sparse.diags(1.0 / self.graph_.sum(axis=0).A1))

        clamp = np.zeros((n, n_classes))
        clamp[np.flatnonzero(labeled), np.searchsorted(self.classes_, y[labeled])] = 1.0
        Y = clamp.copy()
        converged = False
        for self.n_iter_ in range(1, self.max_iter + 1):
            new = T @ Y
            sums = new.sum(axis=1, keepdims=True)
            new = np.divide(new, sums, out=np.zeros_like(new), where=sums > 0)
            new[labeled] = clamp[labeled]
            change = np.abs(new - Y).sum()
            Y = new
            if change < self.tol:
                converged = True
                break
        if not converged:
            warnings.warn(
                f"label propagation did not converge in max_iter={self.max_iter} iterations",
                ConvergenceWarning,
                stacklevel=2,
            )
        # Rows never reached by a label (components without labeled rows) stay all-zero.
        unreached = Y.sum(axis=1) == 0
        Y[unreached] = 1.0 / n_classes
        self.label_distributions_ = Y
        self.transduction_ = self.classes_[Y.argmax(axis=1)]
        self.history_ = []
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Mean label distribution of each new point's ``n_neighbors`` nearest training rows."""
        check_is_fitted(self, "label_distributions_")
        X = check_predict_input(self, X)
        k = min(self.n_neighbors, len(self.X_))
        neighbors = self.nn_.kneighbors(X, n_neighbors=k, return_distance=False)
        proba = self.label_distributions_[neighbors].mean(axis=1)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        """Class with the highest propagated probability."""
        proba = self.predict_proba(X)  # checks that the model is fitted first
        return self.classes_[proba.argmax(axis=1)]
