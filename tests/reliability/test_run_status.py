"""Attack 1: every MLflow run ends with the status it earned, whatever ends the process."""

import os
import signal

import pytest

from tests.conftest import make_project_copy
from tests.reliability.cli import KedroProcess, kedro, mlflow_runs

pytestmark = pytest.mark.slow

# a node of the data pipeline is running: the MLflow run exists and work has begun
NODE_STARTED = r"Running node: (split_dataset|make_domain_pairs|make_label_subsets)"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_is_recorded_killed(tmp_path, signum):
    project = make_project_copy(tmp_path / "project")
    run = KedroProcess(project, "run", "--env", "ci", "--pipelines", "data,dictionary")
    run.wait_for(NODE_STARTED)
    run.send(signum)
    rc = run.wait(120)
    output = run.output()
    assert rc != 0, output[-3000:]
    assert "Pipeline execution completed" not in output
    runs = mlflow_runs(project)
    assert [r.info.status for r in runs] == ["KILLED"], output[-3000:]
    tags = runs[0].data.tags
    assert tags["transfer_lab.pid"] == str(run.popen.pid) and tags["transfer_lab.host"] == os.uname().nodename
    assert not (project / "data" / ".run.lock").exists()  # the lock went too


def test_a_run_killed_by_sigkill_is_marked_killed_by_the_next_run(tmp_path):
    project = make_project_copy(tmp_path / "project")
    run = KedroProcess(project, "run", "--env", "ci", "--pipelines", "data")
    run.wait_for(NODE_STARTED)
    run.send(signal.SIGKILL)
    run.wait(60)
    assert [r.info.status for r in mlflow_runs(project)] == ["RUNNING"]  # what SIGKILL leaves

    result = kedro(project, "run", "--env", "ci", "--pipelines", "data")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "left RUNNING by a process that died; marked KILLED" in result.stdout + result.stderr
    assert [r.info.status for r in mlflow_runs(project)] == ["KILLED", "FINISHED"]


def test_a_failing_node_is_recorded_failed(tmp_path):
    project = make_project_copy(tmp_path / "project")
    # passes the parameter schema; the node that reads the data finds a class too small
    result = kedro(project, "run", "--env", "ci", "--pipelines", "data", "--params", "data.label_budgets=100000")
    assert result.returncode != 0
    assert [r.info.status for r in mlflow_runs(project)] == ["FAILED"], (result.stdout + result.stderr)[-3000:]
