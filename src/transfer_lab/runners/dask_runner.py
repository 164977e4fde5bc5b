"""``DaskRunner``: every node of a run as a task on a ``dask.distributed`` cluster.

Kedro's documented pattern for distributed runs (the Kedro docs, "Dask" deployment page),
written for Kedro 1.7's ``AbstractRunner``:

- every node is submitted at once, in topological order, with the futures of the nodes it
  depends on as extra arguments: the scheduler starts a node as soon as every node whose
  outputs it reads has finished, on whichever worker is free;
- the worker loads the node's inputs and saves its outputs through the catalog (sent to each
  worker once), so every dataset a node hands to another must be a file under a data root
  that all workers reach (``globals.yml``: ``data_root``). A ``MemoryDataset`` output would
  stay in the worker's memory and never reach the next node: the runner refuses such a
  pipeline before submitting anything and names the datasets;
- the worker runs the project's node hooks (``settings.HOOKS``, as Kedro's ``ParallelRunner``
  does in its processes) and logs into the driver's MLflow run: the run id and tracking URI
  that :class:`transfer_lab.hooks.TrackedRunHook` exports are handed to every task;
- a node that raises fails the run with that node's own exception (its traceback from the
  worker, plus a note naming the node and the worker); the remaining tasks are cancelled.
  A worker that dies mid-task has its task rerun elsewhere by the scheduler, up to Dask's
  ``distributed.scheduler.allowed-failures`` times; past that the run fails with
  ``KilledWorker`` naming the node. Outputs are written atomically
  (:mod:`transfer_lab.datasets.atomic`), so a killed task leaves no file that looks finished.

The cluster: ``LocalCluster`` on this machine unless a scheduler address is configured
(:mod:`transfer_lab.runners.config`). Workers need the project importable (the same code and
environment as the driver) and, for a remote cluster, the data root and the MLflow tracking
URI must be reachable from every worker.
"""

from __future__ import annotations

import functools
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import cloudpickle
from distributed import Client, LocalCluster, as_completed, get_worker
from distributed.scheduler import KilledWorker
from kedro.io import MemoryDataset
from kedro.runner import AbstractRunner
from kedro.runner.task import Task

from transfer_lab.runners.config import current_settings, scheduler_address

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node
    from pluggy import PluginManager

#: environment variables of the driver that every task gets (the MLflow run to log into)
HANDED_TO_WORKERS = ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")
KEY_PREFIX = "kedro-node"


class DaskRunner(AbstractRunner):
    """Runs a pipeline's nodes as tasks on a Dask cluster (see the module docstring).

    Args:
        address: scheduler address, e.g. ``tcp://10.0.0.5:8786``; overrides the configuration
            (``--runner-params address=...``).
        n_workers: workers of the ``LocalCluster`` when no scheduler is configured; overrides
            ``dask.yml``.
        is_async: load and save a node's datasets in threads (Kedro's ``--async``).
    """

    def __init__(self, address: str | None = None, n_workers: int | None = None, is_async: bool = False):
        super().__init__(is_async=is_async)
        self._address = address
        self._n_workers = n_workers
        self.client: Client | None = None  # the client of the run in progress

    def _get_executor(self, max_workers: int) -> None:
        return None  # the Dask client is the executor

    def _refuse_memory_outputs(self, catalog: CatalogProtocol, pipeline: Pipeline) -> None:
        in_memory = memory_outputs(pipeline, catalog)
        if in_memory:
            raise ValueError(
                "DaskRunner: these node outputs are MemoryDatasets, which stay in one worker's "
                "memory and never reach the node that reads them; declare them in the catalog "
                f"as files under the data root: {', '.join(in_memory)}"
            )

    def _run(
        self,
        pipeline: Pipeline,
        catalog: CatalogProtocol,
        hook_manager: PluginManager | None = None,
        run_id: str | None = None,
    ) -> None:
        self._refuse_memory_outputs(catalog, pipeline)
        settings = current_settings()
        address = scheduler_address(self._address, settings)
        relative = relative_paths(pipeline, catalog)
        if address and relative:
            self._logger.warning(
                "%d datasets have relative paths (e.g. %s): each worker resolves them against its own "
                "working folder. Set data_root in conf/<env>/globals.yml to a path every worker reaches.",
                len(relative), relative[0],
            )
        with _connect(address, settings, self._n_workers) as client:
            self.client = client
            try:
                self._run_on(client, pipeline, catalog, run_id)
            finally:
                self.client = None

    def _run_on(self, client: Client, pipeline: Pipeline, catalog: CatalogProtocol, run_id: str | None) -> None:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        self._logger.info("Dask scheduler %s, %d workers", client.scheduler.address, len(workers))
        environ = {name: os.environ[name] for name in HANDED_TO_WORKERS if os.environ.get(name)}
        from kedro.framework.project import PACKAGE_NAME

        # Nodes and the catalog travel as pickled bytes, unpickled on the workers only: the
        # scheduler never imports the project's pipelines (torch and all) to route a task.
        [shared_catalog] = client.scatter([cloudpickle.dumps(catalog)], broadcast=True, hash=False)
        token = uuid.uuid4().hex[:8]
        futures: dict[Node, Any] = {}
        node_of: dict[str, Node] = {}
        dependencies = pipeline.node_dependencies
        for node in pipeline.nodes:  # topological order: parents are submitted first
            key = f"{KEY_PREFIX}-{token}-{node.name}"
            futures[node] = client.submit(
                run_node, cloudpickle.dumps(node), shared_catalog, self._is_async, run_id, environ, PACKAGE_NAME,
                *(futures[parent] for parent in dependencies[node]),
                key=key, pure=False,
            )
            node_of[key] = node
        done: list[Node] = []
        for future in as_completed(list(futures.values())):
            node = node_of[future.key]
            if future.status != "finished":
                self._fail(client, future, futures, node_of, pipeline, done, catalog)
            name, worker, seconds = future.result()
            done.append(node)
            self._logger.info("Completed node %s on %s in %.1f s (%d of %d)", name, worker, seconds, len(done), len(futures))

    def _fail(self, client, future, futures, node_of, pipeline, done, catalog) -> None:
        # Only an "error" future carries an exception; a "cancelled" or "lost" one (the scheduler
        # dropped the task, or the client lost its connection) has none to re-raise.
        error = future.exception() if future.status == "error" else None
        node = node_of[future.key]
        pending = [f for f in futures.values() if not f.done()]
        client.cancel(pending)
        if isinstance(error, KilledWorker):
            # A dependent of the dead worker's task fails with the same KilledWorker and may come
            # out of as_completed first: name the task whose worker died, not its dependent.
            node = node_of.get(str(error.task), node)
            note = (f"node '{node.name}': its worker died while running it, more often than Dask's "
                    "distributed.scheduler.allowed-failures allows")
        elif error is None:
            note = f"node '{node.name}' did not finish on the Dask cluster"
            error = RuntimeError(f"its task ended with status '{future.status}' and no error "
                                 "(cancelled by the scheduler or lost with the client's connection)")
        else:
            note = f"node '{node.name}' failed on a Dask worker"
        self._logger.error("%s: %s: %s", note, type(error).__name__, error)
        error.add_note(note)
        self._suggest_resume_scenario(pipeline, done, catalog)
        raise error


def run_node(node: bytes, catalog: bytes, is_async: bool, run_id: str | None,
             environ: dict[str, str], package_name: str | None, *dependencies: Any) -> tuple[str, str, float]:
    """The task on a worker: one node through Kedro's ``Task``, with the project's hooks.

    ``node`` and ``catalog`` are pickled (see ``DaskRunner._run_on``); ``dependencies`` are the
    results of the nodes this one waits for (unused: the data comes through the catalog).
    Returns the node's name, the worker's address and its seconds.
    """
    start = time.perf_counter()
    os.environ.update(environ)
    hook_manager = _worker_hook_manager(package_name)  # the project configured before unpickling
    node, catalog = cloudpickle.loads(node), _catalog(catalog)
    Task(node=node, catalog=catalog, is_async=is_async, hook_manager=hook_manager, run_id=run_id).execute()
    try:
        worker = get_worker().address
    except ValueError:  # not on a worker (called directly)
        worker = "local"
    return node.name, worker, time.perf_counter() - start


@functools.lru_cache(maxsize=1)
def _catalog(pickled: bytes):
    """The run's catalog, unpickled once per worker process and run."""
    return cloudpickle.loads(pickled)


@functools.cache
def _worker_hook_manager(package_name: str | None):
    """The project's hooks in this worker process, made once (as ``ParallelRunner`` does per process)."""
    from kedro.framework.hooks.manager import _create_hook_manager, _register_hooks, _register_hooks_entry_points
    from kedro.framework.project import configure_project, settings

    hook_manager = _create_hook_manager()
    if not package_name:  # outside a Kedro project: no hooks (no plugin opening its own MLflow run)
        return hook_manager
    configure_project(package_name)
    _register_hooks(hook_manager, settings.HOOKS)
    _register_hooks_entry_points(hook_manager, settings.DISABLE_HOOKS_FOR_PLUGINS)
    return hook_manager


@contextmanager
def _connect(address: str | None, settings, n_workers: int | None):
    if address:
        with Client(address) as client:
            yield client
        return
    local = settings.local_cluster
    with LocalCluster(
        n_workers=n_workers or local.n_workers, threads_per_worker=local.threads_per_worker,
        memory_limit=local.memory_limit or "auto", processes=True, dashboard_address=None,
    ) as cluster, Client(cluster) as client:
        yield client


def memory_outputs(pipeline: Pipeline, catalog: CatalogProtocol) -> list[str]:
    """Node outputs that would live in one process's memory only (sorted names)."""
    names = []
    for name in pipeline.all_outputs():
        dataset = catalog.get(name, fallback_to_runtime_pattern=True)
        if isinstance(dataset, MemoryDataset):
            names.append(name)
    return sorted(names)


def relative_paths(pipeline: Pipeline, catalog: CatalogProtocol) -> list[str]:
    """Local datasets of the pipeline whose paths are relative to the working folder."""
    relative = []
    for name in sorted(pipeline.datasets()):
        dataset = catalog.get(name, fallback_to_runtime_pattern=True)
        path = getattr(dataset, "_filepath", None) or getattr(dataset, "_path", None)
        protocol = getattr(dataset, "_protocol", "file")
        if path is not None and protocol in ("file", None) and not PurePath(str(path)).is_absolute():
            relative.append(f"{name} ({path})")
    return relative
