"""Shared helpers for the sparse coding and dictionary learning benchmarks.

Both benchmarks time the project's code and scikit-learn in the same process, on the same
data, after a warm-up of each, with the same number of repeats and the same statistic (the
median), and print one JSON object as their last line.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits


def tiled_digits(n_rows: int, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """``n_rows`` digit rows (X / 16, 64 features, float64): the 1,797 digits repeated, each
    copy after the first with Gaussian pixel noise of std ``noise`` so that rows differ."""
    base = load_digits().data / 16.0
    reps = -(-n_rows // len(base))
    X = np.tile(base, (reps, 1))[:n_rows]
    rng = np.random.default_rng(seed)
    X[len(base):] += noise * rng.standard_normal(X[len(base):].shape)
    return X


def random_dictionary(n_atoms: int, n_features: int, seed: int = 0) -> np.ndarray:
    """Gaussian atoms scaled to unit norm."""
    D = np.random.default_rng(seed).standard_normal((n_atoms, n_features))
    return D / np.linalg.norm(D, axis=1, keepdims=True)


def set_threads(n_threads: int) -> None:
    """Give torch ``n_threads`` intra-op threads (scikit-learn gets ``n_jobs`` separately)."""
    torch.set_num_threads(n_threads)


def timed_with_cpu(
    fn: Callable[[], Any], repeats: int, sync: Callable[[], None] | None = None
) -> tuple[float, float, Any]:
    """Median wall-clock and median process CPU seconds of ``repeats`` calls, last result.

    CPU seconds matter on a shared machine: with one thread per side they are what the
    code costs, whatever else the machine runs (wall-clock time then grows with the load).
    """
    wall, cpu = [], []
    result = None
    for _ in range(repeats):
        if sync:
            sync()
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        if sync:
            sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), result


def timed(
    fn: Callable[[], Any], repeats: int, sync: Callable[[], None] | None = None
) -> tuple[float, Any]:
    """Median wall-clock seconds of ``repeats`` calls of ``fn`` and the last result."""
    wall, _, result = timed_with_cpu(fn, repeats, sync)
    return wall, result


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


def emit(record: dict) -> dict:
    """Print ``record`` as the last line (one JSON object) and return it."""
    print(json.dumps(record, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    return record
