"""Domain pairs (for domain adaptation) and coupled pairs (for coupled dictionaries).

Both build two *domains* from one base dataset by applying a shift
(:mod:`transfer_lab.sources.shifts`) to every row, so the arrays stay aligned with the
base rows and the base dataset's split table applies to both domains.

* :func:`make_domain_pair`: source and target must not share training images, so the
  train split is cut into two disjoint stratified halves, one per domain.
* :func:`make_coupled_pair`: the SAME images in two domains, row by row (low-res and
  high-res, clean and noisy), as semi-coupled dictionary learning needs.

"clean" is the conventional name of the identity shift: a domain called "clean" keeps
the dataset's own name in the pair's name, e.g. ``"digits->digits_rotated"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from transfer_lab.contracts import CLEAN, CoupledPair, Dataset, DomainPair
from transfer_lab.sources.shifts import apply_shift, is_identity, validate_shift
from transfer_lab.sources.splits import split_indices

__all__ = ["CLEAN", "domain_name", "make_domain_pair", "make_coupled_pair"]

Steps = Sequence[Mapping[str, Any]] | None


def domain_name(dataset_name: str, shift_name: str) -> str:
    """Name of a dataset under a shift: ``"digits"`` for "clean", else ``"digits_<shift>"``."""
    return dataset_name if shift_name == CLEAN else f"{dataset_name}_{shift_name}"


def _domain_seed(seed: int, domain: int) -> int:
    # Separate noise streams for the two domains, so that e.g. two "noisy" domains do
    # not receive the very same noise.
    return int(np.random.SeedSequence([int(seed), domain]).generate_state(1)[0])


def _check_domain(role: str, name: str, steps: Steps, kind: str) -> list[dict[str, Any]]:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{role}_name={name!r} is not allowed; expected a non-empty string")
    clean = validate_shift(steps, key=f"{role}_steps", kind=kind)
    if name == CLEAN and not is_identity(clean):
        raise ValueError(
            f"{role}_name='clean' with {role}_steps={list(steps or [])!r} is not allowed; "
            "'clean' is the identity shift (use [] or name the shift)"
        )
    return clean


def _shift_both(
    dataset: Dataset, source_name: str, source_steps: Steps, target_name: str, target_steps: Steps,
    seed: int,
) -> CoupledPair:
    src = _check_domain("source", source_name, source_steps, dataset.kind)
    tgt = _check_domain("target", target_name, target_steps, dataset.kind)
    return CoupledPair(
        name=f"{domain_name(dataset.name, source_name)}->{domain_name(dataset.name, target_name)}",
        kind=dataset.kind,
        source_X=apply_shift(dataset.X, src, seed=_domain_seed(seed, 0)),
        target_X=apply_shift(dataset.X, tgt, seed=_domain_seed(seed, 1)),
        y=np.asarray(dataset.y, dtype=np.int64).copy(),
        source_shift=src,
        target_shift=tgt,
        declared_classes=dataset.n_classes,
    )


def make_domain_pair(
    dataset: Dataset,
    split_table: pd.DataFrame,
    source_name: str,
    source_steps: Steps,
    target_name: str,
    target_steps: Steps,
    seed: int,
) -> DomainPair:
    """Build a source/target domain pair for domain adaptation.

    Parameters
    ----------
    dataset : transfer_lab.contracts.Dataset
        The base dataset.
    split_table : pandas.DataFrame
        The base dataset's split table (:func:`~transfer_lab.sources.splits.stratified_split`).
    source_name, target_name : str
        Shift names ("clean" for the identity).
    source_steps, target_steps : list of dict or None
        The shifts' steps.
    seed : int
        Seeds the halving of the train split and the shifts' noise.

    Returns
    -------
    DomainPair
        ``name`` (e.g. "digits->digits_rotated"), ``kind``, ``source_X`` and ``target_X``
        (the whole base set under each shift, aligned with the base rows), ``y``,
        ``source_train_index`` and ``target_train_index`` (disjoint stratified halves of
        the train split, sorted), ``val_index``, ``test_index``, ``source_shift`` and
        ``target_shift`` (the validated steps).

    Notes
    -----
    Models train on ``source_X[source_train_index]`` (labelled) and
    ``target_X[target_train_index]`` (unlabelled for adaptation) and are scored on
    ``target_X[test_index]``: the halves keep one image from appearing in both domains.
    """
    pair = _shift_both(dataset, source_name, source_steps, target_name, target_steps, seed)
    y = pair.y
    train = split_indices(split_table, "train")
    if len(train) and train.max() >= len(y):
        raise ValueError(f"split_table index {train.max()} is out of range; y has {len(y)} rows")
    try:
        src_train, tgt_train = train_test_split(
            train, test_size=0.5, stratify=y[train], random_state=int(seed)
        )
    except ValueError as exc:
        raise ValueError(
            f"cannot halve the train split ({len(train)} rows) by class: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    return DomainPair(
        **vars(pair),
        source_train_index=np.sort(src_train).astype(np.int64),
        target_train_index=np.sort(tgt_train).astype(np.int64),
        val_index=split_indices(split_table, "val"),
        test_index=split_indices(split_table, "test"),
    )


def make_coupled_pair(
    dataset: Dataset,
    source_name: str,
    source_steps: Steps,
    target_name: str,
    target_steps: Steps,
    seed: int,
) -> CoupledPair:
    """Build the same images in two domains, aligned row by row.

    Parameters
    ----------
    dataset : transfer_lab.contracts.Dataset
        The base dataset.
    source_name, target_name : str
        Shift names ("clean" for the identity).
    source_steps, target_steps : list of dict or None
        The shifts' steps.
    seed : int
        Seeds the shifts' noise.

    Returns
    -------
    CoupledPair
        ``name``, ``kind``, ``source_X``, ``target_X`` (row ``i`` of both is base row
        ``i``; their shapes may differ, e.g. after ``downsample``), ``y``,
        ``source_shift``, ``target_shift``.
    """
    return _shift_both(dataset, source_name, source_steps, target_name, target_steps, seed)
