"""Exploration 10 for issue 18 (10 labels/class): is the student's recipe the limit? The first
student on the val-chosen teacher's pseudo-labels (simclr, k=20, balanced) trained with the
combined recipe (batch 64, no weight decay, 60 epochs, patience 20), with the transfer family's
`finetune` recipe (batch 128, weight decay 1e-4, 100 epochs, patience 10, >= 3 batches per
epoch; conf/base/parameters_transfer.yml), and from the MoCo checkpoint instead of SimCLR.
VALIDATION accuracy only (the choice is made on it; test is not read).
Usage: explore10.py ROOT BUDGET SEEDS VARIANTS OUT.csv"""
import sys, time, copy
import pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.methods import combined as cb
ROOT, budget, seeds, variants, out = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")], sys.argv[4].split(","), sys.argv[5]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [budget if budget == "all" else int(budget)], seeds)
load = lambda n: encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/encoders/{n}.pt", weights_only=True))
enc = {"simclr": load("simclr"), "moco": load("moco")}
RECIPES = {
    "combined": dict(epochs=60, patience=20),
    "finetune": dict(epochs=100, batch_size=128, lr=1e-3, weight_decay=1e-4, patience=10, min_batches_per_epoch=3),
    "combined_wd": dict(epochs=60, patience=20, weight_decay=1e-4),
    "combined_b128": dict(epochs=60, patience=20, batch_size=128),
}
rows = []
for seed in seeds:
    view = budget_view(ds, split, sub, budget if budget == "all" else int(budget), seed); hidden = cb.without_held_out_labels(view)
    F = lambda X: extract_features(enc["simclr"], X)
    P, _ = cb.teacher(F(hidden.X_labeled), hidden.y_labeled, F(hidden.X_unlabeled) if len(hidden.X_unlabeled) else F(hidden.X_labeled)[:0], 20, "balanced", 10)
    for variant in variants:
        init, recipe = variant.split(":")
        t = time.time()
        how = cb.CombinedSettings(config=TrainConfig(**RECIPES[recipe], progress=False, seed=seed), rounds=1, n_classes=10)
        m = cb.student(copy.deepcopy(enc[init]), hidden, P.argmax(1), how)
        val = float((cb._classify(m)(hidden.X_val) == hidden.y_val).mean())
        rows.append(dict(budget=budget, seed=seed, variant=variant, val=val, seconds=time.time() - t))
        print(rows[-1], flush=True); pd.DataFrame(rows).to_csv(out, index=False)
print(pd.DataFrame(rows).groupby("variant")[["val", "seconds"]].agg(["mean", "std"]).round(4))
