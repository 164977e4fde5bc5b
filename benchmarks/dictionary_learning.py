"""Online dictionary learning speed: ``transfer_lab`` vs SPAMS' ``trainDL`` and scikit-learn.

All learners fit ``--atoms`` unit-norm atoms to the same rows — sklearn digits (X / 16,
64 features) tiled with small noise to ``--rows`` rows — with the same ``alpha`` and the same
mini-batch size (256, scikit-learn's default), one thread each, in one process:

* ours: :class:`transfer_lab.methods.dictionary_learning.MiniBatchDictionaryLearning`
  (float32, ADMM coder, Mairal et al.'s forgetting ``ρ = 4``), ``--epochs`` passes, timed
  twice: ``record_objective=True`` (what the ``dictionary`` pipeline runs: all rows are
  re-coded after every epoch for ``objective_history_``, the ``ours_recording_*`` fields) and
  ``record_objective=False`` (the ``ours_*`` headline fields: like SPAMS' and scikit-learn's
  online learners it returns the atoms only; every learner's objective is computed after the
  timing by the same coder);
* SPAMS ``trainDL`` (Mairal et al.'s own online learner, ``mode=2``, ``lambda1=alpha``,
  ``numThreads=1``), when importable (``pip install -e '.[benchmarks]'``, or a folder
  ``pip install spams-bin --target``-ed into, given as ``--spams-path`` / ``SPAMS_PATH``);
  skipped with a message otherwise. It is run for 0.5, 1, 1.5, 2 and 3 times our number of
  mini-batches, so that its CPU time *at our objective* is interpolated on its own curve;
* scikit-learn ``MiniBatchDictionaryLearning`` with ``fit_algorithm="cd"`` (its faster coder
  here) and, without ``--quick``, ``"lars"`` (its default), the same epochs, early stopping
  off (``tol=0, max_no_improvement=None``), float64.

Quality: the full-data objective (mean over rows of ``½‖x − uD‖² + alpha‖u‖₁``) of each
learned dictionary, every row coded by the same accurate coder (our ``sparse_encode``,
float64, FISTA, duality-gap tolerance 1e-4). Times: process CPU seconds and wall seconds,
minimum of ``--repeats`` fits (scikit-learn: of ``--sklearn-repeats``), after a warm-up.
``speedup_vs_spams_at_equal_objective`` is SPAMS' interpolated CPU time to reach our
objective divided by ours (``null`` with a message when our objective is outside SPAMS'
curve). Against scikit-learn, whose objective after the same epochs is higher than ours, the
CPU ratio at equal epochs is a lower bound of the ratio at equal objective.

Usage::

    python benchmarks/dictionary_learning.py [--quick] [--rows N] [--epochs E] [--repeats 3]
        [--alpha 0.2] [--atoms 128] [--spams-path DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import emit, machine, set_threads, tiled_digits  # noqa: E402
from _timing import best_of, single_thread  # noqa: E402
from sklearn.decomposition import MiniBatchDictionaryLearning as SkMiniBatch  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from transfer_lab.methods.dictionary_learning import MiniBatchDictionaryLearning  # noqa: E402
from transfer_lab.methods.sparse_coding import sparse_coding_objective, sparse_encode  # noqa: E402

SPAMS_MULTIPLES = (0.5, 1.0, 1.5, 2.0, 3.0)  # SPAMS' mini-batches, in units of ours


def import_spams(path: str | None):
    """The ``spams`` module, or None with a printed reason (never a hard dependency)."""
    if path:
        sys.path.insert(0, path)
    try:
        import spams
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        print(f"SPAMS not importable ({type(exc).__name__}: {exc}); skipping trainDL "
              "(pip install -e '.[benchmarks]', or pip install spams-bin --target DIR and "
              "--spams-path DIR)")
        return None
    return spams


def cpu_at_objective(points: list[tuple[float, float]], target: float) -> float | None:
    """CPU seconds at which a learner's (cpu, objective) curve reaches ``target``.

    Linear interpolation between the two runs that bracket ``target`` (runs sorted by CPU,
    objective taken as its running minimum); None when no run reaches ``target`` or the
    first already does (then the curve does not say when it got there).
    """
    points = sorted(points)
    best = math.inf
    previous = None
    for cpu, objective in points:
        objective = min(objective, best)
        if objective <= target:
            if previous is None:
                return None
            (c0, o0), (c1, o1) = previous, (cpu, objective)
            return c0 + (c1 - c0) * (o0 - target) / (o0 - o1) if o0 > o1 else c1
        best, previous = objective, (cpu, objective)
    return None


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="2,000 rows, 2 epochs, scikit-learn cd only (< 1 minute)")
    parser.add_argument("--rows", type=int, default=None, help="rows (default 10,000)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 3)")
    parser.add_argument("--atoms", type=int, default=128)
    parser.add_argument("--alpha", type=float, default=0.2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3, help="fits per timing, min taken")
    parser.add_argument("--sklearn-repeats", type=int, default=None,
                        help="scikit-learn fits per timing (default: --repeats; 1 with --quick)")
    parser.add_argument("--skip-lars", action="store_true", help="no fit_algorithm='lars'")
    parser.add_argument("--spams-path", default=os.environ.get("SPAMS_PATH"))
    args = parser.parse_args(argv)

    set_threads(1)
    n_rows = args.rows or (2_000 if args.quick else 10_000)
    epochs = args.epochs or (2 if args.quick else 3)
    sk_repeats = args.sklearn_repeats or (1 if args.quick else args.repeats)
    algorithms = ("cd",) if (args.quick or args.skip_lars) else ("cd", "lars")
    X = tiled_digits(n_rows)
    n_batches = epochs * math.ceil(n_rows / args.batch_size)

    def ours(record=True, rows=slice(None), n_epochs=epochs):
        return MiniBatchDictionaryLearning(
            n_components=args.atoms, alpha=args.alpha, max_iter=n_epochs,
            batch_size=args.batch_size, random_state=0, dtype="float32",
            record_objective=record,
        ).fit(X[rows])

    def sklearn_fit(algorithm, rows=slice(None), n_epochs=epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return SkMiniBatch(
                n_components=args.atoms, alpha=args.alpha, max_iter=n_epochs,
                batch_size=args.batch_size, fit_algorithm=algorithm, tol=0.0,
                max_no_improvement=None, random_state=0,
            ).fit(X[rows])

    def full_objective(D) -> float:
        U = sparse_encode(X, D, args.alpha, tol=1e-4, dtype="float64")
        return sparse_coding_objective(X, D, U, args.alpha)

    record: dict = {
        "benchmark": "dictionary_learning", "quick": args.quick, "n_rows": n_rows,
        "n_atoms": args.atoms, "n_features": X.shape[1], "alpha": args.alpha,
        "epochs": epochs, "batch_size": args.batch_size, "n_batches": n_batches,
        "threads": 1, "repeats": args.repeats, "sklearn_repeats": sk_repeats,
        "statistic": "minimum over repeats of process CPU seconds (and of wall seconds)",
    }
    with single_thread():
        warm = slice(0, 512)  # warm-up: library loading, thread pools, allocator
        ours(False, warm, 1)
        for algorithm in algorithms:
            sklearn_fit(algorithm, warm, 1)
        wall, cpu, model = best_of(lambda: ours(False), args.repeats)
        obj_ours = full_objective(model.components_)
        record.update(
            ours="transfer_lab MiniBatchDictionaryLearning(record_objective=False), float32",
            ours_seconds=round(wall, 4), ours_cpu_seconds=round(cpu, 4), objective_ours=obj_ours,
        )
        wall, cpu, model = best_of(lambda: ours(True), args.repeats)
        record.update(
            ours_recording_seconds=round(wall, 4), ours_recording_cpu_seconds=round(cpu, 4),
            objective_ours_recording=full_objective(model.components_),
            ours_objective_history=[round(float(v), 6) for v in model.objective_history_],
        )
        for algorithm in algorithms:
            wall, cpu, reference = best_of(lambda: sklearn_fit(algorithm), sk_repeats)
            objective = full_objective(reference.components_)
            record.update({
                f"sklearn_{algorithm}_seconds": round(wall, 4),
                f"sklearn_{algorithm}_cpu_seconds": round(cpu, 4),
                f"objective_sklearn_{algorithm}": objective,
                f"objective_gap_vs_sklearn_{algorithm}": (obj_ours - objective) / objective,
                f"speedup_vs_sklearn_{algorithm}_cpu": round(cpu / record["ours_cpu_seconds"], 2),
            })
        record.update(spams_comparison(args, X, n_batches, full_objective, record))
    record.update(machine())
    return emit(record)


def spams_comparison(args, X, n_batches, full_objective, record) -> dict:
    """SPAMS trainDL at several numbers of mini-batches: CPU and objective, its CPU at ours."""
    spams = import_spams(args.spams_path)
    if spams is None:
        return {"spams": None}
    Xf = np.asfortranarray(X.T)

    def spams_fit(n_iter, data=Xf):
        return spams.trainDL(
            data, K=args.atoms, lambda1=args.alpha, mode=2, iter=n_iter,
            batchsize=args.batch_size, numThreads=1, verbose=False,
        )

    spams_fit(2, np.asfortranarray(Xf[:, :512]))  # warm-up
    curve = []
    for multiple in SPAMS_MULTIPLES:
        n_iter = max(1, round(multiple * n_batches))
        wall, cpu, D = best_of(lambda: spams_fit(n_iter), args.repeats)
        objective = full_objective(np.ascontiguousarray(D.T))
        curve.append({"iter": n_iter, "cpu_seconds": round(cpu, 4), "seconds": round(wall, 4),
                      "objective": objective})
    same = curve[SPAMS_MULTIPLES.index(1.0)]
    obj_ours, cpu_ours = record["objective_ours"], record["ours_cpu_seconds"]
    at_ours = cpu_at_objective([(p["cpu_seconds"], p["objective"]) for p in curve], obj_ours)
    if at_ours is None:
        print(f"our objective {obj_ours:.6f} lies outside SPAMS' curve ({curve[0]['objective']:.6f}"
              f" .. {curve[-1]['objective']:.6f}): no CPU at equal objective")
    print(f"SPAMS trainDL ({n_batches} mini-batches) CPU {same['cpu_seconds']:.3f} s, objective "
          f"{same['objective']:.6f}; ours CPU {cpu_ours:.3f} s, objective {obj_ours:.6f}; "
          f"SPAMS at our objective: {'-' if at_ours is None else f'{at_ours:.3f} s'}")
    return {
        "spams": f"spams.trainDL(mode=2, batchsize={args.batch_size}, numThreads=1)",
        "spams_curve": curve,
        "spams_cpu_seconds": same["cpu_seconds"],
        "spams_seconds": same["seconds"],
        "objective_spams": same["objective"],
        "objective_gap_vs_spams": (obj_ours - same["objective"]) / same["objective"],
        "speedup_vs_spams_cpu_at_equal_batches": round(same["cpu_seconds"] / cpu_ours, 2),
        "spams_cpu_seconds_at_our_objective": None if at_ours is None else round(at_ours, 4),
        "speedup_vs_spams_at_equal_objective": (
            None if at_ours is None else round(at_ours / cpu_ours, 2)
        ),
    }


if __name__ == "__main__":
    main()
