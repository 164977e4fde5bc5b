"""Exploration 29 for issue 18: explore15's test-time augmentation, repeated on a later run with a
milder strength (0.25) beside the training strength (0.5). Each
stored first-round student (``06_models/combined/students``, the chosen settings) predicts the
validation rows as the run does, and by its softmax averaged over the plain view and K views
drawn by the training augmenter at a given strength (a fixed generator per view). Validation
only; test is not read.
Usage: explore29.py DATA BUDGET SEEDS OUT.csv"""
import sys

import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import chosen_teacher, run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.augment import build_augmenter  # noqa: E402
from transfer_lab.methods.encoders import Classifier, encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, seeds, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], sys.argv[4]
ds, split, subsets = run_data(ROOT, [budget], seeds)
chosen, _ = chosen_teacher(ROOT, budget)
checkpoint = torch.load(f"{ROOT}/06_models/encoders/{chosen.encoder}.pt", weights_only=True)


def softmax(model, X):
    model.eval()
    with torch.no_grad():
        return torch.softmax(model(X), dim=1)


records = []
for seed in seeds:
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    stored = torch.load(f"{ROOT}/06_models/combined/students/lpc{budget}_seed{seed}.pt", weights_only=False)
    with conv_layout(True):
        model = Classifier(encoder_from_checkpoint(checkpoint), 10)
    model.load_state_dict(stored["state_dict"])
    X = torch.as_tensor(view.X_val, dtype=torch.float32)
    plain = softmax(model, X)
    records.append(dict(seed=seed, arm="plain", val=float((plain.argmax(1).numpy() == view.y_val).mean())))
    for strength in (0.25, 0.5):
        augmenter = build_augmenter(None, "image", strength)
        views = []
        for k in range(32):
            generator = torch.Generator().manual_seed(k)
            views.append(softmax(model, augmenter(X, generator)))
        for K in (4, 8, 16, 32):
            p = (plain + sum(views[:K])) / (K + 1)
            records.append(dict(seed=seed, arm=f"tta s{strength} K{K}", val=float((p.argmax(1).numpy() == view.y_val).mean())))
    for r in records[-9:]:
        print(r, flush=True)
    pd.DataFrame(records).to_csv(out, index=False)
summary = pd.DataFrame(records).groupby("arm", sort=False).val.agg(["mean", "std"])
summary["val digits wrong per seed"] = (1 - summary["mean"]) * len(view.y_val)
print(summary.round(4))
