"""Exploration 26 for issue 18: the second student on a teacher_2 with its own candidate
(k, assignment), chosen on validation by explore25.py, instead of the first teacher's. As
`combined.run` does, teacher_2 runs on the stored first student's features and student_2 is
fine-tuned from the pretrained encoder (the `combined` recipe, NHWC). The run's own candidate
must reproduce its `combined_stages.csv` student_2 val. Validation only.
Usage: explore26.py DATA BUDGET K:ASSIGNMENT,... OUT.csv   e.g. explore26.py <run>/data 10 5:balanced,10:class_mass out.csv"""
import copy
import sys

import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import accuracy, recipe, run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.encoders import Classifier, encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.runtime import conv_layout  # noqa: E402
from transfer_lab.methods.training import extract_features  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, arms, out = sys.argv[1], int(sys.argv[2]), [a.split(":") for a in sys.argv[3].split(",")], sys.argv[4]
ds, split, subsets = run_data(ROOT, [budget], [0, 1, 2, 3, 4])
records = []
for seed in range(5):
    stored = torch.load(f"{ROOT}/06_models/combined/students/lpc{budget}_seed{seed}.pt", weights_only=True)
    meta = stored["meta"]
    with conv_layout(True):
        encoder = encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/encoders/{meta['teacher']['encoder']}.pt",
                                                     weights_only=True))
        first = Classifier(copy.deepcopy(encoder), 10)
    first.load_state_dict(stored["state_dict"])
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    F_l, F_u = extract_features(first.encoder, view.X_labeled), extract_features(first.encoder, view.X_unlabeled)
    for k, assignment in arms:
        P, _ = cb.teacher(F_l, view.y_labeled, F_u, int(k), assignment, 10)
        how = recipe(seed, encoder_lr=meta["encoder_lr"], strength=meta["strength"])
        with conv_layout(True):
            second = cb.student(copy.deepcopy(encoder), view, P.argmax(1), how)
        records.append(dict(seed=seed, teacher_2=f"{k}:{assignment}",
                            val=accuracy(second, view.X_val, view.y_val)))
        print(records[-1], flush=True)
        pd.DataFrame(records).to_csv(out, index=False)
print(pd.DataFrame(records).groupby("teacher_2", sort=False).val.agg(["mean", "std"]).round(4))
