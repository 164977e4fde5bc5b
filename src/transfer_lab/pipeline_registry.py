"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from transfer_lab.pipelines.evaluation import pipeline as evaluation


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Every pipeline is found by ``find_pipelines``. In the default run the leaderboard is
    built last: its node is rebuilt to take every pipeline's ``*_results`` table as an
    input, so Kedro orders it after them (and Kedro-Viz draws the arrows).
    """
    pipelines = find_pipelines(raise_errors=True)
    upstream = sorted(
        name
        for key, pipe in pipelines.items()
        if key != "evaluation"
        for name in pipe.all_outputs()
        if name.endswith("_results")
    )
    others = [pipe for key, pipe in pipelines.items() if key != "evaluation"]
    pipelines["__default__"] = sum(others, Pipeline([])) + evaluation.create_pipeline(upstream_results=upstream)
    return pipelines
