"""Tests for transfer_lab.methods.sparse_coding: Lasso codes (FISTA) and OMP against sklearn."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.decomposition import sparse_encode as sk_sparse_encode
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import orthogonal_mp_gram

from transfer_lab.methods.sparse_coding import (
    lasso_duality_gap,
    omp,
    sparse_coding_objective,
    sparse_encode,
)



@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits().data / 16.0  # (1797, 64)


def random_dictionary(n_atoms: int, n_features: int, seed: int = 0) -> np.ndarray:
    D = np.random.default_rng(seed).standard_normal((n_atoms, n_features))
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def test_objective_within_0_1_percent_of_sklearn_lasso_cd_on_digits(digits):
    D = random_dictionary(128, 64)
    alpha = 0.2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = sk_sparse_encode(digits, D, algorithm="lasso_cd", alpha=alpha)
    ours = sparse_encode(digits, D, alpha)
    ref_obj = sparse_coding_objective(digits, D, reference, alpha)
    our_obj = sparse_coding_objective(digits, D, ours, alpha)
    assert (our_obj - ref_obj) / ref_obj <= 1e-3
    # Same problem, not merely a similar value: the codes agree closely too.
    assert np.abs(ours - reference).mean() < 1e-2
    assert ours.shape == (1797, 128) and ours.dtype == np.float64


def test_objective_helper_is_the_mean_over_rows_of_the_lasso_objective():
    rng = np.random.default_rng(1)
    X, D, U = rng.standard_normal((7, 5)), rng.standard_normal((4, 5)), rng.standard_normal((7, 4))
    loop = np.mean(
        [0.5 * np.sum((X[i] - U[i] @ D) ** 2) + 0.3 * np.sum(np.abs(U[i])) for i in range(7)]
    )
    assert sparse_coding_objective(X, D, U, 0.3) == pytest.approx(loop, rel=1e-12)


def test_duality_gap_certifies_the_tolerance(digits):
    D = random_dictionary(128, 64, seed=2)
    tol = 1e-3
    U = sparse_encode(digits[:300], D, 0.3, tol=tol)
    gap = lasso_duality_gap(digits[:300], D, U, 0.3)
    per_row = 0.5 * ((digits[:300] - U @ D) ** 2).sum(1) + 0.3 * np.abs(U).sum(1)
    assert np.all(gap >= -1e-12)
    assert np.all(gap <= tol * per_row + 1e-9)


def test_warm_start_reaches_the_same_objective_in_fewer_iterations(digits):
    X = digits[:400]
    D = random_dictionary(128, 64, seed=3)
    # a check every iteration, so that the counts are exact rather than multiples of 10
    cold, cold_iter = sparse_encode(X, D, 0.2, tol=1e-4, check_every=1, return_n_iter=True)
    nearby = sparse_encode(X, D, 0.22, tol=1e-4)  # solution of a neighbouring problem
    warm, warm_iter = sparse_encode(X, D, 0.2, tol=1e-4, init=nearby, check_every=1, return_n_iter=True)
    assert warm_iter < cold_iter
    cold_obj = sparse_coding_objective(X, D, cold, 0.2)
    assert sparse_coding_objective(X, D, warm, 0.2) == pytest.approx(cold_obj, rel=1e-4)
    # Started at a solution that already meets the tolerance, nothing is left to do.
    _, n_iter = sparse_encode(X, D, 0.2, tol=1e-4, init=cold, return_n_iter=True)
    assert n_iter == 0


def test_warm_start_is_never_worse_than_init(digits):
    X = digits[:200]
    D = random_dictionary(128, 64, seed=4)
    init = sparse_encode(X, D, 0.2, tol=1e-2)
    again = sparse_encode(X, D, 0.2, init=init, max_iter=1, tol=0.0)
    rows = lambda U: 0.5 * ((X - U @ D) ** 2).sum(1) + 0.2 * np.abs(U).sum(1)  # noqa: E731
    assert np.all(rows(again) <= rows(init) + 1e-12)


def test_omp_matches_sklearn_orthogonal_mp_gram(digits):
    X = digits[:300]
    D = random_dictionary(128, 64, seed=5)
    ours = omp(X, D, 5)
    reference = orthogonal_mp_gram(D @ D.T, D @ X.T, n_nonzero_coefs=5).T
    np.testing.assert_allclose(ours, reference, atol=1e-8)
    assert np.all((ours != 0).sum(1) <= 5)
    reference_encode = sk_sparse_encode(X, D, algorithm="omp", n_nonzero_coefs=5)
    np.testing.assert_allclose(ours, reference_encode, atol=1e-8)


def test_omp_stops_when_the_residual_vanishes():
    D = np.eye(4)
    X = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 2.0, 3.0, 0.0]])
    U = omp(X, D, 3)
    np.testing.assert_allclose(U, X)


def test_alpha_above_the_largest_correlation_gives_all_zero_codes(digits):
    D = random_dictionary(128, 64, seed=6)
    X = digits[:100]
    alpha_max = np.abs(X @ D.T).max()
    assert not np.any(sparse_encode(X, D, 1.01 * alpha_max))
    assert np.any(sparse_encode(X, D, 0.5 * alpha_max))


def test_dtypes_devices_and_types_are_kept(digits):
    D = random_dictionary(32, 64)
    X = digits[:20]
    assert sparse_encode(X.astype(np.float32), D, 0.3).dtype == np.float32
    assert sparse_encode(X, D, 0.3).dtype == np.float64
    assert sparse_encode(X.astype(np.int64) // 1, D, 0.3).dtype == np.float64
    assert sparse_encode(X, D, 0.3, dtype="float32").dtype == np.float32
    out = sparse_encode(torch.as_tensor(X), torch.as_tensor(D), 0.3)
    assert isinstance(out, torch.Tensor) and out.shape == (20, 32)
    assert omp(torch.as_tensor(X), D, 3).shape == (20, 32)


@pytest.mark.parametrize(
    "call",
    [
        lambda X, D: sparse_encode(X[0], D, 0.1),  # 1-D X
        lambda X, D: sparse_encode(X, D[:, :10], 0.1),  # feature mismatch
        lambda X, D: sparse_encode(X, D, -1.0),
        lambda X, D: sparse_encode(X, D, 0.1, init=np.zeros((3, 3))),
        lambda X, D: sparse_encode(X, D, 0.1, dtype="float16"),
        lambda X, D: sparse_encode(np.full_like(X, np.nan), D, 0.1),
        lambda X, D: omp(X, D, 0),
        lambda X, D: omp(X, D, D.shape[0] + 1),
        lambda X, D: sparse_coding_objective(X, D, np.zeros((3, 3)), 0.1),
    ],
)
def test_bad_input_raises_value_error(digits, call):
    with pytest.raises(ValueError):
        call(digits[:10], random_dictionary(16, 64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(digits):
    D = random_dictionary(128, 64)
    cpu = sparse_encode(digits, D, 0.2, tol=1e-4)
    gpu = sparse_encode(digits, D, 0.2, tol=1e-4, device="cuda")
    assert sparse_coding_objective(digits, D, gpu, 0.2) == pytest.approx(
        sparse_coding_objective(digits, D, cpu, 0.2), rel=1e-4
    )
    np.testing.assert_allclose(omp(digits, D, 5, device="cuda"), omp(digits, D, 5), atol=1e-8)
