"""Runners beyond one machine: :class:`DaskRunner` runs every node as a task on a Dask cluster.

``kedro run --runner transfer_lab.runners.DaskRunner`` (needs the ``cluster`` extra:
``pip install -e ".[cluster]"``). See :mod:`transfer_lab.runners.dask_runner`.
"""

from transfer_lab.runners.config import DaskConfigHook, DaskSettings

__all__ = ["DaskConfigHook", "DaskRunner", "DaskSettings"]


def __getattr__(name: str):
    # distributed is an optional dependency: imported when the runner is asked for, not by
    # settings.py (which registers DaskConfigHook on every run).
    if name == "DaskRunner":
        from transfer_lab.runners.dask_runner import DaskRunner

        return DaskRunner
    raise AttributeError(name)
