"""Nodes of the ``transfer`` pipeline: transfer protocols per pretrained encoder, scratch, DANN.

The protocols live in ``methods.transfer`` and domain adaptation in ``methods.dann``. One node
per pretrained encoder runs every protocol on every label budget and seed; rows are named
``<pretraining>_<protocol>`` (``simclr_linear_probe``, ``supcon_finetune``, ...). Model
selection (early stopping) uses the val split; accuracy is reported on the test split.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from transfer_lab.methods.dann import train_dann, train_source_only, train_target_supervised
from transfer_lab.methods.encoders import build_encoder, encoder_from_checkpoint
from transfer_lab.methods.runtime import resolve_device, seed_everything, thread_limits
from transfer_lab.methods.transfer import TransferResult, finetune, knn_probe, linear_probe, train_from_scratch
from transfer_lab.params import parse_params
from transfer_lab.pipelines.data.params import DataParams
from transfer_lab.pipelines.pretraining.nodes import domain_pair, supcon_name
from transfer_lab.pipelines.pretraining.params import PretrainingParams
from transfer_lab.pipelines.transfer.params import TransferParams
from transfer_lab.reporting import tracking
from transfer_lab.reporting.results import aggregate_results, budget_sort_key, result_row, results_frame
from transfer_lab.sources.splits import BudgetView, budget_view, budgets_and_seeds

logger = logging.getLogger(__name__)


def _params(transfer: Mapping[str, Any]) -> TransferParams:
    return parse_params(TransferParams, transfer, "transfer")


def _rows(dataset: str, method: str, result: TransferResult, view: BudgetView) -> list[dict]:
    measured = [("accuracy", "test", result.test_accuracy), ("seconds", "train", result.seconds)]
    if result.val_accuracy is not None:
        measured.append(("val_accuracy", "val", result.val_accuracy))
    if "epochs_run" in result.details:
        measured.append(("epochs", "train", result.details["epochs_run"]))
    return [
        result_row(
            pipeline="transfer", dataset=dataset, method=method, metric=metric, value=value, split=split,
            labels_per_class=view.labels_per_class, seed=view.seed,
        )
        for metric, split, value in measured
    ]


def run_protocol(protocol: str, encoder, view: BudgetView, params: TransferParams, device) -> TransferResult:
    """One protocol of :data:`~transfer_lab.pipelines.transfer.params.PROTOCOLS` with its parameters."""
    seed_everything(view.seed)
    if protocol == "linear_probe":
        return linear_probe(encoder, view, C=params.linear_probe.C, max_iter=params.linear_probe.max_iter, device=device)
    if protocol == "knn":
        return knn_probe(encoder, view, k=params.knn.k, weights=params.knn.weights, device=device)
    tuned = params.partial_freeze if protocol == "partial_freeze" else params.finetune
    return finetune(
        encoder, view, n_frozen=params.partial_freeze.k if protocol == "partial_freeze" else 0,
        config=tuned.config(view.seed), encoder_lr=tuned.encoder_lr, augmentations=tuned.augment,
        strength=tuned.strength, device=device,
    )


def _check_checkpoint(name: str, checkpoint: dict, dataset: str) -> None:
    trained_on = checkpoint.get("meta", {}).get("dataset")
    if trained_on != dataset:
        raise ValueError(
            f"pretrained encoder {name!r} was trained on {trained_on!r}, not {dataset!r}; "
            "run the pretraining pipeline with the same data parameters first"
        )


def _log_means(rows: list[dict], dataset: str) -> None:
    """Mean test accuracy over seeds of each method and budget, as MLflow metrics."""
    board = aggregate_results([results_frame(rows)])
    board = board[(board["metric"] == "accuracy") & (board["split"] == "test")]
    tracking.log_metrics({
        tracking.metric_key("transfer", dataset, row.method, f"lpc_{row.labels_per_class}", "accuracy_test"): row.mean
        for row in board.itertuples()
    })


def transfer_encoder(
    pretraining_method: str, encoders: Mapping[str, dict], base_dataset: dict, split_table: pd.DataFrame,
    label_subsets: pd.DataFrame, transfer: Mapping[str, Any],
) -> pd.DataFrame:
    """Every protocol of ``transfer.protocols`` on one pretrained encoder, every budget and seed.

    ``supcon`` has one encoder per label subset (``supcon_lpc<budget>_seed<seed>``): the rows
    of a budget use the encoder trained on that budget's labels only. Every other method has
    one encoder named after it.
    """
    params = _params(transfer)
    device = resolve_device(params.device)
    name = base_dataset["name"]
    rows: list[dict] = []
    with thread_limits(params.num_threads):
        for budget, seed in tqdm(budgets_and_seeds(label_subsets), desc=pretraining_method, disable=not params.progress):
            checkpoint_name = supcon_name(budget, seed) if pretraining_method == "supcon" else pretraining_method
            if checkpoint_name not in encoders:
                raise ValueError(
                    f"no pretrained encoder {checkpoint_name!r} (have {sorted(encoders)}); run the pretraining pipeline first"
                )
            _check_checkpoint(checkpoint_name, encoders[checkpoint_name], name)
            encoder = encoder_from_checkpoint(encoders[checkpoint_name], device)
            view = budget_view(base_dataset, split_table, label_subsets, budget, seed)
            for protocol in params.protocols:
                result = run_protocol(protocol, encoder, view, params, device)
                rows += _rows(name, f"{pretraining_method}_{protocol}", result, view)
    _log_means(rows, name)
    return results_frame(rows)


def train_scratch(
    base_dataset: dict, split_table: pd.DataFrame, label_subsets: pd.DataFrame,
    transfer: Mapping[str, Any], pretraining: Mapping[str, Any],
) -> pd.DataFrame:
    """The reference without transfer: the pretrained encoders' architecture, freshly initialised."""
    params = _params(transfer)
    encoder_params = parse_params(PretrainingParams, pretraining, "pretraining").encoder
    device = resolve_device(params.device)
    name = base_dataset["name"]
    input_shape = tuple(base_dataset["X"].shape[1:])
    rows: list[dict] = []
    with thread_limits(params.num_threads):
        for budget, seed in tqdm(budgets_and_seeds(label_subsets), desc="scratch", disable=not params.progress):
            view = budget_view(base_dataset, split_table, label_subsets, budget, seed)
            seed_everything(seed)
            encoder = build_encoder(encoder_params.kind, input_shape, **encoder_params.kwargs())
            result = train_from_scratch(
                view, encoder=encoder, config=params.scratch.config(seed), augmentations=params.scratch.augment,
                strength=params.scratch.strength, device=device,
            )
            rows += _rows(name, "scratch", result, view)
    _log_means(rows, name)
    return results_frame(rows)


def domain_adaptation(
    domain_pairs: Mapping[str, dict], transfer: Mapping[str, Any], pretraining: Mapping[str, Any],
    data: Mapping[str, Any],
) -> pd.DataFrame:
    """DANN against source-only (the floor) and target-supervised (the ceiling), every seed.

    Rows ``dann``, ``source_only``, ``target_supervised`` on the pair's dataset
    (``digits->digits_rotated``), split ``target_test`` (and ``source_test``, ``target_val``).
    No label budget: the source half is fully labelled and, except for the ceiling, no
    target label is read.
    """
    params = _params(transfer)
    adaptation = params.domain_adaptation
    data_params = parse_params(DataParams, data, "data")
    encoder_params = parse_params(PretrainingParams, pretraining, "pretraining").encoder
    device = resolve_device(params.device)
    pair_name, pair = domain_pair(domain_pairs, data_params.dataset, data_params, adaptation.pair)
    trainers = {"dann": train_dann, "source_only": train_source_only, "target_supervised": train_target_supervised}
    rows: list[dict] = []
    with thread_limits(params.num_threads):
        for seed in tqdm(data_params.seeds, desc="domain adaptation", disable=not params.progress):
            for method, trainer in trainers.items():
                seed_everything(seed)
                encoder = build_encoder(encoder_params.kind, tuple(pair["source_X"].shape[1:]), **encoder_params.kwargs())
                if method == "dann":
                    dann = adaptation.dann
                    config = {
                        "epochs": dann.epochs, "batch_size": dann.batch_size, "lr": dann.lr,
                        "weight_decay": dann.weight_decay, "seed": seed, "progress": False,
                    }
                    result = train_dann(
                        pair, encoder=encoder, config=config, gamma=dann.gamma, alpha=dann.alpha, beta=dann.beta,
                        domain_hidden=dann.domain_hidden, domain_weight=dann.domain_weight, device=device,
                    )
                else:
                    ref = adaptation.reference
                    config = {
                        "epochs": ref.epochs, "batch_size": ref.batch_size, "lr": ref.lr, "optimizer": "adam",
                        "weight_decay": ref.weight_decay, "patience": ref.patience, "seed": seed, "progress": False,
                    }
                    result = trainer(pair, encoder=encoder, config=config, device=device)
                for metric, split, value in (
                    ("accuracy", "target_test", result.target_test_accuracy),
                    ("accuracy", "target_val", result.target_val_accuracy),
                    ("accuracy", "source_test", result.source_test_accuracy),
                    ("seconds", "train", result.seconds),
                ):
                    rows.append(result_row(
                        pipeline="transfer", dataset=pair_name, method=method, metric=metric, value=value,
                        split=split, seed=seed,
                    ))
                tracking.log_metric_history(
                    tracking.metric_key("transfer", pair_name, method, f"seed_{seed}", "train_loss"), result.history.train_loss
                )
    frame = results_frame(rows)
    means = frame[frame["split"] == "target_test"].groupby("method")["value"].mean()
    tracking.log_metrics({tracking.metric_key("transfer", pair_name, m, "accuracy_target_test"): v for m, v in means.items()})
    logger.info("Domain adaptation on %s (target test accuracy): %s", pair_name, means.round(3).to_dict())
    return frame


def accuracy_vs_budget_figure(transfer_results: pd.DataFrame, transfer: Mapping[str, Any]) -> plt.Figure:
    """Test accuracy against labels per class: one panel per protocol, one line per pretraining.

    ``scratch`` (no transfer) is drawn dashed in every panel as the reference; the band is
    ± one standard deviation over seeds.
    """
    params = _params(transfer)
    board = aggregate_results([transfer_results])
    board = board[(board["metric"] == "accuracy") & (board["split"] == "test") & (board["labels_per_class"] != "")]
    budgets = sorted(board["labels_per_class"].unique(), key=budget_sort_key)
    position = {b: i for i, b in enumerate(budgets)}
    figure, axes = plt.subplots(1, len(params.protocols), figsize=(4.2 * len(params.protocols), 4.2), sharey=True, squeeze=False)
    scratch = board[board["method"] == "scratch"]
    for ax, protocol in zip(axes[0], params.protocols, strict=True):
        suffix = f"_{protocol}"
        curves = board[board["method"].str.endswith(suffix)]
        for method, curve in sorted(curves.groupby("method")):
            _draw(ax, curve, position, method.removesuffix(suffix), "-")
        if len(scratch):
            _draw(ax, scratch, position, "scratch", "--", color="black")
        ax.set_title(protocol)
        ax.set_xticks(range(len(budgets)))
        ax.set_xticklabels(budgets)
        ax.set_xlabel("labels per class")
        ax.grid(True, alpha=0.3)
    axes[0, 0].set_ylabel("test accuracy (mean ± std over seeds)")
    axes[0, -1].legend(fontsize="small", loc="lower right")
    dataset = ", ".join(sorted(board["dataset"].unique()))
    figure.suptitle(f"transfer on {dataset}: accuracy vs label budget")
    figure.tight_layout()
    tracking.log_figure(figure, "figures/transfer/accuracy_vs_budget.png")
    return figure


def _draw(ax, curve: pd.DataFrame, position: Mapping[str, int], label: str, style: str, **kwargs) -> None:
    curve = curve.iloc[np.argsort([position[b] for b in curve["labels_per_class"]])]
    x = np.array([position[b] for b in curve["labels_per_class"]])
    mean, std = curve["mean"].to_numpy(), curve["std"].to_numpy()
    (line,) = ax.plot(x, mean, style, marker="o", markersize=3, label=label, **kwargs)
    ax.fill_between(x, mean - std, mean + std, alpha=0.12, color=line.get_color())
