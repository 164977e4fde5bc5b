"""Project hooks: parameter checks before any work, and the MLflow run shared with workers."""

from __future__ import annotations

import logging
import os
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractDataset

from transfer_lab.params import ParameterError, validate_parameters
from transfer_lab.pipelines.data.params import DataParams

logger = logging.getLogger(__name__)


class ParameterValidationHook:
    """Stops a run with bad parameters before any node runs or any file is written.

    ``tryfirst`` puts it ahead of kedro-mlflow's own ``after_context_created``, which
    creates the tracking database: a refused run leaves no trace.
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        models = validate_parameters(context.params)
        data = models.get("data")
        if isinstance(data, DataParams):
            self._check_budgets_fit(context, data)

    @staticmethod
    def _check_budgets_fit(context, data: DataParams) -> None:
        """A budget may not ask for more labels per class than the smallest class has in train."""
        numeric = [budget for budget in data.label_budgets if budget != "all"]
        if not numeric:
            return
        from transfer_lab.pipelines.data.nodes import load_labels
        from transfer_lab.sources.splits import smallest_train_class, stratified_split

        catalog_config = context.config_loader["catalog"]
        raw_sources = AbstractDataset.from_config("raw_sources", catalog_config["raw_sources"])
        labels = load_labels(raw_sources, data)
        split_table = stratified_split(
            labels, data.split.val_fraction, data.split.test_fraction, data.split.seed
        )
        largest = smallest_train_class(labels, split_table)
        too_big = [budget for budget in numeric if budget > largest]
        if too_big:
            raise ParameterError(
                f"Invalid parameter 'data.label_budgets': {too_big[0]} labels per class exceeds the "
                f"smallest class of {data.dataset}'s train split ({largest}); use budgets <= {largest} or 'all'"
            )


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
