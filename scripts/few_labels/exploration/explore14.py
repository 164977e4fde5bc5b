"""Exploration 14 for issue 18: the combined method's two rounds (methods.combined.run's loop,
same recipe: teacher = label propagation on the TEACHER checkpoint's features, balanced, k;
teacher_2 on student_1's features; students 60 epochs, patience 20, encoder lr 1e-4, strength
0.5) with the students initialised from another checkpoint (INIT). With INIT = the teacher's
checkpoint it is methods.combined.run itself. Writes every stage's VALIDATION accuracy (and the
pseudo-labels' precision on the unlabelled rows, a diagnostic) to OUT.csv; the test rows' stage
predictions (not their labels) go to OUT.npz, to be scored later only for the configuration
chosen on validation (explore14_score.py).
Usage: explore14.py ROOT BUDGETS SEEDS TEACHER_CKPT K INIT_NAME=INIT_CKPT OUT (OUT.csv, OUT.npz)"""
import sys, time, copy
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import TrainConfig
from transfer_lab.methods import combined as cb
ROOT, budgets, seeds, tckpt, k, init, out = (sys.argv[1], [int(b) for b in sys.argv[2].split(",")],
    [int(s) for s in sys.argv[3].split(",")], sys.argv[4], int(sys.argv[5]), sys.argv[6], sys.argv[7])
name, ickpt = init.split("=")
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, budgets, seeds)
load = lambda p: encoder_from_checkpoint(torch.load(p, weights_only=True))
tenc, ienc = load(tckpt), load(ickpt)
cand = cb.Candidate(encoder="teacher", n_neighbors=k, assignment="balanced")
rows, test_predictions = [], {}
for budget in budgets:
    for seed in seeds:
        view = budget_view(ds, split, sub, budget, seed)
        hidden = cb.without_held_out_labels(view)
        how = cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed), rounds=1, n_classes=10)
        stages, embed_with = [], tenc
        for round_ in (1, 2):
            t = time.process_time()
            st = cb._teacher_stage(embed_with, hidden, cand, 10, f"teacher_{round_}")
            st["precision"] = float((st["pseudo_labels"][len(view.y_labeled):] == view.y_unlabeled).mean())
            st["cpu_s"] = time.process_time() - t; stages.append(st)
            t = time.process_time()
            model = cb.student(copy.deepcopy(ienc), hidden, st["pseudo_labels"], how)
            predict = cb._classify(model)
            stages.append({"stage": f"student_{round_}", "val_accuracy": float((predict(hidden.X_val) == hidden.y_val).mean()),
                           "predict": predict, "cpu_s": time.process_time() - t})
            embed_with = model.encoder
        for st in stages:
            rows.append(dict(init=name, labels_per_class=budget, seed=seed, stage=st["stage"], val_accuracy=st["val_accuracy"],
                             precision=st.get("precision", np.nan), cpu_s=st["cpu_s"]))
            test_predictions[f"{name}|{budget}|{seed}|{st['stage']}"] = st["predict"](view.X_test)
            print(rows[-1], flush=True)
        pd.DataFrame(rows).to_csv(f"{out}.csv", index=False)
        np.savez(f"{out}.npz", **test_predictions)
print(pd.DataFrame(rows).groupby(["init", "labels_per_class", "stage"])[["val_accuracy", "precision", "cpu_s"]].agg(["mean", "std"]).round(4).to_string())
