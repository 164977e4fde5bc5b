"""The ``semi_supervised`` pipeline: one node per family of methods, then the report.

The method nodes share no outputs, so a ParallelRunner runs them side by side
(``kedro run --pipelines semi_supervised --runner ParallelRunner``); each runs every
configured entry of its family on every budget and seed.
"""

from __future__ import annotations

import functools

from kedro.pipeline import Node, Pipeline

from transfer_lab.methods.semi_supervised.neural import NEURAL_METHODS
from transfer_lab.pipelines.semi_supervised import nodes
from transfer_lab.pipelines.semi_supervised.params import ESTIMATOR_FAMILIES
from transfer_lab.reporting.results import concat_results

INPUTS = ["base_dataset", "split_table", "label_subsets", "pretrained_encoders", "params:semi_supervised"]


def _method_node(run, family: str) -> Node:
    return Node(
        functools.update_wrapper(functools.partial(run, family), run),
        INPUTS,
        [f"semi_supervised_{family}_rows", f"semi_supervised_{family}_rounds"],
        name=f"semi_supervised_{family}",
    )


def create_pipeline(**kwargs) -> Pipeline:
    families = [*ESTIMATOR_FAMILIES, *NEURAL_METHODS]
    method_nodes = [_method_node(nodes.run_estimators, family) for family in ESTIMATOR_FAMILIES] + [
        _method_node(nodes.run_neural, method) for method in NEURAL_METHODS
    ]
    return Pipeline(
        [
            *method_nodes,
            Node(
                concat_results,
                [f"semi_supervised_{family}_rows" for family in families],
                "semi_supervised_results",
                name="combine_semi_supervised_results",
            ),
            Node(
                nodes.combine_rounds,
                [f"semi_supervised_{family}_rounds" for family in families],
                "semi_supervised_pseudo_labels",
                name="combine_semi_supervised_pseudo_labels",
            ),
            Node(
                nodes.report,
                ["semi_supervised_results", "semi_supervised_pseudo_labels", "params:semi_supervised"],
                ["semi_supervised_accuracy_plot", "semi_supervised_pseudo_label_plot"],
                name="semi_supervised_report",
            ),
        ]
    )
