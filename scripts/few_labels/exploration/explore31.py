"""Exploration 31 for issue 18: does `choose_stage` favour the students unfairly? It keeps the
stage (teacher_1, student_1, teacher_2, student_2) of best mean validation accuracy, but a
student's validation accuracy is that of the epoch the same rows chose, optimistic by about
0.7 points at 10 labels per class (explore30), while a teacher's is not. A fair comparison
scores each student cross-fitted: its epoch chosen on one half of the validation rows
(patience 20 emulated on the epochs it trained), scored on the other, both ways round.

For each SimCLR checkpoint given (NAME=PATH), as `combined` runs it with that encoder: the
teacher on conf/base's grid (k 5-40, every assignment; best mean val over the label seeds,
ties to the first), the first student (encoder lr 1e-4, strength 0.5: the run's choice), the
teacher on its features, the second student; every student's softmax on the validation and
test rows recorded after each epoch. Per checkpoint and budget, the stage each rule keeps:
`val` (the pipeline's: mean val accuracy, ties to the earlier stage) and `fair` (students
scored cross-fitted), and that stage's test accuracy, printed once at the end.
The run's own checkpoint is the control: its val accuracies reproduce the run's
combined_stages.csv (whose test column had been read before this script was written); the
other checkpoints are pretraining draws whose stage accuracies had not been measured.
Usage: explore31.py DATA NAME=PATH[,NAME=PATH...] OUT.csv"""
import copy
import sys

import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import recorded_student, run_data, select_teacher  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.encoders import encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.training import extract_features  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, checkpoints, out = sys.argv[1], dict(a.split("=") for a in sys.argv[2].split(",")), sys.argv[3]
K, ASSIGNMENTS, SEEDS, PATIENCE = [5, 10, 20, 30, 40], ["argmax", "class_mass", "balanced"], range(5), 20
ds, split, subsets = run_data(ROOT, [1, 10], list(SEEDS))


def views(budget):
    return [cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed)) for seed in SEEDS]


def teacher_stage(encoder, view, k, assignment, y_test):
    F_l, F_u = extract_features(encoder, view.X_labeled), extract_features(encoder, view.X_unlabeled)
    P, predict = cb.teacher(F_l, view.y_labeled, F_u, k, assignment, 10)
    val = predict(extract_features(encoder, view.X_val))
    test = predict(extract_features(encoder, view.X_test))
    return P.argmax(1), float((val == view.y_val).mean()), float((test == y_test).mean())


def student_stage(encoder, view, pseudo, seed, y_test):
    """The student as cb.student trains it; the val softmax of every epoch it trained; its val and test accuracy."""
    model, record = recorded_student(encoder, view, pseudo, seed)
    val, test = (cb._classify(model)(X) for X in (view.X_val, view.X_test))
    return model, record, float((val == view.y_val).mean()), float((test == y_test).mean())


records = []
for name, path in checkpoints.items():
    with conv_layout(True):
        encoder = encoder_from_checkpoint(torch.load(path, weights_only=True))
    for budget in (10, 1):
        budget_views = views(budget)
        k, assignment = select_teacher(encoder, budget_views, K, ASSIGNMENTS)
        print(f"{name} @ {budget}: teacher k={k}, {assignment}", flush=True)
        for seed, view in zip(SEEDS, budget_views):
            y_test = budget_view(ds, split, subsets, budget, seed).y_test  # the hidden view's are -1: scoring only
            row = dict(checkpoint=name, labels_per_class=budget, seed=seed, k=k, assignment=assignment)
            pseudo, row["teacher_1_val"], row["teacher_1_test"] = teacher_stage(encoder, view, k, assignment, y_test)
            with conv_layout(True):
                model, P, row["student_1_val"], row["student_1_test"] = student_stage(copy.deepcopy(encoder), view, pseudo, seed, y_test)
            row["student_1_fair"] = cb.crossfit_accuracy(P, view.y_val, PATIENCE)
            pseudo, row["teacher_2_val"], row["teacher_2_test"] = teacher_stage(model.encoder, view, k, assignment, y_test)
            with conv_layout(True):
                _, P, row["student_2_val"], row["student_2_test"] = student_stage(copy.deepcopy(encoder), view, pseudo, seed, y_test)
            row["student_2_fair"] = cb.crossfit_accuracy(P, view.y_val, PATIENCE)
            records.append(row)
            print({key: (round(v, 4) if isinstance(v, float) and not key.endswith("_test") else v)
                   for key, v in row.items() if not key.endswith("_test")}, flush=True)
            pd.DataFrame(records).to_csv(out, index=False)

table = pd.DataFrame(records)
STAGES = ["teacher_1", "student_1", "teacher_2", "student_2"]
lines = []
for (name, budget), rows in table.groupby(["checkpoint", "labels_per_class"], sort=False):
    val = {s: rows[f"{s}_val"].mean() for s in STAGES}
    fair = {s: rows[f"{s}_fair" if s.startswith("student") else f"{s}_val"].mean() for s in STAGES}
    pick_val, pick_fair = max(STAGES, key=lambda s: val[s]), max(STAGES, key=lambda s: fair[s])  # first of ties
    lines.append(dict(checkpoint=name, labels_per_class=budget,
                      **{f"val {s}": round(val[s], 4) for s in STAGES}, **{f"fair {s}": round(fair[s], 4) for s in STAGES},
                      val_rule=pick_val, fair_rule=pick_fair,
                      val_rule_test=round(rows[f"{pick_val}_test"].mean(), 4), fair_rule_test=round(rows[f"{pick_fair}_test"].mean(), 4)))
print(pd.DataFrame(lines).to_string(index=False))
