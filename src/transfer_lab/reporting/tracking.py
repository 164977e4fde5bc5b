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

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
from mlflow.tracking import MlflowClient

# MLflow keys allow alphanumerics, underscores, dashes, periods, spaces, colons and slashes.
_UNSAFE_KEY = re.compile(r"[^0-9A-Za-z_\-. :/]")


def metric_key(*parts: object) -> str:
    """An MLflow metric name from parts: ``metric_key("digits", "logreg", 5)`` → ``digits/logreg/5``."""
    return "/".join(_UNSAFE_KEY.sub("_", str(part)) for part in parts if str(part) != "")


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


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log metrics into the run of this ``kedro run`` (no-op outside one)."""
    tracked = _tracked_run()
    if tracked is None or not metrics:
        return
    client, run_id = tracked
    for key, value in metrics.items():
        client.log_metric(run_id, metric_key(key), float(value), step=step or 0)


def log_metric_history(key: str, values: list[float]) -> None:
    """Log a metric's history (e.g. the loss per epoch) as steps 0, 1, …"""
    tracked = _tracked_run()
    if tracked is None:
        return
    client, run_id = tracked
    for step, value in enumerate(values):
        client.log_metric(run_id, metric_key(key), float(value), step=step)


def log_figure(figure: plt.Figure, artifact_file: str) -> None:
    """Log a matplotlib figure as an artifact (e.g. ``figures/label_budget.png``)."""
    tracked = _tracked_run()
    if tracked is None:
        return
    client, run_id = tracked
    client.log_figure(run_id, figure, artifact_file)


def log_artifact_file(path: str | Path, artifact_path: str | None = None) -> None:
    """Log a file that a node has written (a CSV table, a checkpoint)."""
    tracked = _tracked_run()
    if tracked is None:
        return
    client, run_id = tracked
    client.log_artifact(run_id, str(path), artifact_path)


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
