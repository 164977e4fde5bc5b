"""The batched augmentations: shifted copies, cut squares, value ranges."""

from __future__ import annotations

import pytest
import torch

from transfer_lab.methods.semi_supervised.transforms import (
    cutout,
    random_flip,
    random_translate,
    strong_augment,
    weak_augment,
)


def _shifted(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Reference: move the content of a (C, H, W) image by (dy, dx), zero fill, with loops."""
    out = torch.zeros_like(img)
    _, h, w = img.shape
    for r in range(h):
        for c in range(w):
            rs, cs = r + dy, c + dx
            if 0 <= rs < h and 0 <= cs < w:
                out[:, r, c] = img[:, rs, cs]
    return out


def test_translate_gives_a_shifted_copy_of_each_image():
    torch.manual_seed(0)
    x = torch.rand(16, 2, 6, 5)
    out = random_translate(x, 2)
    assert out.shape == x.shape
    shifts_seen = set()
    for img, res in zip(x, out, strict=True):
        matches = [
            (dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
            if torch.equal(_shifted(img, dy, dx), res)
        ]
        assert matches, "output is not a shifted copy of its input"
        shifts_seen.add(matches[0])
    assert len(shifts_seen) > 3  # per-sample shifts, not one for the batch
    assert torch.equal(random_translate(x, 0), x)


def test_translate_1d_signals():
    torch.manual_seed(0)
    x = torch.arange(10.0).repeat(8, 1, 1)
    out = random_translate(x, 3)
    for row in out[:, 0]:
        nonzero = row[row > 0]
        # a contiguous run of consecutive values: a shifted copy
        assert torch.all(nonzero.diff() == 1)


def test_cutout_zeroes_one_square_per_sample():
    torch.manual_seed(0)
    x = torch.ones(32, 3, 8, 8)
    out = cutout(x, 4)
    for img in out:
        zero = img[0] == 0
        # the same square in every channel
        assert torch.equal(img[0], img[1]) and torch.equal(img[1], img[2])
        rows, cols = zero.any(dim=1).nonzero().ravel(), zero.any(dim=0).nonzero().ravel()
        assert zero.sum() == len(rows) * len(cols)  # a rectangle ...
        assert 1 <= len(rows) <= 4 and 1 <= len(cols) <= 4  # ... of at most 4x4, clipped at edges
    assert torch.equal(cutout(x, 0), x)


def test_flip_and_augmentation_ranges():
    torch.manual_seed(0)
    x = torch.rand(64, 1, 8, 8)
    flipped = random_flip(x, p=1.0)
    assert torch.equal(flipped, x.flip(-1))
    strong = strong_augment(x)
    assert strong.shape == x.shape
    assert strong.min() >= 0 and strong.max() <= 1
    assert not torch.equal(strong, x)
    flat = torch.rand(5, 64)
    assert torch.equal(weak_augment(flat), flat)
    assert strong_augment(flat).shape == flat.shape
    with pytest.raises(ValueError, match="expected"):
        random_translate(torch.rand(2, 2, 2, 2, 2), 1)
