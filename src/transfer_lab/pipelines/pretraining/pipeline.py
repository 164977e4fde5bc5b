"""The ``pretraining`` pipeline: one nested namespace per method, made from one template.

``pretraining.<method>`` trains the method's encoder(s) into its own checkpoint folder
(``pretraining.<method>.encoders``, read by that encoder's ``transfer`` unit, so transfer
starts as soon as that encoder is trained), scores them into result rows and draws a t-SNE
of test features and the loss curve. The family then copies every checkpoint into
``pretrained_encoders``, the one folder ``semi_supervised`` reads, and combines the rows
into ``pretraining_results``.

The methods differ only in what data their training node reads: the training rows
(``simclr``, ``moco``, ``rotation``, ``imputation``, ``dim``, ``cpc``, ``jigsaw``,
``relative_position``; ``clip`` with their labels, as captions), the label subsets
(``supcon``) or a domain pair (``supervised_source``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kedro.pipeline import Node, Pipeline

from transfer_lab.pipelines import bind
from transfer_lab.pipelines.pretraining import nodes
from transfer_lab.pipelines.pretraining.params import METHODS, UNLABELLED
from transfer_lab.reporting.results import concat_results

SHARED_INPUTS = {"base_dataset", "split_table", "label_subsets", "domain_pairs"}


def _method_template(method: str, train: Callable, data: Sequence[str], data_params: Sequence[str] = ()) -> Pipeline:
    """One pretraining method: train (``data`` → ``encoders``), score, draw."""
    shared = {"params:encoder", "params:runtime", "params:tsne", *data_params}
    return Pipeline(
        [
            Node(train, [*data, "params:settings", "params:encoder", "params:runtime", *data_params], "encoders", name="pretrain", tags="train"),
            Node(nodes.score_checkpoints, "encoders", "rows", name="score", tags="score"),
            Node(
                nodes.plot_tsne, ["encoders", "base_dataset", "split_table", "params:tsne", "params:runtime"], "tsne_plot",
                name="plot_tsne", tags="report",
            ),
            Node(nodes.plot_loss, "encoders", "loss_plot", name="plot_loss", tags="report"),
        ],
        namespace=method,
        inputs={"base_dataset", "split_table", *data},
        # the method's own block is pretraining.<method>; the shared blocks stay family-wide
        parameters={"params:settings": f"params:{method}", **{name: name for name in shared}},
    )


def create_pipeline(**kwargs) -> Pipeline:
    methods = [
        *(
            _method_template(m, bind(nodes.pretrain_unlabelled, m), ["base_dataset", "split_table"], ["params:data"])
            for m in UNLABELLED
        ),
        _method_template("supcon", nodes.pretrain_supcon, ["base_dataset", "label_subsets"], ["params:data"]),
        _method_template("clip", nodes.pretrain_clip, ["base_dataset", "split_table"], ["params:data"]),
        _method_template(
            "supervised_source", nodes.pretrain_supervised_source, ["base_dataset", "domain_pairs"], ["params:data"]
        ),
    ]
    return Pipeline(
        [
            *methods,
            Node(
                nodes.collect_encoders, [f"{m}.encoders" for m in METHODS], "pretrained_encoders",
                name="collect_encoders", tags="train",
            ),
            Node(concat_results, [f"{m}.rows" for m in METHODS], "pretraining_results", name="combine_results", tags="score"),
        ],
        namespace="pretraining",
        inputs=SHARED_INPUTS,
        outputs={"pretrained_encoders", "pretraining_results"},
        parameters={"params:data"},
        tags="pretraining",
    )
