"""Exploration 24 for issue 18: the first student of `combined` trained with mixup (Zhang et al.
2018: convex combinations of two augmented rows and of their labels, lambda ~ Beta(alpha, alpha))
on the teacher's balanced pseudo-labels, as pseudo-label training with mixup does (Arazo et al.
2020). The teacher is the run's own choice (combined_selection.csv); the rest is the `combined`
recipe (transfer._train_classifier, NHWC). Arm `plain` is `combined.student` (the control).
Validation only; test is not read.
Usage: explore24.py DATA BUDGET SEEDS ALPHAS OUT.csv   e.g. explore24.py <run>/data 10 0,1,2,3,4 0.2,0.4,1.0 out.csv"""
import copy
import sys
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.augment import build_augmenter, data_kind  # noqa: E402
from transfer_lab.methods.encoders import Classifier, encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.training import TrainConfig, extract_features, fit_classifier, make_optimizer  # noqa: E402
from transfer_lab.sources.splits import budget_view, label_subsets  # noqa: E402

ROOT, budget, seeds, alphas, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], \
    [float(a) for a in sys.argv[4].split(",")], sys.argv[5]


def mixup_student(encoder, view, pseudo, seed, alpha):
    rows = np.concatenate([view.X_labeled, view.X_unlabeled])
    labels = np.concatenate([view.y_labeled, pseudo[len(view.y_labeled):]])
    config = TrainConfig(epochs=60, patience=20, progress=False, seed=seed)
    torch.manual_seed(seed)
    encoder = copy.deepcopy(encoder)
    model = Classifier(encoder, 10)
    optimizer = make_optimizer([{"params": list(model.head.parameters()), "lr": config.lr},
                                {"params": [p for p in encoder.parameters() if p.requires_grad], "lr": 1e-4}], config)
    augmenter = build_augmenter(None, data_kind(view.X_labeled), 0.5)
    beta = torch.distributions.Beta(alpha, alpha)

    def step(m, batch):
        x, y = batch
        if not m.training:
            return F.cross_entropy(m(x), y)
        x = augmenter(x)
        lam, order = float(beta.sample()), torch.randperm(len(x))
        logits = m(lam * x + (1 - lam) * x[order])
        return lam * F.cross_entropy(logits, y) + (1 - lam) * F.cross_entropy(logits, y[order])

    fit_classifier(model, rows, labels, view.X_val, view.y_val, config=config, optimizer=optimizer, step_fn=step,
                   desc="mixup")
    return model


ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
subsets = label_subsets(ds.y, split, [budget], seeds)
chosen = pd.read_csv(f"{ROOT}/08_reporting/combined_selection.csv")
chosen = chosen[chosen.selected & (chosen.labels_per_class == budget)].iloc[0]
with conv_layout(True):
    encoder = encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/encoders/{chosen.encoder}.pt", weights_only=True))
records = []
for seed in seeds:
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    F_l = extract_features(encoder, view.X_labeled)
    P, _ = cb.teacher(F_l, view.y_labeled, extract_features(encoder, view.X_unlabeled), int(chosen.n_neighbors),
                      chosen.assignment, 10)
    for alpha in [None] + alphas:
        start = time.process_time()
        with conv_layout(True):
            if alpha is None:
                how = cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed), rounds=1,
                                          n_classes=10)
                model = cb.student(copy.deepcopy(encoder), view, P.argmax(1), how)
            else:
                model = mixup_student(encoder, view, P.argmax(1), seed, alpha)
        records.append(dict(seed=seed, arm="plain" if alpha is None else f"mixup{alpha:g}",
                            val=float((cb._classify(model)(view.X_val) == view.y_val).mean()),
                            cpu_s=round(time.process_time() - start, 1)))
        print(records[-1], flush=True)
        pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("arm", sort=False).val.agg(["mean", "std"]).round(4))
