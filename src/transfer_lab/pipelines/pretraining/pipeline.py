"""The ``pretraining`` pipeline: one independent node per method, then the shared checkpoint folder.

Each method writes its own checkpoint folder (``pretraining_<method>_encoders``), so the
``transfer`` node of an encoder can start as soon as that encoder is trained; the final
node copies every checkpoint into ``pretrained_encoders``, the one folder other pipelines
(``semi_supervised``) read.
"""

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.pretraining import nodes
from transfer_lab.pipelines.pretraining.params import METHODS
from transfer_lab.reporting.results import concat_results

UNLABELLED = ["base_dataset", "split_table", "params:pretraining"]
INPUTS = {
    "simclr": UNLABELLED,
    "moco": UNLABELLED,
    "rotation": UNLABELLED,
    "imputation": UNLABELLED,
    "supcon": ["base_dataset", "split_table", "label_subsets", "params:pretraining"],
    "supervised_source": ["base_dataset", "split_table", "domain_pairs", "params:pretraining", "params:data"],
}


def create_pipeline(**kwargs) -> Pipeline:
    pretrain_nodes = [
        Node(
            getattr(nodes, f"pretrain_{method}"),
            INPUTS[method],
            [f"pretraining_{method}_encoders", f"pretraining_{method}_rows", f"pretraining_tsne_{method}"],
            name=f"pretrain_{method}",
        )
        for method in METHODS
    ]
    return Pipeline(
        [
            *pretrain_nodes,
            Node(
                nodes.collect_encoders,
                [f"pretraining_{method}_encoders" for method in METHODS],
                "pretrained_encoders",
                name="collect_pretrained_encoders",
            ),
            Node(
                concat_results,
                [f"pretraining_{method}_rows" for method in METHODS],
                "pretraining_results",
                name="combine_pretraining_results",
            ),
        ]
    )
