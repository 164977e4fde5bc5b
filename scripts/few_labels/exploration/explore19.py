"""Exploration 19 for issue 18: the first student with an exponential moving average (EMA) of
its weights (Polyak averaging; the mean teacher's weights, Tarvainen & Valpola 2017), read out
and early-stopped on validation through the average instead of the raw weights.

The teacher is the run's own choice (combined_selection.csv, selected rows of the budget); the
student recipe is combined's (60 epochs, patience 20, encoder lr 1e-4, strength 0.5, NHWC).
Arms: `plain` (cb.student, as the pipeline trains it) and `ema<decay>` for each decay given
(decay 0 runs the EMA path with no averaging: it must equal `plain`, the control); a decay
ending in "n" (e.g. 0.99n) has no warm-up.
Validation only unless --test (only for a configuration already chosen on validation).
Usage: explore19.py DATA BUDGET SEEDS DECAYS OUT.csv [--test]
  e.g. explore19.py <run>/data 10 0,1,2,3,4 0,0.99,0.998 out.csv"""
import copy
import sys
import time

import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import accuracy, chosen_teacher, pseudo_labels, recipe, run_data, student_parts  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.training import fit_classifier  # noqa: E402
from transfer_lab.methods.transfer import _augmented_loss  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, seeds, decays, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], \
    sys.argv[4].split(","), sys.argv[5]


class EmaOptimizer:
    """The optimizer, and after each of its steps ema ← decay·ema + (1 − decay)·model
    (parameters and float buffers). With ``warmup`` timm's decay_t = min(decay, (1 + t) / (10 + t)):
    over the ~20 epochs × 17 steps these students train, that is below 0.98 throughout, so every
    decay ≥ 0.99 gives the same average (a running mean of nearly all steps); "<decay>n" is none."""

    def __init__(self, optimizer, model, ema, decay, warmup):
        self.optimizer, self.model, self.ema, self.decay, self.warmup, self.t = optimizer, model, ema, decay, warmup, 0

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self):
        self.optimizer.step()
        self.t += 1
        d = min(self.decay, (1 + self.t) / (10 + self.t)) if self.warmup else self.decay
        for e, m in zip(self.ema.state_dict().values(), self.model.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(d).add_(m, alpha=1 - d)
            else:
                e.copy_(m)


def ema_student(encoder, view, pseudo, seed, decay, warmup):
    """cb.student's recipe (transfer._train_classifier, n_frozen 0) with an EMA read-out."""
    rows, labels, config, model, optimizer, augmenter = student_parts(encoder, view, pseudo, seed)
    ema = copy.deepcopy(model)
    best = {"val": -1.0, "state": None}

    def val_fn(_model):
        value = accuracy(ema, view.X_val, view.y_val)
        if value > best["val"]:
            best.update(val=value, state=copy.deepcopy(ema.state_dict()))
        return value

    fit_classifier(model, rows, labels, config=config, optimizer=EmaOptimizer(optimizer, model, ema, decay, warmup),
                   step_fn=_augmented_loss(augmenter), desc="ema", val_fn=val_fn)
    ema.load_state_dict(best["state"])
    return ema


ds, split, subsets = run_data(ROOT, [budget], seeds)
chosen, encoder = chosen_teacher(ROOT, budget)
print(f"teacher: {chosen.encoder}, k={chosen.n_neighbors}, {chosen.assignment}", flush=True)
records = []
for seed in seeds:
    view = budget_view(ds, split, subsets, budget, seed)
    hidden = cb.without_held_out_labels(view)
    pseudo = pseudo_labels(encoder, hidden, chosen)
    arms = [("plain", None)] + [(f"ema{d}", d) for d in decays]
    for name, decay in arms:
        start = time.process_time()
        with conv_layout(True):
            if decay is None:
                model = cb.student(copy.deepcopy(encoder), hidden, pseudo, recipe(seed))
            else:
                model = ema_student(encoder, hidden, pseudo, seed, float(decay.rstrip("n")), not decay.endswith("n"))
        record = dict(seed=seed, arm=name, val=accuracy(model, hidden.X_val, hidden.y_val),
                      cpu_s=round(time.process_time() - start, 1))
        if "--test" in sys.argv:
            record["test"] = accuracy(model, view.X_test, view.y_test)
        records.append(record)
        print(record, flush=True)
        pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("arm")[["val"] + (["test"] if "--test" in sys.argv else [])].agg(["mean", "std"]).round(4))
