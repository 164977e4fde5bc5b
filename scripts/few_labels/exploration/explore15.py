"""Exploration 15 for issue 18 (10 labels/class): what the default run's final students
(student_1 at 10 labels per class on every seed, stored by the pipeline in
06_models/combined/students) gain from cheap read-outs at prediction time, with no retraining:

- ``plain``: the student as the pipeline scores it;
- ``tta_shift5`` / ``tta_shift9``: softmax averaged over the digit shifted by one pixel
  (identity + 4 directions / the 3x3 neighbourhood; zero fill);
- ``tta_aug<N>``: softmax averaged over N draws of the students' own training augmentation
  (default_augmentations, strength 0.5) plus the identity;
- ``svc``: an RBF SVM on the raw pixels trained on every train row (true labels on the
  labelled rows, the student's predictions on the others); ``student+svc``: its Platt
  probabilities averaged with the student's softmax;
- ``student+knn``: the softmax averaged with a k-NN vote (k = 10) on the student's own features
  of the train rows labelled the same way.

VALIDATION accuracy is printed and written to OUT.csv; the test rows' predictions (not their
labels) go to OUT.npz, to be scored later only for the variant chosen on validation.
Usage: explore15.py ROOT BUDGET SEEDS OUT"""
import sys, time
import numpy as np, pandas as pd, torch
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
torch.set_num_threads(1)
from transfer_lab.datasets.tree_dataset import TreeDataset
from transfer_lab.sources.splits import label_subsets as make_subsets, budget_view
from transfer_lab.methods.augment import build_augmenter
from transfer_lab.methods.encoders import Classifier, encoder_from_checkpoint
from transfer_lab.methods.training import extract_features, predict_proba
from transfer_lab.methods import combined as cb

ROOT, budget, seeds, out = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split(",")], sys.argv[4]
ds = TreeDataset(filepath=f"{ROOT}/03_primary/base_dataset.npz").load()
split = pd.read_parquet(f"{ROOT}/03_primary/split_table.parquet")
sub = make_subsets(ds.y, split, [budget], seeds)
simclr = torch.load(f"{ROOT}/06_models/encoders/simclr.pt", weights_only=True)


def shifted(X, dy, dx):
    S = np.zeros_like(X)
    h, w = X.shape[-2:]
    S[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = X[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return S


def tta_shift(model, X, offsets):
    return np.mean([predict_proba(model, shifted(X, dy, dx)) for dy, dx in offsets], axis=0)


def tta_aug(model, X, n, seed):
    aug = build_augmenter(None, "image", 0.5)
    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    with torch.no_grad():
        views = [predict_proba(model, x.numpy())] + [predict_proba(model, aug(x).numpy()) for _ in range(n)]
    return np.mean(views, axis=0)


FIVE = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
NINE = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
rows, test_predictions = [], {}
for seed in seeds:
    view = budget_view(ds, split, sub, budget, seed)
    hidden = cb.without_held_out_labels(view)
    stored = torch.load(f"{ROOT}/06_models/combined/students/lpc{budget}_seed{seed}.pt", weights_only=True)
    model = Classifier(encoder_from_checkpoint(simclr), 10)
    model.load_state_dict(stored["state_dict"])
    t = time.process_time()
    rows_X = np.concatenate([hidden.X_labeled, hidden.X_unlabeled])
    labels = np.concatenate([hidden.y_labeled, predict_proba(model, hidden.X_unlabeled).argmax(1)])
    svc = SVC(kernel="rbf", gamma="scale", C=10, probability=True, random_state=seed).fit(rows_X.reshape(len(rows_X), -1), labels)
    knn = KNeighborsClassifier(10).fit(extract_features(model.encoder, rows_X), labels)
    variants = {}
    for split_name, X in (("val", hidden.X_val), ("test", view.X_test)):
        p = predict_proba(model, X)
        flat = X.reshape(len(X), -1)
        p_svc = svc.predict_proba(flat)
        p_knn = knn.predict_proba(extract_features(model.encoder, X))
        variants[split_name] = {
            "plain": p, "tta_shift5": tta_shift(model, X, FIVE), "tta_shift9": tta_shift(model, X, NINE),
            "tta_aug8": tta_aug(model, X, 8, seed), "tta_aug32": tta_aug(model, X, 32, seed),
            "svc": p_svc, "student+svc": (p + p_svc) / 2, "student+knn": (p + p_knn) / 2,
        }
    for name, p in variants["val"].items():
        rows.append(dict(labels_per_class=budget, seed=seed, variant=name,
                         val_accuracy=float((p.argmax(1) == hidden.y_val).mean())))
        test_predictions[f"{budget}|{seed}|{name}"] = variants["test"][name].argmax(1)
        print(rows[-1], flush=True)
    print(f"seed {seed}: {time.process_time() - t:.1f} s CPU", flush=True)
    pd.DataFrame(rows).to_csv(f"{out}.csv", index=False)
    np.savez(f"{out}.npz", **test_predictions)
print(pd.DataFrame(rows).groupby("variant")["val_accuracy"].agg(["mean", "std"]).round(4).to_string())
