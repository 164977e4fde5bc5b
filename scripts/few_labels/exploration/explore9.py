"""Exploration 9 for issue 18 (10 labels/class): a second student on the unlabelled rows where
the first teacher and the first student agree (agreement filtering), beside the first student.
Usage: explore9.py ROOT BUDGET SEEDS OUT.csv"""
import sys, copy, dataclasses
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.methods import combined as cb
ROOT, budget, seeds, out = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")], sys.argv[4]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [int(budget)], seeds)
enc = encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/encoders/simclr.pt", weights_only=True))
rows = []
for seed in seeds:
    view = budget_view(ds, split, sub, budget, seed); hidden = cb.without_held_out_labels(view)
    how = cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed), rounds=1, n_classes=10)
    F = lambda X: extract_features(enc, X)
    P, _ = cb.teacher(F(view.X_labeled), view.y_labeled, F(view.X_unlabeled), 20, "balanced", 10)
    nl = len(view.y_labeled); t_u = P[nl:].argmax(1)
    m1 = cb.student(copy.deepcopy(enc), hidden, P.argmax(1), how); p1 = cb._classify(m1)
    s_u = p1(view.X_unlabeled); agree = s_u == t_u
    keep = dataclasses.replace(hidden, X_unlabeled=view.X_unlabeled[agree], y_unlabeled=hidden.y_unlabeled[agree])
    m2 = cb.student(copy.deepcopy(enc), keep, np.concatenate([view.y_labeled, t_u[agree]]), how); p2 = cb._classify(m2)
    m3 = cb.student(copy.deepcopy(enc), hidden, np.concatenate([view.y_labeled, s_u]), how); p3 = cb._classify(m3)
    acc = lambda p, X, y: float((p(X) == y).mean())
    rows.append(dict(seed=seed, kept=agree.mean(), prec_teacher=(t_u == view.y_unlabeled).mean(),
                     prec_student=(s_u == view.y_unlabeled).mean(), prec_agree=(t_u[agree] == view.y_unlabeled[agree]).mean(),
                     s1_val=acc(p1, view.X_val, view.y_val), s1_test=acc(p1, view.X_test, view.y_test),
                     agree_val=acc(p2, view.X_val, view.y_val), agree_test=acc(p2, view.X_test, view.y_test),
                     own_val=acc(p3, view.X_val, view.y_val), own_test=acc(p3, view.X_test, view.y_test)))
    print(rows[-1], flush=True); pd.DataFrame(rows).to_csv(out, index=False)
print(pd.DataFrame(rows).mean().round(4))
