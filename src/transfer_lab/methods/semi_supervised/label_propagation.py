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
from scipy.sparse import csgraph
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
        Iterations of the solver (conjugate-gradient steps, or the paper's propagation steps
        with ``solver="iterate"``).
    tol : float, default 1e-3
        Stop when the largest absolute residual of the fixed-point equation,
        ``max |Y_U − T̄_UU Y_U − T̄_UL Y_L|`` over all unlabeled rows and classes, is at most
        ``tol``. This is in probability units per entry, so it means the same at every
        number of rows (a sum over all ``n × C`` entries, scikit-learn's criterion, gets
        harder to meet as ``n`` grows). For ``solver="iterate"`` the residual is the change
        of the label distributions in one iteration.
    n_jobs : int or None, default None
        Parallel jobs of the neighbour search.
    solver : {"cg", "iterate"}, default "cg"
        ``"cg"`` solves the linear system of the fixed point directly (see Notes), in a few
        dozen ``O(n k C)`` steps at any size; ``"iterate"`` runs the paper's propagation
        loop, whose number of iterations grows with the graph's mixing time.

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
    Memory and time are ``O(n k C)`` per iteration. Once every row sums to one, the row
    sums of ``T Y`` are the fixed numbers ``r_i = Σ_j w_ij / d_j`` (``d_j`` the degree), so
    the fixed point is linear: ``Y_U = T̄_UU Y_U + T̄_UL Y_L`` with ``T̄ = R⁻¹ T`` (the
    harmonic solution). Writing ``Y_U = D_U X`` turns it into the symmetric positive
    definite system ``(R_U D_U − W_UU) X = W_UL D_L⁻¹ Y_L`` (a symmetric nonsingular
    M-matrix on every connected component that holds a label), which ``solver="cg"``
    solves by Jacobi-preconditioned conjugate gradients, all classes at once; its residual
    times ``R_U⁻¹`` is the fixed-point residual used by ``tol``. Components without a
    labeled row are left out of the system.

    scikit-learn's ``LabelPropagation(kernel="knn")`` propagates over the directed k-NN
    graph with the self-neighbour counted; this class follows the paper's transition matrix
    on the symmetrised graph, so the two give close but not identical transductions.
    """

    def __init__(
        self,
        n_neighbors: int = 7,
        max_iter: int = 1000,
        tol: float = 1e-3,
        n_jobs: int | None = None,
        solver: str = "cg",
    ) -> None:
        self.n_neighbors = n_neighbors
        self.max_iter = max_iter
        self.tol = tol
        self.n_jobs = n_jobs
        self.solver = solver

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
        if self.solver not in ("cg", "iterate"):
            raise ValueError(f"solver must be 'cg' or 'iterate', got {self.solver!r}")
        X, y, labeled = check_fit_input(self, X, y)
        self.X_ = X
        self.nn_ = NearestNeighbors(n_jobs=self.n_jobs).fit(X)
        self.classes_ = np.unique(y[labeled])
        n, n_classes = len(X), len(self.classes_)

        self.graph_ = knn_graph(X, self.n_neighbors, self.n_jobs)
        clamp = np.zeros((n, n_classes))
        clamp[np.flatnonzero(labeled), np.searchsorted(self.classes_, y[labeled])] = 1.0
        if self.solver == "cg":
            Y, converged = self._solve_cg(clamp, labeled)
        else:
            Y, converged = self._iterate(clamp, labeled)
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

    def _iterate(self, clamp: np.ndarray, labeled: np.ndarray) -> tuple[np.ndarray, bool]:
        """The paper's loop: propagate, row-normalise, clamp; stop on the max-abs change."""
        # T_ij = w_ij / sum_k w_kj: divide every column by its sum (W D^-1).
        T = sparse.csr_matrix(self.graph_ @ sparse.diags(1.0 / self.graph_.sum(axis=0).A1))
        Y = clamp.copy()
        for self.n_iter_ in range(1, self.max_iter + 1):
            new = T @ Y
            sums = new.sum(axis=1, keepdims=True)
            new = np.divide(new, sums, out=np.zeros_like(new), where=sums > 0)
            new[labeled] = clamp[labeled]
            change = np.abs(new - Y).max()
            Y = new
            if change <= self.tol:
                return Y, True
        return Y, False

    def _solve_cg(self, clamp: np.ndarray, labeled: np.ndarray) -> tuple[np.ndarray, bool]:
        """Jacobi-preconditioned CG on ``(R_U D_U − W_UU) X = W_UL D_L⁻¹ Y_L`` (see Notes)."""
        W = self.graph_
        degree = np.asarray(W.sum(axis=0)).ravel()  # d_j (W is symmetric)
        r = W @ (1.0 / degree)  # r_i = sum_j w_ij / d_j, the row sums of T
        # Unlabeled rows in a connected component with at least one labeled row.
        _, component = csgraph.connected_components(W, directed=False)
        reached = np.isin(component, component[labeled]) & ~labeled
        unl, lab = np.flatnonzero(reached), np.flatnonzero(labeled)
        Y = clamp.copy()
        self.n_iter_ = 0
        if unl.size == 0:
            return Y, True
        W_u = W[unl]
        W_uu = W_u[:, unl].tocsr()
        diag = r[unl] * degree[unl]
        B = W_u[:, lab] @ (clamp[lab] / degree[lab, None])
        inv_r = 1.0 / r[unl][:, None]
        inv_m = 1.0 / (diag - W_uu.diagonal())[:, None]  # Jacobi preconditioner

        def matvec(V: np.ndarray) -> np.ndarray:
            return diag[:, None] * V - W_uu @ V

        X = B * inv_m  # start from one Jacobi step (all columns at once)
        R = B - matvec(X)
        converged = np.abs(inv_r * R).max() <= self.tol
        Z = inv_m * R
        P = Z.copy()
        rz = np.einsum("ij,ij->j", R, Z)
        while not converged and self.n_iter_ < self.max_iter:
            self.n_iter_ += 1
            AP = matvec(P)
            pap = np.einsum("ij,ij->j", P, AP)
            step = np.divide(rz, pap, out=np.zeros_like(rz), where=pap > 0)
            X += step * P
            R -= step * AP
            converged = np.abs(inv_r * R).max() <= self.tol
            Z = inv_m * R
            rz_new = np.einsum("ij,ij->j", R, Z)
            P = Z + np.divide(rz_new, rz, out=np.zeros_like(rz), where=rz > 0) * P
            rz = rz_new
        # Y_U = D_U X; rows sum to one up to the solver's residual: renormalise, clip tiny
        # negative round-off.
        Y_u = np.maximum(degree[unl, None] * X, 0.0)
        sums = Y_u.sum(axis=1, keepdims=True)
        Y[unl] = np.divide(Y_u, sums, out=np.zeros_like(Y_u), where=sums > 0)
        return Y, bool(converged)

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
