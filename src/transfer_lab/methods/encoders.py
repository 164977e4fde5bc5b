"""Small encoders (input -> feature vector) and a classifier wrapper.

Every encoder exposes

* ``out_features``: the length of the feature vector it returns, and
* ``blocks``: an :class:`torch.nn.Sequential` whose forward *is* the encoder's forward. The
  last entry is the head (pooling/flatten + linear projection to ``out_features``), so
  ``freeze_blocks(encoder, k)`` freezes the first ``k`` stages and
  ``freeze_blocks(encoder, len(encoder.blocks))`` freezes the whole encoder (linear probe).

A conv encoder can instead expose an earlier block's feature map (:meth:`ConvEncoder2d.set_map_readout`,
constructor argument ``map_readout``): its first ``blocks`` conv blocks, then the map average-
pooled to at most ``grid`` positions per side and flattened — the mid-level read-out of the
self-supervised benchmarks, for encoders whose last layers learned a pretext on parts of
a sample (tiles, strips). With a list of blocks (``[1, 2]``) it is a "hypercolumn": the maps of
those blocks, each pooled so, concatenated. The checkpoint records it, so the rebuilt encoder is
the same.

Sizes are small on purpose: the data sets are 8x8 digits, 28x28 MNIST and 40-sample MNIST-1D
signals, and the tests train these nets on two CPU cores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from transfer_lab.methods.runtime import default_channels_last

__all__ = [
    "Encoder",
    "ConvEncoder2d",
    "ConvEncoder1d",
    "MLPEncoder",
    "Classifier",
    "build_encoder",
    "encoder_settings",
    "freeze_blocks",
    "with_map_readout",
    "count_parameters",
    "encoder_checkpoint",
    "encoder_from_checkpoint",
    "ENCODER_KINDS",
]

ENCODER_KINDS = ("cnn2d", "cnn1d", "mlp", "auto")

# Pool only while the pooled map keeps at least this many positions per side, so an 8x8
# digit is pooled 8 -> 4 -> 2 and then convolved without pooling, and 28x28 goes 28 -> 14 -> 7 -> 3.
_MIN_POOLED_SIZE = 2


class Encoder(nn.Module):
    """Base class: ``forward`` runs ``self.blocks``; frozen blocks stay in eval mode.

    Subclasses set ``self.blocks`` (``nn.Sequential``) and ``self.out_features``.
    ``n_frozen`` is maintained by :func:`freeze_blocks`.
    """

    blocks: nn.Sequential
    out_features: int
    #: number of leading blocks kept frozen (see :func:`freeze_blocks`)
    n_frozen: int = 0
    #: ``{"blocks": k, "grid": g}`` when the output is block ``k``'s pooled map, ``{"blocks":
    #: [k1, k2, ...], "grid": g}`` when it is those blocks' pooled maps concatenated (see
    #: :meth:`set_map_readout`), else ``None``
    map_readout: dict | None = None
    #: (channels, spatial sizes) of each conv block's output; set by the conv encoders
    block_shapes: Sequence[tuple[int, tuple[int, ...]]] = ()
    #: expected ``x.dim()`` including the batch dimension; ``None`` accepts any
    _input_ndim: int | None = None

    def set_map_readout(self, blocks: int | Sequence[int], grid: int = 2) -> Encoder:
        """Make the output the map of the first ``blocks`` conv blocks, average-pooled to at
        most ``grid`` positions per side and flattened (the later blocks and the head are
        dropped, the kept blocks keep their weights). ``out_features`` becomes
        ``channels * prod(min(side, grid))``: 256 for block 2 of the default encoder on an
        8x8 digit (64 channels on 2x2).

        ``blocks`` a list of increasing block numbers (``[1, 2]``; a one-element list is the
        same as its number): a hypercolumn read-out, the map of each listed block pooled as above
        and flattened, concatenated in the list's order; the conv blocks up to the last one
        listed are kept and ``out_features`` is the sum of the parts (512 + 256 for blocks 1
        and 2 of a digit with ``grid=4``). ``self.blocks`` stays a Sequential of the kept conv
        blocks and the read-out (each kept block passes its map and the tapped maps on), so the
        state dict's keys and :func:`freeze_blocks` are those of the single-block read-out of
        the last listed block, and a frozen prefix of the blocks runs alone. Returns ``self``."""
        if self.map_readout is not None:
            raise ValueError("the encoder already reads a block's map")
        if isinstance(blocks, list | tuple):
            blocks = [int(b) for b in blocks]
            if len(blocks) == 1:
                blocks = blocks[0]
            else:
                return self._set_hypercolumn(blocks, grid)
        if not self.block_shapes or not 1 <= blocks <= len(self.block_shapes) or grid < 1:
            raise ValueError(
                f"map read-out needs 1 <= blocks <= {len(self.block_shapes)} conv blocks and grid >= 1, "
                f"got {blocks}, {grid}"
            )
        pool, self.out_features = self._map_pool(blocks, grid)
        self.blocks = nn.Sequential(*list(self.blocks)[:blocks], nn.Sequential(pool, nn.Flatten()))
        self.map_readout = {"blocks": int(blocks), "grid": int(grid)}
        return self

    def _map_pool(self, block: int, grid: int) -> tuple[nn.Module, int]:
        """The average pool of block ``block``'s map to at most ``grid`` positions per side,
        and the number of features it leaves (channels times pooled positions)."""
        channels, sides = self.block_shapes[block - 1]
        pooled = tuple(min(side, grid) for side in sides)
        pool = nn.AdaptiveAvgPool2d(pooled) if len(sides) == 2 else nn.AdaptiveAvgPool1d(pooled[0])
        return pool, channels * math.prod(pooled)

    def _set_hypercolumn(self, blocks: list[int], grid: int) -> Encoder:
        """:meth:`set_map_readout` for two or more blocks."""
        n = len(self.block_shapes)
        if not blocks or any(b < 1 or b > n for b in blocks) or blocks != sorted(set(blocks)) or grid < 1:
            raise ValueError(
                f"a hypercolumn read-out needs increasing blocks in 1..{n} and grid >= 1, got {blocks}, {grid}"
            )
        pools, sizes = zip(*(self._map_pool(b, grid) for b in blocks), strict=True)
        kept = [_TapBlock(block, number in blocks) for number, block in enumerate(self.blocks[: blocks[-1]], start=1)]
        self.blocks = nn.Sequential(*kept, _PooledConcat(pools))
        self.out_features = sum(sizes)
        self.map_readout = {"blocks": list(blocks), "grid": int(grid)}
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self._input_ndim is not None and x.dim() != self._input_ndim:
            raise ValueError(
                f"{type(self).__name__} expects a batch of {self._input_ndim - 1}-d inputs "
                f"(shape (n, ...) with {self._input_ndim} dims), got shape {tuple(x.shape)}"
            )
        return self.blocks(x)

    def train(self, mode: bool = True) -> Encoder:
        """Set train/eval mode, keeping the first ``n_frozen`` blocks in eval mode.

        Without this, ``model.train()`` at the start of every fine-tuning epoch would put the
        frozen BatchNorm layers back into training mode and their running statistics would
        drift although their weights are frozen.
        """
        super().train(mode)
        for block in list(self.blocks)[: self.n_frozen]:
            block.train(False)
        return self


class _TapBlock(nn.Sequential):
    """A conv block of the hypercolumn read-out (:meth:`Encoder.set_map_readout` with a list):
    takes ``x`` or ``(x, maps)``, returns ``(block(x), maps)`` with ``block(x)`` appended to
    ``maps`` when ``tap``. It holds the conv block's own layers, so the state dict's keys are
    the plain encoder's, and any prefix of the encoder's blocks can run alone (a frozen prefix's
    output feeds the rest unchanged)."""

    def __init__(self, block: nn.Module, tap: bool) -> None:
        super().__init__(*block)
        self.tap = bool(tap)

    def forward(self, state):  # noqa: D102
        x, maps = (state, ()) if isinstance(state, torch.Tensor) else state
        x = super().forward(x)
        return x, (*maps, x) if self.tap else maps


class _PooledConcat(nn.Module):
    """The last entry of a hypercolumn read-out: each tapped map pooled by its own pool,
    flattened, concatenated along the features."""

    def __init__(self, pools: Sequence[nn.Module]) -> None:
        super().__init__()
        self.pools = nn.ModuleList(pools)

    def forward(self, state) -> torch.Tensor:  # noqa: D102
        _, maps = state
        return torch.cat([pool(m).flatten(1) for pool, m in zip(self.pools, maps, strict=True)], dim=1)


def _conv_block2d(c_in: int, c_out: int, pool: bool, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [
        # No conv bias: the following BatchNorm has its own shift.
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    if dropout > 0:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


def _conv_block1d(
    c_in: int, c_out: int, kernel_size: int, pool: bool, dropout: float
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv1d(c_in, c_out, kernel_size=kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm1d(c_out),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool1d(2))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def _head(pool: nn.Module, c_in: int, out_features: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [pool, nn.Flatten()]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    # ReLU on the features: they are read by linear probes and projection heads, and a
    # non-negative code matches what a pooled ResNet/CNN trunk gives.
    layers += [nn.Linear(c_in, out_features), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def _check_dropout(dropout: float) -> None:
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


class ConvEncoder2d(Encoder):
    """Conv-BN-ReLU stack for images, from 8x8 digits up to 28x28 MNIST and beyond.

    Block ``i`` has ``width * 2**i`` channels and a 2x2 max-pool while the spatial size
    allows it (the pooled map keeps at least 2x2 positions); a global average pool and a
    linear layer (+ReLU) map to ``out_features``. The global pool makes the encoder accept any
    input size; ``input_size`` only decides where to pool.

    Parameters
    ----------
    in_channels : int, default 1
    input_size : int or (int, int), default (8, 8)
        ``(H, W)`` the encoder is built for.
    width : int, default 32
        Channels of the first block.
    depth : int, default 3
        Number of conv blocks (``len(blocks) == depth + 1`` with the head).
    out_features : int, default 128
    dropout : float, default 0.0
        Channel dropout after each conv block and dropout before the projection.
    map_readout : {"blocks": k, "grid": g}, optional
        Output block ``k``'s pooled map instead (:meth:`Encoder.set_map_readout`); ``k`` a
        list of blocks: their pooled maps concatenated.
    channels_last : bool, optional
        Keep the conv weights, and so every feature map, in channels-last memory layout
        (NHWC). The function is the same (outputs agree to float rounding); on the CPU, oneDNN's
        NHWC kernels make a training step of the default digits encoder 1.3-1.4x faster
        (max-pooling and BatchNorm most of all; ``benchmarks/conv_memory_format.py``).
        ``None`` (default): the layout of the enclosing :func:`~transfer_lab.methods.runtime.conv_layout`
        block, NCHW outside one. The pipelines turn it on with each family's
        ``runtime.channels_last`` except for pretraining: there the rounding differences
        re-draw a 300-epoch run, and the few-label results depend on the pretraining draw by
        more than their label-seed spread (README, "Run time of the default run").
    """

    _input_ndim = 4

    def __init__(
        self,
        in_channels: int = 1,
        input_size: int | Sequence[int] = (8, 8),
        width: int = 32,
        depth: int = 3,
        out_features: int = 128,
        dropout: float = 0.0,
        map_readout: Mapping[str, Any] | None = None,
        channels_last: bool | None = None,
    ) -> None:
        super().__init__()
        h, w = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        _check_positive(
            in_channels=in_channels, height=h, width_px=w, width=width, depth=depth,
            out_features=out_features,
        )
        _check_dropout(dropout)
        blocks: list[nn.Module] = []
        c_in, self.block_shapes = in_channels, []
        for i in range(depth):
            c_out = width * 2**i
            pool = min(h, w) // 2 >= _MIN_POOLED_SIZE
            blocks.append(_conv_block2d(c_in, c_out, pool, dropout))
            if pool:
                h, w = h // 2, w // 2
            c_in = c_out
            self.block_shapes.append((c_out, (h, w)))
        blocks.append(_head(nn.AdaptiveAvgPool2d(1), c_in, out_features, dropout))
        self.blocks = nn.Sequential(*blocks)
        self.out_features = out_features
        self.feature_map_size = (h, w)  # spatial size entering the global pool
        self.channels_last = default_channels_last() if channels_last is None else bool(channels_last)
        if self.channels_last:
            # Only the 4-d conv weights change layout; a conv whose weight is channels-last
            # hands channels-last maps on, so BatchNorm, ReLU and pooling follow.
            self.to(memory_format=torch.channels_last)
        if map_readout is not None:
            self.set_map_readout(**map_readout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)  # no copy for 1-channel inputs
        return super().forward(x)


class ConvEncoder1d(Encoder):
    """Conv-BN-ReLU stack for 1-d signals such as MNIST-1D (length 40).

    Same layout as :class:`ConvEncoder2d` with 1-d convolutions of width ``kernel_size``:
    40 -> 20 -> 10 -> 5 with the default depth 3.

    Parameters
    ----------
    in_channels : int, default 1
    length : int, default 40
    width : int, default 32
    depth : int, default 3
    out_features : int, default 128
    kernel_size : int, default 5
        Odd, so that padding keeps the length.
    dropout : float, default 0.0
    map_readout : {"blocks": k, "grid": g}, optional
        As in :class:`ConvEncoder2d`.
    """

    _input_ndim = 3

    def __init__(
        self,
        in_channels: int = 1,
        length: int = 40,
        width: int = 32,
        depth: int = 3,
        out_features: int = 128,
        kernel_size: int = 5,
        dropout: float = 0.0,
        map_readout: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        _check_positive(
            in_channels=in_channels, length=length, width=width, depth=depth,
            out_features=out_features, kernel_size=kernel_size,
        )
        if kernel_size % 2 == 0:
            raise ValueError(
                f"kernel_size must be odd so padding keeps the length, got {kernel_size}"
            )
        _check_dropout(dropout)
        blocks: list[nn.Module] = []
        c_in, size, self.block_shapes = in_channels, length, []
        for i in range(depth):
            c_out = width * 2**i
            pool = size // 2 >= _MIN_POOLED_SIZE
            blocks.append(_conv_block1d(c_in, c_out, kernel_size, pool, dropout))
            if pool:
                size //= 2
            c_in = c_out
            self.block_shapes.append((c_out, (size,)))
        blocks.append(_head(nn.AdaptiveAvgPool1d(1), c_in, out_features, dropout))
        self.blocks = nn.Sequential(*blocks)
        self.out_features = out_features
        self.feature_map_size = size
        if map_readout is not None:
            self.set_map_readout(**map_readout)


class MLPEncoder(Encoder):
    """Fully connected encoder; flattens its input, so any shape with ``input_dim`` values works.

    Each block is ``Linear -> ReLU (-> Dropout)``; the last maps to ``out_features``.

    Parameters
    ----------
    input_dim : int
        Number of values per sample after flattening (e.g. 64 for 8x8 digits).
    hidden : sequence of int, default (256, 128)
    out_features : int, default 128
    dropout : float, default 0.0
    """

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (256, 128),
        out_features: int = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        _check_positive(input_dim=input_dim, out_features=out_features)
        for size in hidden:
            _check_positive(hidden=size)
        _check_dropout(dropout)
        sizes = [input_dim, *hidden]
        blocks: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers: list[nn.Module] = [nn.Flatten()] if i == 0 else []
            layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            blocks.append(nn.Sequential(*layers))
        head: list[nn.Module] = [nn.Flatten()] if not hidden else []
        head += [nn.Linear(sizes[-1], out_features), nn.ReLU(inplace=True)]
        blocks.append(nn.Sequential(*head))
        self.blocks = nn.Sequential(*blocks)
        self.input_dim = input_dim
        self.out_features = out_features


class Classifier(nn.Module):
    """An encoder followed by a linear head that returns logits.

    Parameters
    ----------
    encoder : nn.Module
        Anything with an ``out_features`` attribute.
    n_classes : int
    """

    def __init__(self, encoder: nn.Module, n_classes: int) -> None:
        super().__init__()
        out_features = getattr(encoder, "out_features", None)
        if not isinstance(out_features, int):
            raise ValueError(f"encoder {type(encoder).__name__} has no integer 'out_features'")
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        self.encoder = encoder
        self.head = nn.Linear(out_features, n_classes)
        self.n_classes = n_classes

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the encoder's feature vectors, shape ``(n, encoder.out_features)``."""
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits of shape ``(n, n_classes)``."""
        return self.head(self.encoder(x))


def with_map_readout(encoder: nn.Module, blocks: int | Sequence[int], grid: int = 2) -> nn.Module:
    """``encoder`` reading block ``blocks``' pooled map, or the concatenated pooled maps of a
    list of blocks (:meth:`Encoder.set_map_readout`); ``blocks == 0``: ``encoder`` unchanged
    (its own head)."""
    if not isinstance(blocks, list | tuple) and blocks == 0:
        return encoder
    if not isinstance(encoder, Encoder):
        raise ValueError(f"{type(encoder).__name__} cannot read a block's map")
    return encoder.set_map_readout(blocks, grid)


def build_encoder(kind: str, input_shape: Sequence[int], **kwargs) -> nn.Module:
    """Build an encoder for inputs of ``input_shape`` (without the batch dimension).

    Parameters
    ----------
    kind : {"cnn2d", "cnn1d", "mlp", "auto"}
        ``"auto"`` picks ``cnn2d`` for ``(C, H, W)``, ``cnn1d`` for ``(C, L)`` and ``mlp`` for
        flat ``(D,)`` inputs.
    input_shape : tuple of int
        E.g. ``(1, 8, 8)`` for digits, ``(1, 28, 28)`` for MNIST, ``(1, 40)`` for MNIST-1D.
    **kwargs
        Passed to the encoder's constructor (``width``, ``depth``, ``out_features``, ...).

    Returns
    -------
    nn.Module
        A :class:`ConvEncoder2d`, :class:`ConvEncoder1d` or :class:`MLPEncoder`.
    """
    shape = tuple(int(s) for s in input_shape)
    if kind not in ENCODER_KINDS:
        raise ValueError(f"unknown encoder kind {kind!r}; allowed: {', '.join(ENCODER_KINDS)}")
    if kind == "auto":
        by_ndim = {3: "cnn2d", 2: "cnn1d", 1: "mlp"}
        if len(shape) not in by_ndim:
            raise ValueError(
                f"cannot pick an encoder for input_shape {shape}; "
                "expected (C, H, W), (C, L) or (D,)"
            )
        kind = by_ndim[len(shape)]
    if kind == "cnn2d":
        if len(shape) != 3:
            raise ValueError(f"cnn2d needs input_shape (C, H, W), got {shape}")
        return ConvEncoder2d(in_channels=shape[0], input_size=shape[1:], **kwargs)
    if kind == "cnn1d":
        if len(shape) != 2:
            raise ValueError(f"cnn1d needs input_shape (C, L), got {shape}")
        return ConvEncoder1d(in_channels=shape[0], length=shape[1], **kwargs)
    return MLPEncoder(input_dim=math.prod(shape), **kwargs)


def encoder_for(X: Any, encoder: nn.Module | None, encoder_kwargs: Mapping[str, Any] | None) -> nn.Module:
    """The encoder a pretraining method trains: ``encoder`` itself, or a fresh ``"auto"``
    encoder for the samples' shape built with ``encoder_kwargs`` (not both)."""
    if len(X) == 0:
        raise ValueError("X is empty; pretraining needs samples")
    if encoder is None:
        return build_encoder("auto", tuple(X.shape[1:]), **dict(encoder_kwargs or {}))
    if encoder_kwargs:
        raise ValueError("pass encoder or encoder_kwargs, not both")
    return encoder


def encoder_settings(settings: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(kind, kwargs)`` for :func:`build_encoder` and :func:`encoder_checkpoint` from a
    parameters block ``{kind, width, depth, out_features}`` (absent keys: the encoders'
    defaults). The MLP has no ``width``/``depth``, so only ``out_features`` reaches it.

    >>> encoder_settings({"kind": "mlp", "width": 8, "depth": 2, "out_features": 16})
    ('mlp', {'out_features': 16})
    """
    kind = settings.get("kind", "auto")
    names = ("out_features",) if kind == "mlp" else ("width", "depth", "out_features")
    return kind, {name: settings[name] for name in names if name in settings}


def freeze_blocks(encoder: nn.Module, k: int) -> nn.Module:
    """Freeze exactly the first ``k`` entries of ``encoder.blocks`` and unfreeze the rest.

    Frozen blocks get ``requires_grad = False`` and are put in eval mode, so their BatchNorm
    layers normalise with the stored running statistics and stop updating them. For
    :class:`Encoder` subclasses the eval mode survives later ``.train()`` calls (see
    :meth:`Encoder.train`); for other modules with ``blocks`` it holds until the next
    ``.train()``. Calling again with a smaller ``k`` unfreezes (gradual unfreezing).

    Parameters
    ----------
    encoder : nn.Module
        A module with a ``blocks`` Sequential/ModuleList.
    k : int
        ``0 <= k <= len(encoder.blocks)``; ``len(blocks)`` freezes the whole encoder.

    Returns
    -------
    nn.Module
        The same encoder, modified in place.
    """
    blocks = getattr(encoder, "blocks", None)
    if not isinstance(blocks, nn.Sequential | nn.ModuleList):
        raise ValueError(
            f"{type(encoder).__name__} has no 'blocks' Sequential/ModuleList to freeze"
        )
    if not 0 <= k <= len(blocks):
        raise ValueError(f"k must be in [0, {len(blocks)}] for this encoder, got {k}")
    for i, block in enumerate(blocks):
        frozen = i < k
        for p in block.parameters():
            p.requires_grad_(not frozen)
        # Frozen: eval mode (fixed BN statistics). Unfrozen: follow the encoder's mode.
        block.train(False if frozen else encoder.training)
    if isinstance(encoder, Encoder):
        encoder.n_frozen = k
    return encoder


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter values in ``module`` (only ``requires_grad`` ones if asked)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def encoder_checkpoint(
    encoder: nn.Module, kind: str, input_shape: Sequence[int], encoder_kwargs: dict | None = None, **meta
) -> dict:
    """A portable checkpoint: how to rebuild the encoder, its weights, and free metadata.

    The result holds only strings, numbers, lists, dicts and CPU tensors, so it round-trips
    through ``torch.save`` / ``torch.load(..., weights_only=True)``. ``meta`` is for
    things such as the pretraining method, its loss history or the data it saw. An encoder
    that reads a block's map (:meth:`Encoder.set_map_readout`) records it in ``kwargs``.
    """
    kwargs = dict(encoder_kwargs or {})
    if getattr(encoder, "map_readout", None) is not None:
        kwargs["map_readout"] = dict(encoder.map_readout)
    return {
        "encoder": {
            "kind": kind,
            "input_shape": [int(s) for s in input_shape],
            "kwargs": kwargs,
        },
        "state_dict": {k: v.detach().cpu() for k, v in encoder.state_dict().items()},
        "meta": dict(meta),
    }


def encoder_from_checkpoint(checkpoint: dict, device: torch.device | str = "cpu") -> nn.Module:
    """Rebuild the encoder of :func:`encoder_checkpoint` and load its weights (strictly)."""
    try:
        spec = checkpoint["encoder"]
        state = checkpoint["state_dict"]
    except (KeyError, TypeError):
        raise ValueError("not an encoder checkpoint: expected keys 'encoder' and 'state_dict'") from None
    encoder = build_encoder(spec["kind"], spec["input_shape"], **spec.get("kwargs", {}))
    encoder.load_state_dict(state)
    return encoder.to(device)
