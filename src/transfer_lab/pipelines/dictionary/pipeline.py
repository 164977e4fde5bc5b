"""The ``dictionary`` pipeline: self-taught learning, SDL synthesis and SDL domain adaptation."""

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.dictionary import nodes
from transfer_lab.reporting.results import concat_results


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.self_taught_learning,
                ["base_dataset", "split_table", "label_subsets", "params:dictionary", "params:data"],
                ["dictionary_self_taught_rows", "dictionary_atoms_plot", "dictionary_objective_plot"],
                name="self_taught_learning",
            ),
            Node(
                nodes.sdl_synthesis,
                ["coupled_pairs", "split_table", "params:dictionary", "params:data"],
                ["dictionary_synthesis_rows", "sdl_synthesis_plot", "sdl_objective_plot"],
                name="sdl_synthesis",
            ),
            Node(
                nodes.sdl_domain_adaptation,
                ["coupled_pairs", "split_table", "label_subsets", "params:dictionary", "params:data"],
                "dictionary_adaptation_rows",
                name="sdl_domain_adaptation",
            ),
            Node(
                concat_results,
                ["dictionary_self_taught_rows", "dictionary_synthesis_rows", "dictionary_adaptation_rows"],
                "dictionary_results",
                name="combine_dictionary_results",
            ),
        ]
    )
