"""kedro-mlflow's hook with the project's run name, tags and parameters (see
:class:`transfer_lab.hooks.TrackedRunHook`, which builds it on its first hook call: importing
this module imports mlflow and kedro-mlflow, ~5 s that ``kedro --help`` and ``kedro registry
list`` do not need)."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl

from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook

from transfer_lab.data_root import REPORT_NAME, DataRoot
from transfer_lab.params import validate_parameters
from transfer_lab.reporting import run_summary, tracking
from transfer_lab.reporting.results import PIPELINES

logger = logging.getLogger("transfer_lab.hooks")


class TrackedMlflowHook(MlflowHook):
    """kedro-mlflow's hook, with a run that says what ran and parameters in one form.

    Registered by ``settings.HOOKS`` in place of kedro-mlflow's own instance (which
    ``DISABLE_HOOKS_FOR_PLUGINS`` turns off), it keeps kedro-mlflow's configuration
    (``conf/base/mlflow.yml``), run handling and catalog datasets, and adds:

    - a run name ``<pipelines> · <dataset> · <short commit>`` unless ``mlflow.yml`` names one;
    - tags ``git_commit`` (and MLflow's own ``mlflow.source.git.commit``), ``git_dirty``,
      ``kedro_env``, ``command`` (``sys.argv``) and ``runner`` as a class name;
    - every parameter once, before any node, from the validated models
      (:func:`~transfer_lab.reporting.tracking.canonical_params`). kedro-mlflow logs the
      inputs of each node as they come (``[0, 1]`` from a file, ``3`` from the command line),
      and MLflow refuses a second, different value for a key, so that per-node logging is
      off; it also never ran in ``ParallelRunner`` workers;
    - at the end, every ``<family>_results`` table of the run as metrics and CSV artifacts,
      the leaderboard and the report as artifacts (logged here, in the driver, whichever
      runner ran the nodes);
    - ``MLFLOW_RUN_ID`` / ``MLFLOW_TRACKING_URI`` exported while the pipeline runs, so that
      nodes in ``ParallelRunner`` worker processes log into the same run
      (:mod:`transfer_lab.reporting.tracking`).
    """

    _exported: tuple[str, ...] = ()
    _data_root = DataRoot()  # the run's, from its context (after_context_created)

    @hook_impl
    def after_context_created(self, context) -> None:
        super().after_context_created(context)
        parameters = context.config_loader["parameters"]
        from transfer_lab.hooks import declared_sources

        self._params = tracking.canonical_params(parameters, validate_parameters(parameters, declared_sources(context.config_loader)))
        self._env = context.env
        self._project_path = Path(context.project_path)
        self._data_root = DataRoot.from_config(context.config_loader, context.project_path)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        # Tracking never aborts the science: a store that fails here, or in any hook below,
        # is warned about once and the run goes on untracked (reporting.tracking).
        tracking.reset_tracking_failure()
        # MLflow's SQL store logs every database error with a traceback, then raises it: the
        # raised error is what the guard reports, in one line.
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
        tracking.never_fatal_call(self._start_run, run_params, pipeline, catalog)

    def _start_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        git = run_summary.git_state(self._project_path)
        configured = self.mlflow_config.tracking.run.name
        if configured is None:
            dataset = self._params.get("data.dataset")
            self.mlflow_config.tracking.run.name = run_summary.run_name(run_params.get("pipeline_names"), dataset, git)
        super().before_pipeline_run(run_params, pipeline, catalog)
        self.mlflow_config.tracking.run.name = configured
        if not self._is_mlflow_enabled or mlflow.active_run() is None:
            return
        tags = {
            "git_commit": git.commit,
            "git_dirty": "unknown" if git.dirty is None else str(git.dirty).lower(),
            "kedro_env": str(self._env),
            "command": run_summary.command_line(),
            "runner": run_summary.runner_name(run_params.get("runner")),
            "pipelines": ",".join(run_params.get("pipeline_names") or ["__default__"]),
        }
        if git.commit != "unknown":
            tags["mlflow.source.git.commit"] = git.commit
        mlflow.set_tags(tags)
        tracking.log_params(self._params)
        run = mlflow.active_run()
        logger.info("MLflow run '%s' (%s) in %s", run.info.run_name, run.info.run_id, mlflow.get_tracking_uri())
        os.environ["MLFLOW_RUN_ID"] = run.info.run_id
        os.environ["MLFLOW_TRACKING_URI"] = mlflow.get_tracking_uri()
        self._exported = ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")
        self._started = time.time()

    def _log_param(self, name: str, value: Any) -> None:
        """kedro-mlflow's per-node parameter logging, off: see the class docstring."""

    @hook_impl
    def before_node_run(self, node, catalog, inputs: dict[str, Any], is_async: bool) -> None:
        """kedro-mlflow re-opens the run before every node (a store call): never fatal."""
        if not tracking.tracking_failed():
            tracking.never_fatal_call(super().before_node_run, node, catalog, inputs, is_async)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        if self._is_mlflow_enabled and mlflow.active_run() is not None and not tracking.tracking_failed():
            try:
                self._log_outputs(pipeline, catalog)
            except Exception as error:  # a finished run is not failed by its logging
                logger.warning("Could not log the run's tables to MLflow: %s", error)
        self._forget()
        self._end_run(super().after_pipeline_run, run_params, pipeline, catalog)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._forget()
        self._end_run(super().on_pipeline_error, error, run_params, pipeline, catalog)

    @staticmethod
    def _end_run(end: Any, *args: Any) -> None:
        """kedro-mlflow's end of the run. After a store failure it is tried once more, quietly
        (a locked database may be free again); if that fails too, the run stays RUNNING in
        the store and the next run on this host marks it KILLED."""
        if not tracking.tracking_failed():
            tracking.never_fatal_call(end, *args)
            return
        try:
            end(*args)
        except Exception as error:
            logger.debug("MLflow run not closed: %s", error)

    def _log_outputs(self, pipeline, catalog) -> None:
        outputs = pipeline.all_outputs()
        logged = 0
        for name in results_datasets(outputs):
            logged += tracking.log_results(catalog.load(name), name)
        if "leaderboard" in outputs:
            tracking.log_table(catalog.load("leaderboard"), "tables/leaderboard.csv")
        written = self._data_root.modified(REPORT_NAME)
        if written is not None and written >= getattr(self, "_started", 0):
            self._log_report()
        logger.debug("Logged %d metric values from %s", logged, ", ".join(results_datasets(outputs)))

    def _log_report(self) -> None:
        """The report under the data root, as an artifact: a remote one is copied here first."""
        if not self._data_root.remote:
            tracking.log_artifact_file(self._data_root.local_path / REPORT_NAME)
            return
        fs, path = self._data_root.filesystem(REPORT_NAME)
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / Path(REPORT_NAME).name
            fs.get_file(path, str(local))
            tracking.log_artifact_file(local)

    def _forget(self) -> None:
        for name in self._exported:
            os.environ.pop(name, None)
        self._exported = ()


def results_datasets(names) -> list[str]:
    """The ``<family>_results`` tables among dataset names."""
    families = set(PIPELINES)
    return sorted(name for name in names if name.endswith("_results") and name.removesuffix("_results") in families)
