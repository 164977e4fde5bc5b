"""Project settings (see https://docs.kedro.org/en/stable/kedro_project_setup/settings.html)."""

from transfer_lab.hooks import MlflowWorkerHook, ParameterValidationHook

HOOKS = (ParameterValidationHook(), MlflowWorkerHook())

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Environments (conf/ci, conf/local) override single keys of a parameters block
    # instead of replacing the whole block.
    "merge_strategy": {"parameters": "soft"},
}
