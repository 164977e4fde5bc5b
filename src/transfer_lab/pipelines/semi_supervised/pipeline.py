"""The ``semi_supervised`` pipeline: one nested namespace per method, then the report.

Every method of ``methods.semi_supervised.factory.METHODS`` is a nested namespace built
from one template (:func:`method_pipeline`): node ``semi_supervised.<method>.run`` reads
the shared data, the pretrained encoders and the sub-blocks it uses
(``params:semi_supervised.methods.<method>``, ``.runtime``, ``.neural``, ``.pretrained``) and
writes ``semi_supervised.<method>.rows`` and ``.rounds``. The method nodes share no
outputs, so a ParallelRunner runs them side by side
(``kedro run --pipelines semi_supervised --runner ParallelRunner``); ``--namespaces
semi_supervised.vat`` runs one.
"""

from __future__ import annotations


from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines import bind
from transfer_lab.methods.semi_supervised.factory import METHODS
from transfer_lab.pipelines.semi_supervised import nodes
from transfer_lab.reporting.results import concat_results

DATA = {"base_dataset", "split_table", "label_subsets", "pretrained_encoders"}
SHARED_PARAMS = ("runtime", "neural", "pretrained")
DATA_PARAMS = "params:data"  # the data block every family shares: checkpoints are checked against it


def method_pipeline(method: str) -> Pipeline:
    """The template: one method's node, under the namespace ``<method>``."""
    run = bind(nodes.run_method, method)
    inputs = ["base_dataset", "split_table", "label_subsets", "pretrained_encoders", "params:entries"]
    inputs += [f"params:{block}" for block in SHARED_PARAMS] + [DATA_PARAMS]
    template = Pipeline([Node(run, inputs, ["rows", "rounds"], name="run", tags="train")])
    parameters = {"params:entries": f"params:methods.{method}"}
    parameters.update({f"params:{block}": f"params:{block}" for block in SHARED_PARAMS})
    parameters[DATA_PARAMS] = DATA_PARAMS
    return Pipeline(template, namespace=method, inputs=DATA, parameters=parameters)


def _combine_and_report() -> list[Node]:
    """The nodes that read every method's outputs: in the family's namespace, named in full
    (``semi_supervised.<method>.rows``) as the nested namespaces wrote them."""
    ns = "semi_supervised"
    return [
        Node(
            concat_results,
            [f"{ns}.{m}.rows" for m in METHODS],
            "semi_supervised_results",
            name="combine_results",
            tags="score",
            namespace=ns,
        ),
        Node(
            nodes.combine_rounds,
            [f"{ns}.{m}.rounds" for m in METHODS],
            "semi_supervised_pseudo_labels",
            name="combine_pseudo_labels",
            tags="score",
            namespace=ns,
        ),
        Node(
            nodes.report,
            ["semi_supervised_results", "semi_supervised_pseudo_labels", f"params:{ns}.methods"],
            ["semi_supervised_accuracy_plot", "semi_supervised_pseudo_label_plot"],
            name="report",
            tags="report",
            namespace=ns,
        ),
    ]


def create_pipeline(**kwargs) -> Pipeline:
    methods = Pipeline(
        [method_pipeline(method) for method in METHODS], namespace="semi_supervised", inputs=DATA,
        parameters={DATA_PARAMS},
    )
    return Pipeline([methods, *_combine_and_report()], tags="semi_supervised")
