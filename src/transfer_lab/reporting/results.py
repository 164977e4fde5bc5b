"""The shared results table: one long table of measurements per pipeline.

Every pipeline writes ``data/08_reporting/<pipeline>_results.csv`` in the format below
(see ARCHITECTURE.md, "Results table"), so that the ``evaluation`` pipeline can put every
family of methods on one leaderboard. Rows are built with :func:`result_row` and turned
into a frame with :func:`results_frame`; nothing else should invent columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

RESULT_COLUMNS: tuple[str, ...] = (
    "pipeline",
    "dataset",
    "method",
    "labels_per_class",
    "seed",
    "metric",
    "value",
    "split",
)
PIPELINES: tuple[str, ...] = (
    "evaluation",
    "dictionary",
    "pretraining",
    "transfer",
    "taskonomy",
    "semi_supervised",
    "regularisation",
    "combined",
)
# The columns that identify a measurement once seeds are averaged away.
LEADERBOARD_KEYS: tuple[str, ...] = ("pipeline", "dataset", "method", "labels_per_class", "metric", "split")


def format_budget(labels_per_class: int | str | None) -> str:
    """Canonical text of a label budget: ``"5"``, ``"all"``, or ``""`` when no labels are used."""
    if labels_per_class is None or (isinstance(labels_per_class, float) and np.isnan(labels_per_class)):
        return ""
    if isinstance(labels_per_class, str):
        text = labels_per_class.strip()
        if text in ("", "all"):
            return text
        labels_per_class = int(float(text))
    if isinstance(labels_per_class, (bool, np.bool_)) or int(labels_per_class) <= 0:
        raise ValueError(f"labels_per_class must be a positive integer, 'all' or None (got {labels_per_class!r})")
    return str(int(labels_per_class))


def result_row(
    *,
    pipeline: str,
    dataset: str,
    method: str,
    metric: str,
    value: float,
    split: str = "test",
    labels_per_class: int | str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """One measurement of the results table, with its fields checked.

    Parameters
    ----------
    pipeline : str
        One of :data:`PIPELINES`.
    dataset : str
        ``digits``, ``mnist1d``, ``mnist``, … or a domain pair ``digits->digits_rotated``.
    method : str
        snake_case method name, e.g. ``logreg_pixels``.
    metric : str
        ``accuracy``, ``psnr``, ``objective``, ``seconds``, …
    value : float
        The measurement; must be finite.
    split : str
        The data the value was measured on: ``test``, ``val``, ``target_test``, …
    labels_per_class : int, "all" or None
        The label budget, None where no labels are involved.
    seed : int
        The seed of the label subset (and of the method).
    """
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be one of {', '.join(PIPELINES)} (got {pipeline!r})")
    for name, text in (("dataset", dataset), ("method", method), ("metric", metric), ("split", split)):
        if not isinstance(text, str) or not text:
            raise ValueError(f"{name} must be a non-empty string (got {text!r})")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"value of {method}/{metric} must be finite (got {value})")
    return {
        "pipeline": pipeline,
        "dataset": dataset,
        "method": method,
        "labels_per_class": format_budget(labels_per_class),
        "seed": int(seed),
        "metric": metric,
        "value": value,
        "split": split,
    }


def results_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A results table with exactly :data:`RESULT_COLUMNS`, in that order and with fixed dtypes."""
    frame = pd.DataFrame(list(rows), columns=list(RESULT_COLUMNS))
    return normalise_results(frame)


def normalise_results(frame: pd.DataFrame) -> pd.DataFrame:
    """Give a results table read back from CSV the dtypes it was written with.

    A CSV round trip turns budgets into numbers ("5" → 5.0, "" → NaN); the table's
    identity columns are text so that ``5`` and ``all`` live in one column.
    """
    missing = [column for column in RESULT_COLUMNS if column not in frame.columns]
    if missing:
        raise ValueError(f"results table lacks columns {missing}; expected {list(RESULT_COLUMNS)}")
    frame = frame.loc[:, list(RESULT_COLUMNS)].copy()
    for column in ("pipeline", "dataset", "method", "metric", "split"):
        frame[column] = frame[column].astype(str)
    frame["labels_per_class"] = [format_budget(b) for b in frame["labels_per_class"]]
    frame["seed"] = frame["seed"].astype("int64")
    frame["value"] = frame["value"].astype("float64")
    return frame.reset_index(drop=True)


def budget_sort_key(labels_per_class: str) -> float:
    """Sort budgets numerically with ``all`` last and label-free rows first."""
    if labels_per_class == "":
        return -1.0
    if labels_per_class == "all":
        return float("inf")
    return float(labels_per_class)


def aggregate_results(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The leaderboard: mean, std and count over seeds of every measurement.

    Parameters
    ----------
    frames : iterable of DataFrame
        Results tables (any number, e.g. one per pipeline).

    Returns
    -------
    DataFrame
        Columns :data:`LEADERBOARD_KEYS` + ``mean``, ``std`` (sample std, 0 for a single
        seed) and ``count``; sorted by pipeline, dataset, metric, method and budget.
    """
    tables = [normalise_results(frame) for frame in frames if len(frame)]
    if not tables:
        return pd.DataFrame(columns=[*LEADERBOARD_KEYS, "mean", "std", "count"])
    table = pd.concat(tables, ignore_index=True)
    grouped = table.groupby(list(LEADERBOARD_KEYS), sort=False)["value"]
    board = grouped.agg(mean="mean", std="std", count="count").reset_index()
    board["std"] = board["std"].fillna(0.0)
    board["_budget"] = board["labels_per_class"].map(budget_sort_key)
    board = board.sort_values(["pipeline", "dataset", "metric", "method", "_budget", "split"])
    return board.drop(columns="_budget").reset_index(drop=True)


def concat_results(*tables: pd.DataFrame) -> pd.DataFrame:
    """One results table from several nodes' tables (a pipeline's final node)."""
    return normalise_results(pd.concat(tables, ignore_index=True))
