"""Markdown tables of the full-label references beside a combined run (issue 18), from
project data folders; nothing typed by hand:

    python scripts/few_labels/full_label_reference.py FEW ALL [TRANSFER [METHODS]]

FEW: the data folder of a ``combined`` run on the few-label budgets; ALL: of the same
pipeline run with ``combined.labels.budgets=all``; TRANSFER (optional): of a ``transfer`` run
on the budget ``all`` (its ``07_model_output/transfer/*_rows.parquet``: every
``<encoder>_<protocol>`` and ``scratch`` row found there, or only the comma-separated
METHODS, e.g. ``simclr_finetune`` for a default run's data folder). Prints the references beside
each few-label budget (test accuracy, mean ± std over seeds), then every reference's test
and val accuracy, seeds and training seconds per seed.
"""
import glob
import sys

import pandas as pd

from table_format import pm


def combined_rows(data: str, name: str) -> pd.DataFrame:
    rows = pd.read_csv(f"{data}/08_reporting/combined_results.csv")
    return rows.assign(method=name, labels_per_class=rows["labels_per_class"].astype(str))


SAME = "combined"  # the same pipeline, combined.labels.budgets=all
few = combined_rows(sys.argv[1], "combined")
references = [combined_rows(sys.argv[2], SAME)]
if len(sys.argv) > 3:
    for path in sorted(glob.glob(f"{sys.argv[3]}/07_model_output/transfer/*_rows.parquet")):
        rows = pd.read_parquet(path)
        if len(sys.argv) > 4:
            rows = rows[rows["method"].isin(sys.argv[4].split(","))]
        references.append(rows.assign(labels_per_class=rows["labels_per_class"].astype(str)))
reference = pd.concat(references, ignore_index=True)
reference = reference[reference["labels_per_class"] == "all"]
methods = list(dict.fromkeys(reference["method"]))


def metric(rows: pd.DataFrame, method: str, name: str) -> pd.Series:
    return rows[(rows["method"] == method) & (rows["metric"] == name)]["value"]


def seeds(rows: pd.DataFrame, method: str) -> int:
    return rows[rows["method"] == method]["seed"].nunique()


n_few = few["seed"].nunique()
header = [f"`combined` ({n_few} seeds)", *(f"the same pipeline with every train label ({seeds(reference, m)} seeds)" if m == SAME
                                             else f"`{m}` with every label ({seeds(reference, m)} seeds)" for m in methods)]
print("| labels/class | " + " | ".join(header) + " |")
print("| --- | " + " | ".join("---" for _ in header) + " |")
for budget, rows in few.groupby("labels_per_class", sort=False):
    cells = [pm(metric(rows, "combined", "accuracy")), *(pm(metric(reference, m, "accuracy")) for m in methods)]
    print(f"| {budget} | " + " | ".join(cells) + " |")

print("\nEvery reference (every train label; mean ± std over seeds):\n")
print("| method | test accuracy | val accuracy | seeds | seconds per seed |")
print("| --- | --- | --- | --- | --- |")
for m in methods:
    name = "`combined`, `combined.labels.budgets=all`" if m == SAME else f"`{m}`"
    print(f"| {name} | {pm(metric(reference, m, 'accuracy'))} | {pm(metric(reference, m, 'val_accuracy'))} | "
          f"{seeds(reference, m)} | {metric(reference, m, 'seconds').mean():.0f} |")
