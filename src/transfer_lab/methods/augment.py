"""Random augmentations that run batched on tensors on the device.

An :class:`Augmenter` is built from a declarative list of steps, so it can live in
``parameters.yml``::

    [{op: resized_crop, scale: [0.6, 1.0]}, {op: rotate, degrees: 15}, {op: noise, std: 0.05}]

Every step draws its own random parameters *per sample* (one angle, one crop, one sigma per
row) with a few tensor calls for the whole batch, so augmenting a batch costs a handful of
kernel launches instead of a Python loop over samples. Consecutive geometric image steps
(``resized_crop``, ``rotate``, ``translate``) are composed into one affine matrix per sample
and resampled once with :func:`torch.nn.functional.grid_sample`: an 8x8 digit survives one
bilinear resampling, not three in a row.

Ops (image ``(n, C, H, W)`` in [0, 1] / signal ``(n, C, L)``, standardised):

============ ===== ====== ===================================================================
op           image signal kwargs (besides ``p``, the probability that a sample gets the op)
============ ===== ====== ===================================================================
resized_crop yes   no     ``scale`` [lo, hi] area fraction, ``ratio`` [lo, hi] aspect ratio
rotate       yes   no     ``degrees``: d (uniform in [-d, d]) or [lo, hi]
translate    yes   no     ``fraction``: largest shift as a fraction of the side, per axis
blur         yes   no     ``sigma`` [lo, hi] in pixels, ``kernel_size`` (odd)
noise        yes   yes    ``std`` (additive gaussian; images clipped to [0, 1])
cutout       yes   no     ``size`` [lo, hi] side of the erased square as a fraction of the side,
                          ``value`` (fill)
shift        no    yes    ``fraction``: largest time shift as a fraction of the length
                          (whole samples, zero filled)
scale        no    yes    ``factor`` [lo, hi] amplitude factor
mask         no    yes    ``size`` [lo, hi] masked segment as a fraction of the length, ``value``
============ ===== ====== ===================================================================

``Augmenter.per_sample`` applies the very same ops one sample at a time in a Python loop: the
way a ``Dataset.__getitem__`` transform augments, kept as the reference and the benchmark's
baseline (``benchmarks/pretraining.py``).

Randomness comes from torch's global generator (seeded by :func:`~transfer_lab.methods.
training.fit` through ``TrainConfig.seed``) or from an explicit ``generator`` on the data's
device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "AUGMENT_OPS",
    "DATA_KINDS",
    "Augmenter",
    "default_augmentations",
    "data_kind",
    "build_augmenter",
    "random_region_mask",
]

DATA_KINDS = ("image", "signal")
Params = dict[str, torch.Tensor]


def data_kind(x: torch.Tensor | Any) -> str:
    """``"image"`` for ``(n, C, H, W)`` batches, ``"signal"`` for ``(n, C, L)``."""
    ndim = len(x.shape)
    if ndim == 4:
        return "image"
    if ndim == 3:
        return "signal"
    raise ValueError(f"cannot augment shape {tuple(x.shape)}; expected (n, C, H, W) or (n, C, L)")


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _range(name: str, value: Any, lo: float | None = None, hi: float | None = None) -> tuple:
    """``value`` as a checked ``(low, high)`` pair; one number ``v`` means ``(v, v)``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, Sequence)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"{name}={value!r} is not allowed; expected [low, high]")
    a, b = float(value[0]), float(value[1])
    if not (math.isfinite(a) and math.isfinite(b)) or a > b:
        raise ValueError(f"{name}={value!r} is not allowed; expected finite low <= high")
    if (lo is not None and a < lo) or (hi is not None and b > hi):
        raise ValueError(f"{name}={value!r} is not allowed; expected values in [{lo}, {hi}]")
    return a, b


def _symmetric(name: str, value: Any, lo: float | None = None, hi: float | None = None) -> tuple:
    """One number ``v`` means [-v, v]; a pair is taken as is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name}={value!r} is not allowed; expected a number >= 0")
        value = (-value, value)
    return _range(name, value, lo, hi)


def _number(name: str, value: Any, lo: float = -math.inf, hi: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ValueError(f"{name}={value!r} is not allowed; expected a number in [{lo}, {hi}]")
    return float(value)


# --------------------------------------------------------------------------------------------
# Ops
# --------------------------------------------------------------------------------------------


def _uniform(n: int, lo: float, hi: float, x: torch.Tensor, generator) -> torch.Tensor:
    u = torch.rand(n, device=x.device, generator=generator, dtype=x.dtype)
    return lo + (hi - lo) * u


class _Op:
    """One random op: ``sample`` draws per-sample parameters, ``apply`` uses them.

    Splitting the draw from the application lets the batched and the per-sample paths apply
    identical parameters (the tests compare them).
    """

    name = ""
    kinds: tuple[str, ...] = DATA_KINDS
    affine = False  # geometric image op expressed as a (n, 3, 3) matrix

    def __init__(self, kind: str, p: float = 1.0) -> None:
        self.kind = kind
        self.p = _number(f"{self.name}.p", p, 0.0, 1.0)

    def sample(self, x: torch.Tensor, generator=None) -> Params:
        n = x.shape[0]
        params = self._sample(x, n, generator)
        # Draw the gate even when p == 1 so that every op consumes the same random stream.
        params["apply"] = torch.rand(n, device=x.device, generator=generator) < self.p
        return params

    def _sample(self, x: torch.Tensor, n: int, generator) -> Params:
        raise NotImplementedError

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        out = self._apply(x, params)
        gate = params["apply"].view(-1, *([1] * (x.dim() - 1)))
        return torch.where(gate, out, x)

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "kind")
        return f"{self.name}({fields})"


class _AffineOp(_Op):
    """Geometric image op: its ``matrix`` maps output to input normalised coordinates."""

    kinds = ("image",)
    affine = True

    def matrix(self, params: Params, h: int, w: int) -> torch.Tensor:
        """``(n, 3, 3)`` homogeneous matrices; identity where the gate is off."""
        m = self._matrix(params, h, w)
        eye = torch.eye(3, device=m.device, dtype=m.dtype).expand_as(m)
        return torch.where(params["apply"].view(-1, 1, 1), m, eye)

    def _matrix(self, params: Params, h: int, w: int) -> torch.Tensor:
        raise NotImplementedError

    def _apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        return _warp(x, self._matrix(params, x.shape[-2], x.shape[-1]))


def _warp(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Resample ``x`` at ``matrix @ (u, v, 1)`` (bilinear, zeros outside)."""
    grid = F.affine_grid(matrix[:, :2, :], list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _affine_rows(a, b, c, d, e, f) -> torch.Tensor:
    """Stack per-sample entries into ``(n, 3, 3)`` matrices [[a, b, c], [d, e, f], [0, 0, 1]]."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([a, b, c, d, e, f, zero, zero, one], dim=1).view(-1, 3, 3)


class ResizedCrop(_AffineOp):
    """Random resized crop (Szegedy et al. 2015, SimCLR's main augmentation).

    A crop covering ``scale`` of the area with aspect ratio ``ratio`` (log-uniform) is placed
    uniformly inside the image and resized back to the full size.
    """

    name = "resized_crop"

    def __init__(self, kind, scale=(0.6, 1.0), ratio=(3 / 4, 4 / 3), p=1.0) -> None:
        super().__init__(kind, p)
        self.scale = _range("resized_crop.scale", scale, 1e-3, 1.0)
        self.ratio = _range("resized_crop.ratio", ratio, 1e-2, 1e2)

    def _sample(self, x, n, generator):
        area = _uniform(n, *self.scale, x, generator)
        log_r = _uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), x, generator)
        r = torch.exp(log_r)
        # Side fractions of the crop, clipped to the image (torchvision retries instead).
        sw = torch.sqrt(area * r).clamp(max=1.0)
        sh = torch.sqrt(area / r).clamp(max=1.0)
        # Centre anywhere that keeps the crop inside: |c| <= 1 - s in normalised units.
        cx = (1 - sw) * (2 * torch.rand(n, device=x.device, generator=generator) - 1)
        cy = (1 - sh) * (2 * torch.rand(n, device=x.device, generator=generator) - 1)
        return {"sw": sw, "sh": sh, "cx": cx, "cy": cy}

    def _matrix(self, params, h, w):
        z = torch.zeros_like(params["sw"])
        return _affine_rows(params["sw"], z, params["cx"], z, params["sh"], params["cy"])


class Rotate(_AffineOp):
    """Random rotation about the centre by an angle uniform in ``degrees``; zeros fill."""

    name = "rotate"

    def __init__(self, kind, degrees=15.0, p=1.0) -> None:
        super().__init__(kind, p)
        self.degrees = _symmetric("rotate.degrees", degrees, -360.0, 360.0)

    def _sample(self, x, n, generator):
        return {"angle": _uniform(n, *self.degrees, x, generator) * (math.pi / 180.0)}

    def _matrix(self, params, h, w):
        c, s = torch.cos(params["angle"]), torch.sin(params["angle"])
        # A rotation in pixel units seen in normalised units (x spans w/2 px, y spans h/2 px).
        zero = torch.zeros_like(c)
        return _affine_rows(c, -s * (h / w), zero, s * (w / h), c, zero)


class Translate(_AffineOp):
    """Random translation by up to ``fraction`` of the width/height per axis; zeros fill."""

    name = "translate"

    def __init__(self, kind, fraction=0.1, p=1.0) -> None:
        super().__init__(kind, p)
        self.fraction = _number("translate.fraction", fraction, 0.0, 1.0)

    def _sample(self, x, n, generator):
        t = self.fraction
        return {"tx": _uniform(n, -t, t, x, generator), "ty": _uniform(n, -t, t, x, generator)}

    def _matrix(self, params, h, w):
        one, zero = torch.ones_like(params["tx"]), torch.zeros_like(params["tx"])
        # Normalised coordinates span 2 units per side; sampling at u - t moves content by +t.
        return _affine_rows(one, zero, -2 * params["tx"], zero, one, -2 * params["ty"])


class GaussianBlur(_Op):
    """Gaussian blur with a per-sample ``sigma`` (uniform in the range), reflect border."""

    name = "blur"
    kinds = ("image",)

    def __init__(self, kind, sigma=(0.1, 1.0), kernel_size=3, p=1.0) -> None:
        super().__init__(kind, p)
        self.sigma = _range("blur.sigma", sigma, 1e-3, None)
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or (
            kernel_size < 1 or kernel_size % 2 == 0
        ):
            raise ValueError(f"blur.kernel_size={kernel_size!r} is not allowed; expected odd >= 1")
        self.kernel_size = kernel_size

    def _sample(self, x, n, generator):
        return {"sigma": _uniform(n, *self.sigma, x, generator)}

    def _apply(self, x, params):
        n, c, h, w = x.shape
        k = self.kernel_size
        r = k // 2
        offsets = torch.arange(-r, r + 1, device=x.device, dtype=x.dtype)
        kernel = torch.exp(-0.5 * (offsets / params["sigma"][:, None]) ** 2)
        kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (n, k)
        kernel = kernel.repeat_interleave(c, dim=0)  # one kernel per (sample, channel)
        # Samples become channels of one grouped convolution: separable, one launch per axis.
        y = x.reshape(1, n * c, h, w)
        mode = "reflect" if min(h, w) > r else "replicate"  # reflect needs pad < size
        y = F.pad(y, (r, r, r, r), mode=mode)
        y = F.conv2d(y, kernel.view(n * c, 1, 1, k), groups=n * c)
        y = F.conv2d(y, kernel.view(n * c, 1, k, 1), groups=n * c)
        return y.view(n, c, h, w)


class Noise(_Op):
    """Additive gaussian noise of standard deviation ``std``; images are clipped to [0, 1]."""

    name = "noise"

    def __init__(self, kind, std=0.05, p=1.0) -> None:
        super().__init__(kind, p)
        self.std = _number("noise.std", std, 0.0)

    def _sample(self, x, n, generator):
        return {"noise": torch.randn(x.shape, device=x.device, generator=generator, dtype=x.dtype)}

    def _apply(self, x, params):
        out = x + self.std * params["noise"]
        return out.clamp(0.0, 1.0) if self.kind == "image" else out


def _segments(
    fraction: torch.Tensor, length: int, x: torch.Tensor, generator, inside: bool = False
) -> Params:
    """Per-sample segments [start, stop) of ``fraction`` x ``length`` samples, placed uniformly.

    By default the centre is uniform over the signal, so a segment may stick out by up to
    half its length (cutout's convention, DeVries & Taylor 2017) and borders get masked as
    often as the middle; ``inside=True`` keeps the whole segment inside.
    """
    n = fraction.shape[0]
    seg = torch.round(fraction * length).clamp(max=length)
    u = torch.rand(n, device=x.device, generator=generator, dtype=x.dtype)
    if inside:
        start = torch.floor(u * (length - seg + 1))
    else:
        start = torch.floor(u * length) - torch.floor(seg / 2)
    return {"start": start, "stop": start + seg}


def _inside(params: Params, prefix: str, length: int, like: torch.Tensor) -> torch.Tensor:
    pos = torch.arange(length, device=like.device, dtype=like.dtype)
    return (pos >= params[f"{prefix}start"][:, None]) & (pos < params[f"{prefix}stop"][:, None])


def random_region_mask(
    x: torch.Tensor,
    size: Sequence[float] = (0.25, 0.5),
    inside: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A boolean mask of one random region per sample, broadcastable to ``x``.

    Images get a square of side ``size`` x the side, ``(n, 1, H, W)``; signals a segment of
    ``size`` x the length, ``(n, 1, L)``. With ``inside`` the region lies wholly inside the
    sample (context-encoder style), else it may stick out (cutout style).
    """
    size = _range("size", size, 0.0, 1.0)
    n = x.shape[0]
    frac = _uniform(n, *size, x, generator)
    if data_kind(x) == "image":
        h, w = x.shape[-2:]
        rows = _segments(frac, h, x, generator, inside)
        cols = _segments(frac, w, x, generator, inside)
        pr = {"r_start": rows["start"], "r_stop": rows["stop"]}
        pc = {"c_start": cols["start"], "c_stop": cols["stop"]}
        mask = _inside(pr, "r_", h, x)[:, :, None] & _inside(pc, "c_", w, x)[:, None, :]
        return mask[:, None]
    params = _segments(frac, x.shape[-1], x, generator, inside)
    return _inside(params, "", x.shape[-1], x)[:, None, :]


class Cutout(_Op):
    """Erase a random square (DeVries & Taylor 2017) of side ``size`` x the image side."""

    name = "cutout"
    kinds = ("image",)

    def __init__(self, kind, size=(0.25, 0.5), value=0.0, p=1.0) -> None:
        super().__init__(kind, p)
        self.size = _range("cutout.size", size, 0.0, 1.0)
        self.value = _number("cutout.value", value)

    def _sample(self, x, n, generator):
        h, w = x.shape[-2:]
        # One fraction for both axes: a square on a square image.
        side = _uniform(n, *self.size, x, generator)
        rows, cols = _segments(side, h, x, generator), _segments(side, w, x, generator)
        return {
            "r_start": rows["start"], "r_stop": rows["stop"],
            "c_start": cols["start"], "c_stop": cols["stop"],
        }

    def _apply(self, x, params):
        h, w = x.shape[-2:]
        inside = _inside(params, "r_", h, x)[:, :, None] & _inside(params, "c_", w, x)[:, None, :]
        return x.masked_fill(inside[:, None], self.value)


class Shift(_Op):
    """Shift a signal in time by a whole number of samples, up to ``fraction`` x length."""

    name = "shift"
    kinds = ("signal",)

    def __init__(self, kind, fraction=0.1, p=1.0) -> None:
        super().__init__(kind, p)
        self.fraction = _number("shift.fraction", fraction, 0.0, 1.0)

    def _sample(self, x, n, generator):
        most = math.floor(self.fraction * x.shape[-1])
        return {
            "shift": torch.randint(
                -most, most + 1, (n,), device=x.device, generator=generator
            )
        }

    def _apply(self, x, params):
        length = x.shape[-1]
        src = torch.arange(length, device=x.device)[None, :] - params["shift"][:, None]
        valid = (src >= 0) & (src < length)
        out = torch.gather(x, -1, src.clamp(0, length - 1)[:, None, :].expand_as(x))
        # Zeros enter where the signal moved away: the mean of a standardised signal.
        return out * valid[:, None, :]


class Scale(_Op):
    """Multiply a signal by an amplitude factor uniform in ``factor`` (Um et al. 2017)."""

    name = "scale"
    kinds = ("signal",)

    def __init__(self, kind, factor=(0.8, 1.2), p=1.0) -> None:
        super().__init__(kind, p)
        self.factor = _range("scale.factor", factor)

    def _sample(self, x, n, generator):
        return {"factor": _uniform(n, *self.factor, x, generator)}

    def _apply(self, x, params):
        return x * params["factor"][:, None, None]


class Mask(_Op):
    """Set a random segment of ``size`` x the length to ``value`` (1-d cutout)."""

    name = "mask"
    kinds = ("signal",)

    def __init__(self, kind, size=(0.1, 0.25), value=0.0, p=1.0) -> None:
        super().__init__(kind, p)
        self.size = _range("mask.size", size, 0.0, 1.0)
        self.value = _number("mask.value", value)

    def _sample(self, x, n, generator):
        return _segments(_uniform(n, *self.size, x, generator), x.shape[-1], x, generator)

    def _apply(self, x, params):
        return x.masked_fill(_inside(params, "", x.shape[-1], x)[:, None, :], self.value)


AUGMENT_OPS: dict[str, type[_Op]] = {
    op.name: op
    for op in (ResizedCrop, Rotate, Translate, GaussianBlur, Noise, Cutout, Shift, Scale, Mask)
}


# --------------------------------------------------------------------------------------------
# Composition
# --------------------------------------------------------------------------------------------


def _build_op(step: Mapping[str, Any], kind: str) -> _Op:
    if not isinstance(step, Mapping) or "op" not in step:
        raise ValueError(f"augmentation step {step!r} is not allowed; expected a dict with 'op'")
    name = step["op"]
    if name not in AUGMENT_OPS:
        raise ValueError(f"unknown augmentation op {name!r}; allowed: {', '.join(AUGMENT_OPS)}")
    cls = AUGMENT_OPS[name]
    if kind not in cls.kinds:
        raise ValueError(f"augmentation op {name!r} does not apply to {kind} data")
    kwargs = {k: v for k, v in step.items() if k != "op"}
    try:
        return cls(kind, **kwargs)
    except TypeError:
        raise ValueError(
            f"augmentation op {name!r} got unknown argument(s) in {sorted(kwargs)}"
        ) from None


class Augmenter(nn.Module):
    """Apply a list of random ops to a batch, drawing parameters per sample.

    Parameters
    ----------
    steps : list of dict
        ``[{"op": name, **kwargs}, ...]`` applied in order (see the module docstring for ops
        and kwargs; every op also takes ``p``, the probability a sample gets it).
    kind : {"image", "signal"}, default "image"

    Examples
    --------
    >>> aug = Augmenter([{"op": "resized_crop", "scale": [0.6, 1.0]}, {"op": "rotate",
    ...                  "degrees": 15}], kind="image")
    >>> views = aug(torch.rand(256, 1, 8, 8))  # one fresh draw per sample
    """

    def __init__(self, steps: Sequence[Mapping[str, Any]] = (), kind: str = "image") -> None:
        super().__init__()
        if kind not in DATA_KINDS:
            raise ValueError(f"unknown data kind {kind!r}; allowed: {', '.join(DATA_KINDS)}")
        if isinstance(steps, Mapping) or not isinstance(steps, Sequence):
            raise ValueError(f"steps={steps!r} is not allowed; expected a list of dicts")
        self.kind = kind
        self.steps = [dict(s) for s in steps]
        self.ops = [_build_op(s, kind) for s in self.steps]
        # Runs of consecutive geometric ops are composed into a single warp.
        self._groups: list[list[_Op]] = []
        for op in self.ops:
            if op.affine and self._groups and self._groups[-1][0].affine:
                self._groups[-1].append(op)
            else:
                self._groups.append([op])

    def extra_repr(self) -> str:  # noqa: D102
        return f"kind={self.kind!r}, ops={self.ops}"

    def _check(self, x: torch.Tensor) -> None:
        if data_kind(x) != self.kind:
            raise ValueError(
                f"this Augmenter is for {self.kind} data, got a batch of shape {tuple(x.shape)}"
            )

    def sample(self, x: torch.Tensor, generator: torch.Generator | None = None) -> list[Params]:
        """Draw every op's per-sample parameters for the batch ``x``."""
        self._check(x)
        return [op.sample(x, generator) for op in self.ops]

    def apply(self, x: torch.Tensor, params: Sequence[Params]) -> torch.Tensor:
        """Apply the ops with parameters from :meth:`sample` (batched)."""
        if len(params) != len(self.ops):
            raise ValueError(f"got {len(params)} parameter sets for {len(self.ops)} ops")
        by_op = dict(zip(map(id, self.ops), params, strict=True))
        for group in self._groups:
            if group[0].affine:
                h, w = x.shape[-2:]
                # Ops apply in list order, so the output->input maps compose left to right.
                m = group[0].matrix(by_op[id(group[0])], h, w)
                for op in group[1:]:
                    m = m @ op.matrix(by_op[id(op)], h, w)
                x = _warp(x, m)
            else:
                x = group[0].apply(x, by_op[id(group[0])])
        return x

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a batch; every sample gets its own random draw."""
        if not self.ops:
            self._check(x)
            return x
        return self.apply(x, self.sample(x, generator))

    def apply_per_sample(self, x: torch.Tensor, params: Sequence[Params]) -> torch.Tensor:
        """Reference path: apply :meth:`sample`'s parameters one sample at a time."""
        out = []
        for i in range(x.shape[0]):
            one = [{k: v[i : i + 1] for k, v in p.items()} for p in params]
            out.append(self.apply(x[i : i + 1], one))
        return torch.cat(out)

    def per_sample(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a batch with a Python loop over samples (the per-sample baseline).

        Each sample draws and applies its ops on its own, as a per-sample ``Dataset``
        transform does; same ops and distributions as :meth:`forward`.
        """
        self._check(x)
        return torch.cat([self(x[i : i + 1], generator) for i in range(x.shape[0])])

    def augment_one(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Augment one sample without a batch dimension, ``(C, H, W)`` or ``(C, L)``."""
        return self(x.unsqueeze(0), generator)[0]


def default_augmentations(kind: str, strength: float = 1.0) -> list[dict[str, Any]]:
    """Sane default steps for small images (8x8 to 28x28) or 1-d signals.

    Parameters
    ----------
    kind : {"image", "signal"}
    strength : float, default 1.0
        Scales every magnitude (angles, shifts, noise, crop area lost, erased size); 0 gives
        the identity, 2 is very strong.

    Returns
    -------
    list of dict
        Steps for :class:`Augmenter`.
    """
    s = _number("strength", strength, 0.0, 3.0)
    if kind == "image":
        return [
            {"op": "resized_crop", "scale": [max(0.1, 1 - 0.3 * s), 1.0],
             "ratio": [1 / (1 + 0.25 * s), 1 + 0.25 * s]},
            {"op": "rotate", "degrees": 15.0 * s},
            {"op": "translate", "fraction": 0.1 * s},
            {"op": "blur", "sigma": [0.1, 0.1 + 0.5 * s], "kernel_size": 3, "p": 0.5},
            {"op": "noise", "std": 0.05 * s},
            {"op": "cutout", "size": [0.2 * min(s, 1.0), 0.4 * min(s, 1.0)],
             "p": min(1.0, 0.5 * s)},
        ]
    if kind == "signal":
        return [
            {"op": "shift", "fraction": 0.1 * s},
            {"op": "scale", "factor": [1 / (1 + 0.25 * s), 1 + 0.25 * s]},
            {"op": "noise", "std": 0.1 * s},
            {"op": "mask", "size": [0.1 * min(s, 1.0), 0.25 * min(s, 1.0)],
             "p": min(1.0, 0.5 * s)},
        ]
    raise ValueError(f"unknown data kind {kind!r}; allowed: {', '.join(DATA_KINDS)}")


def build_augmenter(
    steps: Sequence[Mapping[str, Any]] | None, kind: str, strength: float = 1.0
) -> Augmenter:
    """An :class:`Augmenter` from ``steps``, or from :func:`default_augmentations` if ``None``."""
    return Augmenter(default_augmentations(kind, strength) if steps is None else steps, kind)
