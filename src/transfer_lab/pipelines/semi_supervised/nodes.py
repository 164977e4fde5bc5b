"""Nodes of the ``semi_supervised`` pipeline: every method on every label budget and seed.

The algorithms live in ``methods.semi_supervised``, all behind one scikit-learn API
(``make_estimator`` → ``fit(X, y)`` with ``y = -1`` for unlabeled rows, and a common
``history_``); the figures in ``reporting.figures_semi_supervised``. One node,
:func:`run_method`, runs every configured entry of one method on every label budget with
unlabeled rows and every seed, on the raw inputs and on each pretrained encoder that is
present. It returns result rows and the pseudo-label record of every round (or epoch): how
many rows got a pseudo-label and how many of those were right. The true labels of the
unlabeled rows are read only for that record and for the ``unlabeled_accuracy`` row; they
never reach a loss, a target or a model choice.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from transfer_lab.contracts import DataParams, Dataset, data_provenance, stale_reason
from transfer_lab.methods.runtime import node_compute, resolve_device
from transfer_lab.methods.semi_supervised.factory import (
    adds_pseudo_labels,
    is_neural,
    make_estimator,
    pretrained_inputs,
)
from transfer_lab.methods.semi_supervised.protocol import fit_and_measure
from transfer_lab.params import parse_params
from transfer_lab.pipelines.semi_supervised.params import (
    EntryParams,
    NeuralParams,
    PretrainedParams,
    RunParams,
)
from transfer_lab.reporting import figures_semi_supervised as figures
from transfer_lab.reporting import tracking
from transfer_lab.reporting.results import aggregate_results, result_row, results_frame
from transfer_lab.sources.splits import BudgetView, budget_view, budgets_and_seeds

logger = logging.getLogger(__name__)

ROUND_COLUMNS = ("dataset", "method", "labels_per_class", "seed", "round", "n_added", "precision")
RAW = "raw"


@dataclass(frozen=True)
class Inputs:
    """What a method fits on: the raw rows, or one pretrained encoder's (see
    ``factory.pretrained_inputs``)."""

    name: str  # "raw" or the encoder's checkpoint name
    X: np.ndarray
    input_shape: tuple[int, ...] | None
    encoder: Any  # a neural method's network: the encoder parameters, or a checkpoint loader

    def method_name(self, entry: str) -> str:
        """``entry`` on raw inputs, ``<entry>_<encoder>`` on an encoder."""
        return entry if self.name == RAW else f"{entry}_{self.name}"


_said: set[tuple[str | None, str]] = set()  # (run, line) about the encoders already logged by this process


def _say_once(level: int, message: str) -> None:
    """One line per run for what every method node finds alike (which encoders are used);
    the run is the MLflow run the tracking hook exports, so a second run in one process
    (a notebook) says it again."""
    key = (os.environ.get("MLFLOW_RUN_ID"), message)
    if key not in _said:
        _said.add(key)
        logger.log(level, message)


def _encoders(
    base_dataset: Dataset, pretrained_encoders: Mapping[str, dict], names: list[str], expected: Mapping[str, Any]
) -> Iterator[tuple[str, dict]]:
    """The listed pretrained encoders that are present and were trained on this run's data
    (``expected``: ``contracts.data_provenance``); a stale one is skipped with one line."""
    for name in names:
        checkpoint = pretrained_encoders.get(name)
        reason = None if checkpoint is None else stale_reason(checkpoint.get("meta", {}), expected)
        if checkpoint is None:
            _say_once(logging.INFO, f"semi_supervised: pretrained encoder {name!r} is not in pretrained_encoders; skipped")
        elif reason is not None:
            _say_once(logging.WARNING, f"semi_supervised: stale pretrained encoder {name!r} skipped: {reason}")
        else:
            yield name, checkpoint


def _inputs(
    method: str, base_dataset: Dataset, pretrained_encoders: Mapping[str, dict], neural: NeuralParams,
    pretrained: PretrainedParams, on_encoders: bool, device: Any, expected: Mapping[str, Any],
) -> list[Inputs]:
    X = base_dataset.X
    found = [Inputs(RAW, X, tuple(X.shape[1:]), neural.encoder.model_dump())]
    if on_encoders:
        for name, checkpoint in _encoders(base_dataset, pretrained_encoders, pretrained.encoders, expected):
            found.append(Inputs(name, *pretrained_inputs(method, checkpoint, X, device)))
        used = [inputs.name for inputs in found[1:]]
        _say_once(logging.INFO, (
            f"semi_supervised: rows on pretrained encoders {used} as well as on raw inputs (checkpoints in "
            "pretrained_encoders trained on this run's data, possibly by an earlier run)" if used else
            "semi_supervised: no usable pretrained encoder in pretrained_encoders: rows on raw inputs only "
            "(run the pretraining pipeline first for rows on encoders)"
        ))
    return found


def _views(dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame) -> Iterator[BudgetView]:
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


def _rows(
    dataset: str, method: str, view: BudgetView, measurements: Mapping[str, tuple[str, float | None]]
) -> list[dict]:
    return [
        result_row(
            pipeline="semi_supervised", dataset=dataset, method=method, metric=metric, value=value,
            split=split, labels_per_class=view.labels_per_class, seed=view.seed,
        )
        for metric, (split, value) in measurements.items()
        if value is not None and np.isfinite(value)
    ]


def _round_records(dataset: str, method: str, view: BudgetView, history: list[dict]) -> list[dict]:
    """One record per round of a ``history_``: pseudo-labels and their precision."""
    where = {"dataset": dataset, "method": method, "labels_per_class": view.labels_per_class}
    return [
        {**where, "seed": view.seed, "round": int(r["round"]), "n_added": int(r["n_added"]),
         "precision": r.get("precision", float("nan"))}
        for r in history
    ]


def _rounds_frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=list(ROUND_COLUMNS))
    types = {"labels_per_class": str, "seed": "int64", "round": "int64", "n_added": "int64"}
    return frame.astype({**types, "precision": "float64"})


def _run_entry(
    method: str, name: str, entry: EntryParams, inputs: Inputs, views: list[BudgetView], dataset: str,
    neural: NeuralParams, runtime: RunParams, device: Any,
) -> tuple[list[dict], list[dict]]:
    """One entry on one input on every view: result rows and round records."""
    rows, rounds, label = [], [], inputs.method_name(name)
    training = neural.training_for(entry)
    for view in tqdm(views, desc=label, disable=not runtime.progress):
        model = make_estimator(
            method, entry.params, seed=view.seed, base=entry.base_learner,
            input_shape=inputs.input_shape, encoder=inputs.encoder,
            config=training.to_train_config(view.seed), device=str(device), n_classes=view.n_classes,
        )
        measurements, history = fit_and_measure(model, view)
        rows += _rows(dataset, label, view, measurements)
        rounds += _round_records(dataset, label, view, history)
    return rows, rounds


def run_method(
    method: str, base_dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame,
    pretrained_encoders: Mapping[str, dict], entries: Mapping[str, Any] | None,
    runtime: Mapping[str, Any], neural: Mapping[str, Any], pretrained: Mapping[str, Any], data: Mapping[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every selected entry of ``method`` (``params:semi_supervised.methods.<method>``) on
    every budget and seed, on raw inputs and on the pretrained encoders it is listed for."""
    settings = parse_params(RunParams, runtime, "semi_supervised.runtime")
    networks = parse_params(NeuralParams, neural, "semi_supervised.neural")
    encoders = parse_params(PretrainedParams, pretrained, "semi_supervised.pretrained")
    where = f"semi_supervised.methods.{method}"
    chosen = {n: parse_params(EntryParams, e, f"{where}.{n}") for n, e in (entries or {}).items() if settings.runs(n)}
    device, rows, rounds = resolve_device(settings.device), [], []
    on_encoders = any(n in encoders.methods for n in chosen)
    expected = data_provenance(base_dataset, parse_params(DataParams, data, "data")) if on_encoders else {}
    with node_compute(settings):
        inputs_list = _inputs(method, base_dataset, pretrained_encoders, networks, encoders, on_encoders, device, expected)
        for inputs in inputs_list if chosen else []:
            views = list(_views(dataclasses.replace(base_dataset, X=inputs.X), split_table, label_subsets))
            for name in (n for n in chosen if inputs.name == RAW or n in encoders.methods):
                args = (inputs, views, base_dataset.name, networks, settings, device)
                new_rows, new_rounds = _run_entry(method, name, chosen[name], *args)
                rows, rounds = rows + new_rows, rounds + new_rounds
    return results_frame(rows), _rounds_frame(rounds)


def combine_rounds(*tables: pd.DataFrame) -> pd.DataFrame:
    """One pseudo-label table from every method node's."""
    return _rounds_frame(pd.concat(tables, ignore_index=True).to_dict("records"))


def _panels(board: pd.DataFrame, kind_of: Mapping[str, str]) -> dict[str, list[str]]:
    """The accuracy figure's panels: classic and neural methods on raw inputs, then the rest."""
    classic, neural, pretrained = "estimators (raw inputs)", "neural methods (raw inputs)", "on pretrained encoders"
    panels: dict[str, list[str]] = {classic: [], neural: [], pretrained: []}
    for method in sorted(board["method"].unique()):
        if method not in kind_of:
            panels[pretrained].append(method)
        else:
            panels[neural if is_neural(kind_of[method]) else classic].append(method)
    return panels


def _history_steps(rounds: pd.DataFrame) -> list[tuple[str, float, int]]:
    """Pseudo-labels added and their precision per round (the step), mean over seeds."""
    steps = []
    rounds = rounds.assign(precision=pd.to_numeric(rounds["precision"], errors="coerce"))
    means = rounds.groupby(["dataset", "method", "labels_per_class", "round"], sort=True)[["n_added", "precision"]].mean()
    for (dataset, method, budget, round_), row in means.iterrows():
        key = functools.partial(tracking.history_key, "semi_supervised", dataset, method, labels_per_class=budget)
        steps.append((key("pseudo_labels_added"), row["n_added"], int(round_)))
        if np.isfinite(row["precision"]):
            steps.append((key("pseudo_label_precision"), row["precision"], int(round_)))
    return steps


def report(results: pd.DataFrame, rounds: pd.DataFrame, methods: Mapping[str, Any]) -> tuple[Any, Any]:
    """Figures and MLflow histories: accuracy per method and budget, pseudo-labels per round.

    Logged: ``history/semi_supervised/<dataset>/<method>/lpc_<budget>/pseudo_labels_added``
    and ``.../pseudo_label_precision``, the mean over seeds with the round as step (the
    accuracies reach MLflow from the results table, see ``reporting.tracking``).
    ``methods`` is ``params:semi_supervised.methods`` (method → entries).
    """
    kind_of = {entry: method for method, entries in (methods or {}).items() for entry in (entries or {})}
    board = aggregate_results([results])
    accuracy_figure = figures.accuracy_vs_budget(board, _panels(board, kind_of))
    recorded = set(rounds["method"])
    pseudo_labelled = [n for n, kind in kind_of.items() if adds_pseudo_labels(kind) and n in recorded]
    precision_figure = figures.pseudo_label_precision(rounds, pseudo_labelled)
    tracking.log_metric_steps(_history_steps(rounds))
    tracking.log_figure(accuracy_figure, "figures/semi_supervised/accuracy_vs_budget.png")
    tracking.log_figure(precision_figure, "figures/semi_supervised/pseudo_label_precision.png")
    best = board[(board["metric"] == "accuracy") & (board["split"] == "test")]
    for budget, group in best.groupby("labels_per_class"):
        top = group.loc[group["mean"].idxmax()]
        logger.info("semi_supervised: best at %s labels/class: %s %.4f", budget, top["method"], top["mean"])
    return accuracy_figure, precision_figure
