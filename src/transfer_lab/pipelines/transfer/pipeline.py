"""The ``transfer`` pipeline: one node per pretrained encoder, scratch, domain adaptation, figure.

Each encoder's node reads that method's own checkpoint folder
(``pretraining_<method>_encoders``), so it depends on that pretraining node only and the
encoders' nodes can run side by side.
"""

from functools import partial

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.pretraining.params import METHODS
from transfer_lab.pipelines.transfer import nodes
from transfer_lab.reporting.results import concat_results

BUDGET_INPUTS = ["base_dataset", "split_table", "label_subsets", "params:transfer"]


def create_pipeline(**kwargs) -> Pipeline:
    encoder_nodes = [
        Node(
            # a partial (not a closure) pickles by reference, so ParallelRunner can ship it
            partial(nodes.transfer_encoder, method),
            [f"pretraining_{method}_encoders", *BUDGET_INPUTS],
            f"transfer_{method}_rows",
            name=f"transfer_{method}",
        )
        for method in METHODS
    ]
    return Pipeline(
        [
            *encoder_nodes,
            Node(nodes.train_scratch, [*BUDGET_INPUTS, "params:pretraining"], "transfer_scratch_rows", name="transfer_scratch"),
            Node(
                nodes.domain_adaptation,
                ["domain_pairs", "params:transfer", "params:pretraining", "params:data"],
                "transfer_domain_adaptation_rows",
                name="domain_adaptation",
            ),
            Node(
                concat_results,
                [*(f"transfer_{method}_rows" for method in METHODS), "transfer_scratch_rows", "transfer_domain_adaptation_rows"],
                "transfer_results",
                name="combine_transfer_results",
            ),
            Node(
                nodes.accuracy_vs_budget_figure,
                ["transfer_results", "params:transfer"],
                "transfer_budget_plot",
                name="plot_accuracy_vs_budget",
            ),
        ]
    )
