"""Nodes of the ``transfer`` pipeline: protocols per pretrained encoder, scratch, DANN, figure.

The protocols live in ``methods.transfer``, domain adaptation in ``methods.dann`` and the
figure in ``reporting.figures_transfer``. The unit of an encoder runs every protocol on
every label budget and seed; rows are named ``<encoder>_<protocol>``
(``simclr_linear_probe``, ``supcon_finetune``, ...). Model selection (early stopping) uses
the val split; accuracy is reported on the test split.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from pydantic import BaseModel
from tqdm.auto import tqdm

from transfer_lab.contracts import (
    DataParams, Dataset, DomainPair, data_provenance, select_domain_pair, stale_reason, supcon_checkpoint_name,
)
from transfer_lab.methods.dann import ADAPTATION_METHODS, DomainAdaptationResult
from transfer_lab.methods.encoders import build_encoder, encoder_from_checkpoint, encoder_settings
from transfer_lab.methods.runtime import node_compute, resolve_device, seed_everything
from transfer_lab.methods.transfer import FeatureCache, TransferResult, run_protocol, train_from_scratch
from transfer_lab.params import parse_params
from transfer_lab.pipelines.transfer.params import (
    DANNParams, FinetuneParams, KNNParams, LinearProbeParams, PartialFreezeParams, ReferenceParams,
    RuntimeParams, ScratchParams,
)
from transfer_lab.reporting import tracking
from transfer_lab.reporting.figures_transfer import accuracy_vs_budget_figure, domain_adaptation_figure
from transfer_lab.reporting.results import result_row, results_frame
from transfer_lab.sources.splits import BudgetView, budget_view, budgets_and_seeds

logger = logging.getLogger(__name__)

# Protocols on the frozen encoder's features: they share one FeatureCache per encoder.
FROZEN_PROTOCOLS = ("linear_probe", "knn")
PROTOCOL_PARAMS = {
    "linear_probe": LinearProbeParams, "knn": KNNParams, "partial_freeze": PartialFreezeParams, "finetune": FinetuneParams,
}


def _runtime(runtime: Mapping[str, Any]) -> RuntimeParams:
    return parse_params(RuntimeParams, runtime, "transfer.runtime")


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


def _method_settings(block: BaseModel, seed: int) -> dict[str, Any]:
    """A block's keyword arguments for its method, with ``config`` built from ``training``."""
    training = getattr(block, "training", None)
    return {**block.method_kwargs(), **({"config": training.to_train_config(seed)} if training else {})}


def _pretrained(encoders: Mapping[str, dict], encoder: str, budget: str, seed: int, expected: Mapping[str, Any], device):
    """The checkpoint of ``encoder`` for one budget (supcon: one per label subset), rebuilt;
    refused unless it was trained on this run's data (``expected``: ``data_provenance``)."""
    name = supcon_checkpoint_name(budget, seed) if encoder == "supcon" else encoder
    if name not in encoders:
        raise ValueError(f"no pretrained encoder {name!r} (have {sorted(encoders)}); run the pretraining pipeline first")
    reason = stale_reason(encoders[name].get("meta", {}), expected)
    if reason is not None:
        raise ValueError(
            f"pretrained encoder {name!r} is stale: {reason}; "
            "run the pretraining pipeline with the same data parameters first"
        )
    return encoder_from_checkpoint(encoders[name], device)


def _loaded(loaded: dict, encoders: Mapping[str, dict], encoder: str, budget: str, seed: int, expected: Mapping, device):
    """The encoder of one budget and its :class:`FeatureCache`, each checkpoint loaded once.

    The trained protocols fine-tune a copy, so one loaded encoder serves every pair; the
    frozen-feature protocols share its cached validation and test features.
    """
    name = supcon_checkpoint_name(budget, seed) if encoder == "supcon" else encoder
    if name not in loaded:
        pretrained = _pretrained(encoders, encoder, budget, seed, expected, device)
        loaded.clear()  # supcon: one checkpoint per pair, none reused
        loaded[name] = (pretrained, FeatureCache(pretrained, device))
    return loaded[name]


def transfer_encoder(
    encoder: str, encoders: Mapping[str, dict], base_dataset: Dataset, split_table: pd.DataFrame,
    label_subsets: pd.DataFrame, protocols: Sequence[str], probe_only: Sequence[str], linear_probe: Mapping[str, Any],
    knn: Mapping[str, Any], partial_freeze: Mapping[str, Any], finetune: Mapping[str, Any], runtime: Mapping[str, Any],
    data: Mapping[str, Any],
) -> pd.DataFrame:
    """Every protocol of ``protocols`` on one pretrained encoder, every budget and seed; only
    the frozen ones (linear probe, kNN) for an encoder listed in ``probe_only``.

    ``supcon`` has one encoder per label subset: the rows of a budget use the encoder trained
    on that budget's labels only. Every other method has one encoder named after it.
    """
    given = {"linear_probe": linear_probe, "knn": knn, "partial_freeze": partial_freeze, "finetune": finetune}
    blocks = {p: parse_params(PROTOCOL_PARAMS[p], given[p], f"transfer.{p}") for p in protocols
              if encoder not in probe_only or p in FROZEN_PROTOCOLS}
    run, expected = _runtime(runtime), data_provenance(base_dataset, parse_params(DataParams, data, "data"))
    device, rows, loaded = resolve_device(run.device), [], {}
    with node_compute(run):
        for budget, seed in tqdm(budgets_and_seeds(label_subsets), desc=encoder, disable=not run.progress):
            pretrained, features = _loaded(loaded, encoders, encoder, budget, seed, expected, device)
            view = budget_view(base_dataset, split_table, label_subsets, budget, seed)
            for protocol, block in blocks.items():
                seed_everything(seed)
                shared = {"features": features} if protocol in FROZEN_PROTOCOLS else {}
                settings = {**_method_settings(block, seed), **shared}
                result = run_protocol(protocol, pretrained, view, device=device, **settings)
                rows += _rows(base_dataset.name, f"{encoder}_{protocol}", result, view)
    return results_frame(rows)


def train_scratch(
    base_dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame, scratch: Mapping[str, Any],
    encoder: Mapping[str, Any], runtime: Mapping[str, Any],
) -> pd.DataFrame:
    """The reference without transfer: the pretrained encoders' architecture
    (``pretraining.encoder``), freshly initialised, trained on each budget's labels."""
    block, run = parse_params(ScratchParams, scratch, "transfer.scratch"), _runtime(runtime)
    kind, kwargs = encoder_settings(encoder)
    device, rows = resolve_device(run.device), []
    with node_compute(run):
        for budget, seed in tqdm(budgets_and_seeds(label_subsets), desc="scratch", disable=not run.progress):
            view = budget_view(base_dataset, split_table, label_subsets, budget, seed)
            seed_everything(seed)
            result = train_from_scratch(
                view, encoder=build_encoder(kind, base_dataset.X.shape[1:], **kwargs),
                config=block.training.to_train_config(seed), augmentations=block.augment, strength=block.strength,
                device=device,
            )
            rows += _rows(base_dataset.name, "scratch", result, view)
    return results_frame(rows)


def _adaptation_rows(pair: str, method: str, result: DomainAdaptationResult, seed: int) -> list[dict]:
    measured = (
        ("accuracy", "target_test", result.target_test_accuracy), ("accuracy", "target_val", result.target_val_accuracy),
        ("accuracy", "source_test", result.source_test_accuracy), ("seconds", "train", result.seconds),
    )
    return [
        result_row(pipeline="transfer", dataset=pair, method=method, metric=metric, value=value, split=split, seed=seed)
        for metric, split, value in measured
    ]


def adapt_domains(
    method: str, domain_pairs: Mapping[str, DomainPair], settings: Mapping[str, Any], pair: int,
    encoder: Mapping[str, Any], runtime: Mapping[str, Any], data: Mapping[str, Any],
) -> pd.DataFrame:
    """One of ``dann``, ``source_only`` (the floor), ``target_supervised`` (the ceiling) on the
    domain pair ``pair``, every seed of ``data.seeds``: rows on the pair's dataset
    (``digits->digits_rotated``), split ``target_test`` (and ``source_test``, ``target_val``).
    No label budget: the source half is fully labelled and, except for the ceiling, no
    target label is read."""
    block = parse_params(DANNParams if method == "dann" else ReferenceParams, settings, f"transfer.domain_adaptation.{method}")
    run, data_params = _runtime(runtime), parse_params(DataParams, data, "data")
    chosen = select_domain_pair(domain_pairs, data_params.dataset, data_params, pair)
    kind, kwargs = encoder_settings(encoder)
    device, rows, losses = resolve_device(run.device), [], []
    with node_compute(run):
        for seed in tqdm(data_params.seeds, desc=method, disable=not run.progress):
            seed_everything(seed)
            network = build_encoder(kind, chosen.source_X.shape[1:], **kwargs)
            result = ADAPTATION_METHODS[method](chosen, encoder=network, device=device, **_method_settings(block, seed))
            rows += _adaptation_rows(chosen.name, method, result, seed)
            losses.append(result.history.train_loss)
    tracking.log_history(tracking.history_key("transfer", chosen.name, method, "train_loss"), losses)
    mean = float(results_frame(rows).query("split == 'target_test'")["value"].mean())
    logger.info("Domain adaptation on %s, %s: target test accuracy %.3f", chosen.name, method, mean)
    return results_frame(rows)


def plot_accuracy_vs_budget(transfer_results: pd.DataFrame, protocols: Sequence[str]) -> plt.Figure:
    """Test accuracy against labels per class, one panel per protocol (``scratch`` dashed)."""
    figure = accuracy_vs_budget_figure(transfer_results, protocols)
    tracking.log_figure(figure, "figures/transfer/accuracy_vs_budget.png")
    return figure


def plot_domain_adaptation(transfer_results: pd.DataFrame) -> plt.Figure:
    """Target accuracy of each domain-adaptation method, between the source-only floor and
    the target-supervised ceiling (``domain_adaptation.png``)."""
    pairs = transfer_results[transfer_results["dataset"].astype(str).str.contains("->", regex=False)]
    figure = domain_adaptation_figure(pairs)
    tracking.log_figure(figure, "figures/transfer/domain_adaptation.png")
    return figure
