"""Exploration 8 for issue 18 (10 labels/class): student variants beside the validation-chosen
teacher, every one scored on val (to choose) and test (to report): longer students, a second
student on the first student's own predictions, softmax ensembles of stages, a teacher on
concatenated SimCLR+MoCo features. Usage: explore8.py ROOT BUDGET SEEDS OUT.csv"""
import sys, time, copy
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
load = lambda n: encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/encoders/{n}.pt", weights_only=True))
enc, moco = load("simclr"), load("moco")
def probs(model, X):
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(X, dtype=torch.float32)), 1).numpy()
rows = []
def rec(seed, name, pv, pt, view, sec=0.0):
    rows.append(dict(seed=seed, variant=name, val=float((pv.argmax(1) == view.y_val).mean()),
                     test=float((pt.argmax(1) == view.y_test).mean()), seconds=sec))
    print(seed, name, rows[-1]["val"], rows[-1]["test"], round(sec), flush=True)
    pd.DataFrame(rows).to_csv(out, index=False)
for seed in seeds:
    view = budget_view(ds, split, sub, budget, seed); hidden = cb.without_held_out_labels(view)
    nl = len(view.y_labeled)
    def st(pseudo, epochs=60, patience=20, lr=1e-4, strength=0.5):
        t = time.time()
        how = cb.CombinedSettings(config=TrainConfig(epochs=epochs, patience=patience, progress=False, seed=seed),
                                  encoder_lr=lr, strength=strength, rounds=1, n_classes=10)
        m = cb.student(copy.deepcopy(enc), hidden, pseudo, how)
        return m, probs(m, view.X_val), probs(m, view.X_test), time.time() - t
    # teachers
    def lp(feats, k=20, a="balanced"):
        Fl, Fu, Fv, Ft = (feats(X) for X in (view.X_labeled, view.X_unlabeled, view.X_val, view.X_test))
        P, pred = cb.teacher(Fl, view.y_labeled, Fu, k, a, 10)
        return P, np.eye(10)[pred(Fv)], np.eye(10)[pred(Ft)]
    fs = lambda X: extract_features(enc, X)
    fm = lambda X: extract_features(moco, X)
    def cat(X):
        a, b = fs(X), fm(X)
        return np.concatenate([a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)], 1)
    P1, v, t_ = lp(fs); rec(seed, "teacher_simclr", v, t_, view)
    Pc, v, t_ = lp(cat); rec(seed, "teacher_concat", v, t_, view)
    print("prec simclr", (P1[nl:].argmax(1) == view.y_unlabeled).mean(), "concat", (Pc[nl:].argmax(1) == view.y_unlabeled).mean())
    m1, v1, t1, s = st(P1.argmax(1)); rec(seed, "student_1", v1, t1, view, s)
    _, vl, tl, s = st(P1.argmax(1), epochs=150, patience=50); rec(seed, "student_1_long", vl, tl, view, s)
    _, vc, tc, s = st(Pc.argmax(1)); rec(seed, "student_1_concat", vc, tc, view, s)
    # round 2: LP on the student's features; and the student's own predictions
    P2, v, t_ = lp(lambda X: extract_features(m1.encoder, X)); rec(seed, "teacher_2", v, t_, view)
    _, v2, t2, s = st(P2.argmax(1)); rec(seed, "student_2", v2, t2, view, s)
    own = np.concatenate([view.y_labeled, probs(m1, view.X_unlabeled).argmax(1)])
    _, vo, to, s = st(own); rec(seed, "student_2_own", vo, to, view, s)
    rec(seed, "ens_s1_s2", (v1 + v2) / 2, (t1 + t2) / 2, view)
    rec(seed, "ens_s1_long_concat", (v1 + vl + vc) / 3, (t1 + tl + tc) / 3, view)
    rec(seed, "ens_all", (v1 + vl + vc + v2 + vo) / 5, (t1 + tl + tc + t2 + to) / 5, view)
