"""Runs a user can trust: honest MLflow run status and one run per data folder.

Two Kedro hooks, registered in ``settings.py``:

* :class:`RunStatusHook` — every MLflow run ends with the status it earned. kedro-mlflow
  ends a run FINISHED after the pipeline and FAILED on an ``Exception``; Kedro calls no hook
  on ``KeyboardInterrupt``, and MLflow's own exit handler then ends the run FINISHED. This
  hook turns SIGTERM (what ``timeout`` and CI cancellation send) into the same shutdown as
  Ctrl-C, ends an interrupted run KILLED (FAILED for any other unexpected exit), tags each
  run with the host, pid and process start time that ran it, and at the start of a run
  marks KILLED the runs of this experiment left RUNNING by a dead process on this host
  (SIGKILL, power loss).
* :class:`DataFolderLockHook` — ``<data root>/.run.lock`` (``globals.yml``'s ``data_root``,
  default ``data/``; pid, host, start time, command), created atomically before the MLflow
  run starts (through fsspec for a URL data root: :class:`RemoteDataFolderLock`): a second
  ``kedro run`` on the same data root stops at once with one line naming the first; the
  lock goes on every exit path, and a lock left by a dead process on this host does not block.

Nothing here touches the pipelines: the hooks see only the run's parameters and MLflow.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import click
from kedro.framework.hooks import hook_impl

from transfer_lab.data_root import DEFAULT_DATA_ROOT, DataRoot

logger = logging.getLogger(__name__)

TAG_HOST = "transfer_lab.host"
TAG_PID = "transfer_lab.pid"
TAG_PID_STARTED = "transfer_lab.pid_started"
LOCK_NAME = ".run.lock"


# ---------------------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------------------


def process_start_ticks(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (Linux ``/proc``), or None.

    Recorded with a pid so that a pid reused by a later process is not taken for the
    original one.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces: fields after the last ')' are fixed
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[-1].split()
    return bool(fields) and fields[0] in ("Z", "X")


def pid_alive(pid: int, started: str | None = None) -> bool:
    """Whether process ``pid`` (started at ``started`` ticks, when known) still runs here."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if _is_zombie(pid):
        return False
    if started:
        now = process_start_ticks(pid)
        if now is not None and now != str(started):
            return False  # the pid was reused
    return True


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


# ---------------------------------------------------------------------------------------
# MLflow run status
# ---------------------------------------------------------------------------------------


class RunStatusHook:
    """Ends every MLflow run with the status it earned (see the module docstring).

    ``trylast`` on ``before_pipeline_run`` puts it after kedro-mlflow has started the run.
    """

    def __init__(self) -> None:
        self._run_id: str | None = None
        self._tracking_uri: str | None = None
        self._ended = True
        self._interrupted: str | None = None
        self._owner_pid = os.getpid()
        self._previous_handlers: dict[int, Any] = {}
        self._atexit_registered = False

    # -- hooks -------------------------------------------------------------------------

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        import mlflow

        run = mlflow.active_run()
        if run is None:
            return
        self._run_id = run.info.run_id
        self._tracking_uri = mlflow.get_tracking_uri()
        self._ended = False
        self._interrupted = None
        self._owner_pid = os.getpid()
        pid = os.getpid()
        try:
            mlflow.set_tags(
                {TAG_HOST: socket.gethostname(), TAG_PID: str(pid), TAG_PID_STARTED: process_start_ticks(pid) or ""}
            )
            mark_dead_runs_killed(run.info.experiment_id, current_run_id=self._run_id)
        except Exception as error:  # tracking trouble must not stop the science
            logger.warning("Could not tag the MLflow run or check for dead runs: %s", error)
        self._install_signal_handlers()
        if not self._atexit_registered:
            # Registered after MLflow's own exit handler (at its import), so it runs first.
            atexit.register(self._at_exit)
            self._atexit_registered = True

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], run_result, pipeline, catalog) -> None:
        self._ended = True  # kedro-mlflow ends the run FINISHED
        self._restore_signal_handlers()

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._ended = True  # kedro-mlflow ends the run FAILED
        self._restore_signal_handlers()

    # -- signals -----------------------------------------------------------------------

    def _install_signal_handlers(self) -> None:
        if not _main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous_handlers[signum] = signal.signal(signum, self._on_signal)
            except (ValueError, OSError):  # not allowed here (embedded interpreter)
                pass

    def _restore_signal_handlers(self) -> None:
        if not _main_thread():
            return
        for signum, handler in self._previous_handlers.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous_handlers = {}

    def _on_signal(self, signum: int, frame) -> None:
        if os.getpid() != self._owner_pid:
            # A forked worker inherited the handler: die the ordinary way.
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        name = signal.Signals(signum).name
        if self._interrupted is None:
            self._interrupted = name
            logger.warning("Received %s: stopping the run; the MLflow run will be marked KILLED.", name)
        raise KeyboardInterrupt(name)

    # -- exit ----------------------------------------------------------------------------

    def _at_exit(self) -> None:
        if self._ended or self._run_id is None:
            return
        self._ended = True
        status = "KILLED" if self._interrupted or _exiting_on_interrupt() else "FAILED"
        try:
            import mlflow

            active = mlflow.active_run()
            if active is not None and active.info.run_id == self._run_id:
                while mlflow.active_run() is not None:
                    mlflow.end_run(status)
            else:
                client = mlflow.MlflowClient(self._tracking_uri)
                if client.get_run(self._run_id).info.status == "RUNNING":
                    client.set_terminated(self._run_id, status)
            sys.stderr.write(f"MLflow run {self._run_id} marked {status}.\n")
        except Exception as error:  # the process is ending: say so, do not raise
            sys.stderr.write(f"Could not mark MLflow run {self._run_id} {status}: {error}\n")


def _exiting_on_interrupt() -> bool:
    """True when the interpreter is leaving because of a KeyboardInterrupt."""
    value = getattr(sys, "last_value", None) or getattr(sys, "last_exc", None)
    return isinstance(value, KeyboardInterrupt)


def mark_dead_runs_killed(experiment_id: str, current_run_id: str | None = None, client=None) -> list[str]:
    """Mark KILLED the RUNNING runs of ``experiment_id`` started on this host by a process
    that is gone; return their ids. Runs without the host/pid tags are left alone."""
    import mlflow

    client = client or mlflow.MlflowClient()
    host = socket.gethostname()
    killed = []
    runs = client.search_runs(
        [experiment_id], filter_string=f"attributes.status = 'RUNNING' and tags.`{TAG_HOST}` = '{host}'"
    )
    for run in runs:
        if run.info.run_id == current_run_id:
            continue
        tags = run.data.tags
        try:
            pid = int(tags.get(TAG_PID, ""))
        except ValueError:
            continue
        if pid_alive(pid, tags.get(TAG_PID_STARTED) or None):
            continue
        client.set_terminated(run.info.run_id, "KILLED")
        killed.append(run.info.run_id)
        logger.warning(
            "MLflow run %s (pid %s on %s) was left RUNNING by a process that died; marked KILLED.",
            run.info.run_id, pid, host,
        )
    return killed


# ---------------------------------------------------------------------------------------
# One run per data folder
# ---------------------------------------------------------------------------------------


class RunLockError(click.ClickException):
    """Another run holds the data folder; shown to the user as one line."""


class DataFolderLock:
    """An exclusive lock on a data folder: the file ``<folder>/.run.lock``.

    The file is written whole under a temporary name and hard-linked to the lock name, so
    it is created atomically (like ``O_EXCL``) and is never seen half-written. A lock whose
    process is gone (same host; pid dead or reused) is stale and is taken over.
    """

    def __init__(self, folder: Path, command: str | None = None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.command = command if command is not None else " ".join(["kedro", *sys.argv[1:]])
        self._held = False

    def info(self) -> dict[str, Any]:
        pid = os.getpid()
        return {
            "pid": pid,
            "host": socket.gethostname(),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "pid_started": process_start_ticks(pid),
            "command": self.command,
        }

    def acquire(self) -> None:
        """Take the lock; a stale one is removed and the take retried (a few times)."""
        mine = (json.dumps(self.info()) + "\n").encode()
        for _ in range(5):
            try:
                self._take(mine)
                self._held = True
                return
            except FileExistsError:
                holder = self.read()
                if holder is not None and self._holder_alive(holder):
                    raise RunLockError(self.describe_holder(holder)) from None
                self._remove_stale(holder)
        raise RunLockError(f"could not lock {self.path}: it keeps reappearing; is another run starting?")

    def _take(self, content: bytes) -> None:
        """Create the lock file with ``content`` atomically, or raise ``FileExistsError``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".run.lock.{os.getpid()}.tmp"
        temporary.write_bytes(content)
        try:
            os.link(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)

    def read(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: stale, unless young (see _holder_alive)

    def _holder_alive(self, holder: dict[str, Any]) -> bool:
        if not holder:
            try:  # an unreadable lock younger than a minute may be a run starting up
                return time.time() - self._written() < 60
            except FileNotFoundError:
                return False
        if holder.get("host") != socket.gethostname():
            return True  # no way to check a process on another host
        try:
            pid = int(holder.get("pid"))
        except (TypeError, ValueError):
            return False
        return pid != os.getpid() and pid_alive(pid, holder.get("pid_started"))

    def _written(self) -> float:
        return self.path.stat().st_mtime

    def _remove_stale(self, holder: dict[str, Any] | None) -> None:
        if holder is None:
            return  # gone meanwhile: try again
        # Rename first: of two runs removing the same stale lock, only one succeeds, and
        # neither can remove a fresh lock the other has just made.
        aside = self.folder / f".run.lock.stale.{os.getpid()}"
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return
        try:
            if json.loads(aside.read_text() or "{}") != holder and holder:
                # not the lock we judged stale: put it back if the name is still free
                with contextlib.suppress(FileExistsError):
                    os.link(aside, self.path)
            else:
                logger.warning(
                    "Removed a stale run lock %s (pid %s on %s, started %s): its process is gone.",
                    self.path, holder.get("pid"), holder.get("host"), holder.get("started"),
                )
        except (OSError, ValueError):
            pass
        finally:
            aside.unlink(missing_ok=True)

    def describe_holder(self, holder: dict[str, Any]) -> str:
        if not holder:
            return f"another kedro run is starting on this data folder ({self.path} is being written); wait and retry"
        return (
            f"another kedro run is using {self.folder}: pid {holder.get('pid')} on {holder.get('host')}, "
            f"started {holder.get('started')} ({holder.get('command')}); wait for it to finish or stop it "
            f"(a lock left by a dead process on this host is removed automatically: {self.path})"
        )

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        holder = self.read()
        if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            self.path.unlink(missing_ok=True)

    @property
    def held(self) -> bool:
        return self._held


class RemoteDataFolderLock(DataFolderLock):
    """The same lock on a data root that is an fsspec URL (``s3://``, ``gcs://``, ...).

    The lock file is created with fsspec's exclusive mode ``xb`` after a check that it is
    absent: atomic where the filesystem enforces ``xb`` (s3fs with S3's conditional writes,
    the in-memory filesystem); where it does not, two runs starting at the same moment may
    both pass. A filesystem that refuses ``xb`` gets the lock written plainly, with a warning
    saying so. A holder on another host is always taken as alive: remove its lock by hand.
    """

    def __init__(self, url: str, command: str | None = None) -> None:
        from fsspec.core import url_to_fs

        self.folder = url.rstrip("/")
        self.path = f"{self.folder}/{LOCK_NAME}"  # shown to the user
        self.fs, self._lock_path = url_to_fs(self.path)
        self.command = command if command is not None else " ".join(["kedro", *sys.argv[1:]])
        self._held = False

    def _take(self, content: bytes) -> None:
        if self.fs.exists(self._lock_path):
            raise FileExistsError(self.path)
        try:
            with self.fs.open(self._lock_path, "xb") as handle:
                handle.write(content)
            return
        except (NotImplementedError, ValueError) as refused:
            logger.warning(
                "%s cannot create a file exclusively (%s): the run lock %s is written without that "
                "guarantee; two runs starting at the same moment could both take it.",
                type(self.fs).__name__, refused, self.path,
            )
        with self.fs.open(self._lock_path, "wb") as handle:
            handle.write(content)

    def read(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.fs.cat_file(self._lock_path))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}

    def _written(self) -> float:
        try:
            return self.fs.modified(self._lock_path).timestamp()
        except (NotImplementedError, AttributeError):
            return time.time()  # age unknown: an unreadable lock is taken as young

    def _remove_stale(self, holder: dict[str, Any] | None) -> None:
        if holder is None or self.read() != holder:
            return  # gone or replaced meanwhile: look again
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self._lock_path)
        logger.warning(
            "Removed a stale run lock %s (pid %s on %s, started %s): its process is gone.",
            self.path, holder.get("pid"), holder.get("host"), holder.get("started"),
        )

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        holder = self.read()
        if holder and holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self._lock_path)


def data_root_lock(root: DataRoot, command: str | None = None) -> DataFolderLock:
    """The run lock of a data root: a local folder's, or one through fsspec for a URL."""
    if root.remote:
        return RemoteDataFolderLock(root.value, command)
    return DataFolderLock(root.local_path, command)


class DataFolderLockHook:
    """Holds ``<data root>/.run.lock`` while a pipeline runs (see the module docstring); the
    data root is ``globals.yml``'s ``data_root`` (default ``data``, in the project folder).

    ``tryfirst`` on ``before_pipeline_run``: a refused run stops before kedro-mlflow opens
    an MLflow run. The lock goes after the pipeline, on an error, and at exit (Ctrl-C,
    SIGTERM, an error in another hook); SIGKILL leaves a stale lock that the next run removes.
    """

    def __init__(self) -> None:
        self._lock: DataFolderLock | None = None
        self._atexit_registered = False
        self._data_root: DataRoot | None = None

    @hook_impl
    def after_context_created(self, context) -> None:
        self._data_root = DataRoot.from_config(context.config_loader, context.project_path)

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        root = self._data_root
        if root is None:  # no context seen (a hook driven by hand): the default data root
            root = DataRoot(DEFAULT_DATA_ROOT, Path(run_params.get("project_path") or Path.cwd()))
        lock = data_root_lock(root)
        lock.acquire()
        self._lock = lock
        if not self._atexit_registered:
            atexit.register(self._release)
            self._atexit_registered = True

    @hook_impl(trylast=True)
    def after_pipeline_run(self, run_params: dict[str, Any], run_result, pipeline, catalog) -> None:
        self._release()

    @hook_impl(trylast=True)
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.release()
            self._lock = None
