"""Dictionary learning (batch and online mini-batch) as scikit-learn estimators, in torch.

Problem (rows are samples: ``X`` is ``(n, m)``, codes ``U`` are ``(n, k)``, atoms are the
rows of ``D``, ``(k, m)``)::

    min_{D, U}  1/n Σ_i ½‖x_i − u_i D‖² + alpha‖u_i‖₁     subject to  ‖d_j‖₂ = 1 for every atom.

The objective (:func:`~transfer_lab.methods.sparse_coding.sparse_coding_objective`, the mean
per row) is what ``objective_history_`` records. ``alpha`` means exactly what it means in
``sklearn.decomposition.DictionaryLearning`` / ``MiniBatchDictionaryLearning``.

* :class:`DictionaryLearning` alternates exact-ish minimisations: Lasso codes of all rows
  (batched ADMM or FISTA, warm-started, never worse than the previous codes) and block-coordinate
  descent over the atoms with the codes fixed. Each atom step is the exact minimiser on
  the unit sphere, so the objective never increases.
* :class:`MiniBatchDictionaryLearning` is the online algorithm of Mairal, Bach, Ponce &
  Sapiro (ICML 2009, JMLR 2010): code a mini-batch, accumulate the sufficient statistics
  ``A = Σ u uᵀ`` and ``B = Σ uᵀ x`` with Mairal et al.'s forgetting factor
  ``(1 − 1/t)^ρ`` (or scikit-learn's schedule), and update the atoms by one block
  coordinate pass on the surrogate ``½ tr(D ᵀA D) − tr(Dᵀ B)``.

The Lasso coder is over-relaxed ADMM with the one inverse ``(DDᵀ + ρI)⁻¹`` shared by all
rows (``code_solver="admm"``, default) or greedy FISTA (``"fista"``); both stop on the same
relative duality gap ``code_tol``.

Atoms that no code uses are re-initialised from data rows (unit norm), as in both Mairal
et al. and scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from transfer_lab.methods.runtime import resolve_device
from transfer_lab.methods.sparse_coding import (
    _lasso,
    _resolve_dtype,
    omp,
    sparse_coding_objective,
    sparse_encode,
)

__all__ = [
    "DictionaryLearning",
    "MiniBatchDictionaryLearning",
    "update_dictionary",
    "flatten_rows",
    "self_taught_codes",
    "subset_accuracies",
]

# Below this (averaged) usage ‖u_k‖² an atom counts as unused and is re-drawn from the data
# (the value scikit-learn and SPAMS use for the online algorithm).
_UNUSED_ATOM = 1e-6


# ----------------------------------------------------------------------------- atom updates
def update_dictionary(
    D: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    *,
    n_passes: int = 1,
    unused: float = 0.0,
    replacement=None,
    tol: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Block-coordinate descent over atoms for ``½ tr(D ᵀA D) − tr(Dᵀ B)`` on unit spheres.

    With the codes fixed, ``½‖X − U D‖_F²`` equals that surrogate (plus a constant) for
    ``A = UᵀU`` and ``B = UᵀX``. As a function of atom ``d_k`` alone it is
    ``½ A_kk ‖d_k‖² − d_k·c_k + const`` with ``c_k = B_k − Σ_{j≠k} A_kj d_j``; on the sphere
    ``‖d_k‖ = 1`` the first term is constant, so ``d_k = c_k / ‖c_k‖`` is the exact
    minimiser and no pass can increase the objective.

    Parameters
    ----------
    D : ndarray of shape (k, m)
        Current atoms (unit norm); updated in place and returned.
    A : ndarray of shape (k, k)
    B : ndarray of shape (k, m)
    n_passes : int, default 1
        Passes over all atoms (stops early when no atom moves by more than ``tol``).
    unused : float, default 0.0
        Atoms with ``A_kk <= unused`` are replaced (they do not affect the objective).
    replacement : callable, optional
        ``replacement(k) -> ndarray (m,)`` giving a new direction for an unused atom; without
        it unused atoms are left as they are.
    tol : float, default 0.0

    Returns
    -------
    D : ndarray of shape (k, m)
    replaced : ndarray of bool, shape (k,)
        Atoms re-drawn because they were unused.
    """
    k = D.shape[0]
    replaced = np.zeros(k, dtype=bool)
    diagonal = np.diagonal(A).tolist()
    track_moves = n_passes > 1 or tol > 0  # a single pass needs no stopping test
    for _ in range(n_passes):
        largest_move = 0.0
        for j in range(k):
            a_jj = diagonal[j]
            if a_jj <= unused:
                if replacement is not None and not replaced[j]:
                    D[j] = _unit(replacement(j))
                    replaced[j] = True
                continue
            d_j = D[j]
            c = B[j] - A[j] @ D + a_jj * d_j
            norm = math.sqrt(c @ c)  # np.linalg.norm costs 5x more on one short row
            if norm > 0:  # c = 0: every unit vector is optimal, keep the atom
                c /= norm
                if track_moves:
                    largest_move = max(largest_move, float(np.abs(c - d_j).max()))
                D[j] = c
        if largest_move <= tol:
            break
    return D, replaced


def _forgetting_factor(step: int, batch_size: int, rho) -> float:
    """Weight of the past statistics ``A``, ``B`` at mini-batch ``step`` (0-based).

    ``rho`` a number: Mairal et al. (JMLR 2010, §3.4.3) ``β_t = (1 − 1/t)^ρ`` with
    ``t = step + 1``, so that mini-batch ``s`` weighs ``(s / t)^ρ`` at step ``t``: the
    statistics of the first, badly coded mini-batches fade (``ρ = 1`` is the plain mean).
    ``rho=None``: scikit-learn's schedule (``MiniBatchDictionaryLearning._update_inner_stats``).
    """
    if rho is not None:
        return (1.0 - 1.0 / (step + 1)) ** float(rho)
    if step < batch_size - 1:
        theta = (step + 1) * batch_size
    else:
        theta = batch_size**2 + step + 1 - batch_size
    return (theta + 1 - batch_size) / (theta + 1)


def _check_int(name: str, value, minimum: int) -> None:
    """One-line ValueError unless ``value`` is an integer (not a bool) ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    if norm == 0 or not np.isfinite(norm):
        v = np.ones_like(v)
        norm = np.linalg.norm(v)
    return v / norm


# ----------------------------------------------------------------------------- base class
class _BaseDictionaryLearning(TransformerMixin, BaseEstimator):
    """Shared validation, initialisation and ``transform``."""

    # ------------------------------------------------------------------ validation
    def _check_params(self, X: np.ndarray) -> int:
        n_components = self.n_components if self.n_components is not None else X.shape[1]
        _check_int("n_components", n_components, 1)
        if not isinstance(self.alpha, Real) or self.alpha < 0:
            raise ValueError(f"alpha must be a non-negative number, got {self.alpha!r}")
        if self.transform_alpha is not None and (
            not isinstance(self.transform_alpha, Real) or self.transform_alpha < 0
        ):
            raise ValueError(f"transform_alpha must be None or >= 0, got {self.transform_alpha!r}")
        _check_int("max_iter", self.max_iter, 0)
        _check_int("dict_update_passes", self.dict_update_passes, 1)
        if not isinstance(self.tol, Real) or self.tol < 0:
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}")
        if not isinstance(self.code_tol, Real) or self.code_tol < 0:
            raise ValueError(f"code_tol must be a non-negative number, got {self.code_tol!r}")
        if self.code_solver not in ("admm", "fista"):
            raise ValueError(f"code_solver must be 'admm' or 'fista', got {self.code_solver!r}")
        if self.transform_algorithm not in ("lasso", "omp"):
            raise ValueError(
                f"transform_algorithm must be 'lasso' or 'omp', got {self.transform_algorithm!r}"
            )
        if self.dict_init is not None:
            shape = np.shape(self.dict_init)
            if shape != (n_components, X.shape[1]):
                raise ValueError(
                    f"dict_init must have shape {(n_components, X.shape[1])}, got {shape}"
                )
        return int(n_components)

    def _validate_X(self, X, reset: bool) -> np.ndarray:
        X = validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])
        if reset and X.shape[0] < 1:
            raise ValueError("X must contain at least one row")
        return X

    def _setup(self, X: np.ndarray):
        device = resolve_device(self.device)
        dtype = _resolve_dtype(self.dtype) or (
            torch.float32 if X.dtype == np.float32 else torch.float64
        )
        return device, dtype

    # ------------------------------------------------------------------ initialisation
    def _initial_dictionary(self, X: np.ndarray, k: int, rng: np.random.RandomState) -> np.ndarray:
        """``dict_init`` (normalised) or ``k`` distinct random data rows, normalised.

        Data rows rather than scikit-learn's SVD: every atom then starts in use, and more
        atoms than features (over-complete dictionaries) need no special case.
        """
        if self.dict_init is not None:
            D = np.array(self.dict_init, dtype=np.float64)
        else:
            n = X.shape[0]
            rows = rng.choice(n, size=k, replace=n < k)
            D = np.array(X[rows], dtype=np.float64)
            if n < k:  # repeated rows: jitter so that atoms differ
                D += 0.01 * (D.std() or 1.0) * rng.standard_normal(D.shape)
        norms = np.linalg.norm(D, axis=1)
        for j in np.flatnonzero(norms == 0):  # all-zero rows (e.g. blank images)
            D[j] = rng.standard_normal(D.shape[1])
        return D / np.linalg.norm(D, axis=1, keepdims=True)

    def _replacement(self, X: np.ndarray, rng: np.random.RandomState):
        """New direction for an unused atom: a random data row plus 1% noise (as sklearn)."""

        def draw(_j: int) -> np.ndarray:
            row = np.asarray(X[rng.randint(X.shape[0])], dtype=np.float64)
            noise_level = 0.01 * (row.std() or 1.0)
            return row + rng.normal(0.0, noise_level, size=row.shape)

        return draw

    # ------------------------------------------------------------------ coding
    def _code(self, Xt: torch.Tensor, Dt: torch.Tensor, alpha: float, init=None):
        return _lasso(
            Xt, Dt, alpha, init, max_iter=self.code_max_iter, tol=self.code_tol,
            solver=self.code_solver,
        )[0]

    def transform(self, X):
        """Sparse codes of ``X`` on the learned dictionary.

        ``transform_algorithm="lasso"`` (default) solves
        ``min_u ½‖x − u D‖² + transform_alpha‖u‖₁`` per row (``transform_alpha`` defaults
        to ``alpha``); ``"omp"`` keeps ``transform_n_nonzero_coefs`` atoms per row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "components_")
        X = self._validate_X(X, reset=False)
        device, dtype = self._setup(X)
        Xt = torch.as_tensor(X, device=device, dtype=dtype)
        Dt = torch.as_tensor(self.components_, device=device, dtype=dtype)
        if self.transform_algorithm == "omp":
            n_nonzero = self.transform_n_nonzero_coefs
            if n_nonzero is None:
                # scikit-learn's default for OMP: a tenth of the features, at least one.
                n_nonzero = int(min(max(X.shape[1] / 10, 1), Dt.shape[0]))
            return omp(Xt, Dt, n_nonzero, device=device).cpu().numpy()
        alpha = self.alpha if self.transform_alpha is None else self.transform_alpha
        return self._code(Xt, Dt, float(alpha)).cpu().numpy()

    @property
    def _n_features_out(self):
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# ----------------------------------------------------------------------------- batch
class DictionaryLearning(_BaseDictionaryLearning):
    """Batch dictionary learning by alternating minimisation, batched in torch.

    Minimises the mean over rows of ``½‖x_i − u_i D‖² + alpha‖u_i‖₁`` subject to unit-norm
    atoms. Each iteration (1) codes every row by Lasso (``code_solver`` on all rows at once,
    warm-started from the previous codes and never worse than them) and (2) updates the
    atoms by exact block-coordinate descent on the unit sphere (see
    :func:`update_dictionary`). Both steps are descent steps, so ``objective_history_``
    never increases.

    Parameters
    ----------
    n_components : int, optional
        Number of atoms ``k``; defaults to ``n_features``.
    alpha : float, default 1.0
        l1 weight, as in :func:`~transfer_lab.methods.sparse_coding.sparse_encode` and
        scikit-learn.
    max_iter : int, default 100
        Maximum alternating iterations.
    tol : float, default 1e-6
        Stop when an iteration lowers the objective by less than ``tol`` times its value.
    transform_algorithm : {"lasso", "omp"}, default "lasso"
        Coder used by :meth:`transform`.
    transform_alpha : float, optional
        l1 weight for :meth:`transform`; defaults to ``alpha``.
    transform_n_nonzero_coefs : int, optional
        Atoms per row for ``transform_algorithm="omp"``; defaults to ``n_features / 10``.
    code_tol : float, default 1e-2
        Relative duality-gap tolerance of the Lasso coder (see ``sparse_encode``).
    code_max_iter : int, default 1000
        Iteration cap of the Lasso coder.
    code_solver : {"admm", "fista"}, default "admm"
        Lasso solver of the coder (both stop on the same relative duality gap
        ``code_tol``): over-relaxed ADMM with the shared inverse ``(DDᵀ + ρI)⁻¹`` needs
        about 5x fewer iterations than greedy FISTA on over-complete dictionaries, whose
        Gram matrix is singular.
    dict_update_passes : int, default 5
        Block-coordinate passes over the atoms per iteration (more passes solve the
        dictionary step more exactly; each is cheap next to coding).
    dict_init : array-like of shape (n_components, n_features), optional
        Initial atoms (normalised); default: random data rows.
    random_state : int, RandomState instance or None, default None
        Initial atoms and the re-drawing of unused atoms.
    device : {"cpu", "cuda", "auto"} or torch.device, default "cpu"
    dtype : {None, "float32", "float64"}, default None
        Computation dtype; None follows ``X`` (float64 unless ``X`` is float32).

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Atoms, unit-norm rows.
    objective_history_ : ndarray of shape (n_iter_,)
        Mean objective after each iteration (codes of that iteration, updated atoms).
    n_iter_ : int
        Iterations run.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((50, 8))
    >>> model = DictionaryLearning(n_components=12, alpha=0.5, max_iter=5, random_state=0)
    >>> model.fit_transform(X).shape
    (50, 12)
    """

    def __init__(
        self,
        n_components=None,
        *,
        alpha=1.0,
        max_iter=100,
        tol=1e-6,
        transform_algorithm="lasso",
        transform_alpha=None,
        transform_n_nonzero_coefs=None,
        code_tol=1e-2,
        code_max_iter=1000,
        code_solver="admm",
        dict_update_passes=5,
        dict_init=None,
        random_state=None,
        device="cpu",
        dtype=None,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self.transform_algorithm = transform_algorithm
        self.transform_alpha = transform_alpha
        self.transform_n_nonzero_coefs = transform_n_nonzero_coefs
        self.code_tol = code_tol
        self.code_max_iter = code_max_iter
        self.code_solver = code_solver
        self.dict_update_passes = dict_update_passes
        self.dict_init = dict_init
        self.random_state = random_state
        self.device = device
        self.dtype = dtype

    def fit(self, X, y=None):
        """Learn the dictionary from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        self : DictionaryLearning
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then return the codes of ``X`` (warm-started from the last fit codes)."""
        X, codes = self._fit(X)
        if self.transform_algorithm == "lasso" and (
            self.transform_alpha is None or self.transform_alpha == self.alpha
        ):
            device, dtype = self._setup(X)
            Xt = torch.as_tensor(X, device=device, dtype=dtype)
            Dt = torch.as_tensor(self.components_, device=device, dtype=dtype)
            init = None if codes is None else codes.to(device=device, dtype=dtype)
            return self._code(Xt, Dt, float(self.alpha), init=init).cpu().numpy()
        return self.transform(X)

    def _fit(self, X) -> tuple[np.ndarray, torch.Tensor | None]:
        X = self._validate_X(X, reset=True)
        k = self._check_params(X)
        rng = check_random_state(self.random_state)
        device, dtype = self._setup(X)
        alpha = float(self.alpha)
        D = self._initial_dictionary(X, k, rng)
        Xt = torch.as_tensor(X, device=device, dtype=dtype)
        U = None
        history: list[float] = []
        replacement = self._replacement(X, rng)
        n_iter = 0
        for it in range(self.max_iter):
            n_iter = it + 1
            Dt = torch.as_tensor(D, device=device, dtype=dtype)
            U = self._code(Xt, Dt, alpha, init=U)
            A = (U.T @ U).double().cpu().numpy()
            B = (U.T @ Xt).double().cpu().numpy()
            # Only atoms no row uses are re-drawn: that leaves the objective unchanged, so
            # the history stays monotone.
            D, _ = update_dictionary(
                D, A, B, n_passes=self.dict_update_passes, unused=0.0,
                replacement=replacement, tol=1e-7,
            )
            history.append(sparse_coding_objective(Xt, torch.as_tensor(D, device=device), U, alpha))
            if it > 0 and history[-2] - history[-1] < self.tol * abs(history[-1]):
                break
        self.components_ = D
        self.objective_history_ = np.asarray(history)
        self.n_iter_ = n_iter
        return X, U


# ----------------------------------------------------------------------------- online
class MiniBatchDictionaryLearning(_BaseDictionaryLearning):
    """Online (mini-batch) dictionary learning of Mairal et al., batched in torch.

    For each mini-batch: Lasso codes (ADMM, warm-started from the row's code of the
    previous epoch), then ``A ← β A + UᵀU / b`` and ``B ← β B + UᵀX / b`` with
    Mairal et al.'s forgetting ``β = (1 − 1/t)^ρ`` at mini-batch ``t`` (``forget_rho``; or
    scikit-learn's schedule), then ``dict_update_passes``
    block-coordinate passes on the atoms (exact on the unit sphere). Atoms whose
    accumulated usage ``A_kk`` stays below 1e-6 are re-drawn from a data row plus noise.

    ``max_iter`` counts epochs, as in scikit-learn. After every epoch all rows are re-coded
    with the current atoms (warm-started) and the mean full-data objective is recorded in
    ``objective_history_``; those codes warm-start the next epoch.

    Parameters
    ----------
    n_components : int, optional
        Number of atoms; defaults to ``n_features``.
    alpha : float, default 1.0
    max_iter : int, default 10
        Epochs (passes over the data).
    batch_size : int, default 256
    shuffle : bool, default True
        Shuffle the rows once before the epochs (as scikit-learn does).
    tol : float, default 0.0
        Stop early when an epoch lowers the full-data objective by less than ``tol`` times
        its value (0 runs all ``max_iter`` epochs).
    transform_algorithm, transform_alpha, transform_n_nonzero_coefs, code_tol, code_max_iter,
    code_solver, dict_init, random_state, device, dtype
        As in :class:`DictionaryLearning`.
    dict_update_passes : int, default 1
        Block-coordinate passes per mini-batch (1 is Mairal et al.'s choice).
    forget_rho : float or None, default 4.0
        Forgetting of the sufficient statistics (Mairal et al. 2010, §3.4.3): before
        mini-batch ``t`` they are scaled by ``(1 − 1/t)^ρ``, so the statistics of the early
        mini-batches, coded with a poor dictionary, fade. ``None``: scikit-learn's schedule.
        4 was the best of {1, 2, 4, 8} on ``benchmarks/dictionary_learning.py``'s data
        (mean objective 1.0427 vs 1.0458 for scikit-learn's schedule after 2 epochs).
    record_objective : {True, "last", False}, default True
        ``True``: re-code all rows after every epoch to record ``objective_history_`` (and
        warm-start the next epoch from those codes). ``"last"``: only after the last epoch
        (``objective_history_`` has one value, the final full-data objective; earlier
        epochs warm-start from the rows' mini-batch codes). ``False`` skips that work
        (about a third of the fit at 3 epochs with the FISTA coder): ``objective_history_``
        is empty and ``tol`` must be 0 — as scikit-learn's and SPAMS' online learners,
        which record no full-data objective. ``batch_objective_history_`` is recorded in
        every case, at the cost of one small product per mini-batch.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Atoms, unit-norm rows.
    objective_history_ : ndarray of shape (n_iter_,)
        Mean full-data objective after each epoch (see ``record_objective``).
    batch_objective_history_ : ndarray of shape (n_iter_,)
        Per epoch, the mean objective of the rows' mini-batch codes, each computed with the
        atoms in force when its mini-batch was coded (Mairal et al.'s surrogate: no extra
        coding; it lags the full-data objective of the end-of-epoch atoms).
    n_iter_ : int
        Epochs run.
    n_steps_ : int
        Mini-batches processed.
    n_features_in_ : int
    """

    def __init__(
        self,
        n_components=None,
        *,
        alpha=1.0,
        max_iter=10,
        batch_size=256,
        shuffle=True,
        tol=0.0,
        transform_algorithm="lasso",
        transform_alpha=None,
        transform_n_nonzero_coefs=None,
        code_tol=1e-2,
        code_max_iter=1000,
        code_solver="admm",
        dict_update_passes=1,
        dict_init=None,
        random_state=None,
        device="cpu",
        dtype=None,
        record_objective=True,
        forget_rho=4.0,
    ):
        self.n_components = n_components
        self.alpha = alpha
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.record_objective = record_objective
        self.forget_rho = forget_rho
        self.tol = tol
        self.transform_algorithm = transform_algorithm
        self.transform_alpha = transform_alpha
        self.transform_n_nonzero_coefs = transform_n_nonzero_coefs
        self.code_tol = code_tol
        self.code_max_iter = code_max_iter
        self.code_solver = code_solver
        self.dict_update_passes = dict_update_passes
        self.dict_init = dict_init
        self.random_state = random_state
        self.device = device
        self.dtype = dtype

    def fit(self, X, y=None):
        """Learn the dictionary from ``X`` in ``max_iter`` epochs of mini-batches.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        self : MiniBatchDictionaryLearning
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit, then return the codes of ``X`` (warm-started from the last epoch's codes)."""
        X, codes = self._fit(X)
        if self.transform_algorithm == "lasso" and (
            self.transform_alpha is None or self.transform_alpha == self.alpha
        ):
            if self.n_iter_ > 0 and self.record_objective:  # rows coded with the final atoms
                return codes.cpu().numpy()
        return self.transform(X)

    def _fit(self, X) -> tuple[np.ndarray, torch.Tensor]:
        X = self._validate_X(X, reset=True)
        k = self._check_params(X)
        _check_int("batch_size", self.batch_size, 1)
        if self.forget_rho is not None and (
            not isinstance(self.forget_rho, Real) or not self.forget_rho > 0
        ):
            raise ValueError(f"forget_rho must be None or a number > 0, got {self.forget_rho!r}")
        if self.record_objective not in (True, False, "last"):
            raise ValueError(
                f"record_objective must be True, 'last' or False, got {self.record_objective!r}"
            )
        if self.record_objective is not True and self.tol > 0:
            raise ValueError("tol > 0 needs record_objective=True (it stops on the objective)")
        rng = check_random_state(self.random_state)
        device, dtype = self._setup(X)
        alpha = float(self.alpha)
        n, m = X.shape
        batch_size = min(int(self.batch_size), n)
        D = self._initial_dictionary(X, k, rng)
        order = rng.permutation(n) if self.shuffle else np.arange(n)
        X_train = np.ascontiguousarray(X[order])
        Xt = torch.as_tensor(X_train, device=device, dtype=dtype)
        codes = torch.zeros(n, k, device=device, dtype=dtype)
        A = np.zeros((k, k))
        B = np.zeros((k, m))
        replacement = self._replacement(X_train, rng)
        history: list[float] = []
        batch_history: list[float] = []
        step = 0
        n_epochs = 0
        for epoch in range(self.max_iter):
            n_epochs = epoch + 1
            epoch_objective = 0.0
            for start in range(0, n, batch_size):
                rows = slice(start, start + batch_size)
                Xb = Xt[rows]
                b = Xb.shape[0]
                Dt = torch.as_tensor(D, device=device, dtype=dtype)
                U = self._code(Xb, Dt, alpha, init=codes[rows] if epoch > 0 else None)
                codes[rows] = U
                epoch_objective += b * sparse_coding_objective(Xb, Dt, U, alpha)
                beta = _forgetting_factor(step, batch_size, self.forget_rho)
                A *= beta
                A += (U.T @ U).double().cpu().numpy() / b
                B *= beta
                B += (U.T @ Xb).double().cpu().numpy() / b
                D, replaced = update_dictionary(
                    D, A, B, n_passes=self.dict_update_passes, unused=_UNUSED_ATOM,
                    replacement=replacement,
                )
                if replaced.any():
                    codes[:, torch.as_tensor(replaced, device=device)] = 0.0
                step += 1
            batch_history.append(epoch_objective / n)
            if not self.record_objective or (
                self.record_objective == "last" and epoch + 1 < self.max_iter
            ):
                continue
            # Full-data objective with the epoch's atoms; the codes warm-start the next epoch.
            Dt = torch.as_tensor(D, device=device, dtype=dtype)
            codes = self._code(Xt, Dt, alpha, init=codes)
            history.append(sparse_coding_objective(Xt, Dt, codes, alpha))
            decrease = history[-2] - history[-1] if len(history) > 1 else np.inf
            if self.tol > 0 and decrease < self.tol * abs(history[-1]):
                break
        self.components_ = D
        self.objective_history_ = np.asarray(history)
        self.batch_objective_history_ = np.asarray(batch_history)
        self.n_iter_ = n_epochs
        self.n_steps_ = step
        inverse = np.empty(n, dtype=np.int64)
        inverse[order] = np.arange(n)
        return X, codes[torch.as_tensor(inverse, device=device)]


# ----------------------------------------------------------------------- self-taught learning
def flatten_rows(X) -> np.ndarray:
    """Samples as float32 feature rows: ``(n, C, H, W)`` images or ``(n, 1, L)`` signals → ``(n, features)``."""
    X = np.asarray(X, dtype=np.float32)
    return X.reshape(len(X), -1)


def self_taught_codes(
    source,
    target,
    *,
    n_components: int,
    alpha: float,
    epochs: int,
    batch_size: int,
    random_state=None,
    device="cpu",
) -> tuple[np.ndarray, MiniBatchDictionaryLearning]:
    """Self-taught learning's features (Raina, Battle, Lee, Packer & Ng, ICML 2007).

    A dictionary is learned by :class:`MiniBatchDictionaryLearning` (``epochs`` passes) on
    the unlabelled ``source`` samples; every ``target`` sample is then coded on it by
    :func:`~transfer_lab.methods.sparse_coding.sparse_encode` with the same ``alpha``.

    Parameters
    ----------
    source, target : ndarray of shape (n, ...)
        Samples of the same shape (images or signals), flattened here.

    Returns
    -------
    codes : ndarray of shape (n_target, n_components)
    learner : MiniBatchDictionaryLearning
        The fitted learner (``components_``, ``objective_history_``).
    """
    source_shape, target_shape = np.shape(source)[1:], np.shape(target)[1:]
    if source_shape != target_shape:
        raise ValueError(
            f"source samples have shape {source_shape} but target samples {target_shape}: "
            "a dictionary learned on the source could not code the target"
        )
    learner = MiniBatchDictionaryLearning(
        n_components=n_components, alpha=alpha, max_iter=epochs, batch_size=batch_size,
        random_state=random_state, device=device,
    ).fit(flatten_rows(source))
    return sparse_encode(flatten_rows(target), learner.components_, alpha=alpha, device=device), learner


def subset_accuracies(
    classifier: ClassifierMixin,
    features: np.ndarray,
    y: np.ndarray,
    subsets: Iterable[tuple[str, int, np.ndarray]],
    test_features: np.ndarray,
    y_test: np.ndarray,
) -> list[tuple[str, int, float]]:
    """Test accuracy of a classifier trained on each label subset's rows.

    Parameters
    ----------
    classifier : scikit-learn classifier
        A template: cloned for each subset, with ``random_state`` set to the subset's seed.
    features, y : ndarray
        Features and labels of every sample; a subset's rows index into them.
    subsets : iterable of (labels_per_class, seed, rows)
        The label subsets (rows: indices into ``features``).
    test_features, y_test : ndarray
        The samples the classifier is scored on.

    Returns
    -------
    list of (labels_per_class, seed, accuracy)
    """
    scores = []
    for budget, seed, rows in subsets:
        model = clone(classifier).set_params(random_state=seed).fit(features[rows], y[rows])
        scores.append((budget, seed, float(model.score(test_features, y_test))))
    return scores
