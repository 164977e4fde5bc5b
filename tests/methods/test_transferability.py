"""Tests for transfer_lab.methods.transferability: each score against a loop over its equation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from transfer_lab.methods.transferability import (
    agreement_tables,
    fisher_diagonal,
    h_score,
    leep,
    logme,
    nce,
    rank_agreement,
    source_posterior,
    task2vec_distance,
    task2vec_embedding,
    task2vec_scores,
    transferability_scores,
)



def _informative(rng, n=200, n_classes=3, noise=0.3, extra=5):
    y = rng.integers(0, n_classes, n)
    features = np.hstack([np.eye(n_classes)[y] + noise * rng.normal(size=(n, n_classes)),
                          rng.normal(size=(n, extra))])
    return features, y


# ----------------------------------------------------------------------------- LogME
def _logme_reference(F, Y, tol=1e-12, max_iter=10_000):
    """You et al. 2021, Alg. 1, with explicit d x d matrices (no SVD tricks)."""
    n, d = F.shape
    sigma = np.linalg.eigvalsh(F.T @ F)
    scores = []
    for y in Y.T:
        alpha, beta = 1.0, 1.0
        for _ in range(max_iter):
            A = alpha * np.eye(d) + beta * F.T @ F
            m = beta * np.linalg.solve(A, F.T @ y)
            gamma = np.sum(beta * sigma / (alpha + beta * sigma))
            new_alpha = gamma / (m @ m)
            new_beta = (n - gamma) / np.sum((F @ m - y) ** 2)
            done = abs(new_alpha / new_beta - alpha / beta) / (alpha / beta) <= tol
            alpha, beta = new_alpha, new_beta
            if done:
                break
        A = alpha * np.eye(d) + beta * F.T @ F
        m = beta * np.linalg.solve(A, F.T @ y)
        evidence = (n / 2 * math.log(beta) + d / 2 * math.log(alpha) - n / 2 * math.log(2 * math.pi)
                    - beta / 2 * np.sum((F @ m - y) ** 2) - alpha / 2 * m @ m
                    - 0.5 * np.linalg.slogdet(A)[1])
        scores.append(evidence / n)
    return float(np.mean(scores))


@pytest.mark.parametrize(("n", "extra", "rel"), [(60, 5, 1e-9), (12, 17, 1e-5)])
def test_logme_matches_reference_implementation(n, extra, rel):
    # With n < d a class column can be interpolated exactly: the optimum is at beta -> inf,
    # which both implementations only approach (hence the looser tolerance there).
    rng = np.random.default_rng(0)
    F, y = _informative(rng, n=n, extra=extra)
    expected = _logme_reference(F, np.eye(3)[y])
    assert logme(F, y, tol=1e-12, max_iter=10_000) == pytest.approx(expected, rel=rel)
    targets = F[:, :2] @ rng.normal(size=(2, 2)) + 0.1 * rng.normal(size=(n, 2))
    expected = _logme_reference(F, targets)
    assert logme(F, targets, regression=True, tol=1e-12, max_iter=10_000) == pytest.approx(
        expected, rel=1e-9
    )


def test_logme_is_finite_when_the_evidence_optimum_is_at_infinity():
    # Labels unrelated to the features: the evidence grows as alpha -> inf (w = 0); the
    # iteration must stop at max_iter with a finite score and no overflow warnings.
    rng = np.random.default_rng(11)
    F = rng.normal(size=(60, 8))
    y = rng.integers(0, 3, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score = logme(F, y)
    assert np.isfinite(score)


def test_logme_prefers_informative_features():
    rng = np.random.default_rng(1)
    informative, y = _informative(rng)
    random_features = rng.normal(size=informative.shape)
    assert logme(informative, y) > logme(random_features, y)
    targets = informative[:, :3] @ np.array([1.0, -2.0, 0.5])
    assert logme(informative, targets, regression=True) > logme(
        random_features, targets, regression=True
    )
    with pytest.raises(ValueError):
        logme(informative, y[:-1])


# ----------------------------------------------------------------------------- LEEP
def test_leep_matches_direct_loop():
    rng = np.random.default_rng(2)
    n, Z, C = 40, 5, 3
    theta = rng.dirichlet(np.ones(Z), size=n)
    y = rng.integers(0, C, n)
    joint = np.zeros((C, Z))
    for i in range(n):
        for z in range(Z):
            joint[y[i], z] += theta[i, z] / n
    total = 0.0
    for i in range(n):
        eep = sum(joint[y[i], z] / joint[:, z].sum() * theta[i, z] for z in range(Z))
        total += math.log(eep)
    assert leep(theta, y) == pytest.approx(total / n, rel=1e-12)
    assert leep(theta, y) <= 0


def test_leep_is_maximal_for_a_perfect_label_mapping():
    rng = np.random.default_rng(3)
    z = rng.integers(0, 6, 100)
    y = z // 2  # target label is a function of the source label
    assert leep(np.eye(6)[z], y) == pytest.approx(0.0, abs=1e-12)
    assert leep(rng.dirichlet(np.ones(6), 100), y) < 0
    with pytest.raises(ValueError):
        leep(np.full((4, 2), 0.7), [0, 1, 0, 1])


# ----------------------------------------------------------------------------- NCE
def test_nce_matches_direct_loop_and_is_non_positive():
    rng = np.random.default_rng(4)
    z = rng.integers(0, 4, 80)
    y = rng.integers(0, 3, 80)
    n = len(z)
    expected = 0.0
    for a in range(3):
        for b in range(4):
            p_yz = np.sum((y == a) & (z == b)) / n
            p_z = np.sum(z == b) / n
            if p_yz > 0:
                expected += p_yz * math.log(p_yz / p_z)
    assert nce(z, y) == pytest.approx(expected, rel=1e-12)
    assert nce(z, y) <= 0
    assert nce(z, z % 2) == pytest.approx(0.0, abs=1e-15)  # y a function of z
    assert nce(np.zeros(80, int), y) == pytest.approx(-stats.entropy(np.bincount(y) / n))


# ----------------------------------------------------------------------------- H-score
def test_h_score_matches_direct_loop():
    rng = np.random.default_rng(5)
    f, y = _informative(rng, n=50, extra=2)
    n, d = f.shape
    mean = f.sum(axis=0) / n
    cov_f = sum(np.outer(f[i] - mean, f[i] - mean) for i in range(n)) / (n - 1)
    g = np.array([f[y == y[i]].mean(axis=0) for i in range(n)])
    mean_g = g.sum(axis=0) / n
    cov_g = sum(np.outer(g[i] - mean_g, g[i] - mean_g) for i in range(n)) / (n - 1)
    expected = np.trace(np.linalg.inv(cov_f) @ cov_g)
    assert h_score(f, y) == pytest.approx(expected, rel=1e-9)
    assert h_score(f, y, shrinkage=0.0) == pytest.approx(expected, rel=1e-9)


def test_h_score_is_invariant_to_invertible_linear_maps():
    rng = np.random.default_rng(6)
    f, y = _informative(rng, n=120, extra=3)
    A = rng.normal(size=(f.shape[1], f.shape[1])) + 3 * np.eye(f.shape[1])
    assert h_score(f @ A, y) == pytest.approx(h_score(f, y), rel=1e-8)
    assert h_score(f, y) > h_score(rng.normal(size=f.shape), y)
    shrunk = h_score(f, y, shrinkage="ledoit_wolf")
    assert np.isfinite(shrunk) and 0 < shrunk <= h_score(f, y, shrinkage=0.0) * 1.5
    with pytest.raises(ValueError):
        h_score(f, y, shrinkage=2.0)
    with pytest.raises(ValueError):
        h_score(f, y, shrinkage="oas")


# ----------------------------------------------------------------------------- Task2Vec
def _probe(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5), nn.Tanh())


def test_fisher_diagonal_matches_per_sample_autograd_loop():
    rng = np.random.default_rng(7)
    encoder, head = _probe(), nn.Linear(5, 3)
    X = torch.as_tensor(rng.normal(size=(13, 6)), dtype=torch.float32)
    y = torch.as_tensor(rng.integers(0, 3, 13))
    fisher = fisher_diagonal(encoder, head, X, y, fisher="empirical", batch_size=4)
    expected = {name: torch.zeros_like(p) for name, p in encoder.named_parameters()}
    for i in range(len(X)):
        encoder.zero_grad()
        loss = -torch.log_softmax(head(encoder(X[i : i + 1])), dim=1)[0, y[i]]
        loss.backward()
        for name, p in encoder.named_parameters():
            expected[name] += p.grad**2 / len(X)
    for name in expected:
        torch.testing.assert_close(fisher[name], expected[name], rtol=1e-4, atol=1e-9)


def test_task2vec_embedding_shape_determinism_and_task_similarity():
    rng = np.random.default_rng(8)
    encoder = _probe()
    X1 = rng.normal(size=(240, 6)).astype(np.float32)
    X2 = rng.normal(size=(240, 6)).astype(np.float32)
    task_a = task2vec_embedding(encoder, X1, (X1[:, 0] > 0).astype(int), epochs=100)
    task_a_again = task2vec_embedding(encoder, X2, (X2[:, 0] > 0).astype(int), epochs=100, seed=1)
    task_b = task2vec_embedding(encoder, X1, (X1[:, 1] + X1[:, 2] > 0).astype(int), epochs=100)
    assert task_a.shape == (8 + 5,)  # one entry per unit of the two Linear layers
    assert (task_a >= 0).all() and task_a.sum() > 0
    np.testing.assert_array_equal(
        task_a, task2vec_embedding(encoder, X1, (X1[:, 0] > 0).astype(int), epochs=100)
    )
    # The same task on fresh samples is closer than a different task on the same samples.
    assert task2vec_distance(task_a, task_a_again) < task2vec_distance(task_a, task_b)
    empirical = task2vec_embedding(encoder, X1, (X1[:, 0] > 0).astype(int), epochs=100,
                                   fisher="empirical")
    assert empirical.shape == task_a.shape


def test_task2vec_distance_formula_symmetry_and_identity():
    rng = np.random.default_rng(9)
    a, b = rng.exponential(size=10), rng.exponential(size=10)
    u, v = a / (a + b), b / (a + b)
    expected = 1 - u @ v / (np.linalg.norm(u) * np.linalg.norm(v))
    assert task2vec_distance(a, b) == pytest.approx(expected)
    assert task2vec_distance(a, b) == pytest.approx(task2vec_distance(b, a))
    assert task2vec_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    assert task2vec_distance(a, 3 * a) == pytest.approx(0.0, abs=1e-12)  # scale-free
    assert 0 <= task2vec_distance(a, b) <= 1
    with pytest.raises(ValueError):
        task2vec_distance(a, -b)


# ----------------------------------------------------------------------------- agreement
def test_rank_agreement_matches_scipy_and_aligns_mappings():
    rng = np.random.default_rng(10)
    scores, truth = rng.normal(size=12), rng.normal(size=12)
    result = rank_agreement(scores, truth)
    assert result["kendall_tau"] == pytest.approx(stats.kendalltau(scores, truth).statistic)
    assert result["spearman_rho"] == pytest.approx(stats.spearmanr(scores, truth).statistic)
    names = [f"task{i}" for i in range(12)]
    shuffled = {names[i]: truth[i] for i in rng.permutation(12)}
    assert rank_agreement(dict(zip(names, scores)), shuffled) == pytest.approx(result)
    assert rank_agreement([1, 2, 3], [10, 20, 30]) == {"kendall_tau": 1.0, "spearman_rho": 1.0}
    with pytest.raises(ValueError):
        rank_agreement({"a": 1.0, "b": 2.0}, {"a": 1.0, "c": 2.0})


# ----------------------------------------------------------------------------- N-LEEP and the per-pair scores
def test_source_posterior_is_a_pca_gmm_posterior():
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(7)
    F, y = _informative(rng, n=120, n_classes=3, extra=20)
    probs = source_posterior(F, pca_components=4, gmm_components=3, seed=1)
    assert probs.shape == (120, 3) and (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    Z = PCA(n_components=4, random_state=1).fit_transform(F)
    expected = GaussianMixture(3, covariance_type="diag", reg_covar=1e-4, random_state=1).fit(Z).predict_proba(Z)
    np.testing.assert_allclose(probs, expected / expected.sum(axis=1, keepdims=True))
    np.testing.assert_array_equal(probs, source_posterior(F, pca_components=4, gmm_components=3, seed=1))
    # the components are capped by the number of samples and of feature dimensions
    assert source_posterior(F[:6, :2], pca_components=16, gmm_components=10).shape == (6, 3)
    # on features that separate the classes, the mixture's clusters make a near-perfect source
    clusters = source_posterior(F[:, :3], pca_components=2, gmm_components=3, seed=1)
    assert leep(clusters, y) > leep(np.full((120, 3), 1 / 3), y) + 0.5
    with pytest.raises(ValueError):
        source_posterior(F[:1])


def test_transferability_scores_of_one_pair():
    rng = np.random.default_rng(8)
    F, y = _informative(rng, n=150, n_classes=3)
    scores = transferability_scores(F, y, classification=True, h_score_shrinkage=None, pca_components=5,
                                    gmm_components=4, seed=2)
    assert list(scores) == ["logme", "h_score", "leep", "nce"]
    probs = source_posterior(F, pca_components=5, gmm_components=4, seed=2)
    assert scores == {
        "logme": logme(F, y), "h_score": h_score(F, y), "leep": leep(probs, y), "nce": nce(probs.argmax(axis=1), y),
    }
    regression = transferability_scores(F, F[:, :2], classification=False, estimators=["logme", "leep", "task2vec"])
    assert regression == {"logme": logme(F, F[:, :2], regression=True)}
    assert set(transferability_scores(F, y, classification=True, estimators=["nce", "task2vec"])) == {"nce"}


def test_task2vec_scores_are_minus_distances_between_distinct_tasks():
    rng = np.random.default_rng(9)
    embeddings = {name: rng.random(6) for name in ("a", "b", "c")}
    scores = task2vec_scores(embeddings)
    assert set(scores) == {"a", "b", "c"} and set(scores["a"]) == {"b", "c"}
    assert scores["a"]["b"] == -task2vec_distance(embeddings["b"], embeddings["a"]) == scores["b"]["a"]
    assert task2vec_scores({}) == {}


def test_agreement_tables_per_target_and_summary():
    scores = {
        "t2": {"x": {"a": 1.0, "b": 2.0, "c": 3.0}, "y": {"a": 3.0, "b": 2.0, "c": 1.0}},
        "t1": {"x": {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}, "y": {"a": 1.0, "b": 2.0}},
    }
    truth = {(t, s): v for t in ("t1", "t2") for s, v in zip("abcd", (0.1, 0.2, 0.3, 0.4), strict=True)}
    score_table, table = agreement_tables(scores, truth)
    assert list(score_table.columns) == ["target", "source", "estimator", "score", "affinity"]
    assert len(score_table) == 3 + 3 + 4 + 2 and list(score_table["target"].unique()) == ["t1", "t2"]
    assert (score_table["affinity"] == [truth[(r.target, r.source)] for r in score_table.itertuples()]).all()
    per_target = table[table["target"] != "mean"].set_index(["target", "estimator"])
    assert ("t1", "y") not in per_target.index  # two sources: no ranking
    assert per_target.loc[("t2", "y"), "kendall_tau"] == pytest.approx(-1.0)
    assert per_target.loc[("t1", "x"), "spearman_rho"] == pytest.approx(1.0)
    summary = table[table["target"] == "mean"].set_index("estimator")
    assert list(summary.index) == ["x", "y"] and list(summary["rank"]) == [1, 2]
    assert summary.loc["x", "kendall_tau"] == pytest.approx(1.0) and summary.loc["x", "n_targets"] == 2
    assert summary.loc["y", "kendall_tau"] == pytest.approx(-1.0) and summary.loc["y", "n_targets"] == 1
