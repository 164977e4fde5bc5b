"""Exploration 16 for issue 18 (10 labels/class): do students of two different pretrainings
make errors that cancel? The default run's stored first students (SimCLR-initialised; the
final stage at 10 labels on every seed) are averaged (softmax) with a student initialised from
another checkpoint (OTHER, e.g. MoCo) trained on the same pseudo-labels (teacher: label
propagation on SimCLR features, balanced, k given; the combined recipe: 60 epochs, patience 20,
encoder lr 1e-4, strength 0.5). VALIDATION accuracy to OUT.csv; the test rows' predictions
(not their labels) to OUT.npz, scored later only for the variant chosen on validation.
Usage: explore16.py ROOT BUDGET SEEDS K OTHER_NAME=OTHER_CKPT OUT"""
import sys, time, copy
import numpy as np, pandas as pd, torch
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.encoders import Classifier, encoder_from_checkpoint
from transfer_lab.methods.training import TrainConfig, extract_features, predict_proba
from transfer_lab.methods import combined as cb
ROOT, budget, seeds, k, other, out = (sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")],
                                      int(sys.argv[4]), sys.argv[5], sys.argv[6])
name, ockpt = other.split("=")
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [budget], seeds)
simclr_ckpt = torch.load(f"{ROOT}/06_models/encoders/simclr.pt", weights_only=True)
simclr, other_enc = encoder_from_checkpoint(simclr_ckpt), encoder_from_checkpoint(torch.load(ockpt, weights_only=True))


rows, test_predictions = [], {}
for seed in seeds:
    view = budget_view(ds, split, sub, budget, seed)
    hidden = cb.without_held_out_labels(view)
    stored = torch.load(f"{ROOT}/06_models/combined/students/lpc{budget}_seed{seed}.pt", weights_only=True)
    base = Classifier(copy.deepcopy(simclr), 10)
    base.load_state_dict(stored["state_dict"])
    P, _ = cb.teacher(extract_features(simclr, hidden.X_labeled), hidden.y_labeled,
                      extract_features(simclr, hidden.X_unlabeled), k, "balanced", 10)
    t = time.process_time()
    how = cb.CombinedSettings(config=TrainConfig(epochs=60, patience=20, progress=False, seed=seed), rounds=1, n_classes=10)
    second = cb.student(copy.deepcopy(other_enc), hidden, P.argmax(1), how)
    cpu = time.process_time() - t
    for split_name, X, y in (("val", hidden.X_val, hidden.y_val), ("test", view.X_test, None)):
        p, q = predict_proba(base, X), predict_proba(second, X)
        for variant, r in (("simclr", p), (name, q), (f"simclr+{name}", (p + q) / 2)):
            if y is not None:
                rows.append(dict(labels_per_class=budget, seed=seed, variant=variant,
                                 val_accuracy=float((r.argmax(1) == y).mean()), student_cpu_s=cpu))
                print(rows[-1], flush=True)
            else:
                test_predictions[f"{budget}|{seed}|{variant}"] = r.argmax(1)
    pd.DataFrame(rows).to_csv(f"{out}.csv", index=False)
    np.savez(f"{out}.npz", **test_predictions)
print(pd.DataFrame(rows).groupby("variant")["val_accuracy"].agg(["mean", "std"]).round(4).to_string())
