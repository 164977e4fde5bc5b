"""Project settings (see https://docs.kedro.org/en/stable/kedro_project_setup/settings.html)."""

import warnings

from transfer_lab.hooks import ParameterValidationHook, RunSummaryHook, TrackedRunHook
from transfer_lab.reliability import DataFolderLockHook, RunStatusHook
from transfer_lab.runners.config import DaskConfigHook
from transfer_lab.timing import NodeTimingHook

# Notices from inside Kedro and kedro-mlflow that no user of this project can act on: a
# deprecation inside kedro-mlflow, and Kedro's advice against '.' in dataset names, which the
# project uses on purpose for the connection points between families
# (pretraining.<method>.encoders, see ARCHITECTURE.md).
warnings.filterwarnings("ignore", message=r"register_new_resolver\(\) is deprecated", category=UserWarning)
warnings.filterwarnings("ignore", message=r"One or more dataset names contain '\.' characters", category=UserWarning)
# scikit-learn's LabelSpreading (the semi-supervised reference, label_spreading_sklearn) divides
# by zero label mass for a row its k-NN graph never reaches, once per prediction call; its
# accuracy in the results table already counts those rows as wrong.
warnings.filterwarnings(
    "ignore", message="invalid value encountered in divide", category=RuntimeWarning,
    module=r"sklearn\.semi_supervised\._label_propagation",
)

HOOKS = (
    ParameterValidationHook(),
    TrackedRunHook(),
    RunSummaryHook(),
    NodeTimingHook(),
    RunStatusHook(),
    DataFolderLockHook(),
    DaskConfigHook(),  # hands conf/<env>/dask.yml to transfer_lab.runners.DaskRunner
)
# TrackedRunHook is kedro-mlflow's hook with the project's run name, tags and parameters:
# the plugin's own instance would log every parameter a second time, node by node.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Environments (conf/ci, conf/local) override single keys of a parameters block
    # instead of replacing the whole block.
    "merge_strategy": {"parameters": "soft"},
    # conf/<env>/dask.yml: the Dask runner's cluster (transfer_lab.runners.config)
    "config_patterns": {"dask": ["dask*", "dask*/**"]},
}
