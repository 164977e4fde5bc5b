"""Nodes of the ``evaluation`` pipeline: supervised baselines and the leaderboard.

The baselines read the label-budget views of ``sources.splits`` and train with
``methods.encoders`` / ``methods.training``; the leaderboard and its figure come from
``reporting.results`` and ``reporting.plots``.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from transfer_lab.contracts import Dataset
from transfer_lab.methods.encoders import Classifier, build_encoder
from transfer_lab.methods.runtime import node_compute, resolve_device, seed_everything
from transfer_lab.methods.training import accuracy, fit_classifier
from transfer_lab.params import parse_params
from transfer_lab.pipelines.evaluation.params import CNNParams, LogisticRegressionParams, RuntimeParams
from transfer_lab.reporting import tracking
from transfer_lab.reporting.plots import label_budget_figure, leaderboard_heatmap
from transfer_lab.reporting.report import normalise_leaderboard, report_html, run_facts
from transfer_lab.reporting.results import aggregate_results, normalise_results, result_row, results_frame
from transfer_lab.sources.splits import BudgetView, budget_view, budgets_and_seeds

logger = logging.getLogger(__name__)


def _flat(X: np.ndarray) -> np.ndarray:
    """Inputs as feature vectors: (n, 1, H, W) images or (n, 1, L) signals → (n, features)."""
    return X.reshape(len(X), -1)


def _views(base_dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame, desc: str, runtime: RuntimeParams) -> Iterable[BudgetView]:
    """The view of every (budget, seed) of the label subsets, with a progress bar."""
    for budget, seed in tqdm(budgets_and_seeds(label_subsets), desc=desc, disable=not runtime.progress):
        yield budget_view(base_dataset, split_table, label_subsets, budget, seed)


def _rows(dataset: str, method: str, view: BudgetView, measurements: Mapping[str, tuple[str, float]]) -> list[dict]:
    return [
        result_row(
            pipeline="evaluation", dataset=dataset, method=method, metric=metric, value=value,
            split=split, labels_per_class=view.labels_per_class, seed=view.seed,
        )
        for metric, (split, value) in measurements.items()
    ]


def logistic_regression_baseline(
    base_dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame, logistic_regression: dict, runtime: dict
) -> pd.DataFrame:
    """Logistic regression on the raw inputs (flattened pixels or signal) for every budget and seed (``logreg_pixels``)."""
    params = parse_params(LogisticRegressionParams, logistic_regression, "evaluation.logistic_regression")
    run = parse_params(RuntimeParams, runtime, "evaluation.runtime")
    rows = []
    for view in _views(base_dataset, split_table, label_subsets, "logreg_pixels", run):
        start = time.perf_counter()
        model = LogisticRegression(C=params.C, max_iter=params.max_iter, random_state=view.seed)
        with node_compute(run):
            model.fit(_flat(view.X_labeled), view.y_labeled)
        seconds = time.perf_counter() - start
        measured = {
            "accuracy": ("test", model.score(_flat(view.X_test), view.y_test)),
            "val_accuracy": ("val", model.score(_flat(view.X_val), view.y_val)),
            "seconds": ("train", seconds),
        }
        rows += _rows(base_dataset.name, "logreg_pixels", view, measured)
    return results_frame(rows)


def cnn_scratch_baseline(
    base_dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame, cnn: dict, runtime: dict
) -> pd.DataFrame:
    """The shared encoder trained from scratch on the labelled rows alone, early-stopped on val (``cnn_scratch``)."""
    params, run = parse_params(CNNParams, cnn, "evaluation.cnn"), parse_params(RuntimeParams, runtime, "evaluation.runtime")
    architecture = params.model_dump(include={"width", "depth", "out_features", "dropout"})
    device, name, rows, losses = resolve_device(run.device), base_dataset.name, [], defaultdict(list)
    for view in _views(base_dataset, split_table, label_subsets, "cnn_scratch", run):
        seed_everything(view.seed)
        with node_compute(run):  # before the model is built: it sets the conv layout
            model = Classifier(build_encoder(params.encoder, tuple(base_dataset.X.shape[1:]), **architecture), base_dataset.n_classes)
            history = fit_classifier(
                model, view.X_labeled, view.y_labeled, view.X_val, view.y_val,
                config=params.training.to_train_config(view.seed), device=device,
            )
            measured = {
                "accuracy": ("test", accuracy(model, view.X_test, view.y_test, device)),
                "val_accuracy": ("val", accuracy(model, view.X_val, view.y_val, device)),
            }
        measured |= {"seconds": ("train", history.seconds), "epochs": ("train", history.best_epoch + 1)}
        rows += _rows(name, "cnn_scratch", view, measured)
        losses[view.labels_per_class].append(history.train_loss)
    for budget, curves in losses.items():
        tracking.log_history(tracking.history_key("evaluation", name, "cnn_scratch", "train_loss", budget), curves)
    return results_frame(rows)


def build_leaderboard(
    stored_results: Mapping[str, Callable[[], pd.DataFrame]], metric: str, top_methods: int, *fresh_results: pd.DataFrame
) -> tuple[pd.DataFrame, plt.Figure]:
    """Aggregate every ``*_results.csv`` present into the leaderboard and the label-budget figure.

    ``stored_results`` holds every results table on disk (one per pipeline, whether it ran
    now or earlier); the tables produced in this run are passed too (``fresh_results``),
    which orders this node after them. A fresh table replaces the stored one of its pipeline.
    ``metric`` is the one the figure draws, with each family's ``top_methods`` best methods.
    """
    fresh = [normalise_results(table) for table in fresh_results]
    fresh_pipelines = {pipeline for table in fresh for pipeline in table["pipeline"].unique()}
    stored = [normalise_results(load()) for _, load in sorted(stored_results.items())]
    stored = [table[~table["pipeline"].isin(fresh_pipelines)] for table in stored]
    leaderboard = aggregate_results([*fresh, *stored])
    figure = label_budget_figure(leaderboard, metric=metric, top=top_methods)
    # the metrics and the tables reach MLflow from the project hook (TrackedRunHook)
    tracking.log_figure(figure, "figures/label_budget.png")
    logger.info("Leaderboard: %d rows from %d results tables", len(leaderboard), len(fresh) + len(stored))
    return leaderboard, figure


def plot_leaderboard_heatmap(leaderboard: pd.DataFrame, metric: str) -> plt.Figure:
    """The leaderboard as a method × label budget heatmap (``leaderboard_heatmap.png``)."""
    figure = leaderboard_heatmap(normalise_leaderboard(leaderboard), metric=metric)
    tracking.log_figure(figure, "figures/leaderboard_heatmap.png")
    return figure


def build_report(
    leaderboard: pd.DataFrame, parameters: dict[str, Any], stored_figures: Mapping[str, Callable[[], bytes]],
    metric: str, *fresh_figures: Any,
) -> str:
    """The run's self-contained HTML report (``reporting.report``), also logged to MLflow.

    The figures embedded are every PNG in ``data/08_reporting`` (``stored_figures``); the
    figures drawn in this run are passed too (``fresh_figures``), which orders this node
    after the nodes that draw them.
    """
    figures = {f"{name}.png": load() for name, load in sorted(stored_figures.items())}
    page = report_html(normalise_leaderboard(leaderboard), parameters, figures, run_facts(), metric)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "report.html"
        path.write_text(page, encoding="utf-8")
        tracking.log_artifact_file(path, "report")
    logger.info("Report of the run: data/08_reporting/report.html (%d figures)", len(figures))
    return page
