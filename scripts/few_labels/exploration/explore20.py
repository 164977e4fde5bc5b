"""Exploration 20 for issue 18: the first student of `combined` with encoder learning rates
below the grid's edge (conf/base offers 1e-4 and 3e-4; 1e-4, the lower edge, won on both
budgets). The teacher is the run's own choice (combined_selection.csv); the recipe is
combined's (60 epochs, patience 20, strength 0.5, NHWC). Validation only.
Usage: explore20.py DATA BUDGET SEEDS LRS OUT.csv   e.g. explore20.py <run>/data 10 0,1,2,3,4 1e-4,5e-5,3e-5 out.csv"""
import copy
import sys
import time

import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import accuracy, chosen_teacher, pseudo_labels, recipe, run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, seeds, lrs, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], \
    [float(x) for x in sys.argv[4].split(",")], sys.argv[5]
ds, split, subsets = run_data(ROOT, [budget], seeds)
chosen, encoder = chosen_teacher(ROOT, budget)
records = []
for seed in seeds:
    hidden = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    pseudo = pseudo_labels(encoder, hidden, chosen)
    for lr in lrs:
        start = time.process_time()
        with conv_layout(True):
            model = cb.student(copy.deepcopy(encoder), hidden, pseudo, recipe(seed, encoder_lr=lr))
        record = dict(seed=seed, encoder_lr=lr, val=accuracy(model, hidden.X_val, hidden.y_val),
                      cpu_s=round(time.process_time() - start, 1))
        records.append(record)
        print(record, flush=True)
        pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("encoder_lr").val.agg(["mean", "std"]).round(4))
