"""Exploration 12 for issue 18 (10 labels/class): an ensemble of first students that differ
only in their training seed (head initialisation, batch order, augmentations), all on the same
pseudo-labels (teacher: label propagation, balanced, k given), their softmax outputs averaged.
The member of training seed = the view's seed is the pipeline's student_1. VALIDATION accuracy
only (test is not read).
Usage: explore12.py ROOT BUDGET SEEDS CKPT K N_MEMBERS OUT.csv"""
import sys, time, copy
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.methods import combined as cb
ROOT, budget, seeds, ckpt, k, n, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [budget], seeds)
enc = encoder_from_checkpoint(torch.load(ckpt, weights_only=True))


def softmax(model, X):
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(np.asarray(X), dtype=torch.float32)), dim=1).numpy()


rows = []
for seed in seeds:
    hidden = cb.without_held_out_labels(budget_view(ds, split, sub, budget, seed))
    F = lambda X: extract_features(enc, X)
    P, _ = cb.teacher(F(hidden.X_labeled), hidden.y_labeled, F(hidden.X_unlabeled), k, "balanced", 10)
    probs, rec = [], dict(seed=seed)
    for j in range(n):
        t = time.process_time()
        how = cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed + 1000 * j), rounds=1, n_classes=10)
        probs.append(softmax(cb.student(copy.deepcopy(enc), hidden, P.argmax(1), how), hidden.X_val))
        rec[f"member{j}_val"] = float((probs[-1].argmax(1) == hidden.y_val).mean())
        rec[f"ensemble{j + 1}_val"] = float((np.mean(probs, axis=0).argmax(1) == hidden.y_val).mean())
        rec[f"member{j}_cpu_s"] = time.process_time() - t
    rows.append(rec); print(rec, flush=True); pd.DataFrame(rows).to_csv(out, index=False)
print(pd.DataFrame(rows).agg(["mean", "std"]).round(4).T.to_string())
