"""The ``data`` pipeline: base set → splits → label subsets, domain pairs, coupled pairs.

A modular pipeline under the ``data`` namespace. What it makes is read by every other
family, so its outputs keep their plain names (``base_dataset``, ``split_table``,
``label_subsets``, ``domain_pairs``, ``coupled_pairs``): those are the connection points of
the house. Its nodes read the whole ``data`` block, the one every family shares.
"""

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.data import nodes

SHARED = {"base_dataset", "split_table", "label_subsets", "domain_pairs", "coupled_pairs"}
REPORTS = {"data_summary", "domain_examples_plot"}


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(nodes.make_base_dataset, ["raw_sources", "params:data"], "base_dataset", name="make_base_dataset", tags="train"),
            Node(nodes.split_dataset, ["base_dataset", "params:data"], "split_table", name="split_dataset", tags="train"),
            Node(
                nodes.make_label_subsets,
                ["base_dataset", "split_table", "params:data"],
                "label_subsets",
                name="make_label_subsets",
                tags="train",
            ),
            Node(
                nodes.make_domain_pairs,
                ["base_dataset", "split_table", "params:data"],
                "domain_pairs",
                name="make_domain_pairs",
                tags="train",
            ),
            Node(nodes.make_coupled_pairs, ["base_dataset", "params:data"], "coupled_pairs", name="make_coupled_pairs", tags="train"),
            Node(
                nodes.summarise_data,
                ["base_dataset", "split_table", "label_subsets"],
                "data_summary",
                name="summarise_data",
                tags="report",
            ),
            Node(nodes.plot_domains, ["base_dataset", "params:data"], "domain_examples_plot", name="plot_domains", tags="report"),
        ],
        namespace="data",
        inputs={"raw_sources"},
        outputs=SHARED | REPORTS,
        parameters={"params:data"},
        tags="data",
    )
