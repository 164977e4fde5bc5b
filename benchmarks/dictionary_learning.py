"""Online dictionary learning speed: ``transfer_lab`` vs scikit-learn's MiniBatchDictionaryLearning.

Both sides learn ``--atoms`` unit-norm atoms from the same rows — sklearn digits (X / 16,
64 features) tiled with small noise to ``--rows`` rows — with the same ``alpha``, the same
mini-batch size (256, scikit-learn's default) and the same number of epochs (passes over
the data), all of which they run (scikit-learn's early stopping is switched off:
``tol=0, max_no_improvement=None``).

* ours: :class:`transfer_lab.methods.dictionary_learning.MiniBatchDictionaryLearning`
  computing in float32. Its fit does *more* than scikit-learn's: after every epoch it
  re-codes all rows to record the full-data objective (``objective_history_``);
* baseline: ``sklearn.decomposition.MiniBatchDictionaryLearning`` with its default coder
  ``fit_algorithm="lars"`` (``n_jobs=None``), in float64; it is also timed with
  ``fit_algorithm="cd"``, its faster option here (``baseline_cd_*`` fields).

Quality: the full-data objective (mean over rows of ``½‖x − uD‖² + alpha‖u‖₁``) of each
learned dictionary, with every row coded by the same accurate coder (our ``sparse_encode``,
float64, tolerance 1e-4). ``objective_gap = (ours − sklearn) / sklearn``; negative means our
dictionary is better.

Second baseline, when importable: SPAMS' ``trainDL`` (Mairal et al.'s own online learner,
``mode=2``, ``lambda1=alpha``, the same batch size, ``iter`` = the same number of
mini-batches, ``numThreads`` = ``--threads``), from ``--spams-path`` / ``SPAMS_PATH`` (a
folder ``pip install --no-deps spams-bin --target``-ed into) or the environment; skipped
with a message otherwise (never a dependency). Against it ours is also timed with
``record_objective=False`` (no per-epoch re-coding of all rows, which SPAMS does not do
either): ``ours_no_history_*`` fields. SPAMS fields report wall and CPU seconds (min of
``--repeats``) and the objective gap with the same accurate coder.

Usage::

    python benchmarks/dictionary_learning.py [--quick] [--alpha 0.2] [--epochs 3] [--threads 1]
        [--spams-path DIR] [--repeats 1]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from _common import emit, machine, set_threads, tiled_digits, timed  # noqa: E402
from _timing import best_of  # noqa: E402
from sklearn.decomposition import MiniBatchDictionaryLearning as SkMiniBatch  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from transfer_lab.methods.dictionary_learning import MiniBatchDictionaryLearning  # noqa: E402
from transfer_lab.methods.runtime import resolve_device  # noqa: E402
from transfer_lab.methods.sparse_coding import sparse_coding_objective, sparse_encode  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 rows, 2 epochs (< 1 minute)")
    parser.add_argument("--rows", type=int, default=None, help="rows (default 10,000)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 3)")
    parser.add_argument("--atoms", type=int, default=128)
    parser.add_argument("--alpha", type=float, default=0.2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1, help="torch threads and sklearn n_jobs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-cd", action="store_true", help="do not time fit_algorithm='cd'")
    parser.add_argument("--spams-path", default=os.environ.get("SPAMS_PATH"))
    parser.add_argument("--repeats", type=int, default=1, help="for the SPAMS comparison")
    args = parser.parse_args(argv)

    set_threads(args.threads)
    device = resolve_device(args.device)
    n_rows = args.rows or (2_000 if args.quick else 10_000)
    epochs = args.epochs or (2 if args.quick else 3)
    n_jobs = None if args.threads == 1 else args.threads
    X = tiled_digits(n_rows)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None

    def ours(rows=slice(None), n_epochs=epochs):
        return MiniBatchDictionaryLearning(
            n_components=args.atoms, alpha=args.alpha, max_iter=n_epochs,
            batch_size=args.batch_size, random_state=0, device=device, dtype="float32",
        ).fit(X[rows])

    def baseline(algorithm="lars", rows=slice(None), n_epochs=epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return SkMiniBatch(
                n_components=args.atoms, alpha=args.alpha, max_iter=n_epochs,
                batch_size=args.batch_size, fit_algorithm=algorithm, tol=0.0,
                max_no_improvement=None, n_jobs=n_jobs, random_state=0,
            ).fit(X[rows])

    warm = slice(0, 512)  # warm-up: library loading, thread pools, allocator
    ours(warm, 1), baseline("lars", warm, 1), baseline("cd", warm, 1)

    ours_seconds, model = timed(ours, 1, sync)
    baseline_seconds, reference = timed(baseline, 1)
    cd_seconds, reference_cd = (None, None) if args.skip_cd else timed(lambda: baseline("cd"), 1)

    def full_objective(D) -> float:
        U = sparse_encode(X, D, args.alpha, tol=1e-4, dtype="float64", device=device)
        return sparse_coding_objective(X, D, U, args.alpha)

    obj_ours = full_objective(model.components_)
    obj_base = full_objective(reference.components_)
    record = {
        "benchmark": "dictionary_learning",
        "quick": args.quick,
        "n_rows": n_rows,
        "n_atoms": args.atoms,
        "n_features": X.shape[1],
        "alpha": args.alpha,
        "epochs": epochs,
        "batch_size": args.batch_size,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "ours": "transfer_lab MiniBatchDictionaryLearning (float32; re-codes all rows each epoch)",
        "ours_seconds": round(ours_seconds, 4),
        "baseline": "sklearn.decomposition.MiniBatchDictionaryLearning(fit_algorithm='lars')",
        "baseline_settings": {
            "n_jobs": n_jobs, "dtype": "float64", "fit_algorithm": "lars (default)",
            "tol": 0.0, "max_no_improvement": None,
        },
        "baseline_seconds": round(baseline_seconds, 4),
        "speedup": round(baseline_seconds / ours_seconds, 2),
        "objective_ours": obj_ours,
        "objective_baseline": obj_base,
        "objective_gap": (obj_ours - obj_base) / obj_base,
        "ours_objective_history": [round(float(v), 6) for v in model.objective_history_],
        "repeats": 1,
        "statistic": "wall-clock seconds of one fit after a warm-up",
        **machine(),
    }
    if reference_cd is not None:
        obj_cd = full_objective(reference_cd.components_)
        record.update(
            baseline_cd_seconds=round(cd_seconds, 4),
            speedup_vs_cd=round(cd_seconds / ours_seconds, 2),
            objective_baseline_cd=obj_cd,
            objective_gap_vs_cd=(obj_ours - obj_cd) / obj_cd,
        )
    record.update(spams_comparison(args, X, epochs, device, full_objective, obj_ours))
    return emit(record)


def spams_comparison(args, X, epochs, device, full_objective, obj_ours) -> dict:
    """SPAMS trainDL vs ours without the per-epoch objective, CPU and wall, min of repeats."""
    if args.spams_path:
        sys.path.insert(0, args.spams_path)
    try:
        import spams
    except Exception as exc:  # noqa: BLE001 - any import failure means "skip"
        print(f"SPAMS not importable ({type(exc).__name__}: {exc}); skipping trainDL "
              "(pip install --no-deps spams-bin --target DIR, then --spams-path DIR)")
        return {"spams": None}
    import numpy as np

    n_batches = epochs * math.ceil(len(X) / args.batch_size)
    Xf = np.asfortranarray(X.T)

    def spams_fit(data=Xf, n_iter=n_batches):
        return spams.trainDL(
            data, K=args.atoms, lambda1=args.alpha, mode=2, iter=n_iter,
            batchsize=args.batch_size, numThreads=args.threads, verbose=False,
        )

    def ours_fast(rows=slice(None), n_epochs=epochs):
        return MiniBatchDictionaryLearning(
            n_components=args.atoms, alpha=args.alpha, max_iter=n_epochs,
            batch_size=args.batch_size, random_state=0, device=device, dtype="float32",
            record_objective=False,
        ).fit(X[rows])

    spams_fit(np.asfortranarray(Xf[:, :512]), 2), ours_fast(slice(0, 512), 1)  # warm-up
    sp_wall, sp_cpu, D = best_of(spams_fit, args.repeats)
    our_wall, our_cpu, model = best_of(ours_fast, args.repeats)
    obj_spams = full_objective(np.ascontiguousarray(D.T))
    obj_fast = full_objective(model.components_)
    print(f"SPAMS trainDL {sp_wall:.3f} s (CPU {sp_cpu:.3f}) objective {obj_spams:.6f}; ours "
          f"without history {our_wall:.3f} s (CPU {our_cpu:.3f}) objective {obj_fast:.6f}")
    return {
        "spams": f"spams.trainDL(mode=2, iter={n_batches}, numThreads={args.threads})",
        "spams_seconds": round(sp_wall, 4),
        "spams_cpu_seconds": round(sp_cpu, 4),
        "objective_spams": obj_spams,
        "objective_gap_vs_spams": (obj_ours - obj_spams) / obj_spams,
        "ours_no_history_seconds": round(our_wall, 4),
        "ours_no_history_cpu_seconds": round(our_cpu, 4),
        "objective_ours_no_history": obj_fast,
        "objective_gap_no_history_vs_spams": (obj_fast - obj_spams) / obj_spams,
        "speedup_no_history_vs_spams_cpu": round(sp_cpu / our_cpu, 2),
    }


if __name__ == "__main__":
    main()
