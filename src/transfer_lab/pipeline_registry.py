"""Project pipelines: one modular pipeline per family, and the default run of them all."""

from __future__ import annotations

from pathlib import Path

import click
from kedro.framework.project import find_pipelines
from kedro.framework.project import pipelines as project_pipelines
from kedro.pipeline import Pipeline

from transfer_lab.pipelines.evaluation import pipeline as evaluation

DEFAULT = "__default__"
# Figure datasets end with one of these (catalog convention); the run report takes them as inputs.
FIGURE_SUFFIXES = ("_plot", "_plots", "_heatmap")


def available_pipelines() -> list[str]:
    """The registered names: every family package under ``pipelines/`` and ``__default__``."""
    families = Path(__file__).parent / "pipelines"
    return [DEFAULT, *sorted(p.name for p in families.iterdir() if (p / "pipeline.py").is_file())]


def refuse_unknown_pipelines(requested: list[str] | None) -> None:
    """``kedro run --pipelines transferr`` stops with one line naming the valid names.

    Kedro would otherwise try to import ``transfer_lab.pipelines.transferr`` and fail with a
    long ImportError traceback. ``requested`` is what the CLI asked Kedro to load.
    """
    known = available_pipelines()
    unknown = [name for name in requested or [] if name not in known]
    if unknown:
        raise click.ClickException(f"unknown pipeline {unknown[0]!r}; available: {', '.join(known)}")


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Every family is found by ``find_pipelines``. In the default run the leaderboard is
    built last: its node is rebuilt to take every family's ``*_results`` table as an
    input, so Kedro orders it after them (and Kedro-Viz draws the arrows); the report node
    takes every family's figures the same way.
    """
    # Kedro keeps the CLI's --pipelines names here to load only those (no public accessor).
    refuse_unknown_pipelines(project_pipelines._requested_pipelines)
    pipelines = find_pipelines(raise_errors=True)
    upstream = sorted(
        name
        for key, pipe in pipelines.items()
        if key not in ("evaluation", DEFAULT)
        for name in pipe.all_outputs()
        if name.endswith("_results")
    )
    figures = sorted(
        name
        for key, pipe in pipelines.items()
        if key not in ("evaluation", DEFAULT)
        for name in pipe.all_outputs()
        if name.endswith(FIGURE_SUFFIXES)
    )
    families = [pipe for key, pipe in pipelines.items() if key not in ("evaluation", DEFAULT)]
    pipelines[DEFAULT] = sum(families, Pipeline([])) + evaluation.create_pipeline(
        upstream_results=upstream, upstream_figures=figures
    )
    return pipelines
