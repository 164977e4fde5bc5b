"""Nodes of the ``taskonomy`` pipeline: task networks, all-pairs transfers, tournament, taxonomy.

The algorithms live in ``methods.tasks`` (the task dictionary, networks and readouts),
``methods.taskonomy`` (tournament, AHP, the taxonomy BIP) and ``methods.transferability``
(cheap estimates). The graph has one node per task of the dictionary for each
per-task step (train the task's network and write its frozen features; transfer to the task
as a target; score the sources of the task cheaply), so ``ParallelRunner`` runs them side by
side; a task left out of ``taskonomy.tasks`` makes its nodes return ``{}`` at once, so the graph
is the same in every environment. Node functions are module-level and take their task
through ``functools.partial``, so they pickle; everything between nodes is plain dicts of
arrays written to pickle files.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm
import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint, encoder_from_checkpoint
from transfer_lab.methods.runtime import resolve_device, seed_everything, thread_limits
from transfer_lab.methods.tasks import (
    TaskNetwork,
    discrete_targets,
    fit_readout,
    per_sample_losses,
    standardise,
    train_task_network,
)
from transfer_lab.methods.taskonomy import (
    PSEUDO_SOURCES,
    affinity_from_losses,
    ahp_affinity,
    load_reference_affinities,
    parse_transfer_key,
    solve_taxonomy,
    taxonomy_cost,
    tournament_matrix,
    transfer_key,
    win_rate,
)
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.methods.transferability import (
    h_score,
    leep,
    logme,
    nce,
    rank_agreement,
    task2vec_distance,
    task2vec_embedding,
)
from transfer_lab.params import parse_params
from transfer_lab.pipelines.taskonomy.params import NetworkTraining, TaskonomyParams, TaxonomyParams
from transfer_lab.reporting import tracking
from transfer_lab.reporting.results import result_row, results_frame
from transfer_lab.sources.splits import split_indices

logger = logging.getLogger(__name__)

RANDOM = "random"


def _params(taskonomy: Mapping[str, Any]) -> TaskonomyParams:
    return parse_params(TaskonomyParams, taskonomy, "taskonomy")


def _train_config(training: NetworkTraining, progress: bool, seed: int) -> TrainConfig:
    return TrainConfig(
        epochs=training.epochs, batch_size=training.batch_size, lr=training.lr,
        weight_decay=training.weight_decay, patience=training.patience,
        min_batches_per_epoch=training.min_batches_per_epoch, progress=progress, seed=seed,
    )


def _encoder_kwargs(params: TaskonomyParams) -> dict[str, int]:
    return {"width": params.encoder.width, "depth": params.encoder.depth, "out_features": params.encoder.out_features}


def _features(encoder: torch.nn.Module, views: Mapping[str, np.ndarray], device) -> dict[str, np.ndarray]:
    """The encoder's frozen features of every row of every view: computed once, read by every target."""
    return {view: extract_features(encoder, X, device) for view, X in views.items()}


# ============================================================================ data
def prepare_task_data(base_dataset: dict, split_table: pd.DataFrame, taskonomy: Mapping[str, Any]) -> dict:
    """Inputs (one array per view) and targets of every task in play, and the rows each step uses.

    ``rows["transfer"]`` is the small transfer set (``transfer.size`` training rows, seeded):
    readouts, ``pixels`` and the cheap estimators see only these labels. Task networks
    (``self``) use every training row, early stopping uses ``val``, the tournament ``test``.
    """
    params = _params(taskonomy)
    X, y = base_dataset["X"], np.asarray(base_dataset["y"])
    tasks = {name: params.task(name) for name in params.tasks}
    views: dict[str, np.ndarray] = {}
    for task in tasks.values():
        if task.view not in views:
            views[task.view] = task.inputs(X, params.seed)
    train = split_indices(split_table, "train")
    if params.transfer.size > len(train):
        raise ValueError(f"taskonomy.transfer.size={params.transfer.size} exceeds the {len(train)} training rows")
    rng = np.random.default_rng(params.seed)
    rows = {
        "train": train,
        "val": split_indices(split_table, "val"),
        "test": split_indices(split_table, "test"),
        "transfer": np.sort(rng.choice(train, params.transfer.size, replace=False)),
        "task2vec": np.sort(rng.choice(train, min(params.transferability.task2vec.samples, len(train)), replace=False)),
    }
    for part in ("val", "test"):
        if len(rows[part]) == 0:
            raise ValueError(f"the taskonomy pipeline needs a non-empty {part} split (data.split)")
    return {
        "dataset": base_dataset["name"],
        "input_shape": tuple(int(s) for s in X.shape[1:]),
        "n_labels": int(y.max()) + 1,
        "tasks": {name: task.options() for name, task in tasks.items()},
        "views": views,
        "targets": {name: task.targets(X, y, params.seed) for name, task in tasks.items()},
        "rows": rows,
    }


# ============================================================================ networks
def train_network(task_data: dict, taskonomy: Mapping[str, Any], *, task: str) -> tuple[dict, dict]:
    """The task-specific network (``self``): encoder + head trained on the full training split.

    Returns the network (encoder checkpoint, head weights, per-sample test losses) and the
    frozen encoder's features of every view, which every transfer from this source reads.
    """
    if task not in task_data["tasks"]:
        return {}, {}  # not in play: the node exists so that the graph does not depend on parameters
    params = _params(taskonomy)
    device = resolve_device(params.device)
    spec = params.task(task)
    rows, T = task_data["rows"], task_data["targets"][task]
    X = task_data["views"][spec.view]
    shape = task_data["input_shape"]
    start = time.perf_counter()
    with thread_limits(params.num_threads):
        seed_everything(params.seed)
        encoder = build_encoder(params.encoder.kind, shape, **_encoder_kwargs(params))
        head = spec.head(encoder.out_features, spec.output_size(shape, task_data["n_labels"]), params.head_hidden)
        network = TaskNetwork(encoder, head)
        history = train_task_network(
            spec, network, X[rows["train"]], T[rows["train"]], X[rows["val"]], T[rows["val"]],
            _train_config(params.networks, params.progress, params.seed), device,
        )
        test_losses = per_sample_losses(spec, network, X[rows["test"]], T[rows["test"]], device)
        features = _features(network.encoder, task_data["views"], device)
    seconds = time.perf_counter() - start
    tracking.log_metric_history(tracking.metric_key("taskonomy", "self", task, "val_loss"), history.val_loss)
    logger.info("task network %s: %d epochs, test loss %.4g, %.1f s", task, history.epochs_run, test_losses.mean(), seconds)
    checkpoint = encoder_checkpoint(network.encoder, params.encoder.kind, shape, _encoder_kwargs(params), task=task)
    return (
        {
            "task": task,
            "encoder": checkpoint,
            "head": {k: v.detach().cpu() for k, v in head.state_dict().items()},
            "test_losses": test_losses,
            "epochs": history.epochs_run,
            "seconds": seconds,
        },
        {"source": task, "features": features},
    )


def make_random_encoder(task_data: dict, taskonomy: Mapping[str, Any]) -> tuple[dict, dict]:
    """The ``random`` pseudo-source: an encoder with random weights, and its frozen features."""
    params = _params(taskonomy)
    device = resolve_device(params.device)
    shape = task_data["input_shape"]
    with thread_limits(params.num_threads):
        seed_everything(params.seed + 1)  # not the initialisation any task network started from
        encoder = build_encoder(params.encoder.kind, shape, **_encoder_kwargs(params))
        features = _features(encoder, task_data["views"], device)
    checkpoint = encoder_checkpoint(encoder, params.encoder.kind, shape, _encoder_kwargs(params), task=RANDOM)
    return {"task": RANDOM, "encoder": checkpoint}, {"source": RANDOM, "features": features}


# ============================================================================ transfers
def _readout_losses(spec, features: list[np.ndarray], T: np.ndarray, rows: dict, out_size: int, params: TaskonomyParams):
    """Train one readout on the concatenated (separately standardised) features; val and test losses."""
    parts = [standardise(F[rows["transfer"]], F[rows["val"]], F[rows["test"]]) for F in features]
    F_transfer, F_val, F_test = (np.concatenate([p[i] for p in parts], axis=1) for i in range(3))
    readout = params.transfer.readout
    head, _ = fit_readout(
        spec, F_transfer, T[rows["transfer"]], F_val, T[rows["val"]], out_size,
        hidden=params.head_hidden, steps=readout.steps, lr=readout.lr,
        weight_decay=readout.weight_decay, eval_every=readout.eval_every, seed=params.seed,
    )
    return (
        per_sample_losses(spec, head, F_val, T[rows["val"]]),
        per_sample_losses(spec, head, F_test, T[rows["test"]]),
    )


def run_transfers(
    task_data: dict, target_network: dict, taskonomy: Mapping[str, Any], *source_features: dict, target: str
) -> dict:
    """Every transfer into one target, with per-sample test losses for the tournament.

    First order: a readout on each other source's frozen features (and on ``random``'s).
    Higher orders: readouts on the concatenated features of ``k`` sources, ``2 <= k <=
    max_order``, for every combination of the ``beam`` best first-order sources (ranked by
    the AHP affinity of their *validation* losses, so the test split chooses nothing).
    Baselines: ``pixels`` (encoder + head trained from scratch on the transfer set) and
    ``self`` (the target's own network, trained on every training row).
    """
    if target not in task_data["tasks"]:
        return {}
    params = _params(taskonomy)
    device = resolve_device(params.device)
    spec = params.task(target)
    rows, T, shape = task_data["rows"], task_data["targets"][target], task_data["input_shape"]
    out_size = spec.output_size(shape, task_data["n_labels"])
    features = {
        item["source"]: item["features"][spec.view]
        for item in source_features
        if item and item["source"] != target
    }
    val_losses: dict[str, np.ndarray] = {}
    test_losses: dict[str, np.ndarray] = {}
    start = time.perf_counter()
    with thread_limits(params.num_threads):
        for source in tqdm(sorted(features), desc=f"transfers to {target}", disable=not params.progress):
            key = transfer_key((source,), target)
            val_losses[key], test_losses[key] = _readout_losses(spec, [features[source]], T, rows, out_size, params)

        real = sorted(s for s in features if s != RANDOM)
        first_order = affinity_from_losses(np.stack([val_losses[transfer_key((s,), target)] for s in real]))
        beam = [real[i] for i in np.argsort(-first_order, kind="stable")[: params.transfer.beam]]
        for k in range(2, min(params.transfer.max_order, len(beam)) + 1):
            for combo in itertools.combinations(sorted(beam), k):
                key = transfer_key(combo, target)
                val_losses[key], test_losses[key] = _readout_losses(
                    spec, [features[s] for s in combo], T, rows, out_size, params
                )

        seed_everything(params.seed)
        X = task_data["views"][spec.view]
        pixels = TaskNetwork(
            build_encoder(params.encoder.kind, shape, **_encoder_kwargs(params)),
            spec.head(params.encoder.out_features, out_size, params.head_hidden),
        )
        train_task_network(
            spec, pixels, X[rows["transfer"]], T[rows["transfer"]], X[rows["val"]], T[rows["val"]],
            _train_config(params.transfer.pixels, False, params.seed), device,
        )
        test_losses[transfer_key(("pixels",), target)] = per_sample_losses(spec, pixels, X[rows["test"]], T[rows["test"]], device)
    test_losses[transfer_key(("self",), target)] = np.asarray(target_network["test_losses"])
    seconds = time.perf_counter() - start
    logger.info("transfers to %s: %d readouts, beam %s, %.1f s", target, len(val_losses), beam, seconds)
    return {"target": target, "kind": spec.kind, "test_losses": test_losses, "beam": beam, "seconds": seconds}


# ============================================================================ cheap estimates
def _source_distribution(F: np.ndarray, params: TaskonomyParams) -> np.ndarray:
    """Soft "source labels" of the target samples: a Gaussian mixture on PCA-reduced features.

    LEEP and NCE were defined for a source *classifier*; most of our sources regress
    images. As N-LEEP (Li et al., CVPR 2021) does, every source gets the posterior of a
    Gaussian mixture fitted on its features instead, so all sources are scored alike.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    settings = params.transferability
    n_components = max(1, min(settings.pca_components, F.shape[1], len(F) - 1))
    Z = PCA(n_components=n_components, random_state=params.seed).fit_transform(F)
    mixture = GaussianMixture(
        n_components=min(settings.gmm_components, len(F) // 2), covariance_type="diag",
        reg_covar=1e-4, random_state=params.seed,
    ).fit(Z)
    probs = mixture.predict_proba(Z)
    return probs / probs.sum(axis=1, keepdims=True)


def score_transferability(
    task_data: dict, task2vec_embeddings: dict, taskonomy: Mapping[str, Any], *source_features: dict, target: str
) -> dict:
    """Cheap transferability of every source for one target, from frozen features of the transfer set.

    LogME (labels, or the targets as a regression) for every target; LEEP, NCE and H-score
    for classification targets (they need class labels); Task2Vec as minus the symmetric
    distance between the source's and the target's task embeddings (real tasks only).
    """
    if target not in task_data["tasks"]:
        return {}
    params = _params(taskonomy)
    spec = params.task(target)
    rows = task_data["rows"]
    T = task_data["targets"][target][rows["transfer"]]
    estimators = set(params.transferability.estimators)
    scores: dict[str, dict[str, float]] = {name: {} for name in params.transferability.estimators}
    with thread_limits(params.num_threads):
        for item in source_features:
            if not item or item["source"] == target:
                continue
            source = item["source"]
            (F,) = standardise(item["features"][spec.view][rows["transfer"]])
            if "logme" in estimators:
                scores["logme"][source] = logme(F, T, regression=not spec.is_classification)
            if spec.is_classification:
                if "h_score" in estimators:
                    scores["h_score"][source] = h_score(F, T, shrinkage=params.transferability.h_score_shrinkage)
                if estimators & {"leep", "nce"}:
                    probs = _source_distribution(F, params)
                    if "leep" in estimators:
                        scores["leep"][source] = leep(probs, T)
                    if "nce" in estimators:
                        scores["nce"][source] = nce(probs.argmax(axis=1), T)
            if "task2vec" in estimators and source in task2vec_embeddings:
                distance = task2vec_distance(task2vec_embeddings[source], task2vec_embeddings[target])
                scores["task2vec"][source] = -distance
    return {"target": target, "scores": {name: values for name, values in scores.items() if values}}


def embed_tasks(task_data: dict, taskonomy: Mapping[str, Any], *networks: dict) -> dict[str, np.ndarray]:
    """Task2Vec embedding of every task in play, all with the same frozen probe network.

    The probe (``transferability.task2vec.probe``: a task's encoder, or ``random``) gets a
    linear classifier trained on each task's labels (k-means clusters of the targets for
    regression and dense tasks), then the diagonal Fisher of its weights is the embedding.
    """
    params = _params(taskonomy)
    settings = params.transferability.task2vec
    if "task2vec" not in params.transferability.estimators:
        return {}
    by_task = {network["task"]: network for network in networks if network}
    device = resolve_device(params.device)
    rows = task_data["rows"]["task2vec"]
    embeddings = {}
    with thread_limits(params.num_threads):
        for name in tqdm(task_data["tasks"], desc="task2vec", disable=not params.progress):
            spec = params.task(name)
            labels = discrete_targets(spec, task_data["targets"][name][rows], settings.clusters, params.seed)
            probe = encoder_from_checkpoint(by_task[settings.probe]["encoder"], device)
            embeddings[name] = task2vec_embedding(
                probe, task_data["views"][spec.view][rows], labels, epochs=settings.epochs,
                seed=params.seed, device=device,
            )
    return embeddings


# ============================================================================ tournament
def _ordered_sources(table: pd.DataFrame) -> list[str]:
    first = sorted({s for s in table.loc[table["order"] == 1, "sources"] if s not in PSEUDO_SOURCES})
    return [*first, "random", "self"]


def _heatmap(table: pd.DataFrame, dataset: str) -> plt.Figure:
    """First-order affinities (targets × sources), with ``random`` and ``self`` on the right.

    The colour scale is logarithmic: ``self`` takes most of the mass of a target, and a
    linear scale would paint every transfer the same dark colour.
    """
    first = table[table["order"] == 1]
    matrix = first.pivot(index="target", columns="sources", values="affinity")
    columns = [c for c in _ordered_sources(table) if c in matrix.columns]
    values = matrix.reindex(columns=columns).to_numpy(dtype=float)
    figure, ax = plt.subplots(figsize=(1.5 + 0.62 * len(columns), 1.2 + 0.45 * len(matrix)))
    positive = values[np.isfinite(values) & (values > 0)]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if positive.size else None
    image = ax.imshow(values, cmap="viridis", aspect="auto", norm=norm)
    ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(matrix)), matrix.index, fontsize=8)
    middle = math.sqrt(positive.min() * positive.max()) if positive.size else 0.0
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=6, color="white" if value < middle else "black")
    ax.set_xlabel("source (first order)")
    ax.set_ylabel("target")
    ax.set_title(f"AHP affinity of each source for each target ({dataset}); a target's row and its\n"
                 "higher-order transfers sum to 1", fontsize=9)
    figure.colorbar(image, ax=ax, fraction=0.03)
    figure.tight_layout()
    return figure


def tournament(task_data: dict, taskonomy: Mapping[str, Any], *transfers: dict) -> tuple[dict, pd.DataFrame, pd.DataFrame, plt.Figure]:
    """Tournament matrix and AHP affinities per target; gain and quality of every transfer.

    Competitors of one target are all its transfers (every order, ``random`` included) and
    ``self``; ``pixels`` is the reference of the gain, as in the original release.

    Returns
    -------
    affinities : dict
        The release's format: ``"src1__src2__target"`` → affinity (``self__t`` included).
    affinity_table : DataFrame
        target, key, sources, order, affinity, gain (win rate vs pixels), quality (vs self),
        test_loss (mean).
    win_rates : DataFrame
        The matrices W_T in long format: target, key_i, key_j, win_rate.
    heatmap : Figure
    """
    _params(taskonomy)
    affinities: dict[str, float] = {}
    records, wins = [], []
    for result in sorted((t for t in transfers if t), key=lambda t: t["target"]):
        target, losses = result["target"], result["test_losses"]
        pixels, own = losses[transfer_key(("pixels",), target)], losses[transfer_key(("self",), target)]
        keys = sorted(k for k in losses if k != transfer_key(("pixels",), target))
        W = tournament_matrix(np.stack([losses[k] for k in keys]))
        affinity = ahp_affinity(W)
        for key, value in zip(keys, affinity, strict=True):
            affinities[key] = float(value)
        for i, key_i in enumerate(keys):
            for j, key_j in enumerate(keys):
                wins.append({"target": target, "key_i": key_i, "key_j": key_j, "win_rate": W[i, j]})
        for key in [*keys, transfer_key(("pixels",), target)]:
            sources, _ = parse_transfer_key(key)
            records.append(
                {
                    "target": target, "key": key, "sources": "+".join(sources), "order": len(sources),
                    "affinity": affinities.get(key, math.nan),
                    "gain": win_rate(losses[key], pixels), "quality": win_rate(losses[key], own),
                    "test_loss": float(np.mean(losses[key])),
                }
            )
    if not records:
        raise ValueError("no transfers: taskonomy.tasks must name at least two tasks")
    table = pd.DataFrame(records)
    win_rates = pd.DataFrame(wins)
    heatmap = _heatmap(table, task_data["dataset"])
    tracking.log_table(table, "tables/taskonomy/affinities.csv")
    tracking.log_table(win_rates, "tables/taskonomy/win_rates.csv")
    tracking.log_figure(heatmap, "figures/taskonomy/affinity_heatmap.png")
    return affinities, table, win_rates, heatmap


# ============================================================================ taxonomy
def _taxonomy_figure(taxonomy: Mapping[str, tuple[str, ...]], title: str) -> plt.Figure:
    """The chosen taxonomy as a graph: supervised tasks on top, arrows to the tasks they serve."""
    supervised = sorted(t for t, sources in taxonomy.items() if not sources)
    served = sorted(t for t, sources in taxonomy.items() if sources)
    width = max(6.0, 1.15 * max(len(supervised), len(served)))
    figure, ax = plt.subplots(figsize=(width, 3.8))

    def spread(names: list[str]) -> dict[str, float]:
        return {name: (i + 0.5) / len(names) for i, name in enumerate(names)}

    top, bottom = spread(supervised), spread(served)
    position = {name: (x, 0.8) for name, x in top.items()}
    # alternate heights so that neighbouring labels of a long bottom row do not overlap
    position.update({name: (x, 0.22 if i % 2 else 0.08) for i, (name, x) in enumerate(bottom.items())})
    for target, sources in taxonomy.items():
        for source in sources:
            ax.annotate(
                "", xy=position[target], xytext=position[source],
                arrowprops={"arrowstyle": "->", "color": "tab:blue", "alpha": 0.6, "shrinkA": 12, "shrinkB": 12},
            )
    for name, (x, y) in position.items():
        colour = "tab:orange" if name in top else "lightsteelblue"
        ax.text(x, y, name, ha="center", va="center", fontsize=7, bbox={"boxstyle": "round", "facecolor": colour, "alpha": 0.9})
    ax.text(0.0, 0.95, "trained with full supervision", fontsize=8, color="tab:orange", transform=ax.transAxes)
    ax.text(0.0, -0.05, "transferred (arrows from their sources)", fontsize=8, color="tab:blue", transform=ax.transAxes)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.05, 1.0)
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def _solve_budgets(affinities: Mapping[str, float], settings: TaxonomyParams, label: str) -> tuple[dict, dict[str, plt.Figure]]:
    solutions, figures = [], {}
    for budget in settings.budgets:
        taxonomy, objective = solve_taxonomy(
            affinities, budget, max_order=settings.max_order, sqrt=settings.sqrt, return_objective=True
        )
        cost = taxonomy_cost(taxonomy)
        solutions.append(
            {"budget": budget, "objective": objective, "cost": cost, "taxonomy": {t: list(s) for t, s in taxonomy.items()}}
        )
        name = f"budget_{budget:g}"
        figures[f"{name}.png"] = _taxonomy_figure(taxonomy, f"{label}: budget {budget:g}, objective {objective:.3f}, cost {cost:g}")
        tracking.log_metrics({tracking.metric_key("taskonomy", label, name, "objective"): objective})
        logger.info("%s taxonomy, budget %g: objective %.4f, supervised %s", label, budget, objective,
                    sorted(t for t, s in taxonomy.items() if not s))
    return {"max_order": settings.max_order, "sqrt": settings.sqrt, "solutions": solutions}, figures


def _log_taxonomy(result: dict, figures: dict[str, plt.Figure], label: str) -> None:
    rows = [
        {"budget": s["budget"], "task": t, "sources": "+".join(src) or "(supervised)"}
        for s in result["solutions"] for t, src in s["taxonomy"].items()
    ]
    tracking.log_table(pd.DataFrame(rows), f"tables/taskonomy/{label}_taxonomy.csv")
    for name, figure in figures.items():
        tracking.log_figure(figure, f"figures/taskonomy/{label}_taxonomy/{name}")


def solve_our_taxonomy(affinities: dict, taskonomy: Mapping[str, Any]) -> tuple[dict, dict[str, plt.Figure]]:
    """The taxonomy BIP on this run's affinities, for every budget of ``taxonomy.budgets``."""
    params = _params(taskonomy)
    result, figures = _solve_budgets(affinities, params.taxonomy, "ours")
    _log_taxonomy(result, figures, "ours")
    return result, figures


def solve_release_taxonomy(taskonomy: Mapping[str, Any]) -> tuple[dict, dict[str, plt.Figure]]:
    """The same BIP on the original Taskonomy release's affinities (``release.file``, ``release.budgets``)."""
    params = _params(taskonomy)
    affinities = load_reference_affinities(params.release.file)
    result, figures = _solve_budgets(affinities, params.release, "release")
    result["file"] = params.release.file
    _log_taxonomy(result, figures, "release")
    return result, figures


# ============================================================================ agreement
def _agreement_figure(scores: pd.DataFrame) -> plt.Figure:
    """Each cheap score (standardised within its target) against the tournament affinity."""
    estimators = list(dict.fromkeys(scores["estimator"]))
    figure, axes = plt.subplots(1, max(len(estimators), 1), figsize=(3.3 * max(len(estimators), 1), 3.2), squeeze=False)
    targets = sorted(scores["target"].unique())
    colours = {t: plt.get_cmap("tab20")(i % 20) for i, t in enumerate(targets)}
    for ax, estimator in zip(axes[0], estimators, strict=False):
        part = scores[scores["estimator"] == estimator]
        for target, group in part.groupby("target"):
            values = group["score"].to_numpy()
            spread = values.std()
            z = (values - values.mean()) / spread if spread > 0 else values * 0.0
            ax.scatter(z, group["affinity"], s=12, color=colours[target], label=target)
        ax.set_title(estimator, fontsize=9)
        ax.set_xlabel("score (standardised per target)", fontsize=8)
        ax.set_yscale("log")  # affinities of one target span orders of magnitude
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("tournament affinity", fontsize=8)
    figure.suptitle("cheap transferability estimates against the tournament affinity (first-order sources)", fontsize=9)
    figure.tight_layout(rect=(0, 0, 0.88, 0.95))
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        figure.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(0.885, 0.5), title="target", title_fontsize=7)
    return figure


def transferability_agreement(
    affinity_table: pd.DataFrame, taskonomy: Mapping[str, Any], *scores: dict
) -> tuple[pd.DataFrame, pd.DataFrame, plt.Figure]:
    """Kendall τ and Spearman ρ between each estimator's ranking and the affinities, per target.

    Rows with ``target == "mean"`` summarise an estimator over the targets it scored
    (``n_targets``); ``rank`` orders the estimators by mean τ (1 = ranks sources most like
    the tournament).
    """
    _params(taskonomy)
    first = affinity_table[affinity_table["order"] == 1]
    affinity = {(r.target, r.sources): r.affinity for r in first.itertuples()}
    score_rows, agreement_rows = [], []
    for item in sorted((s for s in scores if s), key=lambda s: s["target"]):
        target = item["target"]
        for estimator, values in item["scores"].items():
            sources = sorted(values)
            for source in sources:
                score_rows.append({"target": target, "source": source, "estimator": estimator,
                                   "score": values[source], "affinity": affinity[(target, source)]})
            if len(sources) < 3:
                continue  # a ranking of two sources says too little
            agreement = rank_agreement([values[s] for s in sources], [affinity[(target, s)] for s in sources])
            agreement_rows.append({"target": target, "estimator": estimator, "n_sources": len(sources), **agreement})
    score_table = pd.DataFrame(score_rows, columns=["target", "source", "estimator", "score", "affinity"])
    table = pd.DataFrame(agreement_rows, columns=["target", "estimator", "n_sources", "kendall_tau", "spearman_rho"])
    summary = (
        table.groupby("estimator", sort=False)
        .agg(kendall_tau=("kendall_tau", "mean"), spearman_rho=("spearman_rho", "mean"), n_targets=("target", "count"))
        .reset_index()
        .sort_values("kendall_tau", ascending=False)
    )
    summary["rank"] = np.arange(1, len(summary) + 1)
    summary["target"] = "mean"
    table = pd.concat([table, summary], ignore_index=True)
    figure = _agreement_figure(score_table)
    if len(summary):
        logger.info("transferability agreement (mean Kendall tau): %s",
                    ", ".join(f"{r.estimator} {r.kendall_tau:.2f}" for r in summary.itertuples()))
    tracking.log_metrics(
        {tracking.metric_key("taskonomy", "agreement", r.estimator, m): getattr(r, m)
         for r in summary.itertuples() for m in ("kendall_tau", "spearman_rho") if np.isfinite(getattr(r, m))}
    )
    tracking.log_table(table, "tables/taskonomy/agreement.csv")
    tracking.log_table(score_table, "tables/taskonomy/transferability.csv")
    tracking.log_figure(figure, "figures/taskonomy/scores_vs_affinity.png")
    return score_table, table, figure


# ============================================================================ results
def taskonomy_results(
    task_data: dict, affinity_table: pd.DataFrame, agreement: pd.DataFrame, our_taxonomy: dict, release_taxonomy: dict
) -> pd.DataFrame:
    """The long results table: affinity, gain, quality and test loss of every transfer (method =
    its key), agreement of every estimator (per target ``<estimator>__<target>`` and mean),
    objective and cost of every taxonomy."""
    dataset = task_data["dataset"]
    rows = []

    def row(method: str, metric: str, value: float, data: str = dataset) -> None:
        if np.isfinite(value):
            rows.append(result_row(pipeline="taskonomy", dataset=data, method=method, metric=metric, value=value))

    for r in affinity_table.itertuples():
        for metric in ("affinity", "gain", "quality", "test_loss"):
            row(r.key, metric, getattr(r, metric))
    for r in agreement.itertuples():
        method = r.estimator if r.target == "mean" else f"{r.estimator}__{r.target}"
        row(method, "kendall_tau", r.kendall_tau)
        row(method, "spearman_rho", r.spearman_rho)
    for data, result in ((dataset, our_taxonomy), ("taskonomy_release", release_taxonomy)):
        for solution in result["solutions"]:
            row(f"taxonomy_budget_{solution['budget']:g}", "objective", solution["objective"], data)
            row(f"taxonomy_budget_{solution['budget']:g}", "supervision_cost", solution["cost"], data)
    means = affinity_table.groupby("order")[["gain", "quality"]].mean()
    tracking.log_metrics(
        {tracking.metric_key("taskonomy", dataset, f"order_{order}", metric): means.loc[order, metric]
         for order in means.index for metric in ("gain", "quality")}
    )
    return results_frame(rows)

