"""Nodes of the ``pretraining`` pipeline: each method trains, scores and draws its encoder(s).

The algorithms live in ``methods.contrastive`` and ``methods.pretext`` (dispatched by
``methods.transfer.pretrain``), the figures in ``reporting.figures_pretraining``. What each
method may see:

* ``simclr``, ``moco``, ``rotation``, ``imputation``: the training images, without labels;
* ``supcon``: the labelled rows of one label-budget subset. One encoder per (budget, seed)
  (checkpoint ``contracts.supcon_checkpoint_name(budget, seed)``), so the transfer rows of a
  budget never profit from labels outside that budget's subset; identical subsets (``all``
  is the same for every seed) are pretrained once;
* ``dim``, ``cpc``, ``jigsaw``, ``relative_position``: the training images, without labels;
* ``clip``: the training images and captions generated from their labels and the shifts it
  applies (so every training label); zero-shot scored on the test rows;
* ``supervised_source``: the labelled training half of one side of a domain pair from the
  ``data`` pipeline (by default the shifted target domain, e.g. rotated digits), never the
  label-budget subsets of the base data.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from transfer_lab.contracts import (
    DataParams, Dataset, DomainPair, data_provenance, select_domain_pair, supcon_checkpoint_name,
)
from transfer_lab.methods.clip import LINEAR_PROBE
from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint, encoder_from_checkpoint, encoder_settings
from transfer_lab.methods.runtime import node_compute, resolve_device, seed_everything
from transfer_lab.methods.training import extract_features
from transfer_lab.methods.transfer import pretrain
from transfer_lab.params import parse_params
from transfer_lab.pipelines.pretraining.params import (
    METHOD_PARAMS, MethodParams, RuntimeParams, SupervisedSourceParams, TSNEParams,
)
from transfer_lab.reporting import tracking
from transfer_lab.reporting.figures_pretraining import loss_figure, sample_rows, tsne_figure
from transfer_lab.reporting.results import result_row, results_frame
from transfer_lab.sources.splits import budgets_and_seeds, split_indices, subset_indices

logger = logging.getLogger(__name__)

Checkpoints = dict[str, dict]


def _runtime(runtime: Mapping[str, Any]) -> RuntimeParams:
    return parse_params(RuntimeParams, runtime, "pretraining.runtime")


def _settings(method: str, settings: Mapping[str, Any]) -> MethodParams:
    return parse_params(METHOD_PARAMS[method], settings, f"pretraining.{method}")


def _pretrain(
    method: str, X: np.ndarray, y: np.ndarray | None, block: MethodParams, encoder: Mapping[str, Any],
    run: RuntimeParams, seed: int, dataset: str, progress: bool, fit_kwargs: Mapping[str, Any] | None = None, **meta: Any,
) -> dict:
    """Pretrain one encoder with ``block``'s settings; its checkpoint (``meta`` added to it)."""
    kind, kwargs = encoder_settings(encoder)
    input_shape = tuple(X.shape[1:])
    seed_everything(seed)
    start = time.perf_counter()
    model, history = pretrain(
        method, X, y, encoder=build_encoder(kind, input_shape, **kwargs), device=resolve_device(run.device),
        config=block.training.to_train_config(seed, progress=progress), **block.method_kwargs(), **(fit_kwargs or {}),
    )
    seconds = time.perf_counter() - start
    logger.info("%s: %d epochs in %.0f s, final loss %.4f", method, history.epochs_run, seconds, history.train_loss[-1])
    if history.val_score:
        meta.update(best_epoch=history.best_epoch, source_val_accuracy=float(history.best_score))
    if getattr(history, "zero_shot", None):
        meta["zero_shot"] = {name: float(value) for name, value in history.zero_shot.items()}
    return encoder_checkpoint(
        model, kind, input_shape, kwargs, method=method, dataset=dataset,
        loss_history=[float(v) for v in history.train_loss], epochs=history.epochs_run, seconds=float(seconds),
        n_samples=len(X), seed=run.seed, **meta,
    )


def _provenance(base_dataset: Dataset, data: Mapping[str, Any]) -> dict[str, Any]:
    """The data every checkpoint of this run records (``meta["provenance"]``), so that a
    reader reuses it only on the same dataset, split seed and data."""
    return data_provenance(base_dataset, parse_params(DataParams, data, "data"))


def _logged(dataset: str, checkpoints: Checkpoints) -> Checkpoints:
    """Loss per epoch as a metric history (the mean over the seeds of a per-subset method,
    ``supcon_lpc5_seed0`` → ``supcon_lpc5``) and each checkpoint as an artifact."""
    if tracking.is_tracking():
        curves: dict[str, list] = {}
        for name, checkpoint in checkpoints.items():
            curves.setdefault(re.sub(r"_seed\d+$", "", name), []).append(checkpoint["meta"]["loss_history"])
        for name, histories in curves.items():
            tracking.log_history(tracking.history_key("pretraining", dataset, name, "loss"), histories)
        for name, checkpoint in checkpoints.items():
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / f"{name}.pt"
                torch.save(checkpoint, path)
                tracking.log_artifact_file(path, "encoders")
    return checkpoints


def pretrain_unlabelled(
    method: str, base_dataset: Dataset, split_table: pd.DataFrame, settings: Mapping[str, Any],
    encoder: Mapping[str, Any], runtime: Mapping[str, Any], data: Mapping[str, Any],
) -> Checkpoints:
    """``method`` (simclr, moco, rotation, imputation) on the training rows, without labels."""
    block, run, provenance = _settings(method, settings), _runtime(runtime), _provenance(base_dataset, data)
    X = base_dataset.X[split_indices(split_table, "train")]
    with node_compute(run):
        checkpoint = _pretrain(
            method, X, None, block, encoder, run, run.seed, base_dataset.name, run.progress, labels="none", provenance=provenance,
        )
    return _logged(base_dataset.name, {method: checkpoint})


def pretrain_supcon(
    base_dataset: Dataset, label_subsets: pd.DataFrame, settings: Mapping[str, Any],
    encoder: Mapping[str, Any], runtime: Mapping[str, Any], data: Mapping[str, Any],
) -> Checkpoints:
    """Supervised contrastive pretraining on the labelled rows of every label subset.

    One encoder per (budget, seed), trained on that subset's rows and labels only; a subset
    whose rows equal an earlier one's (``all`` for every seed) reuses its weights.
    """
    block, run, provenance = _settings("supcon", settings), _runtime(runtime), _provenance(base_dataset, data)
    X, y = base_dataset.X, base_dataset.y
    checkpoints: Checkpoints = {}
    trained: dict[bytes, dict] = {}
    with node_compute(run):
        for budget, seed in tqdm(budgets_and_seeds(label_subsets), desc="supcon", disable=not run.progress):
            labeled = subset_indices(label_subsets, budget, seed)
            if labeled.tobytes() not in trained:
                trained[labeled.tobytes()] = _pretrain(
                    "supcon", X[labeled], y[labeled], block, encoder, run, run.seed + seed, base_dataset.name,
                    False, labels="label_subset", provenance=provenance,
                )
            checkpoint = trained[labeled.tobytes()]
            meta = {**checkpoint["meta"], "labels_per_class": budget, "subset_seed": seed}
            checkpoints[supcon_checkpoint_name(budget, seed)] = {**checkpoint, "meta": meta}
    return _logged(base_dataset.name, checkpoints)


def pretrain_supervised_source(
    base_dataset: Dataset, domain_pairs: Mapping[str, DomainPair], settings: Mapping[str, Any],
    encoder: Mapping[str, Any], runtime: Mapping[str, Any], data: Mapping[str, Any],
) -> Checkpoints:
    """Cross-entropy pretraining on a labelled source domain (one side of a domain pair).

    The source is the training half of side ``side`` of the pair ``pair``, e.g. the rotated
    half of ``digits->digits_rotated``: another domain, and images disjoint from the pair's
    other half. Early stopping uses that domain's validation rows; the base data's
    label-budget subsets are not read.
    """
    block: SupervisedSourceParams = _settings("supervised_source", settings)
    run = _runtime(runtime)
    pair = select_domain_pair(domain_pairs, base_dataset.name, parse_params(DataParams, data, "data"), block.pair)
    X, train, val = getattr(pair, f"{block.side}_X"), getattr(pair, f"{block.side}_train_index"), pair.val_index
    fit_kwargs = {"X_val": X[val], "y_val": pair.y[val], "n_classes": base_dataset.n_classes}
    with node_compute(run):
        checkpoint = _pretrain(
            "supervised_source", X[train], pair.y[train], block, encoder, run, run.seed, base_dataset.name,
            run.progress, fit_kwargs, labels="source_domain",
            source_domain=pair.name.split("->")[0 if block.side == "source" else 1], source_pair=pair.name,
            provenance=_provenance(base_dataset, data),
        )
    return _logged(base_dataset.name, {"supervised_source": checkpoint})


def pretrain_clip(
    base_dataset: Dataset, split_table: pd.DataFrame, settings: Mapping[str, Any],
    encoder: Mapping[str, Any], runtime: Mapping[str, Any], data: Mapping[str, Any],
) -> Checkpoints:
    """CLIP on the training rows, captioned from their labels and the shifts it applies;
    zero-shot accuracy scored on the test rows (clean, and the held-out class/shift combination).

    Unlike the self-supervised methods this reads every training label (through the captions).
    """
    block, run = _settings("clip", settings), _runtime(runtime)
    X, y = base_dataset.X, base_dataset.y
    train, test = split_indices(split_table, "train"), split_indices(split_table, "test")
    fit_kwargs = {"X_test": X[test], "y_test": y[test], "seed": run.seed, **block.data_kwargs(base_dataset.kind)}
    with node_compute(run):
        checkpoint = _pretrain(
            "clip", X[train], y[train], block, encoder, run, run.seed, base_dataset.name, run.progress, fit_kwargs,
            labels="captions_of_all_training_rows", provenance=_provenance(base_dataset, data),
        )
    return _logged(base_dataset.name, {"clip": checkpoint})


def score_checkpoints(encoders: Checkpoints) -> pd.DataFrame:
    """Result rows of a method's checkpoints: final loss, seconds and epochs (split ``train``);
    CLIP's zero-shot accuracies (metric ``zero_shot_accuracy``, split = what was scored,
    ``chance`` beside them)."""
    rows = []
    for checkpoint in encoders.values():
        meta = checkpoint["meta"]
        measured = [(m, v, "train") for m, v in (("final_loss", meta["loss_history"][-1]), ("seconds", meta["seconds"]), ("epochs", meta["epochs"]))]
        measured += [
            ("linear_probe_accuracy", v, "test") if split == LINEAR_PROBE else ("zero_shot_accuracy", v, split)
            for split, v in meta.get("zero_shot", {}).items()
        ]
        for metric, value, split in measured:
            rows.append(result_row(
                pipeline="pretraining", dataset=meta["dataset"], method=meta["method"], metric=metric, value=value,
                split=split, labels_per_class=meta.get("labels_per_class"), seed=meta.get("subset_seed", meta["seed"]),
            ))
    return results_frame(rows)


def plot_tsne(
    encoders: Checkpoints, base_dataset: Dataset, split_table: pd.DataFrame,
    tsne: Mapping[str, Any], runtime: Mapping[str, Any],
) -> plt.Figure:
    """t-SNE of the test rows' features, coloured by class, of the method's encoder trained on
    the most rows (supcon: the largest budget)."""
    params, run = parse_params(TSNEParams, tsne, "pretraining.tsne"), _runtime(runtime)
    checkpoint = max(encoders.values(), key=lambda c: c["meta"]["n_samples"])
    method, device = checkpoint["meta"]["method"], resolve_device(run.device)
    test = split_indices(split_table, "test")
    keep = test[sample_rows(len(test), params.max_points, run.seed)]
    with node_compute(run):
        features = extract_features(encoder_from_checkpoint(checkpoint, device), base_dataset.X[keep], device)
        title = f"{method} features of {base_dataset.name} test rows (t-SNE)"
        figure = tsne_figure(features, base_dataset.y[keep], title, params.perplexity, run.seed)
    tracking.log_figure(figure, f"figures/pretraining/tsne_{method}.png")
    return figure


def plot_loss(encoders: Checkpoints) -> plt.Figure:
    """Training loss per epoch of the method's checkpoints."""
    method = next(iter(encoders.values()))["meta"]["method"]
    figure = loss_figure({name: c["meta"]["loss_history"] for name, c in encoders.items()}, f"{method}: training loss")
    tracking.log_figure(figure, f"figures/pretraining/loss_{method}.png")
    return figure


def collect_encoders(*per_method: Checkpoints) -> Checkpoints:
    """Every method's checkpoints in one ``{name: checkpoint}`` dict: the shared ``pretrained_encoders``."""
    collected: Checkpoints = {}
    for checkpoints in per_method:
        overlap = set(collected) & set(checkpoints)
        if overlap:
            raise ValueError(f"two pretraining methods wrote checkpoints named {sorted(overlap)}")
        collected.update(checkpoints)
    return collected
