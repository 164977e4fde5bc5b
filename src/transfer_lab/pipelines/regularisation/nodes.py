"""Nodes of the ``regularisation`` pipeline: each method on every label budget and seed.

The algorithms live in ``methods.regularisation`` (one runner per method in its
``protocol`` module), the figures in ``reporting.figures_regularisation``. One node,
:func:`run_method`, runs one method on every (budget, seed) view of the data pipeline's
label subsets and returns rows of the shared results table: test accuracy and, per method,
validation accuracy, seconds, accuracy under FGSM and PGD at the stated epsilon
(``fgsm_accuracy``, ``pgd_accuracy``), the fraction of zero hidden activations
(``activation_sparsity``), dropout's Monte-Carlo vs weight-scaling gap, a bagged ensemble's
mean member accuracy. The encoder methods (L2-SP, weight decay) fine-tune the checkpoint
``methods.<method>.encoder`` of ``pretrained_encoders``; absent, they log and skip.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from transfer_lab.contracts import Dataset, TrainingParams
from transfer_lab.methods.regularisation import protocol
from transfer_lab.methods.runtime import node_compute, resolve_device
from transfer_lab.params import parse_params
from transfer_lab.pipelines.regularisation.params import (
    ENCODER_METHODS, METHOD_PARAMS, AttackParams, NetworkParams, RunParams,
)
from transfer_lab.reporting import figures_regularisation as figures
from transfer_lab.reporting import tracking
from transfer_lab.reporting.results import aggregate_results, result_row, results_frame
from transfer_lab.sources.splits import budget_view, budgets_and_seeds

logger = logging.getLogger(__name__)
Runner = Callable[[Any, protocol.Setting], protocol.Results]


def _checkpoint(encoders: Mapping[str, dict], name: str, dataset: Dataset) -> dict | None:
    """The named pretrained encoder if present and made for this data, else ``None`` (logged)."""
    checkpoint = (encoders or {}).get(name)
    problem = None
    if checkpoint is None:
        problem = f"not in pretrained_encoders (have {sorted(encoders or {})})"
    elif list(checkpoint["encoder"]["input_shape"]) != list(dataset.X.shape[1:]):
        problem = f"takes inputs {checkpoint['encoder']['input_shape']}, the data has {list(dataset.X.shape[1:])}"
    elif checkpoint.get("meta", {}).get("dataset", dataset.name) != dataset.name:
        problem = f"was trained on {checkpoint['meta']['dataset']!r}, not {dataset.name!r}"
    if problem:
        logger.info("regularisation: pretrained encoder %r %s; skipped", name, problem)
    return None if problem else checkpoint


def _manifold_runner(block: Any, setting_device: Any) -> Runner:
    """Tangent prop along a contractive auto-encoder's tangents; one auto-encoder per seed,
    trained on the train split's inputs (every budget's labelled + unlabelled rows)."""
    autoencoders: dict[int, Any] = {}
    ae = block.autoencoder

    def run(view: Any, setting: protocol.Setting) -> protocol.Results:
        if view.seed not in autoencoders:
            inputs = np.concatenate([view.X_labeled, view.X_unlabeled])
            config = ae.training.to_train_config(view.seed)
            autoencoders[view.seed] = protocol.fit_autoencoder(inputs, ae.hidden, ae.contraction, config, setting_device, view.seed)
        return protocol.run_manifold_tangent(view, setting, autoencoders[view.seed], **block.kwargs())

    return run


def _runner(method: str, block: Any, dataset: Dataset, encoders: Mapping[str, dict], device: Any) -> Runner | None:
    """What runs one view for ``method``; ``None`` when its pretrained encoder is missing."""
    if method.endswith("_1nn"):
        distance = "euclidean" if method == "euclidean_1nn" else "tangent"
        return functools.partial(protocol.run_nearest_neighbour, distance=distance, **block.kwargs())
    if method == "manifold_tangent":
        return _manifold_runner(block, device)
    if method in ENCODER_METHODS:
        checkpoint = _checkpoint(encoders, block.encoder, dataset)
        anchor, name = ("pretrained" if method == "l2_sp" else "zero"), f"{method}_{block.encoder}"
        if checkpoint is None:
            return None
        return lambda view, s: {name: protocol.run_l2_sp(view, s, checkpoint, anchor=anchor, **block.kwargs())}
    return functools.partial(protocol.RUNNERS[method], **block.kwargs())


def _rows(dataset: str, view: Any, results: protocol.Results) -> list[dict]:
    return [
        result_row(
            pipeline="regularisation", dataset=dataset, method=method, metric=metric, value=value, split=split,
            labels_per_class=view.labels_per_class, seed=view.seed,
        )
        for method, measured in results.items()
        for metric, (split, value) in measured.items()
        if value is not None and np.isfinite(value)
    ]


def run_method(
    method: str, base_dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame,
    settings: Mapping[str, Any] | None, runtime: Mapping[str, Any], training: Mapping[str, Any],
    network: Mapping[str, Any], attack: Mapping[str, Any], pretrained_encoders: Mapping[str, dict] | None = None,
) -> pd.DataFrame:
    """``method`` (``params:regularisation.methods.<method>``) on every budget and seed."""
    run = parse_params(RunParams, runtime, "regularisation.runtime")
    block = parse_params(METHOD_PARAMS[method], settings, f"regularisation.methods.{method}")
    train = parse_params(TrainingParams, training, "regularisation.training")
    net, threat = parse_params(NetworkParams, network, "regularisation.network"), parse_params(AttackParams, attack, "regularisation.attack")
    device, rows = resolve_device(run.device), []
    runner = _runner(method, block, base_dataset, pretrained_encoders or {}, device) if run.runs(method) else None
    with node_compute(run):
        for budget, seed in tqdm(budgets_and_seeds(label_subsets) if runner else [], desc=method, disable=not run.progress):
            view = budget_view(base_dataset, split_table, label_subsets, budget, seed)
            setting = protocol.Setting(
                train.to_train_config(seed), base_dataset.n_classes, tuple(net.hidden), threat.epsilon,
                threat.pgd_steps, threat.pgd_step_size, device,
            )
            rows += _rows(base_dataset.name, view, runner(view, setting))
    return results_frame(rows)


def report(results: pd.DataFrame, attack: Mapping[str, Any]) -> tuple[plt.Figure, plt.Figure, pd.DataFrame]:
    """The family's figures (accuracy vs budget per method; clean vs adversarial accuracy at
    the stated epsilon) and its summary table (one row per method and budget, the extra
    measurements as columns), logged to MLflow."""
    threat = parse_params(AttackParams, attack, "regularisation.attack")
    board = aggregate_results([results])
    accuracy_figure = figures.accuracy_vs_budget(board)
    adversarial_figure = figures.clean_vs_adversarial(board, threat.epsilon)
    summary = figures.summary_table(board)
    tracking.log_figure(accuracy_figure, "figures/regularisation/accuracy_vs_budget.png")
    tracking.log_figure(adversarial_figure, "figures/regularisation/clean_vs_adversarial.png")
    for budget, group in board[(board["metric"] == "accuracy") & (board["split"] == "test")].groupby("labels_per_class"):
        top = group.loc[group["mean"].idxmax()]
        logger.info("regularisation: best at %s labels/class: %s %.4f", budget, top["method"], top["mean"])
    return accuracy_figure, adversarial_figure, summary
