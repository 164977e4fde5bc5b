"""Exploration 4 for issue 18: SimCLRv2-style student (fine-tune the pretrained encoder on
labelled + pseudo-labelled train rows), then label propagation again on the student's features."""
import sys, time, dataclasses
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import extract_features, TrainConfig
from transfer_lab.methods.transfer import finetune
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation
ROOT = "/tmp/default_run2/data"
ENC = sys.argv[1] if len(sys.argv) > 1 else "simclr"
EPOCHS = int(sys.argv[2]) if len(sys.argv) > 2 else 30
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
subsets = make_subsets(ds.y, split, [1, 10], range(5))
ck = torch.load(f"{ROOT}/06_models/pretraining/{ENC}/{ENC}.pt", weights_only=True)
def norm(F):
    F = F - F.mean(0); return F / np.linalg.norm(F, axis=1, keepdims=True)
def cmn(P, iters=50):
    Q = P + 1e-12
    for _ in range(iters):
        Q = Q / Q.sum(0, keepdims=True); Q = Q / Q.sum(1, keepdims=True)
    return Q
def lp(F, view, k=10):
    X = np.concatenate([F(view.X_labeled), F(view.X_unlabeled)])
    y = np.r_[view.y_labeled, -np.ones(len(view.X_unlabeled), int)]
    mu = X.mean(0)
    n = lambda Z: (Z - mu) / np.linalg.norm(Z - mu, axis=1, keepdims=True)
    m = LabelPropagation(n_neighbors=k).fit(n(X), y)
    P = cmn(m.label_distributions_)
    return P, m, n
rows = []
for budget in sys.argv[3].split(",") if len(sys.argv) > 3 else ["1", "10"]:
    for seed in range(int(sys.argv[4]) if len(sys.argv) > 4 else 3):
        t = time.time()
        view = budget_view(ds, split, subsets, budget, seed)
        enc = encoder_from_checkpoint(ck)
        feat = lambda X, e=enc: extract_features(e, X)
        P, m, n = lp(feat, view)
        nl = len(view.y_labeled)
        pseudo = P.argmax(1)
        r = dict(budget=budget, seed=seed, teacher_unl=(pseudo[nl:] == view.y_unlabeled).mean())
        Xtr = np.concatenate([view.X_labeled, view.X_unlabeled])
        sv = dataclasses.replace(view, X_labeled=Xtr, y_labeled=pseudo)
        cfg = TrainConfig(epochs=EPOCHS, batch_size=64, lr=1e-3, patience=10, progress=False, seed=seed)
        res = finetune(enc, sv, config=cfg, encoder_lr=1e-3, augmentations=True, strength=0.5, n_classes=10)
        r.update(student_val=res.val_accuracy, student_test=res.test_accuracy)
        # round 2: LP on the student's features
        senc = res.model.encoder
        feat2 = lambda X: extract_features(senc, X)
        P2, m2, n2 = lp(feat2, view)
        pseudo2 = P2.argmax(1)
        r["round2_unl"] = (pseudo2[nl:] == view.y_unlabeled).mean()
        sv2 = dataclasses.replace(view, X_labeled=Xtr, y_labeled=pseudo2)
        res2 = finetune(encoder_from_checkpoint(ck), sv2, config=cfg, encoder_lr=1e-3, augmentations=True, strength=0.5, n_classes=10)
        r.update(student2_val=res2.val_accuracy, student2_test=res2.test_accuracy, sec=time.time() - t, ep=res.details)
        print(r, flush=True); rows.append(r)
df = pd.DataFrame(rows)
print(df.drop(columns="ep").groupby("budget").agg(["mean", "std"]).round(4).T.to_string())
