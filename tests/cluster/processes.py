"""Real processes on loopback for the cluster tests: a Dask scheduler and workers started with
the ``dask`` CLI, and an ``mlflow server`` with a SQLite backend; every one stopped afterwards."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager, suppress
from pathlib import Path

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI", "DASK_SCHEDULER_ADDRESS")}
    # COLUMNS: Kedro's rich log lines unwrapped, so that a test finds a node's name in one piece
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1", COLUMNS="400", **extra)
    return env


@contextmanager
def process(args: list[str], log: Path, cwd: Path, env: dict[str, str], grace: float = 10):
    """A process in its own session, stopped (TERM, then KILL after ``grace`` s) on exit."""
    handle = open(log, "w")
    proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        stop(proc, grace)
        handle.close()


def stop(proc: subprocess.Popen, grace: float = 10) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(grace)


class DaskCluster:
    """``dask scheduler`` + ``dask worker`` processes on 127.0.0.1 (workers without a nanny,
    so a killed worker stays dead until :meth:`ensure_workers` starts another in its place).
    ``worker_env`` must make the project importable."""

    def __init__(self, root: Path, n_workers: int, worker_env: dict[str, str], scheduler_env: dict[str, str]):
        self.root, self.n_workers = root, n_workers
        self.worker_env, self.scheduler_env = worker_env, scheduler_env
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.workers: dict[str, subprocess.Popen] = {}  # address -> process, dead ones included
        self._procs: list[subprocess.Popen] = []
        self._logs: list = []
        self._started = 0

    def _start(self, args: list[str], log: Path) -> subprocess.Popen:
        handle = open(log, "w")
        self._logs.append(handle)
        proc = subprocess.Popen(args, cwd=self._cwd, env=self.worker_env if args[1] == "worker" else self.scheduler_env,
                                stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._procs.append(proc)
        return proc

    def _start_worker(self) -> None:
        port = free_port()
        name = f"w{self._started}"
        self._started += 1
        self.workers[f"tcp://127.0.0.1:{port}"] = self._start(
            [str(BIN / "dask"), "worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
             "--host", "127.0.0.1", "--worker-port", str(port), "--name", name], self.root / f"worker_{name}.log")

    def ensure_workers(self, timeout: float = 90) -> None:
        """Start a worker in place of each one that died; wait until all have joined."""
        from distributed import Client

        for address, proc in list(self.workers.items()):
            if proc.poll() is not None:
                del self.workers[address]
        for _ in range(self.n_workers - len(self.workers)):
            self._start_worker()
        with Client(self.address, timeout=timeout) as client:
            client.wait_for_workers(self.n_workers, timeout=timeout)

    @contextmanager
    def running(self, timeout: float = 90):
        self._cwd = self.root / "worker_cwd"  # not the project: data must come from the data root
        self._cwd.mkdir(parents=True, exist_ok=True)
        try:
            self._start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
                         "--no-dashboard"], self.root / "scheduler.log")
            self.ensure_workers(timeout)
            yield self
        finally:
            stop_all(self._procs)
            for handle in self._logs:
                handle.close()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.root.glob("*.log")))


def stop_all(procs: list[subprocess.Popen], grace: float = 10) -> None:
    """TERM every process group at once, then KILL what is left after ``grace`` seconds."""
    running = [proc for proc in procs if proc.poll() is None]
    for proc in running:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in running:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(grace)


@contextmanager
def mlflow_server(root: Path, timeout: float = 120):
    """``mlflow server`` on 127.0.0.1 with a SQLite backend and served artifacts in ``root``."""
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    args = [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "artifacts")]
    # grace 3 s: after TERM the `mlflow` command took 4 s to exit when idle and >= 10 s at the
    # end of the module (its server had logged its shutdown 10 s before the KILL); the store
    # is this test's own
    with process(args, root / "mlflow.log", root, quiet_env(), grace=3) as proc:
        uri = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start:\n{(root / 'mlflow.log').read_text()[-3000:]}")
            time.sleep(0.5)
        yield uri


def kedro(project: Path, *args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kedro", *args], cwd=project, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
