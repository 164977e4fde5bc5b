"""Exploration 22 for issue 18: the first student of `combined` on soft targets instead of the
teacher's hard, balanced pseudo-labels (SimCLRv2 distils the teacher's distribution, Chen et al.
2020, eq. 2). The teacher is the run's own choice (combined_selection.csv); label propagation's
distribution is the `argmax` teacher's P (the same graph, before any assignment).
Arms, for the unlabelled rows' targets (labelled rows keep their one-hot labels):
  hard       one-hot balanced pseudo-labels: `combined.student` as the pipeline trains it
  smooth     hard with label smoothing 0.1 (0.9 on the label, 0.01 on each other class)
  lp_T       label propagation's distribution sharpened: P^(1/T), rows renormalised
  mix_T      ½ one-hot balanced + ½ lp_T
Validation only; test is not read.
Usage: explore22.py DATA BUDGET SEEDS ARMS OUT.csv   e.g. explore22.py <run>/data 10 0,1,2,3,4 hard,smooth,lp_0.5,mix_0.5 out.csv"""
import dataclasses
import sys
import time

import numpy as np
import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import accuracy, chosen_teacher, recipe, run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.training import extract_features  # noqa: E402
from transfer_lab.methods.transfer import finetune  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, seeds, arms, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], \
    sys.argv[4].split(","), sys.argv[5]


def sharpen(P, T):
    Q = np.maximum(P, 1e-12) ** (1 / T)
    return Q / Q.sum(axis=1, keepdims=True)


def targets(arm, hard, lp):
    onehot = np.eye(10)[hard]
    if arm == "hard":
        return hard
    if arm == "smooth":
        return 0.9 * onehot + 0.1 / 10
    kind, T = arm.split("_")
    soft = sharpen(lp, float(T))
    return soft if kind == "lp" else 0.5 * onehot + 0.5 * soft


ds, split, subsets = run_data(ROOT, [budget], seeds)
chosen, encoder = chosen_teacher(ROOT, budget)
records = []
for seed in seeds:
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    F_l, F_u = extract_features(encoder, view.X_labeled), extract_features(encoder, view.X_unlabeled)
    k, n_l = int(chosen.n_neighbors), len(view.y_labeled)
    hard = cb.teacher(F_l, view.y_labeled, F_u, k, chosen.assignment, 10)[0].argmax(1)[n_l:]
    lp = cb.teacher(F_l, view.y_labeled, F_u, k, "argmax", 10)[0][n_l:]
    rows = np.concatenate([view.X_labeled, view.X_unlabeled])
    for arm in arms:
        start = time.process_time()
        y_u = targets(arm, hard, lp)
        y_l = view.y_labeled if y_u.ndim == 1 else np.eye(10)[view.y_labeled]
        taught = dataclasses.replace(view, X_labeled=rows, y_labeled=np.concatenate([y_l, y_u]).astype(
            np.int64 if y_u.ndim == 1 else np.float32), X_test=view.X_val, y_test=view.y_val)
        torch.manual_seed(seed)  # the head's initialisation, as combined.student
        with conv_layout(True):
            model = finetune(encoder, taught, config=recipe(seed).config,
                             encoder_lr=1e-4, augmentations=True, strength=0.5, n_classes=10).model
        record = dict(seed=seed, arm=arm, val=accuracy(model, view.X_val, view.y_val),
                      agree=float((lp.argmax(1) == hard).mean()), cpu_s=round(time.process_time() - start, 1))
        records.append(record)
        print(record, flush=True)
        pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("arm", sort=False).val.agg(["mean", "std"]).round(4))
