"""Tests for transfer_lab.methods.runtime: seeding and device resolution."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from transfer_lab.methods.runtime import resolve_device, seed_everything, torch_generator


def _draws() -> tuple[float, np.ndarray, torch.Tensor]:
    return random.random(), np.random.rand(3), torch.rand(3)


def test_seed_everything_repeats_python_numpy_and_torch_draws():
    seed_everything(123)
    first = _draws()
    seed_everything(123)
    second = _draws()
    assert first[0] == second[0]
    np.testing.assert_array_equal(first[1], second[1])
    assert torch.equal(first[2], second[2])


def test_different_seeds_give_different_draws():
    seed_everything(1)
    a = _draws()
    seed_everything(2)
    b = _draws()
    assert a[0] != b[0]
    assert not np.array_equal(a[1], b[1])
    assert not torch.equal(a[2], b[2])


def test_seed_everything_rejects_negative_seed():
    with pytest.raises(ValueError, match="non-negative"):
        seed_everything(-1)


def test_deterministic_flag_turns_on_deterministic_algorithms():
    before = torch.are_deterministic_algorithms_enabled()
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)


def test_torch_generator_is_independent_and_repeatable():
    a = torch.randperm(10, generator=torch_generator(5))
    torch.rand(100)  # global draws must not influence a private generator
    b = torch.randperm(10, generator=torch_generator(5))
    assert torch.equal(a, b)


def test_auto_device_is_cuda_only_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device().type == expected


def test_auto_device_is_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("spec", ["cpu", "CPU", " cpu ", torch.device("cpu")])
def test_cpu_specs(spec):
    assert resolve_device(spec) == torch.device("cpu")


@pytest.mark.parametrize("spec", ["cuda", "cuda:1", torch.device("cuda")])
def test_cuda_request_without_cuda_is_one_clear_line(monkeypatch, spec):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError) as info:
        resolve_device(spec)
    message = str(info.value)
    assert "\n" not in message
    assert "requested but CUDA is not available; use 'auto' or 'cpu'" in message


def test_exact_cuda_message(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError) as info:
        resolve_device("cuda")
    assert str(info.value) == (
        "device 'cuda' requested but CUDA is not available; use 'auto' or 'cpu'"
    )


@pytest.mark.parametrize("spec", ["gpu0", "tpu", "", "cuda:x"])
def test_unknown_device_specs_are_rejected(spec):
    with pytest.raises(ValueError, match="device"):
        resolve_device(spec)


def test_thread_limits_caps_and_restores():
    from threadpoolctl import threadpool_info

    from transfer_lab.methods.runtime import thread_limits

    before = torch.get_num_threads()
    with thread_limits(1):
        assert torch.get_num_threads() == 1
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
    assert torch.get_num_threads() == before
    with thread_limits(None):
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="n_threads"):
        with thread_limits(0):
            pass
