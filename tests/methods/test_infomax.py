"""Deep InfoMax and CPC: losses against plain loops over the papers' equations, small fits."""

import math

import numpy as np
import pytest
import torch

from transfer_lab.methods import infomax
from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.training import TrainConfig


def _sp(z):
    return math.log1p(math.exp(z))


def _jsd_loop(s):
    """Hjelm et al. eq. 4 over an (N, N) matrix: joint = diagonal, marginal = off-diagonal."""
    n = len(s)
    joint = sum(-_sp(-s[i][i]) for i in range(n)) / n
    marginal = sum(_sp(s[i][j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    return joint - marginal


def _nce_loop(s):
    n = len(s)
    return math.log(n) + sum(s[i][i] - math.log(sum(math.exp(s[i][j]) for j in range(n))) for i in range(n)) / n


@pytest.mark.parametrize("estimator,loop", [("jsd", _jsd_loop), ("infonce", _nce_loop)])
def test_dim_objective_is_eq_6_5_as_a_loop(estimator, loop):
    generator = torch.Generator().manual_seed(0)
    g, l = torch.randn(4, 4, generator=generator), torch.randn(4, 4, 3, generator=generator)
    alpha, beta = 0.3, 1.7
    expected = alpha * loop(g.tolist()) + beta / 3 * sum(loop(l[:, :, k].tolist()) for k in range(3))
    assert infomax.dim_objective(g, l, alpha, beta, estimator).item() == pytest.approx(expected, abs=1e-5)


def test_local_scores_are_dot_products_of_global_and_local_embeddings():
    generator = torch.Generator().manual_seed(1)
    local, global_ = torch.randn(3, 5, 4, generator=generator), torch.randn(3, 5, generator=generator)
    s = infomax.local_scores(local, global_)
    for i in range(3):
        for j in range(3):
            for k in range(4):
                assert s[i, j, k].item() == pytest.approx(float(global_[i] @ local[j, :, k]), abs=1e-5)


def test_cpc_loss_is_eq_4_as_a_loop():
    generator = torch.Generator().manual_seed(2)
    n, t_len, d, k_max = 2, 4, 3, 2
    z, pred = torch.randn(n, t_len, d, generator=generator), torch.randn(k_max, n, t_len, d, generator=generator)
    terms = []
    for k in range(1, k_max + 1):
        for i in range(n):
            for t in range(t_len - k):
                p = pred[k - 1, i, t]
                denominator = sum(math.exp(float(z[j, u] @ p)) for j in range(n) for u in range(t_len))
                terms.append(-(float(z[i, t + k] @ p) - math.log(denominator)))
    assert infomax.cpc_loss(pred, z).item() == pytest.approx(sum(terms) / len(terms), abs=1e-5)


def test_strips_keep_one_band_each_in_order():
    x = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8) + 1
    s = infomax.strips(x, 3, 2)
    assert s.shape == (1, 3, 1, 8, 8)
    for t in range(3):
        rows = (s[0, t, 0] != 0).any(dim=1).nonzero().flatten().tolist()
        assert rows == [2 * t, 2 * t + 1, 2 * t + 2]
    signal = infomax.strips(torch.ones(2, 1, 40), 15, 5)
    assert signal.shape == (2, 6, 1, 40) and signal[0, 1, 0].nonzero().flatten().tolist() == list(range(5, 20))


def _blobs(n=96, seed=0):
    """8x8 images: a bright square at one of two corners, noise elsewhere (structure to find)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.2, (n, 1, 8, 8)).astype(np.float32)
    for i in range(n):
        r = 0 if i % 2 else 4
        X[i, 0, r : r + 4, r : r + 4] += 0.8
    return X


@pytest.mark.parametrize("estimator", ["jsd", "dv", "infonce"])
def test_dim_training_raises_the_objective(estimator):
    torch.manual_seed(0)
    encoder = build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8)
    _, history = infomax.pretrain_dim(
        _blobs(), encoder=encoder, estimator=estimator, gamma=0.1 if estimator == "jsd" else 0.0,
        config=TrainConfig(epochs=8, batch_size=32, patience=None),
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_cpc_training_lowers_its_loss_on_signals():
    torch.manual_seed(0)
    X = np.sin(np.linspace(0, 6, 40))[None, None] * np.random.default_rng(0).uniform(0.5, 1.5, (64, 1, 1))
    encoder = build_encoder("cnn1d", (1, 40), width=4, out_features=8)
    _, history = infomax.pretrain_cpc(
        X.astype(np.float32), encoder=encoder, strip_size=0.25, stride=5, steps=2,
        config=TrainConfig(epochs=6, batch_size=32, patience=None),
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_dim_refuses_bad_settings():
    with pytest.raises(ValueError):
        infomax.pretrain_dim(_blobs(8), estimator="kl", config=TrainConfig(epochs=1))
    with pytest.raises(ValueError):
        infomax.pretrain_dim(_blobs(8), alpha=0, beta=0, config=TrainConfig(epochs=1))


def test_dim_two_views_pair_the_global_feature_of_one_with_the_maps_of_the_other():
    """AMDIM's multi-view DIM (Bachman et al. 2019): y of view a, local / last maps of view b."""
    torch.manual_seed(0)
    x = torch.as_tensor(_blobs(6))
    other = torch.flip(x, dims=[3])
    model = infomax.DeepInfoMax(build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8), x, embed_dim=5).eval()
    with torch.no_grad():
        same = model.scores(x, x)
        single = model.scores(x)
        g, loc, y = model.scores(x, other)
        g_other, loc_other, y_other = model.scores(other)
    for a, b in zip(same, single, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(y, single[2])  # the global feature is of x
    with torch.no_grad():  # the critics read view b's maps against view a's feature
        fmap = model.encoder.blocks[:-1](other)
        local = model.local_embed(model.encoder.blocks[:1](other)).flatten(2)
        torch.testing.assert_close(g, model.global_feature(y) @ model.global_embed(fmap).T)
        torch.testing.assert_close(loc, infomax.local_scores(local, model.local_feature(y)))
    assert not torch.allclose(g, g_other)


def test_dim_with_two_augmented_views_raises_the_objective():
    torch.manual_seed(0)
    encoder = build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8)
    _, history = infomax.pretrain_dim(
        _blobs(), encoder=encoder, estimator="infonce", strength=0.5,
        config=TrainConfig(epochs=8, batch_size=32, patience=None),
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_cpc_with_augmentation_lowers_its_loss_on_images():
    torch.manual_seed(0)
    encoder = build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8)
    _, history = infomax.pretrain_cpc(
        _blobs(), encoder=encoder, strip_size=0.375, stride=1, steps=2, strength=0.5,
        config=TrainConfig(epochs=6, batch_size=32, patience=None),
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_strips_along_columns_are_the_rows_of_the_transposed_image():
    x = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8) + 1
    columns = infomax.strips(x, 3, 2, axis=1)
    torch.testing.assert_close(columns, infomax.strips(x.transpose(2, 3), 3, 2).transpose(3, 4))
    assert (columns[0, 1, 0] != 0).any(dim=0).nonzero().flatten().tolist() == [2, 3, 4]
    with pytest.raises(ValueError):
        infomax.strips(torch.ones(2, 1, 40), 15, 5, axis=1)


def test_cpc_objective_is_the_mean_of_eq_4_over_directions_as_a_loop():
    """CPC v2's directions: each its own GRU and predictors over strips in its order."""
    torch.manual_seed(0)
    x = torch.as_tensor(_blobs(3))
    directions = ("down", "up", "left")
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 5))
    linear.out_features = 5  # a linear encoder: latents that differ visibly between strips
    model = infomax.CPC(linear, 2, 6, len(directions))
    losses = []
    for i, name in enumerate(directions):
        starts = list(range(0, 8 - 4 + 1, 2))  # strips of 4 every 2: rows / columns 0-3, 2-5, 4-7
        cut = []
        for start in (starts[::-1] if name in ("up", "left") else starts):
            strip = torch.zeros_like(x)
            if name in ("down", "up"):
                strip[:, :, start : start + 4] = x[:, :, start : start + 4]
            else:
                strip[:, :, :, start : start + 4] = x[:, :, :, start : start + 4]
            cut.append(strip)
        with torch.no_grad():
            z = torch.stack([model.encoder(s) for s in cut], dim=1)
            context, _ = model.grus[i](z)
            predictions = torch.stack([w(context) for w in model.predictors[i]])
        losses.append(infomax.cpc_loss(predictions, z).item())
    with torch.no_grad():
        objective = infomax.cpc_objective(model, x, directions, {0: 4, 1: 4}, 2).item()
    assert objective == pytest.approx(sum(losses) / len(losses), abs=1e-5)
    assert min(abs(a - b) for a in losses for b in losses if a is not b) > 1e-3  # the directions differ


def test_cpc_in_four_directions_lowers_its_loss_on_images():
    torch.manual_seed(0)
    encoder = build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8)
    _, history = infomax.pretrain_cpc(
        _blobs(), encoder=encoder, strip_size=0.375, stride=1, steps=2, directions=["down", "up", "right", "left"],
        config=TrainConfig(epochs=6, batch_size=32, patience=None),
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_cpc_refuses_columns_of_signals_and_unknown_directions():
    signals = np.zeros((8, 1, 40), dtype=np.float32)
    with pytest.raises(ValueError, match="columns"):
        infomax.pretrain_cpc(signals, strip_size=0.25, stride=5, directions=["right"], config=TrainConfig(epochs=1))
    for bad in ([], ["down", "down"], ["diagonal"]):
        with pytest.raises(ValueError, match="directions"):
            infomax.pretrain_cpc(_blobs(8), directions=bad, config=TrainConfig(epochs=1))


def test_cpc_can_train_its_read_out_as_the_latents():
    """train_readout: z_t is the pooled block-1 map, the very features the encoder hands on."""
    torch.manual_seed(0)
    encoder = build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8)
    before = encoder.blocks[0][0].weight.detach().clone()
    trained, history = infomax.pretrain_cpc(
        _blobs(), encoder=encoder, strip_size=0.5, stride=1, steps=2, readout_blocks=1, readout_grid=4,
        train_readout=True, config=TrainConfig(epochs=6, batch_size=32, patience=None),
    )
    assert history.train_loss[-1] < history.train_loss[0]
    assert trained.map_readout == {"blocks": 1, "grid": 4} and trained.out_features == 4 * 4 * 4
    assert not torch.equal(trained.blocks[0][0].weight, before)
    with pytest.raises(ValueError, match="readout_blocks"):
        infomax.pretrain_cpc(_blobs(8), train_readout=True, config=TrainConfig(epochs=1))


def test_patch_grid_cuts_overlapping_windows_in_raster_order():
    x = torch.arange(2 * 16 * 16, dtype=torch.float32).view(2, 1, 16, 16)
    grid = infomax.patch_grid(x, (8, 8), 4)
    assert grid.shape == (2, 3, 3, 1, 8, 8)
    for r in range(3):
        for c in range(3):
            torch.testing.assert_close(grid[:, r, c], x[:, :, 4 * r : 4 * r + 8, 4 * c : 4 * c + 8])
    signal = torch.arange(80, dtype=torch.float32).view(1, 1, 80)
    segments = infomax.patch_grid(signal, (40,), 8)
    assert segments.shape == (1, 6, 1, 40) and segments[0, 5, 0, 0].item() == 40.0
    with pytest.raises(ValueError, match="do not fit"):
        infomax.patch_grid(x, (17, 8), 4)


def test_cpc_grid_objective_is_eq_4_over_the_patch_grid_as_a_loop():
    """CPC v2's grid: the 2x upsampled 8x8 image cut into 8x8 patches every 4 (3x3), each
    encoded; a GRU down each column predicts the patches k = 1..2 rows below, against every
    patch of the batch (all positions, all images)."""
    torch.manual_seed(0)
    x = torch.as_tensor(_blobs(3))
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 5))
    linear.out_features = 5
    model = infomax.CPC(linear, 2, 6, 2)
    big = torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    n, side, starts = 3, 8, [0, 4, 8]
    with torch.no_grad():
        z = {(i, r, c): linear(big[i : i + 1, :, r0 : r0 + side, c0 : c0 + side])[0]
             for i in range(n) for r, r0 in enumerate(starts) for c, c0 in enumerate(starts)}
        losses = []
        for direction, (name, rows_of) in enumerate((("down", False), ("left", True))):
            terms = []
            for i in range(n):
                for line in range(3):  # a column (down) or a row read right to left (left)
                    keys = [(i, t, line) for t in range(3)] if name == "down" else [(i, line, 2 - t) for t in range(3)]
                    context, _ = model.grus[direction](torch.stack([z[key] for key in keys])[None])
                    for k in (1, 2):
                        for t in range(3 - k):
                            p = model.predictors[direction][k - 1](context[0, t])
                            denominator = sum(math.exp(float(v @ p)) for v in z.values())  # every patch of the batch
                            terms.append((k, -(float(z[keys[t + k]] @ p) - math.log(denominator))))
            # cpc_loss averages over every (k, sequence, t) term alike
            losses.append(sum(v for _, v in terms) / len(terms))
        objective = infomax.cpc_grid_objective(model, x, ("down", "left"), 2, 4).item()
    assert objective == pytest.approx(sum(losses) / len(losses), abs=1e-5)
    assert abs(losses[0] - losses[1]) > 1e-3


def test_cpc_on_the_patch_grid_lowers_its_loss_on_images_and_signals():
    torch.manual_seed(0)
    encoder = build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8)
    _, history = infomax.pretrain_cpc(
        _blobs(), encoder=encoder, grid=True, upsample=2, patch_stride=2, steps=2, readout_blocks=1, readout_grid=4,
        config=TrainConfig(epochs=6, batch_size=32, patience=None),
    )
    assert history.train_loss[-1] < history.train_loss[0]
    X = np.sin(np.linspace(0, 6, 40))[None, None] * np.random.default_rng(0).uniform(0.5, 1.5, (64, 1, 1))
    encoder = build_encoder("cnn1d", (1, 40), width=4, out_features=8)
    _, history = infomax.pretrain_cpc(
        X.astype(np.float32), encoder=encoder, grid=True, upsample=2, patch_stride=8, steps=2,
        config=TrainConfig(epochs=6, batch_size=32, patience=None),
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_cpc_grid_refuses_bad_settings():
    config = TrainConfig(epochs=1)
    with pytest.raises(ValueError, match="upsample 2 needs grid"):
        infomax.pretrain_cpc(_blobs(8), upsample=2, config=config)
    with pytest.raises(ValueError, match="grid needs upsample >= 2"):
        infomax.pretrain_cpc(_blobs(8), grid=True, config=config)
    with pytest.raises(ValueError, match="too few positions"):  # 16x16 every 8: 2 rows, 2 steps ahead
        infomax.pretrain_cpc(_blobs(8), grid=True, upsample=2, patch_stride=8, steps=2, config=config)
    with pytest.raises(ValueError, match="columns"):
        signals = np.zeros((8, 1, 40), np.float32)
        infomax.pretrain_cpc(signals, grid=True, upsample=2, directions=["right"], config=config)
