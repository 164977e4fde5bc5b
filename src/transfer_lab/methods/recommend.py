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
  budget has history (:func:`predict_accuracy`). The interval is split-conformal: every
  history row's residual comes from the law fitted *without its data set*
  (:func:`lodo_residuals`), divided by √(p(1−p)) of its prediction (floored at 0.1), each data
  set weighing once; the half-width is that score's conformal 90 % quantile
  (:func:`conformal_quantile`) times the new prediction's √(p(1−p)). The interval is
  group-conditional (Mondrian conformal, Vovk et al. 2005 ch. 4): only the scores of data sets
  of the new one's input kind (:func:`input_kind`: image, sequence or table, from the data's
  shape and modality) calibrate it, so a 1-D data set is never given an interval by image
  data sets. Without such history (fewer than ``min_datasets`` verified data sets of the kind,
  or too few rows for the finite-sample level) the interval is ``nan``: no interval, said so.
* **Choices run for real.** :func:`rank_choices` orders encoder × method choices (the
  runnable feature-level methods ordered by the leaderboard, :func:`order_methods`);
  :func:`verify_method_choices` runs the top ones and a few others (:func:`method_accuracy`).
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
CLUSTER_SPREADING_MAX_ITER = 2000  # enough for cluster_agreement's spreading to converge (see there)
BUILTIN_ENCODERS = ("pixels", "pca", "random_cnn")
INPUT_KINDS = ("image", "sequence", "table")

__all__ = [
    "BUILTIN_ENCODERS", "Calibration", "INPUT_KINDS", "INTERVAL_SCALES", "LINEAR_PROBE", "SCORES", "TRANSDUCTIVE", "candidate_features", "cluster_agreement",
    "conformal_quantile", "fit_calibration", "input_kind", "inside_interval", "interval_scale", "knn_score", "lodo_residuals", "MEASURED_COLUMNS", "method_accuracy", "order_methods",
    "predict_accuracy", "rank_by_scores", "rank_choices", "rank_correlation", "rank_methods", "regret", "resize_inputs", "score_features",
    "verify_method_choices",
]


def input_kind(shape: Sequence[int], table: bool = False) -> str:
    """The kind of input of a data set whose ``X`` has ``shape``, from its shape and modality
    (never its name): ``table`` for a table (``Dataset.table``; stored ``(n, 1, F)`` like a
    signal, so the shape alone cannot tell), ``image`` for ``(n, C, H, W)``, ``sequence`` for
    ``(n, C, L)``. The unit of the interval's group-conditional calibration."""
    if table:
        return "table"
    kinds = {4: "image", 3: "sequence"}
    if len(shape) not in kinds:
        raise ValueError(f"inputs of shape {tuple(shape)}: expected (n, C, H, W) images or (n, C, L) sequences")
    return kinds[len(shape)]


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
    features: np.ndarray, partial_labels: np.ndarray, n_classes: int, *, n_neighbors: int = 7, alpha: float = 0.99,
    seed: int = 0,
) -> float:
    """Transductive score of one encoder from very few labels: NMI between the labels
    spread from the labelled rows over the kNN graph of all rows and the k-means partition
    (``k = n_classes``) of the same rows; 1 when the classes seeded by the labels are the
    feature space's clusters, near 0 when unrelated.

    ``partial_labels`` holds a class ``0..n_classes-1`` for a labelled row and ``-1`` for an
    unlabelled one (whose true label this function therefore never sees). Features are
    standardised first, so the score is invariant to shifting and scaling each feature.
    ``n_neighbors`` = 7 (``LabelSpreading``'s default) and ``alpha`` = 0.99 (Zhou et al.'s value):
    fixed a priori, never chosen on a data set of this project.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import normalized_mutual_info_score
    from sklearn.semi_supervised import LabelSpreading

    Z = _standardised(features)
    partial = np.asarray(partial_labels)
    if (partial >= 0).sum() == 0 or len(Z) <= n_classes:
        return float("nan")
    # max_iter: at alpha 0.99 each iteration keeps 99 % of the previous labels, so the spreading
    # needs hundreds of iterations (222-856 measured on digits-like features from 1,797 to 19,767
    # rows at 1 label per class); scikit-learn's default of 30, or 100, stops it half-way.
    spread = LabelSpreading(kernel="knn", n_neighbors=min(n_neighbors, len(Z) - 1), alpha=alpha,
                            max_iter=CLUSTER_SPREADING_MAX_ITER)
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
    """measured ≈ intercept + slope_rank·(relative position) + slope_knn·kNN, with a
    split-conformal interval: ``predicted ± quantile · scale(predicted)``.

    ``quantile`` is the conformal quantile (level ``1 - alpha``) of the *leave-one-data-set-out*
    scores |measured − prediction| / scale(prediction) of the data sets it was fitted on: each
    row's prediction comes from the law fitted without that row's data set
    (:func:`lodo_residuals`), so no interval is as narrow as an in-sample fit makes it.
    ``scale`` is ``"binomial"`` (√(p(1−p)), floored at 0.1: an accuracy varies most near 0.5)
    or ``"none"`` (1). ``interval_on`` names the data sets whose scores made the quantile (those
    of ``kind``, the new data set's input kind, or all when ``kind`` is ``None``); ``quantile``
    is ``nan`` (no interval) when they are too few."""

    intercept: float
    slope_rank: float
    slope_knn: float
    quantile: float
    n_rows: int
    datasets: tuple[str, ...]
    scale: str = "binomial"
    kind: str | None = None
    interval_on: tuple[str, ...] = ()

    def predict(self, relative_position: np.ndarray, knn: np.ndarray) -> np.ndarray:
        knn = np.where(np.isfinite(knn), knn, 0.0)
        return np.clip(self.intercept + self.slope_rank * relative_position + self.slope_knn * knn, 0.0, 1.0)

    def halfwidth(self, predicted: np.ndarray) -> np.ndarray:
        return self.quantile * interval_scale(np.asarray(predicted, dtype=float), self.scale)

    @property
    def typical_halfwidth(self) -> float:
        """The half-width at a predicted accuracy of 0.5 (the widest, for scale ``binomial``)."""
        return float(self.halfwidth(np.array([0.5]))[0])


INTERVAL_SCALES = ("binomial", "none")


def interval_scale(predicted: np.ndarray, scale: str) -> np.ndarray:
    """The difficulty scale of a prediction: √(p(1−p)) floored at 0.1, or 1."""
    if scale == "none":
        return np.ones_like(predicted, dtype=float)
    if scale != "binomial":
        raise ValueError(f"interval scale {scale!r}: expected one of {INTERVAL_SCALES}")
    p = np.clip(predicted, 0.0, 1.0)
    return np.maximum(np.sqrt(p * (1.0 - p)), 0.1)


def _design(frame: pd.DataFrame) -> np.ndarray:
    knn = frame["knn"].to_numpy(dtype=float)
    return np.column_stack([np.ones(len(frame)), frame["relative_position"], np.where(np.isfinite(knn), knn, 0.0)])


def _least_squares(rows: pd.DataFrame) -> np.ndarray:
    return np.linalg.lstsq(_design(rows), rows["measured"].to_numpy(dtype=float), rcond=None)[0]


def lodo_residuals(rows: pd.DataFrame) -> pd.DataFrame:
    """Each row's leave-one-data-set-out prediction: the least-squares law fitted on the rows
    of the *other* data sets only (``nan`` where they are fewer than 3 rows); columns
    ``dataset``, ``measured``, ``predicted``, ``weight`` (1 / rows of its data set, so that
    every data set counts once)."""
    out = rows[["dataset", "measured"]].copy()
    out["predicted"] = np.nan
    for dataset in rows["dataset"].unique():
        mine = (rows["dataset"] == dataset).to_numpy()
        if (~mine).sum() < 3:
            continue
        coef = _least_squares(rows[~mine])
        out.loc[mine, "predicted"] = np.clip(_design(rows[mine]) @ coef, 0.0, 1.0)
    out["weight"] = 1.0 / out.groupby("dataset")["dataset"].transform("size")
    return out


def conformal_quantile(scores: np.ndarray, weights: np.ndarray, alpha: float = 0.1) -> float:
    """The weighted split-conformal quantile: the smallest score whose weighted empirical
    distribution reaches ``(1 - alpha)(1 + 1/n)`` (the finite-sample correction of split
    conformal prediction, Vovk et al. 2005, Lei et al. JASA 2018); ``inf`` when that level
    exceeds 1 (too few scores for the coverage asked)."""
    scores, weights = np.asarray(scores, float), np.asarray(weights, float)
    keep = np.isfinite(scores)
    scores, weights = scores[keep], weights[keep]
    if len(scores) == 0:
        return float("inf")
    level = (1.0 - alpha) * (1.0 + 1.0 / len(scores))
    if level > 1.0:
        return float("inf")
    order = np.argsort(scores)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(scores[order][min(np.searchsorted(cumulative, level - 1e-12), len(scores) - 1)])


def _of_kind(rows: pd.DataFrame, kind: str | None) -> np.ndarray:
    """Which history rows are of input ``kind`` (all when ``None``; none of a row whose kind
    was not recorded)."""
    if kind is None:
        return np.ones(len(rows), dtype=bool)
    kinds = rows["input_kind"] if "input_kind" in rows else pd.Series("", index=rows.index)
    return kinds.fillna("").astype(str).eq(kind).to_numpy()


def fit_calibration(
    history: pd.DataFrame, exclude: str | None = None, min_rows: int = 6, *, alpha: float = 0.1, scale: str = "binomial",
    kind: str | None = None, min_datasets: int = 2,
) -> Calibration | None:
    """Least squares of ``measured`` on ``relative_position`` and ``knn`` over ``history``
    (rows of :func:`verification` frames of other data sets; ``exclude`` is left out, its rows
    never read), and the conformal quantile of the leave-one-data-set-out scores of the data
    sets of input ``kind`` only (Mondrian conformal; all when ``kind`` is ``None``). The
    quantile is ``nan`` (no interval) with fewer than ``min_datasets`` such data sets or too
    few of their rows for level ``1 - alpha`` (:func:`conformal_quantile` infinite).
    ``None`` with fewer than ``min_rows`` rows or a single data set."""
    if history is None or history.empty:
        return None
    rows = history[(history["dataset"] != exclude) & history["measured"].notna()]
    if len(rows) < min_rows or rows["dataset"].nunique() < 2:
        return None
    coef = _least_squares(rows)
    held = lodo_residuals(rows)
    scores = np.abs(held["measured"] - held["predicted"]).to_numpy() / interval_scale(held["predicted"].to_numpy(), scale)
    same = _of_kind(rows, kind)
    interval_on = tuple(sorted(rows.loc[same, "dataset"].unique()))
    quantile = conformal_quantile(scores[same], held["weight"].to_numpy()[same], alpha) if len(interval_on) >= min_datasets else np.inf
    return Calibration(float(coef[0]), float(coef[1]), float(coef[2]), quantile if np.isfinite(quantile) else float("nan"),
                       len(rows), tuple(sorted(rows["dataset"].unique())), scale, kind, interval_on if np.isfinite(quantile) else ())


def predict_accuracy(
    frame: pd.DataFrame, history: pd.DataFrame, exclude: str | None = None, *, alpha: float = 0.1, scale: str = "binomial",
    kind: str | None = None, min_datasets: int = 2,
) -> pd.DataFrame:
    """``frame`` (scores with ``relative_position``) with ``predicted``, ``halfwidth``,
    ``calibrated_on`` (the data sets of the law) and ``interval_on`` (those of input ``kind``
    whose scores made the interval; :func:`fit_calibration`): each budget calibrated on the
    other data sets' rows *of the same budget* (its own law and interval: one label per class
    is not five), the rows of all budgets pooled where that budget has too little history;
    ``nan`` without any; ``halfwidth`` ``nan`` (no interval) without enough data sets of the kind."""
    frame = frame.assign(predicted=np.nan, halfwidth=np.nan, calibrated_on="", interval_on="")
    options = {"exclude": exclude, "alpha": alpha, "scale": scale, "kind": kind, "min_datasets": min_datasets}
    pooled = fit_calibration(history, **options)
    budgets = history["labels_per_class"].astype(str) if history is not None and not history.empty else None
    for budget in frame["labels_per_class"].astype(str).unique():
        fit = (fit_calibration(history[budgets == budget], **options) if budgets is not None else None) or pooled
        if fit is None:
            continue
        rows = frame["labels_per_class"].astype(str) == budget
        predicted = fit.predict(frame.loc[rows, "relative_position"].to_numpy(float), frame.loc[rows, "knn"].to_numpy(dtype=float))
        frame.loc[rows, "predicted"] = predicted
        frame.loc[rows, "halfwidth"] = fit.halfwidth(predicted)
        frame.loc[rows, "calibrated_on"] = " ".join(fit.datasets)
        frame.loc[rows, "interval_on"] = " ".join(fit.interval_on)
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
    transductive_below: int, max_rows: int, seed: int, settings: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """:func:`cluster_agreement` of every encoder where the budget has fewer than
    ``transductive_below`` labelled rows in some class (else ``nan``); only ``y[rows]`` is read."""
    classes, counts = np.unique(y[rows], return_counts=True)
    if train_rows is None or counts.min() >= transductive_below:
        return {name: float("nan") for name in features}
    pool = _transductive_rows(rows, train_rows, max_rows, seed)
    partial = np.full(len(pool), -1)
    partial[np.isin(pool, rows)] = np.searchsorted(classes, y[pool[np.isin(pool, rows)]])
    return {name: cluster_agreement(F[pool], partial, len(classes), seed=seed, **dict(settings or {})) for name, F in features.items()}


def score_budgets(
    features: Mapping[str, np.ndarray], y: np.ndarray, subsets: Sequence[tuple[str, int, np.ndarray]],
    *, max_rows: int = 2000, seed: int = 0, train_rows: np.ndarray | None = None, transductive_below: int = 2,
    cluster_settings: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """:func:`score_features` of every usable encoder on the labelled rows of each
    ``(labels_per_class, seed, rows)``, at most ``max_rows`` rows (a fixed random draw);
    with ``train_rows``, a budget with fewer than ``transductive_below`` labelled rows in a
    class also gets :func:`cluster_agreement` (``cluster_settings``: its ``n_neighbors``,
    ``alpha``) over the train rows, which then ranks it."""
    records = []
    for budget, subset_seed, rows in subsets:
        if len(rows) > max_rows:
            rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
        candidates = {name: F for name, F in features.items() if usable(name, budget, subset_seed)}
        transductive = _cluster_scores(candidates, y, rows, train_rows, transductive_below, max_rows, seed, cluster_settings)
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


def inside_interval(measured, predicted, halfwidth) -> np.ndarray:
    """1.0 where the measured accuracy lies within ``halfwidth`` of the predicted one, 0.0
    outside, ``nan`` without a prediction or without an interval (such a case is never
    counted as covered). Elementwise; scalars give a 0-d array."""
    error = np.abs(np.asarray(measured, dtype=float) - np.asarray(predicted, dtype=float))
    halfwidth = np.asarray(halfwidth, dtype=float)
    return np.where(np.isfinite(error) & np.isfinite(halfwidth), (error <= halfwidth).astype(float), np.nan)


def _interval(group: pd.DataFrame, choice: str) -> dict[str, float]:
    """The recommended choice's predicted accuracy, its error, and whether the measured
    accuracy fell inside the predicted interval (``nan`` without a prediction or without an
    interval: such a case is never counted as covered)."""
    if "predicted" not in group:
        return {"predicted": np.nan, "halfwidth": np.nan, "abs_error": np.nan, "in_interval": np.nan}
    row = group[group["encoder"] == choice].iloc[0]
    return {"predicted": row["predicted"], "halfwidth": row["halfwidth"], "abs_error": abs(row["measured"] - row["predicted"]),
            "in_interval": float(inside_interval(row["measured"], row["predicted"], row["halfwidth"]))}


def summarise_verification(verification: pd.DataFrame, key: str = "encoder") -> pd.DataFrame:
    """Per budget and seed: the regret of the first choice and Spearman's rho between the
    predicted order and the measured accuracies (of the candidates measured); ``key`` names
    a candidate (``encoder``, or ``choice`` for :func:`verify_method_choices`)."""
    records = []
    for (budget, seed), group in verification.groupby(["labels_per_class", "seed"], sort=False):
        group = group.drop(columns="encoder", errors="ignore").rename(columns={key: "encoder"}) if key != "encoder" else group
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


LINEAR_PROBE = "linear_probe"


def method_accuracy(
    spec: Mapping, features: np.ndarray, y: np.ndarray, labelled: np.ndarray, unlabelled: np.ndarray, test: np.ndarray, seed: int = 0,
) -> float:
    """Test accuracy of one feature-level method run for real on an encoder's features:
    ``linear_probe`` (:func:`probe_accuracy`, labelled rows only) or a classic semi-supervised
    method (``methods.semi_supervised.make_estimator``: ``spec`` gives ``method``, ``params``,
    ``base``) fitted on the standardised labelled rows and the ``unlabelled`` train rows, whose
    labels are replaced by -1 before the method sees them."""
    if spec["method"] == LINEAR_PROBE:
        return probe_accuracy(features, y, labelled, test, seed=seed)
    from sklearn.preprocessing import StandardScaler

    from transfer_lab.methods.semi_supervised.factory import make_estimator

    rows = np.concatenate([labelled, unlabelled])
    scaler = StandardScaler().fit(features[rows])
    target = np.concatenate([y[labelled], np.full(len(unlabelled), -1)])
    base = spec.get("base")
    model = make_estimator(spec["method"], spec.get("params") or {}, seed=seed, base=(base["kind"], base.get("params") or {}) if base else None)
    model.fit(scaler.transform(features[rows]), target)
    return float((model.predict(scaler.transform(features[test])) == y[test]).mean())


def order_methods(specs: Mapping[str, Mapping], method_ranking: pd.DataFrame, budget: str) -> list[str]:
    """The runnable methods (``specs``' names) in the order the leaderboard puts them at
    ``budget``: each by the best mean accuracy among the ranked methods its ``evidence`` names
    (the name itself, or followed by ``_``: ``label_propagation`` counts
    ``label_propagation_simclr``); methods without evidence after, in the order given."""
    ranked = method_ranking[method_ranking["labels_per_class"].astype(str) == str(budget)] if not method_ranking.empty else method_ranking
    evidence = {}
    for name, spec in specs.items():
        names = ranked["method"].astype(str) if not ranked.empty else pd.Series(dtype=str)
        hits = [names.eq(e) | names.str.startswith(f"{e}_") for e in spec.get("evidence") or [name]]
        match = np.logical_or.reduce(hits) if len(names) else np.zeros(0, bool)
        evidence[name] = float(ranked.loc[match, "mean_accuracy"].max()) if match.any() else -np.inf
    return sorted(specs, key=lambda name: (-evidence[name], list(specs).index(name)))


def rank_choices(predictions: pd.DataFrame, method_orders: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Encoder × method choices per budget and seed, ordered by the mean of the encoder's
    position and the method's (``method_orders[budget]``), ties broken by the encoder's
    position: the recommended choice (``position`` 1) is the first encoder with the first method."""
    records = []
    predictions = predictions.assign(labels_per_class=predictions["labels_per_class"].astype(str))
    for (budget, seed), group in predictions.groupby(["labels_per_class", "seed"], sort=False):
        for row in group.itertuples():
            for m, method in enumerate(method_orders[str(budget)], start=1):
                records.append({"labels_per_class": budget, "seed": seed, "encoder": row.encoder, "method": method,
                                "choice": f"{row.encoder} + {method}", "encoder_position": row.position, "method_position": m})
    frame = pd.DataFrame(records)
    frame["score"] = (frame["encoder_position"] + frame["method_position"]) / 2
    frame = frame.sort_values(["labels_per_class", "seed", "score", "encoder_position", "method_position"], kind="stable")
    frame["position"] = frame.groupby(["labels_per_class", "seed"]).cumcount() + 1
    return frame.reset_index(drop=True)


def verify_method_choices(
    features: Mapping[str, np.ndarray], y: np.ndarray, choices: pd.DataFrame, specs: Mapping[str, Mapping],
    subsets: Sequence[tuple[str, int, np.ndarray]], train: np.ndarray, test: np.ndarray,
    *, top_k: int = 3, others: int = 2, max_unlabelled: int = 2000, seed: int = 0,
) -> pd.DataFrame:
    """Run the ``top_k`` ranked encoder × method choices (:func:`rank_choices`) and ``others``
    drawn from the rest for real, per budget and seed (:func:`method_accuracy`; at most
    ``max_unlabelled`` unlabelled train rows, a fixed draw); ``measured`` test accuracy."""
    records, rng = [], np.random.default_rng(seed)
    for budget, subset_seed, rows in subsets:
        group = choices[(choices["labels_per_class"].astype(str) == str(budget)) & (choices["seed"] == subset_seed)]
        picked = set(group["choice"].tolist()[:top_k]) | set(rng.permutation(group["choice"].tolist()[top_k:])[:others].tolist())
        unlabelled = np.setdiff1d(train, rows)
        if len(unlabelled) > max_unlabelled:
            unlabelled = np.sort(np.random.default_rng(seed).choice(unlabelled, max_unlabelled, replace=False))
        for row in group[group["choice"].isin(picked)].itertuples():
            measured = method_accuracy(specs[row.method], features[row.encoder], y, rows, unlabelled, test, seed=subset_seed)
            records.append({"labels_per_class": budget, "seed": subset_seed, "choice": row.choice, "encoder": row.encoder,
                            "method": row.method, "position": row.position, "candidates": len(group), "measured": measured})
    return pd.DataFrame(records)


def attach_predictions(measured: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """``measured`` with each row's ``predicted`` accuracy and ``halfwidth`` (interval)."""
    keys = ["labels_per_class", "seed", "encoder"]
    return measured.merge(predictions[[*keys, "predicted", "halfwidth"]], on=keys, how="left")


def _budget_key(label: str) -> float:
    return float("inf") if str(label) == "all" else float(label)


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _calibration_evidence(row) -> str:
    """What the predicted accuracy and its interval rest on, in words."""
    calibrated, interval_on, kind = _text(row.calibrated_on), _text(row.interval_on), _text(row.input_kind) or "unknown"
    if not calibrated:
        return "; no calibration yet"
    if not interval_on:
        return f"; calibrated on {calibrated}; no calibration data of this kind ({kind}): no interval"
    return f"; calibrated on {calibrated}; interval from {len(interval_on.split())} {kind} data set(s)"


MEASURED_COLUMNS = ("measured_accuracy", "in_interval", "measured_rank", "measured_seeds")
RECOMMENDATION_COLUMNS = ("labels_per_class", "kind", "rank", "choice", "predicted_accuracy", "low", "high", *MEASURED_COLUMNS, "evidence")


def _measured_ranks(measured: pd.DataFrame, key: str) -> pd.DataFrame:
    """``measured`` (rows of :func:`verify_choices` or :func:`verify_method_choices`) with
    ``measured_rank``: 1 for the best measured accuracy among the candidates run at the same
    budget and seed (ties share the best rank), and ``hit``: inside the row's interval
    (``nan`` without one)."""
    frame = measured.assign(labels_per_class=measured["labels_per_class"].astype(str), key=measured[key])
    frame["measured_rank"] = frame.groupby(["labels_per_class", "seed"])["measured"].rank(ascending=False, method="min")
    if {"predicted", "halfwidth"} <= set(frame.columns):
        frame["hit"] = inside_interval(frame["measured"], frame["predicted"], frame["halfwidth"])
    else:
        frame["hit"] = np.nan
    return frame


def _measured(frame: pd.DataFrame | None, budget: str, name: str) -> dict[str, float]:
    """The measured columns of one recommendation row: the mean over the seeds it was run in
    of its measured accuracy, of ``hit`` (the fraction of those seeds inside the interval)
    and of its measured rank; empty (``nan``) when it was never run."""
    rows = frame[(frame["labels_per_class"] == budget) & (frame["key"] == name)] if frame is not None and not frame.empty else ()
    if len(rows) == 0:
        return dict.fromkeys(MEASURED_COLUMNS, np.nan)
    return {"measured_accuracy": float(rows["measured"].mean()), "in_interval": float(rows["hit"].mean()) if rows["hit"].notna().any() else np.nan,
            "measured_rank": float(rows["measured_rank"].mean()), "measured_seeds": len(rows)}


def _choice_records(choices: pd.DataFrame, budget: str, runners_up: int) -> list[dict]:
    """The encoder × method choices run for real at ``budget``, by mean position (over the
    seeds each was run in); measured, never predicted (only the linear probe has a law)."""
    rows = choices[choices["labels_per_class"] == budget]
    order = rows.groupby("key").agg(position=("position", "mean"), candidates=("candidates", "max"), seeds=("seed", "nunique"))
    records = []
    for rank, (name, row) in enumerate(order.sort_values("position", kind="stable").head(1 + runners_up).iterrows(), start=1):
        evidence = (f"mean position {row.position:.2f} of {int(row.candidates)} encoder x method choices "
                    f"(mean of the encoder's and the method's ranks), run for real in {int(row.seeds)} seed(s)")
        records.append({"labels_per_class": budget, "kind": "choice", "rank": rank, "choice": name, "predicted_accuracy": np.nan,
                        "low": np.nan, "high": np.nan, **_measured(choices, budget, name), "evidence": evidence})
    return records


def recommendation_table(
    predictions: pd.DataFrame, method_ranking: pd.DataFrame, runners_up: int = 2, verification: pd.DataFrame | None = None,
    choice_verification: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per budget: the encoders in recommended order (mean over seeds of the mean rank) with
    predicted accuracy and interval, then the methods the results tables measured best at
    that budget (mean ± std over the other data sets). ``rank`` 1 is the choice.

    With the measurements of ``recommend.verify`` (``verification``: encoders run with a linear
    probe, :func:`verify_choices` with ``predicted`` / ``halfwidth``; ``choice_verification``:
    :func:`verify_method_choices`), the rows run for real get the :data:`MEASURED_COLUMNS`
    (empty otherwise), and the encoder × method choices run for real follow (``kind``
    ``choice``, measured only)."""
    measured = _measured_ranks(verification, "encoder") if verification is not None and not verification.empty else None
    choices = _measured_ranks(choice_verification, "choice") if choice_verification is not None and not choice_verification.empty else None
    records = []
    for budget in sorted(predictions["labels_per_class"].astype(str).unique(), key=_budget_key):
        group = predictions[predictions["labels_per_class"].astype(str) == budget]
        group = group.assign(**{c: group[c] if c in group else "" for c in ("calibrated_on", "interval_on", "input_kind")})
        encoders = group.groupby("encoder").agg(mean_rank=("mean_rank", "mean"), predicted=("predicted", "mean"),
                                                halfwidth=("halfwidth", "mean"), seeds=("seed", "nunique"),
                                                calibrated_on=("calibrated_on", "first"), interval_on=("interval_on", "first"),
                                                input_kind=("input_kind", "first"))
        transductive = TRANSDUCTIVE in group and group[TRANSDUCTIVE].notna().all()
        basis = f"by {TRANSDUCTIVE.replace('_', ' ')}" if transductive else f"over {len(SCORES)} scores"
        for rank, (name, row) in enumerate(encoders.sort_values("mean_rank").head(1 + runners_up).iterrows(), start=1):
            evidence = f"mean rank {row.mean_rank:.2f} {basis}, {int(row.seeds)} seed(s)" + _calibration_evidence(row)
            records.append({"labels_per_class": budget, "kind": "encoder", "rank": rank, "choice": name,
                            "predicted_accuracy": row.predicted, "low": float(np.clip(row.predicted - row.halfwidth, 0.0, 1.0)),
                            "high": float(np.clip(row.predicted + row.halfwidth, 0.0, 1.0)), **_measured(measured, budget, name),
                            "evidence": evidence})
        records += _choice_records(choices, budget, runners_up) if choices is not None else []
        methods = method_ranking[method_ranking["labels_per_class"].astype(str) == budget].head(1 + runners_up)
        for rank, row in enumerate(methods.itertuples(), start=1):
            spread = row.std_accuracy if np.isfinite(row.std_accuracy) else np.nan
            records.append({"labels_per_class": budget, "kind": "method", "rank": rank, "choice": f"{row.pipeline}:{row.method}",
                            "predicted_accuracy": row.mean_accuracy, "low": row.mean_accuracy - spread,
                            "high": row.mean_accuracy + spread, "evidence": f"measured on {row.datasets} other data set(s)"})
    table = pd.DataFrame(records, columns=list(RECOMMENDATION_COLUMNS))
    return table.astype({"measured_seeds": "Int64"})  # a count, empty where nothing was run
