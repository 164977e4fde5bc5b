"""Exploration 30 for issue 18: which epoch should the student keep? The pipeline keeps the
epoch of best validation accuracy (patience 20); on 360 validation digits accuracy moves in
steps of 0.28 points and ties often, and the epoch it picks makes the validation accuracy
optimistic, so comparing selection rules on the same rows would favour it. Here the rules are
compared cross-fitted: the validation rows are split in two halves (stratified, fixed seed),
the epoch is chosen on one half and scored on the other, both ways round.

One training run per label seed: the first student exactly as `combined.student` trains it,
but for all 60 epochs (patience off; the first epochs are the pipeline's own), with the
softmax on every validation row recorded after each epoch. Rules, emulated on the record with
patience 20 as the pipeline's: `acc` (best accuracy, first of ties: the pipeline's rule),
`loss` (lowest cross-entropy), `acc+loss` (best accuracy, ties to the lower cross-entropy),
`last` (epoch 60, no selection), and `top<k>`: the softmax averaged over the k epochs of best
accuracy on the choosing half (a snapshot ensemble; ties to the lower cross-entropy). The control: `acc` on all validation rows reproduces
the run's student_1 val accuracy. Validation only; test is not read.
Usage: explore30.py DATA BUDGET SEEDS OUT.csv"""
import sys

import numpy as np
import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import chosen_teacher, pseudo_labels, recorded_student, run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, seeds, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], sys.argv[4]
PATIENCE = 20


def stopping_epoch(P, y):
    """The epoch at which fit stops with the accuracy rule (the last one it trains)."""
    return cb.early_stopping_epochs((P.argmax(2) == y).mean(1), PATIENCE)[1]


def snapshot_ensemble(P, y, k):
    """The softmax averaged over the k epochs of best accuracy on these rows (ties to the lower
    cross-entropy) among those the accuracy rule trains: a snapshot ensemble of the run."""
    trained = P[: stopping_epoch(P, y) + 1]
    acc = (trained.argmax(2) == y).mean(1)
    loss = -np.log(np.clip(trained[:, np.arange(len(y)), y], 1e-12, None)).mean(1)
    return np.lexsort((loss, -acc))[:k]


def chosen_epoch(P, y, rule):
    """The epoch a rule keeps, read on rows (P: epochs x rows x classes), with early stopping
    after PATIENCE epochs without improvement, as fit does."""
    acc = (P.argmax(2) == y).mean(1)
    loss = -np.log(np.clip(P[:, np.arange(len(y)), y], 1e-12, None)).mean(1)
    if rule == "last":
        return len(P) - 1
    return cb.early_stopping_epochs({"acc": acc, "loss": -loss, "acc+loss": acc - 1e-6 * loss}[rule], PATIENCE)[0]


ds, split, subsets = run_data(ROOT, [budget], seeds)
chosen, encoder = chosen_teacher(ROOT, budget)
records = []
for seed in seeds:
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    with conv_layout(True):
        _, P = recorded_student(encoder, view, pseudo_labels(encoder, view, chosen), seed, every_epoch=True)
    y = view.y_val
    control = (P[chosen_epoch(P, y, "acc")].argmax(1) == y).mean()
    halves = cb.stratified_halves(y, seed=0)
    for rule in ("acc", "loss", "acc+loss", "last", "top3", "top5", "top10"):
        right, epochs = 0, []
        for pick, score in ((halves, ~halves), (~halves, halves)):
            if rule.startswith("top"):
                kept = snapshot_ensemble(P[:, pick], y[pick], int(rule[3:]))
                epochs.append(sorted(int(e) + 1 for e in kept))
                right += int((P[kept][:, score].mean(0).argmax(1) == y[score]).sum())
                continue
            epoch = chosen_epoch(P[:, pick], y[pick], rule)
            epochs.append(epoch + 1)
            right += int((P[epoch][score].argmax(1) == y[score]).sum())
        records.append(dict(seed=seed, rule=rule, crossfit_val=right / len(y), epochs=epochs, control_all_val=control))
        print(records[-1], flush=True)
    pd.DataFrame(records).to_csv(out, index=False)
table = pd.DataFrame(records)
summary = table.groupby("rule", sort=False).crossfit_val.agg(["mean", "std"])
summary["wrong per seed (of 360)"] = (1 - summary["mean"]) * len(y)
print(summary.round(4))
print("control (acc on all val rows), mean over seeds:", round(table.drop_duplicates("seed").control_all_val.mean(), 4))
