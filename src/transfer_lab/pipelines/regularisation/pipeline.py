"""The ``regularisation`` pipeline: one nested namespace per method, then results and report.

Every method of :data:`~.params.METHODS` is a nested namespace built from one template
(:func:`method_pipeline`): node ``regularisation.<method>.run`` reads the shared data and
the sub-blocks it uses (``params:regularisation.methods.<method>``, ``.runtime``,
``.training``, ``.network``, ``.attack``); the encoder methods (``l2_sp``,
``weight_decay``) also read ``pretrained_encoders``. It writes
``regularisation.<method>.rows``. The method nodes share no outputs, so a ParallelRunner
runs them side by side; ``--namespaces regularisation.tangent_distance_1nn`` runs one.
"""

from __future__ import annotations


from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines import bind
from transfer_lab.pipelines.regularisation import nodes
from transfer_lab.pipelines.regularisation.params import ENCODER_METHODS, METHODS
from transfer_lab.reporting.results import concat_results

DATA = ["base_dataset", "split_table", "label_subsets"]
SHARED_PARAMS = ("runtime", "training", "network", "attack")


def method_pipeline(method: str) -> Pipeline:
    """The template: one method's node, under the namespace ``<method>``."""
    run = bind(nodes.run_method, method)
    encoders = ["pretrained_encoders"] if method in ENCODER_METHODS else []
    inputs = [*DATA, "params:settings", *(f"params:{block}" for block in SHARED_PARAMS), *encoders]
    template = Pipeline([Node(run, inputs, "rows", name="run", tags="train")])
    parameters = {"params:settings": f"params:methods.{method}"}
    parameters.update({f"params:{block}": f"params:{block}" for block in SHARED_PARAMS})
    return Pipeline(template, namespace=method, inputs={*DATA, *encoders}, parameters=parameters)


def create_pipeline(**kwargs) -> Pipeline:
    ns = "regularisation"
    methods = Pipeline(
        [method_pipeline(method) for method in METHODS], namespace=ns, inputs={*DATA, "pretrained_encoders"}
    )
    finish = [
        Node(concat_results, [f"{ns}.{m}.rows" for m in METHODS], "regularisation_results",
             name="combine_results", tags="score", namespace=ns),
        Node(
            nodes.report, ["regularisation_results", f"params:{ns}.attack"],
            ["regularisation_accuracy_plot", "regularisation_adversarial_plot", "regularisation_summary"],
            name="report", tags="report", namespace=ns,
        ),
    ]
    return Pipeline([methods, *finish], tags=ns)
