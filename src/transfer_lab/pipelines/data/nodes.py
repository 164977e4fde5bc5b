"""Nodes of the ``data`` pipeline: the base set, its splits, label budgets and domains.

Every other pipeline reads these outputs, so all methods train on the same label subsets
and are tested on the same rows. The containers they hand on are typed
(:mod:`transfer_lab.contracts`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from transfer_lab.contracts import CoupledPair, DataParams, Dataset, DomainPair
from transfer_lab.params import ParameterError, parse_params
from transfer_lab.reporting import tracking
from transfer_lab.reporting.plots import image_grid_figure
from transfer_lab.sources.mnist1d import make_mnist1d
from transfer_lab.sources.pairs import make_coupled_pair, make_domain_pair
from transfer_lab.sources.shifts import apply_shift
from transfer_lab.sources.splits import label_subsets, smallest_train_class, stratified_split

logger = logging.getLogger(__name__)


def _params(data: Mapping[str, Any]) -> DataParams:
    return parse_params(DataParams, data, "data")


def make_base_dataset(raw_sources: Mapping[str, Callable[[], dict]], data: Mapping[str, Any]) -> Dataset:
    """Load (or, for MNIST-1D, regenerate) the dataset that ``data.dataset`` names."""
    params = _params(data)
    if params.dataset == "mnist1d":
        dataset = make_mnist1d(**params.mnist1d)
    elif params.dataset in raw_sources:
        dataset = raw_sources[params.dataset]()
    else:
        raise ValueError(
            f"dataset {params.dataset!r} has no entry under raw_sources in the catalog; "
            f"configured: {sorted(raw_sources)} and mnist1d"
        )
    check_own_data(dataset, params)
    check_label_budgets(dataset, params)
    unlabelled = int((dataset.y < 0).sum())
    logger.info("Base dataset %s: X %s, %d classes, %d unlabelled rows", dataset.name, dataset.X.shape, dataset.n_classes, unlabelled)
    return dataset


def check_own_data(dataset: Dataset, params: DataParams) -> None:
    """The kind of data that ``data.input_kind`` declares must be the data's own kind (the
    other families read the kind from the parameters); a table says once what it skips."""
    if dataset.kind != params.kind:
        raise ParameterError(
            f"Invalid parameter 'data.input_kind': {params.dataset} holds {dataset.kind} data "
            f"(X {tuple(dataset.X.shape[1:])}) but the parameters say {params.kind}; add --params data.input_kind={dataset.kind}"
        )
    if getattr(dataset, "table", False):
        logger.info(
            "%s is a table (%d feature columns), handled as 1-D inputs: image-only methods "
            "(rotate/thicken shifts, 2-D augmentations, the image pretext tasks) are skipped",
            dataset.name, dataset.X.shape[-1],
        )


def check_label_budgets(dataset: Dataset, params: DataParams) -> None:
    """A budget may not ask for more labels per class than the smallest class has in train.

    Checked on the split that :func:`split_dataset` will draw (same fractions and seed), in
    the first node, so that a bad budget stops the run with one line before any node has
    written anything (the previous data set's outputs stay as they were)."""
    largest = smallest_train_class(dataset.y, _split(dataset.y, params))
    too_big = [budget for budget in params.label_budgets if budget != "all" and budget > largest]
    if too_big:
        raise ParameterError(
            f"Invalid parameter 'data.label_budgets': {too_big[0]} labels per class exceeds the "
            f"smallest class of {params.dataset}'s train split ({largest}); use budgets <= {largest} or 'all'"
        )


def _split(y: np.ndarray, params: DataParams) -> pd.DataFrame:
    """The one split of ``y`` that ``data.split`` defines (what the budget check reads and
    :func:`split_dataset` writes)."""
    split = params.split
    return stratified_split(y, split.val_fraction, split.test_fraction, split.seed)


def split_dataset(base_dataset: Dataset, data: Mapping[str, Any]) -> pd.DataFrame:
    """Stratified train/val/test split with the fixed ``data.split.seed``."""
    return _split(base_dataset.y, _params(data))


def make_label_subsets(base_dataset: Dataset, split_table: pd.DataFrame, data: Mapping[str, Any]) -> pd.DataFrame:
    """The labelled training rows of every budget and seed (nested across budgets; budgets
    larger than a class were refused by :func:`check_label_budgets` in the first node)."""
    params = _params(data)
    return label_subsets(base_dataset.y, split_table, params.label_budgets, params.seeds)


def make_domain_pairs(base_dataset: Dataset, split_table: pd.DataFrame, data: Mapping[str, Any]) -> dict[str, DomainPair]:
    """Source/target pairs for domain adaptation, keyed by their names (``digits->digits_rotated``)."""
    params = _params(data)
    domain = params.domain
    made = (
        make_domain_pair(
            base_dataset, split_table, pair.source, domain.steps(pair.source),
            pair.target, domain.steps(pair.target), seed=params.split.seed,
        )
        for pair in domain.domain_pairs
    )
    return {pair.name: pair for pair in made}


def make_coupled_pairs(base_dataset: Dataset, data: Mapping[str, Any]) -> dict[str, CoupledPair]:
    """The same images in two domains, row by row (for semi-coupled dictionary learning)."""
    params = _params(data)
    domain = params.domain
    made = (
        make_coupled_pair(
            base_dataset, pair.source, domain.steps(pair.source),
            pair.target, domain.steps(pair.target), seed=params.split.seed,
        )
        for pair in domain.coupled_pairs
    )
    return {pair.name: pair for pair in made}


def summarise_data(base_dataset: Dataset, split_table: pd.DataFrame, subsets: pd.DataFrame) -> pd.DataFrame:
    """Rows per split and per label subset, with the class counts: a table to preview in Kedro-Viz."""
    y = base_dataset.y

    def counted(part: str, group: pd.DataFrame) -> dict:
        labels = y[group["index"].to_numpy()]
        counts = np.bincount(labels[labels >= 0], minlength=base_dataset.n_classes)
        return {"part": part, "rows": len(group), "min_per_class": counts.min(), "max_per_class": counts.max(),
                "unlabelled": int((labels < 0).sum())}

    rows = [counted(f"split={split}", group) for split, group in split_table.groupby("split", sort=False)]
    rows += [
        counted(f"labels_per_class={budget}, seed={seed}", group)
        for (budget, seed), group in subsets.groupby(["labels_per_class", "seed"], sort=False)
    ]
    summary = pd.DataFrame(rows)
    summary.insert(0, "dataset", base_dataset.name)
    return summary


def plot_domains(base_dataset: Dataset, data: Mapping[str, Any]) -> plt.Figure:
    """The same examples under every declared shift, to check the domains by eye."""
    params = _params(data)
    n = params.preview_examples
    y = base_dataset.y
    # one example of each class first, so the grid shows the whole label set
    first = [int(np.flatnonzero(y == label)[0]) for label in np.unique(y)]
    examples = base_dataset.X[(first + list(range(n)))[:n]]
    rows = {"clean": examples}
    for name, steps in params.domain.shifts.items():
        rows[name] = apply_shift(examples, steps, seed=params.split.seed)
    figure = image_grid_figure(rows, n_columns=n, title=f"{base_dataset.name}: declared domain shifts")
    tracking.log_figure(figure, "figures/data/domain_examples.png")
    return figure
