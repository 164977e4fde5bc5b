"""The ``evaluation`` pipeline: baselines on every budget and seed, then the leaderboard."""

from __future__ import annotations

from collections.abc import Sequence
from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.evaluation import nodes
from transfer_lab.reporting.results import concat_results

DATA_INPUTS = ["base_dataset", "split_table", "label_subsets", "params:evaluation"]


def create_pipeline(upstream_results: Sequence[str] = (), **kwargs) -> Pipeline:
    """The evaluation pipeline.

    Parameters
    ----------
    upstream_results : sequence of str
        ``*_results`` datasets of other pipelines in the same run; the leaderboard node
        takes them as inputs so that it runs after them (see ``pipeline_registry``).
    """
    fresh = ["evaluation_results", *[name for name in upstream_results if name != "evaluation_results"]]
    return Pipeline(
        [
            Node(nodes.logistic_regression_baseline, DATA_INPUTS, "evaluation_logreg_rows", name="logistic_regression_baseline"),
            Node(nodes.cnn_scratch_baseline, DATA_INPUTS, "evaluation_cnn_rows", name="cnn_scratch_baseline"),
            Node(
                concat_results,
                ["evaluation_logreg_rows", "evaluation_cnn_rows"],
                "evaluation_results",
                name="combine_evaluation_results",
            ),
            Node(
                nodes.build_leaderboard,
                ["stored_results", "params:evaluation", *fresh],
                ["leaderboard", "label_budget_plot"],
                name="build_leaderboard",
            ),
        ]
    )

