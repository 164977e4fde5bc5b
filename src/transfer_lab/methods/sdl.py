"""Semi-coupled dictionary learning (SDL) by alternating minimisation, in torch.

Wang, Zhang, Liang & Pan, "Semi-coupled dictionary learning with applications to image
super-resolution and photo-sketch synthesis", CVPR 2012.

Two domains see the same items (row ``i`` of ``X_source`` and of ``X_target`` is the same
image in the two domains). Each domain has its own dictionary and codes, and a linear map
``W`` ties the codes of one domain to those of the other.

Conventions
-----------
Our API uses rows as samples: ``X_source`` is ``(n, m_S)``, ``X_target`` ``(n, m_T)``,
codes ``U_S`` ``(n, k_S)`` and ``U_T`` ``(n, k_T)``, dictionaries ``D_S`` ``(k_S, m_S)`` and
``D_T`` ``(k_T, m_T)`` (one atom per row), so that ``X_S ≈ U_S D_S``. The map acts on rows
of codes: ``map_codes(U_from) = U_from @ W_`` with ``W_`` of shape ``(k_from, k_to)``.

The paper writes samples as columns, ``X ≈ D U`` and ``U_to ≈ W U_from``; its ``W`` is our
``W_.T``. With ``map_direction="target_to_source"`` the coupling is the issue's
``γ‖U^S − W U^T‖_F²`` (paper convention); with ``"source_to_target"`` (default, what
:meth:`SemiCoupledDictionaryLearning.synthesize` needs to go from a source image to a
target image) it is ``γ‖U^T − W U^S‖_F²``.

Objective (row convention; "from"/"to" follow ``map_direction``)::

    F = ‖X_S − U_S D_S‖_F² + ‖X_T − U_T D_T‖_F² + γ‖U_to − U_from W‖_F²
        + λ_S‖U_S‖₁ + λ_T‖U_T‖₁ + λ_W‖W‖_F²
    subject to ‖d_k^S‖₂ ≤ 1 and ‖d_k^T‖₂ ≤ 1 for every atom.

Alternating minimisation — every step minimises ``F`` exactly (or, for the codes, is never
worse than the current codes), so ``F`` never increases:

1. **Codes of the "to" domain.** With the rest fixed, the terms of ``F`` in ``U_to`` are,
   row by row, ``‖x_to − u D_to‖² + γ‖u − u_from W‖² + λ_to‖u‖₁``. Stacking
   ``x̃ = [x_to, √γ u_from W]`` (length ``m_to + k_to``) and ``D̃ = [D_to, √γ I]``
   (``(k_to, m_to + k_to)``) gives ``‖x̃ − u D̃‖² + λ_to‖u‖₁
   = 2 (½‖x̃ − u D̃‖² + (λ_to / 2)‖u‖₁)``: a Lasso in scikit-learn's scaling with
   ``alpha = λ_to / 2``, solved by :func:`~transfer_lab.methods.sparse_coding.sparse_encode`'s
   solver warm-started at the current codes.
2. **Codes of the "from" domain.** Row by row ``‖x_from − u D_from‖² + γ‖u_to − u W‖² +
   λ_from‖u‖₁``: stack ``x̃ = [x_from, √γ u_to]`` and ``D̃ = [D_from, √γ W]``
   (``(k_from, m_from + k_to)``), Lasso with ``alpha = λ_from / 2``.
3. **Dictionaries.** ``‖X − U D‖_F²`` with ``A = UᵀU``, ``B = UᵀX`` is, in atom ``d_k``,
   ``A_kk‖d_k‖² − 2 d_k·c_k + const`` with ``c_k = B_k − Σ_{j≠k} A_kj d_j``; its minimiser on
   the ball ``‖d_k‖ ≤ 1`` is ``c_k / max(‖c_k‖, A_kk)``. Block-coordinate passes over the
   atoms; an atom no code uses does not enter ``F`` and is re-drawn from the data.
4. **Map.** ``γ‖U_to − U_from W‖² + λ_W‖W‖²`` is a ridge regression:
   ``W = (U_fromᵀ U_from + (λ_W/γ) I)⁻¹ U_fromᵀ U_to`` — in the paper's column convention
   ``W = U_to U_fromᵀ (U_from U_fromᵀ + (λ_W/γ) I)⁻¹``, e.g.
   ``W = U^S U^Tᵀ (U^T U^Tᵀ + (λ_W/γ) I)⁻¹`` for the target→source map of the issue.
   ``fix_w_identity=True`` keeps ``W = I`` (the "coupled_identity" baseline: both domains
   are asked for equal codes).
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from transfer_lab.methods.dictionary_learning import flatten_rows, subset_accuracies
from transfer_lab.methods.runtime import resolve_device
from transfer_lab.methods.sparse_coding import _lasso, _resolve_dtype

__all__ = [
    "SemiCoupledDictionaryLearning",
    "COUPLED_METHODS",
    "coupled_adaptation_features",
    "adaptation_accuracies",
    "sdl_objective",
    "update_mapping",
    "update_atoms_ball",
    "coupled_codes",
]

_DIRECTIONS = ("source_to_target", "target_to_source")


# ----------------------------------------------------------------------------- pieces
def _float64(arrays) -> list[torch.Tensor]:
    """float64 tensors on the device of the first tensor among ``arrays`` (else CPU)."""
    device = next((a.device for a in arrays if isinstance(a, torch.Tensor)), torch.device("cpu"))
    return [
        (a.detach() if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))).to(
            device=device, dtype=torch.float64
        )
        for a in arrays
    ]


def sdl_objective(
    X_source, X_target, D_source, D_target, U_source, U_target, W,
    *, gamma: float, lambda_source: float, lambda_target: float, lambda_w: float,
    map_direction: str = "source_to_target",
) -> float:
    """The SDL objective ``F`` of the module docstring (a sum, not a mean), in float64.

    Parameters
    ----------
    X_source, X_target : array-like of shape (n, m_S), (n, m_T)
    D_source, D_target : array-like of shape (k_S, m_S), (k_T, m_T)
    U_source, U_target : array-like of shape (n, k_S), (n, k_T)
    W : array-like of shape (k_from, k_to)
        Row-convention map: ``U_to ≈ U_from @ W``.
    gamma, lambda_source, lambda_target, lambda_w : float
    map_direction : {"source_to_target", "target_to_source"}

    Returns
    -------
    float
    """
    if map_direction not in _DIRECTIONS:
        raise ValueError(f"map_direction must be one of {_DIRECTIONS}, got {map_direction!r}")
    Xs, Xt, Ds, Dt, Us, Ut, Wt = _float64(
        (X_source, X_target, D_source, D_target, U_source, U_target, W)
    )
    U_from, U_to = (Us, Ut) if map_direction == "source_to_target" else (Ut, Us)
    value = (
        ((Xs - Us @ Ds) ** 2).sum()
        + ((Xt - Ut @ Dt) ** 2).sum()
        + gamma * ((U_to - U_from @ Wt) ** 2).sum()
        + lambda_source * Us.abs().sum()
        + lambda_target * Ut.abs().sum()
        + lambda_w * (Wt**2).sum()
    )
    return float(value)


def update_mapping(U_from, U_to, gamma: float, lambda_w: float):
    """Exact minimiser over ``W`` of ``γ‖U_to − U_from W‖_F² + λ_W‖W‖_F²``.

    ``W = (U_fromᵀ U_from + (λ_W/γ) I)⁻¹ U_fromᵀ U_to`` (row convention, shape
    ``(k_from, k_to)``). With ``λ_W = 0`` the minimum-norm least-squares solution; with
    ``γ = 0`` (no coupling) ``W = 0``.

    Parameters
    ----------
    U_from : array-like or tensor of shape (n, k_from)
    U_to : array-like or tensor of shape (n, k_to)
    gamma, lambda_w : float

    Returns
    -------
    W : shape (k_from, k_to)
        A float64 ndarray for array input, else a tensor of ``U_from``'s dtype and device.
    """
    as_numpy = not isinstance(U_from, torch.Tensor)
    out_dtype = U_from.dtype if not as_numpy else None
    # float64 throughout: the normal equations can be badly conditioned.
    Uf, Ut = _float64((U_from, U_to))
    if Uf.ndim != 2 or Ut.ndim != 2 or Uf.shape[0] != Ut.shape[0]:
        raise ValueError("U_from and U_to must be 2-D with the same number of rows")
    if gamma < 0 or lambda_w < 0:
        raise ValueError("gamma and lambda_w must be >= 0")
    k_from = Uf.shape[1]
    if gamma == 0:
        W = torch.zeros(k_from, Ut.shape[1], dtype=Uf.dtype, device=Uf.device)
    elif lambda_w > 0:
        eye = torch.eye(k_from, dtype=torch.float64, device=Uf.device)
        W = torch.linalg.solve(Uf.T @ Uf + (lambda_w / gamma) * eye, Uf.T @ Ut)
    else:
        W = torch.linalg.pinv(Uf) @ Ut
    return W.cpu().numpy() if as_numpy else W.to(out_dtype)


def coupled_codes(
    X, D, U_other, W, *, gamma: float, lam: float, role: str, init=None,
    tol: float = 1e-3, max_iter: int = 1000,
):
    """Exact code step of SDL for one domain: a Lasso on a stacked design.

    ``role="to"`` (the codes the map predicts) minimises over ``U``
    ``‖X − U D‖_F² + γ‖U − U_other W‖_F² + λ‖U‖₁`` by stacking ``[X, √γ U_other W]`` against
    ``[D, √γ I]``; ``role="from"`` minimises ``‖X − U D‖_F² + γ‖U_other − U W‖_F² + λ‖U‖₁``
    by stacking ``[X, √γ U_other]`` against ``[D, √γ W]``. Either way the stacked objective is
    ``2 (½‖X̃ − U D̃‖² + (λ/2)‖U‖₁)``: :func:`~transfer_lab.methods.sparse_coding.sparse_encode`'s
    problem with ``alpha = λ / 2``. With ``init`` the result is never worse than ``init``.

    Parameters
    ----------
    X : tensor or array of shape (n, m)
    D : tensor or array of shape (k, m)
    U_other : tensor or array of shape (n, k_other)
        The other domain's codes.
    W : tensor or array
        Row-convention map of shape ``(k_from, k_to)``.
    gamma, lam : float
    role : {"to", "from"}
    init : tensor or array of shape (n, k), optional
    tol, max_iter : Lasso tolerance (relative duality gap) and iteration cap.

    Returns
    -------
    U : tensor (for tensor ``X``) or ndarray of shape (n, k)
    """
    as_numpy = not isinstance(X, torch.Tensor)
    Xt = X if not as_numpy else torch.as_tensor(np.asarray(X, dtype=np.float64))

    def like(a):
        return None if a is None else torch.as_tensor(a).to(device=Xt.device, dtype=Xt.dtype)

    Dt, Uo, Wt, U0 = like(D), like(U_other), like(W), like(init)
    root = gamma**0.5
    if role == "to":
        eye = torch.eye(Dt.shape[0], dtype=Xt.dtype, device=Xt.device)
        X_stack, D_stack = torch.cat([Xt, root * (Uo @ Wt)], 1), torch.cat([Dt, root * eye], 1)
    elif role == "from":
        X_stack, D_stack = torch.cat([Xt, root * Uo], 1), torch.cat([Dt, root * Wt], 1)
    else:
        raise ValueError(f"role must be 'to' or 'from', got {role!r}")
    U = _lasso(X_stack, D_stack, lam / 2.0, U0, max_iter=max_iter, tol=tol)[0]
    return U.cpu().numpy() if as_numpy else U


def update_atoms_ball(D: np.ndarray, A: np.ndarray, B: np.ndarray, n_passes: int = 1,
                      replacement=None) -> np.ndarray:
    """Block-coordinate passes for ``min_D ‖X − U D‖_F²`` s.t. ``‖d_k‖ ≤ 1``.

    ``A = UᵀU`` and ``B = UᵀX``; atom ``k`` becomes ``c_k / max(‖c_k‖, A_kk)`` with
    ``c_k = B_k − Σ_{j≠k} A_kj d_j``, the exact minimiser on the ball, so no pass increases
    the objective. An atom with ``A_kk = 0`` does not enter the objective; when
    ``replacement`` is given it is re-drawn as ``replacement(k)`` scaled to unit norm.
    """
    for _ in range(n_passes):
        for j in range(D.shape[0]):
            if A[j, j] <= 0:
                if replacement is not None:
                    new = np.asarray(replacement(j), dtype=np.float64)
                    norm = np.linalg.norm(new)
                    if norm > 0:
                        D[j] = new / norm
                continue
            c = B[j] - A[j] @ D + A[j, j] * D[j]
            D[j] = c / max(np.linalg.norm(c), A[j, j])
    return D


# ----------------------------------------------------------------------------- estimator
class SemiCoupledDictionaryLearning(BaseEstimator):
    """Semi-coupled dictionary learning (Wang et al., CVPR 2012); see the module docstring.

    Parameters
    ----------
    n_components : int, default 64
        Atoms of the source dictionary (and of the target one unless
        ``n_components_target`` is given).
    lambda_source : float, default 0.1
        ``λ_S``, l1 weight on the source codes (objective without ½: coding a source row
        alone solves ``min_u ‖x − u D_S‖² + λ_S‖u‖₁``, i.e. ``sparse_encode`` with
        ``alpha = λ_S / 2``).
    lambda_target : float, default 0.1
        ``λ_T``, the same for the target codes.
    gamma : float, default 1.0
        Weight ``γ`` of the coupling term.
    lambda_w : float, default 0.1
        Ridge weight ``λ_W`` on the map.
    max_iter : int, default 30
        Alternating iterations.
    tol : float, default 1e-5
        Stop when an iteration lowers the objective by less than ``tol`` times its value.
    fix_w_identity : bool, default False
        Keep ``W = I`` (requires equal numbers of atoms): the "coupled_identity" baseline.
    map_direction : {"source_to_target", "target_to_source"}, default "source_to_target"
        Which codes the map predicts (see the module docstring).
    n_components_target : int, optional
        Atoms of the target dictionary; defaults to ``n_components``.
    dict_update_passes : int, default 3
        Block-coordinate passes over the atoms per iteration.
    code_tol : float, default 1e-3
        Relative duality-gap tolerance of the Lasso steps (warm-started; a step never
        increases the objective whatever the tolerance).
    code_max_iter : int, default 1000
    random_state : int, RandomState instance or None, default None
        Initial atoms (the same random rows in both domains) and re-drawn atoms.
    device : {"cpu", "cuda", "auto"} or torch.device, default "cpu"
    dtype : {None, "float32", "float64"}, default None
        Computation dtype; None follows ``X_source`` (float64 unless it is float32).

    Attributes
    ----------
    components_source_ : ndarray of shape (k_S, m_S)
    components_target_ : ndarray of shape (k_T, m_T)
    W_ : ndarray of shape (k_from, k_to)
        Row-convention map, ``map_codes(U_from) = U_from @ W_`` (the paper's ``W`` is
        ``W_.T``).
    source_codes_ : ndarray of shape (n, k_S)
        Training codes at the end of the fit (with ``target_codes_``).
    target_codes_ : ndarray of shape (n, k_T)
    objective_history_ : ndarray of shape (n_iter_ + 1,)
        ``F`` after the initialisation and after every iteration; never increases.
    n_iter_ : int
    n_features_in_ : int
        Source features ``m_S``.
    n_features_target_in_ : int
    """

    def __init__(
        self,
        n_components=64,
        *,
        lambda_source=0.1,
        lambda_target=0.1,
        gamma=1.0,
        lambda_w=0.1,
        max_iter=30,
        tol=1e-5,
        fix_w_identity=False,
        map_direction="source_to_target",
        n_components_target=None,
        dict_update_passes=3,
        code_tol=1e-3,
        code_max_iter=1000,
        random_state=None,
        device="cpu",
        dtype=None,
    ):
        self.n_components = n_components
        self.lambda_source = lambda_source
        self.lambda_target = lambda_target
        self.gamma = gamma
        self.lambda_w = lambda_w
        self.max_iter = max_iter
        self.tol = tol
        self.fix_w_identity = fix_w_identity
        self.map_direction = map_direction
        self.n_components_target = n_components_target
        self.dict_update_passes = dict_update_passes
        self.code_tol = code_tol
        self.code_max_iter = code_max_iter
        self.random_state = random_state
        self.device = device
        self.dtype = dtype

    # ------------------------------------------------------------------ helpers
    def _check_params(self) -> tuple[int, int]:
        def positive_int(name, value):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

        positive_int("n_components", self.n_components)
        k_t = self.n_components if self.n_components_target is None else self.n_components_target
        positive_int("n_components_target", k_t)
        positive_int("dict_update_passes", self.dict_update_passes)
        for name in ("lambda_source", "lambda_target", "gamma", "lambda_w", "tol", "code_tol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, Integral) or (
            self.max_iter < 0
        ):
            raise ValueError(f"max_iter must be a non-negative integer, got {self.max_iter!r}")
        if self.map_direction not in _DIRECTIONS:
            raise ValueError(
                f"map_direction must be one of {_DIRECTIONS}, got {self.map_direction!r}"
            )
        if self.fix_w_identity and self.n_components != k_t:
            raise ValueError(
                "fix_w_identity=True needs equal numbers of atoms, "
                f"got {self.n_components} and {k_t}"
            )
        return int(self.n_components), int(k_t)

    def _setup(self, X: np.ndarray):
        device = resolve_device(self.device)
        default = torch.float32 if X.dtype == np.float32 else torch.float64
        dtype = _resolve_dtype(self.dtype) or default
        return device, dtype

    def _code(self, X, D, lam, init=None):
        # Objective ‖x − uD‖² + λ‖u‖₁ = 2 (½‖x − uD‖² + (λ/2)‖u‖₁): Lasso alpha = λ / 2.
        return _lasso(X, D, lam / 2.0, init, max_iter=self.code_max_iter, tol=self.code_tol)[0]

    @property
    def _source_is_from(self) -> bool:
        return self.map_direction == "source_to_target"

    # ------------------------------------------------------------------ fit
    def fit(self, X_source, X_target, y=None):
        """Learn both dictionaries and the map from aligned rows.

        Parameters
        ----------
        X_source : array-like of shape (n_samples, m_S)
        X_target : array-like of shape (n_samples, m_T)
            Row ``i`` is the same item as row ``i`` of ``X_source``.
        y : Ignored

        Returns
        -------
        self : SemiCoupledDictionaryLearning
        """
        Xs_np = check_array(X_source, dtype=[np.float64, np.float32])
        Xt_np = check_array(X_target, dtype=[np.float64, np.float32])
        if Xs_np.shape[0] != Xt_np.shape[0]:
            raise ValueError(
                "X_source and X_target must have aligned rows, "
                f"got {Xs_np.shape[0]} and {Xt_np.shape[0]}"
            )
        k_s, k_t = self._check_params()
        rng = check_random_state(self.random_state)
        device, dtype = self._setup(Xs_np)
        n = Xs_np.shape[0]
        gamma, lam_w = float(self.gamma), float(self.lambda_w)
        lam_s, lam_t = float(self.lambda_source), float(self.lambda_target)
        Xs = torch.as_tensor(Xs_np, device=device, dtype=dtype)
        Xt = torch.as_tensor(Xt_np, device=device, dtype=dtype)

        # Same random rows in both domains, so that atom k starts coupled across domains.
        rows_s = rng.choice(n, size=k_s, replace=n < k_s)
        rows_t = rows_s[:k_t] if k_t <= k_s else np.concatenate(
            [rows_s, rng.choice(n, size=k_t - k_s, replace=n < k_t - k_s)]
        )
        Ds = self._init_atoms(Xs_np[rows_s], rng)
        Dt = self._init_atoms(Xt_np[rows_t], rng)

        def tens(a):
            return torch.as_tensor(a, device=device, dtype=dtype)

        Us = self._code(Xs, tens(Ds), lam_s)
        Ut = self._code(Xt, tens(Dt), lam_t)
        k_from = k_s if self._source_is_from else k_t
        if self.fix_w_identity:
            W = torch.eye(k_from, dtype=dtype, device=device)
        else:
            W = self._map(Us, Ut, gamma, lam_w)

        def objective() -> float:
            return sdl_objective(
                Xs, Xt, Ds, Dt, Us, Ut, W, gamma=gamma, lambda_source=lam_s,
                lambda_target=lam_t, lambda_w=lam_w, map_direction=self.map_direction,
            )

        history = [objective()]
        n_iter = 0
        for it in range(self.max_iter):
            n_iter = it + 1
            if self._source_is_from:
                X_from, X_to, D_from, D_to, U_from, U_to = Xs, Xt, Ds, Dt, Us, Ut
                lam_from, lam_to = lam_s, lam_t
            else:
                X_from, X_to, D_from, D_to, U_from, U_to = Xt, Xs, Dt, Ds, Ut, Us
                lam_from, lam_to = lam_t, lam_s
            # 1. "to" codes: stacked Lasso [x_to, √γ u_from W] against [D_to, √γ I].
            U_to = coupled_codes(
                X_to, tens(D_to), U_from, W, gamma=gamma, lam=lam_to, role="to", init=U_to,
                tol=self.code_tol, max_iter=self.code_max_iter,
            )
            # 2. "from" codes: stacked Lasso [x_from, √γ u_to] against [D_from, √γ W].
            U_from = coupled_codes(
                X_from, tens(D_from), U_to, W, gamma=gamma, lam=lam_from, role="from",
                init=U_from, tol=self.code_tol, max_iter=self.code_max_iter,
            )
            Us, Ut = (U_from, U_to) if self._source_is_from else (U_to, U_from)
            # 3. Dictionaries: exact block-coordinate steps on the unit balls.
            Ds = self._update_atoms(Ds, Us, Xs, Xs_np, rng)
            Dt = self._update_atoms(Dt, Ut, Xt, Xt_np, rng)
            # 4. Map: closed-form ridge regression.
            if not self.fix_w_identity:
                W = self._map(Us, Ut, gamma, lam_w)
            history.append(objective())
            if history[-2] - history[-1] < self.tol * abs(history[-1]):
                break

        self.components_source_ = Ds
        self.components_target_ = Dt
        self.W_ = W.double().cpu().numpy()
        self.source_codes_ = Us.cpu().numpy()
        self.target_codes_ = Ut.cpu().numpy()
        self.objective_history_ = np.asarray(history)
        self.n_iter_ = n_iter
        self.n_features_in_ = Xs_np.shape[1]
        self.n_features_target_in_ = Xt_np.shape[1]
        return self

    def _map(self, Us, Ut, gamma, lam_w):
        U_from, U_to = (Us, Ut) if self._source_is_from else (Ut, Us)
        return update_mapping(U_from, U_to, gamma, lam_w)

    @staticmethod
    def _init_atoms(rows: np.ndarray, rng) -> np.ndarray:
        D = np.array(rows, dtype=np.float64)
        D += 1e-3 * (D.std() or 1.0) * rng.standard_normal(D.shape)  # break repeated rows
        return D / np.linalg.norm(D, axis=1, keepdims=True)

    def _update_atoms(self, D, U, X, X_np, rng):
        A = (U.T @ U).double().cpu().numpy()
        B = (U.T @ X).double().cpu().numpy()

        def replacement(_j):
            return X_np[rng.randint(X_np.shape[0])]

        return update_atoms_ball(D, A, B, n_passes=self.dict_update_passes, replacement=replacement)

    # ------------------------------------------------------------------ use
    def _tensor(self, X, n_features: int, name: str) -> torch.Tensor:
        X = check_array(X, dtype=[np.float64, np.float32])
        if X.shape[1] != n_features:
            raise ValueError(f"{name} has {X.shape[1]} features, expected {n_features}")
        device, dtype = self._setup(X)
        return torch.as_tensor(X, device=device, dtype=dtype)

    def transform_source(self, X_source) -> np.ndarray:
        """Codes of source rows: ``min_u ‖x − u D_S‖² + λ_S‖u‖₁`` (Lasso alpha ``λ_S/2``)."""
        check_is_fitted(self, "W_")
        X = self._tensor(X_source, self.n_features_in_, "X_source")
        D = torch.as_tensor(self.components_source_, device=X.device, dtype=X.dtype)
        return self._code(X, D, float(self.lambda_source)).cpu().numpy()

    def transform_target(self, X_target) -> np.ndarray:
        """Codes of target rows: ``min_u ‖x − u D_T‖² + λ_T‖u‖₁`` (Lasso alpha ``λ_T/2``)."""
        check_is_fitted(self, "W_")
        X = self._tensor(X_target, self.n_features_target_in_, "X_target")
        D = torch.as_tensor(self.components_target_, device=X.device, dtype=X.dtype)
        return self._code(X, D, float(self.lambda_target)).cpu().numpy()

    def map_codes(self, U) -> np.ndarray:
        """Map codes along ``map_direction``: ``U_from @ W_`` (shape ``(n, k_to)``)."""
        check_is_fitted(self, "W_")
        U = check_array(U, dtype=[np.float64, np.float32])
        if U.shape[1] != self.W_.shape[0]:
            raise ValueError(f"codes have {U.shape[1]} columns, expected {self.W_.shape[0]}")
        return U @ self.W_.astype(U.dtype, copy=False)

    def synthesize(self, X) -> np.ndarray:
        """Predict the other domain's rows: code, map, decode.

        With ``map_direction="source_to_target"`` (default) ``X`` holds source rows and the
        result target rows: ``U_S`` = source codes of ``X`` (``transform_source``),
        ``U_T = U_S W_``, ``X_T_hat = U_T D_T``. With ``"target_to_source"`` the roles swap.

        Parameters
        ----------
        X : array-like of shape (n_samples, m_from)

        Returns
        -------
        ndarray of shape (n_samples, m_to)
        """
        check_is_fitted(self, "W_")
        if self._source_is_from:
            codes, D_to = self.transform_source(X), self.components_target_
        else:
            codes, D_to = self.transform_target(X), self.components_source_
        return self.map_codes(codes) @ D_to.astype(codes.dtype, copy=False)


# ----------------------------------------------------------------------- domain adaptation
# SDL and its W = I baseline, by the names they carry in results tables
COUPLED_METHODS = (("sdl", False), ("coupled_identity", True))


def coupled_adaptation_features(
    source_train, target_train, source, target_test, **sdl_params
) -> tuple[np.ndarray, np.ndarray]:
    """Features for classifying target samples with a classifier of source codes.

    SDL is fitted on the coupled training samples with ``W`` mapping target codes to source
    codes (``map_direction="target_to_source"``); ``source`` samples are coded on the source
    dictionary, ``target_test`` samples on the target dictionary and then mapped by ``W``.

    Returns
    -------
    source_codes : ndarray of shape (len(source), k_S)
    mapped_target_codes : ndarray of shape (len(target_test), k_S)
    """
    model = SemiCoupledDictionaryLearning(map_direction="target_to_source", **sdl_params)
    model.fit(flatten_rows(source_train), flatten_rows(target_train))
    source_codes = model.transform_source(flatten_rows(source))
    return source_codes, model.map_codes(model.transform_target(flatten_rows(target_test)))


def adaptation_accuracies(
    classifier: ClassifierMixin,
    source: np.ndarray,
    target: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    subsets: Sequence[tuple[str, int, np.ndarray]],
    **sdl_params,
) -> list[tuple[str, str, int, float]]:
    """Source labels classify target samples through coupled codes (no target labels).

    For each label subset (indices into the coupled rows) a classifier is trained on the
    source codes of the labelled rows and scores the mapped target codes of the ``test``
    rows (``sdl``); ``coupled_identity`` does the same with ``W = I``, and ``source_only``
    applies a classifier of source pixels to target pixels. SDL is fitted once per seed
    (``random_state`` = the seed) on the ``train`` rows of both domains, without labels.

    Returns
    -------
    list of (method, labels_per_class, seed, accuracy)
    """
    source_pixels, target_test = flatten_rows(source), flatten_rows(target[test])
    scores = [
        ("source_only", *score)
        for score in subset_accuracies(classifier, source_pixels, y, subsets, target_test, y[test])
    ]
    for seed in dict.fromkeys(seed for _, seed, _ in subsets):
        of_seed = [subset for subset in subsets if subset[1] == seed]
        for method, identity in COUPLED_METHODS:
            source_codes, target_codes = coupled_adaptation_features(
                source[train], target[train], source, target[test],
                fix_w_identity=identity, random_state=seed, **sdl_params,
            )
            scores += [
                (method, *score)
                for score in subset_accuracies(classifier, source_codes, y, of_seed, target_codes, y[test])
            ]
    return scores
