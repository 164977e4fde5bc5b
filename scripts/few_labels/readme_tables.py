"""Markdown tables of a combined run for the README (issue 18), from a project's data folder:

    python scripts/few_labels/readme_tables.py /path/to/project/data

Results per budget (mean ± std over seeds of the val-chosen stage), the selections (teacher,
student), every stage, and the ablation. Nothing here is typed by hand.
"""
import sys

import pandas as pd

from table_format import pm

data = sys.argv[1]
results = pd.read_csv(f"{data}/08_reporting/combined_results.csv")
selection = pd.read_csv(f"{data}/08_reporting/combined_selection.csv")
stages = pd.read_csv(f"{data}/08_reporting/combined_stages.csv")
try:
    students = pd.read_csv(f"{data}/08_reporting/combined_student_selection.csv")
except FileNotFoundError:  # a run before the select_student node
    students = None
try:
    ablation = pd.read_csv(f"{data}/08_reporting/combined_ablation.csv")
except FileNotFoundError:  # a run without the ablate node
    ablation = None


print(f"**{results['dataset'].iloc[0]}**, {results['seed'].nunique()} seeds\n")
print("| labels/class | test accuracy | val accuracy | teacher chosen on val | student chosen on val | final stage chosen on val | pseudo-label precision | seconds (all stages, per seed) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for budget, rows in results.groupby("labels_per_class", sort=False):
    m = {k: g["value"] for k, g in rows.groupby("metric")}
    chosen = selection[(selection["labels_per_class"].astype(str) == str(budget)) & selection["selected"]].iloc[0]
    stage = stages[(stages["labels_per_class"].astype(str) == str(budget)) & stages["selected"]]["stage"].iloc[0]
    precision = pm(m["pseudo_label_precision"]) if "pseudo_label_precision" in m else "–"
    student = "–"
    if students is not None:
        s = students[(students["labels_per_class"].astype(str) == str(budget)) & students["selected"]].iloc[0]
        student = f"encoder lr {s.encoder_lr:g}, strength {s.strength:g}"
    print(f"| {budget} | {pm(m['accuracy'])} | {pm(m['val_accuracy'])} | {chosen.encoder}, k={chosen.n_neighbors}, "
          f"{chosen.assignment} | {student} | {stage} | {precision} | {m['seconds'].mean():.0f} |")

print("\nEvery stage (mean over seeds; fair val: a student's cross-fitted, what chooses the final stage; "
      "precision = pseudo-labels right on the unlabelled rows):\n")
fair = "fair_val_accuracy" in stages  # runs before stop 30 chose the stage on plain val
print("| labels/class | stage | val |" + (" fair val |" if fair else "") + " test | precision |")
print("| --- | --- | --- |" + (" --- |" if fair else "") + " --- | --- |")
for (budget, stage), rows in stages.groupby(["labels_per_class", "stage"], sort=False):
    precision = f"{rows['precision'].mean():.4f}" if rows["precision"].notna().any() else "–"
    fair_val = f" {rows['fair_val_accuracy'].mean():.4f} |" if fair else ""
    print(f"| {budget} | {stage} | {rows['val_accuracy'].mean():.4f} |{fair_val} {rows['accuracy'].mean():.4f} | {precision} |")

print("\nSelection (mean val accuracy over seeds of each candidate teacher):\n")
table = selection.groupby(["labels_per_class", "encoder", "n_neighbors", "assignment"])["val_accuracy"].mean().unstack("assignment")
print("| labels/class | encoder | k | " + " | ".join(table.columns) + " |")
print("| --- | --- | --- | " + " | ".join("---" for _ in table.columns) + " |")
for (budget, encoder, k), row in table.iterrows():
    print(f"| {budget} | {encoder} | {k} | " + " | ".join(f"{v:.4f}" for v in row) + " |")

if students is not None and students["val_accuracy"].notna().any():
    print("\nStudent selection (mean val accuracy over seeds of a first-round student per setting):\n")
    means = students.groupby(["labels_per_class", "encoder_lr", "strength"])["val_accuracy"].mean().unstack("strength")
    print("| labels/class | encoder lr | " + " | ".join(f"strength {c:g}" for c in means.columns) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in means.columns) + " |")
    for (budget, lr), row in means.iterrows():
        print(f"| {budget} | {lr:g} | " + " | ".join(f"{v:.4f}" for v in row) + " |")

if ablation is None:
    sys.exit(0)
print("\nAblation (test accuracy, mean ± std over seeds; val mean):\n")
print("| variant | labels/class | test | val | seeds |")
print("| --- | --- | --- | --- | --- |")
for r in ablation.itertuples():
    print(f"| {r.variant} | {r.labels_per_class} | {r.test_mean:.4f} ± {r.test_std:.4f} | {r.val_mean:.4f} | {r.n_seeds} |")
