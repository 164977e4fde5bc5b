"""Exploration 3 for issue 18: cluster purity of SimCLR/MoCo features; cluster-to-class matching."""
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans, SpectralClustering
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import extract_features
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation
ROOT = "/tmp/default_run2/data"
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
subsets = make_subsets(ds.y, split, [1, 10], range(5))
def norm(F):
    F = F - F.mean(0); return F / np.linalg.norm(F, axis=1, keepdims=True)
feats = {m: norm(extract_features(encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/pretraining/{m}/{m}.pt", weights_only=True)), ds.X, "cpu")) for m in ["simclr", "moco"]}
feats["cat"] = np.hstack([feats["simclr"], feats["moco"]])
train = split.loc[split.split == "train", "index"].to_numpy()
y = ds.y
def purity(c, yy):
    C = pd.crosstab(c, yy).to_numpy(); r, cc = linear_sum_assignment(-C); return C[r, cc].sum() / len(yy)
for name, F in feats.items():
    for algo in ["km", "sc10", "sc20"]:
        if algo == "km":
            c = KMeans(10, n_init=20, random_state=0).fit_predict(F[train])
        else:
            c = SpectralClustering(10, affinity="nearest_neighbors", n_neighbors=int(algo[2:]), random_state=0, assign_labels="cluster_qr").fit_predict(F[train])
        print(name, algo, "hungarian purity", round(purity(c, y[train]), 3), "majority purity", round(sum(np.bincount(y[train][c == k]).max() for k in np.unique(c)) / len(train), 3))
# per-seed: which classes go wrong at 1 label, simclr k=10
for seed in range(5):
    lab = np.sort(subsets[(subsets.labels_per_class == "1") & (subsets.seed == seed)]["index"].to_numpy())
    unl = np.setdiff1d(train, lab)
    m = LabelPropagation(n_neighbors=10).fit(feats["simclr"][np.r_[lab, unl]], np.r_[y[lab], -np.ones(len(unl), int)])
    p = m.transduction_[len(lab):]
    print(seed, pd.crosstab(y[unl], p).to_numpy().diagonal(), np.bincount(p, minlength=10))
