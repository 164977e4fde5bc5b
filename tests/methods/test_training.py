"""Tests for transfer_lab.methods.training: the fit loop, its guards and the helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from transfer_lab.methods.encoders import Classifier, ConvEncoder2d, MLPEncoder, freeze_blocks
from transfer_lab.methods.runtime import seed_everything
from transfer_lab.methods.training import (
    ArrayLoader,
    DivergenceError,
    TrainConfig,
    accuracy,
    extract_features,
    fit,
    fit_classifier,
    load_state_dict,
    predict,
    predict_proba,
    save_state_dict,
)

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    """sklearn digits as (n, 1, 8, 8) in [0, 1]; stratified 50% train / 25% val / 25% test."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = y.astype(np.int64)
    X_tr, X_rest, y_tr, y_rest = train_test_split(X, y, train_size=0.5, stratify=y, random_state=0)
    X_va, X_te, y_va, y_te = train_test_split(
        X_rest, y_rest, train_size=0.5, stratify=y_rest, random_state=0
    )
    return X_tr, y_tr, X_va, y_va, X_te, y_te



def _small_cnn(seed: int = 0, width: int = 8) -> Classifier:
    seed_everything(seed)
    return Classifier(ConvEncoder2d(input_size=8, width=width, depth=3, out_features=64), 10)


def _quiet(**kwargs) -> TrainConfig:
    return TrainConfig(progress=False, **kwargs)


# --------------------------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------------------------


def test_cnn_from_scratch_learns_digits(digits):
    X_tr, y_tr, X_va, y_va, X_te, y_te = digits
    model = _small_cnn()
    config = _quiet(epochs=15, batch_size=32, lr=3e-3, patience=4)
    history = fit_classifier(model, X_tr, y_tr, X_va, y_va, config, CPU)
    test_acc = accuracy(model, X_te, y_te, CPU)
    print(f"digits CNN: test accuracy {test_acc:.4f} in {history.seconds:.2f}s, "
          f"{history.epochs_run} epochs, best {history.best_epoch}")
    assert test_acc >= 0.93
    assert history.train_loss[-1] < history.train_loss[0]
    # Generous bound: only catches a pathologically slow loop (target is ~10 s or less).
    assert history.seconds < 60


def test_early_stopping_restores_the_best_epoch(digits):
    X_tr, y_tr, X_va, y_va, _, _ = digits
    model = _small_cnn(width=4)
    # A large lr makes validation accuracy wobble, so patience=2 triggers quickly.
    config = _quiet(epochs=40, batch_size=32, lr=2e-2, patience=2)
    history = fit_classifier(model, X_tr, y_tr, X_va, y_va, config, CPU)
    assert history.stopped_early
    assert history.epochs_run == history.best_epoch + config.patience + 1
    assert history.best_score == max(history.val_score)
    # The weights in the model are the best epoch's: re-measuring gives the best score.
    assert accuracy(model, X_va, y_va, CPU) == pytest.approx(history.best_score, abs=1e-7)


def test_early_stopping_with_scripted_scores_restores_exact_weights():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    X = torch.randn(32, 4)
    y = torch.randint(0, 2, (32,))
    scores = iter([0.1, 0.5, 0.3, 0.2, 0.9, 0.4])
    snapshots = []

    def val_fn(m: nn.Module) -> float:
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return next(scores)

    history = fit(
        model, (X, y), nn.CrossEntropyLoss(), _quiet(epochs=50, lr=0.1, patience=2), CPU,
        val_fn=val_fn,
    )
    assert history.val_score == [0.1, 0.5, 0.3, 0.2]
    assert history.best_epoch == 1 and history.stopped_early
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[1][k])
        assert not torch.equal(v, snapshots[-1][k])


def test_patience_none_runs_all_epochs_but_restores_best():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    X, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    scores = iter([0.2, 0.8, 0.1, 0.3])
    history = fit(model, (X, y), nn.CrossEntropyLoss(), _quiet(epochs=4, patience=None), CPU,
                  val_fn=lambda m: next(scores))
    assert history.epochs_run == 4 and not history.stopped_early
    assert history.best_epoch == 1


def test_validation_loss_is_monitored_without_val_fn():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    X, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    history = fit(model, (X, y), nn.CrossEntropyLoss(), _quiet(epochs=5), CPU, val_data=(X, y))
    assert len(history.val_loss) == 5 and history.val_score == []
    assert history.best_epoch == int(np.argmin(history.val_loss))


def test_step_fn_hook_trains_an_unsupervised_objective():
    """A step_fn sees (X,) batches: here a tiny autoencoder's reconstruction loss."""
    torch.manual_seed(0)
    X = np.random.default_rng(0).random((128, 1, 8, 8), dtype=np.float32)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 64))
    seen = []

    def step(m: nn.Module, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        (x,) = batch
        seen.append(x.shape[0])
        return nn.functional.mse_loss(m(x), x.flatten(1))

    history = fit(model, (X,), config=_quiet(epochs=20, batch_size=32, lr=1e-2), step_fn=step)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert set(seen) == {32}


def test_fit_accepts_a_dataloader():
    torch.manual_seed(0)
    X, y = torch.randn(40, 4), torch.randint(0, 2, (40,))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=8)
    history = fit(nn.Linear(4, 2), loader, nn.CrossEntropyLoss(), _quiet(epochs=2), CPU)
    assert history.epochs_run == 2 and all(math.isfinite(v) for v in history.train_loss)


def test_config_seed_fixes_training_draws_and_leaves_global_rng_alone():
    X = np.random.default_rng(1).random((50, 1, 8, 8), dtype=np.float32)
    y = np.arange(50) % 10
    states = []
    for global_seed in (100, 200):
        seed_everything(3)
        model = Classifier(ConvEncoder2d(width=4, depth=2, out_features=8, dropout=0.2), 10)
        # Different global streams: batch order and dropout must still follow config.seed.
        torch.manual_seed(global_seed)
        fit_classifier(model, X, y, config=_quiet(epochs=3, batch_size=8, seed=7))
        states.append(model.state_dict())
        after_fit = torch.rand(1)
        torch.manual_seed(global_seed)
        assert torch.equal(after_fit, torch.rand(1)), "fit consumed the caller's RNG stream"
    for k in states[0]:
        assert torch.equal(states[0][k], states[1][k])


# --------------------------------------------------------------------------------------------
# Guards
# --------------------------------------------------------------------------------------------


def test_nan_loss_raises_divergence_error_naming_the_epoch():
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    X, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    calls = {"n": 0}

    def loss_fn(out, target):
        calls["n"] += 1
        loss = nn.functional.cross_entropy(out, target)
        return loss * float("nan") if calls["n"] > 4 else loss  # 2 batches/epoch: NaN in epoch 2

    with pytest.raises(DivergenceError) as info:
        fit(model, (X, y), loss_fn, _quiet(epochs=5, batch_size=8), CPU)
    message = str(info.value)
    assert "epoch 2" in message and "nan" in message and "\n" not in message
    assert info.value.epoch == 2 and info.value.batch == 0
    assert len(info.value.history.train_loss) == 2


def test_huge_learning_rate_diverges(digits):
    X_tr, y_tr, *_ = digits
    seed_everything(0)
    model = Classifier(MLPEncoder(64, hidden=(32,), out_features=16), 10)
    config = _quiet(epochs=5, lr=1e10, optimizer="sgd")
    with pytest.raises(DivergenceError, match=r"training diverged at epoch \d+"):
        fit_classifier(model, X_tr, y_tr, config=config)


def test_exploding_but_finite_loss_trips_the_factor_guard():
    model = nn.Linear(2, 1)
    X = torch.ones(8, 2)
    step_count = {"n": 0}

    def step(m, batch):
        step_count["n"] += 1
        return m(batch[0]).mean() * 0 + 10.0 ** step_count["n"]  # 10, 100, 1000, ...

    with pytest.raises(DivergenceError, match="exceeds 1000 x the initial loss") as info:
        fit(model, (X,), config=_quiet(epochs=10, batch_size=8), step_fn=step)
    assert info.value.loss == 10.0**5  # 1e5 > 1e3 * 10, the first check that fails
    # Disabled factor: finite losses pass.
    step_count["n"] = 0
    fit(model, (X,), config=_quiet(epochs=5, batch_size=8, divergence_factor=None), step_fn=step)


# --------------------------------------------------------------------------------------------
# Tiny data
# --------------------------------------------------------------------------------------------


def test_ten_sample_training_set(digits):
    X_tr, y_tr, X_va, y_va, _, _ = digits
    idx = np.array([np.flatnonzero(y_tr == c)[0] for c in range(10)])
    model = _small_cnn(width=4)
    history = fit_classifier(
        model, X_tr[idx], y_tr[idx], X_va, y_va,
        _quiet(epochs=40, batch_size=64, lr=1e-2, patience=10), CPU,
    )
    assert all(math.isfinite(v) for v in history.train_loss)
    assert history.best_score > 0.3  # 10 labels, far above the 0.1 of chance


def test_singleton_trailing_batch_is_merged():
    X, y = np.zeros((11, 3), np.float32), np.arange(11)
    sizes = [len(b[0]) for b in ArrayLoader(X, y, batch_size=5, seed=0)]
    assert sizes == [5, 6]
    assert [len(b[0]) for b in ArrayLoader(X, y, batch_size=64)] == [11]
    assert [len(b[0]) for b in ArrayLoader(X[:1], y[:1], batch_size=4)] == [1]
    loader = ArrayLoader(X, y, batch_size=5, seed=0)
    assert len(loader) == 2
    seen = np.sort(np.concatenate([b[1].numpy() for b in loader]))
    np.testing.assert_array_equal(seen, np.arange(11))  # nothing dropped


def test_batchnorm_mlp_survives_a_would_be_singleton_batch():
    """9 samples, batch 4 -> 4, 4, 1 would crash BatchNorm1d in train mode; merged it works."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    X, y = np.random.default_rng(0).random((9, 3), dtype=np.float32), np.arange(9) % 2
    fit_classifier(model, X, y, config=_quiet(epochs=2, batch_size=4))


def test_loader_and_fit_reject_bad_input():
    with pytest.raises(ValueError, match="same length"):
        ArrayLoader(np.zeros((3, 2)), np.zeros(4), batch_size=2)
    with pytest.raises(ValueError, match="rows"):
        fit_classifier(nn.Linear(2, 2), np.zeros((3, 2), np.float32), np.zeros(4, np.int64))
    with pytest.raises(ValueError, match="loss_fn or a step_fn"):
        fit(nn.Linear(2, 2), (np.zeros((3, 2)),))


def test_train_config_validation_and_from_params():
    """A TrainConfig checks its values; one built from parameters (contracts.TrainingParams,
    the one parameter model of training settings) refuses unknown keys."""
    from pydantic import ValidationError

    from transfer_lab.contracts import TrainingParams

    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        TrainConfig(optimizer="rmsprop")
    with pytest.raises(ValueError, match="patience"):
        TrainConfig(patience=0)
    with pytest.raises(ValidationError, match="epochz"):
        TrainingParams.model_validate({"epochz": 3})
    config = TrainingParams.model_validate({"epochs": 3, "lr": 0.1}).to_train_config(seed=0, progress=False)
    assert (config.epochs, config.lr, config.progress) == (3, 0.1, False)
    assert config.to_dict()["optimizer"] == "adam"
    assert set(TrainingParams.model_fields) | {"seed", "progress"} == set(config.to_dict())


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_other_optimizers_train(name):
    torch.manual_seed(0)
    X = torch.randn(64, 4)
    y = (X[:, 0] > 0).long()
    model = nn.Linear(4, 2)
    history = fit(model, (X, y), nn.CrossEntropyLoss(),
                  _quiet(epochs=10, lr=0.1, optimizer=name, max_grad_norm=1.0), CPU)
    assert history.train_loss[-1] < history.train_loss[0]


# --------------------------------------------------------------------------------------------
# Inference and persistence
# --------------------------------------------------------------------------------------------


def test_save_load_round_trip_gives_equal_outputs(tmp_path, digits):
    X_tr, y_tr, *_ = digits
    model = _small_cnn(width=4)
    fit_classifier(model, X_tr[:100], y_tr[:100], config=_quiet(epochs=2))
    path = save_state_dict(model, tmp_path / "nested" / "model.pt")
    assert path.is_file()
    torch.load(path, weights_only=True)  # loadable without pickle code execution
    other = _small_cnn(seed=99, width=4)
    before = predict_proba(other, X_tr[:20], CPU)
    assert not np.allclose(before, predict_proba(model, X_tr[:20], CPU))
    load_state_dict(other, path, CPU)
    np.testing.assert_array_equal(
        predict_proba(other, X_tr[:20], CPU), predict_proba(model, X_tr[:20], CPU)
    )
    with pytest.raises(FileNotFoundError, match="no state dict"):
        load_state_dict(other, tmp_path / "missing.pt")


def test_inference_helpers_shapes_and_mode_restoration(digits):
    X_tr, y_tr, *_ = digits
    model = _small_cnn(width=4)
    freeze_blocks(model.encoder, 1)
    model.train()
    X = X_tr[:37]
    proba = predict_proba(model, X, CPU, batch_size=10)
    assert proba.shape == (37, 10) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(predict(model, X, CPU), proba.argmax(axis=1))
    assert 0.0 <= accuracy(model, X, y_tr[:37]) <= 1.0
    feats = extract_features(model.encoder, X, CPU, batch_size=16)
    assert feats.shape == (37, 64)
    # Different batch sizes may change the last float bit, hence allclose.
    np.testing.assert_allclose(extract_features(model, X, CPU), feats, rtol=1e-5, atol=1e-6)
    # Modes are restored module by module: training again, frozen block still in eval.
    assert model.training and model.encoder.blocks[1].training
    assert not model.encoder.blocks[0].training
    # Inference is deterministic (eval mode) and builds no graph.
    out = extract_features(model.encoder, torch.from_numpy(X), batch_size=8)
    np.testing.assert_allclose(out, feats, rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_training_and_inference_on_cuda(tmp_path, digits):
    X_tr, y_tr, X_va, y_va, *_ = digits
    model = _small_cnn(width=4)
    history = fit_classifier(model, X_tr, y_tr, X_va, y_va, _quiet(epochs=3), "cuda")
    assert next(model.parameters()).is_cuda and history.epochs_run >= 1
    assert extract_features(model, X_va).shape == (len(X_va), 64)  # device taken from the model
    path = save_state_dict(model, tmp_path / "m.pt")
    cpu_model = load_state_dict(_small_cnn(seed=1, width=4), path, "cpu")
    np.testing.assert_allclose(
        predict_proba(cpu_model, X_va[:50]), predict_proba(model, X_va[:50]), atol=1e-4
    )


def test_min_batches_cycles_small_data_through_fresh_permutations():
    X = np.arange(10, dtype=np.float32).reshape(10, 1)
    loader = ArrayLoader(X, batch_size=10, min_batches=5, seed=0)
    batches = [b[0].flatten().tolist() for b in loader]
    assert len(batches) == 5 and len(loader) == 5
    # every pass is a permutation of all samples, and the passes are shuffled differently
    assert all(sorted(b) == list(range(10)) for b in batches)
    assert len({tuple(b) for b in batches}) > 1
    # data that already give enough batches are seen once per epoch
    assert len(ArrayLoader(X, batch_size=2, min_batches=3)) == 5
