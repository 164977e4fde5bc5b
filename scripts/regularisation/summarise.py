"""Print the regularisation family's measured comparisons as markdown (the README's tables).

    python scripts/regularisation/summarise.py                 # measure.py's tables in /tmp/s14measure
    python scripts/regularisation/summarise.py RUN/data/08_reporting/regularisation_results.csv
"""
import sys
from pathlib import Path
import pandas as pd
ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src")]
from transfer_lab.reporting.results import aggregate_results, concat_results
from transfer_lab.pipelines.regularisation import nodes
from transfer_lab.reporting.readme import markdown_table
def md(frame):
    return markdown_table([frame.index.name or '', *map(str, frame.columns)], [[str(i), *map(str, r)] for i, r in zip(frame.index, frame.to_numpy())])

def read(path):
    return pd.read_csv(path, dtype={"labels_per_class": str}, keep_default_na=False)


if len(sys.argv) > 1:  # a run's results table: its figures are the run's own
    results = read(sys.argv[1])
else:
    out = Path("/tmp/s14measure")
    results = concat_results(*[read(p) for p in sorted(out.glob("*.csv")) if p.stem not in ("summary",)])
    accuracy_figure, adversarial_figure, summary = nodes.report(results, {"epsilon": 0.1})
    accuracy_figure.savefig(out / "regularisation_accuracy.png", dpi=110)
    adversarial_figure.savefig(out / "regularisation_adversarial.png", dpi=110)
    summary.to_csv(out / "summary.csv", index=False)
board = aggregate_results([results])
test = board[board["split"] == "test"]
def table(metric, methods):
    t = test[(test["metric"] == metric) & test["method"].isin(methods)].copy()
    t["cell"] = t.apply(lambda r: f"{r['mean']:.3f} ± {r['std']:.3f}", axis=1)
    p = t.pivot(index="method", columns="labels_per_class", values="cell")
    cols = sorted(p.columns, key=lambda b: float("inf") if b == "all" else float(b))
    return p[cols].reindex([m for m in methods if m in p.index])
pd.set_option("display.width", 200)
methods = sorted(test["method"].unique())
print("## test accuracy (mean ± std over seeds)\n"); print(md(table("accuracy", methods)))
nets = [m for m in ["mlp", "adversarial_training", "tangent_prop", "manifold_tangent", "dropout_weight_scaling", "l1_activation"] if m in methods]
print("\n## FGSM accuracy, eps 0.1\n"); print(md(table("fgsm_accuracy", nets)))
print("\n## PGD accuracy, eps 0.1\n"); print(md(table("pgd_accuracy", nets)))
print("\n## activation sparsity\n"); print(md(table("activation_sparsity", nets)))
print("\n## dropout MC - weight scaling gap\n"); print(md(table("gap_to_weight_scaling", ["dropout_mc"])))
# per seed: TD vs Euclidean
raw = results.query("metric == 'accuracy' and split == 'test'")
p = raw.pivot_table(index=["labels_per_class", "seed"], columns="method", values="value")
if {"tangent_distance_1nn", "euclidean_1nn"} <= set(p.columns):
    d = p["tangent_distance_1nn"] - p["euclidean_1nn"]
    print("\n## TD-1NN minus Euclidean-1NN per budget and seed\n"); u = d.unstack().round(3); print(md(u.reindex(sorted(u.index, key=lambda b: float("inf") if b == "all" else float(b)))))
