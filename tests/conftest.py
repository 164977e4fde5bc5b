"""Shared fixtures: a throw-away copy of the project to run pipelines in.

Pipelines are run on the ``ci`` environment inside a temporary folder holding a copy of
``conf/`` and empty ``data/`` folders, so tests never touch the developer's data/ or
mlflow.db, and relative catalog paths resolve inside the copy.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_LAYERS = (
    "01_raw", "02_intermediate", "03_primary", "04_feature",
    "05_model_input", "06_models", "07_model_output", "08_reporting",
)


def make_project_copy(target: Path) -> Path:
    """Copy what `kedro run` needs (conf without local overrides, pyproject, .telemetry)."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PROJECT_ROOT / "conf", target / "conf", ignore=shutil.ignore_patterns("local"))
    (target / "conf" / "local").mkdir()
    for name in ("pyproject.toml", ".telemetry"):
        shutil.copy(PROJECT_ROOT / name, target / name)
    shutil.copytree(PROJECT_ROOT / "src", target / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for layer in DATA_LAYERS:
        (target / "data" / layer).mkdir(parents=True)
    return target


@contextmanager
def working_directory(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def load_config(project: Path, env: str = "ci", runtime_params: Mapping[str, Any] | None = None):
    loader = OmegaConfigLoader(
        conf_source=str(project / "conf"),
        base_env="base",
        default_run_env=env,
        env=env,
        merge_strategy={"parameters": "soft"},
        runtime_params=dict(runtime_params or {}),
    )
    return loader["catalog"], loader["parameters"]


def parameter_feed(parameters: Mapping[str, Any], pipelines: Mapping[str, Pipeline] | None = None) -> dict[str, Any]:
    """The ``params:`` entries Kedro's context puts in a run's catalog.

    As ``KedroContext`` does: parameters that a node annotates with a pydantic model arrive
    as that model (Kedro's typed-parameter validation over ``pipelines``), and every nested
    key is an entry of its own (``params:taskonomy.networks``).
    """
    from kedro.validation.parameter_validator import ParameterValidator
    from kedro.validation.utils import get_typed_fields

    if pipelines is not None:
        parameters = ParameterValidator(dict(pipelines)).validate_raw_params(dict(parameters))
    feed: dict[str, Any] = {"parameters": parameters}

    def add(name: str, value: Any) -> None:
        feed[f"params:{name}"] = value
        fields = value if isinstance(value, dict) else get_typed_fields(value)
        for key, item in (fields or {}).items():
            add(f"{name}.{key}", item)

    for name, value in parameters.items():
        add(name, value)
    return feed


def make_catalog(
    project: Path, env: str = "ci", runtime_params=None, catalog_overrides=None, pipelines=None
) -> DataCatalog:
    catalog_config, parameters = load_config(project, env, runtime_params)
    catalog_config.update(catalog_overrides or {})
    catalog = DataCatalog.from_config(catalog_config)
    for key, value in parameter_feed(parameters, pipelines).items():
        catalog[key] = value
    return catalog


def run_pipelines(project: Path, names: Iterable[str], env: str = "ci", **catalog_kwargs) -> DataCatalog:
    """Run registered pipelines through Kedro's SequentialRunner inside ``project``."""
    from kedro.framework.project import configure_project

    from transfer_lab.pipeline_registry import register_pipelines

    configure_project("transfer_lab")
    registered = register_pipelines()
    pipeline = sum((registered[name] for name in names), Pipeline([]))
    with working_directory(project):
        catalog = make_catalog(project, env, pipelines=registered, **catalog_kwargs)
        SequentialRunner().run(pipeline, catalog)
    return catalog


@pytest.fixture
def project(tmp_path) -> Path:
    """A fresh project copy for one test."""
    return make_project_copy(tmp_path / "project")


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory) -> tuple[Path, DataCatalog]:
    """The default pipeline (every pipeline, leaderboard last) run once on the ci environment."""
    project = make_project_copy(tmp_path_factory.mktemp("ci_run") / "project")
    catalog = run_pipelines(project, ["__default__"])
    return project, catalog


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """One torch/BLAS thread for the whole suite: the test problems are small, and spinning
    thread pools on a 2-core machine cost far more than they give (see runtime.thread_limits)."""
    from transfer_lab.methods.runtime import thread_limits

    with thread_limits(1):
        yield
