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
from transfer_lab.datasets.tree_dataset import TreeDataset  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.encoders import encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.training import TrainConfig, extract_features  # noqa: E402
from transfer_lab.sources.splits import budget_view, label_subsets  # noqa: E402

ROOT, budget, seeds, repeats, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], \
    [int(r) for r in sys.argv[4].split(",")], sys.argv[5]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
subsets = label_subsets(ds.y, split, [budget], seeds)
chosen = pd.read_csv(f"{ROOT}/08_reporting/combined_selection.csv")
chosen = chosen[chosen.selected & (chosen.labels_per_class == budget)].iloc[0]
with conv_layout(True):
    encoder = encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/encoders/{chosen.encoder}.pt", weights_only=True))
records = []
for seed in seeds:
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    F_l = extract_features(encoder, view.X_labeled)
    P, _ = cb.teacher(F_l, view.y_labeled, extract_features(encoder, view.X_unlabeled), int(chosen.n_neighbors),
                      chosen.assignment, 10)
    n_l = len(view.y_labeled)
    for r in repeats:
        # the labelled rows r times, then the unlabelled rows with their pseudo-labels
        heavier = dataclasses.replace(view, X_labeled=np.repeat(view.X_labeled, r, axis=0),
                                      y_labeled=np.repeat(view.y_labeled, r))
        pseudo = np.concatenate([heavier.y_labeled, P.argmax(1)[n_l:]])
        how = cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed), rounds=1,
                                  n_classes=10)
        with conv_layout(True):
            model = cb.student(copy.deepcopy(encoder), heavier, pseudo, how)
        records.append(dict(seed=seed, repeats=r, val=float((cb._classify(model)(view.X_val) == view.y_val).mean())))
        print(records[-1], flush=True)
        pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("repeats").val.agg(["mean", "std"]).round(4))
