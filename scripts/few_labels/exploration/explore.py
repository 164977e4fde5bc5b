"""Exploration for issue 18 (few labels): label propagation variants on pretrained features.

Reads the default run's data and checkpoints (read-only). Prints val and test accuracy per
(budget, seed); choices are to be made on val only.
"""
import sys
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import extract_features
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation

ROOT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/default_run2/data"
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
subsets = make_subsets(ds.y, split, [1, 10], range(5))
feats = {}
for m in ["simclr", "moco", "dim", "cpc", "rotation", "clip"]:
    try:
        ck = torch.load(f"{ROOT}/06_models/pretraining/{m}/{m}.pt", weights_only=True)
    except Exception as e:
        print(m, "missing", e); continue
    F = extract_features(encoder_from_checkpoint(ck), ds.X, "cpu")
    feats[m] = F
    print(m, F.shape, ck.get("meta", {}).keys())

def norm(F):
    F = F - F.mean(0)
    return F / np.linalg.norm(F, axis=1, keepdims=True)

def lp_scores(F, view_idx, k):
    lab, unl, val, test, y_lab = view_idx
    X = np.concatenate([F[lab], F[unl]])
    y = np.concatenate([y_lab, -np.ones(len(unl), int)])
    m = LabelPropagation(n_neighbors=k).fit(X, y)
    return m

rows = []
train = split.loc[split.split == "train", "index"].to_numpy()
val = np.sort(split.loc[split.split == "val", "index"].to_numpy()); test = np.sort(split.loc[split.split == "test", "index"].to_numpy())
for budget in ["1", "10"]:
    for seed in range(5):
        lab = np.sort(subsets[(subsets.labels_per_class == budget) & (subsets.seed == seed)]["index"].to_numpy())
        unl = np.setdiff1d(train, lab)
        for name, F in list(feats.items()) + [("simclr+moco", np.hstack([norm(feats["simclr"]), norm(feats["moco"])]))]:
            for normed in [False, True]:
                G = norm(F) if normed else F
                for k in [5, 10, 20]:
                    m = lp_scores(G, None, k) if False else LabelPropagation(n_neighbors=k).fit(
                        np.concatenate([G[lab], G[unl]]), np.concatenate([ds.y[lab], -np.ones(len(unl), int)]))
                    # predict val/test inductively via 1-NN... use the estimator's predict
                    acc_v = (m.predict(G[val]) == ds.y[val]).mean(); acc_t = (m.predict(G[test]) == ds.y[test]).mean()
                    rows.append(dict(budget=budget, seed=seed, feat=name, norm=normed, k=k, val=acc_v, test=acc_t))
df = pd.DataFrame(rows)
pd.set_option("display.width", 200)
print(df.groupby(["budget", "feat", "norm", "k"])[["val", "test"]].agg(["mean", "std"]).round(3).to_string())
