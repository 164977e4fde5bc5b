"""The ``evaluation`` pipeline: baselines on every budget and seed, then the leaderboard.

A modular pipeline under the ``evaluation`` namespace (datasets ``evaluation.<name>``,
parameters ``params:evaluation.<sub-block>``). Its connection points keep global names:
the data pipeline's outputs and ``stored_results`` in; ``evaluation_results``,
``leaderboard``, ``label_budget_plot`` and ``report`` (the run's HTML report) out; and every other family's ``<family>_results``
table, which the leaderboard node takes as inputs so that it runs last.
"""

from __future__ import annotations

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.evaluation import nodes
from transfer_lab.reporting.results import concat_results

DATA = ["base_dataset", "split_table", "label_subsets"]
OUTPUTS = {"evaluation_results", "leaderboard", "label_budget_plot", "report"}


def create_pipeline(upstream_results: Sequence[str] = (), upstream_figures: Sequence[str] = (), **kwargs) -> Pipeline:
    """The evaluation pipeline.

    Parameters
    ----------
    upstream_results : sequence of str
        ``*_results`` datasets of other pipelines in the same run (global names); the
        leaderboard node takes them as inputs so that it runs after them (see
        ``pipeline_registry``).
    upstream_figures : sequence of str
        Figure datasets of other pipelines in the same run; the report node takes them as
        inputs so that it embeds them (it reads every PNG of ``data/08_reporting`` through
        ``stored_figures``; these only order it after the nodes that draw them).
    """
    upstream = sorted({name for name in upstream_results if name != "evaluation_results"})
    figures = sorted(set(upstream_figures) - OUTPUTS)
    return Pipeline(
        [
            Node(
                nodes.logistic_regression_baseline, [*DATA, "params:logistic_regression", "params:runtime"],
                "logreg_rows", name="logistic_regression_baseline", tags="train",
            ),
            Node(
                nodes.cnn_scratch_baseline, [*DATA, "params:cnn", "params:runtime"],
                "cnn_rows", name="cnn_scratch_baseline", tags="train",
            ),
            Node(
                concat_results, ["logreg_rows", "cnn_rows"], "evaluation_results",
                name="combine_results", tags="report",
            ),
            Node(
                nodes.build_leaderboard,
                ["stored_results", "params:metric", "params:top_methods", "evaluation_results", *upstream],
                ["leaderboard", "label_budget_plot"],
                name="build_leaderboard",
                tags="report",
            ),
            Node(
                nodes.plot_leaderboard_heatmap, ["leaderboard", "params:metric"], "leaderboard_heatmap_plot",
                name="plot_leaderboard_heatmap", tags="report",
            ),
            Node(
                nodes.build_report,
                ["leaderboard", "parameters", "stored_figures", "params:metric", "label_budget_plot", "leaderboard_heatmap_plot", *figures],
                "report",
                name="build_report",
                tags="report",
            ),
        ],
        namespace="evaluation",
        inputs={*DATA, "stored_results", "stored_figures", *upstream, *figures},
        outputs=OUTPUTS,
        tags="evaluation",
    )
