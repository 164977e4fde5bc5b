"""scripts/few_labels/missed_test_digits.py's tabulation on hand-made predictions."""
import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "few_labels" / "missed_test_digits.py"
spec = importlib.util.spec_from_file_location("missed_test_digits", SCRIPT)
missed_test_digits = importlib.util.module_from_spec(spec)
spec.loader.exec_module(missed_test_digits)


def test_missed_rows_lists_each_wrong_row_once_most_missed_first():
    y = np.array([0, 1, 2, 3, 4])
    predictions = {0: np.array([0, 7, 2, 3, 9]), 1: np.array([0, 7, 2, 8, 4]), 2: np.array([0, 7, 2, 3, 4])}
    table = missed_test_digits.missed_rows(predictions, y)
    assert table["row"].tolist() == [1, 3, 4]  # row 1 missed by all three seeds, then rows 3 and 4 (one seed each)
    assert table["missed_by"].tolist() == [3, 1, 1]
    assert table["true"].tolist() == [1, 3, 4]
    assert table.loc[table["row"] == 3, "seed_1"].item() == 8
    # only row 1 is missed on every seed: the bound is 4 right of 5
    assert missed_test_digits.always_missed_bound(table, n_seeds=3, n_test=5) == 0.8


def test_no_missed_row_gives_an_empty_table_and_a_perfect_bound():
    y = np.arange(4)
    table = missed_test_digits.missed_rows({0: y.copy(), 1: y.copy()}, y)
    assert table.empty
    assert missed_test_digits.always_missed_bound(table, n_seeds=2, n_test=4) == 1.0
