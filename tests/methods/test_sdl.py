"""Tests for transfer_lab.methods.sdl: semi-coupled dictionary learning (Wang et al. 2012)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from transfer_lab.methods.sdl import (
    SemiCoupledDictionaryLearning,
    adaptation_accuracies,
    coupled_adaptation_features,
    coupled_codes,
    sdl_objective,
    update_atoms_ball,
    update_mapping,
)
from transfer_lab.methods.sparse_coding import sparse_encode



@pytest.fixture(scope="module")
def coupled_digits() -> tuple[np.ndarray, np.ndarray]:
    """8x8 digits (64 features) and the same digits averaged down to 4x4 (16 features)."""
    high = load_digits().data / 16.0
    low = high.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16)
    order = np.random.default_rng(0).permutation(len(high))
    return high[order], low[order]


SMALL = dict(
    n_components=16, lambda_source=0.05, lambda_target=0.05, gamma=1.0, lambda_w=0.01,
    random_state=0,
)


@pytest.mark.parametrize("direction", ["source_to_target", "target_to_source"])
def test_objective_never_increases(coupled_digits, direction):
    high, low = coupled_digits
    # γ ≠ 1 and λ > 0 so that a wrong scaling of the stacked Lasso (√γ, λ/2) would show.
    params = dict(SMALL, gamma=2.5, lambda_source=0.08)
    model = SemiCoupledDictionaryLearning(
        **params, max_iter=12, tol=0.0, map_direction=direction
    ).fit(low[:250], high[:250])
    history = model.objective_history_
    assert len(history) == 13
    assert np.all(np.diff(history) <= 1e-6 * history[1:])
    assert history[-1] < 0.9 * history[0]
    # The history's last value is the objective of the stored state.
    W = model.W_
    assert sdl_objective(
        low[:250], high[:250], model.components_source_, model.components_target_,
        model.source_codes_, model.target_codes_, W, gamma=2.5, lambda_source=0.08,
        lambda_target=0.05, lambda_w=0.01, map_direction=direction,
    ) == pytest.approx(history[-1], rel=1e-10)


def test_objective_matches_a_loop_over_the_equation():
    rng = np.random.default_rng(0)
    n, ms, mt, ks, kt = 6, 5, 4, 3, 2
    Xs, Xt = rng.standard_normal((n, ms)), rng.standard_normal((n, mt))
    Ds, Dt = rng.standard_normal((ks, ms)), rng.standard_normal((kt, mt))
    Us, Ut = rng.standard_normal((n, ks)), rng.standard_normal((n, kt))
    W = rng.standard_normal((ks, kt))  # source codes -> target codes (row convention)
    g, ls, lt, lw = 0.7, 0.2, 0.3, 0.05
    loop = 0.0
    for i in range(n):
        loop += np.sum((Xs[i] - Us[i] @ Ds) ** 2) + np.sum((Xt[i] - Ut[i] @ Dt) ** 2)
        # Paper convention for this row: u_T ≈ W_paper u_S with W_paper = W.T.
        loop += g * np.sum((Ut[i] - W.T @ Us[i]) ** 2)
        loop += ls * np.abs(Us[i]).sum() + lt * np.abs(Ut[i]).sum()
    loop += lw * np.sum(W**2)
    value = sdl_objective(
        Xs, Xt, Ds, Dt, Us, Ut, W, gamma=g, lambda_source=ls, lambda_target=lt, lambda_w=lw
    )
    assert value == pytest.approx(loop, rel=1e-12)


@pytest.mark.parametrize("role", ["to", "from"])
def test_code_step_satisfies_the_optimality_conditions_of_the_coupled_objective(role):
    # KKT of ‖X − U D‖² + γ‖coupling‖² + λ‖U‖₁ checked on the unstacked equation: the
    # smooth gradient g has g_j = −λ sign(u_j) where u_j ≠ 0 and |g_j| ≤ λ elsewhere.
    rng = np.random.default_rng(3)
    n, m, k, k_other = 20, 10, 6, 5
    X, D = rng.standard_normal((n, m)), rng.standard_normal((k, m))
    U_other = rng.standard_normal((n, k_other))
    gamma, lam = 2.5, 0.7
    exact = dict(tol=1e-10, max_iter=100_000)
    if role == "to":  # U ≈ U_other W, W: (k_other, k)
        W = rng.standard_normal((k_other, k))
        U = coupled_codes(X, D, U_other, W, gamma=gamma, lam=lam, role="to", **exact)
        grad = 2 * (U @ D - X) @ D.T + 2 * gamma * (U - U_other @ W)
    else:  # U_other ≈ U W, W: (k, k_other)
        W = rng.standard_normal((k, k_other))
        U = coupled_codes(X, D, U_other, W, gamma=gamma, lam=lam, role="from", **exact)
        grad = 2 * (U @ D - X) @ D.T + 2 * gamma * (U @ W - U_other) @ W.T
    active = U != 0
    assert active.any() and (~active).any()
    np.testing.assert_allclose(grad[active], -lam * np.sign(U[active]), atol=1e-5)
    assert np.all(np.abs(grad[~active]) <= lam + 1e-5)


def test_mapping_closed_form_is_the_minimiser():
    rng = np.random.default_rng(1)
    U_from, U_to = rng.standard_normal((40, 6)), rng.standard_normal((40, 5))
    gamma, lambda_w = 2.0, 0.3
    W = update_mapping(U_from, U_to, gamma, lambda_w)
    # Against least squares on the stacked ridge system [√γ U_from; √λ_W I] W = [√γ U_to; 0].
    A = np.vstack([np.sqrt(gamma) * U_from, np.sqrt(lambda_w) * np.eye(6)])
    b = np.vstack([np.sqrt(gamma) * U_to, np.zeros((6, 5))])
    np.testing.assert_allclose(W, np.linalg.lstsq(A, b, rcond=None)[0], atol=1e-10)
    # And the gradient of γ‖U_to − U_from W‖² + λ_W‖W‖² vanishes there.
    grad = 2 * gamma * U_from.T @ (U_from @ W - U_to) + 2 * lambda_w * W
    assert np.abs(grad).max() < 1e-9
    # The paper's column-convention formula W = U_to U_fromᵀ (U_from U_fromᵀ + λ_W/γ I)⁻¹.
    Sf, St = U_from.T, U_to.T
    paper = St @ Sf.T @ np.linalg.inv(Sf @ Sf.T + lambda_w / gamma * np.eye(6))
    np.testing.assert_allclose(W, paper.T, atol=1e-10)


def test_fitted_map_is_the_closed_form_of_the_final_codes(coupled_digits):
    high, low = coupled_digits
    model = SemiCoupledDictionaryLearning(**SMALL, max_iter=4).fit(low[:200], high[:200])
    expected = update_mapping(model.source_codes_, model.target_codes_, 1.0, 0.01)
    np.testing.assert_allclose(model.W_, expected, atol=1e-10)
    assert model.W_.shape == (16, 16)


def test_atom_update_is_exact_on_the_ball():
    rng = np.random.default_rng(2)
    X, U = rng.standard_normal((30, 5)), 0.1 * rng.standard_normal((30, 3))
    D = rng.standard_normal((3, 5))
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    D = update_atoms_ball(D, U.T @ U, U.T @ X, n_passes=1)
    assert np.all(np.linalg.norm(D, axis=1) <= 1 + 1e-12)
    residual = X - U[:, :2] @ D[:2]  # the last atom was updated last: check it is optimal
    best = np.sum((residual - np.outer(U[:, 2], D[2])) ** 2)
    for _ in range(300):
        d = rng.standard_normal(5) * rng.uniform(0, 1)
        d /= max(1.0, np.linalg.norm(d))
        assert best <= np.sum((residual - np.outer(U[:, 2], d)) ** 2) + 1e-9


def test_fix_w_identity_keeps_identity_and_needs_equal_sizes(coupled_digits):
    high, low = coupled_digits
    model = SemiCoupledDictionaryLearning(**SMALL, max_iter=3, fix_w_identity=True)
    model.fit(low[:150], high[:150])
    np.testing.assert_array_equal(model.W_, np.eye(16))
    assert np.all(np.diff(model.objective_history_) <= 1e-6 * model.objective_history_[1:])
    with pytest.raises(ValueError):
        unequal = SemiCoupledDictionaryLearning(
            n_components=8, n_components_target=6, fix_w_identity=True
        )
        unequal.fit(low[:50], high[:50])


def test_synthesis_beats_identity_coupling_on_held_out_rows(coupled_digits):
    high, low = coupled_digits
    train, test = slice(0, 600), slice(600, 1000)
    kwargs = dict(SMALL, n_components=32, max_iter=15)
    sdl = SemiCoupledDictionaryLearning(**kwargs).fit(low[train], high[train])
    identity = SemiCoupledDictionaryLearning(**kwargs, fix_w_identity=True)
    identity.fit(low[train], high[train])
    mse_sdl = np.mean((sdl.synthesize(low[test]) - high[test]) ** 2)
    mse_identity = np.mean((identity.synthesize(low[test]) - high[test]) ** 2)
    mse_mean = np.mean((high[train].mean(0) - high[test]) ** 2)
    assert mse_sdl < 0.9 * mse_identity
    assert mse_sdl < 0.5 * mse_mean


def test_codes_maps_and_directions(coupled_digits):
    high, low = coupled_digits
    model = SemiCoupledDictionaryLearning(**SMALL, n_components_target=12, max_iter=2)
    model.fit(low[:120], high[:120])
    codes = model.transform_source(low[:10])
    # Coding alone is the Lasso ‖x − uD‖² + λ‖u‖₁, i.e. sparse_encode with alpha = λ / 2.
    expected = sparse_encode(low[:10], model.components_source_, 0.05 / 2, tol=1e-3)
    np.testing.assert_allclose(codes, expected, atol=1e-3)
    assert model.map_codes(codes).shape == (10, 12)
    assert model.transform_target(high[:10]).shape == (10, 12)
    assert model.synthesize(low[:10]).shape == (10, 64)
    backwards = SemiCoupledDictionaryLearning(**SMALL, max_iter=2, map_direction="target_to_source")
    backwards.fit(low[:120], high[:120])
    assert backwards.synthesize(high[:10]).shape == (10, 16)  # target rows -> source rows
    assert clone(model).get_params()["n_components_target"] == 12


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_components": 0},
        {"gamma": -1.0},
        {"lambda_w": -0.1},
        {"map_direction": "sideways"},
        {"max_iter": -2},
    ],
)
def test_bad_parameters_raise_value_error(coupled_digits, kwargs):
    high, low = coupled_digits
    with pytest.raises(ValueError):
        SemiCoupledDictionaryLearning(**{**SMALL, **kwargs}).fit(low[:30], high[:30])


def test_misaligned_rows_and_wrong_features_raise(coupled_digits):
    high, low = coupled_digits
    with pytest.raises(ValueError):
        SemiCoupledDictionaryLearning(**SMALL).fit(low[:30], high[:31])
    model = SemiCoupledDictionaryLearning(**SMALL, max_iter=1).fit(low[:60], high[:60])
    with pytest.raises(ValueError):
        model.synthesize(high[:5])  # target rows where source rows are expected


def test_adaptation_features_are_source_codes_and_mapped_target_codes(coupled_digits):
    high, low = coupled_digits
    params = dict(SMALL, max_iter=3)
    source_codes, target_codes = coupled_adaptation_features(high[:200], low[:200], high[:250], low[200:250], **params)
    model = SemiCoupledDictionaryLearning(map_direction="target_to_source", **params).fit(
        high[:200].astype(np.float32), low[:200].astype(np.float32)
    )
    np.testing.assert_allclose(source_codes, model.transform_source(high[:250].astype(np.float32)))
    np.testing.assert_allclose(target_codes, model.map_codes(model.transform_target(low[200:250].astype(np.float32))))


def test_adaptation_accuracies_cover_every_method_subset_and_seed(coupled_digits):
    high, _ = coupled_digits
    y = load_digits().target[np.random.default_rng(0).permutation(len(high))]
    source, target = high[:300], 1.0 - high[:300]  # the same digits, inverted
    train, test = np.arange(0, 200), np.arange(200, 300)
    subsets = [("5", 0, np.arange(0, 60)), ("all", 0, train), ("all", 1, train)]
    scores = adaptation_accuracies(
        LogisticRegression(max_iter=300), source, target, y[:300], train, test, subsets,
        **{k: v for k, v in SMALL.items() if k != "random_state"}, max_iter=3,
    )
    assert sorted((m, b, s) for m, b, s, _ in scores) == sorted(
        (m, b, s) for m in ("source_only", "sdl", "coupled_identity") for b, s, _ in subsets
    )
    assert all(0.0 <= value <= 1.0 for *_, value in scores)
    # source_only is the plain classifier of source pixels applied to target pixels
    expected = LogisticRegression(max_iter=300, random_state=0).fit(source[:60], y[:60]).score(target[test], y[test])
    assert [v for m, b, s, v in scores if (m, b, s) == ("source_only", "5", 0)] == [pytest.approx(expected)]
