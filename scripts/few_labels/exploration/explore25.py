"""Exploration 25 for issue 18: the second round's teacher with its own k and assignment.
`combined.run` reuses the first teacher's candidate (chosen on the pretrained features) for
teacher_2, which runs on student_1's features. Here: teacher_2 over a k grid and every
assignment, on the run's stored first students (06_models/combined/students). The run's own
candidate must reproduce its `combined_stages.csv` teacher_2 val. Validation only.
Usage: explore25.py DATA BUDGET K,K,... OUT.csv"""
import sys

import pandas as pd
import torch

torch.set_num_threads(1)
from run_teacher import run_data  # noqa: E402
from transfer_lab.methods import combined as cb  # noqa: E402
from transfer_lab.methods.encoders import Classifier, encoder_from_checkpoint  # noqa: E402
from transfer_lab.methods.training import extract_features  # noqa: E402
from transfer_lab.sources.splits import budget_view  # noqa: E402

ROOT, budget, ks, out = sys.argv[1], int(sys.argv[2]), [int(k) for k in sys.argv[3].split(",")], sys.argv[4]
ds, split, subsets = run_data(ROOT, [budget], [0, 1, 2, 3, 4])
records = []
for seed in range(5):
    stored = torch.load(f"{ROOT}/06_models/combined/students/lpc{budget}_seed{seed}.pt", weights_only=True)
    teacher = stored["meta"]["teacher"]
    model = Classifier(encoder_from_checkpoint(torch.load(f"{ROOT}/06_models/encoders/{teacher['encoder']}.pt",
                                                          weights_only=True)), 10)
    model.load_state_dict(stored["state_dict"])
    view = cb.without_held_out_labels(budget_view(ds, split, subsets, budget, seed))
    F_l, F_u, F_v = (extract_features(model.encoder, X) for X in (view.X_labeled, view.X_unlabeled, view.X_val))
    for k in ks:
        for assignment in ("argmax", "class_mass", "balanced"):
            _, predict = cb.teacher(F_l, view.y_labeled, F_u, k, assignment, 10)
            records.append(dict(seed=seed, k=k, assignment=assignment, val=float((predict(F_v) == view.y_val).mean()),
                                run_candidate=(k == teacher["n_neighbors"] and assignment == teacher["assignment"])))
table = pd.DataFrame(records)
table.to_csv(out, index=False)
print(table.groupby(["assignment", "k"]).val.mean().unstack().round(4))
print("run's candidate:", table[table.run_candidate].val.mean().round(4))
