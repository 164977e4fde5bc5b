"""Exploration 32 for issue 18: is the 10-label result a property of the method or of the
default run's pretraining draw? On four other SimCLR draws of conf/base's recipe (explore31)
the method's val-chosen stage scores 0.983-0.989 at 10 labels per class, against 0.9928 on the
run's own draw. A deep ensemble over pretraining draws is the one remedy not yet measured: each
draw runs the whole method (teacher chosen on val per draw, as explore31; two rounds; the
final stage of best mean fair val, as `combined.choose_stage`), and the ensemble averages the
final classifiers' class probabilities (a teacher's: the mean label distribution of its k
nearest train rows; a student's: its softmax).

Part 1 (`run`): one draw, saving every stage's probabilities on the val and test rows, every
seed and budget, to DRAW.npz (test labels are not read there).
Part 2 (`score`): the rule fixed before any ensemble was scored — each draw's val-chosen final
classifier, averaged over every triple of the draws given — and its test accuracy, beside the
single draws'.
Usage: explore32.py run DATA NAME=PATH OUT_DIR | explore32.py score DATA OUT_DIR NAME[,NAME...]"""
import copy
import itertools
import sys

import numpy as np
import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import recorded_student, run_data, select_teacher  # noqa: E402
from sklearn.neighbors import NearestNeighbors  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.encoders import encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.training import extract_features  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

K, ASSIGNMENTS, SEEDS, BUDGETS, PATIENCE = [5, 10, 20, 30, 40], ["argmax", "class_mass", "balanced"], range(5), (10, 1), 20
STAGES = ["teacher_1", "student_1", "teacher_2", "student_2"]


def teacher_probabilities(encoder, view, k, assignment):
    """Pseudo-labels of the train rows, and the teacher's class probabilities on val and test
    (the mean distribution of the k nearest train rows, as `cb.teacher`'s predictor averages)."""
    F_l, F_u = extract_features(encoder, view.X_labeled), extract_features(encoder, view.X_unlabeled)
    P, _ = cb.teacher(F_l, view.y_labeled, F_u, k, assignment, 10)
    F = np.concatenate([F_l, F_u])
    normal = cb.cosine_features(F)
    index = NearestNeighbors(n_neighbors=k).fit(normal(F))
    return P.argmax(1), [P[index.kneighbors(normal(extract_features(encoder, X)), return_distance=False)].mean(1)
                         for X in (view.X_val, view.X_test)]


def student_probabilities(encoder, view, pseudo, seed):
    """The student as `cb.fit_student` trains it; its cross-fitted val accuracy and its softmax on val and test."""
    model, record = recorded_student(encoder, view, pseudo, seed)
    model.eval()
    with torch.no_grad():
        probabilities = [torch.softmax(model(torch.as_tensor(X, dtype=torch.float32)), 1).numpy()
                         for X in (view.X_val, view.X_test)]
    return model, cb.crossfit_accuracy(record, view.y_val, PATIENCE), probabilities


def run(root, name, path, out_dir):
    ds, split, subsets = run_data(root, list(BUDGETS), list(SEEDS))
    with conv_layout(True):
        encoder = encoder_from_checkpoint(torch.load(path, weights_only=True))
    saved = {}
    for budget in BUDGETS:
        views = [cb.without_held_out_labels(budget_view(ds, split, subsets, budget, s)) for s in SEEDS]
        k, assignment = select_teacher(encoder, views, K, ASSIGNMENTS)
        print(f"{name} @ {budget}: teacher k={k}, {assignment}", flush=True)
        for seed, view in zip(SEEDS, views):
            key = f"b{budget}_s{seed}"
            pseudo, (saved[f"{key}_teacher_1_val"], saved[f"{key}_teacher_1_test"]) = teacher_probabilities(encoder, view, k, assignment)
            saved[f"{key}_teacher_1_fair"] = np.mean(saved[f"{key}_teacher_1_val"].argmax(1) == view.y_val)
            with conv_layout(True):
                model, saved[f"{key}_student_1_fair"], (saved[f"{key}_student_1_val"], saved[f"{key}_student_1_test"]) = \
                    student_probabilities(copy.deepcopy(encoder), view, pseudo, seed)
            pseudo, (saved[f"{key}_teacher_2_val"], saved[f"{key}_teacher_2_test"]) = teacher_probabilities(model.encoder, view, k, assignment)
            saved[f"{key}_teacher_2_fair"] = np.mean(saved[f"{key}_teacher_2_val"].argmax(1) == view.y_val)
            with conv_layout(True):
                _, saved[f"{key}_student_2_fair"], (saved[f"{key}_student_2_val"], saved[f"{key}_student_2_test"]) = \
                    student_probabilities(copy.deepcopy(encoder), view, pseudo, seed)
            print(name, key, {s: round(float(saved[f"{key}_{s}_fair"]), 4) for s in STAGES}, flush=True)
            np.savez(f"{out_dir}/{name}.npz", **saved)


def ensemble_table(root, out_dir, names):
    """Val and test accuracy (mean over label seeds; test std) of every single draw and every
    triple of draws, each draw's final classifier the stage of best mean fair val."""
    ds, split, subsets = run_data(root, list(BUDGETS), list(SEEDS))
    draws = {n: dict(np.load(f"{out_dir}/{n}.npz")) for n in names}
    rows = []
    for budget in BUDGETS:
        truth = {s: budget_view(ds, split, subsets, budget, s) for s in SEEDS}  # scoring only
        final = {}
        for n, saved in draws.items():  # each draw's val-chosen stage (mean fair val, ties to the earlier)
            fair = {st: np.mean([saved[f"b{budget}_s{s}_{st}_fair"] for s in SEEDS]) for st in STAGES}
            final[n] = max(STAGES, key=lambda st: fair[st])
        def accuracy(members, split_name):
            y = {s: getattr(truth[s], f"y_{split_name}") for s in SEEDS}
            return [float(np.mean(sum(draws[n][f"b{budget}_s{s}_{final[n]}_{split_name}"] for n in members).argmax(1) == y[s]))
                    for s in SEEDS]
        for size in (1, 3):
            for members in itertools.combinations(names, size):
                test, val = accuracy(members, "test"), accuracy(members, "val")
                rows.append(dict(labels_per_class=budget, members="+".join(members), stages="+".join(final[n] for n in members),
                                 size=size, val=np.mean(val), test=np.mean(test), test_std=np.std(test, ddof=1)))
    return pd.DataFrame(rows)


def score(root, out_dir, names):
    table = ensemble_table(root, out_dir, names)
    print(table.round(4).to_string(index=False))
    print(table.groupby(["labels_per_class", "size"])[["val", "test"]].mean().round(4).to_string())


if __name__ == "__main__":
    if sys.argv[1] == "run":
        name, path = sys.argv[3].split("=")
        run(sys.argv[2], name, path, sys.argv[4])
    else:
        score(sys.argv[2], sys.argv[3], sys.argv[4].split(","))
