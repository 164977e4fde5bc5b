"""Nodes of the ``pretraining`` pipeline: one node per method, then the shared checkpoint folder.

The algorithms live in ``methods.contrastive`` and ``methods.pretext``; each node takes the
rows its method may see, pretrains, and returns the encoder checkpoint(s), result rows and a
t-SNE figure of test embeddings. What each method may see:

* ``simclr``, ``moco``, ``rotation``, ``imputation``: the training images, without labels;
* ``supcon``: the labelled rows of one label-budget subset. One encoder per (budget, seed)
  (checkpoint ``supcon_lpc<budget>_seed<seed>``), so the transfer rows of a budget never
  profit from labels outside that budget's subset; identical subsets (``all`` is the same
  for every seed) are pretrained once;
* ``supervised_source``: the labelled training half of one side of a domain pair from the
  ``data`` pipeline (by default the shifted target domain, e.g. rotated digits), never the
  label-budget subsets of the base data.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.manifold import TSNE
from torch import nn
from tqdm.auto import tqdm

from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint
from transfer_lab.methods.runtime import resolve_device, seed_everything, thread_limits
from transfer_lab.methods.training import TrainHistory, extract_features
from transfer_lab.methods.transfer import pretrain
from transfer_lab.params import parse_params
from transfer_lab.pipelines.data.params import DataParams
from transfer_lab.pipelines.pretraining.params import PretrainingParams
from transfer_lab.reporting import tracking
from transfer_lab.reporting.results import result_row, results_frame
from transfer_lab.sources.pairs import domain_name
from transfer_lab.sources.splits import budgets_and_seeds, split_indices, subset_indices

logger = logging.getLogger(__name__)


def _params(pretraining: Mapping[str, Any]) -> PretrainingParams:
    return parse_params(PretrainingParams, pretraining, "pretraining")


def supcon_name(labels_per_class: str, seed: int) -> str:
    """Checkpoint name of the supervised-contrastive encoder of one label subset."""
    return f"supcon_lpc{labels_per_class}_seed{seed}"


def _new_encoder(params: PretrainingParams, input_shape: tuple[int, ...]) -> nn.Module:
    return build_encoder(params.encoder.kind, input_shape, **params.encoder.kwargs())


def _checkpoint(
    encoder: nn.Module, params: PretrainingParams, input_shape: tuple[int, ...], method: str,
    dataset: str, history: TrainHistory, seconds: float, n_samples: int, **meta: Any,
) -> dict:
    return encoder_checkpoint(
        encoder, params.encoder.kind, input_shape, params.encoder.kwargs(),
        method=method, dataset=dataset, loss_history=[float(v) for v in history.train_loss],
        epochs=history.epochs_run, seconds=float(seconds), n_samples=int(n_samples),
        seed=params.seed, **meta,
    )


def _rows(dataset: str, method: str, checkpoint: dict, budget: str | None = None, seed: int = 0) -> list[dict]:
    meta = checkpoint["meta"]
    return [
        result_row(
            pipeline="pretraining", dataset=dataset, method=method, metric=metric, value=value,
            split="train", labels_per_class=budget, seed=seed,
        )
        for metric, value in (
            ("final_loss", meta["loss_history"][-1]), ("seconds", meta["seconds"]), ("epochs", meta["epochs"]),
        )
    ]


def _log(dataset: str, name: str, checkpoint: dict) -> None:
    """Loss per epoch as a metric history, the final loss, and the checkpoint as an artifact."""
    if not tracking.is_tracking():
        return
    history = checkpoint["meta"]["loss_history"]
    tracking.log_metric_history(tracking.metric_key("pretraining", dataset, name, "loss"), history)
    tracking.log_metrics({tracking.metric_key("pretraining", dataset, name, "final_loss"): history[-1]})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.pt"
        torch.save(checkpoint, path)
        tracking.log_artifact_file(path, "encoders")


def tsne_figure(encoder: nn.Module, X: np.ndarray, y: np.ndarray, title: str, params: PretrainingParams, device) -> plt.Figure:
    """t-SNE of the encoder's features of (at most ``tsne.max_points``) test rows, coloured by class."""
    rng = np.random.default_rng(params.seed)
    keep = np.sort(rng.permutation(len(X))[: params.tsne.max_points])
    features = extract_features(encoder, X[keep], device)
    perplexity = min(params.tsne.perplexity, (len(keep) - 1) / 3)
    embedded = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=params.seed).fit_transform(features)
    figure, ax = plt.subplots(figsize=(5.5, 5))
    points = ax.scatter(embedded[:, 0], embedded[:, 1], c=y[keep], cmap="tab10", s=9, vmin=-0.5, vmax=9.5)
    figure.colorbar(points, ax=ax, ticks=range(int(y.max()) + 1), label="class")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize="medium")
    figure.tight_layout()
    return figure


def _finish(
    method: str, checkpoints: dict[str, dict], rows: list[dict], figure_encoder: nn.Module,
    base_dataset: dict, split_table: pd.DataFrame, params: PretrainingParams, device,
) -> tuple[dict[str, dict], pd.DataFrame, plt.Figure]:
    """Log every checkpoint to MLflow and draw the method's t-SNE figure."""
    name = base_dataset["name"]
    for checkpoint_name, checkpoint in checkpoints.items():
        _log(name, checkpoint_name, checkpoint)
    test = split_indices(split_table, "test")
    figure = tsne_figure(
        figure_encoder, base_dataset["X"][test], base_dataset["y"][test],
        f"{method} features of {name} test rows (t-SNE)", params, device,
    )
    tracking.log_figure(figure, f"figures/pretraining/tsne_{method}.png")
    return checkpoints, results_frame(rows), figure


def _unlabelled(
    method: str, base_dataset: dict, split_table: pd.DataFrame, params: PretrainingParams, **method_params: Any
) -> tuple[dict[str, dict], pd.DataFrame, plt.Figure]:
    """Pretrain ``method`` on the training rows without their labels."""
    device = resolve_device(params.device)
    X = base_dataset["X"][split_indices(split_table, "train")]
    input_shape = tuple(X.shape[1:])
    with thread_limits(params.num_threads):
        seed_everything(params.seed)
        start = time.perf_counter()
        encoder, history = pretrain(method, X, encoder=_new_encoder(params, input_shape), device=device, **method_params)
        seconds = time.perf_counter() - start
        checkpoint = _checkpoint(encoder, params, input_shape, method, base_dataset["name"], history, seconds, len(X), labels="none")
        logger.info("%s: %d epochs in %.0f s, final loss %.4f", method, history.epochs_run, seconds, history.train_loss[-1])
        return _finish(
            method, {method: checkpoint}, _rows(base_dataset["name"], method, checkpoint, seed=params.seed),
            encoder, base_dataset, split_table, params, device,
        )


def pretrain_simclr(
    base_dataset: dict, split_table: pd.DataFrame, pretraining: Mapping[str, Any]
) -> tuple[dict[str, dict], pd.DataFrame, plt.Figure]:
    """SimCLR (two augmented views, NT-Xent) on the unlabelled training rows."""
    params = _params(pretraining)
    p = params.simclr
    return _unlabelled(
        "simclr", base_dataset, split_table, params,
        temperature=p.temperature, strength=p.strength, projection_dim=p.projection_dim,
        hidden_dim=p.hidden_dim, config=p.config(params.seed, progress=params.progress),
    )


def pretrain_moco(
    base_dataset: dict, split_table: pd.DataFrame, pretraining: Mapping[str, Any]
) -> tuple[dict[str, dict], pd.DataFrame, plt.Figure]:
    """MoCo (momentum key encoder, FIFO queue of keys, InfoNCE) on the unlabelled training rows."""
    params = _params(pretraining)
    p = params.moco
    return _unlabelled(
        "moco", base_dataset, split_table, params,
        temperature=p.temperature, strength=p.strength, momentum=p.momentum, queue_size=p.queue_size,
        projection_dim=p.projection_dim, hidden_dim=p.hidden_dim,
        config=p.config(params.seed, progress=params.progress),
    )


def pretrain_rotation(
    base_dataset: dict, split_table: pd.DataFrame, pretraining: Mapping[str, Any]
) -> tuple[dict[str, dict], pd.DataFrame, plt.Figure]:
    """Rotation prediction (transformation recognition for signals) on the unlabelled training rows."""
    params = _params(pretraining)
    p = params.rotation
    return _unlabelled(
        "rotation", base_dataset, split_table, params,
        strength=p.strength, config=p.config(params.seed, progress=params.progress),
    )


def pretrain_imputation(
    base_dataset: dict, split_table: pd.DataFrame, pretraining: Mapping[str, Any]
) -> tuple[dict[str, dict], pd.DataFrame, plt.Figure]:
    """Imputation of a masked region (context encoder) on the unlabelled training rows."""
    params = _params(pretraining)
    p = params.imputation
    return _unlabelled(
        "imputation", base_dataset, split_table, params,
        mask_size=p.mask_size, hidden=p.hidden, config=p.config(params.seed, progress=params.progress),
    )


def pretrain_supcon(
    base_dataset: dict, split_table: pd.DataFrame, label_subsets: pd.DataFrame, pretraining: Mapping[str, Any]
) -> tuple[dict[str, dict], pd.DataFrame, plt.Figure]:
    """Supervised contrastive pretraining on the labelled rows of every label subset.

    One encoder per (budget, seed), trained on that subset's rows and labels only; a subset
    whose rows equal an earlier one's (``all`` for every seed) reuses its encoder.
    """
    params = _params(pretraining)
    p = params.supcon
    device = resolve_device(params.device)
    X, y, name = base_dataset["X"], base_dataset["y"], base_dataset["name"]
    input_shape = tuple(X.shape[1:])
    checkpoints: dict[str, dict] = {}
    trained: dict[bytes, tuple[dict, nn.Module]] = {}
    rows: list[dict] = []
    combos = budgets_and_seeds(label_subsets)
    with thread_limits(params.num_threads):
        for budget, seed in tqdm(combos, desc="supcon", disable=not params.progress):
            labeled = subset_indices(label_subsets, budget, seed)
            key = labeled.tobytes()
            if key not in trained:
                seed_everything(params.seed + seed)
                start = time.perf_counter()
                encoder, history = pretrain(
                    "supcon", X[labeled], y[labeled], encoder=_new_encoder(params, input_shape),
                    temperature=p.temperature, strength=p.strength, projection_dim=p.projection_dim,
                    hidden_dim=p.hidden_dim, config=p.config(params.seed + seed), device=device,
                )
                checkpoint = _checkpoint(
                    encoder, params, input_shape, "supcon", name, history, time.perf_counter() - start,
                    len(labeled), labels="label_subset", labels_per_class=budget, subset_seed=seed,
                )
                trained[key] = (checkpoint, encoder)
            checkpoint, encoder = trained[key]
            checkpoints[supcon_name(budget, seed)] = checkpoint
            rows += _rows(name, "supcon", checkpoint, budget=budget, seed=seed)
        # The figure shows the encoder of the largest budget (first seed): the most labels it may use.
        figure_encoder = trained[subset_indices(label_subsets, combos[-1][0], combos[-1][1]).tobytes()][1]
        return _finish("supcon", checkpoints, rows, figure_encoder, base_dataset, split_table, params, device)


def domain_pair(domain_pairs: Mapping[str, dict], dataset_name: str, data: DataParams, index: int) -> tuple[str, dict]:
    """The domain pair ``data.domains.<kind>.domain_pairs[index]`` as built by the data pipeline."""
    declared = data.domain.domain_pairs[index]
    name = f"{domain_name(dataset_name, declared.source)}->{domain_name(dataset_name, declared.target)}"
    if name not in domain_pairs:
        raise ValueError(f"domain pair {name!r} is missing from domain_pairs (have {sorted(domain_pairs)}); rerun the data pipeline")
    return name, domain_pairs[name]


def pretrain_supervised_source(
    base_dataset: dict, split_table: pd.DataFrame, domain_pairs: Mapping[str, dict],
    pretraining: Mapping[str, Any], data: Mapping[str, Any],
) -> tuple[dict[str, dict], pd.DataFrame, plt.Figure]:
    """Cross-entropy pretraining on a labelled source domain (one side of a domain pair).

    The source is the training half of the chosen side (``supervised_source.side``) of the
    pair ``supervised_source.pair``, e.g. the rotated half of ``digits->digits_rotated``:
    another domain, and images disjoint from the pair's other half. Early stopping uses that
    domain's validation rows. The base data's label-budget subsets are not read.
    """
    params, data_params = _params(pretraining), parse_params(DataParams, data, "data")
    p = params.supervised_source
    device = resolve_device(params.device)
    pair_name, pair = domain_pair(domain_pairs, base_dataset["name"], data_params, p.pair)
    X, y = pair[f"{p.side}_X"], pair["y"]
    train, val = pair[f"{p.side}_train_index"], pair["val_index"]
    source_domain = pair_name.split("->")[0 if p.side == "source" else 1]
    input_shape = tuple(X.shape[1:])
    with thread_limits(params.num_threads):
        seed_everything(params.seed)
        start = time.perf_counter()
        encoder, history = pretrain(
            "supervised", X[train], y[train], X_val=X[val], y_val=y[val],
            encoder=_new_encoder(params, input_shape), n_classes=int(base_dataset["y"].max()) + 1,
            config=p.config(params.seed, patience=p.patience, progress=params.progress), device=device,
        )
        checkpoint = _checkpoint(
            encoder, params, input_shape, "supervised_source", base_dataset["name"], history,
            time.perf_counter() - start, len(train), labels="source_domain", source_domain=source_domain,
            source_pair=pair_name, best_epoch=history.best_epoch,
            source_val_accuracy=float(history.best_score) if history.best_score is not None else float("nan"),
        )
        return _finish(
            "supervised_source", {"supervised_source": checkpoint},
            _rows(base_dataset["name"], "supervised_source", checkpoint, seed=params.seed),
            encoder, base_dataset, split_table, params, device,
        )


def collect_encoders(*per_method: dict[str, dict]) -> dict[str, dict]:
    """Every method's checkpoints in one ``{name: checkpoint}`` dict: the shared ``pretrained_encoders``."""
    collected: dict[str, dict] = {}
    for checkpoints in per_method:
        overlap = set(collected) & set(checkpoints)
        if overlap:
            raise ValueError(f"two pretraining methods wrote checkpoints named {sorted(overlap)}")
        collected.update(checkpoints)
    return collected
