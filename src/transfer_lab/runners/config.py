"""Where the Dask runner finds its cluster: ``conf/<env>/dask.yml`` and Dask's own configuration.

The scheduler address is the first of:

1. ``kedro run --runner transfer_lab.runners.DaskRunner --runner-params address=tcp://host:8786``;
2. Dask's configuration key ``scheduler-address``, which the environment variable
   ``DASK_SCHEDULER_ADDRESS`` sets (so any run can be pointed at a cluster without editing files);
3. ``scheduler_address`` in ``conf/<env>/dask.yml``;
4. none: a ``LocalCluster`` on this machine, sized by ``local_cluster`` in ``dask.yml``.

:class:`DaskConfigHook` (registered in ``settings.HOOKS``) hands the ``dask`` configuration of
the run's environment to the runner, which Kedro creates before any configuration is read.
This module imports neither dask nor distributed: it is loaded on every run.
"""

from __future__ import annotations

import os
from typing import Any

from kedro.framework.hooks import hook_impl
from pydantic import BaseModel, ConfigDict, Field

ADDRESS_VARIABLE = "DASK_SCHEDULER_ADDRESS"


class LocalClusterSettings(BaseModel):
    """The ``LocalCluster`` started when no scheduler is configured."""

    model_config = ConfigDict(extra="forbid")
    n_workers: int | None = Field(None, ge=1, description="worker processes; null: Dask's default (about one per core)")
    threads_per_worker: int = Field(1, ge=1, description="nodes a worker runs at once")
    memory_limit: str | None = Field(None, description="per worker, e.g. '4GiB'; null: Dask's default")


class DaskSettings(BaseModel):
    """``conf/<env>/dask.yml``."""

    model_config = ConfigDict(extra="forbid")
    scheduler_address: str | None = None
    local_cluster: LocalClusterSettings = LocalClusterSettings()


_current: dict[str, Any] = {}


class DaskConfigHook:
    """Keeps the run's ``dask`` configuration (``conf/<env>/dask.yml``) for the runner."""

    @hook_impl
    def after_context_created(self, context) -> None:
        try:
            config = context.config_loader["dask"]
        except Exception:  # no dask.yml in this configuration source
            config = {}
        _current.clear()
        _current.update(config or {})


def current_settings() -> DaskSettings:
    """The settings of the current run (defaults outside a ``kedro run``)."""
    return DaskSettings.model_validate(dict(_current))


def scheduler_address(explicit: str | None, settings: DaskSettings) -> str | None:
    """The scheduler to connect to, or None for a ``LocalCluster`` (see the module docstring)."""
    if explicit:
        return explicit
    from_dask = os.environ.get(ADDRESS_VARIABLE)
    if not from_dask:
        try:
            import dask.config

            from_dask = dask.config.get("scheduler-address", None)
        except ImportError:
            from_dask = None
    return from_dask or settings.scheduler_address or None
