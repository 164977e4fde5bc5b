"""What a run writes outside the catalog follows ``globals:data_root`` too: the run lock and
the report the hooks read back (summary line, MLflow artifact). A local tmp data root, read
through the real configuration loader; a remote one on fsspec's in-memory filesystem."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import fsspec
import pytest
from kedro.config import OmegaConfigLoader

from tests.conftest import make_project_copy
from tests.reliability.cli import kedro
from transfer_lab.data_root import REPORT_NAME, DataRoot, configured_data_root
from transfer_lab.reliability import DataFolderLockHook, RemoteDataFolderLock, RunLockError, process_start_ticks


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _live_holder() -> dict:
    """A lock holder that is alive on this host and is not this process: pytest's parent."""
    pid = os.getppid()
    return {"pid": pid, "host": socket.gethostname(), "started": "now", "pid_started": process_start_ticks(pid),
            "command": "kedro run"}


def _context(project: Path, data_root: str | None) -> SimpleNamespace:
    """A context whose configuration is the project's, read by Kedro's loader (ci env)."""
    if data_root is not None:
        (project / "conf/ci/globals.yml").write_text(f"data_root: {data_root}\n")
    loader = OmegaConfigLoader(conf_source=str(project / "conf"), base_env="base", default_run_env="ci", env="ci")
    return SimpleNamespace(config_loader=loader, project_path=project)


def test_the_data_root_is_read_from_the_globals_like_the_catalog(tmp_path):
    project = make_project_copy(tmp_path / "project")
    assert configured_data_root(_context(project, None).config_loader) == "data"  # conf/base/globals.yml
    context = _context(project, str(tmp_path / "shared"))
    assert configured_data_root(context.config_loader) == str(tmp_path / "shared")
    # the same value the catalog's ${globals:data_root} resolves to
    assert context.config_loader["catalog"]["report"]["filepath"] == str(tmp_path / "shared" / REPORT_NAME)

    assert DataRoot("data", project).local_path == project / "data"
    assert DataRoot("data", project).location(REPORT_NAME) == "data/08_reporting/report.html"
    remote = DataRoot("memory://bucket/data/", project)
    assert remote.remote and remote.location(REPORT_NAME) == "memory://bucket/data/08_reporting/report.html"
    with pytest.raises(ValueError, match="not a local folder"):
        remote.local_path


def test_the_run_lock_lives_under_a_local_data_root(tmp_path):
    project = make_project_copy(tmp_path / "project")
    shared = tmp_path / "shared"
    hook = DataFolderLockHook()
    hook.after_context_created(_context(project, str(shared)))
    hook.before_pipeline_run({"project_path": str(project)}, None, None)
    try:
        holder = json.loads((shared / ".run.lock").read_text())
        assert holder["pid"] and holder["host"] == socket.gethostname()
        assert not (project / "data" / ".run.lock").exists()
    finally:
        hook.after_pipeline_run({}, None, None, None)
    assert not (shared / ".run.lock").exists()

    (shared / ".run.lock").write_text(json.dumps(_live_holder()))  # another run on that root
    with pytest.raises(RunLockError, match=f"pid {os.getppid()} .*{shared}/.run.lock"):
        hook.before_pipeline_run({"project_path": str(project)}, None, None)


@pytest.fixture
def memory_root():
    url = f"memory://transfer-lab-{time.monotonic_ns()}/data"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


def test_a_remote_data_root_is_locked_through_fsspec(tmp_path, memory_root):
    fs = fsspec.filesystem("memory")
    project = make_project_copy(tmp_path / "project")
    hook = DataFolderLockHook()
    hook.after_context_created(_context(project, memory_root))
    hook.before_pipeline_run({"project_path": str(project)}, None, None)
    try:
        assert json.loads(fs.cat_file(f"{memory_root}/.run.lock"))["host"] == socket.gethostname()
        assert not (project / "data" / ".run.lock").exists()  # no local stand-in
    finally:
        hook.on_pipeline_error(RuntimeError("x"), {}, None, None)
    assert not fs.exists(f"{memory_root}/.run.lock")

    fs.pipe_file(f"{memory_root}/.run.lock", json.dumps(_live_holder()).encode())  # another run
    with pytest.raises(RunLockError, match=f"pid {os.getppid()} .*{memory_root}/.run.lock"):
        hook.before_pipeline_run({"project_path": str(project)}, None, None)


def test_a_stale_remote_lock_is_taken_over_and_one_from_another_host_is_not(memory_root, caplog):
    fs = fsspec.filesystem("memory")
    lock_path = f"{memory_root}/.run.lock"
    fs.pipe_file(lock_path, json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "started": "then"}).encode())
    lock = RemoteDataFolderLock(memory_root, command="kedro run")
    with caplog.at_level(logging.WARNING):
        lock.acquire()
    assert "Removed a stale run lock" in caplog.text
    assert json.loads(fs.cat_file(lock_path))["command"] == "kedro run"
    lock.release()

    fs.pipe_file(lock_path, json.dumps({"pid": 1, "host": "elsewhere", "started": "now", "command": "kedro run"}).encode())
    with pytest.raises(RunLockError, match="on elsewhere"):
        RemoteDataFolderLock(memory_root).acquire()
    assert fs.exists(lock_path)


def test_a_filesystem_without_exclusive_create_is_named_in_a_warning(memory_root, caplog, monkeypatch):
    lock = RemoteDataFolderLock(memory_root)
    real_open = lock.fs.open

    def no_exclusive(path, mode="rb", **kwargs):
        if "x" in mode:
            raise NotImplementedError("File mode not supported")
        return real_open(path, mode, **kwargs)

    monkeypatch.setattr(lock.fs, "open", no_exclusive)
    with caplog.at_level(logging.WARNING):
        lock.acquire()
    assert "cannot create a file exclusively" in caplog.text and lock.held
    lock.release()


def test_the_run_summary_names_the_report_under_the_data_root(tmp_path, caplog):
    from transfer_lab.hooks import RunSummaryHook

    project = make_project_copy(tmp_path / "project")
    shared = tmp_path / "shared"
    hook = RunSummaryHook()
    hook.after_context_created(_context(project, str(shared)))
    hook.before_pipeline_run({}, None, None)
    (shared / "08_reporting").mkdir(parents=True)
    (shared / REPORT_NAME).write_text("<html></html>")
    pipeline = SimpleNamespace(all_outputs=lambda: set())
    with caplog.at_level(logging.INFO, logger="transfer_lab.summary"):
        hook.after_pipeline_run({}, pipeline, None)
    assert f"Report: {shared / REPORT_NAME}" in caplog.text


def test_a_remote_report_is_copied_and_logged_as_an_artifact(tmp_path, memory_root, monkeypatch):
    from transfer_lab.reporting import tracked_run

    fs = fsspec.filesystem("memory")
    fs.pipe_file(f"{memory_root}/{REPORT_NAME}", b"<html>remote</html>")
    logged = []
    monkeypatch.setattr(tracked_run.tracking, "log_artifact_file", lambda path, *a: logged.append(Path(path).read_bytes()))
    hook = tracked_run.TrackedMlflowHook()
    hook._data_root = DataRoot(memory_root, tmp_path)
    hook._log_report()
    assert logged == [b"<html>remote</html>"]


@pytest.mark.slow
def test_kedro_run_takes_its_lock_in_the_configured_data_root(tmp_path):
    project = make_project_copy(tmp_path / "project")
    shared = tmp_path / "shared"
    shared.mkdir()
    (project / "conf/ci/globals.yml").write_text(f"data_root: {shared}\n")
    stale = {"pid": _dead_pid(), "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00", "command": "kedro run"}
    (shared / ".run.lock").write_text(json.dumps(stale))  # only a run that looks there removes it
    result = kedro(project, "run", "--env", "ci", "--pipelines", "data")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Removed a stale run lock" in output and str(shared / ".run.lock") in output.replace("\n", "")
    assert not (shared / ".run.lock").exists()
    assert (shared / "03_primary/base_dataset.npz").exists()
    assert not [p for p in (project / "data").rglob("*") if p.is_file()]


def _paths(entry, key=""):
    """Every ``filepath``/``path`` value in a catalog entry, nested ones included."""
    if isinstance(entry, dict):
        for k, v in entry.items():
            yield from _paths(v, k)
    elif isinstance(entry, str) and key in ("filepath", "path"):
        yield entry


@pytest.mark.parametrize("catalog", sorted((Path(__file__).resolve().parents[2] / "conf" / "base").glob("catalog*.yml")),
                         ids=lambda p: p.name)
def test_every_catalog_path_lies_under_the_data_root(catalog):
    # a dataset written to a literal data/... would stay on the local disk when data_root
    # points at a shared or remote location (recommend's catalog did until stop 30)
    import yaml

    paths = list(_paths(yaml.safe_load(catalog.read_text())))
    assert [p for p in paths if not p.startswith("${globals:data_root}/")] == []
