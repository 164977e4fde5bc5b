"""Which test digits the ``combined`` method misses, seed by seed (issue 18), from a run's data
folder; nothing typed by hand:

    python scripts/few_labels/missed_test_digits.py DATA [--budget 10] [--figure PATH] [--pixel-references]

Loads the run's stored first-round students (``06_models/combined/students``; the final stage
wherever ``combined_stages.csv`` marks ``student_1`` selected, which the script checks) and
prints every test row that at least one seed gets wrong: its true class, each seed's
prediction, how many seeds miss it. Then the bound those rows put on the mean: the accuracy
if only the rows missed on every seed stayed wrong. ``--figure`` draws the missed digits;
``--pixel-references`` fits three classic classifiers on the raw pixels of EVERY train row with
its true label and says which of the missed rows each gets right (are they learnable at all?).
This reads test labels to *describe* a finished run; nothing is chosen with it.
"""
import argparse

import numpy as np
import pandas as pd


def missed_rows(predictions: dict[int, np.ndarray], y: np.ndarray) -> pd.DataFrame:
    """One row per test index that any seed predicts wrongly: ``row``, ``true``, one
    ``seed_<s>`` column per seed (its prediction), ``missed_by`` (number of seeds wrong);
    most-missed first."""
    seeds = sorted(predictions)
    wrong = np.array([predictions[s] != y for s in seeds])
    rows = np.flatnonzero(wrong.any(axis=0))
    table = pd.DataFrame({"row": rows, "true": y[rows]})
    for s in seeds:
        table[f"seed_{s}"] = predictions[s][rows]
    table["missed_by"] = wrong[:, rows].sum(axis=0)
    return table.sort_values(["missed_by", "row"], ascending=[False, True], ignore_index=True)


def always_missed_bound(table: pd.DataFrame, n_seeds: int, n_test: int) -> float:
    """Mean test accuracy if every row missed on all seeds stayed wrong and all others were right."""
    return 1.0 - int((table["missed_by"] == n_seeds).sum()) / n_test


def _student_predictions(data: str, budget: str, seeds: list[int]):
    import torch

    from transfer_lab.datasets.tree_dataset import TreeDataset
    from transfer_lab.methods.encoders import Classifier, encoder_from_checkpoint
    from transfer_lab.sources.splits import budget_view, label_subsets

    torch.set_num_threads(1)
    ds = TreeDataset(filepath=f"{data}/03_primary/base_dataset.npz").load()
    split = pd.read_parquet(f"{data}/03_primary/split_table.parquet")
    budget_key = int(budget) if budget.isdigit() else budget
    subsets = label_subsets(ds.y, split, [budget_key], seeds)
    predictions, views = {}, {}
    for seed in seeds:
        stored = torch.load(f"{data}/06_models/combined/students/lpc{budget}_seed{seed}.pt", weights_only=True)
        encoder = stored["meta"]["teacher"]["encoder"]
        model = Classifier(encoder_from_checkpoint(torch.load(f"{data}/06_models/encoders/{encoder}.pt", weights_only=True)),
                           int(stored["meta"]["n_classes"]))
        model.load_state_dict(stored["state_dict"])
        model.eval()
        views[seed] = budget_view(ds, split, subsets, budget_key, seed)
        with torch.no_grad():
            logits = model(torch.as_tensor(views[seed].X_test, dtype=torch.float32))
        predictions[seed] = logits.argmax(dim=1).numpy()
    return predictions, views


def _figure(table: pd.DataFrame, X_test: np.ndarray, seeds: list[int], budget: str, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(table), figsize=(1.9 * len(table), 2.9), squeeze=False)
    for ax, (_, r) in zip(axes[0], table.iterrows()):
        ax.imshow(X_test[r["row"]].reshape(X_test.shape[-2:]), cmap="gray_r")
        predicted = sorted({int(r[f"seed_{s}"]) for s in seeds} - {int(r["true"])})
        ax.set_title(f"test row {r['row']}\ntrue {r['true']}, read as {'/'.join(map(str, predicted))}\n"
                     f"missed by {r['missed_by']}/{len(seeds)} seeds", fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(f"Test digits the combined method misses ({budget} labels per class)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.9))  # room for the title above the panels' titles
    fig.savefig(path, dpi=110)


def _pixel_references(view, table: pd.DataFrame) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    X = np.concatenate([view.X_labeled, view.X_unlabeled]).reshape(-1, int(np.prod(view.X_test.shape[1:])))
    y = np.concatenate([view.y_labeled, view.y_unlabeled])
    X_test = view.X_test.reshape(len(view.X_test), -1)
    print(f"\nclassic classifiers on the raw pixels of every train row ({len(y)}, true labels):")
    for name, model in (("RBF SVM (C=10)", SVC(C=10.0, gamma="scale")), ("1-NN", KNeighborsClassifier(1)),
                        ("logistic regression", LogisticRegression(max_iter=2000))):
        predicted = model.fit(X, y).predict(X_test)
        right = [int(r) for r in table["row"] if predicted[r] == view.y_test[r]]
        print(f"- {name}: test accuracy {(predicted == view.y_test).mean():.4f}; of the missed rows it gets right {right}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="a default run's data folder")
    parser.add_argument("--budget", default="10")
    parser.add_argument("--figure", help="PNG of the missed digits")
    parser.add_argument("--pixel-references", action="store_true",
                        help="classic classifiers on the pixels of every train row, on the missed rows")
    args = parser.parse_args()
    stages = pd.read_csv(f"{args.data}/08_reporting/combined_stages.csv", dtype={"labels_per_class": str})
    final = stages[(stages["labels_per_class"] == args.budget) & stages["selected"]]
    if final.empty or set(final["stage"]) != {"student_1"}:
        raise SystemExit(f"missed_test_digits: the final stage at budget {args.budget} is not student_1 on every seed "
                         f"({sorted(set(final['stage']))}); only the first-round students are stored")
    seeds = sorted(int(s) for s in final["seed"])
    predictions, views = _student_predictions(args.data, args.budget, seeds)
    y = views[seeds[0]].y_test
    table = missed_rows(predictions, y)
    stored = final.set_index("seed")["accuracy"]
    for s in seeds:  # the students reproduce the run's own test accuracy
        assert abs((predictions[s] == y).mean() - stored[s]) < 1e-12, (s, stored[s])
    accuracy = np.mean([(predictions[s] == y).mean() for s in seeds])
    print(f"budget {args.budget}, seeds {seeds}: mean test accuracy {accuracy:.4f} "
          f"({sum(int((predictions[s] != y).sum()) for s in seeds)} wrong of {len(y) * len(seeds)} test predictions)\n")
    print("| test row | true | " + " | ".join(f"seed {s}" for s in seeds) + " | missed by |")
    print("| --- | --- | " + " | ".join("---" for _ in seeds) + " | --- |")
    for _, r in table.iterrows():
        cells = [str(r[f"seed_{s}"]) if r[f"seed_{s}"] != r["true"] else "✓" for s in seeds]
        print(f"| {r['row']} | {r['true']} | " + " | ".join(cells) + f" | {r['missed_by']}/{len(seeds)} |")
    print(f"\nif the {int((table['missed_by'] == len(seeds)).sum())} rows missed on every seed stayed wrong and every "
          f"other row were right: {always_missed_bound(table, len(seeds), len(y)):.4f}")
    if args.pixel_references:
        _pixel_references(views[seeds[0]], table)
    if args.figure:
        _figure(table, views[seeds[0]].X_test, seeds, args.budget, args.figure)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
