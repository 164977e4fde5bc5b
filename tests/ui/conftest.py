"""Browser tests: the project's web views, served on loopback ports, read in headless Chromium.

One ``kedro run --env ci --pipelines data,evaluation`` (a couple of minutes) gives an MLflow
run with metrics and artifacts and, where the evaluation pipeline writes it, the report;
``kedro viz run`` and ``mlflow ui`` serve it, and Chromium (Debian's ``chromium`` package,
which ``.ci/run`` installs) renders the pages. Every server is stopped by its fixture.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import make_project_copy

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _environment() -> dict[str, str]:
    hidden = ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "DO_NOT_TRACK", "KEDRO_DISABLE_TELEMETRY")
    env = {key: value for key, value in os.environ.items() if key not in hidden}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    """A free loopback port below 49152 (Kedro-Viz refuses the dynamic range above)."""
    for port in random.sample(range(20000, 40000), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-40000")


def _stop(process: subprocess.Popen) -> None:
    """Stop a server and every process it started (its own process group)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def serve(command: Sequence[str], port: int, cwd: Path, log: Path, timeout: float = 240) -> Iterator[str]:
    """Start a server on 127.0.0.1:``port``, wait until it answers, yield its URL, stop it."""
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=_environment(), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                pytest.fail(f"{command[0]} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"{' '.join(command)} did not answer on {url} in {timeout:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        _stop(process)


class Browser:
    """Headless Chromium from the command line: the DOM after scripts ran, or a screenshot."""

    def __init__(self, executable: str, profile: Path) -> None:
        self.executable = executable
        self.profile = profile

    def _command(self, *extra: str) -> list[str]:
        return [
            self.executable, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--no-first-run",
            f"--user-data-dir={self.profile}", "--window-size=1600,1000", "--virtual-time-budget=20000", *extra,
        ]

    def dom(self, url: str, timeout: float = 180) -> str:
        done = subprocess.run(
            self._command("--dump-dom", url), capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def screenshot(self, url: str, path: Path, timeout: float = 180) -> Path:
        subprocess.run(
            self._command(f"--screenshot={path}", url), capture_output=True, timeout=timeout, check=False
        )
        return path


@pytest.fixture(scope="session")
def browser(tmp_path_factory) -> Browser:
    executable = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if executable is None:
        pytest.skip("no Chromium: apt-get install chromium (.ci/run installs it)")
    return Browser(executable, tmp_path_factory.mktemp("chromium-profile"))


@pytest.fixture(scope="session")
def tracked_project(tmp_path_factory) -> Path:
    """A project copy after ``kedro run --env ci --pipelines data,evaluation`` (one MLflow run)."""
    project = make_project_copy(tmp_path_factory.mktemp("ui") / "project")
    done = subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--env", "ci", "--pipelines", "data,evaluation"],
        cwd=project, env=_environment(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return project


@pytest.fixture(scope="session")
def mlflow_url(tracked_project, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "mlflow"), "ui", "--backend-store-uri",
        f"sqlite:///{tracked_project / 'mlflow.db'}", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]
    with serve(command, port, tracked_project, tmp_path_factory.mktemp("logs") / "mlflow.log") as url:
        yield url


@pytest.fixture(scope="session")
def viz_url(tracked_project, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "kedro", "viz", "run", "--no-browser", "--host", "127.0.0.1", "--port", str(port)]
    with serve(command, port, tracked_project, tmp_path_factory.mktemp("logs") / "viz.log") as url:
        yield url
