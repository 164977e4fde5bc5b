"""The ``taskonomy`` pipeline, a modular pipeline under the ``taskonomy`` namespace.

Every task of the dictionary (``methods.tasks.TASKS``) is a nested namespace built from one
template (:func:`task_template`): ``taskonomy.<task>.train`` → ``taskonomy.<task>.network``
and ``taskonomy.<task>.features``; ``taskonomy.<task>.transfer_to`` → ``.transfers``;
``taskonomy.<task>.transferability`` → ``.scores``. The ``random`` pseudo-source is one more
namespace (``taskonomy.random.encode``). The graph does not depend on the parameters
(``taskonomy.tasks`` chooses the tasks in play; the others' nodes return ``{}``), and
``ParallelRunner`` runs the steps of different tasks side by side::

    prepare_task_data ─► <task>.train ─► <task>.features ─┬► <task>.transfer_to ─► tournament ─► solve_taxonomy, agreement
                        random.encode ─► random.features ─┴► <task>.transferability ────────────► agreement
                                         <task>.network ───► task2vec_embeddings ───────────────► agreement

Task2Vec compares tasks, not features: its embeddings need every task's network (the probe
is one of them), so it is scored at the family level; inside a task namespace, no node
depends on a node outside it that depends on the namespace again (Kedro requires it).

Nodes take the parameter sub-block they use (``params:taskonomy.networks``, ...). Tags:
``taskonomy`` on every node, and one of ``train``, ``score``, ``report``. Only
``taskonomy_results`` (read by the evaluation pipeline) leaves the namespace.
"""

import warnings

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines import bind
from transfer_lab.methods.tasks import TASKS
from transfer_lab.pipelines.taskonomy import nodes

SOURCES = [*TASKS, nodes.RANDOM]
# What one task reads of the others: every source's features (inside the family namespace)
FEATURES = [f"{source}.features" for source in SOURCES]
RUNTIME = "params:runtime"


def task_template(task: str) -> Pipeline:
    """The steps of one task, before namespacing: its network, the transfers into it, and the
    cheap estimates of its sources. Only the task bound into each node function differs."""
    return Pipeline(
        [
            Node(
                bind(nodes.train_network, task=task),
                ["task_data", "params:networks", "params:encoder", "params:head_hidden", RUNTIME],
                ["network", "features"],
                name="train",
                tags="train",
            ),
            Node(
                bind(nodes.run_transfers, target=task),
                ["task_data", "network", "params:transfer", "params:encoder", "params:head_hidden", RUNTIME, *FEATURES],
                "transfers",
                name="transfer_to",
                tags="train",
            ),
            Node(
                bind(nodes.score_transferability, target=task),
                ["task_data", "params:transferability", RUNTIME, *FEATURES],
                "scores",
                name="transferability",
                tags="score",
            ),
        ]
    )


def _task(task: str) -> Pipeline:
    """``task_template(task)`` under the namespace ``<task>``; the family's datasets and
    parameters stay the family's."""
    return Pipeline(
        task_template(task),
        namespace=task,
        inputs={"task_data", *FEATURES},
        parameters={"params:networks", "params:encoder", "params:head_hidden", "params:transfer", "params:transferability", RUNTIME},
    )


def _random_source() -> Pipeline:
    return Pipeline(
        [Node(nodes.make_random_encoder, ["task_data", "params:encoder", RUNTIME], ["network", "features"], name="encode", tags="train")],
        namespace=nodes.RANDOM,
        inputs={"task_data"},
        parameters={"params:encoder", RUNTIME},
    )


def _family_nodes() -> list[Node]:
    return [
        Node(
            nodes.prepare_task_data,
            ["base_dataset", "split_table", "params:tasks", "params:task_options", "params:seed",
             "params:transfer.size", "params:transferability.task2vec.samples"],
            "task_data",
            name="prepare_task_data",
            tags="train",
        ),
        Node(
            nodes.embed_tasks,
            ["task_data", "params:transferability", RUNTIME, *[f"{s}.network" for s in SOURCES]],
            "task2vec",
            name="task2vec_embeddings",
            tags="score",
        ),
        Node(nodes.tournament, [f"{t}.transfers" for t in TASKS], ["affinities", "affinity_table", "win_rates"], name="tournament", tags="score"),
        Node(nodes.plot_affinities, ["affinity_table", "task_data"], "affinity_heatmap", name="plot_affinities", tags="report"),
        Node(nodes.solve_our_taxonomy, ["affinities", "params:taxonomy"], "taxonomy", name="solve_taxonomy", tags="score"),
        Node(nodes.plot_our_taxonomy, "taxonomy", "taxonomy_plots", name="plot_taxonomy", tags="report"),
        Node(nodes.solve_release_taxonomy, "params:release", "release_taxonomy", name="solve_release_taxonomy", tags="score"),
        Node(nodes.plot_release_taxonomy, "release_taxonomy", "release_taxonomy_plots", name="plot_release_taxonomy", tags="report"),
        Node(
            nodes.transferability_agreement,
            ["affinity_table", "task2vec", *[f"{t}.scores" for t in TASKS]],
            ["transferability", "agreement"],
            name="transferability_agreement",
            tags="score",
        ),
        Node(nodes.plot_agreement, "transferability", "scores_plot", name="plot_agreement", tags="report"),
        Node(nodes.plot_agreement_bars, "agreement", "agreement_plot", name="plot_agreement_bars", tags="report"),
        Node(nodes.plot_tournament, "win_rates", "tournament_plot", name="plot_tournament", tags="report"),
        Node(
            nodes.taskonomy_results,
            ["task_data", "affinity_table", "agreement", "taxonomy", "release_taxonomy"],
            "taskonomy_results",
            name="taskonomy_results",
            tags="report",
        ),
    ]


def create_pipeline(**kwargs) -> Pipeline:
    with warnings.catch_warnings():
        # Names such as "class.features" are namespaced on purpose: one task's nodes read
        # the others' outputs inside the family; Kedro warns about any dotted name.
        warnings.filterwarnings("ignore", message="One or more dataset names contain '.'", category=UserWarning)
        return Pipeline(
            [*_family_nodes(), _random_source(), *[_task(task) for task in TASKS]],
            namespace="taskonomy",
            inputs={"base_dataset", "split_table"},
            outputs={"taskonomy_results"},
            tags="taskonomy",
        )
