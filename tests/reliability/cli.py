"""Real `kedro run` subprocesses in a copy of the project, for the reliability attacks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

_DROP = ("DO_NOT_TRACK", "KEDRO_DISABLE_TELEMETRY", "MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")


def kedro_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROP}
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "200"  # one log record per line, so the patterns below match
    return env


class KedroProcess:
    """``python -m kedro <args>`` started in ``project``, its output in a file."""

    def __init__(self, project: Path, *args: str, log_name: str = "kedro.log") -> None:
        self.project = Path(project)
        self.log = self.project / log_name
        self._file = self.log.open("w")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "kedro", *args], cwd=project, env=kedro_env(),
            stdin=subprocess.DEVNULL, stdout=self._file, stderr=subprocess.STDOUT, text=True,
        )

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, timeout: float = 300) -> None:
        """Wait until the output matches ``pattern`` (a regex); fail if the process ends first."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            if regex.search(self.output()):
                return
            if self.popen.poll() is not None:
                raise AssertionError(f"kedro ended (rc {self.popen.returncode}) before {pattern!r}:\n{self.output()[-3000:]}")
            time.sleep(0.05)
        self.popen.kill()
        raise AssertionError(f"timed out waiting for {pattern!r}:\n{self.output()[-3000:]}")

    def send(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float = 600) -> int:
        try:
            return self.popen.wait(timeout)
        finally:
            self._file.close()


def kedro(project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kedro", *args], cwd=project, env=kedro_env(), stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout,
    )


def mlflow_runs(project: Path):
    """The project's MLflow runs, oldest first."""
    client = MlflowClient(f"sqlite:///{Path(project) / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("transfer_lab")
    if experiment is None:
        return []
    return sorted(client.search_runs([experiment.experiment_id]), key=lambda run: run.info.start_time)
