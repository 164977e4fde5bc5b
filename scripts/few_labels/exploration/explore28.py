"""Exploration 28 for issue 18: is a more strongly augmented SimCLR a better teacher? For each
checkpoint (NAME=PATH, e.g. SimCLR pretrained with `--params pretraining.simclr.strength=1.5,
pretraining.runtime.seed=1` in a copy of a run's project: `kedro run --pipelines pretraining
--namespaces pretraining.simclr` writes data/06_models/pretraining/simclr/simclr.pt, not the
06_models/encoders/ copy, which a later node collects), the label-propagation teacher of
`combined` on conf/base's grid (k 5-40, every assignment), at 1 and 10 labels per class, label
seeds 0-4; per checkpoint and budget the candidate `select` would choose (best mean val, ties to
the first in order) and its val. Validation only; test is not read.
Usage: explore28.py DATA NAME=PATH[,NAME=PATH...] OUT.csv"""
import sys

import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.encoders import encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.training import extract_features  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, checkpoints, out = sys.argv[1], dict(a.split("=") for a in sys.argv[2].split(",")), sys.argv[3]
K, ASSIGNMENTS = [5, 10, 20, 30, 40], ["argmax", "class_mass", "balanced"]
ds, split, subsets = run_data(ROOT, [1, 10], [0, 1, 2, 3, 4])
records = []
for name, path in checkpoints.items():
    encoder = encoder_from_checkpoint(torch.load(path, weights_only=True))
    for budget in (1, 10):
        for seed in range(5):
            view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
            F_l, F_u, F_v = (extract_features(encoder, X) for X in (view.X_labeled, view.X_unlabeled, view.X_val))
            for k in K:
                for assignment in ASSIGNMENTS:
                    _, predict = cb.teacher(F_l, view.y_labeled, F_u, k, assignment, 10)
                    records.append(dict(checkpoint=name, labels_per_class=budget, seed=seed, k=k, assignment=assignment,
                                        val=float((predict(F_v) == view.y_val).mean())))
    pd.DataFrame(records).to_csv(out, index=False)
table = pd.DataFrame(records)
means = table.groupby(["checkpoint", "labels_per_class", "k", "assignment"], sort=False).val.mean().reset_index()
best = means.loc[means.groupby(["checkpoint", "labels_per_class"], sort=False).val.idxmax()]
print(best.round(4).to_string(index=False))
