"""Nodes of the ``dictionary`` pipeline: self-taught learning and semi-coupled dictionary learning.

The algorithms live in ``methods.dictionary_learning``, ``methods.sparse_coding``,
``methods.sdl`` and ``methods.synthesis``; these nodes pick the data of each budget, seed
and pair, call them, and write result rows and figures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression, RidgeCV
from tqdm.auto import tqdm

from transfer_lab.methods.dictionary_learning import MiniBatchDictionaryLearning
from transfer_lab.methods.runtime import resolve_device, thread_limits
from transfer_lab.methods.sdl import SemiCoupledDictionaryLearning
from transfer_lab.methods.sparse_coding import sparse_encode
from transfer_lab.methods.synthesis import INTERPOLATION_MODES, interpolate, psnr
from transfer_lab.params import parse_params
from transfer_lab.pipelines.data.params import DataParams
from transfer_lab.pipelines.dictionary.params import ClassifierParams, DictionaryParams
from transfer_lab.reporting import tracking
from transfer_lab.reporting.plots import image_grid_figure
from transfer_lab.reporting.results import result_row, results_frame
from transfer_lab.sources.pairs import domain_name
from transfer_lab.sources.shifts import apply_shift
from transfer_lab.sources.splits import budgets_and_seeds, split_indices, subset_indices

logger = logging.getLogger(__name__)


def _params(dictionary: Mapping[str, Any], data: Mapping[str, Any]) -> tuple[DictionaryParams, DataParams]:
    return parse_params(DictionaryParams, dictionary, "dictionary"), parse_params(DataParams, data, "data")


def _flat(X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=np.float32).reshape(len(X), -1)


def _classifier(params: ClassifierParams, seed: int) -> LogisticRegression:
    """The one classifier of this pipeline, on raw inputs and on codes alike.

    No standardisation: with one label per class the per-feature scales estimated from
    10 rows are noise, and scaling cost self-taught codes 20 points of accuracy there.
    """
    return LogisticRegression(C=params.C, max_iter=params.max_iter, random_state=seed)


def _row(dataset: str, method: str, metric: str, value: float, split: str = "test", budget=None, seed: int = 0) -> dict:
    return result_row(
        pipeline="dictionary", dataset=dataset, method=method, metric=metric, value=value,
        split=split, labels_per_class=budget, seed=seed,
    )


def _atoms_figure(components: np.ndarray, image_shape: tuple[int, ...], title: str) -> plt.Figure:
    """Atoms as images, each scaled to [0, 1] for display (atoms have unit norm, any sign)."""
    atoms = components.reshape(len(components), *image_shape)
    low = atoms.reshape(len(atoms), -1).min(axis=1).reshape(-1, *[1] * len(image_shape))
    high = atoms.reshape(len(atoms), -1).max(axis=1).reshape(-1, *[1] * len(image_shape))
    scaled = (atoms - low) / np.maximum(high - low, 1e-12)
    n_columns = 16
    rows = {f"atoms {i}-{min(i + n_columns, len(scaled)) - 1}": scaled[i : i + n_columns] for i in range(0, min(len(scaled), 64), n_columns)}
    return image_grid_figure(rows, n_columns=n_columns, title=title)


def _objective_figure(histories: Mapping[str, list[float]], title: str, xlabel: str) -> plt.Figure:
    figure, ax = plt.subplots(figsize=(6, 4))
    for label, history in histories.items():
        ax.plot(range(1, len(history) + 1), history, marker=".", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("objective")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def self_taught_learning(
    base_dataset: dict, split_table: pd.DataFrame, label_subsets: pd.DataFrame,
    dictionary: Mapping[str, Any], data: Mapping[str, Any],
) -> tuple[pd.DataFrame, plt.Figure, plt.Figure]:
    """Self-taught learning (Raina et al. 2007) for every source domain, budget and seed.

    A dictionary is learned on the unlabelled training images of each source domain; the
    base set (the target) is coded on it, and the classifier trained on the codes of each
    label subset is compared with the same classifier on raw inputs (``raw``).
    """
    params, data_params = _params(dictionary, data)
    taught = params.self_taught
    device = resolve_device(params.device)
    X, y, name = base_dataset["X"], base_dataset["y"], base_dataset["name"]
    train, test = split_indices(split_table, "train"), split_indices(split_table, "test")
    combos = budgets_and_seeds(label_subsets)
    rows, atoms_figure, histories = [], None, {}

    with thread_limits(params.num_threads):
        for budget, seed in tqdm(combos, desc="raw", disable=not params.progress):
            labeled = subset_indices(label_subsets, budget, seed)
            model = _classifier(taught.classifier, seed).fit(_flat(X[labeled]), y[labeled])
            rows.append(_row(name, "raw", "accuracy", model.score(_flat(X[test]), y[test]), budget=budget, seed=seed))

        for domain in taught.source_domains.get(data_params.kind, []):
            source = apply_shift(X[train], data_params.domain.steps(domain), seed=data_params.split.seed)
            if source.shape[1:] != X.shape[1:]:
                raise ValueError(
                    f"self-taught source domain {domain!r} changes the image shape {X.shape[1:]} → {source.shape[1:]}; "
                    "its dictionary could not code the target"
                )
            learner = MiniBatchDictionaryLearning(
                n_components=taught.n_components, alpha=taught.alpha, max_iter=taught.epochs,
                batch_size=taught.batch_size, random_state=data_params.split.seed, device=device,
            ).fit(_flat(source))
            dataset = name if domain == "clean" else f"{domain_name(name, domain)}->{name}"
            histories[dataset] = list(learner.objective_history_)
            rows.append(_row(dataset, "self_taught", "objective", learner.objective_history_[-1], split="train", seed=data_params.split.seed))
            # every row coded once; the label subsets index into the codes
            codes = sparse_encode(_flat(X), learner.components_, alpha=taught.alpha, device=device)
            for budget, seed in tqdm(combos, desc=f"self_taught ({domain})", disable=not params.progress):
                labeled = subset_indices(label_subsets, budget, seed)
                model = _classifier(taught.classifier, seed).fit(codes[labeled], y[labeled])
                rows.append(_row(dataset, "self_taught", "accuracy", model.score(codes[test], y[test]), budget=budget, seed=seed))
            if atoms_figure is None:
                atoms_figure = _atoms_figure(learner.components_, X.shape[1:], f"dictionary learned on {dataset} (source: {domain})")

    objective_figure = _objective_figure(histories, "online dictionary learning", "epoch")
    tracking.log_figure(atoms_figure, "figures/dictionary/atoms.png")
    tracking.log_figure(objective_figure, "figures/dictionary/self_taught_objective.png")
    for dataset, history in histories.items():
        tracking.log_metric_history(tracking.metric_key("dictionary", dataset, "self_taught", "objective"), history)
    return results_frame(rows), atoms_figure, objective_figure


def _sdl(params: DictionaryParams, seed: int, device, identity: bool = False, direction: str = "source_to_target"):
    sdl = params.sdl
    return SemiCoupledDictionaryLearning(
        n_components=sdl.n_components, lambda_source=sdl.lambda_source, lambda_target=sdl.lambda_target,
        gamma=sdl.gamma, lambda_w=sdl.lambda_w, max_iter=sdl.max_iter, tol=sdl.tol,
        fix_w_identity=identity, map_direction=direction, random_state=seed, device=device,
    )


def _chosen(pairs: Mapping[str, dict], names: list[str] | None, key: str) -> dict[str, dict]:
    if names is None:
        return dict(pairs)
    unknown = sorted(set(names) - set(pairs))
    if unknown:
        raise ValueError(f"dictionary.sdl.{key} names unknown coupled pair(s) {unknown}; available: {sorted(pairs)}")
    return {name: pairs[name] for name in names}


def sdl_synthesis(
    coupled_pairs: Mapping[str, dict], split_table: pd.DataFrame, dictionary: Mapping[str, Any], data: Mapping[str, Any]
) -> tuple[pd.DataFrame, plt.Figure, plt.Figure]:
    """Cross-domain synthesis on coupled pairs: predict the target image of a source image.

    SDL (code, map with W, decode) against the same model with W fixed to I
    (``coupled_identity``), ridge regression pixel → pixel, and, where the two domains differ
    in resolution, bilinear and bicubic interpolation. PSNR on the test rows.
    """
    params, data_params = _params(dictionary, data)
    device = resolve_device(params.device)
    train, test = split_indices(split_table, "train"), split_indices(split_table, "test")
    rows, example_rows, histories = [], {}, {}
    n_examples = params.examples
    with thread_limits(params.num_threads):
        for name, pair in _chosen(coupled_pairs, params.sdl.synthesis_pairs, "synthesis_pairs").items():
            source, target = pair["source_X"], pair["target_X"]
            truth = target[test]
            predictions: dict[str, np.ndarray] = {}
            for seed in tqdm(data_params.seeds, desc=f"sdl {name}", disable=not params.progress):
                for method, identity in (("sdl", False), ("coupled_identity", True)):
                    model = _sdl(params, seed, device, identity=identity).fit(_flat(source[train]), _flat(target[train]))
                    predicted = np.clip(model.synthesize(_flat(source[test])), 0.0, 1.0).reshape(truth.shape)
                    rows.append(_row(name, method, "psnr", psnr(predicted, truth).mean(), seed=seed))
                    rows.append(_row(name, method, "objective", model.objective_history_[-1], split="train", seed=seed))
                    if seed == data_params.seeds[0]:
                        predictions[method] = predicted
                        histories[f"{name}: {method}"] = list(model.objective_history_)
            ridge = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(_flat(source[train]), _flat(target[train]))
            predictions["ridge"] = np.clip(ridge.predict(_flat(source[test])), 0.0, 1.0).reshape(truth.shape)
            rows.append(_row(name, "ridge", "psnr", psnr(predictions["ridge"], truth).mean()))
            if source.shape[2:] != target.shape[2:]:
                for mode in INTERPOLATION_MODES:
                    predictions[f"interpolation_{mode}"] = interpolate(source[test], target.shape[2:], mode)
                    rows.append(_row(name, f"interpolation_{mode}", "psnr", psnr(predictions[f"interpolation_{mode}"], truth).mean()))
            order = [m for m in ("interpolation_bicubic", "ridge", "coupled_identity", "sdl") if m in predictions]
            example_rows[f"{name}: input"] = source[test][:n_examples]
            for method in order:
                example_rows[f"{name}: {method}"] = predictions[method][:n_examples]
            example_rows[f"{name}: truth"] = truth[:n_examples]

    examples = image_grid_figure(example_rows, n_columns=n_examples, title="cross-domain synthesis on test images")
    objective = _objective_figure(histories, "semi-coupled dictionary learning", "iteration")
    tracking.log_figure(examples, "figures/dictionary/synthesis_examples.png")
    tracking.log_figure(objective, "figures/dictionary/sdl_objective.png")
    return results_frame(rows), examples, objective


def sdl_domain_adaptation(
    coupled_pairs: Mapping[str, dict], split_table: pd.DataFrame, label_subsets: pd.DataFrame,
    dictionary: Mapping[str, Any], data: Mapping[str, Any],
) -> pd.DataFrame:
    """A classifier trained on source-domain labels classifies target images through coupled codes.

    SDL is learned on the coupled training images (no labels), with W mapping target codes
    to source codes. For each budget and seed the classifier is trained on the source codes
    of the labelled rows; a target test image is coded on the target dictionary, mapped by
    W and classified (``sdl``). ``coupled_identity`` does the same with W = I, and
    ``source_only`` applies the classifier trained on source pixels to target pixels.
    """
    params, data_params = _params(dictionary, data)
    device = resolve_device(params.device)
    train, test = split_indices(split_table, "train"), split_indices(split_table, "test")
    classifier = params.self_taught.classifier
    same_size = {n: p for n, p in coupled_pairs.items() if p["source_X"].shape[1:] == p["target_X"].shape[1:]}
    rows = []
    with thread_limits(params.num_threads):
        for name, pair in _chosen(same_size, params.sdl.adaptation_pairs, "adaptation_pairs").items():
            source, target, y = _flat(pair["source_X"]), _flat(pair["target_X"]), pair["y"]
            combos = budgets_and_seeds(label_subsets)
            for budget, seed in combos:
                labeled = subset_indices(label_subsets, budget, seed)
                model = _classifier(classifier, seed).fit(source[labeled], y[labeled])
                rows.append(_row(name, "source_only", "accuracy", model.score(target[test], y[test]), split="target_test", budget=budget, seed=seed))
            for seed in tqdm(data_params.seeds, desc=f"sdl adaptation {name}", disable=not params.progress):
                for method, identity in (("sdl", False), ("coupled_identity", True)):
                    sdl = _sdl(params, seed, device, identity=identity, direction="target_to_source").fit(source[train], target[train])
                    source_codes = sdl.transform_source(source)
                    target_codes = sdl.map_codes(sdl.transform_target(target[test]))
                    for budget in (b for b, subset_seed in combos if subset_seed == seed):
                        labeled = subset_indices(label_subsets, budget, seed)
                        model = _classifier(classifier, seed).fit(source_codes[labeled], y[labeled])
                        rows.append(_row(name, method, "accuracy", model.score(target_codes, y[test]), split="target_test", budget=budget, seed=seed))
    return results_frame(rows)

