"""An encoder reading an earlier block's pooled map (issue 15): shapes, values, checkpoints,
and the puzzle/CPC pretraining that returns such an encoder."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transfer_lab.methods import infomax, puzzles
from transfer_lab.methods.encoders import (
    build_encoder, encoder_checkpoint, encoder_from_checkpoint, freeze_blocks, with_map_readout,
)
from transfer_lab.methods.training import TrainConfig


@pytest.mark.parametrize(
    ("shape", "blocks", "grid", "out"),
    [
        ((1, 8, 8), 2, 2, 64 * 2 * 2),    # block 2 of a digit: 64 channels on 2x2, nothing pooled
        ((1, 8, 8), 1, 2, 32 * 2 * 2),    # block 1: 4x4 pooled to 2x2
        ((1, 8, 8), 1, 4, 32 * 4 * 4),    # block 1 kept whole
        ((1, 8, 8), 3, 1, 128),           # global average pool of the last conv map
        ((1, 40), 2, 2, 64 * 2),          # MNIST-1D: 10 steps pooled to 2
    ],
)
def test_map_readout_is_the_pooled_flattened_block_output(shape, blocks, grid, out):
    torch.manual_seed(0)
    encoder = build_encoder("auto", shape).eval()
    x = torch.randn(5, *shape)
    with torch.no_grad():
        conv_map = encoder.blocks[:blocks](x)  # the same weights, computed before the read-out is set
        pool = F.adaptive_avg_pool2d if len(shape) == 3 else F.adaptive_avg_pool1d
        expected = pool(conv_map, tuple(min(s, grid) for s in conv_map.shape[2:])).flatten(1)
        read = with_map_readout(encoder, blocks, grid)
        got = read(x)
    assert read.out_features == out and got.shape == (5, out)
    assert torch.allclose(got, expected)
    assert len(read.blocks) == blocks + 1  # kept conv blocks + the pooling read-out
    freeze_blocks(read, len(read.blocks))  # the frozen-protocol interface still holds


def test_map_readout_round_trips_through_the_checkpoint():
    torch.manual_seed(0)
    kwargs = {"width": 8, "depth": 3, "out_features": 16}
    encoder = with_map_readout(build_encoder("cnn2d", (1, 8, 8), **kwargs), 2).eval()
    checkpoint = encoder_checkpoint(encoder, "cnn2d", (1, 8, 8), kwargs)
    assert checkpoint["encoder"]["kwargs"] == {**kwargs, "map_readout": {"blocks": 2, "grid": 2}}
    assert kwargs == {"width": 8, "depth": 3, "out_features": 16}  # the caller's settings untouched
    rebuilt = encoder_from_checkpoint(checkpoint).eval()
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), encoder(x))
    assert rebuilt.out_features == 16 * 4


def test_map_readout_refuses_what_it_cannot_read():
    assert with_map_readout(build_encoder("cnn2d", (1, 8, 8)), 0).out_features == 128  # 0: the own head
    with pytest.raises(ValueError, match="blocks"):
        with_map_readout(build_encoder("cnn2d", (1, 8, 8), depth=3), 4)
    with pytest.raises(ValueError, match="map"):
        with_map_readout(build_encoder("mlp", (64,)), 1)
    with pytest.raises(ValueError, match="already"):
        with_map_readout(with_map_readout(build_encoder("cnn2d", (1, 8, 8)), 2), 1)


def test_upsampled_tiles_are_crops_of_the_interpolated_sample_on_the_input_canvas():
    x = torch.rand(3, 1, 8, 8)
    big = puzzles.upsampled(x, 2)
    assert torch.allclose(big, F.interpolate(x, size=(16, 16), mode="bilinear", align_corners=False))
    out = puzzles.tiles(big, 6, torch.Generator().manual_seed(0), canvas=(8, 8))
    assert out.shape == (3, 4, 1, 8, 8)
    for i in range(3):
        for p, (r, c) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
            canvas = out[i, p, 0]
            assert canvas[[0, 7]].abs().sum() == 0 and canvas[:, [0, 7]].abs().sum() == 0  # 6x6 at the centre
            crop = canvas[1:7, 1:7]
            matches = [(a, b) for a in range(3) for b in range(3)
                       if torch.equal(crop, big[i, 0, 8 * r + a : 8 * r + a + 6, 8 * c + b : 8 * c + b + 6])]
            assert matches  # a jittered 6x6 crop of its own 8x8 cell of the 16x16 sample
    with pytest.raises(ValueError, match="crop"):
        puzzles.tiles(big, 7, canvas=(6, 6))
    assert puzzles.upsampled(x, 1) is x


@pytest.mark.parametrize("method", ["relative_position", "jigsaw"])
def test_puzzles_upsample_and_return_the_block_readout(method):
    torch.manual_seed(0)
    X = np.random.default_rng(0).uniform(size=(32, 1, 8, 8)).astype(np.float32)
    encoder, history = getattr(puzzles, f"pretrain_{method}")(
        X, encoder=build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8), upsample=2, readout_blocks=2,
        config=TrainConfig(epochs=1, batch_size=16, patience=None),
    )
    assert history.epochs_run == 1 and encoder.map_readout == {"blocks": 2, "grid": 2}
    assert encoder(torch.from_numpy(X[:3])).shape == (3, 8 * 4)
    with pytest.raises(ValueError, match="canvas"):  # 4x upsampled: 12x12 tiles on an 8x8 canvas
        getattr(puzzles, f"pretrain_{method}")(X, upsample=4, crop=0.75, config=TrainConfig(epochs=1))


def test_cpc_returns_the_block_readout():
    torch.manual_seed(0)
    X = np.random.default_rng(0).uniform(size=(32, 1, 8, 8)).astype(np.float32)
    encoder, _ = infomax.pretrain_cpc(
        X, encoder=build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8), strip_size=0.5, readout_blocks=1,
        readout_grid=4, config=TrainConfig(epochs=1, batch_size=16, patience=None),
    )
    assert encoder(torch.from_numpy(X[:2])).shape == (2, 4 * 4 * 4)


def test_signals_take_the_conf_base_settings():
    """MNIST-1D: 80-step upsampled signal, 15-step tiles on the 40-step canvas; 128 read-out features
    (CPC: blocks 1 and 2 pooled to 2 steps each, 64 + 128, BatchNorm re-estimated on the signals)."""
    torch.manual_seed(0)
    X = np.random.default_rng(0).normal(size=(16, 1, 40)).astype(np.float32)
    config = TrainConfig(epochs=1, batch_size=8, patience=None)
    jigsaw, _ = puzzles.pretrain_jigsaw(X, upsample=2, readout_blocks=2, readout_grid=2, config=config)
    position, _ = puzzles.pretrain_relative_position(X, upsample=2, readout_blocks=1, readout_grid=4, config=config)
    cpc, _ = infomax.pretrain_cpc(X, strip_size=0.25, readout_blocks=[1, 2], readout_grid=2, recompute_bn=True, config=config)
    x = torch.from_numpy(X[:2])
    assert [m(x).shape for m in (jigsaw, position, cpc)] == [(2, 64 * 2), (2, 32 * 4), (2, 32 * 2 + 64 * 2)]
    assert puzzles.tiles(puzzles.upsampled(x, 2), 15, canvas=(40,)).shape == (2, 4, 1, 40)


# --- hypercolumn read-out: several blocks' pooled maps concatenated ---------------------------


def _sliced_hypercolumn(encoder, x, blocks, grid):
    """The reference: each listed block's output by slicing the plain encoder's blocks, pooled
    to at most ``grid`` per side, flattened, concatenated in the list's order."""
    pool = F.adaptive_avg_pool2d if x.dim() == 4 else F.adaptive_avg_pool1d
    parts = []
    for b in blocks:
        conv_map = encoder.blocks[:b](x)
        parts.append(pool(conv_map, tuple(min(s, grid) for s in conv_map.shape[2:])).flatten(1))
    return torch.cat(parts, dim=1)


@pytest.mark.parametrize(
    ("shape", "blocks", "grid", "out"),
    [
        ((1, 8, 8), [1, 2], 4, 32 * 16 + 64 * 4),               # block 1 whole (4x4) and block 2 (2x2)
        ((1, 8, 8), [1, 2], 2, 32 * 4 + 64 * 4),                # block 1 pooled to 2x2
        ((1, 8, 8), [1, 2, 3], 2, 32 * 4 + 64 * 4 + 128 * 4),
        ((1, 8, 8), [1, 3], 1, 32 + 128),                       # block 2 run but not read
        ((1, 40), [1, 2], 2, 32 * 2 + 64 * 2),                  # MNIST-1D
    ],
)
def test_hypercolumn_readout_is_the_concatenation_of_the_sliced_blocks_maps(shape, blocks, grid, out):
    torch.manual_seed(0)
    encoder = build_encoder("auto", shape).eval()
    x = torch.randn(5, *shape)
    with torch.no_grad():
        expected = _sliced_hypercolumn(encoder, x, blocks, grid)  # before the read-out is set
        single_keys = set(with_map_readout(build_encoder("auto", shape), blocks[-1], grid).state_dict())
        read = with_map_readout(encoder, blocks, grid)
        got = read(x)
    assert read.out_features == out and got.shape == (5, out)
    assert torch.allclose(got, expected, atol=1e-6)
    assert read.map_readout == {"blocks": blocks, "grid": grid}
    assert len(read.blocks) == blocks[-1] + 1 and set(read.state_dict()) == single_keys
    freeze_blocks(read, len(read.blocks))  # the linear-probe interface holds
    assert not any(p.requires_grad for p in read.parameters())


def test_a_one_block_list_is_the_single_block_readout():
    torch.manual_seed(0)
    encoder = build_encoder("cnn2d", (1, 8, 8)).eval()
    single = with_map_readout(copy.deepcopy(encoder), 1, 4)
    read = with_map_readout(encoder, [1], 4)
    assert read.map_readout == single.map_readout == {"blocks": 1, "grid": 4}
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(read(x), single(x))


def test_a_frozen_prefix_of_the_hypercolumn_feeds_the_rest_unchanged():
    """partial_freeze runs the frozen blocks once and the rest per epoch (transfer._frozen_prefix_val_fn)."""
    torch.manual_seed(0)
    read = with_map_readout(build_encoder("cnn2d", (1, 8, 8)), [1, 2, 3], 2).eval()
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        for k in range(len(read.blocks) + 1):
            assert torch.equal(read.blocks[k:](read.blocks[:k](x)), read(x))
    freeze_blocks(read, 2).train()
    assert [b.training for b in read.blocks] == [False, False, True, True]


def test_hypercolumn_readout_round_trips_through_a_saved_checkpoint(tmp_path):
    torch.manual_seed(0)
    kwargs = {"width": 8, "depth": 3, "out_features": 16}
    encoder = with_map_readout(build_encoder("cnn2d", (1, 8, 8), **kwargs), [1, 2], 4).eval()
    checkpoint = encoder_checkpoint(encoder, "cnn2d", (1, 8, 8), kwargs)
    assert checkpoint["encoder"]["kwargs"]["map_readout"] == {"blocks": [1, 2], "grid": 4}
    torch.save(checkpoint, tmp_path / "encoder.pt")
    rebuilt = encoder_from_checkpoint(torch.load(tmp_path / "encoder.pt", weights_only=True)).eval()
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(rebuilt(x), encoder(x))
    assert rebuilt.out_features == encoder.out_features == 8 * 16 + 16 * 4
    assert rebuilt.map_readout == {"blocks": [1, 2], "grid": 4}


@pytest.mark.parametrize("blocks", [[2, 1], [1, 1], [0, 1], [1, 4], []])
def test_hypercolumn_refuses_blocks_out_of_order_or_range(blocks):
    with pytest.raises(ValueError, match="blocks"):
        with_map_readout(build_encoder("cnn2d", (1, 8, 8), depth=3), blocks)


@pytest.mark.parametrize("train_readout", [False, True])
def test_cpc_returns_the_hypercolumn_readout(train_readout):
    """``train_readout``: the strips' latents z_t are the hypercolumn itself, so the loss is
    computed on the very features the probe reads."""
    torch.manual_seed(0)
    X = np.random.default_rng(0).uniform(size=(32, 1, 8, 8)).astype(np.float32)
    encoder, history = infomax.pretrain_cpc(
        X, encoder=build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8), strip_size=0.5,
        readout_blocks=[1, 2], readout_grid=4, train_readout=train_readout,
        config=TrainConfig(epochs=2, batch_size=16, patience=None),
    )
    assert encoder.map_readout == {"blocks": [1, 2], "grid": 4}
    assert encoder(torch.from_numpy(X[:2])).shape == (2, 4 * 16 + 8 * 4)
    assert np.isfinite(history.train_loss).all()


def test_a_hypercolumn_checkpoint_flows_through_every_transfer_protocol(tmp_path, monkeypatch):
    """The rebuilt encoder runs under linear_probe, knn, partial_freeze (its frozen prefix
    cached on the val rows gives what the plain forward gives) and finetune, unchanged."""
    import transfer_lab.methods.transfer as transfer
    from transfer_lab.methods.runtime import seed_everything
    from transfer_lab.methods.training import accuracy
    from transfer_lab.sources import splits
    from transfer_lab.sources.digits import load_digits

    ds = load_digits()
    table = splits.stratified_split(ds.y, 0.2, 0.2, 0)
    view = splits.budget_view(ds, table, splits.label_subsets(ds.y, table, [5], [0]), 5, 0)
    torch.manual_seed(0)
    kwargs = {"width": 4, "depth": 3, "out_features": 8}
    encoder = with_map_readout(build_encoder("cnn2d", (1, 8, 8), **kwargs), [1, 2], 4)
    torch.save(encoder_checkpoint(encoder, "cnn2d", (1, 8, 8), kwargs), tmp_path / "encoder.pt")
    rebuilt = encoder_from_checkpoint(torch.load(tmp_path / "encoder.pt", weights_only=True))
    config = TrainConfig(epochs=3, batch_size=32, patience=None, progress=False)
    results = {
        "linear_probe": transfer.run_protocol("linear_probe", rebuilt, view),
        "knn": transfer.run_protocol("knn", rebuilt, view, k=3),
        "finetune": transfer.run_protocol("finetune", rebuilt, view, config=config, encoder_lr=1e-3),
    }
    seed_everything(0)
    cached = transfer.run_protocol("partial_freeze", rebuilt, view, k=2, config=config, encoder_lr=1e-3)
    monkeypatch.setattr(transfer, "_frozen_prefix_val_fn", lambda model, n, X, y, device: (lambda m: accuracy(m, X, y, device)))
    seed_everything(0)
    plain = transfer.run_protocol("partial_freeze", rebuilt, view, k=2, config=config, encoder_lr=1e-3)
    assert (cached.test_accuracy, cached.val_accuracy) == (plain.test_accuracy, plain.val_accuracy)
    for name, result in {**results, "partial_freeze": cached}.items():
        assert 0.1 < result.test_accuracy <= 1.0, name  # ten classes: above chance
    assert rebuilt.out_features == 4 * 16 + 8 * 4


# --- BatchNorm statistics re-estimated on whole samples after CPC -----------------------------


def _batch_statistics_loop(encoder, x):
    """The reference: each conv block by hand with batch normalisation from the batch's own
    statistics (mean, biased variance), recording the mean and unbiased variance of every
    BatchNorm's input."""
    stats, h = [], x
    for block in list(encoder.blocks)[:-1]:
        conv, norm = block[0], block[1]
        h = conv(h)
        mean, var = h.mean(dim=(0, 2, 3)), h.var(dim=(0, 2, 3), unbiased=False)
        stats.append((mean, h.var(dim=(0, 2, 3), unbiased=True)))
        h = (h - mean[:, None, None]) / torch.sqrt(var[:, None, None] + norm.eps)
        h = torch.relu(h * norm.weight[:, None, None] + norm.bias[:, None, None])
        h = block[3](h) if len(block) > 3 else h
    return stats


def test_recompute_batchnorm_sets_the_statistics_of_the_whole_samples():
    torch.manual_seed(0)
    encoder = build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8)
    norms = [m for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for norm in norms:  # statistics of other inputs, and trained affine weights
        norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(2, 3)
        norm.weight.data.uniform_(0.5, 1.5), norm.bias.data.uniform_(-0.2, 0.2)
    encoder.eval()
    weights = {k: v.clone() for k, v in encoder.named_parameters()}
    X = np.random.default_rng(0).uniform(size=(300, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        expected = _batch_statistics_loop(encoder, torch.from_numpy(X))
    infomax.recompute_batchnorm(encoder, X)
    for norm, (mean, var) in zip(norms, expected, strict=True):
        assert torch.allclose(norm.running_mean, mean, atol=1e-5) and torch.allclose(norm.running_var, var, rtol=1e-4)
        assert norm.momentum == 0.1
    assert not encoder.training and all(torch.equal(v, weights[k]) for k, v in encoder.named_parameters())
    chunked = infomax.recompute_batchnorm(copy.deepcopy(encoder), X, max_rows=100)  # three chunks of 100
    for a, b in zip(chunked.modules(), encoder.modules(), strict=True):
        if isinstance(a, torch.nn.BatchNorm2d):
            assert torch.allclose(a.running_mean, b.running_mean, atol=1e-2)


def test_cpc_recompute_bn_keeps_cpc_weights_and_takes_the_samples_statistics():
    X = np.random.default_rng(0).uniform(size=(32, 1, 8, 8)).astype(np.float32)
    encoders = {}
    for recompute in (False, True):
        torch.manual_seed(0)
        encoders[recompute], _ = infomax.pretrain_cpc(
            X, encoder=build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8), strip_size=0.5,
            readout_blocks=[1, 2], readout_grid=2, recompute_bn=recompute,
            config=TrainConfig(epochs=1, batch_size=16, patience=None, seed=0),
        )
    plain, recomputed = encoders[False], encoders[True]
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), recomputed.parameters(), strict=True))
    first = recomputed.blocks[0][1]
    assert not torch.allclose(first.running_mean, plain.blocks[0][1].running_mean)
    expected = infomax.recompute_batchnorm(copy.deepcopy(plain), X)
    for a, b in zip(expected.state_dict().values(), recomputed.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float())
