"""Named, declarative, composable domain shifts for image and signal batches.

A *shift* is a list of *steps*; a step is a dict ``{"op": name, **kwargs}``, so shifts
can live in ``parameters.yml``::

    rotated: [{op: rotate, degrees: 30}]
    noisy_lowres: [{op: downsample, factor: 2}, {op: noise, std: 0.1}]

Steps apply in list order. Images are ``(n, 1, H, W)`` float arrays in [0, 1] and stay
in [0, 1]; signals are ``(n, 1, L)`` standardised arrays (no range). Which of the two a
batch is follows from its number of dimensions.

Ops (image / signal support):

========== ===== ====== ==========================================================
op         image signal kwargs
========== ===== ====== ==========================================================
identity   yes   yes    —
invert     yes   yes    — (images ``1 - x``; signals ``-x``)
rotate     yes   no     ``degrees`` (counter-clockwise as displayed, like np.rot90)
blur       yes   yes    ``sigma`` (gaussian, in pixels / samples)
noise      yes   yes    ``std`` (additive gaussian; images clipped to [0, 1])
scale      yes   yes    ``factor`` (multiply; images clipped to [0, 1])
downsample yes   yes    ``factor`` (int; area average, shape shrinks by ``factor``)
upsample   yes   yes    ``factor`` (int), ``mode`` (images: bilinear, bicubic, nearest;
                        signals: linear, nearest)
thicken    yes   no     ``size`` (int; grey dilation with a size x size square)
========== ===== ====== ==========================================================

Randomness (only ``noise`` uses it) comes from ``apply_shift``'s ``seed``: step ``i``
draws from ``numpy.random.default_rng([seed, i])``, so one step's draws do not depend
on the other steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = ["SHIFT_OPS", "OP_KINDS", "validate_shift", "apply_shift", "is_identity"]

_REQUIRED = object()


@dataclass(frozen=True)
class _Param:
    default: Any
    check: Callable[[Any], bool]
    allowed: str


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


_NUMBER = _Param(_REQUIRED, lambda v: _is_number(v) and math.isfinite(v), "a finite number")
_NON_NEG = _Param(
    _REQUIRED, lambda v: _is_number(v) and math.isfinite(v) and v >= 0, "a number >= 0"
)
_POS_INT = _Param(_REQUIRED, lambda v: _is_int(v) and v >= 1, "an integer >= 1")

# Per op: its kwargs and the kinds of batch it makes sense for.
_PARAMS: dict[str, dict[str, _Param]] = {
    "identity": {},
    "invert": {},
    "rotate": {"degrees": _NUMBER},
    "blur": {"sigma": _NON_NEG},
    "noise": {"std": _NON_NEG},
    "scale": {"factor": _NUMBER},
    "downsample": {"factor": _POS_INT},
    "upsample": {
        "factor": _POS_INT,
        "mode": _Param(
            None,
            lambda v: v is None or v in ("bilinear", "bicubic", "nearest", "linear"),
            "one of bilinear, bicubic, nearest (images), linear, nearest (signals)",
        ),
    },
    "thicken": {"size": _POS_INT},
}
#: Which batch kinds each op accepts.
OP_KINDS: dict[str, frozenset[str]] = {
    name: frozenset({"image"} if name in ("rotate", "thicken") else {"image", "signal"})
    for name in _PARAMS
}


def _kind_of(X: np.ndarray) -> str:
    if X.ndim == 4 and X.shape[1] == 1:
        return "image"
    if X.ndim == 3 and X.shape[1] == 1:
        return "signal"
    raise ValueError(
        f"X shape {X.shape} is not allowed; expected images (n, 1, H, W) or signals (n, 1, L)"
    )


def _spatial_axes(X: np.ndarray) -> tuple[int, ...]:
    return tuple(range(2, X.ndim))


def _clip_image(X: np.ndarray, kind: str) -> np.ndarray:
    return np.clip(X, 0.0, 1.0) if kind == "image" else X


# ---- the ops: (X, *, kind, rng, **kwargs) -> X --------------------------------------


def _identity(X: np.ndarray, *, kind: str, rng: np.random.Generator) -> np.ndarray:
    return X.copy()


def _invert(X: np.ndarray, *, kind: str, rng: np.random.Generator) -> np.ndarray:
    # Images live in [0, 1], so 1 - x swaps ink and background; signals are centred,
    # so negation is their analogue.
    return 1.0 - X if kind == "image" else -X


def _rotate(
    X: np.ndarray, *, kind: str, rng: np.random.Generator, degrees: float
) -> np.ndarray:
    # order=1 (bilinear) cannot overshoot, so the result stays in [0, 1]; corners that
    # rotate in from outside are background (0).
    out = ndimage.rotate(
        X, float(degrees), axes=(2, 3), reshape=False, order=1, mode="constant", cval=0.0
    )
    return np.clip(out, 0.0, 1.0)


def _blur(X: np.ndarray, *, kind: str, rng: np.random.Generator, sigma: float) -> np.ndarray:
    if sigma == 0:
        return X.copy()
    sigmas = (0.0, 0.0) + (float(sigma),) * (X.ndim - 2)
    return ndimage.gaussian_filter(X, sigma=sigmas, mode="constant", cval=0.0)


def _noise(X: np.ndarray, *, kind: str, rng: np.random.Generator, std: float) -> np.ndarray:
    out = X + np.float32(std) * rng.standard_normal(X.shape, dtype=np.float32)
    return _clip_image(out, kind)


def _scale(X: np.ndarray, *, kind: str, rng: np.random.Generator, factor: float) -> np.ndarray:
    return _clip_image(X * np.float32(factor), kind)


def _downsample(
    X: np.ndarray, *, kind: str, rng: np.random.Generator, factor: int
) -> np.ndarray:
    f = int(factor)
    spatial = X.shape[2:]
    if any(s % f for s in spatial):
        raise ValueError(
            f"downsample factor={f} does not divide the spatial shape {spatial}; "
            "allowed: a common divisor of the sides"
        )
    # Area average = mean over non-overlapping f x f blocks, so the mean intensity of
    # every image is preserved exactly.
    shape = X.shape[:2] + sum(((s // f, f) for s in spatial), ())
    return X.reshape(shape).mean(axis=tuple(range(3, 2 + 2 * len(spatial), 2)))


def _upsample(
    X: np.ndarray, *, kind: str, rng: np.random.Generator, factor: int, mode: str | None
) -> np.ndarray:
    allowed = ("bilinear", "bicubic", "nearest") if kind == "image" else ("linear", "nearest")
    mode = mode or allowed[0]
    if mode not in allowed:
        raise ValueError(
            f"upsample mode={mode!r} is not allowed for {kind}s; allowed: {', '.join(allowed)}"
        )
    if factor == 1:
        return X.copy()
    # torch only here: its import costs seconds that shifts without upsample should not pay.
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    kwargs = {} if mode == "nearest" else {"align_corners": False}
    out = F.interpolate(t, scale_factor=int(factor), mode=mode, **kwargs).numpy()
    # Bicubic overshoots at edges; clip to keep images in range.
    return _clip_image(out, kind)


def _thicken(X: np.ndarray, *, kind: str, rng: np.random.Generator, size: int) -> np.ndarray:
    # Grey dilation = a running max: each ink pixel spreads to its size x size window,
    # which thickens strokes without changing the image size. Odd sizes are centred; an
    # even size also moves strokes by half a pixel (scipy puts the window's origin there).
    return ndimage.grey_dilation(X, size=(1, 1, int(size), int(size)), mode="constant", cval=0.0)


#: Registry: op name -> function ``(X, *, kind, rng, **kwargs) -> X``.
SHIFT_OPS: dict[str, Callable[..., np.ndarray]] = {
    "identity": _identity,
    "invert": _invert,
    "rotate": _rotate,
    "blur": _blur,
    "noise": _noise,
    "scale": _scale,
    "downsample": _downsample,
    "upsample": _upsample,
    "thicken": _thicken,
}


def validate_shift(
    steps: Sequence[Mapping[str, Any]] | None, key: str = "shift", kind: str | None = None
) -> list[dict[str, Any]]:
    """Check a shift's steps and return them with defaults filled in.

    Parameters
    ----------
    steps : list of dict or None
        ``[{"op": name, **kwargs}, ...]``; ``None`` or ``[]`` is the identity.
    key : str, default "shift"
        Where the steps came from (e.g. ``"params:shifts.rotated"``), used in messages.
    kind : {"image", "signal"}, optional
        If given, also check that every op supports this kind of batch.

    Returns
    -------
    list of dict
        New step dicts, each with all of its op's kwargs.

    Raises
    ------
    ValueError
        One line naming the key path (``key[i].field``), the bad value and what is allowed.
    """
    if steps is None:
        return []
    if isinstance(steps, (str, bytes, Mapping)) or not isinstance(steps, Sequence):
        raise ValueError(
            f"{key}={steps!r} is not allowed; expected a list of steps like "
            "[{'op': 'rotate', 'degrees': 30}]"
        )
    if kind is not None and kind not in ("image", "signal"):
        raise ValueError(f"kind={kind!r} is not allowed; allowed: image, signal")
    allowed_ops = ", ".join(sorted(SHIFT_OPS))
    normalised = []
    for i, step in enumerate(steps):
        where = f"{key}[{i}]"
        if not isinstance(step, Mapping):
            raise ValueError(f"{where}={step!r} is not allowed; expected a dict with an 'op' key")
        op = step.get("op")
        if op not in SHIFT_OPS:
            raise ValueError(f"{where}.op={op!r} is not a known op; allowed: {allowed_ops}")
        if kind is not None and kind not in OP_KINDS[op]:
            ok = ", ".join(sorted(n for n, k in OP_KINDS.items() if kind in k))
            raise ValueError(f"{where}.op={op!r} does not apply to {kind}s; allowed: {ok}")
        params = _PARAMS[op]
        extra = sorted(set(step) - {"op"} - set(params))
        if extra:
            names = ", ".join(params) or "none"
            raise ValueError(
                f"{where}: unknown argument(s) {extra} for op {op!r}; allowed: {names}"
            )
        clean: dict[str, Any] = {"op": op}
        for name, spec in params.items():
            if name not in step:
                if spec.default is _REQUIRED:
                    raise ValueError(f"{where}.{name} is missing; op {op!r} needs {spec.allowed}")
                clean[name] = spec.default
                continue
            value = step[name]
            if not spec.check(value):
                raise ValueError(
                    f"{where}.{name}={value!r} is not allowed; expected {spec.allowed}"
                )
            clean[name] = value
        normalised.append(clean)
    return normalised


def is_identity(steps: Sequence[Mapping[str, Any]] | None) -> bool:
    """Whether a (valid) shift leaves every batch unchanged (no steps, or only ``identity``)."""
    return all(step.get("op") == "identity" for step in (steps or []))


def apply_shift(
    X: np.ndarray, steps: Sequence[Mapping[str, Any]] | None, seed: int = 0
) -> np.ndarray:
    """Apply a shift's steps, in order, to a batch of images or signals.

    Parameters
    ----------
    X : numpy.ndarray
        Images ``(n, 1, H, W)`` in [0, 1] or signals ``(n, 1, L)``.
    steps : list of dict or None
        The shift (see the module docstring); ``None`` or ``[]`` copies ``X``.
    seed : int, default 0
        Seed for the random ops; the same seed gives the same result.

    Returns
    -------
    numpy.ndarray of float32
        A new array; its spatial shape differs from ``X``'s after ``downsample`` or
        ``upsample``.

    Raises
    ------
    ValueError
        For invalid steps, an op that does not apply to this kind of batch, or a
        ``downsample`` factor that does not divide the sides.
    """
    X = np.asarray(X)
    kind = _kind_of(X)
    clean = validate_shift(steps, kind=kind)
    out = np.array(X, dtype=np.float32, copy=True)
    for i, step in enumerate(clean):
        kwargs = {k: v for k, v in step.items() if k != "op"}
        rng = np.random.default_rng([int(seed), i])
        out = SHIFT_OPS[step["op"]](out, kind=kind, rng=rng, **kwargs)
        out = np.asarray(out, dtype=np.float32)
    return out
