"""Exploration 2 for issue 18: class-mass normalisation, graph ensembles, per-seed failures."""
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import extract_features
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation
from sklearn.neighbors import KNeighborsClassifier

ROOT = "/tmp/default_run2/data"
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
subsets = make_subsets(ds.y, split, [1, 10], range(5))
def norm(F):
    F = F - F.mean(0); return F / np.linalg.norm(F, axis=1, keepdims=True)
feats = {m: norm(extract_features(encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/pretraining/{m}/{m}.pt", weights_only=True)), ds.X, "cpu")) for m in ["simclr", "moco"]}
train = split.loc[split.split == "train", "index"].to_numpy()
val = np.sort(split.loc[split.split == "val", "index"].to_numpy()); test = np.sort(split.loc[split.split == "test", "index"].to_numpy())

def cmn(P, iters=50):
    """Class-mass normalisation (Zhu, Ghahramani, Lafferty 2003): uniform class masses, by Sinkhorn-like scaling."""
    Q = P.copy() + 1e-12
    for _ in range(iters):
        Q = Q / Q.sum(0, keepdims=True) * (len(Q) / Q.shape[1]); Q = Q / Q.sum(1, keepdims=True)
    return Q

rows = []
for budget in ["1", "10"]:
    for seed in range(5):
        lab = np.sort(subsets[(subsets.labels_per_class == budget) & (subsets.seed == seed)]["index"].to_numpy())
        unl = np.setdiff1d(train, lab)
        rows_fit = np.concatenate([lab, unl]); yfit = np.concatenate([ds.y[lab], -np.ones(len(unl), int)])
        dists = {}
        for name in ["simclr", "moco"]:
            for k in [5, 10]:
                m = LabelPropagation(n_neighbors=k).fit(feats[name][rows_fit], yfit)
                dists[(name, k)] = m.label_distributions_
        variants = {
            "simclr5": dists[("simclr", 5)], "simclr10": dists[("simclr", 10)],
            "ens5": (dists[("simclr", 5)] + dists[("moco", 5)]) / 2, "ens10": (dists[("simclr", 10)] + dists[("moco", 10)]) / 2,
        }
        for vname, P in list(variants.items()):
            variants[vname + "_cmn"] = cmn(P)
        for vname, P in variants.items():
            pseudo = P.argmax(1)
            for fname in ["simclr", "cat"]:
                F = feats["simclr"] if fname == "simclr" else np.hstack([feats["simclr"], feats["moco"]])
                knn = KNeighborsClassifier(5).fit(F[rows_fit], pseudo)
                rows.append(dict(budget=budget, seed=seed, v=vname, pred=fname,
                                 unl=(pseudo[len(lab):] == ds.y[unl]).mean(),
                                 val=(knn.predict(F[val]) == ds.y[val]).mean(), test=(knn.predict(F[test]) == ds.y[test]).mean()))
df = pd.DataFrame(rows)
pd.set_option("display.width", 200)
print(df.groupby(["budget", "v", "pred"])[["unl", "val", "test"]].agg(["mean", "std"]).round(3).to_string())
print(df[(df.budget == "1") & (df.pred == "simclr")].pivot(index="v", columns="seed", values="val").round(3))
