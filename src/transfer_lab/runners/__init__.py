"""The project's runners.

:class:`CriticalPathRunner` (what ``make run`` uses): Kedro's ``ParallelRunner`` that starts
the ready node with the longest remaining path first (:mod:`transfer_lab.runners.critical_path`).

Beyond one machine: :class:`DaskRunner` runs every node as a task on a Dask cluster.

``kedro run --runner transfer_lab.runners.DaskRunner`` (needs the ``cluster`` extra:
``pip install -e ".[cluster]"``). See :mod:`transfer_lab.runners.dask_runner`.
"""

from transfer_lab.runners.config import DaskConfigHook, DaskSettings
from transfer_lab.runners.critical_path import CriticalPathRunner

__all__ = ["CriticalPathRunner", "DaskConfigHook", "DaskRunner", "DaskSettings"]


def __getattr__(name: str):
    # distributed is an optional dependency: imported when the runner is asked for, not by
    # settings.py (which registers DaskConfigHook on every run).
    if name == "DaskRunner":
        from transfer_lab.runners.dask_runner import DaskRunner

        return DaskRunner
    raise AttributeError(name)
