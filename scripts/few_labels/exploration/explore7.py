"""Exploration 7 for issue 18: slack in the balanced assignment (capacity = slack * n / C)."""
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from scipy.optimize import linear_sum_assignment
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import extract_features
from transfer_lab.methods import combined as cb
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation
from sklearn.neighbors import NearestNeighbors
ROOT = "/tmp/default_run2/data"
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [1, 10], range(5))
enc = encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/pretraining/simclr/simclr.pt", weights_only=True))
def balanced(P, slack):
    n, c = P.shape
    cap = int(np.ceil(slack * n / c))
    r, col = linear_sum_assignment(np.repeat(-np.log(np.maximum(P, 1e-300)), cap, axis=1))
    out = np.empty(n, int); out[r] = col // cap
    return out
rows = []
for b in ["1", "10"]:
    for seed in range(5):
        view = budget_view(ds, split, sub, b, seed)
        Fl, Fu, Fv = (extract_features(enc, X) for X in (view.X_labeled, view.X_unlabeled, view.X_val))
        norm = cb.cosine_features(np.concatenate([Fl, Fu]))
        G = norm(np.concatenate([Fl, Fu]))
        for k in [10, 20]:
            P = LabelPropagation(n_neighbors=k, tol=1e-6).fit(G, np.r_[view.y_labeled, -np.ones(len(Fu), int)]).label_distributions_[len(Fl):]
            idx = NearestNeighbors(n_neighbors=k).fit(G)
            nb = idx.kneighbors(norm(Fv), return_distance=False)
            for slack in [1.0, 1.05, 1.1, 1.2, 1.5]:
                pseudo = balanced(P, slack)
                allp = np.r_[view.y_labeled, pseudo]
                val = np.mean([np.bincount(allp[n], minlength=10).argmax() == y for n, y in zip(nb, view.y_val)])
                rows.append(dict(b=b, seed=seed, k=k, slack=slack, prec=(pseudo == view.y_unlabeled).mean(), val=val))
df = pd.DataFrame(rows)
pd.set_option("display.width", 200)
print(df.pivot_table(index=["b", "k", "slack"], columns="seed", values=["prec", "val"]).round(3).to_string())
