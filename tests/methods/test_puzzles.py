"""Relative position and jigsaw: tiles, labels, the permutation set, small fits."""

import itertools

import numpy as np
import pytest
import torch

from transfer_lab.methods import puzzles
from transfer_lab.methods.encoders import build_encoder
from transfer_lab.methods.training import TrainConfig


def test_tiles_are_jittered_crops_of_their_cell_at_the_canvas_centre():
    x = torch.arange(1, 65, dtype=torch.float32).view(1, 1, 8, 8).repeat(50, 1, 1, 1)
    out = puzzles.tiles(x, 3, torch.Generator().manual_seed(0))
    assert out.shape == (50, 4, 1, 8, 8)
    seen_offsets = set()
    for i in range(50):
        for p, (r, c) in enumerate(itertools.product(range(2), range(2))):
            canvas = out[i, p, 0]
            assert (canvas != 0).nonzero()[:, 0].unique().tolist() == [2, 3, 4]  # central, nothing else
            crop = canvas[2:5, 2:5]
            top, left = divmod(int(crop[0, 0].item()) - 1, 8)
            assert r * 4 <= top <= r * 4 + 1 and c * 4 <= left <= c * 4 + 1  # inside its cell, jittered
            assert torch.equal(crop, x[0, 0, top : top + 3, left : left + 3])
            seen_offsets.add((top - r * 4, left - c * 4))
    assert seen_offsets == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_signal_tiles_are_four_segments():
    x = torch.arange(1, 41, dtype=torch.float32).view(1, 1, 40)
    out = puzzles.tiles(x, 8)
    assert out.shape == (1, 4, 1, 40)
    for p in range(4):
        values = out[0, p, 0][16:24]
        assert (out[0, p, 0] != 0).sum() == 8 and 10 * p < values[0] <= 10 * p + 3


def test_relative_offsets_are_the_eight_neighbours_on_2x2_and_six_on_1x4():
    assert len(puzzles.relative_offsets((2, 2))) == 8 and (0, 0) not in puzzles.relative_offsets((2, 2))
    assert puzzles.relative_offsets((4,)) == [(-3,), (-2,), (-1,), (1,), (2,), (3,)]


def _algorithm_1_loop(n_items, n_perms, first):
    """Noroozi & Favaro Alg. 1 as a plain loop."""
    perms = list(itertools.permutations(range(n_items)))
    chosen = [perms[first]]
    while len(chosen) < n_perms:
        best, best_total = None, -1
        for p in perms:
            if p in chosen:
                continue
            total = sum(sum(a != b for a, b in zip(p, q)) for q in chosen)
            if total > best_total:
                best, best_total = p, total
        chosen.append(best)
    return chosen


def test_permutation_set_is_algorithm_1_and_far_apart():
    got = puzzles.maximal_hamming_permutations(4, 10, seed=0)
    first = list(itertools.permutations(range(4))).index(tuple(got[0]))
    assert [tuple(p) for p in got] == _algorithm_1_loop(4, 10, first)
    assert len({tuple(p) for p in got}) == 10
    distances = [np.sum(a != b) for a, b in itertools.combinations(got, 2)]
    random_sets = [np.random.default_rng(s).permutation(list(itertools.permutations(range(4))))[:10] for s in range(20)]
    random_mean = np.mean([np.mean([np.sum(a != b) for a, b in itertools.combinations(r, 2)]) for r in random_sets])
    assert np.mean(distances) > random_mean


def _digits_like(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 0.1, (n, 1, 8, 8)).astype(np.float32)
    X[:, 0, 1:7, 3:5] += 0.9  # a vertical bar: quadrants differ top/bottom only by their content
    X[:, 0, 1, 1:7] += 0.9  # and a top bar: top tiles are not bottom tiles
    return X


@pytest.mark.parametrize("method", ["relative_position", "jigsaw"])
def test_puzzle_training_lowers_the_loss(method):
    torch.manual_seed(0)
    fn = getattr(puzzles, f"pretrain_{method}")
    _, history = fn(
        _digits_like(), encoder=build_encoder("cnn2d", (1, 8, 8), width=4, out_features=8),
        config=TrainConfig(epochs=10, batch_size=32, lr=3e-3, patience=None),
    )
    assert history.train_loss[-1] < history.train_loss[0]


def test_puzzles_run_on_signals():
    X = np.random.default_rng(0).normal(size=(16, 1, 40)).astype(np.float32)
    encoder = build_encoder("cnn1d", (1, 40), width=4, out_features=8)
    _, history = puzzles.pretrain_jigsaw(X, encoder=encoder, config=TrainConfig(epochs=1, batch_size=8, patience=None))
    assert history.epochs_run == 1
    with pytest.raises(ValueError, match="divisible"):
        puzzles.pretrain_relative_position(np.zeros((4, 1, 42), np.float32), config=TrainConfig(epochs=1))
