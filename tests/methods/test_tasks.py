"""Tests for transfer_lab.methods.tasks: every task's inputs, targets, losses and heads, and the readouts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.tasks import (
    TASK_KINDS,
    TASKS,
    TaskNetwork,
    discrete_targets,
    fit_readout,
    fit_task_network,
    make_head,
    make_task,
    per_sample_losses,
    readout_losses,
    standardise,
    train_task_network,
    view_features,
)
from transfer_lab.methods.training import TrainConfig, extract_features


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    X = (data.images / 16.0).astype(np.float32)[:, None]
    return X, data.target.astype(np.int64)


def test_dictionary_has_ten_tasks_of_every_kind():
    assert len(TASKS) >= 10
    kinds = {cls.kind for cls in TASKS.values()}
    assert kinds == set(TASK_KINDS)
    for name, cls in TASKS.items():
        assert cls.name == name
        assert make_task(name) == cls()


@pytest.mark.parametrize("name", sorted(TASKS))
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 40)])
def test_every_task_on_images_and_signals(name, shape):
    rng = np.random.default_rng(0)
    X = rng.random((30, *shape)).astype(np.float32)
    y = rng.integers(0, 10, 30)
    task = make_task(name)
    inputs = task.inputs(X, seed=3)
    targets = task.targets(X, y, seed=3)
    assert inputs.shape == X.shape and inputs.dtype == np.float32
    np.testing.assert_array_equal(inputs, task.inputs(X, seed=3))  # deterministic given the seed
    out_size = task.output_size(shape, 10)
    if task.is_classification:
        assert targets.dtype == np.int64 and targets.shape == (30,)
        assert 0 <= targets.min() and targets.max() < out_size
    else:
        assert targets.dtype == np.float32 and targets.shape == (30, out_size)
    head = task.head(16, out_size, hidden=8)
    outputs = head(torch.randn(30, 16))
    losses = task.loss(outputs, torch.as_tensor(targets))
    assert losses.shape == (30,) and bool((losses >= 0).all())
    if task.view == "clean":
        np.testing.assert_array_equal(inputs, X)
    else:
        assert not np.array_equal(inputs, X)


def test_label_tasks(digits):
    X, y = digits
    np.testing.assert_array_equal(make_task("class").targets(X, y), y)
    np.testing.assert_array_equal(make_task("parity").targets(X, y), y % 2)
    loops = make_task("loops").targets(X, y)
    expected = {0: 1, 1: 0, 2: 0, 3: 0, 4: 1, 5: 0, 6: 1, 7: 0, 8: 2, 9: 1}
    np.testing.assert_array_equal(loops, [expected[int(label)] for label in y])
    with pytest.raises(ValueError, match="digit labels"):
        make_task("parity").targets(X[:3], np.array([0, 1, 12]))


def test_ink_mass_and_centre_of_mass_against_loops():
    X = np.zeros((2, 1, 5, 4), dtype=np.float32)
    X[0, 0, 1, 3] = 1.0              # one dot: row 1 of 0..4, column 3 of 0..3
    X[1, 0, 4, 0] = X[1, 0, 0, 0] = 0.5
    ink = make_task("ink_mass").targets(X, None)
    np.testing.assert_allclose(ink[:, 0], [1.0 / 20, 1.0 / 20])
    centre = make_task("centre_of_mass").targets(X, None)
    np.testing.assert_allclose(centre, [[1 / 4, 3 / 3], [2 / 4, 0.0]])
    # a loop over pixels on random images
    rng = np.random.default_rng(1)
    R = rng.random((3, 1, 6, 7)).astype(np.float32)
    got = make_task("centre_of_mass").targets(R, None)
    for i in range(3):
        image = R[i, 0].astype(np.float64)
        rows = sum(r * image[r, c] for r in range(6) for c in range(7)) / image.sum() / 5
        cols = sum(c * image[r, c] for r in range(6) for c in range(7)) / image.sum() / 6
        np.testing.assert_allclose(got[i], [rows, cols], rtol=1e-5)
    # an empty image has its centre in the middle
    np.testing.assert_allclose(make_task("centre_of_mass").targets(np.zeros((1, 1, 4, 4)), None), [[0.5, 0.5]])


def test_rotation_inputs_match_targets(digits):
    X, y = digits
    task = make_task("rotation")
    inputs, targets = task.inputs(X[:200], seed=5), task.targets(X[:200], y[:200], seed=5)
    assert set(np.unique(targets)) == {0, 1, 2, 3}
    for i in range(200):
        np.testing.assert_array_equal(inputs[i, 0], np.rot90(X[i, 0], targets[i]))
    signals = np.random.default_rng(0).random((50, 1, 40)).astype(np.float32)
    flipped, labels = task.inputs(signals, 1), task.targets(signals, None, 1)
    assert set(np.unique(labels)) == {0, 1}
    np.testing.assert_array_equal(flipped[labels == 1], signals[labels == 1][:, :, ::-1])
    np.testing.assert_array_equal(flipped[labels == 0], signals[labels == 0])


def test_corruption_tasks(digits):
    X, y = digits
    X = X[:100]
    noisy = make_task("denoise", std=0.2).inputs(X, seed=0)
    assert abs(float((noisy - X).std()) - 0.2) < 0.01
    np.testing.assert_array_equal(make_task("denoise").targets(X, y), X.reshape(100, -1))

    inpaint = make_task("inpaint", size=4)
    masked = inpaint.inputs(X)
    assert (masked[:, :, 2:6, 2:6] == 0).all()
    np.testing.assert_array_equal(masked[:, :, :2], X[:, :, :2])
    np.testing.assert_array_equal(inpaint.targets(X, y), X[:, :, 2:6, 2:6].reshape(100, 16))
    assert inpaint.output_size((1, 8, 8), 10) == 16

    low = make_task("upsample", factor=2).inputs(X)
    np.testing.assert_allclose(low[:, 0, 0, 0], X[:, 0, :2, :2].mean(axis=(1, 2)), rtol=1e-6)
    np.testing.assert_array_equal(low[:, :, ::2, ::2], low[:, :, 1::2, 1::2])
    with pytest.raises(ValueError, match="does not divide"):
        make_task("upsample", factor=3).inputs(X)
    assert len({make_task(n).view for n in ("denoise", "inpaint", "upsample", "rotation", "class")}) == 5


def test_edges_against_a_loop_over_the_sobel_kernels():
    rng = np.random.default_rng(2)
    X = rng.random((2, 1, 5, 6)).astype(np.float32)
    got = make_task("edges").targets(X, None).reshape(2, 5, 6)
    kx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
    for n in range(2):
        padded = np.pad(X[n, 0].astype(np.float64), 1)
        for r in range(5):
            for c in range(6):
                window = padded[r : r + 3, c : c + 3]
                gx, gy = (window * kx).sum(), (window * kx.T).sum()
                assert math.isclose(got[n, r, c], math.hypot(gx, gy) / (4 * math.sqrt(2)), rel_tol=1e-5, abs_tol=1e-7)
    assert make_task("edges").targets(np.ones((1, 1, 8, 8)), None).max() <= 1.0 + 1e-6


def test_make_task_rejects_unknown_names_and_options():
    with pytest.raises(ValueError, match="unknown task"):
        make_task("depth")
    with pytest.raises(ValueError, match="no option"):
        make_task("class", std=0.1)
    with pytest.raises(ValueError, match="std"):
        make_task("denoise", std=0.0)
    with pytest.raises(ValueError, match="size"):
        make_task("inpaint", size=12).inputs(np.zeros((1, 1, 8, 8)))
    assert make_task("denoise", std=0.5).options() == {"std": 0.5}


def test_losses_are_per_sample():
    task = make_task("class")
    logits = torch.randn(7, 10)
    labels = torch.arange(7)
    expected = torch.stack([nn.functional.cross_entropy(logits[i : i + 1], labels[i : i + 1]) for i in range(7)])
    torch.testing.assert_close(task.loss(logits, labels), expected)
    dense = make_task("autoencode")
    a, b = torch.randn(4, 64), torch.randn(4, 64)
    torch.testing.assert_close(dense.loss(a, b), ((a - b) ** 2).mean(dim=1))


def test_heads_and_standardise():
    assert isinstance(make_head(8, 3, hidden=0), nn.Linear)
    assert make_head(8, 3, hidden=5)(torch.randn(2, 8)).shape == (2, 3)
    rng = np.random.default_rng(0)
    F = rng.normal(3.0, 5.0, (50, 4))
    F[:, 3] = 0.0
    F[0, 3] = 1e-4  # a unit that almost never fires must not blow up other samples
    fitted, other = standardise(F, F + 1.0)
    np.testing.assert_allclose(fitted.mean(axis=0), 0.0, atol=1e-5)
    assert np.abs(other).max() < 10
    np.testing.assert_allclose(np.sqrt(fitted.var(axis=0).mean()), 1.0, rtol=1e-4)


def test_task_network_learns_and_readouts_prefer_informative_features(digits):
    torch.manual_seed(0)
    X, y = digits
    task = make_task("parity")
    T = task.targets(X, y)
    train, val, test = np.arange(0, 900), np.arange(900, 1300), np.arange(1300, 1797)
    network = TaskNetwork(build_encoder("auto", (1, 8, 8), width=8, out_features=16), task.head(16, 2, 16))
    history = train_task_network(
        task, network, X[train], T[train], X[val], T[val], TrainConfig(epochs=5, progress=False)
    )
    losses = per_sample_losses(task, network, X[test], T[test])
    assert losses.shape == (len(test),) and history.epochs_run >= 1
    assert losses.mean() < math.log(2)  # better than chance

    # one-hot labels + noise against pure noise: the readout on the informative features wins
    rng = np.random.default_rng(0)
    informative = np.eye(10)[y] + 0.3 * rng.normal(size=(len(y), 10))
    noise = rng.normal(size=(len(y), 10))
    results = {}
    for name, F in (("informative", informative), ("noise", noise)):
        Ft, Fv, Fs = standardise(F[:100], F[val], F[test])
        head, val_loss = fit_readout(task, Ft, T[:100], Fv, T[val], 2, hidden=0, steps=100, seed=0)
        results[name] = per_sample_losses(task, head, Fs, T[test]).mean()
        assert math.isfinite(val_loss)
    assert results["informative"] < results["noise"]


def test_discrete_targets():
    task = make_task("class")
    np.testing.assert_array_equal(discrete_targets(task, np.array([3, 1, 2])), [3, 1, 2])
    values = np.concatenate([np.zeros((20, 2)), np.ones((20, 2))]).astype(np.float32)
    labels = discrete_targets(make_task("centre_of_mass"), values, n_clusters=5)
    assert len(np.unique(labels)) == 2 and len(set(labels[:20])) == 1
    with pytest.raises(ValueError, match="constant"):
        discrete_targets(make_task("ink_mass"), np.zeros((5, 1)))


# ----------------------------------------------------------------------------- Taskonomy steps
def _rows(n):
    order = np.random.default_rng(0).permutation(n)
    return {"train": order[:300], "transfer": np.sort(order[:60]), "val": order[300:400], "test": order[400:500]}


def test_fit_task_network_trains_on_the_chosen_rows_and_scores_the_test_rows(digits):
    X, y = digits
    task, rows = make_task("class"), _rows(len(y))
    T = task.targets(X, y)
    config = TrainConfig(epochs=3, progress=False, seed=0)

    def network():
        torch.manual_seed(0)
        return TaskNetwork(build_encoder("auto", (1, 8, 8), width=8, out_features=16), task.head(16, 10, 16))

    reference = network()
    history = train_task_network(task, reference, X[rows["train"]], T[rows["train"]], X[rows["val"]], T[rows["val"]], config)
    expected = per_sample_losses(task, reference, X[rows["test"]], T[rows["test"]])
    got_history, losses = fit_task_network(task, network(), X, T, rows, config)
    np.testing.assert_allclose(losses, expected)
    assert got_history.val_loss == history.val_loss
    # "pixels": the same network trained on the transfer rows only
    _, pixels = fit_task_network(task, network(), X, T, rows, config, fit_rows="transfer")
    assert pixels.shape == (100,) and not np.allclose(pixels, losses)


def test_readout_losses_standardise_each_source_and_concatenate(digits):
    X, y = digits
    task, rows = make_task("parity"), _rows(len(y))
    T = task.targets(X, y)
    rng = np.random.default_rng(1)
    informative = 100.0 * (np.eye(10)[y] + 0.3 * rng.normal(size=(len(y), 10)))  # a large scale
    noise = rng.normal(size=(len(y), 5))
    val, test = readout_losses(task, [informative, noise], T, rows, 2, hidden=0, steps=50, seed=3)
    parts = [standardise(F[rows["transfer"]], F[rows["val"]], F[rows["test"]]) for F in (informative, noise)]
    Ft, Fv, Fs = (np.concatenate([p[i] for p in parts], axis=1) for i in range(3))
    head, _ = fit_readout(task, Ft, T[rows["transfer"]], Fv, T[rows["val"]], 2, hidden=0, steps=50, seed=3)
    np.testing.assert_allclose(val, per_sample_losses(task, head, Fv, T[rows["val"]]))
    np.testing.assert_allclose(test, per_sample_losses(task, head, Fs, T[rows["test"]]))
    _, noise_only = readout_losses(task, [noise], T, rows, 2, hidden=0, steps=50, seed=3)
    assert test.mean() < noise_only.mean()


def test_view_features_of_every_view(digits):
    X, _ = digits
    encoder = build_encoder("auto", (1, 8, 8), width=8, out_features=16)
    views = {"clean": X[:50], "noisy": X[:50] + 0.1}
    features = view_features(encoder, views)
    assert set(features) == {"clean", "noisy"}
    for name, F in features.items():
        assert F.shape == (50, 16) and F.dtype == np.float32
        np.testing.assert_array_equal(F, extract_features(encoder, views[name]))
