"""Project hooks: parameter checks before any work, the MLflow run (named, tagged, shared with
workers, given the results tables), and the summary that ends every run."""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines as project_pipelines



def _drop_mlflow_type_hint_warning(message, category, filename, lineno, file=None, line=None):
    """Shows every warning but MLflow's advice to add type hints to a pyfunc ``predict``."""
    if "type hint" not in str(message):
        _show_warning(message, category, filename, lineno, file, line)


# kedro-mlflow defines a pyfunc model without type hints and MLflow warns about that class at
# import time, on every command; no user can act on it. A warnings filter cannot drop it (MLflow
# sets its own "once" filter around the check), so the display function skips it instead.
_show_warning = warnings.showwarning
warnings.showwarning = _drop_mlflow_type_hint_warning
try:
    from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook
finally:
    warnings.showwarning = _show_warning

from transfer_lab.params import validate_parameters
from transfer_lab.reporting import run_summary, tracking
from transfer_lab.reporting.results import PIPELINES

logger = logging.getLogger(__name__)


def declared_sources(config_loader) -> list[str]:
    """The source names under ``raw_sources`` in the catalog (a user's own data sets among
    them), which ``data.dataset`` may name; none when the catalog cannot be read here."""
    try:
        sources = config_loader["catalog"].get("raw_sources", {}).get("sources", {})
    except Exception:  # a broken catalog is reported by Kedro itself, in its own words
        return []
    return sorted(sources) if isinstance(sources, dict) else []


class ParameterValidationHook:
    """Stops a run with bad parameters before any node runs or any file is written.

    It validates the schemas only: checks that need the data (a label budget larger than
    the smallest class) are made by the node that reads the data, first of all training.

    ``tryfirst`` puts it ahead of kedro-mlflow's own ``after_context_created``, which
    creates the tracking database: a refused run leaves no trace.
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        # The raw configuration (runtime --params merged in), not ``context.params``: reading
        # that runs Kedro's own typed-parameter validation, whose report is many lines.
        validate_parameters(context.config_loader["parameters"], declared_sources(context.config_loader))
        # A mistyped --pipelines name stops here too, before kedro-mlflow creates mlflow.db.
        # (Imported here: the registry imports every pipeline, too much for start-up.)
        from transfer_lab.pipeline_registry import refuse_unknown_pipelines

        refuse_unknown_pipelines(project_pipelines._requested_pipelines)


class TrackedRunHook(MlflowHook):
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

    @hook_impl
    def after_context_created(self, context) -> None:
        super().after_context_created(context)
        parameters = context.config_loader["parameters"]
        self._params = tracking.canonical_params(parameters, validate_parameters(parameters, declared_sources(context.config_loader)))
        self._env = context.env
        self._project_path = Path(context.project_path)

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
        report = self._project_path / run_summary.REPORT_PATH
        if report.is_file() and report.stat().st_mtime >= getattr(self, "_started", 0):
            tracking.log_artifact_file(report)
        logger.debug("Logged %d metric values from %s", logged, ", ".join(results_datasets(outputs)))

    def _forget(self) -> None:
        for name in self._exported:
            os.environ.pop(name, None)
        self._exported = ()


def results_datasets(names) -> list[str]:
    """The ``<family>_results`` tables among dataset names."""
    families = set(PIPELINES)
    return sorted(name for name in names if name.endswith("_results") and name.removesuffix("_results") in families)


class RunSummaryHook:
    """Ends the log of every run with what it found: per family the best method per label
    budget and the wall time, where the report is, and the MLflow run.

    Wall time per family is the sum of its nodes' times, measured by node hooks; those do
    not run under ``ParallelRunner``, whose summary gives the total only.
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._start = time.perf_counter()
        self._node_start: dict[str, float] = {}
        self._family_seconds: dict[str, float] = defaultdict(float)
        self._project_path = Path.cwd()

    @hook_impl
    def after_context_created(self, context) -> None:
        self._project_path = Path(context.project_path)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        project_path = self._project_path
        self._reset()
        self._project_path = project_path

    @hook_impl
    def before_node_run(self, node) -> None:
        self._node_start[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node) -> None:
        start = self._node_start.pop(node.name, None)
        if start is not None:
            family = (node.namespace or node.name).split(".")[0]
            self._family_seconds[family] += time.perf_counter() - start

    @hook_impl(tryfirst=True)  # before kedro-mlflow closes the run it names
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        try:
            results = {name.removesuffix("_results"): catalog.load(name) for name in results_datasets(pipeline.all_outputs())}
            report = self._project_path / run_summary.REPORT_PATH
            fresh = report.is_file() and report.stat().st_mtime >= time.time() - (time.perf_counter() - self._start)
            run = mlflow.active_run()
            mlflow_run = f"run '{run.info.run_name}' ({run.info.run_id})" if run is not None else None
            lines = run_summary.summary_lines(
                results, dict(self._family_seconds), time.perf_counter() - self._start,
                run_summary.REPORT_PATH if fresh else None, mlflow_run,
            )
        except Exception as error:  # the summary never fails a finished run
            logger.warning("No run summary: %s", error)
            return
        logging.getLogger("transfer_lab.summary").info("\n".join(lines), extra={"markup": False})
