"""The Dask runner on a real cluster: a `dask scheduler` and two `dask worker` processes on
loopback (started with the dask CLI), and an `mlflow server` with a SQLite backend.

- in-process runs of tiny pipelines through the cluster: data handed over by files, a node's
  own error with its name, MemoryDataset hand-offs refused before any work;
- `kedro run --env ci` on the cluster writes the same tables as `SequentialRunner`, into one
  MLflow run on the server that holds the metrics the workers logged, although one worker
  is killed mid-node: Dask reruns that node on the other worker (``allowed-failures``);
- with ``allowed-failures`` 0 a worker killed mid-node fails the run cleanly: KilledWorker
  naming the node, MLflow run FAILED, none of that node's outputs on disk.

One scheduler, its workers and one MLflow server serve the whole module (a killed worker is
replaced before the next test); every process started here is stopped by the fixtures.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")

from distributed import Client  # noqa: E402
from kedro.io import DataCatalog  # noqa: E402
from kedro.pipeline import Pipeline, node  # noqa: E402
from kedro_datasets.pickle import PickleDataset  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from tests.cluster import nodes as tiny  # noqa: E402
from tests.cluster.processes import REPO, DaskCluster, kedro, mlflow_server, quiet_env  # noqa: E402
from tests.conftest import make_project_copy  # noqa: E402
from transfer_lab.runners import DaskRunner  # noqa: E402
from transfer_lab.runners.config import DaskSettings, scheduler_address  # noqa: E402

pytestmark = pytest.mark.slow

#: the cheap families run on the cluster, and the node killed mid-run
PIPELINES = "data,dictionary"
KILLED_NODE = "dictionary.self_taught_learning"
#: result rows that measure time, not the science: they differ run to run
TIMING_METRICS = {"seconds", "fit_seconds", "wall_seconds", "cpu_seconds"}


def _worker_env(**extra: str) -> dict[str, str]:
    # the checkout's sources (and tests.cluster.nodes) before the installed copy; the scheduler
    # too: it unpickles the task graph, so it needs the same code as the client and workers
    return quiet_env(PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]), **extra)


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        yield uri


@pytest.fixture(scope="module")
def shared_cluster(tmp_path_factory):
    dask = DaskCluster(tmp_path_factory.mktemp("dask"), 2, _worker_env(), _worker_env())
    with dask.running():
        yield dask


@pytest.fixture
def cluster(shared_cluster):
    """The module's cluster with all its workers: one killed by an earlier test is replaced."""
    shared_cluster.ensure_workers()
    return shared_cluster


@contextmanager
def scheduler_settings(address: str, **attributes):
    """Set attributes of the running scheduler (its ``dask.config`` values, read per event)
    for one test; the old values come back afterwards."""
    def swap(dask_scheduler, values):
        old = {name: getattr(dask_scheduler, name) for name in values}
        for name, value in values.items():
            setattr(dask_scheduler, name, value)
        return old

    with Client(address, timeout=30) as client:
        old = client.run_on_scheduler(swap, values=attributes)
        try:
            yield
        finally:
            client.run_on_scheduler(swap, values=old)


def _cluster_project(root: Path, tracking_uri: str, data_root: Path) -> Path:
    """A project copy whose ci environment points at the tracking server and a data root
    outside the project (the workers run in another folder: only the data root is shared)."""
    project = make_project_copy(root)
    (project / "conf/ci/globals.yml").write_text(f"data_root: {data_root}\n")
    (project / "conf/ci/mlflow.yml").write_text(f"server:\n  mlflow_tracking_uri: {tracking_uri}\n")
    return project


def _slow_killed_node(project: Path) -> None:
    """KILLED_NODE with 200 dictionary epochs (about 4 s instead of 1 s at ci's 2): the killer
    waits 0.5 s into the node, and at 1 s the node could end before the kill lands (its outputs
    then exist and a dependent dies instead)."""
    params = project / "conf/ci/parameters_dictionary.yml"
    params.write_text(params.read_text().replace("epochs: 2\n", "epochs: 200\n", 1))
    assert "epochs: 200" in params.read_text()


def _results(folder: Path) -> dict[str, pd.DataFrame]:
    tables = {}
    for path in sorted(folder.glob("*_results.csv")):
        table = pd.read_csv(path, dtype={"labels_per_class": str})
        table = table[~table["metric"].isin(TIMING_METRICS)]
        tables[path.name] = table.sort_values(list(table.columns)).reset_index(drop=True)
    return tables


def _only_run(uri: str):
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("transfer_lab")
    return client, client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])


# --- tiny pipelines, driven from this process -------------------------------------------------

def _catalog(folder: Path, *names: str) -> DataCatalog:
    catalog = DataCatalog({name: PickleDataset(filepath=str(folder / f"{name}.pkl")) for name in names})
    catalog["params:n"] = 5
    return catalog


def test_nodes_hand_data_over_through_shared_files(cluster, tmp_path):
    pipeline = Pipeline([
        node(tiny.make_numbers, "params:n", "numbers", name="make"),
        node(tiny.square_all, "numbers", "squares", name="square"),
        node(tiny.total, "squares", "total", name="total"),
    ])
    catalog = _catalog(tmp_path, "numbers", "squares", "total")
    DaskRunner(address=cluster.address).run(pipeline, catalog)
    assert catalog.load("total") == sum(x * x for x in range(5))


def test_a_failing_node_fails_the_run_with_its_own_error_and_name(cluster, tmp_path):
    pipeline = Pipeline([
        node(tiny.make_numbers, "params:n", "numbers", name="make"),
        node(tiny.fail_on_purpose, "numbers", "total", name="broken_total"),
        node(tiny.square_all, "total", "after", name="after_broken"),
    ])
    catalog = _catalog(tmp_path, "numbers", "total", "after")
    with pytest.raises(ArithmeticError, match="on purpose") as raised:
        DaskRunner(address=cluster.address).run(pipeline, catalog)
    assert any("broken_total" in note for note in raised.value.__notes__)
    assert (tmp_path / "numbers.pkl").exists()
    assert not (tmp_path / "total.pkl").exists() and not (tmp_path / "after.pkl").exists()


def test_memory_hand_offs_are_refused_before_any_work(cluster, tmp_path):
    pipeline = Pipeline([
        node(tiny.make_numbers, "params:n", "numbers", name="make"),
        node(tiny.total, "numbers", "total", name="total"),
    ])
    catalog = _catalog(tmp_path, "total")  # "numbers" is not declared: a MemoryDataset
    with pytest.raises(ValueError, match="numbers"):
        DaskRunner(address=cluster.address).run(pipeline, catalog)
    assert not list(tmp_path.iterdir())


def test_scheduler_address_precedence(monkeypatch):
    from_file = DaskSettings(scheduler_address="tcp://file:1")
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert scheduler_address(None, DaskSettings()) is None  # LocalCluster
    assert scheduler_address(None, from_file) == "tcp://file:1"
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://env:2")
    assert scheduler_address(None, from_file) == "tcp://env:2"
    assert scheduler_address("tcp://arg:3", from_file) == "tcp://arg:3"


# --- kedro run on the cluster ------------------------------------------------------------------

def test_kedro_run_on_the_cluster_matches_sequential_runner(cluster, tracking_server, tmp_path):
    sequential = make_project_copy(tmp_path / "sequential")
    _slow_killed_node(sequential)  # the same parameters as on the cluster, for equal tables
    result = kedro(sequential, "run", "--env", "ci", "--pipelines", PIPELINES, env=quiet_env())
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

    shared = tmp_path / "shared_data"
    project = _cluster_project(tmp_path / "on_cluster", tracking_server, shared)
    _slow_killed_node(project)
    # Dask's default allowed-failures (3): the node of a worker killed mid-node runs again elsewhere
    result, killed = _run_killing(cluster, project, KILLED_NODE)
    output = result.stdout + result.stderr
    assert killed, "the node never ran: " + output[-3000:]
    assert result.returncode == 0, output[-4000:] + cluster.logs()
    assert "KilledWorker" not in output

    expected, got = _results(sequential / "data/08_reporting"), _results(shared / "08_reporting")
    assert set(got) == set(expected) == {"dictionary_results.csv"}
    for name, table in expected.items():
        # exactly equal: the code is deterministic on CPU (one thread everywhere)
        pd.testing.assert_frame_equal(got[name], table, check_exact=True)
    # everything went to the data root, nothing to the project's own data/ folder; the run
    # lock too, gone at the end
    assert not [p for p in (project / "data").rglob("*") if p.is_file()]
    assert not (shared / ".run.lock").exists()

    client, runs = _only_run(tracking_server)
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED" and run.data.tags["runner"] == "DaskRunner"
    metrics = run.data.metrics
    # node timings are logged by the workers into the driver's run, results by the driver
    assert f"timing/{KILLED_NODE}/wall_seconds" in metrics and "timing/data.make_base_dataset/wall_seconds" in metrics
    assert any(key.startswith("dictionary/") for key in metrics)
    assert "tables/dictionary_results.csv" in {a.path for a in client.list_artifacts(run.info.run_id, "tables")}


def _kill_when_running(address: str, node_name: str, workers: dict, killed: list, timeout: float = 180) -> None:
    """Kill the worker process that runs ``node_name`` as soon as the scheduler says so."""
    with Client(address, timeout=30) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for worker, keys in client.processing().items():
                if any(str(key).endswith(f"-{node_name}") for key in keys):
                    time.sleep(0.5)  # into the node's work
                    workers[worker].kill()
                    killed.extend(str(key) for key in keys)  # the tasks the dead worker held
                    return
            time.sleep(0.05)


def _run_killing(cluster: DaskCluster, project: Path, node_name: str):
    """``kedro run`` of PIPELINES on the cluster while a thread kills the worker that runs
    ``node_name``; the run's result and the keys of the tasks the dead worker held."""
    killed: list[str] = []
    killer = threading.Thread(target=_kill_when_running, args=(cluster.address, node_name, cluster.workers, killed))
    killer.start()
    try:
        result = kedro(project, "run", "--env", "ci", "--pipelines", PIPELINES, "--runner", "transfer_lab.runners.DaskRunner",
                       env=quiet_env(DASK_SCHEDULER_ADDRESS=cluster.address))
    finally:
        killer.join()
    return result, killed


def test_a_worker_killed_mid_node_fails_the_run_cleanly(cluster, tracking_server, tmp_path):
    shared = tmp_path / "shared_data"
    project = _cluster_project(tmp_path / "project", tracking_server, shared)
    _slow_killed_node(project)
    # allowed-failures 0: the first lost worker fails the task (default: Dask reruns it elsewhere);
    # worker saturation 1: a one-thread worker holds only the task it runs, none queued
    with scheduler_settings(cluster.address, allowed_failures=0, WORKER_SATURATION=1.0):
        result, killed = _run_killing(cluster, project, KILLED_NODE)
    output = result.stdout + result.stderr
    assert killed, "the node never ran: " + output[-3000:]
    assert result.returncode != 0
    assert "KilledWorker" in output
    assert any(f"node '{key.split('-', 3)[-1]}': its worker died" in output for key in killed), (killed, output[-3000:])

    client, runs = _only_run(tracking_server)
    run = next(r for r in runs if r.data.tags.get("runner") == "DaskRunner" and r.info.status != "FINISHED")
    assert run.info.status == "FAILED"
    # the killed node's outputs are absent (no file that looks finished), and so is the table
    model_output = shared / "07_model_output/dictionary"
    finished = {p.name for p in model_output.glob("*") if not p.name.startswith(".")} if model_output.exists() else set()
    assert "dictionary_self_taught_rows.parquet" not in finished
    assert not (shared / "06_models/dictionary/self_taught_dictionaries.npz").exists()
    assert not (shared / "08_reporting/dictionary_results.csv").exists()
    assert not (shared / ".run.lock").exists()  # released on the failure


def test_the_default_pipeline_hands_nothing_over_in_memory():
    """Every node output of every family is a catalog file, so the Dask runner can run them all."""
    from kedro.framework.project import configure_project

    from tests.conftest import PROJECT_ROOT, make_catalog
    from transfer_lab.pipeline_registry import register_pipelines
    from transfer_lab.runners.dask_runner import memory_outputs

    configure_project("transfer_lab")
    registered = register_pipelines()
    catalog = make_catalog(PROJECT_ROOT, "ci", pipelines=registered)
    assert memory_outputs(registered["__default__"], catalog) == []
