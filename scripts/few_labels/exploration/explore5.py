"""Exploration 5 for issue 18: balanced hard assignment of the teacher's pseudo-labels
(each class gets n/C unlabelled rows: an assignment problem on -log P) vs argmax, with and
without class-mass normalisation; pseudo-label precision and val accuracy per seed."""
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from scipy.optimize import linear_sum_assignment
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import encoder_from_checkpoint
from transfer_lab.methods.training import extract_features
from transfer_lab.methods import combined as cb
from transfer_lab.methods.semi_supervised.label_propagation import LabelPropagation
from sklearn.neighbors import KNeighborsClassifier
ROOT = "/tmp/default_run2/data"
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [1, 10], range(5))
def balanced(P):
    n, c = P.shape
    cap = int(np.ceil(n / c))
    cost = -np.log(np.maximum(P, 1e-300))
    r, col = linear_sum_assignment(np.repeat(cost, cap, axis=1))
    out = np.empty(n, int); out[r] = col // cap
    return out
rows = []
for name in ["simclr", "moco"]:
    enc = encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/pretraining/{name}/{name}.pt", weights_only=True))
    for b in ["1", "10"]:
        for seed in range(5):
            view = budget_view(ds, split, sub, b, seed)
            Fl, Fu, Fv = (extract_features(enc, X) for X in (view.X_labeled, view.X_unlabeled, view.X_val))
            norm = cb.cosine_features(np.concatenate([Fl, Fu]))
            for k in [5, 10, 20]:
                lp = LabelPropagation(n_neighbors=k, tol=1e-6).fit(norm(np.concatenate([Fl, Fu])), np.r_[view.y_labeled, -np.ones(len(Fu), int)])
                P = lp.label_distributions_[len(Fl):]
                for v, pseudo in [("argmax", P.argmax(1)), ("cmn", cb.class_mass_normalise(P).argmax(1)), ("balanced", balanced(P))]:
                    knn = KNeighborsClassifier(k).fit(norm(np.concatenate([Fl, Fu])), np.r_[view.y_labeled, pseudo])
                    rows.append(dict(enc=name, b=b, seed=seed, k=k, v=v, prec=(pseudo == view.y_unlabeled).mean(), val=(knn.predict(norm(Fv)) == view.y_val).mean()))
df = pd.DataFrame(rows)
pd.set_option("display.width", 250)
print(df.pivot_table(index=["enc", "b", "k", "v"], columns="seed", values="val").round(3).assign(mean=lambda d: d.mean(1).round(4)).to_string())
print(df.groupby(["enc", "b", "k", "v"])["prec"].mean().round(4).to_string())
