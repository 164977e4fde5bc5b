"""Exploration 21 for issue 18: the label-propagation teacher of `combined` on one encoder's
features for any k (conf/base's grid is 5-40; at 10 labels/class k = 5, its lower edge, won on
the stop-28 run). Every assignment, label seeds 0-4. Validation only; test is not read.
Usage: explore21.py DATA ENCODER BUDGET K,K,... OUT.csv   e.g. explore21.py <run>/data simclr 10 2,3,4,5 out.csv"""
import sys

import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.encoders import encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.training import extract_features  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, name, budget, ks, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(k) for k in sys.argv[4].split(",")], sys.argv[5]
ds, split, subsets = run_data(ROOT, [budget], [0, 1, 2, 3, 4])
encoder = encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/encoders/{name}.pt", weights_only=True))
records = []
for seed in range(5):
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    F_l, F_u, F_v = (extract_features(encoder, X) for X in (view.X_labeled, view.X_unlabeled, view.X_val))
    for k in ks:
        for assignment in ("argmax", "class_mass", "balanced"):
            _, predict = cb.teacher(F_l, view.y_labeled, F_u, k, assignment, 10)
            records.append(dict(seed=seed, k=k, assignment=assignment, val=float((predict(F_v) == view.y_val).mean())))
table = pd.DataFrame(records)
table.to_csv(out, index=False)
print(table.groupby(["assignment", "k"]).val.mean().unstack().round(4))
