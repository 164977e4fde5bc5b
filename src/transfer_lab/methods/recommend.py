"""Recommend what to transfer to a new data set, from cheap measurements only.

Three pieces, each usable without Kedro:

* **Encoders by transferability.** :func:`candidate_features` turns the data into the
  features of every candidate encoder (the raw inputs, a PCA fitted on the train rows, a
  randomly initialised network of the project's shape, and every checkpoint given, its
  input resized to the checkpoint's shape); :func:`score_features` computes LogME, LEEP,
  NCE, H-score (``methods.transferability``) and a leave-one-out 1-NN accuracy on the
  *labelled rows of one budget only*; :func:`rank_by_scores` orders the encoders by their
  mean rank over the scores (each score votes once; higher is better for all five).
* **One label per class: transductive.** With a single labelled row per class the five
  scores are noise (the kNN score is undefined; held out, they chose an encoder 11 points
  worse than the best). :func:`cluster_agreement` then ranks instead: labels spread from the
  few labelled rows over each encoder's kNN graph of *all* train rows (label spreading, Zhou
  et al., NIPS 2004, as ``sklearn.semi_supervised.LabelSpreading``), compared with the
  k-means partition (k = number of classes) of the same rows by normalised mutual
  information (Strehl & Ghosh, JMLR 2002). The unlabelled rows' own labels are never read.
* **Predicted accuracy with an interval.** :func:`fit_calibration` regresses the measured
  linear-probe test accuracy on the mean-rank position and the kNN score over data sets
  already verified (never the data set being predicted), per label budget where that
  budget has history (:func:`predict_accuracy`); the interval is the 90 % quantile of the
  absolute residuals. Without such history the interval is ``nan``.
* **Methods by evidence.** :func:`rank_methods` ranks the protocols and semi-supervised
  methods of the results tables by their mean test accuracy at the same label budget over
  the data sets measured (mean, spread and count reported, never extrapolated).
* **Checked against what happens.** :func:`regret` and :func:`rank_correlation` compare
  the predicted order with measured accuracies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from transfer_lab.methods.transferability import h_score, leep, logme, nce, source_posterior

SCORES = ("logme", "leep", "nce", "h_score", "knn")
TRANSDUCTIVE = "cluster_agreement"  # ranks alone where it is defined (see :func:`score_budgets`)
BUILTIN_ENCODERS = ("pixels", "pca", "random_cnn")

__all__ = [
    "BUILTIN_ENCODERS", "Calibration", "SCORES", "TRANSDUCTIVE", "candidate_features", "cluster_agreement", "fit_calibration", "knn_score", "predict_accuracy",
    "rank_by_scores", "rank_correlation", "rank_methods", "regret", "resize_inputs", "score_features",
]


def resize_inputs(X: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Inputs ``(n, C, *S)`` made to fit an encoder's ``input_shape``: channels averaged to
    one or repeated to C, then (bi)linear resizing of the spatial axes."""
    import torch
    import torch.nn.functional as F

    shape = tuple(int(s) for s in shape)
    x = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32))
    if x.ndim != len(shape) + 1:
        raise ValueError(f"inputs of shape {tuple(X.shape[1:])} cannot feed an encoder of input shape {shape}")
    if x.shape[1] != shape[0]:
        x = x.mean(dim=1, keepdim=True).expand(-1, shape[0], *x.shape[2:])
    if tuple(x.shape[2:]) != shape[1:]:
        mode = "bilinear" if x.ndim == 4 else "linear"
        x = F.interpolate(x, size=shape[1:], mode=mode, align_corners=False)
    return x.numpy()


def _encode(encoder, X: np.ndarray, batch: int = 512) -> np.ndarray:
    import torch

    encoder.eval()
    with torch.no_grad():
        parts = [encoder(torch.as_tensor(X[i:i + batch])).reshape(min(batch, len(X) - i), -1) for i in range(0, len(X), batch)]
    return torch.cat(parts).numpy().astype(np.float64)


def candidate_features(
    X: np.ndarray, train_rows: np.ndarray, checkpoints: Mapping[str, dict], *, pca_components: int = 32,
    random_width: int = 16, seed: int = 0,
) -> dict[str, np.ndarray]:
    """Features of every row under every candidate encoder, ``{name: (n, d)}``.

    ``pca`` is fitted on ``train_rows`` (labelled and unlabelled, labels unused).
    ``random_cnn`` is the project's default encoder for the data's shape, randomly
    initialised with ``seed``. Each checkpoint (``methods.encoders.encoder_checkpoint``
    format) encodes the inputs resized to its ``input_shape``; one that cannot (a 2-D
    encoder for 1-D data) is left out.
    """
    import torch
    from sklearn.decomposition import PCA

    from transfer_lab.methods.encoders import build_encoder, encoder_from_checkpoint

    flat = X.reshape(len(X), -1).astype(np.float64)
    n_components = max(1, min(pca_components, flat.shape[1], len(train_rows) - 1))
    features = {"pixels": flat, "pca": PCA(n_components, random_state=seed).fit(flat[train_rows]).transform(flat)}
    torch.manual_seed(seed)
    features["random_cnn"] = _encode(build_encoder("auto", tuple(X.shape[1:]), width=random_width, out_features=64), X)
    for name, checkpoint in sorted(checkpoints.items()):
        shape = checkpoint["encoder"]["input_shape"]
        if len(shape) != X.ndim - 1:
            continue
        features[name] = _encode(encoder_from_checkpoint(checkpoint), resize_inputs(X, shape))
    return features


def knn_score(features: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy (Euclidean, standardised features);
    ``nan`` when a class has a single row (its row has no neighbour of its class)."""
    F = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    if np.bincount(y).min(initial=len(y)) < 2 or len(np.unique(y)) < 2:
        return float("nan")
    F = (F - F.mean(0)) / (F.std(0) + 1e-8)
    squared = (F**2).sum(1)
    d = squared[:, None] + squared[None, :] - 2.0 * F @ F.T  # n x n, never n x n x d
    np.fill_diagonal(d, np.inf)
    return float((y[d.argmin(axis=1)] == y).mean())


def score_features(features: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> dict[str, float]:
    """The five cheap scores of one encoder's features of the labelled rows.

    LogME and H-score on the features; LEEP and NCE on a Gaussian-mixture posterior of the
    features (N-LEEP, ``transferability.source_posterior``); kNN as :func:`knn_score`.
    """
    y = np.unique(np.asarray(labels), return_inverse=True)[1]
    F = np.asarray(features, dtype=np.float64)
    F = F[:, F.std(0) > 1e-12] if (F.std(0) > 1e-12).any() else F[:, :1]
    scores = {"logme": logme(F, y), "h_score": h_score(F, y, shrinkage="ledoit_wolf")}
    probs = source_posterior(F, pca_components=min(16, F.shape[1]), gmm_components=max(2, len(np.unique(y))), seed=seed)
    scores |= {"leep": leep(probs, y), "nce": nce(probs.argmax(1), y), "knn": knn_score(F, y)}
    return {name: float(scores[name]) for name in SCORES}


def _standardised(features: np.ndarray) -> np.ndarray:
    F = np.asarray(features, dtype=np.float64)
    keep = F.std(0) > 1e-12
    F = F[:, keep] if keep.any() else F[:, :1]
    return (F - F.mean(0)) / (F.std(0) + 1e-8)


def cluster_agreement(
    features: np.ndarray, partial_labels: np.ndarray, n_classes: int, *, n_neighbors: int = 10, alpha: float = 0.8,
    seed: int = 0,
) -> float:
    """Transductive score of one encoder from very few labels: NMI between the labels
    spread from the labelled rows over the kNN graph of all rows and the k-means partition
    (``k = n_classes``) of the same rows; 1 when the classes seeded by the labels are the
    feature space's clusters, near 0 when unrelated.

    ``partial_labels`` holds a class ``0..n_classes-1`` for a labelled row and ``-1`` for an
    unlabelled one (whose true label this function therefore never sees). Features are
    standardised first, so the score is invariant to shifting and scaling each feature.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score
    from sklearn.semi_supervised import LabelSpreading

    Z = _standardised(features)
    partial = np.asarray(partial_labels)
    if (partial >= 0).sum() == 0 or len(Z) <= n_classes:
        return float("nan")
    spread = LabelSpreading(kernel="knn", n_neighbors=min(n_neighbors, len(Z) - 1), alpha=alpha, max_iter=100)
    transduction = spread.fit(Z, partial).transduction_
    clusters = KMeans(n_classes, n_init=3, random_state=seed).fit(Z).labels_
    return float(normalized_mutual_info_score(clusters, transduction))


def rank_by_scores(scores: pd.DataFrame, group: Sequence[str] = ("labels_per_class", "seed")) -> pd.DataFrame:
    """``scores`` with ``mean_rank`` (1 = best; the mean over the scores defined of each
    score's rank among the encoders of the group) and ``position`` (1, 2, ... by mean rank,
    ties broken by LogME). A group whose ``cluster_agreement`` is defined for every encoder
    is ranked by it alone (its ``mean_rank`` is that score's rank)."""
    frame = scores.copy()
    ranks = frame.groupby(list(group))[list(SCORES)].rank(ascending=False, method="average")
    frame["mean_rank"] = ranks.mean(axis=1, skipna=True)
    if TRANSDUCTIVE in frame:
        defined = frame[TRANSDUCTIVE].notna().groupby([frame[g] for g in group]).transform("all")
        transductive = frame.groupby(list(group))[TRANSDUCTIVE].rank(ascending=False, method="average")
        frame["mean_rank"] = frame["mean_rank"].where(~defined, transductive)
    frame = frame.sort_values([*group, "mean_rank", "logme"], ascending=[True] * len(group) + [True, False])
    frame["position"] = frame.groupby(list(group)).cumcount() + 1
    return frame.reset_index(drop=True)


@dataclass(frozen=True)
class Calibration:
    """measured ≈ intercept + slope_rank·(relative position) + slope_knn·kNN; ``halfwidth``
    is the 90 % quantile of the absolute residuals on the data sets it was fitted on."""

    intercept: float
    slope_rank: float
    slope_knn: float
    halfwidth: float
    n_rows: int
    datasets: tuple[str, ...]

    def predict(self, relative_position: np.ndarray, knn: np.ndarray) -> np.ndarray:
        knn = np.where(np.isfinite(knn), knn, 0.0)
        return np.clip(self.intercept + self.slope_rank * relative_position + self.slope_knn * knn, 0.0, 1.0)


def _design(frame: pd.DataFrame) -> np.ndarray:
    knn = frame["knn"].to_numpy(dtype=float)
    return np.column_stack([np.ones(len(frame)), frame["relative_position"], np.where(np.isfinite(knn), knn, 0.0)])


def fit_calibration(history: pd.DataFrame, exclude: str | None = None, min_rows: int = 6) -> Calibration | None:
    """Least squares of ``measured`` on ``relative_position`` and ``knn`` over ``history``
    (rows of :func:`verification` frames of other data sets; ``exclude`` is left out).
    ``None`` with fewer than ``min_rows`` rows or a single data set."""
    if history is None or history.empty:
        return None
    rows = history[(history["dataset"] != exclude) & history["measured"].notna()]
    if len(rows) < min_rows or rows["dataset"].nunique() < 2:
        return None
    A, b = _design(rows), rows["measured"].to_numpy(dtype=float)
    coef = np.linalg.lstsq(A, b, rcond=None)[0]
    residuals = np.abs(b - A @ coef)
    return Calibration(float(coef[0]), float(coef[1]), float(coef[2]), float(np.quantile(residuals, 0.9)),
                       len(rows), tuple(sorted(rows["dataset"].unique())))


def predict_accuracy(frame: pd.DataFrame, history: pd.DataFrame, exclude: str | None = None) -> pd.DataFrame:
    """``frame`` (scores with ``relative_position``) with ``predicted``, ``halfwidth`` and
    ``calibrated_on``: each budget calibrated on the other data sets' rows *of the same
    budget* (its own law and interval: one label per class is not five), the rows of all
    budgets pooled where that budget has too little history; ``nan`` without any."""
    frame = frame.assign(predicted=np.nan, halfwidth=np.nan, calibrated_on="")
    pooled = fit_calibration(history, exclude=exclude)
    budgets = history["labels_per_class"].astype(str) if history is not None and not history.empty else None
    for budget in frame["labels_per_class"].astype(str).unique():
        fit = (fit_calibration(history[budgets == budget], exclude=exclude) if budgets is not None else None) or pooled
        if fit is None:
            continue
        rows = frame["labels_per_class"].astype(str) == budget
        frame.loc[rows, "predicted"] = fit.predict(frame.loc[rows, "relative_position"].to_numpy(float),
                                                   frame.loc[rows, "knn"].to_numpy(dtype=float))
        frame.loc[rows, "halfwidth"] = fit.halfwidth
        frame.loc[rows, "calibrated_on"] = " ".join(fit.datasets)
    return frame


def relative_position(position: pd.Series, count: pd.Series) -> np.ndarray:
    """Position 1 of n → 0, position n → 1 (0 when a single candidate)."""
    return ((position - 1) / np.maximum(count - 1, 1)).to_numpy(dtype=float)


def rank_methods(results: pd.DataFrame, budgets: Sequence[str], exclude_dataset: str | None = None) -> pd.DataFrame:
    """Methods ranked per label budget by mean test accuracy over the data sets measured.

    ``results`` is the long results table (any pipelines); only ``metric == accuracy`` and
    ``split == test`` rows count, the mean over seeds per data set first, then the mean,
    std and count over data sets. A budget with no evidence has no rows.
    """
    need = {"pipeline", "dataset", "method", "labels_per_class", "metric", "split", "value"}
    columns = ["labels_per_class", "pipeline", "method", "mean_accuracy", "std_accuracy", "datasets", "rank"]
    if results is None or results.empty or need - set(results.columns):
        return pd.DataFrame(columns=columns)
    rows = results[(results["metric"] == "accuracy") & (results["split"] == "test") & ~results["dataset"].astype(str).str.contains("->")]
    if exclude_dataset is not None:
        rows = rows[rows["dataset"] != exclude_dataset]
    rows = rows.assign(labels_per_class=rows["labels_per_class"].astype(str))
    rows = rows[rows["labels_per_class"].isin([str(b) for b in budgets])]
    per_dataset = rows.groupby(["labels_per_class", "pipeline", "method", "dataset"], as_index=False)["value"].mean()
    table = per_dataset.groupby(["labels_per_class", "pipeline", "method"], as_index=False).agg(
        mean_accuracy=("value", "mean"), std_accuracy=("value", "std"), datasets=("dataset", "nunique"))
    table["rank"] = table.groupby("labels_per_class")["mean_accuracy"].rank(ascending=False, method="min").astype(int)
    return table.sort_values(["labels_per_class", "rank"]).reset_index(drop=True)[columns]


def regret(predicted_order: Sequence[str], measured: Mapping[str, float]) -> float:
    """Best measured accuracy minus that of the first choice of ``predicted_order``."""
    return float(max(measured.values()) - measured[predicted_order[0]])


def rank_correlation(predicted: Sequence[float], measured: Sequence[float]) -> float:
    """Spearman's rho between predicted and measured values (``nan`` if either is constant)."""
    predicted, measured = np.asarray(predicted, float), np.asarray(measured, float)
    if len(predicted) < 3 or np.ptp(predicted) == 0 or np.ptp(measured) == 0:
        return float("nan")
    return float(spearmanr(predicted, measured).statistic)


def probe_accuracy(features: np.ndarray, y: np.ndarray, labelled: np.ndarray, test: np.ndarray, seed: int = 0) -> float:
    """Test accuracy of a logistic-regression probe on standardised features, fitted on
    the ``labelled`` rows: what a recommended encoder measures when it is run for real."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    model.fit(features[labelled], y[labelled])
    return float(model.score(features[test], y[test]))


def usable(encoder: str, labels_per_class: str, seed: int) -> bool:
    """A supervised-contrastive checkpoint saw the labels of one subset: it is a candidate
    for that budget and seed only (any other would use labels the budget does not have)."""
    return not encoder.startswith("supcon_lpc") or encoder == f"supcon_lpc{labels_per_class}_seed{seed}"


def _transductive_rows(rows: np.ndarray, train_rows: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """The labelled ``rows`` and at most ``max_rows`` train rows in all (a fixed draw of the others)."""
    others = np.setdiff1d(train_rows, rows)
    if len(rows) + len(others) > max_rows:
        others = np.random.default_rng(seed).choice(others, max(0, max_rows - len(rows)), replace=False)
    return np.sort(np.concatenate([rows, others]))


def _cluster_scores(
    features: Mapping[str, np.ndarray], y: np.ndarray, rows: np.ndarray, train_rows: np.ndarray | None,
    transductive_below: int, max_rows: int, seed: int,
) -> dict[str, float]:
    """:func:`cluster_agreement` of every encoder where the budget has fewer than
    ``transductive_below`` labelled rows in some class (else ``nan``); only ``y[rows]`` is read."""
    classes, counts = np.unique(y[rows], return_counts=True)
    if train_rows is None or counts.min() >= transductive_below:
        return {name: float("nan") for name in features}
    pool = _transductive_rows(rows, train_rows, max_rows, seed)
    partial = np.full(len(pool), -1)
    partial[np.isin(pool, rows)] = np.searchsorted(classes, y[pool[np.isin(pool, rows)]])
    return {name: cluster_agreement(F[pool], partial, len(classes), seed=seed) for name, F in features.items()}


def score_budgets(
    features: Mapping[str, np.ndarray], y: np.ndarray, subsets: Sequence[tuple[str, int, np.ndarray]],
    *, max_rows: int = 2000, seed: int = 0, train_rows: np.ndarray | None = None, transductive_below: int = 2,
) -> pd.DataFrame:
    """:func:`score_features` of every usable encoder on the labelled rows of each
    ``(labels_per_class, seed, rows)``, at most ``max_rows`` rows (a fixed random draw);
    with ``train_rows``, a budget with fewer than ``transductive_below`` labelled rows in a
    class also gets :func:`cluster_agreement` over the train rows, which then ranks it."""
    records = []
    for budget, subset_seed, rows in subsets:
        if len(rows) > max_rows:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
        candidates = {name: F for name, F in features.items() if usable(name, budget, subset_seed)}
        transductive = _cluster_scores(candidates, y, rows, train_rows, transductive_below, max_rows, seed)
        for name, F in candidates.items():
            scores = score_features(F[rows], y[rows], seed=seed)
            records.append({"encoder": name, "labels_per_class": budget, "seed": subset_seed,
                            "labelled_rows": len(rows), **scores, TRANSDUCTIVE: transductive[name]})
    return rank_by_scores(pd.DataFrame(records))


def verify_choices(
    features: Mapping[str, np.ndarray], y: np.ndarray, ranked: pd.DataFrame,
    subsets: Sequence[tuple[str, int, np.ndarray]], test: np.ndarray, *, top_k: int = 3, others: int = 2, seed: int = 0,
) -> pd.DataFrame:
    """Measure the ``top_k`` ranked encoders and ``others`` drawn from the rest, per budget and
    seed: the linear-probe test accuracy (:func:`probe_accuracy`) next to the predicted order."""
    records = []
    rng = np.random.default_rng(seed)
    for budget, subset_seed, rows in subsets:
        group = ranked[(ranked["labels_per_class"] == budget) & (ranked["seed"] == subset_seed)]
        rest = group["encoder"].tolist()[top_k:]
        chosen = set(group["encoder"].tolist()[:top_k]) | set(rng.permutation(rest)[:others].tolist())
        for row in group[group["encoder"].isin(chosen)].itertuples():
            measured = probe_accuracy(features[row.encoder], y, rows, test, seed=subset_seed)
            records.append({"labels_per_class": budget, "seed": subset_seed, "encoder": row.encoder,
                            "position": row.position, "candidates": len(group), "knn": row.knn, "measured": measured})
    frame = pd.DataFrame(records)
    frame["relative_position"] = relative_position(frame["position"], frame["candidates"])
    return frame


def _interval(group: pd.DataFrame, choice: str) -> dict[str, float]:
    """The recommended choice's predicted accuracy, its error, and whether the measured
    accuracy fell inside the predicted interval (``nan`` without a prediction)."""
    if "predicted" not in group:
        return {"predicted": np.nan, "halfwidth": np.nan, "abs_error": np.nan, "in_interval": np.nan}
    row = group[group["encoder"] == choice].iloc[0]
    error = abs(row["measured"] - row["predicted"])
    return {"predicted": row["predicted"], "halfwidth": row["halfwidth"], "abs_error": error,
            "in_interval": float(error <= row["halfwidth"]) if np.isfinite(error) else np.nan}


def summarise_verification(verification: pd.DataFrame) -> pd.DataFrame:
    """Per budget and seed: the regret of the first choice and Spearman's rho between the
    predicted order and the measured accuracies (of the candidates measured)."""
    records = []
    for (budget, seed), group in verification.groupby(["labels_per_class", "seed"], sort=False):
        measured = dict(zip(group["encoder"], group["measured"]))
        order = group.sort_values("position")["encoder"].tolist()
        best = max(measured, key=measured.get)
        records.append({
            "labels_per_class": budget, "seed": seed, "recommended": order[0], "truly_best": best,
            "recommended_accuracy": measured[order[0]], "best_accuracy": measured[best],
            "regret": regret(order, measured), "spearman": rank_correlation(-group["position"], group["measured"]),
            "measured_candidates": len(group), **_interval(group, order[0]),
        })
    return pd.DataFrame(records)


def attach_predictions(measured: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """``measured`` with each row's ``predicted`` accuracy and ``halfwidth`` (interval)."""
    keys = ["labels_per_class", "seed", "encoder"]
    return measured.merge(predictions[[*keys, "predicted", "halfwidth"]], on=keys, how="left")


def _budget_key(label: str) -> float:
    return float("inf") if str(label) == "all" else float(label)


def recommendation_table(predictions: pd.DataFrame, method_ranking: pd.DataFrame, runners_up: int = 2) -> pd.DataFrame:
    """Per budget: the encoders in recommended order (mean over seeds of the mean rank) with
    predicted accuracy and interval, then the methods the results tables measured best at
    that budget (mean ± std over the other data sets). ``rank`` 1 is the choice."""
    records = []
    for budget in sorted(predictions["labels_per_class"].astype(str).unique(), key=_budget_key):
        group = predictions[predictions["labels_per_class"].astype(str) == budget]
        encoders = group.groupby("encoder").agg(mean_rank=("mean_rank", "mean"), predicted=("predicted", "mean"),
                                                halfwidth=("halfwidth", "mean"), seeds=("seed", "nunique"),
                                                calibrated_on=("calibrated_on", "first"))
        transductive = TRANSDUCTIVE in group and group[TRANSDUCTIVE].notna().all()
        basis = f"by {TRANSDUCTIVE.replace('_', ' ')}" if transductive else f"over {len(SCORES)} scores"
        for rank, (name, row) in enumerate(encoders.sort_values("mean_rank").head(1 + runners_up).iterrows(), start=1):
            evidence = f"mean rank {row.mean_rank:.2f} {basis}, {int(row.seeds)} seed(s)"
            calibrated = row.calibrated_on if isinstance(row.calibrated_on, str) else ""
            evidence += f"; calibrated on {calibrated}" if calibrated else "; no calibration yet"
            records.append({"labels_per_class": budget, "kind": "encoder", "rank": rank, "choice": name,
                            "predicted_accuracy": row.predicted, "low": row.predicted - row.halfwidth,
                            "high": row.predicted + row.halfwidth, "evidence": evidence})
        methods = method_ranking[method_ranking["labels_per_class"].astype(str) == budget].head(1 + runners_up)
        for rank, row in enumerate(methods.itertuples(), start=1):
            spread = row.std_accuracy if np.isfinite(row.std_accuracy) else np.nan
            records.append({"labels_per_class": budget, "kind": "method", "rank": rank, "choice": f"{row.pipeline}:{row.method}",
                            "predicted_accuracy": row.mean_accuracy, "low": row.mean_accuracy - spread,
                            "high": row.mean_accuracy + spread, "evidence": f"measured on {row.datasets} other data set(s)"})
    columns = ["labels_per_class", "kind", "rank", "choice", "predicted_accuracy", "low", "high", "evidence"]
    return pd.DataFrame(records, columns=columns)
