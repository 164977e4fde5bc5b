"""The project's pipelines, one sub-package per family (auto-registered by ``find_pipelines``).

``bind`` is what every family's ``pipeline.py`` uses to make one node function per method,
encoder or task out of a shared function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


class NamedPartial(functools.partial):
    """A ``functools.partial`` that keeps the wrapped function's name in a worker process.

    ``multiprocessing`` registers its own reducer for the exact type ``functools.partial``
    (``func, args, keywords`` only), so the ``__name__`` that ``update_wrapper`` set is lost
    when ``ParallelRunner`` sends a node to a worker, and Kedro then logs ``<partial>`` with a
    warning per node. A subclass is pickled by ``partial.__reduce__``, which keeps ``__dict__``.
    """


def bind(func: Callable, /, *args: Any, **kwargs: Any) -> Callable:
    """``func`` with leading ``args`` / ``kwargs`` bound, under ``func``'s own name, docstring
    and type hints (Kedro's logs, Kedro-Viz); module-level, so it pickles by reference."""
    return functools.update_wrapper(NamedPartial(func, *args, **kwargs), func)
