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
from transfer_lab.datasets.tree_dataset import TreeDataset  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.encoders import encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.training import TrainConfig, extract_features  # noqa: E402
from transfer_lab.sources.splits import budget_view, label_subsets  # noqa: E402

ROOT, budget, seeds, lrs, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], \
    [float(x) for x in sys.argv[4].split(",")], sys.argv[5]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
subsets = label_subsets(ds.y, split, [budget], seeds)
chosen = pd.read_csv(f"{ROOT}/08_reporting/combined_selection.csv")
chosen = chosen[chosen.selected & (chosen.labels_per_class == budget)].iloc[0]
with conv_layout(True):
    encoder = encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/encoders/{chosen.encoder}.pt", weights_only=True))
records = []
for seed in seeds:
    hidden = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    F_l = extract_features(encoder, hidden.X_labeled)
    P, _ = cb.teacher(F_l, hidden.y_labeled, extract_features(encoder, hidden.X_unlabeled), int(chosen.n_neighbors),
                      chosen.assignment, 10)
    for lr in lrs:
        start = time.process_time()
        how = cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed), encoder_lr=lr,
                                  rounds=1, n_classes=10)
        with conv_layout(True):
            model = cb.student(copy.deepcopy(encoder), hidden, P.argmax(1), how)
        record = dict(seed=seed, encoder_lr=lr, val=float((cb._classify(model)(hidden.X_val) == hidden.y_val).mean()),
                      cpu_s=round(time.process_time() - start, 1))
        records.append(record)
        print(record, flush=True)
        pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("encoder_lr").val.agg(["mean", "std"]).round(4))
