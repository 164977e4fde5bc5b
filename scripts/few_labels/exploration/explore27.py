"""Exploration 27 for issue 18: the first student of `combined` with its labelled rows repeated
r times among the pseudo-labelled ones (more weight on the true labels, ~10 % of the rows at 10
labels per class, against the pseudo-labels' ~2 % errors). The teacher is the run's own choice
(combined_selection.csv); r = 1 is `combined.student` (the control). Validation only.
Usage: explore27.py DATA BUDGET SEEDS R,R,... OUT.csv   e.g. explore27.py <run>/data 10 0,1,2,3,4 1,3,10 out.csv"""
import copy
import dataclasses
import sys

import numpy as np
import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import accuracy, chosen_teacher, pseudo_labels, recipe, run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, seeds, repeats, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], \
    [int(r) for r in sys.argv[4].split(",")], sys.argv[5]
ds, split, subsets = run_data(ROOT, [budget], seeds)
chosen, encoder = chosen_teacher(ROOT, budget)
records = []
for seed in seeds:
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    teacher = pseudo_labels(encoder, view, chosen)
    n_l = len(view.y_labeled)
    for r in repeats:
        # the labelled rows r times, then the unlabelled rows with their pseudo-labels
        heavier = dataclasses.replace(view, X_labeled=np.repeat(view.X_labeled, r, axis=0),
                                      y_labeled=np.repeat(view.y_labeled, r))
        pseudo = np.concatenate([heavier.y_labeled, teacher[n_l:]])
        with conv_layout(True):
            model = cb.student(copy.deepcopy(encoder), heavier, pseudo, recipe(seed))
        records.append(dict(seed=seed, repeats=r, val=accuracy(model, view.X_val, view.y_val)))
        print(records[-1], flush=True)
        pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("repeats").val.agg(["mean", "std"]).round(4))
