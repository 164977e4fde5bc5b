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


def _is_nhwc(encoder) -> bool:
    weight = encoder.blocks[1][0].weight  # a 4-d conv weight; channels-last differs from contiguous
    return weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()


def test_conv_layout_sets_the_layout_of_encoders_built_inside_the_block_only():
    from transfer_lab.methods.encoders import ConvEncoder2d, build_encoder
    from transfer_lab.methods.runtime import conv_layout, default_channels_last

    assert not default_channels_last() and not _is_nhwc(ConvEncoder2d(width=4))
    with conv_layout(True):
        inside = build_encoder("auto", (1, 8, 8), width=4, out_features=8)
        explicit = ConvEncoder2d(width=4, channels_last=False)  # an explicit choice wins
    assert inside.channels_last and _is_nhwc(inside)
    assert not explicit.channels_last and not _is_nhwc(explicit)
    # the block ends (also on an error): new encoders are NCHW again, built ones keep NHWC
    with pytest.raises(RuntimeError, match="boom"):
        with conv_layout(True):
            raise RuntimeError("boom")
    assert not default_channels_last() and not _is_nhwc(ConvEncoder2d(width=4))
    assert _is_nhwc(inside)


def test_a_checkpoint_rebuilt_inside_conv_layout_is_nhwc_with_the_same_weights_and_function():
    from transfer_lab.methods.encoders import build_encoder, encoder_checkpoint, encoder_from_checkpoint
    from transfer_lab.methods.runtime import conv_layout

    torch.manual_seed(0)
    kwargs = {"width": 8, "depth": 3, "out_features": 16}
    plain = build_encoder("cnn2d", (1, 8, 8), **kwargs).eval()
    checkpoint = encoder_checkpoint(plain, "cnn2d", (1, 8, 8), kwargs)
    with conv_layout(True):
        rebuilt = encoder_from_checkpoint(checkpoint).eval()
    assert _is_nhwc(rebuilt)
    for name, value in plain.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[name], value), name
    x = torch.rand(6, 1, 8, 8)
    torch.testing.assert_close(rebuilt(x), plain(x), rtol=1e-5, atol=1e-6)
    assert "channels_last" not in checkpoint["encoder"]["kwargs"]  # the layout is not stored


def test_node_compute_applies_a_runtime_blocks_threads_and_layout():
    from transfer_lab.contracts import RuntimeParams
    from transfer_lab.methods.encoders import ConvEncoder2d
    from transfer_lab.methods.runtime import default_channels_last, node_compute

    assert RuntimeParams().channels_last is False  # off unless a parameters file asks
    before = torch.get_num_threads()
    with node_compute(RuntimeParams(num_threads=1, channels_last=True)):
        assert torch.get_num_threads() == 1 and default_channels_last()
        assert _is_nhwc(ConvEncoder2d(width=4))
    assert torch.get_num_threads() == before and not default_channels_last()
    with node_compute(RuntimeParams(num_threads=None)):
        assert not _is_nhwc(ConvEncoder2d(width=4))
