"""MLflow logging: one run per ``kedro run``, with names that line up across runs.

kedro-mlflow opens one MLflow run per ``kedro run``; the project's hook
(:class:`transfer_lab.hooks.TrackedRunHook`) names and tags it, logs the parameters once
in canonical form (:func:`canonical_params`) and, when the run ends, logs every
``<family>_results`` table as metrics (:func:`results_metric_steps`) and as CSV artifacts.

**Metric names** (one scheme for every family, so runs with other seeds or budgets line up):

``<family>/<dataset>/<method>/lpc_<budget>/<metric>_<split>``
    the mean over seeds of one measurement of a results table (one value, step 0); the
    ``lpc_<budget>`` part is left out where no labels are involved (``lpc_all`` for every
    label). A domain pair ``a->b`` is written ``a_to_b``.
``seeds/<family>/<dataset>/<method>/lpc_<budget>/<metric>_<split>``
    the same measurement per seed: one metric whose step is the seed, so two runs with
    seeds ``[0, 1]`` and ``[2, 3]`` share the name and differ only in steps. Logged where
    the results vary the seed (the label-budget families), not for seed-free rows.
``history/<family>/<dataset>/<method>[/lpc_<budget>]/<quantity>``
    a curve over epochs or rounds (step = epoch or round), averaged over seeds at each step.

Only the measurements a run is compared by become metrics (:data:`TRACKED_MEASUREMENTS`:
test accuracies, PSNR, objectives, affinities, agreement); validation scores, timings and
the other rows stay in the results tables, logged as artifacts ``tables/<family>_results.csv``.
Metrics and figures are logged from the driver process or, in a worker process
(``ParallelRunner`` starts its nodes in other processes, where no node hook runs), through
the ``MLFLOW_RUN_ID`` and ``MLFLOW_TRACKING_URI`` variables that the hook exports. Outside a
tracked run (unit tests, a notebook) every call is a no-op, so the library and nodes never
depend on a tracking server.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import tempfile
import time
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

from transfer_lab.reporting.results import aggregate_results, normalise_results

# MLflow keys allow alphanumerics, underscores, dashes, periods, spaces, colons and slashes.
_UNSAFE_KEY = re.compile(r"[^0-9A-Za-z_\-. :/]")
# MLflow's limit of metrics per log_batch request
_BATCH_LIMIT = 1000
# The measurements of the results tables that become MLflow metrics: metric → the splits
# logged (None: every split). What a run is compared by; every other row (validation
# scores, timings, pseudo-label counts, taskonomy's affinity/gain/quality/test loss per
# transfer: ~200 pairs at default sizes, read as the affinity heatmap, not as charts) stays
# in the tables, which are logged as artifacts.
TRACKED_MEASUREMENTS: dict[str, tuple[str, ...] | None] = {
    "accuracy": ("test", "target_test", "source_test"),
    "psnr": ("test",),
    "objective": None,
    "final_loss": None,
    "kendall_tau": None,
}
SEEDS_PREFIX = "seeds"
HISTORY_PREFIX = "history"

logger = logging.getLogger(__name__)
_failed: list[str] = []  # the first tracking failure of this process, once it has happened


def _never_fatal(log):
    """Tracking is a record of the science, not part of it: a failing tracking store
    (a lost database, a server gone) is reported once, and this process logs no more,
    while the nodes and their result tables go on."""

    @functools.wraps(log)
    def guarded(*args, **kwargs):
        if _failed:
            return None
        try:
            return log(*args, **kwargs)
        except Exception as error:
            _failed.append(f"{type(error).__name__}: {error}")
            logger.warning(
                "MLflow tracking failed (%s: %s); the run goes on without logging to MLflow. "
                "The results tables on disk are complete.", type(error).__name__, error,
            )
            return None

    return guarded


def never_fatal_call(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)`` under the rule of the logging helpers here: a failure is
    warned about once (the first of the process) and ends all MLflow logging of this
    process; nothing is raised. For tracking code that is not ours (kedro-mlflow's hooks)."""
    return _never_fatal(call)(*args, **kwargs)


def tracking_failed() -> bool:
    """Whether the tracking store has failed in this process (logging is off since)."""
    return bool(_failed)


def reset_tracking_failure() -> None:
    """Start a new run with tracking on again (a store that failed may be back)."""
    _failed.clear()


def metric_key(*parts: object) -> str:
    """An MLflow metric name from parts: ``metric_key("digits", "logreg", 5)`` → ``digits/logreg/5``.

    A domain pair ``a->b`` becomes ``a_to_b`` (MLflow refuses ``>``); other refused
    characters become ``_``.
    """
    return "/".join(_UNSAFE_KEY.sub("_", str(part).replace("->", "_to_")) for part in parts if str(part) != "")


def budget_part(labels_per_class: object) -> str:
    """The budget part of a metric name: ``lpc_5``, ``lpc_all``, or ``""`` (left out) without labels."""
    text = "" if labels_per_class is None else str(labels_per_class).strip()
    return "" if text in ("", "nan", "None") else f"lpc_{text}"


def result_metric_key(pipeline: str, dataset: str, method: str, labels_per_class: object, metric: str, split: str) -> str:
    """The metric name of one measurement of a results table (mean over seeds).

    ``result_metric_key("evaluation", "digits", "cnn_scratch", "5", "accuracy", "test")``
    → ``evaluation/digits/cnn_scratch/lpc_5/accuracy_test``.
    """
    return metric_key(pipeline, dataset, method, budget_part(labels_per_class), f"{metric}_{split}")


def history_key(pipeline: str, dataset: str, method: str, quantity: str, labels_per_class: object = None) -> str:
    """The metric name of a curve over epochs or rounds: ``history/<family>/<dataset>/<method>[/lpc_<b>]/<quantity>``."""
    return metric_key(HISTORY_PREFIX, pipeline, dataset, method, budget_part(labels_per_class), quantity)


def tracked_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a results table that MLflow gets (:data:`TRACKED_MEASUREMENTS`).

    An estimator's agreement per target (``kendall_tau`` of ``<estimator>__<target>``) is
    left out: its mean over targets (method ``<estimator>``) is logged.
    """
    table = normalise_results(table)
    keep = [
        metric in TRACKED_MEASUREMENTS
        and (TRACKED_MEASUREMENTS[metric] is None or split in TRACKED_MEASUREMENTS[metric])
        and not (metric == "kendall_tau" and "__" in method)
        for metric, split, method in zip(table["metric"], table["split"], table["method"])
    ]
    return table[keep]


def results_metric_steps(table: pd.DataFrame) -> list[tuple[str, float, int]]:
    """The MLflow metrics of one results table (see the module docstring for the names).

    Every measurement of :func:`tracked_rows`: its mean over seeds at step 0 and, where the
    table varies the seed, each seed's value as step ``seed`` of the ``seeds/`` metric of
    the same name.
    """
    table = tracked_rows(table)
    if table.empty:
        return []
    board = aggregate_results([table])
    columns = ["pipeline", "dataset", "method", "labels_per_class", "metric", "split"]
    steps = [(result_metric_key(*(getattr(r, c) for c in columns)), float(r.mean), 0) for r in board.itertuples()]
    if table["seed"].nunique() > 1:
        steps += [
            (metric_key(SEEDS_PREFIX, result_metric_key(*(getattr(r, c) for c in columns))), float(r.value), int(r.seed))
            for r in table.itertuples()
        ]
    return steps


def mean_curve(curves: Iterable[Sequence[float]]) -> list[float]:
    """The mean over curves at each step; a curve that stopped early (early stopping) drops out."""
    curves = [np.asarray(curve, dtype=float) for curve in curves if len(curve)]
    if not curves:
        return []
    length = max(len(curve) for curve in curves)
    padded = np.full((len(curves), length), np.nan)
    for row, curve in zip(padded, curves):
        row[: len(curve)] = curve
    with np.errstate(all="ignore"):
        return [float(v) for v in np.nanmean(padded, axis=0)]


def log_history(key: str, curves: Iterable[Sequence[float]]) -> None:
    """Log the mean over seeds of several curves (one per seed) as one metric, step = epoch/round."""
    log_metric_steps((key, value, step) for step, value in enumerate(mean_curve(curves)) if np.isfinite(value))


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text[:MAX_PARAM_VAL_LENGTH]


def _flatten(prefix: str, value: Any, into: dict[str, str]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, into)
    else:
        into[prefix] = _param_text(value)


def canonical_params(parameters: Mapping[str, Any], models: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Every parameter as one MLflow parameter per leaf, in one canonical text form.

    ``models`` holds the validated pydantic model of each top-level block (from
    :func:`transfer_lab.params.validate_parameters`); such a block is logged as the model
    dumped in JSON mode, so a value reads the same however it was given (``data.seeds=3``
    on the command line and ``seeds: [3]`` in a file both give ``[3]``). Other blocks are
    logged as configured. Keys are flattened with ``.`` (``data.split.val_fraction``);
    strings are logged as they are, every other value as JSON (``[0, 1]``, ``true``, ``null``).
    """
    flat: dict[str, str] = {}
    models = models or {}
    for key, value in parameters.items():
        model = models.get(key)
        dumped = model.model_dump(mode="json") if model is not None else value
        _flatten(str(key), dumped, flat)
    return {metric_key(key): value for key, value in flat.items()}


def log_params(params: Mapping[str, str]) -> None:
    """Log parameters (no-op outside a run); batched, as MLflow takes 100 per request."""
    tracked = _tracked_run()
    if tracked is None or not params:
        return
    client, run_id = tracked
    client.log_batch(run_id, params=[Param(key, value) for key, value in params.items()])


def log_results(table: pd.DataFrame, name: str) -> int:
    """Log one ``<family>_results`` table: its metrics and the table as ``tables/<name>.csv``.

    Returns the number of metric values logged (0 outside a run).
    """
    if not is_tracking():
        return 0
    steps = results_metric_steps(table)
    log_metric_steps(steps)
    log_table(table, f"tables/{name}.csv")
    return len(steps)


def _tracked_run() -> tuple[MlflowClient, str] | None:
    run = mlflow.active_run()
    if run is not None:
        return MlflowClient(), run.info.run_id
    run_id = os.environ.get("MLFLOW_RUN_ID")
    if run_id:
        return MlflowClient(tracking_uri=os.environ.get("MLFLOW_TRACKING_URI")), run_id
    return None


def is_tracking() -> bool:
    """Whether a tracked MLflow run is open for this process."""
    return _tracked_run() is not None


@_never_fatal
def log_metric_steps(steps: Iterable[tuple[str, float, int]]) -> None:
    """Log many ``(key, value, step)`` measurements in few requests (no-op outside a run).

    One request per value costs about 25 ms on the SQLite store, which makes a few thousand
    history points (losses per epoch, pseudo-labels per round) a minute of logging;
    ``log_batch`` sends up to 1,000 per request.
    """
    tracked = _tracked_run()
    if tracked is None:
        return
    client, run_id = tracked
    stamp = int(time.time() * 1000)
    metrics = [Metric(metric_key(key), float(value), stamp, int(step)) for key, value, step in steps]
    for start in range(0, len(metrics), _BATCH_LIMIT):
        client.log_batch(run_id, metrics=metrics[start : start + _BATCH_LIMIT])


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log metrics into the run of this ``kedro run`` (no-op outside one)."""
    log_metric_steps((key, value, step or 0) for key, value in metrics.items())


def log_metric_history(key: str, values: list[float]) -> None:
    """Log a metric's history (e.g. the loss per epoch) as steps 0, 1, …"""
    log_metric_steps((key, value, step) for step, value in enumerate(values))


@_never_fatal
def log_figure(figure: plt.Figure, artifact_file: str) -> None:
    """Log a matplotlib figure as an artifact (e.g. ``figures/label_budget.png``)."""
    tracked = _tracked_run()
    if tracked is None:
        return
    client, run_id = tracked
    client.log_figure(run_id, figure, artifact_file)


@_never_fatal
def log_artifact_file(path: str | Path, artifact_path: str | None = None) -> None:
    """Log a file that a node has written (a CSV table, a checkpoint)."""
    tracked = _tracked_run()
    if tracked is None:
        return
    client, run_id = tracked
    client.log_artifact(run_id, str(path), artifact_path)


@_never_fatal
def log_table(frame, artifact_file: str) -> None:
    """Log a pandas DataFrame as a CSV artifact."""
    tracked = _tracked_run()
    if tracked is None:
        return
    client, run_id = tracked
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(artifact_file).name
        frame.to_csv(path, index=False)
        parent = str(Path(artifact_file).parent)
        client.log_artifact(run_id, str(path), None if parent == "." else parent)
