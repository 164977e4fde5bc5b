"""Seeding, device selection, thread limits and the conv memory layout shared by every
torch-based method.

Callers seed once at the start of a run and pass the resolved :class:`torch.device` down
explicitly. Two settings are scoped to a ``with`` block instead, as torch's own thread count
is: :func:`thread_limits` and :func:`conv_layout` (the layout new 2-d conv encoders take);
:func:`node_compute` enters both from a family's ``runtime`` parameters.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

__all__ = [
    "seed_everything", "resolve_device", "torch_generator", "thread_limits", "conv_layout",
    "default_channels_last", "node_compute",
]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and all GPUs).

    Parameters
    ----------
    seed : int
        Non-negative seed.
    deterministic : bool, default False
        Also ask torch for deterministic kernels (``torch.use_deterministic_algorithms`` with
        ``warn_only=True`` and cuDNN benchmarking off). Slower on GPU; only CPU runs are
        bit-for-bit repeatable without it.
    """
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # numpy's legacy seeder only accepts 32-bit seeds
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        # cuBLAS needs this workspace setting for deterministic matmuls on CUDA >= 10.2.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn a device spec from the parameters into a :class:`torch.device` that exists.

    Parameters
    ----------
    spec : str or torch.device, default "auto"
        ``"auto"`` picks CUDA when available, else CPU. ``"cpu"``, ``"cuda"``,
        ``"cuda:<index>"`` and ``"mps"`` are accepted as well as a ready device.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the spec is malformed or names an accelerator this machine does not have.
    """
    if isinstance(spec, torch.device):
        device = spec
    else:
        text = str(spec).strip().lower()
        if text == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            device = torch.device(text)
        except (RuntimeError, ValueError):
            raise ValueError(
                f"unknown device {spec!r}; use 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'"
            ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {str(spec)!r} requested but CUDA is not available; use 'auto' or 'cpu'"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {str(spec)!r} requested but only {torch.cuda.device_count()} "
                "CUDA device(s) exist"
            )
    elif device.type == "mps":
        if not _mps_available():
            raise ValueError(
                f"device {str(spec)!r} requested but MPS is not available; use 'auto' or 'cpu'"
            )
    elif device.type != "cpu":
        raise ValueError(
            f"unsupported device {str(spec)!r}; use 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'"
        )
    return device


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """Return a fresh :class:`torch.Generator` seeded with ``seed``.

    Useful for ``DataLoader(generator=...)`` and ``torch.randperm(generator=...)`` so that a
    component's randomness does not depend on how many draws happened before it.
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


@contextmanager
def thread_limits(n_threads: int | None) -> Iterator[None]:
    """Cap torch's intra-op threads and the BLAS/OpenMP pools for a block, then restore them.

    The networks and linear models of this project are small: extra threads buy little and,
    on a busy machine, spinning BLAS/OpenMP workers make a 30 ms logistic regression take
    seconds. ``None`` leaves everything as it is.
    """
    if n_threads is None:
        yield
        return
    if n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer or None (got {n_threads})")
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        torch.set_num_threads(previous)


# The layout a ConvEncoder2d built without an explicit ``channels_last`` takes (conv_layout).
_CHANNELS_LAST: ContextVar[bool] = ContextVar("transfer_lab_channels_last", default=False)


def default_channels_last() -> bool:
    """Whether a 2-d conv encoder built now without an explicit ``channels_last`` keeps its
    weights in channels-last (NHWC) layout: ``False`` outside :func:`conv_layout`."""
    return _CHANNELS_LAST.get()


@contextmanager
def conv_layout(channels_last: bool) -> Iterator[None]:
    """Build 2-d conv encoders in channels-last (NHWC) layout inside the block, including
    those rebuilt from a checkpoint (``encoders.encoder_from_checkpoint``), which load their
    weights into the new layout.

    The function is the same to float rounding (a forward pass agrees to ~5e-7); on the CPU
    oneDNN's NHWC kernels make a training step of the digits encoder 1.3-1.4x cheaper
    (``benchmarks/conv_memory_format.py``). Encoders keep the layout they were built with
    after the block ends; an explicit ``ConvEncoder2d(channels_last=...)`` wins.
    """
    token = _CHANNELS_LAST.set(bool(channels_last))
    try:
        yield
    finally:
        _CHANNELS_LAST.reset(token)


@contextmanager
def node_compute(runtime: Any) -> Iterator[None]:
    """A node's compute settings from its family's ``runtime`` parameters
    (:class:`~transfer_lab.contracts.RuntimeParams`): :func:`thread_limits` of
    ``num_threads`` and :func:`conv_layout` of ``channels_last``."""
    with thread_limits(runtime.num_threads), conv_layout(runtime.channels_last):
        yield
