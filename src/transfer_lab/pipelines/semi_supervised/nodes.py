"""Nodes of the ``semi_supervised`` pipeline: every method on every label budget and seed.

The algorithms live in ``methods.semi_supervised``; a node runs one family of methods (one
estimator class, or one neural training function) for every configured entry of that
family, every label budget with unlabeled rows and every seed, on the raw inputs and on the
features of each pretrained encoder that is present. It returns result rows and the
pseudo-label record of every round (or epoch): how many rows got a pseudo-label and how
many of those were right. The true labels of the unlabeled rows are read only for that
record and for the ``unlabeled_accuracy`` row; they never reach a fit or a model choice.
"""

from __future__ import annotations

import functools
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from tqdm.auto import tqdm

from transfer_lab.methods.encoders import build_encoder, encoder_from_checkpoint
from transfer_lab.methods.runtime import resolve_device, thread_limits
from transfer_lab.methods.semi_supervised.neural import train_semi_supervised
from transfer_lab.methods.training import TrainConfig, accuracy, extract_features
from transfer_lab.params import parse_params
from transfer_lab.pipelines.semi_supervised.params import (
    WRAPPERS,
    EstimatorParams,
    NeuralMethodParams,
    SemiSupervisedParams,
    base_learner_class,
    estimator_class,
)
from transfer_lab.reporting import tracking
from transfer_lab.reporting.results import aggregate_results, budget_sort_key, result_row, results_frame
from transfer_lab.sources.splits import BudgetView, budget_view, budgets_and_seeds

logger = logging.getLogger(__name__)

ROUND_COLUMNS = ("dataset", "method", "labels_per_class", "seed", "round", "n_added", "precision")
RAW = "raw"


def _params(semi_supervised: Mapping[str, Any]) -> SemiSupervisedParams:
    return parse_params(SemiSupervisedParams, semi_supervised, "semi_supervised")


def _flat(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float64).reshape(len(X), -1)


@dataclass(frozen=True)
class Representation:
    """Inputs the methods see: the raw rows, or one pretrained encoder's frozen features."""

    name: str  # "raw" or the encoder's checkpoint name
    dataset: dict  # base_dataset with X replaced by the features for an encoder
    checkpoint: dict | None = None

    def method_name(self, method: str) -> str:
        """``method`` on raw inputs, ``<method>_<encoder>`` on an encoder."""
        return method if self.name == RAW else f"{method}_{self.name}"


def _pretrained(
    base_dataset: dict, pretrained_encoders: Mapping[str, dict], params: SemiSupervisedParams,
    features: bool, device,
) -> list[Representation]:
    """The listed pretrained encoders that are present and fit the data's input shape."""
    found = []
    shape = list(base_dataset["X"].shape[1:])
    for name in params.pretrained.encoders:
        checkpoint = pretrained_encoders.get(name)
        if checkpoint is None:
            logger.info("semi_supervised: pretrained encoder %r not found in pretrained_encoders; skipped", name)
            continue
        if list(checkpoint["encoder"]["input_shape"]) != shape:
            logger.info(
                "semi_supervised: pretrained encoder %r takes inputs %s, the data has %s; skipped",
                name, checkpoint["encoder"]["input_shape"], shape,
            )
            continue
        dataset = base_dataset
        if features:
            encoder = encoder_from_checkpoint(checkpoint, device)
            dataset = {**base_dataset, "X": extract_features(encoder, base_dataset["X"], device)}
        found.append(Representation(name, dataset, checkpoint))
    return found


def _views(
    dataset: dict, split_table: pd.DataFrame, label_subsets: pd.DataFrame
) -> Iterator[BudgetView]:
    """Every (budget, seed) view with unlabeled rows; budgets without any are skipped."""
    skipped = set()
    for budget, seed in budgets_and_seeds(label_subsets):
        view = budget_view(dataset, split_table, label_subsets, budget, seed)
        if len(view.X_unlabeled) == 0:
            if budget not in skipped:
                logger.info("semi_supervised: budget %s leaves no unlabeled row; skipped", budget)
            skipped.add(budget)
            continue
        yield view


def _rows(dataset: str, method: str, view: BudgetView, measurements: Mapping[str, tuple[str, float]]) -> list[dict]:
    return [
        result_row(
            pipeline="semi_supervised", dataset=dataset, method=method, metric=metric, value=value,
            split=split, labels_per_class=view.labels_per_class, seed=view.seed,
        )
        for metric, (split, value) in measurements.items()
        if value is not None and np.isfinite(value)
    ]


def _round_records(dataset: str, method: str, view: BudgetView, history: list[dict]) -> list[dict]:
    """One record per round: pseudo-labels added and their precision (NaN when none)."""
    by_round: dict[int, list[dict]] = {}
    for record in history:
        by_round.setdefault(int(record["round"]), []).append(record)
    records = []
    for round_, entries in sorted(by_round.items()):
        # Tri-training reports each of its three classifiers: a round adds their sum.
        added = [int(e.get("n_added", 0)) for e in entries]
        correct = sum(n * e["precision"] for n, e in zip(added, entries, strict=True) if n and "precision" in e)
        total = sum(added)
        records.append({
            "dataset": dataset, "method": method, "labels_per_class": view.labels_per_class,
            "seed": view.seed, "round": round_, "n_added": total,
            "precision": correct / total if total else float("nan"),
        })
    return records


def _rounds_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=list(ROUND_COLUMNS))
    return frame.astype({"labels_per_class": str, "seed": "int64", "round": "int64", "n_added": "int64", "precision": "float64"})


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


def _estimator(spec: EstimatorParams, seed: int, representation: Representation):
    params = dict(spec.params)
    cls = estimator_class(spec.method)
    if spec.method in ("co_training", "tri_training", "online_self_training"):
        params["random_state"] = seed
    if spec.method == "co_training":
        if representation.name == RAW:
            params["image_shape"] = tuple(representation.dataset["X"].shape[1:])
        elif params.get("views") in ("left_right", "top_bottom"):
            params["views"] = None  # features have no image layout: their two halves
    if spec.base is None:
        return cls(**params)
    base_cls = base_learner_class(spec.base.kind)
    base_params = dict(spec.base.params)
    if "random_state" in base_cls().get_params():
        base_params.setdefault("random_state", seed)
    return cls(base_cls(**base_params), **params)


def _fit_estimator(spec: EstimatorParams, view: BudgetView, representation: Representation):
    X = np.concatenate([_flat(view.X_labeled), _flat(view.X_unlabeled)])
    y = np.concatenate([view.y_labeled, np.full(len(view.X_unlabeled), -1)])
    model = _estimator(spec, view.seed, representation)
    diagnostics = {"y_true_unlabeled": view.y_unlabeled} if spec.method in WRAPPERS else {}
    start = time.perf_counter()
    with warnings.catch_warnings():
        # Slow convergence of the graph iteration or of a base learner on a handful of
        # labels still gives a usable model: report its accuracy rather than stop.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, **diagnostics)
        seconds = time.perf_counter() - start
        unlabeled = model.predict(_flat(view.X_unlabeled))
        measurements = {
            "accuracy": ("test", model.score(_flat(view.X_test), view.y_test)),
            "val_accuracy": ("val", model.score(_flat(view.X_val), view.y_val)),
            "unlabeled_accuracy": ("unlabeled", float(np.mean(unlabeled == view.y_unlabeled))),
            "seconds": ("train", seconds),
        }
    history = getattr(model, "history_", [])
    return measurements, history


def run_estimators(
    family: str, base_dataset: dict, split_table: pd.DataFrame, label_subsets: pd.DataFrame,
    pretrained_encoders: Mapping[str, dict], semi_supervised: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every configured estimator of one family on raw inputs and on pretrained features.

    Wrapper estimators (self-, co-, tri- and online self-training) also return the
    pseudo-labels of each round and their precision.
    """
    params = _params(semi_supervised)
    device = resolve_device(params.device)
    entries = {n: s for n, s in params.estimators.items() if s.method == family and params.selected(n)}
    rows, rounds = [], []
    if not entries:
        return results_frame(rows), _rounds_frame(rounds)
    with thread_limits(params.num_threads):
        on_features = [n for n in entries if n in params.pretrained.estimators]
        representations = [Representation(RAW, base_dataset)]
        if on_features:
            representations += _pretrained(base_dataset, pretrained_encoders, params, True, device)
        for representation in representations:
            names = list(entries) if representation.name == RAW else on_features
            views = list(_views(representation.dataset, split_table, label_subsets))
            for name in names:
                method = representation.method_name(name)
                for view in tqdm(views, desc=method, disable=not params.progress):
                    measurements, history = _fit_estimator(entries[name], view, representation)
                    records = _round_records(base_dataset["name"], method, view, history)
                    if records:
                        added = sum(r["n_added"] for r in records)
                        correct = sum(r["n_added"] * r["precision"] for r in records if r["n_added"])
                        measurements["n_pseudo_labels"] = ("unlabeled", float(added))
                        measurements["pseudo_label_precision"] = ("unlabeled", correct / added if added else None)
                    rows += _rows(base_dataset["name"], method, view, measurements)
                    rounds += records
    return results_frame(rows), _rounds_frame(rounds)


# --------------------------------------------------------------------------------------------
# Neural methods
# --------------------------------------------------------------------------------------------


def _train_config(params: SemiSupervisedParams, spec: NeuralMethodParams, seed: int) -> TrainConfig:
    shared = params.neural.train.model_dump()
    shared.update({k: v for k, v in spec.train.model_dump().items() if v is not None})
    return TrainConfig(**shared, progress=False, seed=seed)


def run_neural(
    method: str, base_dataset: dict, split_table: pd.DataFrame, label_subsets: pd.DataFrame,
    pretrained_encoders: Mapping[str, dict], semi_supervised: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every configured entry of one neural method, from scratch and from pretrained encoders.

    From scratch the network is the shared encoder of ``neural.encoder``; from a pretrained
    encoder it is that encoder (all of it trained) with a new linear head. Early stopping
    on the val split; the epoch record gives the confident pseudo-labels and their precision.
    """
    params = _params(semi_supervised)
    device = resolve_device(params.device)
    entries = {n: s for n, s in params.neural.methods.items() if s.method == method and params.selected(n)}
    rows, rounds = [], []
    if not entries:
        return results_frame(rows), _rounds_frame(rounds)
    name_of = base_dataset["name"]
    n_classes = int(np.max(base_dataset["y"])) + 1
    enc = params.neural.encoder
    scratch = functools.partial(
        build_encoder, enc.kind, tuple(base_dataset["X"].shape[1:]), width=enc.width, depth=enc.depth,
        out_features=enc.out_features, dropout=enc.dropout,
    )
    builders: list[tuple[Representation, Callable]] = [(Representation(RAW, base_dataset), scratch)]
    if any(n in params.pretrained.neural for n in entries):
        for representation in _pretrained(base_dataset, pretrained_encoders, params, False, device):
            builders.append((representation, functools.partial(encoder_from_checkpoint, representation.checkpoint)))
    views = list(_views(base_dataset, split_table, label_subsets))
    with thread_limits(params.num_threads):
        for name, spec in entries.items():
            for representation, build in builders:
                if representation.name != RAW and name not in params.pretrained.neural:
                    continue
                label = representation.method_name(name)
                for view in tqdm(views, desc=label, disable=not params.progress):
                    config = _train_config(params, spec, view.seed)
                    model, history = train_semi_supervised(
                        spec.method, view, build, config, device, n_classes=n_classes, **spec.params
                    )
                    measurements = {
                        "accuracy": ("test", accuracy(model, view.X_test, view.y_test, device)),
                        "val_accuracy": ("val", history.train.best_score),
                        "unlabeled_accuracy": ("unlabeled", accuracy(model, view.X_unlabeled, view.y_unlabeled, device)),
                        "seconds": ("train", history.train.seconds),
                        "epochs": ("train", float(history.train.best_epoch + 1)),
                        "teacher_accuracy": ("unlabeled", history.info.get("teacher_precision")),
                    }
                    rows += _rows(name_of, label, view, measurements)
                    epochs = [
                        {"round": r["epoch"] + 1, "n_added": r["n_pseudo"], "precision": r.get("pseudo_precision", float("nan"))}
                        for r in history.epochs if "n_pseudo" in r
                    ]
                    rounds += _round_records(name_of, label, view, epochs)
    return results_frame(rows), _rounds_frame(rounds)


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def combine_rounds(*tables: pd.DataFrame) -> pd.DataFrame:
    """One pseudo-label table from every method node's."""
    return _rounds_frame(pd.concat(tables, ignore_index=True).to_dict("records"))


def _budget_axis(ax: plt.Axes, budgets: list[str]) -> dict[str, float]:
    numeric = sorted({float(b) for b in budgets if b != "all"})
    positions = {b: (max(numeric) * 2.0 if b == "all" else float(b)) for b in budgets} if numeric else {b: 1.0 for b in budgets}
    ticks = sorted(set(positions.values()))
    ax.set_xscale("log")
    ax.set_xticks(ticks)
    ax.set_xticklabels(["all" if t not in numeric else f"{t:g}" for t in ticks])
    ax.minorticks_off()
    return positions


def _accuracy_figure(board: pd.DataFrame, params: SemiSupervisedParams) -> plt.Figure:
    """Test accuracy against labels per class: estimators, neural methods, pretrained encoders."""
    rows = board[(board["metric"] == "accuracy") & (board["split"] == "test")]
    groups: dict[str, list[str]] = {
        "estimators (raw inputs)": [], "neural methods (raw inputs)": [], "on pretrained encoders": [],
    }
    for method in sorted(rows["method"].unique()):
        if method in params.estimators:
            groups["estimators (raw inputs)"].append(method)
        elif method in params.neural.methods:
            groups["neural methods (raw inputs)"].append(method)
        else:
            groups["on pretrained encoders"].append(method)
    groups = {title: methods for title, methods in groups.items() if methods} or {"(no results)": []}
    figure, axes = plt.subplots(1, len(groups), figsize=(6.5 * len(groups), 4.8), squeeze=False, sharey=True)
    for ax, (title, methods) in zip(axes[0], groups.items(), strict=True):
        if methods:
            positions = _budget_axis(ax, sorted(rows["labels_per_class"].unique(), key=budget_sort_key))
        for method in methods:
            curve = rows[rows["method"] == method]
            curve = curve.iloc[np.argsort([budget_sort_key(b) for b in curve["labels_per_class"]])]
            x = [positions[b] for b in curve["labels_per_class"]]
            (line,) = ax.plot(x, curve["mean"], marker="o", label=method)
            ax.fill_between(x, curve["mean"] - curve["std"], curve["mean"] + curve["std"], alpha=0.12, color=line.get_color())
        ax.set_title(title)
        ax.set_xlabel("labels per class")
        ax.grid(True, alpha=0.3)
        if methods:
            ax.legend(fontsize="x-small", loc="lower right", ncol=2 if len(methods) > 8 else 1)
    axes[0][0].set_ylabel("test accuracy (mean ± std over seeds)")
    figure.suptitle("semi-supervised methods: accuracy vs label budget")
    figure.tight_layout()
    return figure


def _precision_figure(rounds: pd.DataFrame, methods: list[str]) -> plt.Figure:
    """Pseudo-label precision (top) and pseudo-labels added (bottom) per round, per budget."""
    methods = methods or ["(no pseudo-labelling method)"]
    figure, axes = plt.subplots(2, len(methods), figsize=(4.2 * len(methods), 6.5), squeeze=False, sharex="col")
    for column, method in enumerate(methods):
        table = rounds[rounds["method"] == method]
        for budget in sorted(table["labels_per_class"].unique(), key=budget_sort_key):
            per_round = table[table["labels_per_class"] == budget].groupby("round")
            mean = per_round[["precision", "n_added"]].mean()
            axes[0][column].plot(mean.index, mean["precision"], marker=".", label=f"{budget} labels/class")
            axes[1][column].plot(mean.index, mean["n_added"], marker=".", label=f"{budget} labels/class")
        axes[0][column].set_title(method)
        axes[0][column].set_ylim(0.0, 1.02)
        axes[1][column].set_xlabel("round (epoch for online self-training)")
        for ax in axes[:, column]:
            ax.grid(True, alpha=0.3)
        if len(table):
            axes[0][column].legend(fontsize="x-small", loc="lower left")
    axes[0][0].set_ylabel("precision of the round's pseudo-labels")
    axes[1][0].set_ylabel("pseudo-labels added")
    figure.suptitle("pseudo-labels per round (mean over seeds; true labels used for monitoring only)")
    figure.tight_layout()
    return figure


def report(
    results: pd.DataFrame, rounds: pd.DataFrame, semi_supervised: Mapping[str, Any]
) -> tuple[plt.Figure, plt.Figure]:
    """Figures and MLflow metrics: accuracy per method and budget, pseudo-labels per round.

    Logged: ``semi_supervised/<dataset>/<method>/lpc_<budget>/<metric>_<split>`` (mean over
    seeds) and, per seed, the same key with ``seed_<seed>``; the histories
    ``.../seed_<seed>/pseudo_labels_added`` and ``.../pseudo_label_precision`` with the
    round as step.
    """
    params = _params(semi_supervised)
    board = aggregate_results([results])
    accuracy_figure = _accuracy_figure(board, params)
    wrapper_methods = [n for n, s in params.estimators.items() if s.method in WRAPPERS and n in set(rounds["method"])]
    precision_figure = _precision_figure(rounds, wrapper_methods)

    steps = [
        (tracking.metric_key(r.pipeline, r.dataset, r.method, f"lpc_{r.labels_per_class}", f"{r.metric}_{r.split}"), r.mean, 0)
        for r in board.itertuples()
    ]
    steps += [
        (tracking.metric_key(r.pipeline, r.dataset, r.method, f"lpc_{r.labels_per_class}", f"seed_{r.seed}", f"{r.metric}_{r.split}"), r.value, 0)
        for r in results.itertuples()
    ]
    for r in rounds.itertuples():
        prefix = ("semi_supervised", r.dataset, r.method, f"lpc_{r.labels_per_class}", f"seed_{r.seed}")
        steps.append((tracking.metric_key(*prefix, "pseudo_labels_added"), r.n_added, int(r.round)))
        if np.isfinite(r.precision):
            steps.append((tracking.metric_key(*prefix, "pseudo_label_precision"), r.precision, int(r.round)))
    tracking.log_metric_steps(steps)
    tracking.log_figure(accuracy_figure, "figures/semi_supervised/accuracy_vs_budget.png")
    tracking.log_figure(precision_figure, "figures/semi_supervised/pseudo_label_precision.png")
    best = board[(board["metric"] == "accuracy") & (board["split"] == "test")]
    for budget, group in best.groupby("labels_per_class"):
        top = group.loc[group["mean"].idxmax()]
        logger.info("semi_supervised: best at %s labels/class: %s %.4f", budget, top["method"], top["mean"])
    return accuracy_figure, precision_figure
