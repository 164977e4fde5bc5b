"""The ``data`` pipeline: base set → splits → label subsets, domain pairs, coupled pairs."""

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.data import nodes


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(nodes.make_base_dataset, ["raw_sources", "params:data"], "base_dataset", name="make_base_dataset"),
            Node(nodes.split_dataset, ["base_dataset", "params:data"], "split_table", name="split_dataset"),
            Node(
                nodes.make_label_subsets,
                ["base_dataset", "split_table", "params:data"],
                "label_subsets",
                name="make_label_subsets",
            ),
            Node(
                nodes.make_domain_pairs,
                ["base_dataset", "split_table", "params:data"],
                "domain_pairs",
                name="make_domain_pairs",
            ),
            Node(nodes.make_coupled_pairs, ["base_dataset", "params:data"], "coupled_pairs", name="make_coupled_pairs"),
            Node(
                nodes.summarise_data,
                ["base_dataset", "split_table", "label_subsets"],
                "data_summary",
                name="summarise_data",
            ),
            Node(nodes.plot_domains, ["base_dataset", "params:data"], "domain_examples_plot", name="plot_domains"),
        ]
    )
