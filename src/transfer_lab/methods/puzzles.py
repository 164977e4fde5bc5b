r"""Context prediction from patches: relative position (PRP) and jigsaw puzzles.

Both cut a sample into a grid of tiles — the four quadrants of a small image, four segments
of an MNIST-1D signal — and pass each tile, alone, through one shared encoder (the Siamese /
context-free setting of the papers), so the transferred encoder learns from parts, not from
the arrangement it would see whole.

* :func:`pretrain_relative_position` (Doersch et al. 2015): two tiles of the same sample;
  a head on the concatenated features predicts where the second lies relative to the first
  (8 classes on a 2x2 image grid — the eight neighbour offsets; 6 on a 1x4 signal grid).
* :func:`pretrain_jigsaw` (Noroozi & Favaro 2016): all tiles, shuffled by one permutation
  of a fixed set chosen by maximal Hamming distance (:func:`maximal_hamming_permutations`,
  the paper's Algorithm 1); the head on the concatenation predicts which permutation.

Shortcut defences, as in both papers: every tile is a random crop smaller than its grid
cell (``crop``), so neighbouring tiles are separated by a gap and jittered, and stroke ends
cannot simply be matched across a border; each crop is placed at the same central position
of a blank canvas of the input's size, so the encoder never sees where the tile came from.
(Chromatic aberration, the papers' third shortcut, has no analogue in grey images.)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from transfer_lab.methods.augment import build_augmenter, data_kind
from transfer_lab.methods.encoders import encoder_for, with_map_readout
from transfer_lab.methods.training import TrainConfig, TrainHistory, fit

__all__ = [
    "grid_of",
    "tiles",
    "upsampled",
    "relative_offsets",
    "maximal_hamming_permutations",
    "TileClassifier",
    "pretrain_relative_position",
    "pretrain_jigsaw",
]

ArrayLike = np.ndarray | torch.Tensor


def grid_of(x: ArrayLike) -> tuple[int, ...]:
    """The tile grid: 2x2 quadrants for images, 4 segments for signals."""
    return (2, 2) if data_kind(x) == "image" else (4,)


def _cells(spatial: Sequence[int], grid: Sequence[int]) -> list[tuple[int, ...]]:
    if any(s % g for s, g in zip(spatial, grid, strict=True)):
        raise ValueError(f"the sides {tuple(spatial)} are not divisible by the grid {tuple(grid)}")
    return list(itertools.product(*(range(g) for g in grid)))


def tiles(
    x: torch.Tensor, crop: int, generator: torch.Generator | None = None, canvas: Sequence[int] | None = None
) -> torch.Tensor:
    """Every grid cell's tile, jittered and alone on a blank canvas.

    Parameters
    ----------
    x : (n, C, H, W) images or (n, C, L) signals
    crop : int
        Side of the square (length of the segment) cut from each cell at a random offset,
        at most the cell's side; ``cell - crop`` is the largest gap/jitter.
    canvas : sizes, optional
        Spatial size of the blank canvas (default: ``x``'s own); smaller than ``x`` when ``x``
        was upsampled before cutting (``upsample`` of the pretraining functions).

    Returns
    -------
    (n, P, C, *canvas) with P the number of cells in raster order; tile ``p`` sits at the
    canvas's centre and everything else is zero.
    """
    spatial, grid = x.shape[2:], grid_of(x)
    canvas = tuple(int(s) for s in (spatial if canvas is None else canvas))
    cells = _cells(spatial, grid)
    cell = [s // g for s, g in zip(spatial, grid, strict=True)]
    if not 1 <= crop <= min(*cell, *canvas):
        raise ValueError(f"crop must be in [1, {min(*cell, *canvas)}] (cell and canvas), got {crop}")
    n, out = x.shape[0], torch.zeros(x.shape[0], len(cells), x.shape[1], *canvas, dtype=x.dtype, device=x.device)
    target = [slice((s - crop) // 2, (s - crop) // 2 + crop) for s in canvas]
    for p, position in enumerate(cells):
        offsets = [torch.randint(0, c - crop + 1, (n,), generator=generator, device="cpu") for c in cell]
        for combo in itertools.product(*(range(c - crop + 1) for c in cell)):
            chosen = torch.ones(n, dtype=torch.bool)
            for o, value in zip(offsets, combo, strict=True):
                chosen &= o == value
            if not chosen.any():
                continue
            source = [slice(i * c + v, i * c + v + crop) for i, c, v in zip(position, cell, combo, strict=True)]
            rows = chosen.nonzero().flatten().to(x.device)
            out[(rows, p, slice(None), *target)] = x[(rows, slice(None), *source)]
    return out


def relative_offsets(grid: Sequence[int]) -> list[tuple[int, ...]]:
    """The classes of the relative-position task: every non-zero offset between two cells."""
    span = [range(-(g - 1), g) for g in grid]
    return [d for d in itertools.product(*span) if any(d)]


def maximal_hamming_permutations(n_items: int, n_permutations: int, seed: int = 0) -> np.ndarray:
    """A permutation set by Noroozi & Favaro's Algorithm 1 (maximal Hamming distance).

    Start from one random permutation; repeatedly add the candidate whose summed Hamming
    distance to the chosen ones is largest (ties: the first), until ``n_permutations``.

    Returns
    -------
    (n_permutations, n_items) array of int
    """
    candidates = np.array(list(itertools.permutations(range(n_items))))
    if not 1 <= n_permutations <= len(candidates):
        raise ValueError(f"n_permutations must be in [1, {len(candidates)}], got {n_permutations}")
    rng = np.random.default_rng(seed)
    chosen = [int(rng.integers(len(candidates)))]
    distance = (candidates[:, None, :] != candidates[None, :, :]).sum(-1)
    while len(chosen) < n_permutations:
        total = distance[:, chosen].sum(1).astype(float)
        total[chosen] = -1.0
        chosen.append(int(np.argmax(total)))
    return candidates[chosen]


class TileClassifier(nn.Module):
    """Shared encoder on each of ``n_tiles`` tiles, an MLP on their concatenated features."""

    def __init__(self, encoder: nn.Module, n_tiles: int, n_classes: int, hidden: int = 256) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(
            nn.Linear(n_tiles * encoder.out_features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_classes)
        )

    def forward(self, tile_batch: torch.Tensor) -> torch.Tensor:
        """``(n, P, ...)`` tiles -> ``(n, n_classes)`` logits."""
        n, p = tile_batch.shape[:2]
        return self.head(self.encoder(tile_batch.flatten(0, 1)).view(n, -1))



def _augmenter(X: ArrayLike, strength: float, device: Any):
    """The default augmentations at ``strength`` (``0``: none), applied before tiling."""
    return build_augmenter(None, data_kind(X), strength).to(device) if strength > 0 else (lambda x: x)


def _crop_of(X: ArrayLike, crop: float, upsample: int = 1) -> int:
    cell = min(upsample * s // g for s, g in zip(X.shape[2:], grid_of(X), strict=True))
    size = max(1, min(cell, round(crop * cell)))
    if size > min(X.shape[2:]):
        raise ValueError(f"tiles of {size} (crop {crop} of cells of {cell}) do not fit the input's canvas {tuple(X.shape[2:])}")
    return size


def upsampled(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``x`` interpolated ``factor`` times larger (bilinear images, linear signals); ``1``: ``x``.

    Tiles cut from an upsampled sample are ``factor`` times larger at the same crop fraction,
    so on the encoder's canvas each one fills more of the input size the encoder later reads
    whole samples at (a 6x6 tile on the 8x8 canvas of a digit instead of 3x3).
    """
    if factor == 1:
        return x
    mode = "bilinear" if x.dim() == 4 else "linear"
    return F.interpolate(x, scale_factor=factor, mode=mode, align_corners=False)


def pretrain_relative_position(
    X: ArrayLike,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    crop: float = 0.75,
    hidden: int = 256,
    strength: float = 0.0,
    upsample: int = 1,
    readout_blocks: int = 0,
    readout_grid: int = 2,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    """Pretrain by predicting the relative position of two tiles (Doersch et al. 2015).

    Each step draws, per sample, an ordered pair of distinct cells ``(a, b)``; the label is
    the index of ``position(b) - position(a)`` in :func:`relative_offsets`.

    Parameters
    ----------
    X : array or tensor
        Unlabelled images (sides divisible by 2) or signals (length divisible by 4).
    crop : float, default 0.75
        Tile side as a fraction of its cell's (3 of 4 pixels for 8x8 digits, 8 of 10 steps
        for MNIST-1D): the gap and jitter.
    hidden : int, default 256
        Width of the head.
    strength : float, default 0.0
        Strength of the default augmentations applied to the whole sample before it is cut
        (``0``: none), as rotation prediction does against memorising the task.
    upsample : int, default 1
        Cut the tiles from the sample upsampled this many times (:func:`upsampled`) and
        place them on a canvas of the input's own size: ``2`` gives 6x6 tiles of the 8x8
        quadrants of a 16x16 digit on the 8x8 canvas.
    readout_blocks : int, default 0
        ``k > 0``: the returned encoder outputs its block-``k`` map average-pooled to at most
        ``readout_grid`` positions per side (:func:`~transfer_lab.methods.encoders.with_map_readout`),
        not the head trained on tiles; ``0``: the encoder's own head.
    readout_grid : int, default 2
    """
    encoder = encoder_for(X, encoder, encoder_kwargs)
    grid = grid_of(X)
    cells = torch.tensor(_cells(X.shape[2:], grid))
    offsets = relative_offsets(grid)
    lookup = {d: k for k, d in enumerate(offsets)}
    size, canvas = _crop_of(X, crop, upsample), tuple(X.shape[2:])
    model = TileClassifier(encoder, 2, len(offsets), hidden)
    augment = _augmenter(X, strength, device)

    def step(m: TileClassifier, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x = upsampled(augment(batch[0]), upsample)
        all_tiles, n = tiles(x, size, canvas=canvas), x.shape[0]
        a = torch.randint(0, len(cells), (n,))
        b = (a + torch.randint(1, len(cells), (n,))) % len(cells)  # any other cell, uniformly
        labels = torch.tensor([lookup[tuple((cells[j] - cells[i]).tolist())] for i, j in zip(a, b, strict=True)])
        rows = torch.arange(n)
        pair = torch.stack([all_tiles[rows, a.to(x.device)], all_tiles[rows, b.to(x.device)]], dim=1)
        return F.cross_entropy(m(pair), labels.to(x.device))

    history = fit(model, (X,), config=config, device=device, step_fn=step, desc="relative_position")
    return with_map_readout(model.encoder, readout_blocks, readout_grid), history


def pretrain_jigsaw(
    X: ArrayLike,
    *,
    encoder: nn.Module | None = None,
    encoder_kwargs: Mapping[str, Any] | None = None,
    crop: float = 0.75,
    n_permutations: int = 10,
    hidden: int = 256,
    permutation_seed: int = 0,
    strength: float = 0.0,
    upsample: int = 1,
    readout_blocks: int = 0,
    readout_grid: int = 2,
    config: TrainConfig,
    device: Any = "cpu",
) -> tuple[nn.Module, TrainHistory]:
    """Pretrain by solving jigsaw puzzles (Noroozi & Favaro 2016).

    Each step shuffles every sample's tiles by a permutation drawn from the maximal-Hamming
    set; the head sees the tiles' features concatenated in shuffled order and predicts the
    permutation's index.

    Parameters
    ----------
    crop : float, default 0.75
        As in :func:`pretrain_relative_position`.
    n_permutations : int, default 10
        Size of the permutation set (of the 4! = 24 orders of four tiles).
    hidden : int, default 256
    permutation_seed : int, default 0
        The first permutation of Algorithm 1.
    strength : float, default 0.0
        As in :func:`pretrain_relative_position`.
    upsample, readout_blocks, readout_grid
        As in :func:`pretrain_relative_position`.
    """
    encoder = encoder_for(X, encoder, encoder_kwargs)
    n_tiles = len(_cells(X.shape[2:], grid_of(X)))
    permutations = torch.as_tensor(maximal_hamming_permutations(n_tiles, n_permutations, permutation_seed))
    size, canvas = _crop_of(X, crop, upsample), tuple(X.shape[2:])
    model = TileClassifier(encoder, n_tiles, n_permutations, hidden)
    augment = _augmenter(X, strength, device)

    def step(m: TileClassifier, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x = upsampled(augment(batch[0]), upsample)
        labels = torch.randint(0, n_permutations, (x.shape[0],))
        order = permutations[labels].to(x.device)  # (n, P): slot s shows tile order[s]
        cut = tiles(x, size, canvas=canvas)
        shuffled = torch.gather(cut, 1, order.view(*order.shape, *([1] * (x.dim() - 1))).expand(-1, -1, *cut.shape[2:]))
        return F.cross_entropy(m(shuffled), labels.to(x.device))

    history = fit(model, (X,), config=config, device=device, step_fn=step, desc="jigsaw")
    return with_map_readout(model.encoder, readout_blocks, readout_grid), history
