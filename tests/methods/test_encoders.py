"""Tests for transfer_lab.methods.encoders: shapes, build_encoder, freezing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from transfer_lab.methods.encoders import (
    Classifier,
    ConvEncoder1d,
    ConvEncoder2d,
    MLPEncoder,
    build_encoder,
    count_parameters,
    encoder_checkpoint,
    encoder_from_checkpoint,
    freeze_blocks,
)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize(
    ("size", "pooled"), [(8, (2, 2)), (16, (2, 2)), (28, (3, 3)), ((12, 20), (3, 5))]
)
def test_conv2d_output_shape_and_pooling_schedule(size, pooled):
    enc = ConvEncoder2d(input_size=size, width=8, depth=3, out_features=24)
    h, w = (size, size) if isinstance(size, int) else size
    out = enc(torch.rand(5, 1, h, w))
    assert out.shape == (5, 24)
    assert enc.out_features == 24
    # Pooling stops while the map still has >= 2 positions per side.
    assert enc.feature_map_size == pooled
    assert len(enc.blocks) == 3 + 1  # conv blocks + head


def test_conv2d_deep_on_8x8_keeps_spatial_size_instead_of_collapsing():
    enc = ConvEncoder2d(input_size=8, width=4, depth=5, out_features=8)
    assert enc.feature_map_size == (2, 2)
    assert enc(torch.rand(2, 1, 8, 8)).shape == (2, 8)


def test_conv2d_multichannel_input():
    enc = ConvEncoder2d(in_channels=3, input_size=(16, 16), width=4, depth=2, out_features=10)
    assert enc(torch.rand(2, 3, 16, 16)).shape == (2, 10)


def test_conv1d_output_shape_for_mnist1d_length():
    enc = ConvEncoder1d(length=40, width=8, depth=3, out_features=16)
    assert enc(torch.rand(4, 1, 40)).shape == (4, 16)
    assert enc.feature_map_size == 5  # 40 -> 20 -> 10 -> 5


def test_mlp_flattens_any_input_shape():
    enc = MLPEncoder(input_dim=64, hidden=(32, 16), out_features=12)
    assert enc(torch.rand(3, 1, 8, 8)).shape == (3, 12)
    assert enc(torch.rand(3, 64)).shape == (3, 12)
    assert len(enc.blocks) == 3
    no_hidden = MLPEncoder(input_dim=64, hidden=(), out_features=5)
    assert no_hidden(torch.rand(2, 1, 8, 8)).shape == (2, 5)


def test_encoders_reject_inputs_without_channel_dim():
    with pytest.raises(ValueError, match="expects a batch"):
        ConvEncoder2d(width=4, depth=1)(torch.rand(2, 8, 8))
    with pytest.raises(ValueError, match="expects a batch"):
        ConvEncoder1d(width=4, depth=1)(torch.rand(2, 40))


def test_features_are_non_negative():
    enc = ConvEncoder2d(width=4, depth=2, out_features=8)
    assert (enc(torch.randn(6, 1, 8, 8)) >= 0).all()


def test_classifier_logits_and_features():
    enc = ConvEncoder2d(width=4, depth=2, out_features=8)
    clf = Classifier(enc, n_classes=10)
    x = torch.rand(7, 1, 8, 8)
    clf.eval()
    assert clf(x).shape == (7, 10)
    assert torch.equal(clf.features(x), enc(x))
    with pytest.raises(ValueError, match="out_features"):
        Classifier(nn.ReLU(), 2)


@pytest.mark.parametrize(
    ("kind", "shape", "cls"),
    [
        ("auto", (1, 8, 8), ConvEncoder2d),
        ("auto", (1, 28, 28), ConvEncoder2d),
        ("auto", (1, 40), ConvEncoder1d),
        ("auto", (64,), MLPEncoder),
        ("cnn2d", (1, 8, 8), ConvEncoder2d),
        ("cnn1d", (1, 40), ConvEncoder1d),
        ("mlp", (1, 28, 28), MLPEncoder),
    ],
)
def test_build_encoder_picks_the_right_class(kind, shape, cls):
    enc = build_encoder(kind, shape, out_features=16)
    assert type(enc) is cls
    assert enc(torch.rand(2, *shape)).shape == (2, 16)


def test_build_encoder_passes_kwargs_and_sizes():
    enc = build_encoder("cnn2d", (1, 28, 28), width=4, depth=2, out_features=8)
    assert enc.feature_map_size == (7, 7)
    assert build_encoder("mlp", (1, 28, 28), hidden=(10,)).input_dim == 784


def test_build_encoder_unknown_kind_names_allowed_kinds():
    with pytest.raises(ValueError) as info:
        build_encoder("resnet", (1, 8, 8))
    message = str(info.value)
    assert "'resnet'" in message
    for kind in ("cnn2d", "cnn1d", "mlp", "auto"):
        assert kind in message


@pytest.mark.parametrize(
    ("kind", "shape"), [("cnn2d", (1, 40)), ("cnn1d", (1, 8, 8)), ("auto", (1, 2, 3, 4))]
)
def test_build_encoder_rejects_mismatched_shape(kind, shape):
    with pytest.raises(ValueError, match="input_shape"):
        build_encoder(kind, shape)


def _bn_layers(module: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def test_freeze_blocks_sets_requires_grad_and_counts():
    enc = ConvEncoder2d(width=4, depth=3, out_features=8)
    total = count_parameters(enc)
    freeze_blocks(enc, 2)
    for i, block in enumerate(enc.blocks):
        assert all(p.requires_grad == (i >= 2) for p in block.parameters())
    frozen = sum(p.numel() for b in list(enc.blocks)[:2] for p in b.parameters())
    assert count_parameters(enc, trainable_only=True) == total - frozen
    assert count_parameters(enc) == total
    # Unfreezing is the same call with a smaller k.
    freeze_blocks(enc, 0)
    assert count_parameters(enc, trainable_only=True) == total
    freeze_blocks(enc, len(enc.blocks))
    assert count_parameters(enc, trainable_only=True) == 0


def test_frozen_batchnorm_stays_in_eval_and_keeps_running_stats():
    enc = ConvEncoder2d(width=4, depth=2, out_features=8)
    clf = Classifier(enc, 3)
    freeze_blocks(enc, 1)
    clf.train()  # what every training epoch does
    frozen_bn = _bn_layers(enc.blocks[0])
    live_bn = _bn_layers(enc.blocks[1])
    assert all(not bn.training for bn in frozen_bn)
    assert all(bn.training for bn in live_bn)
    before = [bn.running_mean.clone() for bn in frozen_bn]
    live_before = [bn.running_mean.clone() for bn in live_bn]
    loss = clf(torch.rand(6, 1, 8, 8) * 3).sum()
    loss.backward()
    for bn, mean in zip(frozen_bn, before, strict=True):
        assert torch.equal(bn.running_mean, mean)
    assert any(
        not torch.equal(bn.running_mean, m) for bn, m in zip(live_bn, live_before, strict=True)
    )
    # No gradient reaches frozen parameters; the rest gets one.
    assert all(p.grad is None for p in enc.blocks[0].parameters())
    assert all(p.grad is not None for p in enc.blocks[1].parameters())


def test_freeze_blocks_out_of_range_and_wrong_module():
    enc = MLPEncoder(input_dim=4, hidden=(3,), out_features=2)
    with pytest.raises(ValueError, match=r"k must be in \[0, 2\]"):
        freeze_blocks(enc, 3)
    with pytest.raises(ValueError, match="k must be"):
        freeze_blocks(enc, -1)
    with pytest.raises(ValueError, match="blocks"):
        freeze_blocks(nn.Linear(2, 2), 1)


@pytest.mark.parametrize(
    "kwargs",
    [{"depth": 0}, {"width": 0}, {"out_features": 0}, {"dropout": 1.0}, {"input_size": (0, 8)}],
)
def test_conv2d_rejects_bad_hyperparameters(kwargs):
    with pytest.raises(ValueError):
        ConvEncoder2d(**kwargs)


def test_dropout_is_active_only_in_train_mode():
    enc = ConvEncoder2d(width=4, depth=2, out_features=8, dropout=0.5)
    x = torch.rand(4, 1, 8, 8)
    enc.eval()
    assert torch.equal(enc(x), enc(x))
    enc.train()
    assert not torch.equal(enc(x), enc(x))


def test_a_channels_last_encoder_computes_the_same_function_and_round_trips_through_a_checkpoint():
    torch.manual_seed(0)
    plain = ConvEncoder2d(width=8, depth=3, out_features=16)
    nhwc = ConvEncoder2d(width=8, depth=3, out_features=16, channels_last=True)
    nhwc.load_state_dict(plain.state_dict())
    conv = nhwc.blocks[1][0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    x = torch.rand(5, 1, 8, 8)
    plain.eval(), nhwc.eval()
    torch.testing.assert_close(nhwc(x), plain(x), rtol=1e-5, atol=1e-6)
    # a map read-out flattens the NHWC map in the same (channel, row, column) order
    with_map = ConvEncoder2d(width=8, depth=3, out_features=16, channels_last=True, map_readout={"blocks": 1, "grid": 4})
    without = ConvEncoder2d(width=8, depth=3, out_features=16, map_readout={"blocks": 1, "grid": 4})
    without.load_state_dict(with_map.state_dict())
    with_map.eval(), without.eval()
    torch.testing.assert_close(with_map(x), without(x), rtol=1e-5, atol=1e-6)
    # its checkpoint loads into the default (NCHW) encoder and gives the same outputs
    rebuilt = encoder_from_checkpoint(encoder_checkpoint(nhwc, "cnn2d", (1, 8, 8), {"width": 8, "depth": 3, "out_features": 16}))
    rebuilt.eval()
    torch.testing.assert_close(rebuilt(x), plain(x), rtol=1e-5, atol=1e-6)
