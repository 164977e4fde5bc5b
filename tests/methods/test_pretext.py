"""Tests for transfer_lab.methods.pretext: rotation / transformation tasks, imputation, source."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transfer_lab.methods.encoders import MLPEncoder
from transfer_lab.methods.pretext import (
    N_TRANSFORMS,
    ContextEncoder,
    masked_mse,
    pretrain_imputation,
    pretrain_rotation,
    pretrain_supervised_source,
    transform_batch,
)
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import TrainConfig, extract_features
from transfer_lab.sources.digits import load_digits

SMALL = {"width": 8, "out_features": 16}



@pytest.fixture(scope="module")
def digits():
    ds = load_digits()
    return ds.X, ds.y


def _config(epochs: int, **kw):
    # the pipeline's pretext settings: Adam at 1e-3, weight decay 1e-5, no early stopping
    settings = {"lr": 1e-3, "weight_decay": 1e-5, "patience": None, "progress": False, **kw}
    return TrainConfig(epochs=epochs, batch_size=32, **settings)


def test_transform_batch_rotates_images_by_quarter_turns():
    x = torch.rand(3, 1, 8, 8)
    x_t, t = transform_batch(x)
    assert x_t.shape == (12, 1, 8, 8) and t.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    for i in range(12):
        k, j = int(t[i]), i % 3
        # A quarter turn counter-clockwise, as displayed: the top row becomes the left column.
        expected = torch.from_numpy(np.rot90(x[j, 0].numpy(), k).copy())
        torch.testing.assert_close(x_t[i, 0], expected)
    with pytest.raises(ValueError, match="square"):
        transform_batch(torch.rand(2, 1, 8, 6))


def test_transform_batch_for_signals_is_reversal_and_negation():
    x = torch.randn(2, 1, 40)
    x_t, t = transform_batch(x)
    expected = [x, x.flip(-1), -x, -x.flip(-1)]
    for k in range(N_TRANSFORMS):
        torch.testing.assert_close(x_t[t == k], expected[k])
    # The four classes are distinct for a generic signal.
    assert len({tuple(v.flatten().tolist()) for v in x_t[::2]}) == 4


def test_masked_mse_matches_a_loop_and_ignores_the_context():
    x, x_hat = torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4)
    mask = torch.zeros(2, 1, 4, 4, dtype=torch.bool)
    mask[0, 0, 1:3, 1:3] = True
    mask[1, 0, 0, :] = True
    total, count = 0.0, 0
    for idx in zip(*torch.nonzero(mask, as_tuple=True), strict=True):
        total += float((x_hat[idx] - x[idx]) ** 2)
        count += 1
    assert float(masked_mse(x_hat, x, mask)) == pytest.approx(total / count, rel=1e-6)
    # Errors outside the mask do not count.
    assert float(masked_mse(torch.where(mask, x, x_hat), x, mask)) == 0.0


def test_context_encoder_shapes():
    enc = MLPEncoder(64, hidden=(16,), out_features=8)
    out = ContextEncoder(enc, (1, 8, 8), hidden=16)(torch.rand(5, 1, 8, 8))
    assert out.shape == (5, 1, 8, 8) and out.min() >= 0 and out.max() <= 1
    enc = MLPEncoder(40, hidden=(16,), out_features=8)
    assert ContextEncoder(enc, (1, 40), bounded=False)(torch.randn(3, 1, 40)).shape == (3, 1, 40)


def test_rotation_pretraining_learns_its_task(digits):
    X, _ = digits
    seed_everything(0)
    # Without augmentation the task is plainly learnable: a clear drop in a few epochs.
    enc, history = pretrain_rotation(
        X[:300], encoder_kwargs=SMALL, augmentations=False, config=_config(8)
    )
    assert history.epochs_run == 8 and history.train_loss[-1] < 0.7 * history.train_loss[0]
    assert extract_features(enc, X[:5]).shape == (5, 16)


def test_imputation_pretraining_reduces_the_masked_error(digits):
    X, _ = digits
    seed_everything(0)
    enc, history = pretrain_imputation(X[:300], encoder_kwargs=SMALL, config=_config(10))
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]


@pytest.mark.parametrize("method", [pretrain_rotation, pretrain_imputation])
def test_pretext_tasks_run_on_signals(method):
    X = np.random.default_rng(0).standard_normal((64, 1, 40)).astype(np.float32)
    enc, history = method(X, encoder_kwargs={"width": 4, "out_features": 8}, config=_config(2))
    assert enc.out_features == 8 and all(np.isfinite(history.train_loss))


def test_supervised_pretraining_on_a_source(digits):
    X, y = digits
    seed_everything(0)
    enc, history = pretrain_supervised_source(
        X[:600], y[:600], X_val=X[600:800], y_val=y[600:800], encoder_kwargs=SMALL,
        config=_config(10, patience=5),
    )
    assert history.best_score > 0.8
    with pytest.raises(ValueError, match="rows"):
        pretrain_supervised_source(X[:10], y[:9], config=_config(1))
