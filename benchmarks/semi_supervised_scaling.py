"""Scaling of graph and wrapper semi-supervised methods with the number of rows, in one run.

Data: sklearn digits (X / 16) resampled to ``n`` rows, each a random digit shifted by up to
one pixel, intensity-scaled by U(0.8, 1.2) and with Gaussian pixel noise (std 0.1), so that
rows differ and the k-NN graph stays connected (plain tiled copies fall apart into
components of copies of one image). 10 labels per class, the rest ``y = -1``; a fixed
held-out set of 2,000 such rows (another seed) for test accuracy. Sizes 1k / 5k / 20k / 80k
(``--quick``: 1k / 5k / 20k), one BLAS thread, min of repeats (one repeat from 20k rows).

Timed (fit only, CPU seconds beside wall):

* ours ``LabelPropagation(n_neighbors=7)`` (CG solve of the harmonic fixed point) vs the
  baseline ``sklearn.semi_supervised.LabelSpreading(kernel="knn", n_neighbors=7)``; both
  build a brute-force k-NN graph (scikit-learn's ``NearestNeighbors``, O(n² d)), which is
  timed on its own too (``knn_graph_cpu_seconds``) so that the propagation's own cost
  shows (``label_propagation_solve_*``: our fit with that graph handed in);
* ours ``TriTrainingClassifier(KNeighborsClassifier(1))`` vs LAMDA-SSL's ``Tri_Training``
  with the same base learner, when LAMDA-SSL is importable (``--lamda-path``, or the
  ``LAMDA_SSL_PATH`` environment variable, a folder it was ``pip install --target``-ed
  into; it is never a dependency), else skipped with a message.

Reported per size: seconds, iterations, accuracy on the unlabelled rows (transductive, the
graph methods) and on the held-out rows (all); and the fitted exponent (slope of log CPU
seconds against log n) of every method. ``speedup`` is LabelSpreading's CPU seconds over
our label propagation's at the largest size; ``accuracy`` is ours there (held-out).

Usage::

    python benchmarks/semi_supervised_scaling.py [--quick] [--repeats 3] [--lamda-path DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import emit, machine  # noqa: E402
from _timing import best_of, loglog_slope, single_thread  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.semi_supervised import LabelSpreading  # noqa: E402

from transfer_lab.methods.semi_supervised import label_propagation as lp_module  # noqa: E402
from transfer_lab.methods.semi_supervised import (  # noqa: E402
    LabelPropagation,
    TriTrainingClassifier,
    knn_graph,
)

FULL = (1_000, 5_000, 20_000, 80_000)
QUICK = (1_000, 5_000, 20_000)


def shifted_digits(n: int, seed: int = 0, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random digits, each shifted by ≤ 1 pixel, scaled and noised: (n, 64), labels."""
    digits = load_digits()
    padded = np.pad(digits.images / 16.0, ((0, 0), (1, 1), (1, 1)))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(digits.target), n)
    shift = rng.integers(-1, 2, (n, 2))
    out = np.empty((n, 8, 8))
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            rows = (shift[:, 0] == dx) & (shift[:, 1] == dy)
            out[rows] = padded[idx[rows], 1 + dx: 9 + dx, 1 + dy: 9 + dy]
    out *= rng.uniform(0.8, 1.2, (n, 1, 1))
    out += noise * rng.standard_normal(out.shape)
    return out.reshape(n, 64), digits.target[idx]


def mask(y_true: np.ndarray, per_class: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.full(len(y_true), -1)
    for c in np.unique(y_true):
        keep = rng.choice(np.flatnonzero(y_true == c), per_class, replace=False)
        y[keep] = c
    return y


def load_lamda(path: str | None):
    if path:
        sys.path.insert(0, path)
    try:
        from LAMDA_SSL.Algorithm.Classification.Tri_Training import Tri_Training
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        print(f"LAMDA-SSL not importable ({type(exc).__name__}: {exc}); skipping its "
              "Tri_Training (pip install --no-deps LAMDA-SSL==1.0.2 --target DIR, then "
              "--lamda-path DIR)", flush=True)
        return None
    from sklearn.base import ClassifierMixin

    if not hasattr(ClassifierMixin, "_estimator_type"):
        # LAMDA-SSL 1.0.2 reads this attribute, which scikit-learn >= 1.6 no longer defines
        # (estimator tags replaced it); restoring the old value lets its __init__ run.
        ClassifierMixin._estimator_type = "classifier"
    return Tri_Training


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k / 5k / 20k rows (< 1 minute)")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--repeats", type=int, default=None,
                        help="below 20k rows (then 1); default 3, quick 2")
    parser.add_argument("--labels-per-class", type=int, default=10)
    parser.add_argument("--lamda-path", default=os.environ.get("LAMDA_SSL_PATH"))
    args = parser.parse_args(argv)
    sizes = args.sizes or (QUICK if args.quick else FULL)
    Tri_Training = load_lamda(args.lamda_path)
    warnings.filterwarnings("ignore")  # LabelSpreading's ConvergenceWarning, LAMDA's numpy
    X_test, y_test = shifted_digits(2_000, seed=12345)
    knn1 = KNeighborsClassifier(n_neighbors=1)

    methods = {
        "label_propagation": lambda: LabelPropagation(n_neighbors=7),
        "label_spreading_sklearn": lambda: LabelSpreading(kernel="knn", n_neighbors=7),
        "tri_training": lambda: TriTrainingClassifier(knn1, random_state=0),
    }
    rows = []
    with single_thread():
        for n in sizes:
            X, y_true = shifted_digits(n, seed=0)
            y = mask(y_true, args.labels_per_class)
            unl = y == -1
            repeats = (args.repeats or (2 if args.quick else 3)) if n < 20_000 else 1
            row: dict = {"n": n, "repeats": repeats}
            wall, cpu, graph = best_of(lambda: knn_graph(X, 7), repeats)
            row["knn_graph_seconds"], row["knn_graph_cpu_seconds"] = round(wall, 4), round(cpu, 4)
            # The propagation alone: our fit with the graph it would build handed in.
            build = lp_module.knn_graph
            lp_module.knn_graph = lambda *a, **k: graph
            try:
                wall, cpu, _ = best_of(lambda: LabelPropagation(n_neighbors=7).fit(X, y), repeats)
            finally:
                lp_module.knn_graph = build
            row["label_propagation_solve_seconds"] = round(wall, 4)
            row["label_propagation_solve_cpu_seconds"] = round(cpu, 4)
            for name, make in methods.items():
                wall, cpu, model = best_of(lambda: make().fit(X, y), repeats)
                row[name] = {
                    "seconds": round(wall, 4),
                    "cpu_seconds": round(cpu, 4),
                    "n_iter": int(getattr(model, "n_iter_", -1)),
                    "test_accuracy": round(float(model.score(X_test, y_test)), 4),
                }
                if hasattr(model, "transduction_"):
                    row[name]["unlabelled_accuracy"] = round(
                        float(np.mean(model.transduction_[unl] == y_true[unl])), 4
                    )
            if Tri_Training is not None:
                def lamda_fit():
                    np.random.seed(0)  # LAMDA-SSL draws from numpy's global generator
                    return Tri_Training(base_estimator=KNeighborsClassifier(n_neighbors=1)).fit(
                        X[~unl], y[~unl], X[unl]
                    )
                wall, cpu, model = best_of(lamda_fit, repeats)
                row["tri_training_lamda"] = {
                    "seconds": round(wall, 4),
                    "cpu_seconds": round(cpu, 4),
                    "n_iter": int(model.iter),
                    "test_accuracy": round(float(np.mean(model.predict(X_test) == y_test)), 4),
                }
            rows.append(row)
            print(f"n={n:6d}  kNN graph {row['knn_graph_cpu_seconds']:7.3f} s CPU, label "
                  f"propagation without it {row['label_propagation_solve_cpu_seconds']:7.3f} s CPU",
                  flush=True)
            for name in [*methods, "tri_training_lamda"]:
                if name in row:
                    r = row[name]
                    print(f"    {name:24s} {r['seconds']:8.3f} s (CPU {r['cpu_seconds']:8.3f})  "
                          f"iter {r['n_iter']:4d}  test acc {r['test_accuracy']:.3f}  "
                          f"unlabelled acc {r.get('unlabelled_accuracy', float('nan')):.3f}",
                          flush=True)

    ns = [r["n"] for r in rows]
    names = [m for m in [*methods, "tri_training_lamda"] if m in rows[0]]
    exponents = {m: round(loglog_slope(ns, [r[m]["cpu_seconds"] for r in rows]), 2) for m in names}
    exponents["knn_graph"] = round(loglog_slope(ns, [r["knn_graph_cpu_seconds"] for r in rows]), 2)
    exponents["label_propagation_solve"] = round(loglog_slope(
        ns, [r["label_propagation_solve_cpu_seconds"] for r in rows]), 2)
    print("fitted exponents (log-log slope of CPU seconds vs n): "
          + ", ".join(f"{k} {v}" for k, v in exponents.items()), flush=True)
    if Tri_Training is None:
        print("tri-training has no baseline in this run (LAMDA-SSL skipped)")
    last = rows[-1]
    ours, base = last["label_propagation"], last["label_spreading_sklearn"]
    return emit({
        "benchmark": "semi_supervised_scaling",
        "ours": "transfer_lab LabelPropagation (CG) and TriTrainingClassifier(1-NN)",
        "baseline": "sklearn LabelSpreading(kernel='knn', n_neighbors=7)"
        + (" and LAMDA-SSL Tri_Training(1-NN)" if Tri_Training is not None else ""),
        "n": last["n"],
        "ours_seconds": ours["seconds"],
        "ours_cpu_seconds": ours["cpu_seconds"],
        "baseline_seconds": base["seconds"],
        "baseline_cpu_seconds": base["cpu_seconds"],
        "speedup": round(base["cpu_seconds"] / ours["cpu_seconds"], 2),
        "accuracy": ours["test_accuracy"],
        "baseline_accuracy": base["test_accuracy"],
        "tri_training_seconds": last["tri_training"]["cpu_seconds"],
        "tri_training_lamda_seconds": last.get("tri_training_lamda", {}).get("cpu_seconds"),
        "exponents": exponents,
        "statistic": "min",
        "threads": 1,
        "sizes": rows,
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
