"""Nodes of the ``dictionary`` pipeline: self-taught learning and semi-coupled dictionary learning.

The algorithms live in ``methods.dictionary_learning`` (self-taught codes, the classifier of
each label subset), ``methods.sdl`` (domain adaptation through coupled codes) and
``methods.synthesis`` (SDL against its baselines); the figures in
``reporting.figures_dictionary``. These nodes pick the data of each budget, seed and pair,
call them, and turn what they return into result rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from tqdm.auto import tqdm

from transfer_lab.contracts import CLEAN, CoupledPair, Dataset, DomainsByKind
from transfer_lab.methods.dictionary_learning import flatten_rows, self_taught_codes, subset_accuracies
from transfer_lab.methods.runtime import node_compute, resolve_device
from transfer_lab.methods.sdl import adaptation_accuracies
from transfer_lab.methods.synthesis import compare_synthesis
from transfer_lab.params import parse_params
from transfer_lab.pipelines.dictionary.params import ClassifierParams, RuntimeParams, SDLParams, SelfTaughtParams
from transfer_lab.reporting import tracking
from transfer_lab.reporting.figures_dictionary import atoms_figure, objective_figure, psnr_figure, synthesis_examples_figure
from transfer_lab.reporting.results import result_row, results_frame
from transfer_lab.sources.pairs import domain_name
from transfer_lab.sources.shifts import apply_shift
from transfer_lab.sources.splits import budgets_and_seeds, split_indices, subset_indices

SPLIT_OF_METRIC = {"psnr": "test", "objective": "train", "accuracy": "test"}


def _row(dataset: str, method: str, metric: str, value: float, budget=None, seed: int = 0, split: str | None = None) -> dict:
    return result_row(
        pipeline="dictionary", dataset=dataset, method=method, metric=metric, value=value,
        split=split or SPLIT_OF_METRIC[metric], labels_per_class=budget, seed=seed,
    )


def _accuracy_rows(dataset: str, method: str, scores: Iterable[tuple[str, int, float]]) -> list[dict]:
    return [_row(dataset, method, "accuracy", accuracy, budget, seed) for budget, seed, accuracy in scores]


def _classifier(classifier: Mapping[str, Any]) -> LogisticRegression:
    """The one classifier of this pipeline, on raw inputs and on codes alike (its
    ``random_state`` is set to each label subset's seed).

    No standardisation: with one label per class the per-feature scales estimated from
    10 rows are noise, and scaling cost self-taught codes 20 points of accuracy there.
    """
    params = parse_params(ClassifierParams, classifier, "dictionary.classifier")
    return LogisticRegression(C=params.C, max_iter=params.max_iter)


def _subsets(label_subsets: pd.DataFrame) -> list[tuple[str, int, np.ndarray]]:
    """Every (labels_per_class, seed, labelled rows) of the label-subsets table."""
    return [(budget, seed, subset_indices(label_subsets, budget, seed)) for budget, seed in budgets_and_seeds(label_subsets)]


def _progress(items: Iterable, desc: str, runtime: RuntimeParams) -> Iterable:
    return tqdm(items, desc=desc, disable=not runtime.progress)


def _chosen(pairs: Mapping[str, CoupledPair], names: list[str] | None, key: str) -> dict[str, CoupledPair]:
    if names is None:
        return dict(pairs)
    unknown = sorted(set(names) - set(pairs))
    if unknown:
        raise ValueError(f"dictionary.sdl.{key} names unknown coupled pair(s) {unknown}; available: {sorted(pairs)}")
    return {name: pairs[name] for name in names}


def self_taught_learning(
    base_dataset: Dataset, split_table: pd.DataFrame, label_subsets: pd.DataFrame,
    self_taught: dict, classifier: dict, runtime: dict, domains: dict, split_seed: int,
) -> tuple[pd.DataFrame, dict]:
    """Self-taught learning (Raina et al. 2007): for each source domain, a dictionary learned
    on its unlabelled training images codes the base set; the classifier of each label subset
    on the codes (``self_taught``) against the same classifier on raw inputs (``raw``).
    Returns the rows and the learned dictionaries (atoms, objectives) for the figures."""
    params = parse_params(SelfTaughtParams, self_taught, "dictionary.self_taught")
    run = parse_params(RuntimeParams, runtime, "dictionary.runtime")
    shifts = getattr(parse_params(DomainsByKind, domains, "data.domains"), base_dataset.kind)
    X, y, name = base_dataset.X, base_dataset.y, base_dataset.name
    train, test = split_indices(split_table, "train"), split_indices(split_table, "test")
    model, subsets, flat = _classifier(classifier), _subsets(label_subsets), flatten_rows(X)
    learning = params.model_dump(exclude={"source_domains"}) | {"random_state": split_seed, "device": resolve_device(run.device)}
    learned = {}
    with node_compute(run):
        rows = _accuracy_rows(name, "raw", subset_accuracies(model, flat, y, _progress(subsets, "raw", run), flat[test], y[test]))
        for domain in params.source_domains.get(base_dataset.kind, []):
            codes, learner = self_taught_codes(apply_shift(X[train], shifts.steps(domain), seed=split_seed), X, **learning)
            dataset = name if domain == CLEAN else f"{domain_name(name, domain)}->{name}"
            rows.append(_row(dataset, "self_taught", "objective", learner.objective_history_[-1], seed=split_seed))
            scores = subset_accuracies(model, codes, y, _progress(subsets, f"self_taught ({domain})", run), codes[test], y[test])
            rows += _accuracy_rows(dataset, "self_taught", scores)
            learned[dataset] = {"source": domain, "components": learner.components_, "objective": list(learner.objective_history_)}
    return results_frame(rows), {"sample_shape": tuple(X.shape[1:]), "learned": learned}


def plot_self_taught(dictionaries: dict) -> tuple[plt.Figure, plt.Figure]:
    """The atoms of the first source domain's dictionary, and every domain's objective per epoch."""
    learned = dictionaries["learned"]
    dataset, first = next(iter(learned.items()))
    atoms = atoms_figure(first["components"], dictionaries["sample_shape"], f"dictionary learned on {dataset} (source: {first['source']})")
    objective = objective_figure({name: d["objective"] for name, d in learned.items()}, "online dictionary learning", "epoch")
    tracking.log_figure(atoms, "figures/dictionary/atoms.png")
    tracking.log_figure(objective, "figures/dictionary/self_taught_objective.png")
    for name, d in learned.items():
        tracking.log_history(tracking.history_key("dictionary", name, "self_taught", "objective"), [d["objective"]])
    return atoms, objective


def sdl_synthesis(
    coupled_pairs: Mapping[str, CoupledPair], split_table: pd.DataFrame, sdl: dict, runtime: dict, seeds: list[int]
) -> tuple[pd.DataFrame, dict]:
    """Cross-domain synthesis on coupled pairs: predict the target image of a source image.

    SDL against ``coupled_identity`` (W = I), ridge regression and, where the two domains
    differ in resolution, bilinear and bicubic interpolation (``methods.synthesis``); PSNR on
    the test rows. Returns the rows and, for the figures, example predictions and objectives.
    """
    params, run = parse_params(SDLParams, sdl, "dictionary.sdl"), parse_params(RuntimeParams, runtime, "dictionary.runtime")
    train, test, n = split_indices(split_table, "train"), split_indices(split_table, "test"), params.examples
    rows, examples, histories = [], {}, {}
    with node_compute(run):
        for name, pair in _chosen(coupled_pairs, params.synthesis_pairs, "synthesis_pairs").items():
            source, target = pair.source_X, pair.target_X
            result = compare_synthesis(
                source[train], target[train], source[test], target[test], _progress(seeds, f"sdl {name}", run),
                device=resolve_device(run.device), **params.estimator_params(),
            )
            rows += [_row(name, method, metric, value, seed=seed) for method, seed, metric, value in result.scores]
            examples[name] = {"input": source[test][:n], "truth": target[test][:n], **{m: p[:n] for m, p in result.predictions.items()}}
            histories.update({f"{name}: {method}": history for method, history in result.histories.items()})
    return results_frame(rows), {"examples": examples, "histories": histories}


def plot_sdl_synthesis(synthesis_examples: dict) -> tuple[plt.Figure, plt.Figure]:
    """Example predictions of every method on test images, and SDL's objective per iteration."""
    examples = synthesis_examples["examples"]
    n_examples = max((len(images["input"]) for images in examples.values()), default=1)
    figure = synthesis_examples_figure(examples, n_examples)
    objective = objective_figure(synthesis_examples["histories"], "semi-coupled dictionary learning", "iteration")
    tracking.log_figure(figure, "figures/dictionary/synthesis_examples.png")
    tracking.log_figure(objective, "figures/dictionary/sdl_objective.png")
    return figure, objective


def plot_psnr(dictionary_results: pd.DataFrame) -> plt.Figure:
    """Test PSNR of every synthesis method on every coupled pair (``sdl_psnr.png``)."""
    figure = psnr_figure(dictionary_results)
    tracking.log_figure(figure, "figures/dictionary/sdl_psnr.png")
    return figure


def sdl_domain_adaptation(
    coupled_pairs: Mapping[str, CoupledPair], split_table: pd.DataFrame, label_subsets: pd.DataFrame,
    sdl: dict, classifier: dict, runtime: dict,
) -> pd.DataFrame:
    """A classifier trained on source-domain labels classifies target images through coupled
    codes (``sdl``, ``coupled_identity``), against source pixels → target pixels
    (``source_only``), on every coupled pair of equal image size (``methods.sdl``).
    """
    params, run = parse_params(SDLParams, sdl, "dictionary.sdl"), parse_params(RuntimeParams, runtime, "dictionary.runtime")
    train, test, subsets = split_indices(split_table, "train"), split_indices(split_table, "test"), _subsets(label_subsets)
    same_size = {name: p for name, p in coupled_pairs.items() if p.source_X.shape[1:] == p.target_X.shape[1:]}
    rows = []
    with node_compute(run):
        for name, pair in _chosen(same_size, params.adaptation_pairs, "adaptation_pairs").items():
            scores = adaptation_accuracies(
                _classifier(classifier), pair.source_X, pair.target_X, pair.y, train, test, subsets,
                device=resolve_device(run.device), **params.estimator_params(),
            )
            rows += [_row(name, method, "accuracy", value, budget, seed, "target_test") for method, budget, seed, value in scores]
    return results_frame(rows)
