"""Attack 6: the tracking store fails mid-run; the science goes on, with one warning."""

import logging
import sqlite3

import pandas as pd
import pytest

from transfer_lab.reporting import tracking


class _BrokenClient:
    calls = 0

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            _BrokenClient.calls += 1
            raise sqlite3.OperationalError("disk I/O error")

        return fail


@pytest.fixture
def broken_store(monkeypatch):
    monkeypatch.setattr(tracking, "_tracked_run", lambda: (_BrokenClient(), "run-id"))
    monkeypatch.setattr(tracking, "_failed", [])
    _BrokenClient.calls = 0


def test_a_failing_tracking_store_warns_once_and_never_raises(broken_store, caplog, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with caplog.at_level(logging.WARNING, logger=tracking.__name__):
        tracking.log_metrics({"a/b": 1.0})
        tracking.log_metric_history("loss", [3.0, 2.0])
        tracking.log_table(pd.DataFrame({"x": [1]}), "tables/x.csv")
        figure = plt.figure()
        tracking.log_figure(figure, "figures/f.png")
        plt.close(figure)
        (tmp_path / "t.csv").write_text("x\n1\n")
        tracking.log_artifact_file(tmp_path / "t.csv")
    warnings = [r for r in caplog.records if "MLflow tracking failed" in r.getMessage()]
    assert len(warnings) == 1 and "disk I/O error" in warnings[0].getMessage()
    assert _BrokenClient.calls == 1  # no retry storm against a dead store


def test_kedro_mlflows_hooks_never_raise_a_store_failure(monkeypatch, caplog):
    """The hook path in one process: kedro-mlflow's node and end-of-run hooks meet a dead
    store; nothing is raised, one warning, and no call is retried per node."""
    from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

    from transfer_lab.reporting.tracked_run import TrackedMlflowHook

    calls = []

    def dead_store(name):
        def call(self, *args, **kwargs):
            calls.append(name)
            raise sqlite3.OperationalError("disk I/O error")

        return call

    monkeypatch.setattr(tracking, "_failed", [])
    monkeypatch.setattr(MlflowHook, "before_node_run", dead_store("before_node_run"))
    monkeypatch.setattr(MlflowHook, "after_pipeline_run", dead_store("after_pipeline_run"))
    monkeypatch.setattr(MlflowHook, "on_pipeline_error", dead_store("on_pipeline_error"))
    hook = TrackedMlflowHook()  # what hooks.TrackedRunHook builds on its first call in a driver
    hook._is_mlflow_enabled = False  # no run of ours to log tables into
    with caplog.at_level(logging.WARNING, logger=tracking.__name__):
        for _ in range(3):
            hook.before_node_run(None, None, {}, False)
        hook.after_pipeline_run({}, None, None)
        hook.on_pipeline_error(RuntimeError("x"), {}, None, None)
    warnings = [r for r in caplog.records if "MLflow tracking failed" in r.getMessage()]
    assert len(warnings) == 1 and "disk I/O error" in warnings[0].getMessage()
    # one failing node call, then only the quiet attempts to close the run
    assert calls == ["before_node_run", "after_pipeline_run", "on_pipeline_error"]


# ---------------------------------------------------------------------------------------
# The real CLI: kedro-mlflow's own hooks (the run re-opened before every node, ended after
# the last) meet the failing store too.
# ---------------------------------------------------------------------------------------

NODE_STARTED = r"Running node: (split_dataset|make_domain_pairs|make_label_subsets)"


def _node_count(pipelines: str) -> int:
    from transfer_lab.pipelines.data.pipeline import create_pipeline as data
    from transfer_lab.pipelines.dictionary.pipeline import create_pipeline as dictionary

    made = {"data": data, "dictionary": dictionary}
    return sum(len(made[name]().nodes) for name in pipelines.split(","))


@pytest.mark.slow
@pytest.mark.parametrize(("attack", "pipelines"), [("deleted", "data,dictionary"), ("locked", "data")])
def test_losing_the_tracking_database_mid_run_leaves_the_science_whole(tmp_path, attack, pipelines):
    """``mlflow.db`` deleted, or locked by another process, while a node runs: every node
    still runs, the run exits 0 with one warning and no traceback; a database that comes
    back before the end gets the run closed FINISHED."""
    import re

    from tests.conftest import make_project_copy
    from tests.reliability.cli import KedroProcess, mlflow_runs

    project = make_project_copy(tmp_path / "project")
    run = KedroProcess(project, "run", "--env", "ci", "--pipelines", pipelines)
    run.wait_for(NODE_STARTED)
    database = project / "mlflow.db"
    if attack == "deleted":
        database.unlink()
    else:
        lock = sqlite3.connect(database, timeout=60, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # what a second writer holding the database does
        run.wait_for(r"MLflow tracking failed")
        lock.execute("ROLLBACK")
        lock.close()
    rc = run.wait(900)
    output = run.output()
    assert rc == 0, output[-3000:]
    assert output.count("MLflow tracking failed") == 1, output[-3000:]
    assert "Traceback" not in output
    started = set(re.findall(r"Running node: (\S+?):", output))
    assert len(started) == _node_count(pipelines), sorted(started)  # not one node skipped
    assert "Run summary" in output
    tables = {"data": "data_summary.csv", "dictionary": "dictionary_results.csv"}
    for name in pipelines.split(","):
        assert len(pd.read_csv(project / "data/08_reporting" / tables[name])) > 0
    if attack == "locked":
        assert [r.info.status for r in mlflow_runs(project)] == ["FINISHED"]
    else:
        assert not database.exists() or mlflow_runs(project) == []
