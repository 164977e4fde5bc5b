"""Project settings (see https://docs.kedro.org/en/stable/kedro_project_setup/settings.html)."""

import warnings

from transfer_lab.hooks import MlflowWorkerHook, ParameterValidationHook
from transfer_lab.reliability import DataFolderLockHook, RunStatusHook

# Deprecation notices from inside Kedro and MLflow that no user of this project can act on.
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning)

HOOKS = (ParameterValidationHook(), MlflowWorkerHook(), RunStatusHook(), DataFolderLockHook())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Environments (conf/ci, conf/local) override single keys of a parameters block
    # instead of replacing the whole block.
    "merge_strategy": {"parameters": "soft"},
}
