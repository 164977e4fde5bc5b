"""The recommendation's pieces on small cases with known answers."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from transfer_lab.methods import recommend as rec
from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint


def test_knn_score_is_a_loop_over_leave_one_out():
    rng = np.random.default_rng(0)
    F, y = rng.normal(size=(30, 4)), rng.integers(0, 3, 30)
    Z = (F - F.mean(0)) / (F.std(0) + 1e-8)
    hits = 0
    for i in range(len(F)):
        d = [np.sum((Z[i] - Z[j]) ** 2) if j != i else np.inf for j in range(len(F))]
        hits += y[int(np.argmin(d))] == y[i]
    assert rec.knn_score(F, y) == pytest.approx(hits / len(F))
    assert np.isnan(rec.knn_score(F[:3], np.array([0, 1, 1])))  # class 0 has one row: undefined


def test_scores_prefer_separating_features_to_noise():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 10)
    good = np.eye(3)[y] * 4 + rng.normal(scale=0.3, size=(30, 3))
    noise = rng.normal(size=(30, 3))
    frame = pd.DataFrame([
        {"encoder": name, "labels_per_class": "10", "seed": 0, **rec.score_features(F, y)}
        for name, F in {"noise": noise, "good": good}.items()
    ])
    ranked = rec.rank_by_scores(frame)
    assert ranked["encoder"].tolist() == ["good", "noise"]
    assert ranked.loc[0, "mean_rank"] == 1.0  # every score agrees
    assert ranked.loc[0, "knn"] == 1.0


def test_regret_and_rank_correlation():
    measured = {"a": 0.7, "b": 0.9, "c": 0.8}
    assert rec.regret(["a", "b", "c"], measured) == pytest.approx(0.2)
    assert rec.regret(["b", "a"], measured) == 0.0
    assert rec.rank_correlation([3, 2, 1], [0.9, 0.8, 0.7]) == pytest.approx(1.0)
    x, z = [1, 5, 2, 4], [0.1, 0.3, 0.4, 0.2]
    assert rec.rank_correlation(x, z) == pytest.approx(spearmanr(x, z).statistic)


def test_calibration_recovers_a_linear_law_and_never_uses_the_held_out_set():
    rng = np.random.default_rng(2)
    rows = []
    for dataset in ("a", "b", "c"):
        for _ in range(10):
            position, knn = rng.uniform(), rng.uniform()
            rows.append({"dataset": dataset, "relative_position": position, "knn": knn,
                         "measured": 0.5 - 0.2 * position + 0.4 * knn})
    rows.append({"dataset": "held", "relative_position": 0.0, "knn": 0.0, "measured": 99.0})
    fit = rec.fit_calibration(pd.DataFrame(rows), exclude="held")
    assert (fit.intercept, fit.slope_rank, fit.slope_knn) == pytest.approx((0.5, -0.2, 0.4), abs=1e-9)
    assert fit.quantile == pytest.approx(0.0, abs=1e-9) and fit.datasets == ("a", "b", "c")
    assert rec.fit_calibration(pd.DataFrame(rows[:10]), exclude="held") is None  # one data set: no law


def test_methods_are_ranked_by_evidence_on_other_data_sets_at_the_same_budget():
    def row(dataset, method, budget, value, metric="accuracy"):
        return {"pipeline": "p", "dataset": dataset, "method": method, "labels_per_class": budget, "seed": 0,
                "metric": metric, "value": value, "split": "test"}
    results = pd.DataFrame([
        row("x", "m1", "5", 0.6), row("y", "m1", "5", 0.8), row("x", "m2", "5", 0.9), row("y", "m2", "5", 0.9),
        row("new", "m1", "5", 1.0), row("x", "m1", "10", 0.99), row("x", "m1", "5", 5.0, metric="seconds"),
    ])
    ranking = rec.rank_methods(results, ["5"], exclude_dataset="new")
    assert ranking["method"].tolist() == ["m2", "m1"]
    assert ranking["mean_accuracy"].tolist() == pytest.approx([0.9, 0.7])
    assert ranking["datasets"].tolist() == [2, 2]


def test_checkpoints_feed_resized_inputs_and_supcon_only_its_own_subset():
    encoder = build_encoder("cnn2d", (1, 8, 8), width=4, out_features=6)
    checkpoint = encoder_checkpoint(encoder, "cnn2d", (1, 8, 8), {"width": 4, "out_features": 6})
    X = np.random.default_rng(3).uniform(size=(12, 3, 16, 16)).astype(np.float32)
    features = rec.candidate_features(X, np.arange(10), {"mine": checkpoint}, pca_components=4, random_width=4)
    assert set(features) == {"pixels", "pca", "random_cnn", "mine"}
    assert features["mine"].shape == (12, 6) and features["pca"].shape == (12, 4)
    assert rec.resize_inputs(X, (1, 8, 8)).shape == (12, 1, 8, 8)
    assert rec.usable("supcon_lpc5_seed1", "5", 1) and not rec.usable("supcon_lpc5_seed1", "all", 1)
    assert rec.usable("simclr", "1", 0)


def test_verification_measures_the_top_choices_and_summarises_regret():
    rng = np.random.default_rng(4)
    y = np.repeat(np.arange(2), 20)
    features = {"good": np.eye(2)[y] * 3 + rng.normal(scale=0.5, size=(40, 2)), "noise": rng.normal(size=(40, 2))}
    labelled, test = np.r_[0:5, 20:25], np.r_[5:20, 25:40]
    subsets = [("5", 0, labelled)]
    ranked = rec.score_budgets(features, y, subsets)
    measured = rec.verify_choices(features, y, ranked, subsets, test, top_k=1, others=1)
    summary = rec.summarise_verification(measured)
    assert summary.loc[0, "recommended"] == "good" and summary.loc[0, "regret"] == 0.0
    assert measured.set_index("encoder").loc["good", "measured"] > 0.9


def _blobs(seed: int = 5, per_class: int = 30, classes: int = 3):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), per_class)
    centres = rng.normal(scale=6.0, size=(classes, 4))
    return centres[y] + rng.normal(size=(len(y), 4)), y


def test_cluster_agreement_is_one_on_separated_classes_and_never_reads_unlabelled_labels():
    F, y = _blobs()
    labelled = np.array([0, 30, 60])  # one row per class
    partial = np.full(len(y), -1)
    partial[labelled] = y[labelled]
    good = rec.cluster_agreement(F, partial, 3)
    assert good == pytest.approx(1.0)  # spread labels = the k-means partition = the classes
    # invariant: standardised first, so shifting and scaling each feature changes nothing
    assert rec.cluster_agreement(F * [3.0, 0.1, 1.0, 7.0] + 5.0, partial, 3) == pytest.approx(good)
    noise = rec.cluster_agreement(np.random.default_rng(6).normal(size=F.shape), partial, 3)
    assert noise < 0.5 < good


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cluster_agreement_spreads_labels_to_convergence_on_digits(seed):
    # one label per class on the 1,797 digits: at alpha 0.99 the spreading needs 450-550
    # iterations; a cap of 100 stopped it early with a ConvergenceWarning (and another NMI)
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    X, y = load_digits(return_X_y=True)
    partial = np.full(len(y), -1)
    rng = np.random.default_rng(seed)
    for c in range(10):
        partial[rng.choice(np.flatnonzero(y == c))] = c
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        score = rec.cluster_agreement(X, partial, 10)
    assert 0.0 < score <= 1.0


def test_one_label_per_class_is_ranked_by_cluster_agreement_not_the_five_scores():
    F, y = _blobs(per_class=20)
    rng = np.random.default_rng(7)
    features = {"blobs": F, "noise": rng.normal(size=F.shape)}
    train, one, five = np.arange(len(y)), np.array([0, 20, 40]), np.r_[0:5, 20:25, 40:45]
    ranked = rec.score_budgets(features, y, [("1", 0, one), ("5", 0, five)], train_rows=train)
    at_one, at_five = ranked[ranked["labels_per_class"] == "1"], ranked[ranked["labels_per_class"] == "5"]
    assert at_one[rec.TRANSDUCTIVE].notna().all() and at_five[rec.TRANSDUCTIVE].isna().all()
    assert at_one.iloc[0]["encoder"] == "blobs" and at_one.iloc[0]["mean_rank"] == 1.0
    assert at_five.iloc[0]["encoder"] == "blobs"  # the five scores still rank budgets of 5
    scrambled = y.copy()  # the unlabelled train rows' true labels scrambled: the scores cannot change
    scrambled[np.setdiff1d(train, one)] = rng.permutation(scrambled[np.setdiff1d(train, one)])
    again = rec.score_budgets(features, scrambled, [("1", 0, one)], train_rows=train)
    assert again[rec.TRANSDUCTIVE].tolist() == at_one[rec.TRANSDUCTIVE].tolist()
    without = rec.score_budgets(features, y, [("1", 0, one)])  # no train rows given: as before
    assert without[rec.TRANSDUCTIVE].isna().all()
    assert rec._transductive_rows(one, train, max_rows=10, seed=0).tolist()[:1] == [0]
    assert len(rec._transductive_rows(one, train, max_rows=10, seed=0)) == 10


def test_each_budget_gets_its_own_calibration_and_interval_pooled_where_it_has_no_history():
    rng = np.random.default_rng(8)
    laws = {"1": (0.3, -0.1), "5": (0.8, -0.3)}  # intercept, slope on relative position (kNN 0)
    rows = [{"dataset": d, "labels_per_class": b, "relative_position": p, "knn": 0.0, "measured": a + s * p}
            for d in ("a", "b") for b, (a, s) in laws.items() for p in rng.uniform(size=8)]
    rows += [{"dataset": "held", "labels_per_class": "1", "relative_position": 0.5, "knn": 0.0, "measured": 9.0}]
    frame = pd.DataFrame({"labels_per_class": ["1", "5", "10"], "relative_position": [0.5] * 3, "knn": [np.nan] * 3})
    out = rec.predict_accuracy(frame, pd.DataFrame(rows), exclude="held").set_index("labels_per_class")
    assert out.loc["1", "predicted"] == pytest.approx(0.25) and out.loc["5", "predicted"] == pytest.approx(0.65)
    assert out.loc["1", "halfwidth"] == pytest.approx(0.0, abs=1e-9) and out.loc["5", "calibrated_on"] == "a b"
    pooled = rec.fit_calibration(pd.DataFrame(rows), exclude="held")  # budget 10: no history of its own
    assert out.loc["10", "predicted"] == pytest.approx(pooled.predict(np.array([0.5]), np.array([0.0]))[0])
    assert out.loc["10", "halfwidth"] == pytest.approx(pooled.halfwidth(np.array([out.loc["10", "predicted"]]))[0])
    assert out.loc["10", "halfwidth"] > 0.1  # one law for two budgets: wide
    assert rec.predict_accuracy(frame, pd.DataFrame(), exclude="held")["predicted"].isna().all()


def _exchangeable_history(rng, datasets: int = 10, rows: int = 30, noise: float = 0.05):
    """Data sets drawn from one law with one noise level: exchangeable, rows and data sets."""
    records = []
    for d in range(datasets):
        for _ in range(rows):
            position, knn = rng.uniform(), rng.uniform()
            records.append({"dataset": f"d{d}", "labels_per_class": "5", "relative_position": position, "knn": knn,
                            "measured": 0.3 - 0.1 * position + 0.4 * knn + rng.normal(scale=noise)})
    return pd.DataFrame(records)


@pytest.mark.parametrize("scale", ["none", "binomial"])
def test_conformal_interval_reaches_nominal_coverage_on_exchangeable_data_sets(scale):
    rng = np.random.default_rng(11)
    hits, widths = [], []
    for _ in range(4):
        history = _exchangeable_history(rng)
        for held in history["dataset"].unique():
            out = rec.predict_accuracy(history[history["dataset"] == held], history, exclude=held, scale=scale)
            hits += (np.abs(out["measured"] - out["predicted"]) <= out["halfwidth"]).tolist()
            widths += out["halfwidth"].tolist()
    coverage = np.mean(hits)
    assert 0.86 <= coverage <= 0.95, coverage  # nominal 0.9 (1200 held-out rows)
    assert np.mean(widths) < 0.05 * 2.2  # not a useless width: about 1.645 sigma of the noise


def test_in_sample_residuals_would_undercover_a_data_set_unlike_the_others():
    # one data set off the common law: the leave-one-data-set-out residuals see it, in-sample ones less so
    rng = np.random.default_rng(12)
    history = _exchangeable_history(rng, datasets=6, noise=0.01)
    history.loc[history["dataset"] == "d0", "measured"] += 0.3
    fit = rec.fit_calibration(history, scale="none")
    in_sample = np.abs(history["measured"] - fit.predict(history["relative_position"].to_numpy(), history["knn"].to_numpy()))
    assert fit.quantile > np.quantile(in_sample, 0.9)


def test_a_data_sets_own_rows_never_set_its_prediction_or_interval():
    rng = np.random.default_rng(13)
    history = _exchangeable_history(rng, datasets=5)
    lodo = rec.lodo_residuals(history)
    shifted = history.assign(measured=np.where(history["dataset"] == "d2", history["measured"] + 0.2, history["measured"]))
    again = rec.lodo_residuals(shifted)
    mine = (history["dataset"] == "d2").to_numpy()
    # d2's leave-one-out prediction ignores d2's own measurements ...
    assert np.allclose(again.loc[mine, "predicted"], lodo.loc[mine, "predicted"])
    # ... and equals the law fitted on the others, as an explicit loop computes it
    others = history[~mine]
    A = np.column_stack([np.ones(len(others)), others["relative_position"], others["knn"]])
    coef = np.linalg.lstsq(A, others["measured"], rcond=None)[0]
    expected = np.clip(coef[0] + coef[1] * history.loc[mine, "relative_position"] + coef[2] * history.loc[mine, "knn"], 0, 1)
    assert np.allclose(lodo.loc[mine, "predicted"], expected)
    assert np.allclose(lodo.groupby("dataset")["weight"].sum(), 1.0)  # every data set counts once
    # the data set predicted: any change of its own rows leaves its prediction and interval alone
    frame = history[history["dataset"] == "d2"]
    a = rec.predict_accuracy(frame, history, exclude="d2")
    b = rec.predict_accuracy(frame, shifted, exclude="d2")
    assert np.allclose(a["predicted"], b["predicted"]) and np.allclose(a["halfwidth"], b["halfwidth"])


def test_conformal_quantile_is_the_weighted_corrected_order_statistic():
    scores = np.arange(1.0, 20.0)  # 19 scores: level 0.9 * 20/19 = 0.947 -> the 18th
    assert rec.conformal_quantile(scores, np.ones(19)) == 18.0
    assert rec.conformal_quantile(scores[:5], np.ones(5)) == np.inf  # 5 scores cannot give 90 %
    # one data set of 10 equal scores weighs as much as one of a single score
    weights = np.r_[np.full(10, 0.1), np.ones(10)]
    assert rec.conformal_quantile(np.r_[np.zeros(10), np.arange(1.0, 11.0)], weights) == 10.0


def test_verify_runs_encoder_method_choices_in_ranked_order():
    F, y = _blobs(per_class=20)
    rng = np.random.default_rng(14)
    features = {"blobs": F, "noise": rng.normal(size=F.shape)}
    train, test = np.r_[0:15, 20:35, 40:55], np.r_[15:20, 35:40, 55:60]
    one = np.array([0, 20, 40])
    predictions = rec.score_budgets(features, y, [("1", 0, one)], train_rows=train)
    specs = {"linear_probe": {"method": "linear_probe"},
             "label_propagation": {"method": "label_propagation", "params": {"n_neighbors": 5}, "evidence": ["label_propagation"]}}
    ranking = pd.DataFrame({"labels_per_class": ["1"], "pipeline": ["semi_supervised"], "method": ["label_propagation_simclr"],
                            "mean_accuracy": [0.9], "std_accuracy": [0.0], "datasets": [2], "rank": [1]})
    order = rec.order_methods(specs, ranking, "1")
    assert order == ["label_propagation", "linear_probe"]  # evidence first; no evidence: as given
    assert rec.order_methods(specs, ranking.iloc[:0], "1") == ["linear_probe", "label_propagation"]
    choices = rec.rank_choices(predictions, {"1": order})
    assert choices["choice"].tolist()[0] == "blobs + label_propagation" and choices["position"].tolist() == [1, 2, 3, 4]
    measured = rec.verify_method_choices(features, y, choices, specs, [("1", 0, one)], train, test, top_k=4, others=0)
    assert len(measured) == 4 and set(measured["method"]) == {"linear_probe", "label_propagation"}
    # each measurement is the method run for real: the same fit by hand gives the same accuracy
    row = measured.set_index("choice").loc["blobs + label_propagation"]
    from sklearn.preprocessing import StandardScaler

    from transfer_lab.methods.semi_supervised import LabelPropagation
    rows = np.concatenate([one, np.setdiff1d(train, one)])
    scaler = StandardScaler().fit(F[rows])
    model = LabelPropagation(n_neighbors=5).fit(scaler.transform(F[rows]), np.r_[y[one], np.full(len(rows) - 3, -1)])
    assert row["measured"] == pytest.approx((model.predict(scaler.transform(F[test])) == y[test]).mean())
    assert row["measured"] == 1.0  # three separated blobs, one label each
    # the unlabelled rows' labels are never read
    scrambled = y.copy()
    scrambled[np.setdiff1d(train, one)] = rng.permutation(scrambled[np.setdiff1d(train, one)])
    again = rec.verify_method_choices(features, scrambled, choices, specs, [("1", 0, one)], train, test, top_k=4, others=0)
    assert again["measured"].tolist() == measured["measured"].tolist()
    summary = rec.summarise_verification(measured, key="choice")
    assert summary.loc[0, "recommended"] == "blobs + label_propagation" and summary.loc[0, "regret"] == 0.0


def test_input_kind_comes_from_the_shape_and_modality_never_the_name():
    assert rec.input_kind((10, 1, 8, 8)) == "image" and rec.input_kind((10, 3, 32, 32)) == "image"
    assert rec.input_kind((10, 1, 40)) == "sequence"
    assert rec.input_kind((10, 1, 40), table=True) == "table"  # a table is stored (n, 1, F) like a signal
    with pytest.raises(ValueError, match="expected"):
        rec.input_kind((10, 40))


def _two_kinds(rng, images: int = 6, sequences: int = 1, rows: int = 15):
    """Image data sets on one law with small noise; sequence data sets far off it."""
    history = _exchangeable_history(rng, datasets=images + sequences, rows=rows, noise=0.02).assign(input_kind="image")
    for d in range(images, images + sequences):
        mine = history["dataset"] == f"d{d}"
        history.loc[mine, "input_kind"] = "sequence"
        history.loc[mine, "measured"] -= 0.25
    return history


def test_mondrian_interval_calibrates_a_kind_only_on_data_sets_of_that_kind():
    rng = np.random.default_rng(21)
    history = _two_kinds(rng, images=6, sequences=1)
    # an image data set: the quantile is the conformal quantile of the *image* rows' LODO scores
    # (each from the law fitted on every other data set, of any kind); the sequence set's never enter
    fit = rec.fit_calibration(history, exclude="d0", kind="image", scale="none")
    rows = history[history["dataset"] != "d0"]
    held = rec.lodo_residuals(rows)
    image = (rows["input_kind"] == "image").to_numpy()
    scores = np.abs(held["measured"] - held["predicted"]).to_numpy()
    assert fit.quantile == rec.conformal_quantile(scores[image], held["weight"].to_numpy()[image], 0.1)
    assert fit.interval_on == ("d1", "d2", "d3", "d4", "d5") and "d6" in fit.datasets  # the law still uses all
    ungrouped = rec.fit_calibration(history, exclude="d0", kind=None, scale="none")
    assert fit.quantile < ungrouped.quantile  # the sequence set's big residuals would have widened it
    # the sequence data set held out: no other sequence set verified, so no interval at all,
    # however many image data sets there are; the point prediction stays
    frame = history[history["dataset"] == "d6"].drop(columns="measured")
    out = rec.predict_accuracy(frame, history, exclude="d6", kind="sequence")
    assert out["predicted"].notna().all() and out["halfwidth"].isna().all() and (out["interval_on"] == "").all()
    # with other sequence sets verified, a sequence set's interval is theirs alone
    two = _two_kinds(np.random.default_rng(21), images=6, sequences=3)
    seq = rec.fit_calibration(two, exclude="d6", kind="sequence", scale="none")
    held_seq = rec.lodo_residuals(two[two["dataset"] != "d6"])
    mine = (two[two["dataset"] != "d6"]["input_kind"] == "sequence").to_numpy()
    expected = rec.conformal_quantile(np.abs(held_seq["measured"] - held_seq["predicted"]).to_numpy()[mine],
                                      held_seq["weight"].to_numpy()[mine], 0.1)
    assert seq.interval_on == ("d7", "d8") and seq.quantile == expected
    # fewer data sets of the kind than min_datasets: no interval
    assert np.isnan(rec.fit_calibration(two, exclude="d6", kind="sequence", min_datasets=3).quantile)
    # a history that never recorded its kinds calibrates no kind
    assert np.isnan(rec.fit_calibration(history.drop(columns="input_kind"), exclude="d0", kind="image").quantile)


def test_finite_sample_quantile_of_one_kind_and_coverage_within_the_kind():
    # equal weights: the ceil((n + 1)(1 - alpha))-th smallest score, for every n where it exists
    for n in (9, 10, 19, 37):
        scores = np.random.default_rng(n).permutation(np.arange(1.0, n + 1))
        assert rec.conformal_quantile(scores, np.ones(n)) == np.ceil((n + 1) * 0.9)
    assert rec.conformal_quantile(np.arange(8.0), np.ones(8)) == np.inf  # 8 scores cannot give 90 %
    # too few rows of the kind for the level: no interval (never [0, 1] counted as covered)
    rng = np.random.default_rng(22)
    history = _two_kinds(rng, images=4, sequences=2, rows=4)  # 8 sequence rows
    assert np.isnan(rec.fit_calibration(history, exclude="d0", kind="sequence").quantile)
    # exchangeable data sets within a kind, another kind far off: held-out coverage of the kind ~ 90 %
    hits = []
    for _ in range(3):
        history = _two_kinds(rng, images=10, sequences=2, rows=30)
        for held in [f"d{d}" for d in range(10)]:
            out = rec.predict_accuracy(history[history["dataset"] == held], history, exclude=held, kind="image", scale="none")
            hits += (np.abs(out["measured"] - out["predicted"]) <= out["halfwidth"]).tolist()
    assert 0.85 <= np.mean(hits) <= 0.96, np.mean(hits)


def _predictions_and_measurements():
    """Two seeds at one budget, four encoders; a and b run for real in both seeds, c in one."""
    predictions = pd.DataFrame({
        "labels_per_class": ["5"] * 8, "seed": [0] * 4 + [1] * 4, "encoder": list("abcd") * 2,
        "mean_rank": [1, 2, 3, 4, 1, 3, 2, 4], "predicted": [0.8, 0.7, 0.6, 0.5] * 2, "halfwidth": [0.05] * 8,
        "calibrated_on": "x y", "interval_on": "x y", "input_kind": "image"})
    verification = pd.DataFrame({
        "labels_per_class": [5, 5, 5, 5, 5], "seed": [0, 0, 0, 1, 1], "encoder": ["a", "b", "c", "a", "b"],
        "position": [1, 2, 3, 1, 3], "measured": [0.82, 0.90, 0.60, 0.70, 0.72],
        "predicted": [0.8, 0.7, 0.6, 0.8, 0.7], "halfwidth": [0.05] * 5})
    choices = pd.DataFrame({
        "labels_per_class": [5, 5, 5, 5], "seed": [0, 0, 1, 1], "choice": ["a + lp", "b + lp", "a + lp", "a + st"],
        "encoder": ["a", "b", "a", "a"], "method": ["lp", "lp", "lp", "st"], "position": [1, 2, 1, 2], "candidates": [8] * 4,
        "measured": [0.95, 0.91, 0.80, 0.85]})
    return predictions, verification, choices


def test_recommendation_table_shows_what_verify_measured_and_only_that():
    predictions, verification, choices = _predictions_and_measurements()
    plain = rec.recommendation_table(predictions, pd.DataFrame(columns=["labels_per_class"]), runners_up=2)
    assert list(plain.columns) == list(rec.RECOMMENDATION_COLUMNS)
    assert plain[list(rec.MEASURED_COLUMNS)].isna().all().all() and "choice" not in set(plain["kind"])  # nothing run
    table = rec.recommendation_table(predictions, pd.DataFrame(columns=["labels_per_class"]), runners_up=2,
                                     verification=verification, choice_verification=choices).set_index(["kind", "choice"])
    a, b, c = (table.loc[("encoder", name)] for name in "abc")
    assert a["measured_accuracy"] == pytest.approx(0.76) and a["measured_seeds"] == 2
    assert a["in_interval"] == 0.5  # 0.82 within 0.8 +- 0.05, 0.70 not
    assert a["measured_rank"] == pytest.approx(2.0)  # 2nd of 3 in seed 0, 2nd of 2 in seed 1
    assert b["measured_rank"] == 1.0 and b["in_interval"] == 0.5 and c["measured_seeds"] == 1  # b: 0.90 out, 0.72 in
    # the encoder x method choices run for real, by mean position, measured only
    assert table.loc["choice"].index.tolist() == ["a + lp", "a + st", "b + lp"]  # ties: by name
    lp = table.loc[("choice", "a + lp")]
    assert lp["measured_accuracy"] == pytest.approx(0.875) and lp["measured_rank"] == 1.5 and np.isnan(lp["predicted_accuracy"])  # 1st, then 2nd
    assert np.isnan(lp["in_interval"])  # no interval: never counted as covered
    # an encoder without an interval (no calibration data of its kind): measured, no hit counted
    bare = rec.recommendation_table(predictions.assign(halfwidth=np.nan, interval_on=""), pd.DataFrame(columns=["labels_per_class"]),
                                    verification=verification.assign(halfwidth=np.nan)).set_index("choice")
    assert bare.loc["a", "measured_accuracy"] == pytest.approx(0.76) and np.isnan(bare.loc["a", "in_interval"])
    assert np.isnan(bare.loc["a", "low"]) and "no calibration data of this kind (image): no interval" in bare.loc["a", "evidence"]
