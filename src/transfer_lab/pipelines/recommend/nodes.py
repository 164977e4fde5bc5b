"""Nodes of the ``recommend`` pipeline: score the candidate encoders on the user's labelled
rows, rank methods by the leaderboard's evidence, predict, and (``recommend.verify``) check.

The algorithms are in :mod:`transfer_lab.methods.recommend`, the figure in
:mod:`transfer_lab.reporting.figures_recommend`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.contracts import Dataset
from transfer_lab.methods import recommend as rec
from transfer_lab.methods.runtime import node_compute
from transfer_lab.params import parse_params
from transfer_lab.pipelines.recommend.params import RecommendParams, ScoringParams
from transfer_lab.reporting import tracking
from transfer_lab.reporting.figures_recommend import recommendation_figure
from transfer_lab.reporting.results import normalise_results
from transfer_lab.sources.splits import budgets_and_seeds, split_indices, subset_indices

logger = logging.getLogger(__name__)

# the columns of the verification tables the recommend node reads (empty without verify)
VERIFIED = ["labels_per_class", "seed", "encoder", "position", "measured", "predicted", "halfwidth", "dataset"]
CHOICES_VERIFIED = ["labels_per_class", "seed", "choice", "encoder", "method", "position", "candidates", "measured", "dataset"]


def _kind(base_dataset: Dataset) -> str:
    return rec.input_kind(base_dataset.X.shape, table=bool(getattr(base_dataset, "table", False)))


def _subsets(label_subsets: pd.DataFrame) -> list[tuple[str, int, np.ndarray]]:
    return [(b, s, subset_indices(label_subsets, b, s)) for b, s in budgets_and_seeds(label_subsets)]


def _features(base_dataset: Dataset, split_table: pd.DataFrame, checkpoints: Mapping[str, dict], scoring: ScoringParams, seed: int):
    train = split_indices(split_table, "train")
    checkpoints = {name: c for name, c in checkpoints.items() if not name.startswith(tuple(scoring.exclude))}
    features = rec.candidate_features(base_dataset.X, train, checkpoints, pca_components=scoring.pca_components,
                                      random_width=scoring.random_width, seed=seed)
    return {name: F for name, F in features.items() if not name.startswith(tuple(scoring.exclude))}


def score_encoders(
    base_dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame, pretrained_encoders: Mapping[str, dict],
    user_encoders: Mapping[str, dict], recommend: Mapping[str, Any],
) -> pd.DataFrame:
    """LogME, LEEP, NCE, H-score and kNN of every candidate encoder on the labelled rows of
    each budget and seed, and their mean-rank order (``recommend_scores.csv``); at one label
    per class, cluster agreement over all train rows ranks instead."""
    params = parse_params(RecommendParams, recommend, "recommend")
    checkpoints = {**pretrained_encoders, **{f"user_{name}": c for name, c in user_encoders.items()}}
    with node_compute(params.runtime):
        features = _features(base_dataset, split_table, checkpoints, params.scoring, params.seed)
        scores = rec.score_budgets(features, base_dataset.y, _subsets(label_subsets), max_rows=params.scoring.max_rows, seed=params.seed,
                                   train_rows=split_indices(split_table, "train"), transductive_below=params.scoring.transductive_below,
                                   cluster_settings={"n_neighbors": params.scoring.cluster_neighbors, "alpha": params.scoring.cluster_alpha})
    logger.info("Scored %d candidate encoders on %s: %s", len(features), base_dataset.name, ", ".join(features))
    return scores.assign(dataset=base_dataset.name, input_kind=_kind(base_dataset))


def rank_methods(stored_results: Mapping[str, pd.DataFrame], base_dataset: Dataset, label_subsets: pd.DataFrame) -> pd.DataFrame:
    """The protocols and methods of every results table on disk, ranked per budget by their
    mean test accuracy over the *other* data sets measured (this one is held out)."""
    tables = [normalise_results(table) for _, table in sorted(stored_results.items())]
    results = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    budgets = sorted({b for b, _ in budgets_and_seeds(label_subsets)})
    ranking = rec.rank_methods(results, budgets, exclude_dataset=base_dataset.name)
    logger.info("Method evidence for %s: %d (budget, method) rows from %d results tables", base_dataset.name, len(ranking), len(tables))
    return ranking


def _history(calibration: Mapping[str, Callable[[], pd.DataFrame] | pd.DataFrame]) -> pd.DataFrame:
    frames = [table() if callable(table) else table for table in calibration.values()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def predict(scores: pd.DataFrame, calibration: Mapping[str, Any], base_dataset: Dataset, recommend: Mapping[str, Any]) -> pd.DataFrame:
    """Predicted linear-probe accuracy of every candidate, budget and seed, with its
    split-conformal interval (``recommend.interval``), from the calibration of the *other* data
    sets verified so far, per budget where it has history (``nan`` without any); the interval
    from those of the same input kind only (``interval.by_kind``; ``nan`` without enough)."""
    interval = parse_params(RecommendParams, recommend, "recommend").interval
    kind = _kind(base_dataset)
    frame = scores.assign(input_kind=kind)
    frame["candidates"] = frame.groupby(["labels_per_class", "seed"])["encoder"].transform("size")
    frame["relative_position"] = rec.relative_position(frame["position"], frame["candidates"])
    frame = rec.predict_accuracy(frame, _history(calibration), exclude=base_dataset.name, alpha=1.0 - interval.coverage,
                                 scale=interval.scale, kind=kind if interval.by_kind else None, min_datasets=interval.min_datasets)
    if frame["predicted"].isna().all():
        logger.info("No calibration from other verified data sets yet: predicted accuracies are left empty")
    elif frame["halfwidth"].isna().all():
        logger.info("No calibration data of this kind (%s) for %s: predicted accuracies have no interval", kind, base_dataset.name)
    return frame


def _this_dataset(measured: pd.DataFrame, predictions: pd.DataFrame) -> pd.DataFrame:
    """The measurements of the data set predicted (none left from another run's data set)."""
    if measured.empty or "dataset" not in measured or "dataset" not in predictions:
        return measured
    return measured[measured["dataset"].isin(predictions["dataset"].unique())]


def recommend_choices(
    predictions: pd.DataFrame, method_ranking: pd.DataFrame, verification: pd.DataFrame, choice_verification: pd.DataFrame,
    recommend: Mapping[str, Any],
) -> tuple[pd.DataFrame, plt.Figure]:
    """``recommendation.csv``: per budget, the encoders in recommended order (best first, then
    the runners-up) and the best-measured methods, each with its predicted or measured
    accuracy and interval; with ``recommend.verify``, what the rows run for real measured and
    the encoder × method choices run; and the figure the report shows."""
    params = parse_params(RecommendParams, recommend, "recommend")
    verified = {"verification": _this_dataset(verification, predictions), "choice_verification": _this_dataset(choice_verification, predictions)}
    table = rec.recommendation_table(predictions, method_ranking, runners_up=params.runners_up, **(verified if params.verify else {}))
    figure = recommendation_figure(table, predictions)
    tracking.log_figure(figure, "figures/recommend/recommendation.png")
    return table, figure


def _choices(features, base_dataset: Dataset, split_table, label_subsets, predictions, method_ranking, params: RecommendParams):
    """Encoder × method choices ranked, the top ones and a few others run for real, summarised."""
    block = params.verification
    specs = {name: spec.model_dump() for name, spec in block.methods.items()}
    budgets = predictions["labels_per_class"].astype(str).unique()
    choices = rec.rank_choices(predictions, {b: rec.order_methods(specs, method_ranking, b) for b in budgets})
    measured = rec.verify_method_choices(features, base_dataset.y, choices, specs, _subsets(label_subsets), split_indices(split_table, "train"),
                                         split_indices(split_table, "test"), top_k=block.top_k, others=block.others,
                                         max_unlabelled=params.scoring.max_rows, seed=params.seed)
    summary = rec.summarise_verification(measured, key="choice")
    return measured.assign(dataset=base_dataset.name), summary.assign(dataset=base_dataset.name)


def verify(
    base_dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame, pretrained_encoders: Mapping[str, dict],
    user_encoders: Mapping[str, dict], predictions: pd.DataFrame, method_ranking: pd.DataFrame, recommend: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """With ``recommend.verify``: the top encoders and a few others run for real (a linear
    probe), then the top encoder × method choices and a few others; returns the encoders'
    measurements, their summary (regret, Spearman's rho, interval hits), the calibration rows
    of this data set (for later predictions on other data sets), and the choices'
    measurements and summary (regret, Spearman's rho). Otherwise empty."""
    params = parse_params(RecommendParams, recommend, "recommend")
    if not params.verify:  # headers only: the recommend node reads these two
        return pd.DataFrame(columns=VERIFIED), pd.DataFrame(), {}, pd.DataFrame(columns=CHOICES_VERIFIED), pd.DataFrame()
    checkpoints = {**pretrained_encoders, **{f"user_{name}": c for name, c in user_encoders.items()}}
    with node_compute(params.runtime):
        features = _features(base_dataset, split_table, checkpoints, params.scoring, params.seed)
        measured = rec.verify_choices(features, base_dataset.y, predictions, _subsets(label_subsets), split_indices(split_table, "test"),
                                      top_k=params.verification.top_k, others=params.verification.others, seed=params.seed)
        choices, choice_summary = _choices(features, base_dataset, split_table, label_subsets, predictions, method_ranking, params)
    measured = rec.attach_predictions(measured, predictions).assign(dataset=base_dataset.name, input_kind=_kind(base_dataset))
    summary = rec.summarise_verification(measured).assign(dataset=base_dataset.name, input_kind=_kind(base_dataset))
    logger.info("Verified on %s: encoders: mean regret %.3f, Spearman %.2f; encoder x method choices: mean regret %.3f, Spearman %.2f",
                base_dataset.name, summary["regret"].mean(), summary["spearman"].mean(), choice_summary["regret"].mean(), choice_summary["spearman"].mean())
    return measured, summary, {base_dataset.name: measured}, choices, choice_summary
