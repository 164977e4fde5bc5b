"""The ``transfer`` pipeline: one nested namespace per pretrained encoder, scratch, domain adaptation.

``transfer.<encoder>`` (one template for every encoder of :data:`~.params.ENCODERS`) reads
that pretraining method's own checkpoint folder (``pretraining.<encoder>.encoders``), so it
depends on that method only and the encoders' units run side by side. ``transfer.scratch``
is the reference without transfer; ``transfer.domain_adaptation.<method>`` (one template
for ``dann``, ``source_only``, ``target_supervised``) adapts across a domain pair. The rows
are combined into ``transfer_results`` and drawn against the label budget.
"""

from __future__ import annotations

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines import bind
from transfer_lab.pipelines.transfer import nodes
from transfer_lab.pipelines.transfer.params import ADAPTATION, ENCODERS
from transfer_lab.reporting.results import concat_results

BUDGET_DATA = ["base_dataset", "split_table", "label_subsets"]
PROTOCOL_PARAMS = ["params:protocols", "params:probe_only", "params:linear_probe", "params:knn", "params:partial_freeze", "params:finetune"]
ENCODER_PARAMS = "params:pretraining.encoder"  # the architecture scratch and DANN rebuild


def _encoder_template(encoder: str) -> Pipeline:
    """Every protocol on the pretrained encoder(s) of one pretraining method."""
    return Pipeline(
        [
            Node(
                bind(nodes.transfer_encoder, encoder),
                ["encoders", *BUDGET_DATA, *PROTOCOL_PARAMS, "params:runtime", "params:data"],
                "rows",
                name="run_protocols",
                tags="train",
            )
        ],
        namespace=encoder,
        inputs={"encoders": f"pretraining.{encoder}.encoders", **{name: name for name in BUDGET_DATA}},
        parameters={name: name for name in [*PROTOCOL_PARAMS, "params:runtime", "params:data"]},
    )


def _scratch() -> Pipeline:
    return Pipeline(
        [
            Node(
                nodes.train_scratch, [*BUDGET_DATA, "params:scratch", ENCODER_PARAMS, "params:runtime"], "rows",
                name="train", tags="train",
            )
        ],
        namespace="scratch",
        inputs=set(BUDGET_DATA),
        parameters={"params:scratch", ENCODER_PARAMS, "params:runtime"},
    )


def _adaptation_template(method: str, settings: str) -> Pipeline:
    """One domain-adaptation method on the chosen domain pair, every seed."""
    shared = ["params:pair", ENCODER_PARAMS, "params:runtime", "params:data"]
    return Pipeline(
        [
            Node(
                bind(nodes.adapt_domains, method), ["domain_pairs", "params:settings", *shared], "rows",
                name="adapt", tags="train",
            )
        ],
        namespace=method,
        inputs={"domain_pairs"},
        parameters={"params:settings": f"params:{settings}", **{name: name for name in shared}},
    )


def _domain_adaptation() -> Pipeline:
    return Pipeline(
        [_adaptation_template(method, settings) for method, settings in ADAPTATION.items()],
        namespace="domain_adaptation",
        inputs={"domain_pairs"},
        parameters={ENCODER_PARAMS, "params:runtime", "params:data"},
    )


def create_pipeline(**kwargs) -> Pipeline:
    units = [*ENCODERS, "scratch", *(f"domain_adaptation.{method}" for method in ADAPTATION)]
    return Pipeline(
        [
            *(_encoder_template(encoder) for encoder in ENCODERS),
            _scratch(),
            _domain_adaptation(),
            Node(concat_results, [f"{unit}.rows" for unit in units], "transfer_results", name="combine_results", tags="score"),
            Node(
                nodes.plot_accuracy_vs_budget, ["transfer_results", "params:protocols"], "accuracy_vs_budget_plot",
                name="plot_accuracy_vs_budget", tags="report",
            ),
            Node(
                nodes.plot_domain_adaptation, "transfer_results", "domain_adaptation_plot",
                name="plot_domain_adaptation", tags="report",
            ),
        ],
        namespace="transfer",
        inputs={*BUDGET_DATA, "domain_pairs", *(f"pretraining.{encoder}.encoders" for encoder in ENCODERS)},
        outputs={"transfer_results"},
        parameters={ENCODER_PARAMS, "params:data"},
        tags="transfer",
    )
