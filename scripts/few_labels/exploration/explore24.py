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

import pandas as pd
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
from run_teacher import accuracy, chosen_teacher, pseudo_labels, recipe, run_data, student_parts  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.training import fit_classifier  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, seeds, alphas, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], \
    [float(a) for a in sys.argv[4].split(",")], sys.argv[5]


def mixup_student(encoder, view, pseudo, seed, alpha):
    rows, labels, config, model, optimizer, augmenter = student_parts(encoder, view, pseudo, seed)
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


ds, split, subsets = run_data(ROOT, [budget], seeds)
chosen, encoder = chosen_teacher(ROOT, budget)
records = []
for seed in seeds:
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    pseudo = pseudo_labels(encoder, view, chosen)
    for alpha in [None] + alphas:
        start = time.process_time()
        with conv_layout(True):
            if alpha is None:
                model = cb.student(copy.deepcopy(encoder), view, pseudo, recipe(seed))
            else:
                model = mixup_student(encoder, view, pseudo, seed, alpha)
        records.append(dict(seed=seed, arm="plain" if alpha is None else f"mixup{alpha:g}",
                            val=accuracy(model, view.X_val, view.y_val),
                            cpu_s=round(time.process_time() - start, 1)))
        print(records[-1], flush=True)
        pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("arm", sort=False).val.agg(["mean", "std"]).round(4))
