"""The ``recommend`` pipeline, a modular pipeline under the ``recommend`` namespace::

    base_dataset, split_table, label_subsets, pretrained_encoders, user_encoders ─► score_encoders ─► predict ─┬─► verify (recommend.verify=true) ─► verification, calibration,
    results_on_disk ─► rank_methods ─────────────────────────────────────────────────────────────────────┤      choice_verification (encoder × method)
                                                                                                        └─► recommend (+ what verify measured) ─► recommendation, recommendation_plot

It reads the data pipeline's outputs, the pretrained encoders on disk (none is fine) and
every results table on disk (``recommend.results_on_disk``: empty is fine); it writes ``recommendation`` (global name, the answer) and its
own datasets. It writes no ``*_results`` table: the leaderboard is its evidence, not its
output. Nodes read the whole ``recommend`` block (it is small); tags ``recommend`` and
``score`` / ``report`` / ``verify``.
"""

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines.recommend import nodes

DATA = ["base_dataset", "split_table", "label_subsets"]
ENCODERS = ["pretrained_encoders", "user_encoders"]
PARAMS = "params:recommend"


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(nodes.score_encoders, [*DATA, *ENCODERS, PARAMS], "scores", name="score_encoders", tags="score"),
            Node(nodes.rank_methods, ["results_on_disk", "base_dataset", "label_subsets"], "method_ranking", name="rank_methods", tags="score"),
            Node(nodes.predict, ["scores", "calibration", "base_dataset", PARAMS], "predictions", name="predict", tags="score"),
            Node(
                nodes.verify, [*DATA, *ENCODERS, "predictions", "method_ranking", PARAMS],
                ["verification", "verification_summary", "calibration_update", "choice_verification", "choice_verification_summary"],
                name="verify", tags="verify",
            ),
            Node(
                nodes.recommend_choices, ["predictions", "method_ranking", "verification", "choice_verification", PARAMS],
                ["recommendation", "recommendation_plot"], name="recommend", tags="report",
            ),
        ],
        namespace="recommend",
        inputs={*DATA, "pretrained_encoders"},
        outputs={"recommendation"},
        parameters={PARAMS},
        tags="recommend",
    )
