"""Tiny node functions for the runner's own tests (importable by worker processes)."""

from __future__ import annotations

import time


def make_numbers(n: int) -> list[int]:
    return list(range(n))


def total(numbers: list[int]) -> int:
    return sum(numbers)


def square_all(numbers: list[int]) -> list[int]:
    return [x * x for x in numbers]


def fail_on_purpose(numbers: list[int]) -> int:
    raise ArithmeticError(f"no total for {len(numbers)} numbers, on purpose")


def slow_total(numbers: list[int], seconds: float) -> int:
    time.sleep(seconds)
    return sum(numbers)
