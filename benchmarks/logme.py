"""LogME speed and values: ``transfer_lab.methods.transferability.logme`` vs TLlib's LogME.

Both sides score the same frozen features — sklearn digits (X / 16) tiled with small noise
to ``n`` rows, mapped to ``d`` features by a fixed random ReLU layer — against the same
10-class labels, at every size of the grid (n ∈ {2k, 5k, 20k} × d ∈ {64, 128, 256, 512};
``--quick``: 2k×64, 5k×128, 20k×512), one BLAS thread each, min of ``--repeats`` calls.

* ours: :func:`transfer_lab.methods.transferability.logme` (defaults: ``tol=1e-3``,
  ``max_iter=100``): one eigendecomposition of the d × d Gram matrix, then the fixed point
  of every class column in that eigenbasis at ``O(d)`` per iteration;
* baseline: :func:`tllib_log_maximum_evidence` below, a copy of TLlib's
  ``log_maximum_evidence`` (thuml/Transfer-Learning-Library, ``tllib/ranking/logme.py``):
  an SVD of ``FᵀF``, then per class at most 11 fixed-point steps, each with two ``n × d``
  matrix-vector products, stopping at a 1% change of ``α/β``. TLlib compiles
  ``each_evidence`` with numba's ``@njit``; numba is not a dependency here, so the copy
  runs as NumPy (its work is BLAS matrix-vector products either way).

Quality: the relative difference of the two scores (their stopping rules differ: 1e-3 vs
1e-2), reported as the largest over the grid.

Usage::

    python benchmarks/logme.py [--quick] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import emit, machine, tiled_digits  # noqa: E402
from _timing import best_of, single_thread  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from transfer_lab.methods.transferability import logme  # noqa: E402


# --------------------------------------------------------------------------- baseline
# Re-implementation of TLlib's LogME for timing, following
# https://github.com/thuml/Transfer-Learning-Library/blob/master/tllib/ranking/logme.py
# (log_maximum_evidence and each_evidence; the latter is @njit-compiled there).
def _tllib_each_evidence(y_, f, fh, v, s, vh, N, D):
    alpha = 1.0
    beta = 1.0
    lam = alpha / beta
    tmp = vh @ (f @ y_)
    for _ in range(11):
        gamma = (s / (s + lam)).sum()
        m = v @ (tmp * beta / (alpha + beta * s))
        alpha_de = (m * m).sum()
        alpha = gamma / alpha_de
        beta_de = ((y_ - fh @ m) ** 2).sum()
        beta = (N - gamma) / beta_de
        new_lam = alpha / beta
        if np.abs(new_lam - lam) / lam < 0.01:
            break
        lam = new_lam
    evidence = (
        D / 2.0 * np.log(alpha)
        + N / 2.0 * np.log(beta)
        - 0.5 * np.sum(np.log(alpha + beta * s))
        - beta / 2.0 * beta_de
        - alpha / 2.0 * alpha_de
        - N / 2.0 * np.log(2 * np.pi)
    )
    return evidence / N, m


def tllib_log_maximum_evidence(features: np.ndarray, targets: np.ndarray) -> float:
    """TLlib's ``log_maximum_evidence(features, targets)`` for class labels."""
    f = features.astype(np.float64)
    y = targets
    fh = f
    f = f.transpose()
    D, N = f.shape
    v, s, vh = np.linalg.svd(f @ fh, full_matrices=True)
    evidences = []
    for i in range(int(y.max() + 1)):
        y_ = (y == i).astype(np.float64)
        evidence, _ = _tllib_each_evidence(y_, f, fh, v, s, vh, N, D)
        evidences.append(evidence)
    return float(np.mean(evidences))


# --------------------------------------------------------------------------- data
def features_and_labels(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X = tiled_digits(n, seed=seed)
    target = load_digits().target
    y = np.tile(target, -(-n // len(target)))[:n]
    W = np.random.default_rng(seed + 1).standard_normal((X.shape[1], d)) / np.sqrt(X.shape[1])
    return np.maximum(X @ W, 0.0), y


FULL = [(n, d) for n in (2_000, 5_000, 20_000) for d in (64, 128, 256, 512)]
QUICK = [(2_000, 64), (5_000, 128), (20_000, 512)]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 sizes (< 1 minute)")
    parser.add_argument("--repeats", type=int, default=None, help="default 5 (quick: 3)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    grid = QUICK if args.quick else FULL

    rows = []
    with single_thread():
        for n, d in grid:
            F, y = features_and_labels(n, d)
            logme(F[:200], y[:200]), tllib_log_maximum_evidence(F[:200], y[:200])  # warm-up
            ours_wall, ours_cpu, ours_value = best_of(lambda: logme(F, y), repeats)
            base_wall, base_cpu, base_value = best_of(
                lambda: tllib_log_maximum_evidence(F, y), repeats
            )
            row = {
                "n": n, "d": d,
                "ours_seconds": round(ours_wall, 4), "ours_cpu_seconds": round(ours_cpu, 4),
                "baseline_seconds": round(base_wall, 4), "baseline_cpu_seconds": round(base_cpu, 4),
                "speedup": round(base_wall / ours_wall, 2),
                "speedup_cpu": round(base_cpu / ours_cpu, 2),
                "ours_value": ours_value, "baseline_value": base_value,
                "rel_diff": abs(ours_value - base_value) / abs(base_value),
            }
            rows.append(row)
            print(
                f"n={n:6d} d={d:4d}  ours {ours_wall:7.4f}s (cpu {ours_cpu:7.4f})  "
                f"tllib {base_wall:7.4f}s (cpu {base_cpu:7.4f})  speed-up {row['speedup']:5.2f}x "
                f"(cpu {row['speedup_cpu']:5.2f}x)  LogME {ours_value:.6f} vs {base_value:.6f}",
                flush=True,
            )

    ours_total = sum(r["ours_seconds"] for r in rows)
    base_total = sum(r["baseline_seconds"] for r in rows)
    return emit({
        "benchmark": "logme",
        "ours": "transfer_lab.methods.transferability.logme (d x d Gram eigendecomposition)",
        "baseline": "TLlib log_maximum_evidence (NumPy copy of tllib/ranking/logme.py)",
        "ours_seconds": round(ours_total, 4),
        "baseline_seconds": round(base_total, 4),
        "speedup": round(base_total / ours_total, 2),
        "min_speedup": min(r["speedup"] for r in rows),
        "min_speedup_cpu": min(r["speedup_cpu"] for r in rows),
        "max_value_rel_diff": max(r["rel_diff"] for r in rows),
        "repeats": repeats,
        "statistic": "min",
        "threads": 1,
        "sizes": rows,
        "machine": machine(),
    })


if __name__ == "__main__":
    main()
