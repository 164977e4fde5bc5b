"""Exploration 18 (issue 18): does the label-propagation teacher of `combined` gain from the
features of both label-free encoders at once? Teacher (k in 5/10/20, each assignment) on
SimCLR's features, MoCo's, and their concatenation (each encoder's features L2-normalised
first, so both weigh the same), at 1 and 10 labels per class, label seeds 0-4, on the
checkpoints of a default run. Validation accuracy only; the test split is not read.
Usage: explore18.py DATA OUT.csv [K,K,...]   (DATA: a run's data/ folder; k default 5,10,20)"""
import sys
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import extract_features
from transfer_lab.methods import combined as cb
ROOT, out = sys.argv[1], sys.argv[2]
K = [int(k) for k in sys.argv[3].split(",")] if len(sys.argv) > 3 else [5, 10, 20]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
encoders = {name: encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/pretraining/{name}/{name}.pt", weights_only=False)).eval()
            for name in ("simclr", "moco")}
unit = lambda F: F / np.linalg.norm(F, axis=1, keepdims=True).clip(1e-12)
sub = make_subsets(ds.y, split, [1, 10], [0, 1, 2, 3, 4])
rows = []
for budget in (1, 10):
    for s in range(5):
        view = cb.without_held_out_labels(budget_view(ds, split, sub, budget, s))
        parts = {name: [unit(extract_features(e, A)) for A in (view.X_labeled, view.X_unlabeled, view.X_val)] for name, e in encoders.items()}
        parts["simclr+moco"] = [np.hstack(pair) for pair in zip(parts["simclr"], parts["moco"])]
        for features, (F_l, F_u, F_v) in parts.items():
            for k in K:
                for assignment in ("argmax", "class_mass", "balanced"):
                    _, predict = cb.teacher(F_l, view.y_labeled, F_u, k, assignment, 10)
                    rows.append(dict(features=features, labels_per_class=budget, label_seed=s, k=k, assignment=assignment,
                                     val=float((predict(F_v) == view.y_val).mean())))
frame = pd.DataFrame(rows)
frame.to_csv(out, index=False)
table = frame.groupby(["labels_per_class", "features", "k", "assignment"])["val"].mean().unstack("labels_per_class").round(4)
print(table.to_string())
print(frame.groupby(["labels_per_class", "features"])["val"].max().round(4).to_string())
