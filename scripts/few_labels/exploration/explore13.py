"""Exploration 13 for issue 18 (10 labels/class): the teacher on one encoder's features
(label propagation, balanced, k given), the first student initialised from another checkpoint
(combined recipe: 60 epochs, patience 20, encoder lr 1e-4, strength 0.5). With --test the
student's test accuracy is printed too: only for a configuration already chosen on validation.
Budget `all`: every train label, no teacher (its labels are the pseudo-labels).
Usage: explore13.py ROOT BUDGET SEEDS TEACHER_CKPT K NAME=CKPT[,...] OUT.csv [--test]"""
import sys, time, copy
import pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.methods import combined as cb
ROOT, budget, seeds, tckpt, k, studs, out = sys.argv[1], sys.argv[2] if sys.argv[2] == "all" else int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], sys.argv[4], int(sys.argv[5]), sys.argv[6].split(","), sys.argv[7]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [budget], seeds)
load = lambda p: encoder_from_checkpoint(torch.load(p, weights_only=True))
tenc = load(tckpt)
inits = {s.split("=")[0]: load(s.split("=")[1]) for s in studs}
rows = []
for seed in seeds:
    view = budget_view(ds, split, sub, budget, seed)
    hidden = cb.without_held_out_labels(view)
    F = lambda X: extract_features(tenc, X)
    F_l = F(hidden.X_labeled)
    P, _ = cb.teacher(F_l, hidden.y_labeled, F(hidden.X_unlabeled) if len(hidden.X_unlabeled) else F_l[:0], k, "balanced", 10)
    for name, enc in inits.items():
        t = time.process_time()
        how = cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed), rounds=1, n_classes=10)
        predict = cb._classify(cb.student(copy.deepcopy(enc), hidden, P.argmax(1), how))
        rec = dict(seed=seed, student=name, val=float((predict(hidden.X_val) == hidden.y_val).mean()), cpu_s=time.process_time() - t)
        if "--test" in sys.argv:
            rec["test"] = float((predict(view.X_test) == view.y_test).mean())
        rows.append(rec); print(rec, flush=True); pd.DataFrame(rows).to_csv(out, index=False)
print(pd.DataFrame(rows).groupby("student").agg(["mean", "std"]).round(4).T.to_string())
