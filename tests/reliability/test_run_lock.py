"""Attack 2: two `kedro run`s on one data folder; locks left by dead processes."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import make_project_copy
from tests.reliability.cli import KedroProcess, kedro, mlflow_runs
from transfer_lab.reliability import DataFolderLock, RunLockError, process_start_ticks

NODE_STARTED = r"Running node: (split_dataset|make_domain_pairs|make_label_subsets)"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.slow
def test_a_second_run_on_the_same_data_folder_stops_at_once_naming_the_first(tmp_path):
    project = make_project_copy(tmp_path / "project")
    # the whole ci graph: minutes, long enough for a second run to start up meanwhile
    first = KedroProcess(project, "run", "--env", "ci")
    first.wait_for(NODE_STARTED)
    start = time.monotonic()
    second = kedro(project, "run", "--env", "ci", "--pipelines", "data", "--params", "data.seeds=7", timeout=120)
    seconds = time.monotonic() - start
    output = second.stdout + second.stderr
    assert first.popen.poll() is None, "the first run should still be running"
    assert second.returncode != 0
    error_lines = [line for line in output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, output[-3000:]
    assert f"pid {first.popen.pid} on {socket.gethostname()}" in error_lines[0]
    assert "started 20" in error_lines[0] and "(kedro run --env ci)" in error_lines[0]
    assert "Traceback" not in output and "Running node" not in output
    assert seconds < 90, seconds  # start-up only (a loaded 2-core machine)

    first.send(signal.SIGTERM)  # enough: the point was the overlap
    assert first.wait(120) != 0
    assert not (project / "data" / ".run.lock").exists()
    # the refused run opened no MLflow run and wrote nothing the first run reads
    runs = mlflow_runs(project)
    assert [r.info.status for r in runs] == ["KILLED"]
    assert runs[0].data.params["data.seeds"] != "[7]"


@pytest.mark.slow
def test_a_stale_lock_from_a_dead_process_does_not_block_and_errors_release_the_lock(tmp_path):
    project = make_project_copy(tmp_path / "project")
    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00",
             "command": "kedro run"}
    (project / "data" / ".run.lock").write_text(json.dumps(stale))
    result = kedro(project, "run", "--env", "ci", "--pipelines", "data")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "Removed a stale run lock" in result.stdout + result.stderr
    assert not (project / "data" / ".run.lock").exists()

    failing = kedro(project, "run", "--env", "ci", "--pipelines", "data", "--params", "data.label_budgets=100000")
    assert failing.returncode != 0
    assert not (project / "data" / ".run.lock").exists()


def test_lock_is_exclusive_and_released_only_by_its_owner(tmp_path):
    lock = DataFolderLock(tmp_path / "data", command="kedro run")
    lock.acquire()
    holder = json.loads(lock.path.read_text())
    assert holder["pid"] == os.getpid() and holder["pid_started"] == process_start_ticks(os.getpid())

    # a live process (our parent) holding it: refused, one line naming it
    other = dict(holder, pid=os.getppid(), pid_started=process_start_ticks(os.getppid()))
    lock.path.write_text(json.dumps(other))
    with pytest.raises(RunLockError, match=rf"pid {os.getppid()} on .*kedro run"):
        DataFolderLock(tmp_path / "data").acquire()
    lock.release()  # not ours any more: left in place
    assert lock.path.exists()

    # the same pid, but a different process start time: the pid was reused, the lock is stale
    lock.path.write_text(json.dumps(dict(other, pid_started="1")))
    again = DataFolderLock(tmp_path / "data")
    again.acquire()
    assert json.loads(again.path.read_text())["pid"] == os.getpid()
    again.release()
    assert not again.path.exists()
    assert not list((tmp_path / "data").iterdir())  # no temporary files left behind
