"""Wall-clock and CPU seconds of every node, logged to MLflow on every run.

``NodeTimingHook`` measures each node between ``before_node_run`` and ``after_node_run``
and logs ``timing/<node name>/wall_seconds`` and ``timing/<node name>/cpu_seconds`` into
the run of the ``kedro run`` (no-op outside a tracked run).

Both runners: Kedro 1.7's ``ParallelRunner`` registers ``settings.HOOKS`` afresh inside each
worker process (``kedro.runner.task.Task._run_node_synchronization``), so the node hooks
run there too, around the node in the process that runs it; the metrics reach the parent's
MLflow run through the ``MLFLOW_RUN_ID`` that :class:`transfer_lab.hooks.TrackedRunHook`
exports. A worker runs one node at a time, so the process CPU time between the two hooks
is the node's CPU time (its own threads included) under either runner.
"""

from __future__ import annotations

import logging
import time

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)

PREFIX = "timing"


class NodeTimingHook:
    """Per-node wall and CPU seconds into MLflow (``timing/<node>/{wall,cpu}_seconds``)."""

    def __init__(self) -> None:
        self._started: dict[str, tuple[float, float]] = {}

    @hook_impl
    def before_node_run(self, node) -> None:
        self._started[node.name] = (time.perf_counter(), time.process_time())

    @hook_impl
    def after_node_run(self, node) -> None:
        started = self._started.pop(node.name, None)
        if started is None:
            return
        wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
        logger.debug("node %s: %.1f s wall, %.1f s CPU", node.name, wall, cpu)
        from transfer_lab.reporting import tracking  # mlflow only once a node has run

        tracking.log_metrics({
            tracking.metric_key(PREFIX, node.name, "wall_seconds"): round(wall, 3),
            tracking.metric_key(PREFIX, node.name, "cpu_seconds"): round(cpu, 3),
        })


def node_times(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{node: {"wall_seconds": .., "cpu_seconds": ..}}`` from a run's metrics dict."""
    times: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == PREFIX:
            times.setdefault(parts[1], {})[parts[2]] = value
    return times
