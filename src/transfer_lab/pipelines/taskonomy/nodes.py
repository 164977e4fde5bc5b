"""Nodes of the ``taskonomy`` pipeline: task networks, all-pairs transfers, tournament, taxonomy.

Thin wiring: the algorithms live in ``methods.tasks`` (the task dictionary, networks,
readouts), ``methods.taskonomy`` (the search over transfers, tournament, AHP, the taxonomy
BIP) and ``methods.transferability`` (cheap estimates, N-LEEP, agreement); the figures in
``reporting.figures_taskonomy``. Each node takes the parameter sub-block it uses.

Per-task nodes (``taskonomy.<task>.train``, ``.transfer_to``, ``.transferability``) take
their task through ``functools.partial`` (module-level functions, so they pickle for
``ParallelRunner``); a task left out of ``taskonomy.tasks`` makes its nodes return ``{}``
at once, so the graph is the same in every environment. Everything between nodes is
written to files: dicts of arrays as .npz trees (``datasets.tree_dataset``, loaded without
pickle), tables as CSV, taxonomies as JSON.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from transfer_lab.contracts import Dataset, TrainingParams
from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint, encoder_from_checkpoint
from transfer_lab.methods.runtime import node_compute, resolve_device, seed_everything
from transfer_lab.methods.taskonomy import (
    beam_transfers,
    load_reference_affinities,
    solve_budgets,
    tournament_records,
    transfer_key,
)
from transfer_lab.methods.tasks import (
    Task,
    TaskNetwork,
    discrete_targets,
    fit_task_network,
    make_task,
    readout_losses,
    standardise,
    view_features,
)
from transfer_lab.methods.transferability import (
    agreement_tables,
    task2vec_embedding,
    task2vec_scores,
    transferability_scores,
)
from transfer_lab.params import parse_params
from transfer_lab.pipelines.taskonomy.params import (
    EncoderParams,
    ReleaseParams,
    RuntimeParams,
    TaxonomyParams,
    TransferabilityParams,
    TransferParams,
)
from transfer_lab.reporting import tracking
from transfer_lab.reporting.figures_taskonomy import (
    affinity_heatmap, agreement_bars_figure, agreement_figure, taxonomy_figures, tournament_figure,
)
from transfer_lab.reporting.results import result_row, results_frame
from transfer_lab.sources.splits import split_indices

logger = logging.getLogger(__name__)

RANDOM = "random"


# ============================================================================ helpers
def _runtime(runtime: Mapping[str, Any]) -> RuntimeParams:
    return parse_params(RuntimeParams, runtime, "taskonomy.runtime")


def _encoder(encoder: Mapping[str, Any]) -> tuple[EncoderParams, dict[str, int]]:
    """The encoder block, and the keyword arguments of ``build_encoder`` it holds."""
    params = parse_params(EncoderParams, encoder, "taskonomy.encoder")
    return params, params.model_dump(exclude={"kind"})


def _spec(task_data: dict, name: str) -> Task:
    """The task object of ``name``, with the options it was prepared with."""
    return make_task(name, **task_data["tasks"][name])


def _network(spec: Task, encoder: Mapping[str, Any], head_hidden: int, task_data: dict) -> TaskNetwork:
    """A fresh encoder + head for ``spec`` (the caller seeds the initialisation)."""
    params, kwargs = _encoder(encoder)
    shape = task_data["input_shape"]
    body = build_encoder(params.kind, shape, **kwargs)
    return TaskNetwork(body, spec.head(body.out_features, spec.output_size(shape, task_data["n_labels"]), head_hidden))


def _sources(source_features: tuple[dict, ...], view: str, target: str) -> dict[str, np.ndarray]:
    """Source → its features of ``view``, for every source in play other than ``target``."""
    return {f["source"]: f["features"][view] for f in source_features if f and f["source"] != target}


def _rows(split_table: pd.DataFrame, transfer_size: int, task2vec_samples: int, seed: int) -> dict[str, np.ndarray]:
    """Rows of every step: task networks ``train`` (early stopping on ``val``), the tournament
    ``test``, readouts and ``pixels`` the seeded transfer set, Task2Vec its own sample."""
    train = split_indices(split_table, "train")
    if transfer_size > len(train):
        raise ValueError(f"taskonomy.transfer.size={transfer_size} exceeds the {len(train)} training rows")
    rng = np.random.default_rng(seed)
    rows = {
        "train": train,
        "val": split_indices(split_table, "val"),
        "test": split_indices(split_table, "test"),
        "transfer": np.sort(rng.choice(train, transfer_size, replace=False)),
        "task2vec": np.sort(rng.choice(train, min(task2vec_samples, len(train)), replace=False)),
    }
    for part in ("val", "test"):
        if len(rows[part]) == 0:
            raise ValueError(f"the taskonomy pipeline needs a non-empty {part} split (data.split)")
    return rows


# ============================================================================ data
def prepare_task_data(
    base_dataset: Dataset, split_table: pd.DataFrame, tasks: list[str], task_options: Mapping[str, dict],
    seed: int, transfer_size: int, task2vec_samples: int,
) -> dict:
    """Inputs (one array per view) and targets of every task in play, the rows each step
    uses (see ``_rows``) and the seed of every later step."""
    X, y = base_dataset.X, np.asarray(base_dataset.y)
    specs = {name: make_task(name, **(task_options or {}).get(name, {})) for name in tasks}
    views: dict[str, np.ndarray] = {}
    for spec in specs.values():
        if spec.view not in views:
            views[spec.view] = spec.inputs(X, seed)
    return {
        "dataset": base_dataset.name,
        "seed": int(seed),
        "input_shape": tuple(int(s) for s in X.shape[1:]),
        "n_labels": base_dataset.n_classes,  # declared by the source, never the largest label + 1
        "tasks": {name: spec.options() for name, spec in specs.items()},
        "views": views,
        "targets": {name: spec.targets(X, y, seed) for name, spec in specs.items()},
        "rows": _rows(split_table, transfer_size, task2vec_samples, seed),
    }


# ============================================================================ networks
def train_network(
    task_data: dict, networks: Mapping, encoder: Mapping, head_hidden: int, runtime: Mapping, *, task: str
) -> tuple[dict, dict]:
    """The task-specific network (``self``) on every training row, and its frozen encoder's
    features of every view (read by every transfer from this source)."""
    if task not in task_data["tasks"]:
        return {}, {}  # not in play: the node exists so that the graph does not depend on parameters
    run, (arch, kwargs), spec, seed = _runtime(runtime), _encoder(encoder), _spec(task_data, task), task_data["seed"]
    config = parse_params(TrainingParams, networks, "taskonomy.networks").to_train_config(seed, progress=run.progress)
    device, start = resolve_device(run.device), time.perf_counter()
    with node_compute(run):
        seed_everything(seed)
        network = _network(spec, encoder, head_hidden, task_data)
        X, T = task_data["views"][spec.view], task_data["targets"][task]
        history, test_losses = fit_task_network(spec, network, X, T, task_data["rows"], config, device)
        features = view_features(network.encoder, task_data["views"], device)
    seconds = time.perf_counter() - start
    tracking.log_history(tracking.history_key("taskonomy", task_data["dataset"], task, "val_loss"), [history.val_loss])
    logger.info("task network %s: %d epochs, test loss %.4g, %.1f s", task, history.epochs_run, test_losses.mean(), seconds)
    checkpoint = encoder_checkpoint(network.encoder, arch.kind, task_data["input_shape"], kwargs, task=task)
    head = {k: v.detach().cpu() for k, v in network.head.state_dict().items()}
    result = {"task": task, "encoder": checkpoint, "head": head, "test_losses": test_losses}
    return {**result, "epochs": history.epochs_run, "seconds": seconds}, {"source": task, "features": features}


def make_random_encoder(task_data: dict, encoder: Mapping, runtime: Mapping) -> tuple[dict, dict]:
    """The ``random`` pseudo-source: an encoder with random weights, and its frozen features."""
    run, (arch, kwargs) = _runtime(runtime), _encoder(encoder)
    shape = task_data["input_shape"]
    with node_compute(run):
        seed_everything(task_data["seed"] + 1)  # not the initialisation any task network started from
        body = build_encoder(arch.kind, shape, **kwargs)
        features = view_features(body, task_data["views"], resolve_device(run.device))
    checkpoint = encoder_checkpoint(body, arch.kind, shape, kwargs, task=RANDOM)
    return {"task": RANDOM, "encoder": checkpoint}, {"source": RANDOM, "features": features}


# ============================================================================ transfers
def _pixels_losses(
    spec: Task, task_data: dict, training: TrainingParams, encoder: Mapping, head_hidden: int, device
) -> np.ndarray:
    """The ``pixels`` baseline: encoder + head trained from scratch on the transfer set."""
    seed_everything(task_data["seed"])
    network = _network(spec, encoder, head_hidden, task_data)
    X, T = task_data["views"][spec.view], task_data["targets"][spec.name]
    config = training.to_train_config(task_data["seed"])
    return fit_task_network(spec, network, X, T, task_data["rows"], config, device, fit_rows="transfer")[1]


def run_transfers(
    task_data: dict, target_network: dict, transfer: Mapping, encoder: Mapping, head_hidden: int,
    runtime: Mapping, *source_features: dict, target: str,
) -> dict:
    """Every transfer into one target (``methods.taskonomy.beam_transfers``: all first orders,
    higher orders on the beam ranked by validation losses), with per-sample test losses;
    baselines ``pixels`` (from scratch on the transfer set) and ``self`` (the target's network)."""
    if target not in task_data["tasks"]:
        return {}
    settings = parse_params(TransferParams, transfer, "taskonomy.transfer")
    run, spec, rows = _runtime(runtime), _spec(task_data, target), task_data["rows"]
    T, out_size = task_data["targets"][target], spec.output_size(task_data["input_shape"], task_data["n_labels"])
    features, readout = _sources(source_features, spec.view, target), settings.readout.model_dump()

    def evaluate(sources: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        parts = [features[s] for s in sources]
        return readout_losses(spec, parts, T, rows, out_size, hidden=head_hidden, seed=task_data["seed"], **readout)

    start = time.perf_counter()
    with node_compute(run):
        _, losses, beam = beam_transfers(
            features, target, evaluate, beam=settings.beam, max_order=settings.max_order, progress=run.progress
        )
        pixels = _pixels_losses(spec, task_data, settings.pixels, encoder, head_hidden, resolve_device(run.device))
    losses[transfer_key(("pixels",), target)] = pixels
    losses[transfer_key(("self",), target)] = np.asarray(target_network["test_losses"])
    seconds = time.perf_counter() - start
    logger.info("transfers to %s: %d readouts, beam %s, %.1f s", target, len(losses) - 2, beam, seconds)
    return {"target": target, "kind": spec.kind, "test_losses": losses, "beam": beam, "seconds": seconds}


# ============================================================================ cheap estimates
def score_transferability(
    task_data: dict, transferability: Mapping, runtime: Mapping, *source_features: dict, target: str
) -> dict:
    """Cheap transferability of every source for one target, from frozen features of the
    transfer set (``methods.transferability.transferability_scores``: LogME, and LEEP, NCE,
    H-score for classification targets). Task2Vec, which compares tasks rather than
    features, is scored for all pairs at once (``embed_tasks``)."""
    if target not in task_data["tasks"]:
        return {}
    settings = parse_params(TransferabilityParams, transferability, "taskonomy.transferability")
    spec, rows = _spec(task_data, target), task_data["rows"]
    T = task_data["targets"][target][rows["transfer"]]
    options = settings.model_dump(include={"estimators", "h_score_shrinkage", "pca_components", "gmm_components"})
    scores: dict[str, dict[str, float]] = {name: {} for name in settings.estimators}
    with node_compute(_runtime(runtime)):
        for source, features in _sources(source_features, spec.view, target).items():
            (F,) = standardise(features[rows["transfer"]])
            estimates = transferability_scores(
                F, T, classification=spec.is_classification, seed=task_data["seed"], **options
            )
            for name, value in estimates.items():
                scores[name][source] = value
    return {"target": target, "scores": {name: values for name, values in scores.items() if values}}


def embed_tasks(task_data: dict, transferability: Mapping, runtime: Mapping, *networks: dict) -> dict[str, np.ndarray]:
    """Task2Vec embedding of every task in play, all with the same frozen probe network
    (``transferability.task2vec.probe``: a task's encoder, or ``random``); regression and
    dense targets are clustered into labels first."""
    settings = parse_params(TransferabilityParams, transferability, "taskonomy.transferability")
    if "task2vec" not in settings.estimators:
        return {}
    probe, run, seed = settings.task2vec, _runtime(runtime), task_data["seed"]
    checkpoint = {network["task"]: network for network in networks if network}[probe.probe]["encoder"]
    device, rows = resolve_device(run.device), task_data["rows"]["task2vec"]
    embeddings = {}
    with node_compute(run):
        for name in tqdm(task_data["tasks"], desc="task2vec", disable=not run.progress):
            spec = _spec(task_data, name)
            labels = discrete_targets(spec, task_data["targets"][name][rows], probe.clusters, seed)
            embeddings[name] = task2vec_embedding(
                encoder_from_checkpoint(checkpoint, device), task_data["views"][spec.view][rows], labels,
                epochs=probe.epochs, seed=seed, device=device,
            )
    return embeddings


# ============================================================================ tournament
def tournament(*transfers: dict) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Tournament matrix and AHP affinities per target; gain and quality of every transfer
    (``methods.taskonomy.tournament_records``).

    Returns the affinities in the release's format (``"src1__src2__target"`` → affinity,
    ``self__t`` included), the affinity table (target, key, sources, order, affinity, gain,
    quality, test_loss) and the matrices W_T in long format (target, key_i, key_j, win_rate).
    """
    affinities: dict[str, float] = {}
    records: list[dict] = []
    wins: list[dict] = []
    for result in sorted((t for t in transfers if t), key=lambda t: t["target"]):
        target_affinities, target_records, target_wins = tournament_records(result["test_losses"], result["target"])
        affinities.update(target_affinities)
        records += target_records
        wins += target_wins
    if not records:
        raise ValueError("no transfers: taskonomy.tasks must name at least two tasks")
    table, win_rates = pd.DataFrame(records), pd.DataFrame(wins)
    tracking.log_table(table, "tables/taskonomy/affinities.csv")
    tracking.log_table(win_rates, "tables/taskonomy/win_rates.csv")
    return affinities, table, win_rates


def plot_affinities(affinity_table: pd.DataFrame, task_data: dict) -> plt.Figure:
    """The heatmap of first-order affinities (targets × sources)."""
    figure = affinity_heatmap(affinity_table, task_data["dataset"])
    tracking.log_figure(figure, "figures/taskonomy/affinity_heatmap.png")
    return figure


# ============================================================================ taxonomy
def _taxonomy(affinities: Mapping[str, float], settings: TaxonomyParams, label: str) -> dict:
    solutions = solve_budgets(affinities, settings.budgets, max_order=settings.max_order, sqrt=settings.sqrt)
    for s in solutions:  # objectives reach MLflow from the results table
        logger.info("%s taxonomy, budget %g: objective %.4f, supervised %s", label, s["budget"], s["objective"],
                    sorted(t for t, sources in s["taxonomy"].items() if not sources))
    rows = [
        {"budget": s["budget"], "task": t, "sources": "+".join(sources) or "(supervised)"}
        for s in solutions for t, sources in s["taxonomy"].items()
    ]
    tracking.log_table(pd.DataFrame(rows), f"tables/taskonomy/{label}_taxonomy.csv")
    return {"max_order": settings.max_order, "sqrt": settings.sqrt, "solutions": solutions}


def solve_our_taxonomy(affinities: dict, taxonomy: Mapping) -> dict:
    """The taxonomy BIP on this run's affinities, for every budget of ``taxonomy.budgets``."""
    return _taxonomy(affinities, parse_params(TaxonomyParams, taxonomy, "taskonomy.taxonomy"), "ours")


def solve_release_taxonomy(release: Mapping) -> dict:
    """The same BIP on the original Taskonomy release's affinities (``release.file``, ``release.budgets``)."""
    settings = parse_params(ReleaseParams, release, "taskonomy.release")
    return {**_taxonomy(load_reference_affinities(settings.file), settings, "release"), "file": settings.file}


def _plot_taxonomy(result: dict, label: str) -> dict[str, plt.Figure]:
    figures = taxonomy_figures(result["solutions"], label)
    for name, figure in figures.items():
        tracking.log_figure(figure, f"figures/taskonomy/{label}_taxonomy/{name}")
    return figures


def plot_our_taxonomy(taxonomy: dict) -> dict[str, plt.Figure]:
    """Our taxonomy of every budget as a graph (``budget_<b>.png``)."""
    return _plot_taxonomy(taxonomy, "ours")


def plot_release_taxonomy(release_taxonomy: dict) -> dict[str, plt.Figure]:
    """The release's taxonomy of every budget as a graph (``budget_<b>.png``)."""
    return _plot_taxonomy(release_taxonomy, "release")


# ============================================================================ agreement
def transferability_agreement(
    affinity_table: pd.DataFrame, task2vec: dict, *scores: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every cheap score (the targets' ``scores``, and Task2Vec from the task embeddings)
    against the first-order affinities: Kendall τ and Spearman ρ per target, and a
    ``target == "mean"`` summary per estimator with its ``rank``
    (``methods.transferability.agreement_tables``)."""
    first = affinity_table[affinity_table["order"] == 1]
    affinity = {(r.target, r.sources): r.affinity for r in first.itertuples()}
    by_target = {item["target"]: dict(item["scores"]) for item in scores if item}
    for target, values in task2vec_scores(task2vec).items():
        by_target.setdefault(target, {})["task2vec"] = values
    score_table, table = agreement_tables(by_target, affinity)
    summary = table[table["target"] == "mean"]
    if len(summary):
        logger.info("transferability agreement (mean Kendall tau): %s",
                    ", ".join(f"{r.estimator} {r.kendall_tau:.2f}" for r in summary.itertuples()))
    tracking.log_table(table, "tables/taskonomy/agreement.csv")
    tracking.log_table(score_table, "tables/taskonomy/transferability.csv")
    return score_table, table


def plot_agreement(transferability: pd.DataFrame) -> plt.Figure:
    """Every cheap score against the tournament affinity, one panel per estimator."""
    figure = agreement_figure(transferability)
    tracking.log_figure(figure, "figures/taskonomy/scores_vs_affinity.png")
    return figure


def plot_tournament(win_rates: pd.DataFrame) -> plt.Figure:
    """The tournament matrices (win rates), one heatmap per target (``taskonomy_tournament.png``)."""
    figure = tournament_figure(win_rates)
    tracking.log_figure(figure, "figures/taskonomy/tournament.png")
    return figure


def plot_agreement_bars(agreement: pd.DataFrame) -> plt.Figure:
    """Kendall τ of each cheap score with the tournament (``taskonomy_agreement.png``)."""
    figure = agreement_bars_figure(agreement)
    tracking.log_figure(figure, "figures/taskonomy/agreement.png")
    return figure


# ============================================================================ results
def _result_rows(dataset: str, affinity_table: pd.DataFrame, agreement: pd.DataFrame, taxonomies: dict) -> list[dict]:
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
    for data, result in taxonomies.items():
        for solution in result["solutions"]:
            row(f"taxonomy_budget_{solution['budget']:g}", "objective", solution["objective"], data)
            row(f"taxonomy_budget_{solution['budget']:g}", "supervision_cost", solution["cost"], data)
    return rows


def taskonomy_results(
    task_data: dict, affinity_table: pd.DataFrame, agreement: pd.DataFrame, our_taxonomy: dict, release_taxonomy: dict
) -> pd.DataFrame:
    """The long results table: affinity, gain, quality and test loss of every transfer (method =
    its key), agreement of every estimator (per target ``<estimator>__<target>`` and mean),
    objective and cost of every taxonomy (dataset ``taskonomy_release`` for the release's)."""
    dataset = task_data["dataset"]
    taxonomies = {dataset: our_taxonomy, "taskonomy_release": release_taxonomy}
    rows = _result_rows(dataset, affinity_table, agreement, taxonomies)
    means = affinity_table.groupby("order")[["gain", "quality"]].mean()
    tracking.log_metrics(  # a summary over transfers, named like the results table's metrics
        {tracking.result_metric_key("taskonomy", dataset, f"order_{order}_mean", None, metric, "test"): means.loc[order, metric]
         for order in means.index for metric in ("gain", "quality")}
    )
    return results_frame(rows)
