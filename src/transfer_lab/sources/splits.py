"""Train/val/test splits and nested label-budget subsets, shared by every pipeline.

Every method that uses labels takes them from the same tables built here, so results
from different pipelines compare row by row:

* a *split table* (:func:`stratified_split`): one row per dataset row, columns
  ``index`` (int64) and ``split`` ("train" / "val" / "test");
* a *subsets table* (:func:`label_subsets`): columns ``labels_per_class`` (str: "1",
  "5", ..., "all"), ``seed`` (int64) and ``index`` (int64), the labelled train rows for
  each budget and seed. For one seed the subsets are nested (1 ⊂ 5 ⊂ 10 ⊂ ... ⊂ all),
  so a curve of accuracy against budget measures the labels, not a new draw of images.

Both are plain DataFrames so that the catalog can store them as CSV or parquet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from transfer_lab.contracts import Dataset

__all__ = [
    "SPLITS",
    "stratified_split",
    "split_indices",
    "smallest_train_class",
    "label_subsets",
    "subset_indices",
    "budgets_and_seeds",
    "BudgetView",
    "budget_view",
]

SPLITS = ("train", "val", "test")


def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or (
        not 0.0 <= float(value) < 1.0
    ):
        raise ValueError(f"{name}={value!r} is not allowed; expected a number in [0, 1)")
    return float(value)


def _check_seed(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name}={value!r} is not allowed; expected an integer >= 0")
    return int(value)


def stratified_split(
    y: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> pd.DataFrame:
    """Split rows into train / val / test, keeping class proportions in each part.

    Parameters
    ----------
    y : numpy.ndarray of int, shape (n,)
        Class labels of the dataset's rows; ``-1`` marks an unlabelled row, which always
        goes to train (never val or test) and is left out of the stratification.
    val_fraction, test_fraction : float
        Fractions of all rows for validation and test, each in [0, 1), summing below 1.
        A fraction of 0 leaves that split empty.
    seed : int
        Random seed; the same seed gives the same table.

    Returns
    -------
    pandas.DataFrame
        Columns ``index`` (int64, row of the dataset) and ``split`` (str), one row per
        dataset row, sorted by ``index``.

    Raises
    ------
    ValueError
        On out-of-range fractions, or classes too small to stratify.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y shape {y.shape} is not allowed; expected (n,)")
    val_fraction = _check_fraction("val_fraction", val_fraction)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} is not allowed; "
            "expected a sum below 1"
        )
    seed = _check_seed("seed", seed)
    split = np.full(len(y), "train", dtype=object)
    rows = np.flatnonzero(y >= 0)  # unlabelled rows (label -1) are train rows, never val/test
    labelled_y, y = y, y[rows]
    try:
        rest = rows
        if test_fraction > 0:
            rest, test = train_test_split(
                rows, test_size=test_fraction, stratify=y, random_state=seed
            )
            split[test] = "test"
        if val_fraction > 0:
            # val_fraction is of the whole set, so rescale it to the rows left after test.
            _, val = train_test_split(
                rest,
                test_size=val_fraction / (1.0 - test_fraction),
                stratify=labelled_y[rest],
                random_state=seed,
            )
            split[val] = "val"
    except ValueError as exc:
        # sklearn's message is multi-line and does not say which of our arguments to change.
        counts = np.bincount(np.unique(y, return_inverse=True)[1])
        raise ValueError(
            f"cannot stratify val_fraction={val_fraction}, test_fraction={test_fraction} "
            f"with {len(y)} rows (smallest class {counts.min()}): {str(exc).splitlines()[0]}"
        ) from None
    return pd.DataFrame({"index": np.arange(len(split), dtype=np.int64), "split": split.astype(str)})


def _check_split_table(split_table: pd.DataFrame) -> None:
    missing = {"index", "split"} - set(split_table.columns)
    if missing:
        raise ValueError(
            f"split_table is missing column(s) {sorted(missing)}; expected 'index' and 'split'"
        )


def split_indices(split_table: pd.DataFrame, name: str) -> np.ndarray:
    """Sorted dataset rows of one split.

    Parameters
    ----------
    split_table : pandas.DataFrame
        Output of :func:`stratified_split`.
    name : {"train", "val", "test"}
        The split.

    Returns
    -------
    numpy.ndarray of int64
    """
    if name not in SPLITS:
        raise ValueError(f"split={name!r} is not allowed; allowed: {', '.join(SPLITS)}")
    _check_split_table(split_table)
    idx = split_table.loc[split_table["split"] == name, "index"].to_numpy(dtype=np.int64)
    return np.sort(idx)


def smallest_train_class(y: np.ndarray, split_table: pd.DataFrame) -> int:
    """Number of train rows of the rarest class (0 if some class of ``y`` has none).

    This is the largest integer label budget :func:`label_subsets` accepts.
    """
    y = np.asarray(y)
    train = split_indices(split_table, "train")
    classes = np.unique(y[y >= 0])  # unlabelled rows (-1) are no class
    counts = [(y[train] == c).sum() for c in classes]
    return int(min(counts)) if counts else 0


def _normalise_budget(value: object) -> str:
    """Budget as its table label: ints become "5", "all" stays; anything else is refused."""
    if isinstance(value, str):
        if value == "all":
            return value
        if value.isdigit() and int(value) >= 1:
            return str(int(value))
    elif not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1:
        return str(int(value))
    raise ValueError(
        f"labels_per_class={value!r} is not allowed; expected an integer >= 1 or 'all'"
    )


def _budget_sort_key(label: str) -> tuple[int, int]:
    return (1, 0) if label == "all" else (0, int(label))


def label_subsets(
    y: np.ndarray,
    split_table: pd.DataFrame,
    budgets: Iterable[int | str],
    seeds: Iterable[int],
) -> pd.DataFrame:
    """Draw the labelled train rows for every label budget and seed.

    For each seed, one random permutation of each class's train rows is drawn
    (``numpy.random.default_rng(seed)``, classes in ascending order); budget ``k`` takes
    the first ``k`` rows of every class's permutation. Subsets are therefore nested for
    one seed, and a seed's draw does not depend on the other budgets or seeds asked for.

    Parameters
    ----------
    y : numpy.ndarray of int, shape (n,)
        Labels of the whole dataset; rows labelled ``-1`` (unlabelled) are never drawn,
        not even for "all", so they reach the methods as unlabelled train rows.
    split_table : pandas.DataFrame
        Output of :func:`stratified_split`.
    budgets : iterable of int or "all"
        Labels per class; "all" means every train row.
    seeds : iterable of int
        One subset per budget per seed.

    Returns
    -------
    pandas.DataFrame
        Columns ``labels_per_class`` (str), ``seed`` (int64), ``index`` (int64), sorted by
        budget (numeric, then "all"), seed and index.

    Raises
    ------
    ValueError
        For a budget that is not an integer >= 1 or "all", or one above the smallest
        class's train count.
    """
    y = np.asarray(y)
    labels = sorted({_normalise_budget(b) for b in budgets}, key=_budget_sort_key)
    seed_list = sorted({_check_seed("seed", s) for s in seeds})
    if not labels:
        raise ValueError("labels_per_class=[] is not allowed; expected at least one budget")
    if not seed_list:
        raise ValueError("seeds=[] is not allowed; expected at least one seed")
    train = split_indices(split_table, "train")
    if len(train) and train.max() >= len(y):
        raise ValueError(
            f"split_table index {train.max()} is out of range; y has {len(y)} rows"
        )
    largest = smallest_train_class(y, split_table)
    for label in labels:
        if label != "all" and int(label) > largest:
            raise ValueError(
                f"labels_per_class={label} exceeds the smallest class's train count; "
                f"largest allowed: {largest}"
            )
    classes = np.unique(y[y >= 0])
    per_class = [train[y[train] == c] for c in classes]
    train = train[y[train] >= 0]  # "all": every labelled train row; unlabelled rows stay unlabelled

    frames = []
    for seed in seed_list:
        rng = np.random.default_rng(seed)
        perms = [rng.permutation(rows) for rows in per_class]
        for label in labels:
            if label == "all":
                chosen = train
            else:
                k = int(label)
                chosen = np.sort(np.concatenate([p[:k] for p in perms]))
            frames.append(
                pd.DataFrame(
                    {
                        "labels_per_class": np.full(len(chosen), label, dtype=object).astype(str),
                        "seed": np.full(len(chosen), seed, dtype=np.int64),
                        "index": chosen.astype(np.int64),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def _check_subsets(subsets: pd.DataFrame) -> None:
    missing = {"labels_per_class", "seed", "index"} - set(subsets.columns)
    if missing:
        raise ValueError(
            f"subsets is missing column(s) {sorted(missing)}; "
            "expected 'labels_per_class', 'seed' and 'index'"
        )


def budgets_and_seeds(subsets: pd.DataFrame) -> list[tuple[str, int]]:
    """The (labels_per_class, seed) pairs in a subsets table, in a stable order.

    Budgets ascend numerically with "all" last; seeds ascend within a budget.
    """
    _check_subsets(subsets)
    pairs = {
        (_normalise_budget(str(b)), int(s))
        for b, s in subsets[["labels_per_class", "seed"]].drop_duplicates().itertuples(index=False)
    }
    return sorted(pairs, key=lambda p: (_budget_sort_key(p[0]), p[1]))


def subset_indices(subsets: pd.DataFrame, labels_per_class: int | str, seed: int) -> np.ndarray:
    """Sorted labelled rows for one budget and seed.

    Parameters
    ----------
    subsets : pandas.DataFrame
        Output of :func:`label_subsets` (possibly read back from CSV).
    labels_per_class : int or str
        The budget, e.g. ``5``, ``"5"`` or ``"all"``.
    seed : int
        The seed.

    Raises
    ------
    ValueError
        If the table has no such budget and seed.
    """
    _check_subsets(subsets)
    label = _normalise_budget(labels_per_class)
    # astype(str) because a CSV round trip turns "5" into the integer 5.
    mask = (subsets["labels_per_class"].astype(str) == label) & (
        subsets["seed"].astype(np.int64) == int(seed)
    )
    if not mask.any():
        available = ", ".join(f"({b}, {s})" for b, s in budgets_and_seeds(subsets))
        raise ValueError(
            f"(labels_per_class, seed)=({label}, {seed}) is not in subsets; available: {available}"
        )
    return np.sort(subsets.loc[mask, "index"].to_numpy(dtype=np.int64))


@dataclass(frozen=True)
class BudgetView:
    """The arrays one (budget, seed) experiment sees.

    Attributes
    ----------
    X_labeled, y_labeled : numpy.ndarray
        The labelled train rows of the budget.
    X_unlabeled : numpy.ndarray
        The other train rows, to be used without labels.
    y_unlabeled : numpy.ndarray
        True labels of ``X_unlabeled``. NEVER use them for training or model selection:
        they exist only to measure, e.g., the precision of pseudo-labels.
    X_val, y_val, X_test, y_test : numpy.ndarray
        The shared validation and test rows.
    labels_per_class : str
        The budget, e.g. "5" or "all".
    seed : int
        The subset's seed.
    n_classes : int or None
        The dataset's declared number of classes (``Dataset.n_classes``): the width of a
        classifier's head, whichever labels the budget happens to contain.
    """

    X_labeled: np.ndarray
    y_labeled: np.ndarray
    X_unlabeled: np.ndarray
    y_unlabeled: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    labels_per_class: str
    seed: int
    n_classes: int | None = None


def budget_view(
    dataset: Dataset,
    split_table: pd.DataFrame,
    subsets: pd.DataFrame,
    labels_per_class: int | str,
    seed: int,
) -> BudgetView:
    """Slice a dataset into the labelled, unlabelled, val and test parts of one budget.

    Parameters
    ----------
    dataset : transfer_lab.contracts.Dataset
        The data set (``X``, ``y``).
    split_table : pandas.DataFrame
        Output of :func:`stratified_split` for this dataset.
    subsets : pandas.DataFrame
        Output of :func:`label_subsets` for this dataset and split table.
    labels_per_class : int or str
        The budget.
    seed : int
        The subset's seed.

    Returns
    -------
    BudgetView
    """
    X, y = dataset.X, np.asarray(dataset.y)
    if len(X) != len(y):
        raise ValueError(f"dataset X length {len(X)} does not match y length {len(y)}")
    train = split_indices(split_table, "train")
    labeled = subset_indices(subsets, labels_per_class, seed)
    stray = np.setdiff1d(labeled, train)
    if len(stray):
        raise ValueError(
            f"subsets rows {stray[:5].tolist()} are not train rows of split_table; "
            "expected subsets built from this split table"
        )
    unlabeled = np.setdiff1d(train, labeled)
    val = split_indices(split_table, "val")
    test = split_indices(split_table, "test")
    return BudgetView(
        X_labeled=X[labeled],
        y_labeled=y[labeled],
        X_unlabeled=X[unlabeled],
        y_unlabeled=y[unlabeled],
        X_val=X[val],
        y_val=y[val],
        X_test=X[test],
        y_test=y[test],
        labels_per_class=_normalise_budget(labels_per_class),
        seed=int(seed),
        n_classes=dataset.n_classes,
    )
