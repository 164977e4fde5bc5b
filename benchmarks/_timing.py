"""Best-of-repeats timing for the scaling benchmarks (LogME, semi-supervised scaling).

On a shared machine the minimum of repeats is the least noisy estimate of what code costs;
process CPU seconds are reported beside wall-clock seconds (one BLAS thread per side, so
CPU ≈ wall on a quiet machine, wall > CPU when other work competes for the cores).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Minimum wall-clock and minimum process CPU seconds of ``repeats`` calls, last result."""
    wall, cpu = [], []
    result = None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu), result


def single_thread() -> AbstractContextManager:
    """Limit BLAS / OpenMP pools to one thread (both sides of a comparison run under it)."""
    return threadpool_limits(limits=1)


def loglog_slope(sizes, seconds) -> float:
    """Least-squares slope of log(seconds) against log(size): the fitted exponent."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(seconds, float))
    return float(np.polyfit(x, y, 1)[0])
