import math

import numpy as np
import pandas as pd
import pytest

from transfer_lab.reporting.results import (
    RESULT_COLUMNS,
    aggregate_results,
    format_budget,
    normalise_results,
    result_row,
    results_frame,
)


def _row(method="logreg_pixels", budget=5, seed=0, value=0.5, metric="accuracy"):
    return result_row(
        pipeline="evaluation", dataset="digits", method=method, metric=metric,
        value=value, labels_per_class=budget, seed=seed,
    )


def test_rows_have_the_contract_columns_in_order():
    frame = results_frame([_row()])
    assert tuple(frame.columns) == RESULT_COLUMNS
    assert frame.loc[0, "labels_per_class"] == "5"


@pytest.mark.parametrize(
    ("budget", "text"), [(1, "1"), ("all", "all"), (None, ""), ("10", "10"), (5.0, "5"), (float("nan"), "")]
)
def test_budget_text(budget, text):
    assert format_budget(budget) == text


@pytest.mark.parametrize(
    ("field", "value"),
    [("pipeline", "nope"), ("value", float("nan")), ("method", ""), ("labels_per_class", 0)],
)
def test_bad_rows_are_refused(field, value):
    kwargs = dict(pipeline="evaluation", dataset="digits", method="m", metric="accuracy", value=1.0)
    kwargs[field] = value
    with pytest.raises(ValueError, match=field if field != "labels_per_class" else "labels_per_class"):
        result_row(**kwargs)


def test_csv_round_trip_keeps_dtypes(tmp_path):
    frame = results_frame([_row(budget=1), _row(budget="all"), _row(budget=None, metric="objective")])
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    back = normalise_results(pd.read_csv(path))
    pd.testing.assert_frame_equal(back, frame)


def test_leaderboard_mean_std_count_over_seeds():
    values = [0.5, 0.7, 0.9]
    frame = results_frame([_row(seed=s, value=v) for s, v in enumerate(values)] + [_row(budget="all", value=1.0)])
    board = aggregate_results([frame])
    five = board[board["labels_per_class"] == "5"].iloc[0]
    assert five["count"] == 3
    assert math.isclose(five["mean"], np.mean(values))
    assert math.isclose(five["std"], np.std(values, ddof=1))
    single = board[board["labels_per_class"] == "all"].iloc[0]
    assert single["count"] == 1 and single["std"] == 0.0
    # budgets sort numerically with "all" last, not as text ("10" < "5")
    frame = results_frame([_row(budget=b) for b in ["all", 10, 5, 1]])
    assert aggregate_results([frame])["labels_per_class"].tolist() == ["1", "5", "10", "all"]


def test_leaderboard_of_nothing_is_empty_with_columns():
    board = aggregate_results([])
    assert board.empty and {"mean", "std", "count"} <= set(board.columns)
