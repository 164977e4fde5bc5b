"""Project hooks: parameter checks before any work, and the MLflow run shared with workers."""

from __future__ import annotations

import logging
import os
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.framework.project import pipelines as project_pipelines

from transfer_lab.params import validate_parameters

logger = logging.getLogger(__name__)


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
        validate_parameters(context.config_loader["parameters"])
        # A mistyped --pipelines name stops here too, before kedro-mlflow creates mlflow.db.
        # (Imported here: the registry imports every pipeline, too much for start-up.)
        from transfer_lab.pipeline_registry import refuse_unknown_pipelines

        refuse_unknown_pipelines(project_pipelines._requested_pipelines)


class MlflowWorkerHook:
    """Lets nodes in worker processes log into the run that kedro-mlflow opened.

    ``ParallelRunner`` runs nodes in other processes, where no node hook runs and no MLflow
    run is active. Exporting the run id lets :mod:`transfer_lab.reporting.tracking` reach
    the same run from there. ``trylast`` runs it after kedro-mlflow has started the run.
    """

    _exported: tuple[str, ...] = ()

    @hook_impl(trylast=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline, catalog) -> None:
        run = mlflow.active_run()
        if run is None:
            return
        os.environ["MLFLOW_RUN_ID"] = run.info.run_id
        os.environ["MLFLOW_TRACKING_URI"] = mlflow.get_tracking_uri()
        self._exported = ("MLFLOW_RUN_ID", "MLFLOW_TRACKING_URI")

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], run_result, pipeline, catalog) -> None:
        self._forget()

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline, catalog) -> None:
        self._forget()

    def _forget(self) -> None:
        for name in self._exported:
            os.environ.pop(name, None)
        self._exported = ()
