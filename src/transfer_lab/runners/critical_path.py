"""``CriticalPathRunner``: Kedro's ``ParallelRunner`` with longest-remaining-path-first scheduling.

Kedro's ``ParallelRunner`` hands every node to its process pool as soon as the node's inputs
exist; the pool runs them first come, first served. A chain of long nodes is then served
late: in the default run ``combined.select`` became ready at minute 6 with some 40 other
nodes, and each of its successors (``select_student``, ``train``) joined the back of the
queue only when its predecessor finished, so the chain of 7 minutes ran alone at the end
with one core idle (48.8 minutes in all; see README, "Run time of the default run").

This runner keeps the ready nodes itself and starts one only when a worker is free, taking
the node with the longest *remaining path*: its own expected seconds plus the longest chain
of expected seconds among the nodes that need its outputs (the "bottom level" of list
scheduling; Graham 1969, the HLFET heuristic of Adam, Chandy & Dickson 1974). Expected
seconds come from ``node_seconds.json`` beside this module: the CPU seconds each node took
in a measured default run (written by ``benchmarks/default_run.py --write-node-seconds``);
a node not listed there (a new method, another data set's fan-out) counts as the median.

Everything else is ``ParallelRunner``'s: the same worker processes, catalog checks and
tasks. Every node seeds itself, so the order changes no result (``benchmarks/default_run.py``
compares the results tables with ``SequentialRunner``'s). ``make run`` uses it::

    kedro run --runner transfer_lab.runners.CriticalPathRunner
"""

from __future__ import annotations

import heapq
import json
import statistics
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from itertools import chain
from pathlib import Path
from typing import Any

from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import ParallelRunner
from kedro.runner.task import Task

NODE_SECONDS = Path(__file__).with_name("node_seconds.json")


def load_node_seconds(path: Path = NODE_SECONDS) -> dict[str, float]:
    """Expected seconds per node name from a ``node_seconds.json`` (empty when absent)."""
    if not path.is_file():
        return {}
    return {name: float(s) for name, s in json.loads(path.read_text())["seconds"].items()}


def write_node_seconds(seconds: Mapping[str, float], source: str, path: Path = NODE_SECONDS) -> None:
    """Write the expected seconds per node (rounded to 0.1 s), saying which run measured them."""
    table = {name: round(float(s), 1) for name, s in sorted(seconds.items())}
    path.write_text(json.dumps({"source": source, "unit": "CPU seconds per node", "seconds": table}, indent=1) + "\n")


def remaining_path_seconds(pipeline: Pipeline, seconds: Mapping[str, float]) -> dict[str, float]:
    """Per node name: its expected seconds plus the longest chain of expected seconds after it.

    Nodes missing from ``seconds`` count as the median of the known ones (1 s when none is known).
    """
    default = statistics.median(seconds.values()) if seconds else 1.0
    children: dict[Node, list[Node]] = {node: [] for node in pipeline.nodes}
    for node, parents in pipeline.node_dependencies.items():
        for parent in parents:
            children[parent].append(node)
    remaining: dict[str, float] = {}
    for node in reversed(pipeline.nodes):  # Pipeline.nodes is topologically sorted
        below = max((remaining[child.name] for child in children[node]), default=0.0)
        remaining[node.name] = seconds.get(node.name, default) + below
    return remaining


class CriticalPathRunner(ParallelRunner):
    """``ParallelRunner`` that starts the ready node with the longest remaining path first.

    Parameters
    ----------
    max_workers : int, optional
        Worker processes; as ``ParallelRunner`` (default: the CPU count).
    is_async : bool, default False
    node_seconds : mapping of node name to seconds, optional
        Expected cost per node; default: ``node_seconds.json`` beside this module.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        is_async: bool = False,
        node_seconds: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(max_workers=max_workers, is_async=is_async)
        self._node_seconds = dict(load_node_seconds() if node_seconds is None else node_seconds)
        self.started: list[str] = []  # node names in the order they were handed to a worker

    def _run(self, pipeline: Pipeline, catalog: Any, hook_manager: Any = None, run_id: str | None = None) -> None:
        # AbstractRunner._run's executor branch (kedro 1.7) with one change: ready nodes wait
        # in a priority queue and go to the pool only when a worker is free. Like
        # ParallelRunner, tasks get no hook manager (workers register the project's hooks).
        nodes = pipeline.nodes
        self._validate_catalog(catalog)
        self._validate_nodes(nodes)
        self._set_manager_datasets(catalog)
        load_counts = Counter(chain.from_iterable(n.inputs for n in nodes))
        dependencies = pipeline.node_dependencies
        priority = remaining_path_seconds(pipeline, self._node_seconds)
        todo, done_nodes = set(dependencies), set()
        ready: list[tuple[float, str, Node]] = []
        running: set[Future] = set()
        workers = self._get_required_workers_count(pipeline)

        with self._get_executor(workers) as executor:
            while True:
                newly_ready = {n for n in todo if dependencies[n] <= done_nodes}
                todo -= newly_ready
                for node in newly_ready:
                    heapq.heappush(ready, (-priority[node.name], node.name, node))
                while ready and len(running) < workers:
                    node = heapq.heappop(ready)[2]
                    task = Task(node=node, catalog=catalog, hook_manager=None, is_async=self._is_async,
                                run_id=run_id)
                    task.parallel = True
                    running.add(executor.submit(task))
                    self.started.append(node.name)
                if not running:
                    if todo:
                        self._raise_runtime_error(todo, done_nodes, set(), None)
                    break
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    try:
                        node = future.result()
                    except Exception:
                        self._suggest_resume_scenario(pipeline, done_nodes, catalog)
                        raise
                    done_nodes.add(node)
                    self._logger.info("Completed node: %s", node.name)
                    self._logger.info("Completed %d out of %d tasks", len(done_nodes), len(nodes))
                    self._release_datasets(node, catalog, load_counts, pipeline)
