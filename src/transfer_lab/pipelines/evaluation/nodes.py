"""Nodes of the ``evaluation`` pipeline: supervised baselines and the leaderboard."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from transfer_lab.methods.encoders import Classifier, build_encoder
from transfer_lab.methods.runtime import resolve_device, seed_everything, thread_limits
from transfer_lab.methods.training import TrainConfig, accuracy, fit_classifier
from transfer_lab.params import parse_params
from transfer_lab.pipelines.evaluation.params import EvaluationParams
from transfer_lab.reporting import tracking
from transfer_lab.reporting.plots import label_budget_figure
from transfer_lab.reporting.results import aggregate_results, normalise_results, result_row, results_frame
from transfer_lab.sources.splits import budget_view, budgets_and_seeds

logger = logging.getLogger(__name__)


def _params(evaluation: Mapping[str, Any]) -> EvaluationParams:
    return parse_params(EvaluationParams, evaluation, "evaluation")


def _flat(X):
    """Inputs as feature vectors: (n, 1, H, W) images or (n, 1, L) signals → (n, features)."""
    return X.reshape(len(X), -1)


def _rows(dataset: str, method: str, view, measurements: Mapping[str, tuple[str, float]]) -> list[dict]:
    return [
        result_row(
            pipeline="evaluation", dataset=dataset, method=method, metric=metric, value=value,
            split=split, labels_per_class=view.labels_per_class, seed=view.seed,
        )
        for metric, (split, value) in measurements.items()
    ]


def logistic_regression_baseline(
    base_dataset: dict, split_table: pd.DataFrame, label_subsets: pd.DataFrame, evaluation: Mapping[str, Any]
) -> pd.DataFrame:
    """Logistic regression on the raw inputs (flattened pixels or signal) for every budget and seed."""
    params = _params(evaluation)
    rows = []
    combos = budgets_and_seeds(label_subsets)
    for budget, seed in tqdm(combos, desc="logreg_pixels", disable=not params.progress):
        view = budget_view(base_dataset, split_table, label_subsets, budget, seed)
        start = time.perf_counter()
        model = LogisticRegression(
            C=params.logistic_regression.C, max_iter=params.logistic_regression.max_iter, random_state=seed
        )
        with thread_limits(params.num_threads):
            model.fit(_flat(view.X_labeled), view.y_labeled)
        seconds = time.perf_counter() - start
        rows += _rows(
            base_dataset["name"], "logreg_pixels", view,
            {
                "accuracy": ("test", model.score(_flat(view.X_test), view.y_test)),
                "val_accuracy": ("val", model.score(_flat(view.X_val), view.y_val)),
                "seconds": ("train", seconds),
            },
        )
    return results_frame(rows)


def cnn_scratch_baseline(
    base_dataset: dict, split_table: pd.DataFrame, label_subsets: pd.DataFrame, evaluation: Mapping[str, Any]
) -> pd.DataFrame:
    """The shared encoder trained from scratch on the labelled rows alone, early-stopped on val."""
    params = _params(evaluation)
    cnn = params.cnn
    device = resolve_device(params.device)
    rows = []
    input_shape = tuple(base_dataset["X"].shape[1:])
    n_classes = int(base_dataset["y"].max()) + 1
    for budget, seed in tqdm(budgets_and_seeds(label_subsets), desc="cnn_scratch", disable=not params.progress):
        view = budget_view(base_dataset, split_table, label_subsets, budget, seed)
        seed_everything(seed)
        encoder = build_encoder(
            cnn.encoder, input_shape, width=cnn.width, depth=cnn.depth,
            out_features=cnn.out_features, dropout=cnn.dropout,
        )
        model = Classifier(encoder, n_classes)
        config = TrainConfig(
            epochs=cnn.epochs, batch_size=cnn.batch_size, lr=cnn.lr, weight_decay=cnn.weight_decay,
            patience=cnn.patience, min_batches_per_epoch=cnn.min_batches_per_epoch, progress=False, seed=seed,
        )
        with thread_limits(params.num_threads):
            history = fit_classifier(
                model, view.X_labeled, view.y_labeled, view.X_val, view.y_val, config=config, device=device
            )
            test_accuracy = accuracy(model, view.X_test, view.y_test, device)
            val_accuracy = accuracy(model, view.X_val, view.y_val, device)
        rows += _rows(
            base_dataset["name"], "cnn_scratch", view,
            {
                "accuracy": ("test", test_accuracy),
                "val_accuracy": ("val", val_accuracy),
                "seconds": ("train", history.seconds),
                "epochs": ("train", history.best_epoch + 1),
            },
        )
        tracking.log_metric_history(
            tracking.metric_key("evaluation", base_dataset["name"], "cnn_scratch", f"lpc_{budget}", f"seed_{seed}", "train_loss"),
            history.train_loss,
        )
    return results_frame(rows)


def build_leaderboard(
    stored_results: Mapping[str, Callable[[], pd.DataFrame]], evaluation: Mapping[str, Any], *fresh_results: pd.DataFrame
) -> tuple[pd.DataFrame, plt.Figure]:
    """Aggregate every ``*_results.csv`` present into the leaderboard and the label-budget figure.

    ``stored_results`` holds every results table on disk (one per pipeline, whether it ran
    now or earlier); the tables produced in this run are passed too (``fresh_results``),
    which orders this node after them. A fresh table replaces the stored one of its pipeline.
    """
    params = _params(evaluation)
    fresh = [normalise_results(table) for table in fresh_results]
    fresh_pipelines = {pipeline for table in fresh for pipeline in table["pipeline"].unique()}
    stored = []
    for name, load in sorted(stored_results.items()):
        table = normalise_results(load())
        stored.append(table[~table["pipeline"].isin(fresh_pipelines)])
    leaderboard = aggregate_results([*fresh, *stored])
    figure = label_budget_figure(leaderboard, metric=params.metric)

    tracking.log_metrics(
        {
            tracking.metric_key(row.pipeline, row.dataset, row.method, f"lpc_{row.labels_per_class or 'none'}", f"{row.metric}_{row.split}"): row.mean
            for row in leaderboard.itertuples()
        }
    )
    tracking.log_table(leaderboard, "tables/leaderboard.csv")
    tracking.log_figure(figure, "figures/label_budget.png")
    logger.info("Leaderboard: %d rows from %d results tables", len(leaderboard), len(fresh) + len(stored))
    return leaderboard, figure
