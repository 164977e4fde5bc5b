"""scripts/few_labels/full_label_reference.py on small hand-made run folders."""
import subprocess
import sys
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "few_labels" / "full_label_reference.py"


def _rows(method, budget, values, pipeline):
    return [{"pipeline": pipeline, "dataset": "toy", "method": method, "metric": metric, "value": value, "split": split,
             "labels_per_class": budget, "seed": seed}
            for seed, (test, val, seconds) in enumerate(values)
            for metric, split, value in (("accuracy", "test", test), ("val_accuracy", "val", val), ("seconds", "train", seconds))]


def _combined(folder: Path, budget_values: dict) -> Path:
    (folder / "08_reporting").mkdir(parents=True)
    rows = [r for budget, values in budget_values.items() for r in _rows("combined", budget, values, "combined")]
    pd.DataFrame(rows).to_csv(folder / "08_reporting" / "combined_results.csv", index=False)
    return folder


def test_the_reference_tables_hold_each_methods_mean_and_std_over_seeds(tmp_path):
    few = _combined(tmp_path / "few", {1: [(0.5, 0.6, 10), (0.7, 0.8, 20)], 10: [(0.8, 0.9, 30), (0.9, 0.9, 40)]})
    full = _combined(tmp_path / "all", {"all": [(0.95, 0.97, 50), (0.97, 0.99, 70), (0.96, 0.98, 60)]})
    transfer = tmp_path / "transfer" / "07_model_output" / "transfer"
    transfer.mkdir(parents=True)
    # a budget other than "all" is left out of the references
    rows = _rows("scratch", "all", [(0.90, 0.92, 5), (0.94, 0.96, 7)], "transfer") + _rows("scratch", "10", [(0.1, 0.1, 1)], "transfer")
    pd.DataFrame(rows).to_parquet(transfer / "scratch_rows.parquet")

    out = subprocess.run([sys.executable, str(SCRIPT), str(few), str(full), str(tmp_path / "transfer")],
                         capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    # std is pandas' (ddof=1): 0.5, 0.7 -> 0.6000 ± 0.1414
    assert "| 1 | 0.6000 ± 0.1414 | 0.9600 ± 0.0100 | 0.9200 ± 0.0283 |" in lines
    assert "| 10 | 0.8500 ± 0.0707 | 0.9600 ± 0.0100 | 0.9200 ± 0.0283 |" in lines
    assert "| `combined`, `combined.labels.budgets=all` | 0.9600 ± 0.0100 | 0.9800 ± 0.0100 | 3 | 60 |" in lines
    assert "| `scratch` | 0.9200 ± 0.0283 | 0.9400 ± 0.0283 | 2 | 6 |" in lines
    assert "(3 seeds)" in lines[0] and "`scratch` with every label (2 seeds)" in lines[0]


def test_methods_keeps_only_the_named_transfer_rows(tmp_path):
    few = _combined(tmp_path / "few", {10: [(0.8, 0.9, 30)]})
    full = _combined(tmp_path / "all", {"all": [(0.95, 0.97, 50)]})
    transfer = tmp_path / "transfer" / "07_model_output" / "transfer"
    transfer.mkdir(parents=True)
    rows = _rows("simclr_finetune", "all", [(0.99, 0.98, 4)], "transfer") + _rows("simclr_knn", "all", [(0.97, 0.96, 1)], "transfer")
    pd.DataFrame(rows).to_parquet(transfer / "simclr_rows.parquet")

    out = subprocess.run([sys.executable, str(SCRIPT), str(few), str(full), str(tmp_path / "transfer"), "simclr_finetune"],
                         capture_output=True, text=True, check=True).stdout
    header = out.splitlines()[0]
    assert header.endswith("| `simclr_finetune` with every label (1 seeds) |")
    assert "| `simclr_finetune` | 0.9900" in out
    assert "simclr_knn" not in out
