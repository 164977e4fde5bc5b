"""Exploration 11 for issue 18 (10 labels/class): is a stronger encoder ahead? For each
encoder checkpoint (name=path), on every budget view: the teachers' val accuracy (label
propagation, balanced assignment, k in 5/10/20; the select node's candidates), a linear probe's
val accuracy (logistic regression on the labelled rows' features), and, with --students, the
first student (combined recipe: 60 epochs, patience 20, encoder lr 1e-4, strength 0.5) on the
pseudo-labels of the teacher of best MEAN val accuracy over the seeds (as combined.select
chooses). Budget `all`: every train label, no teacher. VALIDATION accuracy only (test is not
read); the pseudo-labels' precision on the unlabelled rows is printed as a diagnostic.
Usage: explore11.py ROOT BUDGET SEEDS NAME=CKPT[,NAME=CKPT...] OUT.csv [--students]"""
import sys, time, copy
import pandas as pd, torch
torch.set_num_threads(1)
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.methods import combined as cb
ROOT, budget, seeds, encs, out = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")], sys.argv[4].split(","), sys.argv[5]
students = "--students" in sys.argv
b = budget if budget == "all" else int(budget)
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [b], seeds)
views = {s: budget_view(ds, split, sub, b, s) for s in seeds}
KS = [5, 10, 20]
rows = []
for spec in encs:
    name, path = spec.split("=")
    enc = encoder_from_checkpoint(torch.load(path, weights_only=True))
    n_params = sum(p.numel() for p in enc.parameters())
    teachers = {}
    for seed in seeds:
        hidden = cb.without_held_out_labels(views[seed])
        F = lambda X: extract_features(enc, X)
        F_l, F_v = F(hidden.X_labeled), F(hidden.X_val)
        F_u = F(hidden.X_unlabeled) if len(hidden.X_unlabeled) else F_l[:0]
        sc = StandardScaler().fit(F_l)
        probe = LogisticRegression(max_iter=2000).fit(sc.transform(F_l), hidden.y_labeled)
        rec = dict(encoder=name, params=n_params, budget=budget, seed=seed,
                   probe_val=float((probe.predict(sc.transform(F_v)) == hidden.y_val).mean()))
        for k in KS:
            P, predict = cb.teacher(F_l, hidden.y_labeled, F_u, k, "balanced", 10)
            teachers[(seed, k)] = P
            rec[f"lp_k{k}_val"] = float((predict(F_v) == hidden.y_val).mean())
            if len(F_u):
                rec[f"lp_k{k}_prec"] = float((P[len(F_l):].argmax(1) == views[seed].y_unlabeled).mean())
        rows.append(rec); print(rec, flush=True)
    table = pd.DataFrame(rows)
    mine = table[table.encoder == name]
    best_k = max(KS, key=lambda k: mine[f"lp_k{k}_val"].mean())  # first of ties: the smallest k
    if students:
        for seed in seeds:
            hidden = cb.without_held_out_labels(views[seed])
            t = time.process_time()
            how = cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed), rounds=1, n_classes=10)
            m = cb.student(copy.deepcopy(enc), hidden, teachers[(seed, best_k)].argmax(1), how)
            i = table.index[(table.encoder == name) & (table.seed == seed)][0]
            table.loc[i, "best_k"] = best_k
            table.loc[i, "student_val"] = float((cb._classify(m)(hidden.X_val) == hidden.y_val).mean())
            table.loc[i, "student_cpu_s"] = time.process_time() - t
            print(table.loc[i].to_dict(), flush=True)
        rows = table.to_dict("records")
    pd.DataFrame(rows).to_csv(out, index=False)
table = pd.DataFrame(rows)
cols = [c for c in table.columns if c.endswith("_val") or c.endswith("_prec")]
print(table.groupby("encoder")[cols].agg(["mean", "std"]).round(4).T.to_string())
