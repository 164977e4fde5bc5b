"""Tests for transfer_lab.methods.taskonomy: tournament, AHP, win rates, the taxonomy BIP."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from transfer_lab.methods.taskonomy import (
    PSEUDO_SOURCES,
    REFERENCE_FILES,
    affinity_from_losses,
    ahp_affinity,
    beam_sources,
    beam_transfers,
    load_reference_affinities,
    parse_transfer_key,
    solve_budgets,
    solve_taxonomy,
    source_combinations,
    taxonomy_cost,
    taxonomy_objective,
    tournament_matrix,
    tournament_records,
    transfer_gain,
    transfer_key,
    transfer_quality,
    win_rate,
)

RELEASE_TARGETS = {
    "autoencoder", "class_1000", "class_selected", "curvature", "denoise", "edge2d", "edge3d",
    "ego_motion", "fix_pose", "keypoint2d", "keypoint3d", "non_fixated_pose", "point_match",
    "reshade", "rgb2depth", "rgb2mist", "rgb2sfnorm", "room_layout", "segment25d", "segment2d",
    "segmentsemantic_rb", "vanishing_point_well_defined",
}


@pytest.fixture(scope="module")
def release() -> dict[str, float]:
    return load_reference_affinities()


# ----------------------------------------------------------------------------- tournament
def test_tournament_matrix_matches_direct_loop_with_ties():
    rng = np.random.default_rng(0)
    # Integer losses make ties frequent, so the half-count rule is exercised.
    losses = rng.integers(0, 4, size=(5, 37)).astype(float)
    W = tournament_matrix(losses)
    n, m = losses.shape
    expected = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            wins = 0.0
            for k in range(m):
                if losses[i, k] < losses[j, k]:
                    wins += 1.0
                elif losses[i, k] == losses[j, k]:
                    wins += 0.5
            expected[i, j] = wins / m
    np.testing.assert_allclose(W, expected, atol=1e-15)
    np.testing.assert_array_equal(np.diag(W), 0.5)
    np.testing.assert_allclose(W + W.T, 1.0, atol=1e-15)
    np.testing.assert_allclose(tournament_matrix(losses, chunk_size=5), W, atol=1e-15)


def test_tournament_matrix_rejects_bad_input():
    with pytest.raises(ValueError):
        tournament_matrix(np.ones(5))
    with pytest.raises(ValueError):
        tournament_matrix(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError):
        tournament_matrix(np.ones((3, 0)))


# ----------------------------------------------------------------------------- AHP
def test_ahp_consistent_matrix_gives_normalised_strengths():
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 5.0, size=7)
    W = a[:, None] / (a[:, None] + a[None, :])  # so that W / W.T = a_i / a_j
    affinity = ahp_affinity(W)
    np.testing.assert_allclose(affinity, a / a.sum(), rtol=1e-10)
    assert affinity.sum() == pytest.approx(1.0)


def test_ahp_clips_certain_wins_and_keeps_order():
    # Source 0 always beats 1, which always beats 2: W has exact 0s and 1s, as in the release.
    W = np.array([[0.5, 1.0, 1.0], [0.0, 0.5, 1.0], [0.0, 0.0, 0.5]])
    affinity = ahp_affinity(W)
    assert np.isfinite(affinity).all() and (affinity > 0).all()
    assert affinity.sum() == pytest.approx(1.0)
    assert affinity[0] > affinity[1] > affinity[2]
    with pytest.raises(ValueError):
        ahp_affinity(W, clip=(0.0, 1.0))
    with pytest.raises(ValueError):
        ahp_affinity(np.ones((2, 3)))
    with pytest.raises(ValueError):
        ahp_affinity(np.array([[0.5, 1.2], [-0.2, 0.5]]))


def test_affinity_from_losses_prefers_sources_with_lower_loss():
    rng = np.random.default_rng(2)
    base = rng.exponential(size=500)
    losses = np.stack([base * scale + rng.normal(0, 0.05, 500) for scale in (0.5, 1.0, 2.0)])
    affinity = affinity_from_losses(losses)
    assert affinity[0] > affinity[1] > affinity[2]


def test_win_rate_loop_ties_and_wrappers():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 3, 50).astype(float)
    b = rng.integers(0, 3, 50).astype(float)
    expected = sum(1.0 if x < y else 0.5 if x == y else 0.0 for x, y in zip(a, b)) / 50
    assert win_rate(a, b) == pytest.approx(expected)
    assert win_rate(a, b) + win_rate(b, a) == pytest.approx(1.0)
    assert win_rate(a, a) == 0.5
    assert transfer_gain(a, b) == win_rate(a, b) == transfer_quality(a, b)
    with pytest.raises(ValueError):
        win_rate(a, b[:-1])


# ----------------------------------------------------------------------------- release
def test_reference_release_ships_with_the_package(release):
    for name in REFERENCE_FILES:
        assert len(load_reference_affinities(name)) > 800
    assert load_reference_affinities("all_affinities.json") == release
    targets = {parse_transfer_key(k)[1] for k in release}
    assert targets == RELEASE_TARGETS
    for t in targets:
        assert sum(v for k, v in release.items() if k.endswith("__" + t)) == pytest.approx(1.0)
        assert transfer_key(("self",), t) in release
    assert load_reference_affinities("wins_vs_task")["self__rgb2depth"] == 0.5
    with pytest.raises(ValueError, match="unknown reference file"):
        load_reference_affinities("nope")


def _check_taxonomy(affinities, taxonomy, budget, targets, costs=None, max_order=None):
    """Every constraint of the BIP, checked on the returned dict."""
    supervised = {t for t, srcs in taxonomy.items() if not srcs}
    assert set(targets) <= set(taxonomy)  # exactly one option per target (a dict key each)
    for task, srcs in taxonomy.items():
        if srcs:
            assert task in targets
            assert set(srcs) <= supervised  # transfers only from supervised sources
            assert not set(srcs) & PSEUDO_SOURCES and task not in srcs
            assert transfer_key(srcs, task) in affinities
            assert max_order is None or len(srcs) <= max_order
    assert taxonomy_cost(taxonomy, costs) <= budget + 1e-9


def test_solver_on_release_respects_constraints_and_budget_is_monotone(release):
    objectives = []
    for budget in (3, 8, 12, 26):
        taxonomy, objective = solve_taxonomy(release, budget, return_objective=True)
        _check_taxonomy(release, taxonomy, budget, RELEASE_TARGETS)
        assert objective == pytest.approx(taxonomy_objective(release, taxonomy))
        objectives.append(objective)
    assert all(b >= a - 1e-9 for a, b in zip(objectives, objectives[1:]))
    # With every task supervisable the optimum picks, per target, the best of self and its
    # best transfer from the others; a budget of 26 allows that.
    best = sum(
        max(v for k, v in release.items() if parse_transfer_key(k)[1] == t
            and not (set(parse_transfer_key(k)[0]) & {"random", t}))
        for t in RELEASE_TARGETS
    )
    assert objectives[-1] == pytest.approx(best)


def test_solver_options_on_release(release):
    taxonomy = solve_taxonomy(release, 4, max_order=1, sources=["rgb2sfnorm", "edge3d", "denoise"])
    _check_taxonomy(release, taxonomy, 4, RELEASE_TARGETS, max_order=1)
    assert {s for srcs in taxonomy.values() for s in srcs} <= {"rgb2sfnorm", "edge3d", "denoise"}

    subset = ["rgb2depth", "reshade", "room_layout"]
    taxonomy = solve_taxonomy(release, 1, targets=subset, costs={"rgb2depth": 5.0})
    _check_taxonomy(release, taxonomy, 1, subset, costs={"rgb2depth": 5.0})
    assert taxonomy.get("rgb2depth") != ()  # too expensive to supervise

    # sqrt=True maximises the sum of square roots.
    taxonomy, objective = solve_taxonomy(release, 5, sqrt=True, return_objective=True)
    assert objective == pytest.approx(taxonomy_objective(release, taxonomy, sqrt=True))
    plain = solve_taxonomy(release, 5)
    assert objective >= taxonomy_objective(release, plain, sqrt=True) - 1e-9

    # A target with zero importance never pays for its own supervision.
    importance = {t: 1.0 for t in RELEASE_TARGETS} | {"class_1000": 0.0}
    taxonomy = solve_taxonomy(release, 3, importance=importance)
    _check_taxonomy(release, taxonomy, 3, RELEASE_TARGETS)


def test_solver_on_higher_order_release():
    affinities = load_reference_affinities("all_affinities_1k")
    taxonomy = solve_taxonomy(affinities, 6, max_order=4)
    targets = {parse_transfer_key(k)[1] for k in affinities}
    _check_taxonomy(affinities, taxonomy, 6, targets, max_order=4)


def test_solver_rejects_bad_input(release):
    with pytest.raises(ValueError, match="infeasible"):
        solve_taxonomy(release, 0)
    with pytest.raises(ValueError, match="infeasible"):
        everything = {s for k in release for s in k.split("__")} - PSEUDO_SOURCES
        solve_taxonomy(release, 3, costs={t: 10.0 for t in everything})
    with pytest.raises(ValueError, match="pseudo-sources"):
        solve_taxonomy(release, 3, sources=["self", "edge2d"])
    with pytest.raises(ValueError, match="not a string"):
        solve_taxonomy(release, 3, sources="edge2d")
    with pytest.raises(ValueError, match="targets not found"):
        solve_taxonomy(release, 3, targets=["jigsaw"])
    with pytest.raises(ValueError, match="unknown task"):
        solve_taxonomy(release, 3, costs={"edge_2d": 2.0})
    with pytest.raises(ValueError, match="self__"):
        solve_taxonomy({"a__b": 0.5}, 3)
    with pytest.raises(ValueError, match="malformed"):
        solve_taxonomy({"a____b": 0.5}, 3)
    with pytest.raises(ValueError, match="budget"):
        solve_taxonomy(release, -1)
    with pytest.raises(ValueError, match="max_order"):
        solve_taxonomy(release, 3, max_order=0)


# ----------------------------------------------------------------------------- brute force
def _random_instance(rng, n_targets=4, n_source_only=1):
    targets = [f"t{i}" for i in range(n_targets)]
    tasks = targets + [f"s{i}" for i in range(n_source_only)]
    affinities: dict[str, float] = {}
    for t in targets:
        others = [s for s in tasks if s != t]
        affinities[f"self__{t}"] = rng.uniform(0.2, 1.0)
        # Baselines and the target's own readout must be ignored even when they look great.
        affinities[f"random__{t}"] = 2.0
        affinities[f"{t}__{t}"] = 2.0
        for s in others:
            if rng.random() < 0.8:
                affinities[f"{s}__{t}"] = rng.uniform(0.0, 1.0)
        for pair in itertools.combinations(others, 2):
            if rng.random() < 0.5:
                affinities[transfer_key(pair, t)] = rng.uniform(0.0, 1.2)
    costs = {s: float(rng.integers(1, 4)) for s in tasks}
    importance = {t: float(rng.uniform(0.1, 2.0)) for t in targets}
    return targets, tasks, affinities, costs, importance


def _brute_force(targets, tasks, affinities, costs, importance, budget, sqrt=False):
    transfers = {}
    for key, value in affinities.items():
        srcs, t = parse_transfer_key(key)
        if srcs == ("self",) or set(srcs) & (PSEUDO_SOURCES | {t}):
            continue
        transfers.setdefault(t, []).append((frozenset(srcs), value))
    f = math.sqrt if sqrt else (lambda v: v)
    best = None
    for r in range(len(tasks) + 1):
        for supervised in itertools.combinations(tasks, r):
            if sum(costs[s] for s in supervised) > budget:
                continue
            total = 0.0
            for t in targets:
                if t in supervised:
                    total += importance[t] * f(affinities[f"self__{t}"])
                    continue
                options = [v for srcs, v in transfers.get(t, []) if srcs <= set(supervised)]
                if not options:
                    total = None
                    break
                total += importance[t] * max(f(v) for v in options)
            if total is not None and (best is None or total > best):
                best = total
    return best


@pytest.mark.parametrize("seed", range(12))
def test_solver_matches_exhaustive_search(seed):
    rng = np.random.default_rng(seed)
    n_targets = 4 if seed % 2 else 5
    targets, tasks, affinities, costs, importance = _random_instance(rng, n_targets=n_targets)
    budget = float(rng.integers(1, 8))
    sqrt = seed % 3 == 0
    expected = _brute_force(targets, tasks, affinities, costs, importance, budget, sqrt)
    if expected is None:
        with pytest.raises(ValueError, match="infeasible"):
            solve_taxonomy(affinities, budget, costs=costs, importance=importance, sqrt=sqrt)
        return
    taxonomy, objective = solve_taxonomy(
        affinities, budget, costs=costs, importance=importance, sqrt=sqrt, return_objective=True
    )
    _check_taxonomy(affinities, taxonomy, budget, targets, costs=costs, max_order=2)
    assert objective == pytest.approx(expected, abs=1e-9)
    assert objective == pytest.approx(
        taxonomy_objective(affinities, taxonomy, targets=targets, importance=importance, sqrt=sqrt)
    )


# ----------------------------------------------------------------------------- search over transfers
def test_beam_sources_rank_real_sources_by_affinity_of_their_losses():
    rng = np.random.default_rng(4)
    base = rng.exponential(size=300)
    losses = {name: base * scale + rng.normal(0, 0.01, 300) for name, scale in
              (("a", 3.0), ("b", 0.5), ("c", 1.0), ("d", 2.0), ("random", 0.1), ("self", 0.1))}
    assert beam_sources(losses, 2) == ["b", "c"]  # pseudo-sources never enter the beam
    assert beam_sources(losses, 10) == ["b", "c", "d", "a"]
    real = ["a", "b", "c", "d"]
    affinity = affinity_from_losses(np.stack([losses[s] for s in real]))
    assert beam_sources(losses, 4) == [real[i] for i in np.argsort(-affinity)]
    assert beam_sources({"random": base}, 3) == []
    with pytest.raises(ValueError, match="beam"):
        beam_sources(losses, 0)


def test_source_combinations_are_every_subset_of_two_to_max_order():
    assert source_combinations(["c", "a", "b"], 2) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert source_combinations(["c", "a", "b"], 5) == [("a", "b"), ("a", "c"), ("b", "c"), ("a", "b", "c")]
    assert source_combinations(["a", "b", "c"], 1) == [] == source_combinations(["a"], 3)
    combos = source_combinations(list("abcde"), 3)
    assert len(combos) == math.comb(5, 2) + math.comb(5, 3) and len(set(combos)) == len(combos)


def test_beam_transfers_evaluates_first_orders_then_the_beam():
    rng = np.random.default_rng(5)
    quality = {"a": 0.5, "b": 1.0, "c": 2.0, "d": 4.0, "random": 8.0}
    calls = []

    def evaluate(sources):
        calls.append(sources)
        scale = np.mean([quality[s] for s in sources])
        return scale * rng.exponential(size=50) + scale, np.full(20, scale)

    val, test, beam = beam_transfers(quality, "t", evaluate, beam=3, max_order=2)
    assert beam == ["a", "b", "c"]
    first = [(s,) for s in sorted(quality)]
    assert calls == [*first, ("a", "b"), ("a", "c"), ("b", "c")]
    assert set(val) == set(test) == {transfer_key(c, "t") for c in calls}
    np.testing.assert_array_equal(test["a__b__t"], np.full(20, 0.75))
    _, test, beam = beam_transfers(quality, "t", evaluate, beam=1, max_order=3)
    assert beam == ["a"] and set(test) == {transfer_key((s,), "t") for s in quality}


def test_tournament_records_match_the_tournament_and_win_rates():
    rng = np.random.default_rng(6)
    losses = {key: rng.exponential(scale, 40) for key, scale in
              (("a__t", 1.0), ("b__t", 2.0), ("a__b__t", 0.8), ("random__t", 3.0), ("self__t", 0.5), ("pixels__t", 2.5))}
    affinities, records, wins = tournament_records(losses, "t")
    keys = sorted(k for k in losses if k != "pixels__t")
    assert set(affinities) == set(keys) and math.isclose(sum(affinities.values()), 1.0)
    W = tournament_matrix(np.stack([losses[k] for k in keys]))
    np.testing.assert_allclose([affinities[k] for k in keys], ahp_affinity(W))
    assert len(wins) == len(keys) ** 2
    table = {(w["key_i"], w["key_j"]): w["win_rate"] for w in wins}
    assert all(w["target"] == "t" for w in wins)
    np.testing.assert_array_equal([[table[(i, j)] for j in keys] for i in keys], W)
    by_key = {r["key"]: r for r in records}
    assert [r["key"] for r in records][-1] == "pixels__t" and math.isnan(by_key["pixels__t"]["affinity"])
    assert by_key["a__b__t"]["sources"] == "a+b" and by_key["a__b__t"]["order"] == 2
    for key, record in by_key.items():
        assert record["gain"] == win_rate(losses[key], losses["pixels__t"])
        assert record["quality"] == win_rate(losses[key], losses["self__t"])
        assert record["test_loss"] == pytest.approx(losses[key].mean())
    with pytest.raises(KeyError):
        tournament_records({"a__t": losses["a__t"], "self__t": losses["self__t"]}, "t")


def test_solve_budgets_solves_every_budget(release):
    solutions = solve_budgets(release, [3, 6], max_order=1)
    assert [s["budget"] for s in solutions] == [3, 6]
    for solution in solutions:
        taxonomy, objective = solve_taxonomy(release, solution["budget"], max_order=1, return_objective=True)
        assert solution["objective"] == pytest.approx(objective)
        assert solution["taxonomy"] == {t: list(s) for t, s in taxonomy.items()}
        assert solution["cost"] == taxonomy_cost(taxonomy) <= solution["budget"]
    assert solutions[1]["objective"] >= solutions[0]["objective"] - 1e-9
