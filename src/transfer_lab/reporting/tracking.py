"""MLflow logging from inside nodes.

kedro-mlflow opens one MLflow run per ``kedro run`` and logs the parameters. Metrics and
figures are logged here, by the nodes that produce them, into that run. The run is found
through ``mlflow.active_run()`` or, in a worker process (``ParallelRunner`` starts its
nodes in other processes, where kedro-mlflow's hooks do not run), through the
``MLFLOW_RUN_ID`` and ``MLFLOW_TRACKING_URI`` variables that the project's hook exports.
Outside a tracked run (unit tests, a notebook) every call is a no-op, so the library and
nodes never depend on a tracking server.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

# MLflow keys allow alphanumerics, underscores, dashes, periods, spaces, colons and slashes.
_UNSAFE_KEY = re.compile(r"[^0-9A-Za-z_\-. :/]")
# MLflow's limit of metrics per log_batch request
_BATCH_LIMIT = 1000

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


def metric_key(*parts: object) -> str:
    """An MLflow metric name from parts: ``metric_key("digits", "logreg", 5)`` → ``digits/logreg/5``.

    A domain pair ``a->b`` becomes ``a_to_b`` (MLflow refuses ``>``); other refused
    characters become ``_``.
    """
    return "/".join(_UNSAFE_KEY.sub("_", str(part).replace("->", "_to_")) for part in parts if str(part) != "")


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
