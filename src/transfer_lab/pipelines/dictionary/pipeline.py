"""The ``dictionary`` pipeline: self-taught learning, SDL synthesis and SDL domain adaptation.

A modular pipeline under the ``dictionary`` namespace: its datasets are
``dictionary.<name>`` (catalog_dictionary.yml), its nodes read the sub-blocks of
``params:dictionary`` they use, and it connects to the house through global names only:
the data pipeline's outputs in, ``dictionary_results`` out. The source domains and coupled
pairs are parameters, known only at run time, so each study is one node looping over them.
"""

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.dictionary import nodes
from transfer_lab.reporting.results import concat_results

DATA = {"base_dataset", "split_table", "label_subsets", "coupled_pairs"}
DATA_PARAMETERS = {"params:data.domains", "params:data.split.seed", "params:data.seeds"}


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.self_taught_learning,
                ["base_dataset", "split_table", "label_subsets", "params:self_taught", "params:classifier",
                 "params:runtime", "params:data.domains", "params:data.split.seed"],
                ["self_taught_rows", "self_taught_dictionaries"],
                name="self_taught_learning",
                tags="train",
            ),
            Node(
                nodes.plot_self_taught, "self_taught_dictionaries", ["atoms_plot", "objective_plot"],
                name="plot_self_taught", tags="report",
            ),
            Node(
                nodes.sdl_synthesis,
                ["coupled_pairs", "split_table", "params:sdl", "params:runtime", "params:data.seeds"],
                ["synthesis_rows", "synthesis_examples"],
                name="sdl_synthesis",
                tags="train",
            ),
            Node(
                nodes.plot_sdl_synthesis, "synthesis_examples", ["synthesis_plot", "sdl_objective_plot"],
                name="plot_sdl_synthesis", tags="report",
            ),
            Node(
                nodes.sdl_domain_adaptation,
                ["coupled_pairs", "split_table", "label_subsets", "params:sdl", "params:classifier", "params:runtime"],
                "adaptation_rows",
                name="sdl_domain_adaptation",
                tags="train",
            ),
            Node(
                concat_results,
                ["self_taught_rows", "synthesis_rows", "adaptation_rows"],
                "dictionary_results",
                name="combine_results",
                tags="report",
            ),
            Node(nodes.plot_psnr, "dictionary_results", "psnr_plot", name="plot_psnr", tags="report"),
        ],
        namespace="dictionary",
        inputs=DATA,
        outputs={"dictionary_results"},
        parameters=DATA_PARAMETERS,
        tags="dictionary",
    )
