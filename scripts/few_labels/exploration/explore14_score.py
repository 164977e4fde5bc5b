"""Choose on VALIDATION among explore14.py's runs, then score the chosen configuration on test.
Per budget: the student init of best mean student_1 val accuracy over the seeds (as
combined.select_student chooses; ties: the first init in the order given, cheapest first), then
that init's stage of best mean val accuracy (as combined.choose_stage; ties: the earlier stage).
Only then are the test labels read, for the chosen (init, stage) of each budget only.
Usage: explore14_score.py ROOT PREFIX INIT[,INIT...]   (reads PREFIX_<init>.csv / .npz)"""
import sys
import numpy as np, pandas as pd
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
ROOT, prefix, inits = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
STAGES = ["teacher_1", "student_1", "teacher_2", "student_2"]
table = pd.concat([pd.read_csv(f"{prefix}_{i}.csv") for i in inits])
means = table.groupby(["labels_per_class", "init", "stage"])["val_accuracy"].mean().round(12)
print("mean val accuracy per budget, init, stage:\n", means.unstack().reindex(columns=STAGES).round(4).to_string())
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
for budget in sorted(table["labels_per_class"].unique()):
    m = means.loc[budget]
    init = max(inits, key=lambda i: (m.loc[(i, "student_1")], -inits.index(i)))
    stage = max(STAGES, key=lambda s: (m.loc[(init, s)], -STAGES.index(s)))
    chosen = table[(table.labels_per_class == budget) & (table.init == init) & (table.stage == stage)]
    seeds = sorted(chosen["seed"])
    sub = make_subsets(ds.y, split, [int(budget)], seeds)
    predictions = np.load(f"{prefix}_{init}.npz")
    test = [float((predictions[f"{init}|{budget}|{s}|{stage}"] == budget_view(ds, split, sub, int(budget), s).y_test).mean()) for s in seeds]
    print(f"budget {budget}: chosen on val: init {init}, stage {stage}; val {chosen.val_accuracy.mean():.4f} ± "
          f"{chosen.val_accuracy.std():.4f}; TEST {np.mean(test):.4f} ± {np.std(test, ddof=1):.4f} (seeds {seeds}: {np.round(test, 4).tolist()})")
