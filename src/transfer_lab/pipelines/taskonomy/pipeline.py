"""The ``taskonomy`` pipeline.

One node per task of the dictionary (``methods.tasks.TASKS``) for each per-task step, so the
graph does not depend on the parameters (``taskonomy.tasks`` chooses the tasks in play; the
others' nodes return ``{}``) and ``ParallelRunner`` runs the steps of different tasks side by
side::

    prepare_task_data ─► train_<task> ─► taskonomy_features_<task> ─┬► transfer_to_<task> ─► tournament ─► taxonomy, agreement
                        random_encoder ─► taskonomy_features_random ─┴► transferability_<task> ──────────────► agreement
"""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from transfer_lab.methods.tasks import TASKS
from transfer_lab.pipelines.taskonomy import nodes

PARAMS = "params:taskonomy"
SOURCES = [*TASKS, nodes.RANDOM]


def _for_task(func, **task):
    """``func`` with its task bound: a partial (picklable, for ParallelRunner) that keeps the
    function's name, docstring and type hints for Kedro's logs and Kedro-Viz."""
    return update_wrapper(partial(func, **task), func)


def create_pipeline(**kwargs) -> Pipeline:
    features = [f"taskonomy_features_{source}" for source in SOURCES]
    networks = [f"taskonomy_network_{source}" for source in SOURCES]
    per_task = []
    for task in TASKS:
        per_task += [
            Node(
                _for_task(nodes.train_network, task=task),
                ["taskonomy_task_data", PARAMS],
                [f"taskonomy_network_{task}", f"taskonomy_features_{task}"],
                name=f"train_{task}",
            ),
            Node(
                _for_task(nodes.run_transfers, target=task),
                ["taskonomy_task_data", f"taskonomy_network_{task}", PARAMS, *features],
                f"taskonomy_transfers_{task}",
                name=f"transfer_to_{task}",
            ),
            Node(
                _for_task(nodes.score_transferability, target=task),
                ["taskonomy_task_data", "taskonomy_task2vec", PARAMS, *features],
                f"taskonomy_scores_{task}",
                name=f"transferability_{task}",
            ),
        ]
    return Pipeline(
        [
            Node(
                nodes.prepare_task_data,
                ["base_dataset", "split_table", PARAMS],
                "taskonomy_task_data",
                name="prepare_task_data",
            ),
            Node(
                nodes.make_random_encoder,
                ["taskonomy_task_data", PARAMS],
                [f"taskonomy_network_{nodes.RANDOM}", f"taskonomy_features_{nodes.RANDOM}"],
                name="random_encoder",
            ),
            *per_task,
            Node(nodes.embed_tasks, ["taskonomy_task_data", PARAMS, *networks], "taskonomy_task2vec", name="task2vec_embeddings"),
            Node(
                nodes.tournament,
                ["taskonomy_task_data", PARAMS, *[f"taskonomy_transfers_{task}" for task in TASKS]],
                ["taskonomy_affinities", "taskonomy_affinity_table", "taskonomy_win_rates", "taskonomy_affinity_heatmap"],
                name="tournament",
            ),
            Node(
                nodes.solve_our_taxonomy,
                ["taskonomy_affinities", PARAMS],
                ["taskonomy_taxonomy", "taskonomy_taxonomy_plots"],
                name="solve_taxonomy",
            ),
            Node(
                nodes.solve_release_taxonomy,
                [PARAMS],
                ["taskonomy_release_taxonomy", "taskonomy_release_taxonomy_plots"],
                name="solve_release_taxonomy",
            ),
            Node(
                nodes.transferability_agreement,
                ["taskonomy_affinity_table", PARAMS, *[f"taskonomy_scores_{task}" for task in TASKS]],
                ["taskonomy_transferability", "taskonomy_agreement", "taskonomy_scores_plot"],
                name="transferability_agreement",
            ),
            Node(
                nodes.taskonomy_results,
                ["taskonomy_task_data", "taskonomy_affinity_table", "taskonomy_agreement", "taskonomy_taxonomy", "taskonomy_release_taxonomy"],
                "taskonomy_results",
                name="taskonomy_results",
            ),
        ]
    )
