"""Exploration 23 for issue 18: the two first students `select_student` already trains per
budget and seed (encoder lr 1e-4 and 3e-4, the `combined` recipe otherwise), their softmax
averaged: an ensemble that would cost the pipeline nothing more. The teacher is the run's own
choice (combined_selection.csv). Validation only; test is not read.
Usage: explore23.py DATA BUDGET SEEDS OUT.csv"""
import copy
import sys

import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import chosen_teacher, pseudo_labels, recipe, run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, seeds, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], sys.argv[4]
ds, split, subsets = run_data(ROOT, [budget], seeds)
chosen, encoder = chosen_teacher(ROOT, budget)


def softmax(model, X):
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(X, dtype=torch.float32)), dim=1).numpy()


records = []
for seed in seeds:
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    pseudo = pseudo_labels(encoder, view, chosen)
    probs = {}
    for lr in (1e-4, 3e-4):
        with conv_layout(True):
            probs[f"lr{lr:g}"] = softmax(cb.student(copy.deepcopy(encoder), view, pseudo, recipe(seed, encoder_lr=lr)),
                                         view.X_val)
    probs["ensemble"] = (probs["lr0.0001"] + probs["lr0.0003"]) / 2
    for arm, p in probs.items():
        records.append(dict(seed=seed, arm=arm, val=float((p.argmax(1) == view.y_val).mean())))
        print(records[-1], flush=True)
    pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("arm", sort=False).val.agg(["mean", "std"]).round(4))
