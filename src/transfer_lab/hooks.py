"""Project hooks: parameter checks before any work, the MLflow run (named, tagged, shared with
workers, given the results tables), and the summary that ends every run.

mlflow, kedro-mlflow and pandas are imported by the hooks when they first run, not here:
``settings.py`` imports this module for every ``kedro`` command, ``kedro --help`` included."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines as project_pipelines

from transfer_lab.data_root import DEFAULT_DATA_ROOT, REPORT_NAME, DataRoot
from transfer_lab.params import validate_parameters

logger = logging.getLogger(__name__)


class _DropUntypedPyfuncAdvice(logging.Filter):
    """Drops MLflow's advice to add type hints to a pyfunc ``predict``.

    kedro-mlflow defines such a model class; MLflow warns about it when kedro-mlflow's
    command-line plugin is loaded, i.e. on every ``kedro`` command, and no user can act on
    it. A warnings filter cannot drop it (MLflow sets its own "once" filter around the
    check); Kedro routes warnings to the ``py.warnings`` logger, so a filter there does.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "Add type hints to the `predict` method" not in record.getMessage()


logging.getLogger("py.warnings").addFilter(_DropUntypedPyfuncAdvice())


class _VizTrackingNoticeAsInfo(logging.Filter):
    """Logs kedro-viz's "Workflow tracking is disabled ..." at INFO instead of WARNING.

    kedro-viz says it on every run with ``ParallelRunner`` (and ``make run``'s subclass of it) or with
    ``--pipelines``: its run-status file is written for full sequential runs only. That is
    information about Kedro-Viz, not a problem with the run, so it stays, one level down.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.getMessage().startswith("Workflow tracking is disabled"):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


logging.getLogger("kedro_viz.integrations.kedro.run_hooks").addFilter(_VizTrackingNoticeAsInfo())


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


class TrackedRunHook:
    """kedro-mlflow's hook with the project's run name, tags and parameters, built lazily.

    The hook itself is :class:`transfer_lab.reporting.tracked_run.TrackedMlflowHook` (a
    subclass of kedro-mlflow's ``MlflowHook``; its docstring says what it adds). This proxy
    builds it on the first hook call, so that mlflow and kedro-mlflow (~5 s of imports) are
    imported by the commands that open a session (``kedro run``) and not by those that only
    read the settings (``kedro --help``, ``kedro registry list``, ``kedro catalog ...``).
    In a ParallelRunner worker no context is created: the node hooks are forwarded only to a
    hook that exists, which is what kedro-mlflow's own hook did there (no run id, per-node
    parameter logging off).
    """

    def __init__(self) -> None:
        self._hook = None

    def _built(self):
        if self._hook is None:
            from transfer_lab.reporting.tracked_run import TrackedMlflowHook

            self._hook = TrackedMlflowHook()
        return self._hook

    def __getattr__(self, name: str) -> Any:
        # The hook's public attributes (mlflow_config, ...). Private names are not forwarded:
        # Kedro's settings (dynaconf) probe objects for private attributes at start-up.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._built(), name)

    @hook_impl
    def after_context_created(self, context) -> None:
        self._built().after_context_created(context)

    @hook_impl
    def after_catalog_created(self, catalog, conf_catalog, conf_creds, parameters, save_version, load_versions) -> None:
        self._built().after_catalog_created(
            catalog=catalog, conf_catalog=conf_catalog, conf_creds=conf_creds, parameters=parameters,
            save_version=save_version, load_versions=load_versions,
        )

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._built().before_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)

    @hook_impl
    def before_node_run(self, node, catalog, inputs, is_async) -> None:
        if self._hook is not None:
            self._hook.before_node_run(node=node, catalog=catalog, inputs=inputs, is_async=is_async)

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._built().after_pipeline_run(run_params=run_params, pipeline=pipeline, catalog=catalog)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._built().on_pipeline_error(error=error, run_params=run_params, pipeline=pipeline, catalog=catalog)


def results_datasets(names) -> list[str]:
    """The ``<family>_results`` tables among dataset names."""
    from transfer_lab.reporting.tracked_run import results_datasets as found

    return found(names)


class RunSummaryHook:
    """Ends the log of every run with what it found: per family the best method per label
    budget and the wall time, where the report is (under the run's data root), and the MLflow run.

    Wall time per family is the sum of its nodes' times, measured by node hooks; those do
    not run under ``ParallelRunner``, whose summary gives the total only.
    """

    def __init__(self) -> None:
        self._data_root = DataRoot(DEFAULT_DATA_ROOT, Path.cwd())  # the run's, from its context
        self._reset()

    def _reset(self) -> None:
        self._start = time.perf_counter()
        self._node_start: dict[str, float] = {}
        self._family_seconds: dict[str, float] = defaultdict(float)

    @hook_impl
    def after_context_created(self, context) -> None:
        self._data_root = DataRoot.from_config(context.config_loader, context.project_path)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._reset()

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
            import mlflow

            from transfer_lab.reporting import run_summary

            results = {name.removesuffix("_results"): catalog.load(name) for name in results_datasets(pipeline.all_outputs())}
            written = self._data_root.modified(REPORT_NAME)
            fresh = written is not None and written >= time.time() - (time.perf_counter() - self._start)
            run = mlflow.active_run()
            mlflow_run = f"run '{run.info.run_name}' ({run.info.run_id})" if run is not None else None
            lines = run_summary.summary_lines(
                results, dict(self._family_seconds), time.perf_counter() - self._start,
                self._data_root.location(REPORT_NAME) if fresh else None, mlflow_run,
            )
        except Exception as error:  # the summary never fails a finished run
            logger.warning("No run summary: %s", error)
            return
        logging.getLogger("transfer_lab.summary").info("\n".join(lines), extra={"markup": False})
