"""Tests for transfer_lab.methods.augment: batched random ops against exact references."""

from __future__ import annotations

import kornia
import numpy as np
import pytest
import torch

from transfer_lab.methods.augment import (
    AUGMENT_OPS,
    Augmenter,
    build_augmenter,
    data_kind,
    default_augmentations,
    random_region_mask,
)



@pytest.fixture
def images() -> torch.Tensor:
    return torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def signals() -> torch.Tensor:
    return torch.randn(16, 1, 40, generator=torch.Generator().manual_seed(0))


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _shift_right(x: torch.Tensor, pixels: int) -> torch.Tensor:
    out = torch.zeros_like(x)
    out[..., pixels:] = x[..., :-pixels]
    return out


def _bilinear_loop(img: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Resample a (H, W) image at matrix @ (u, v, 1) by a plain loop over output pixels.

    (u, v) are normalised coordinates of pixel centres (-1 and 1 are the outer edges); outside
    pixels read as 0.
    """
    h, w = img.shape
    out = np.zeros_like(img)
    for i in range(h):
        for j in range(w):
            u, v = (2 * j + 1) / w - 1, (2 * i + 1) / h - 1
            su, sv, _ = matrix @ np.array([u, v, 1.0])
            px, py = ((su + 1) * w - 1) / 2, ((sv + 1) * h - 1) / 2
            x0, y0 = int(np.floor(px)), int(np.floor(py))
            total = 0.0
            for dy, wy in ((0, 1 - (py - y0)), (1, py - y0)):
                for dx, wx in ((0, 1 - (px - x0)), (1, px - x0)):
                    yy, xx = y0 + dy, x0 + dx
                    if 0 <= yy < h and 0 <= xx < w:
                        total += wy * wx * img[yy, xx]
            out[i, j] = total
    return out


# --------------------------------------------------------------------------------------------
# Batched == per-sample
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["image", "signal"])
def test_batched_matches_per_sample_reference(kind, images, signals):
    x = images if kind == "image" else signals
    aug = build_augmenter(None, kind, strength=1.5)
    params = aug.sample(x, _gen())
    torch.testing.assert_close(aug.apply(x, params), aug.apply_per_sample(x, params))


def test_each_sample_gets_its_own_draw(images):
    x = images[:1].expand(8, -1, -1, -1).contiguous()
    out = Augmenter(default_augmentations("image"))(x, _gen())
    assert len({tuple(o.flatten().tolist()) for o in out}) == 8


def test_generator_makes_draws_repeatable(images):
    aug = build_augmenter(None, "image")
    torch.testing.assert_close(aug(images, _gen(3)), aug(images, _gen(3)))
    assert not torch.equal(aug(images, _gen(3)), aug(images, _gen(4)))


def test_per_sample_path_has_the_same_ops(images):
    aug = build_augmenter(None, "image", strength=0.0)
    torch.testing.assert_close(aug.per_sample(images), images, atol=1e-6, rtol=0)
    assert aug.augment_one(images[0]).shape == (1, 8, 8)


# --------------------------------------------------------------------------------------------
# Geometric image ops
# --------------------------------------------------------------------------------------------


def test_rotate_by_90_degrees_is_rot90(images):
    out = Augmenter([{"op": "rotate", "degrees": [90, 90]}])(images)
    torch.testing.assert_close(out, torch.rot90(images, 1, dims=(2, 3)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("shape", [(8, 8), (6, 10)])
def test_rotate_matches_kornia(shape):
    x = torch.rand(5, 1, *shape, generator=_gen())
    aug = Augmenter([{"op": "rotate", "degrees": 40}])
    params = aug.sample(x, _gen(1))
    degrees = params[0]["angle"] * 180 / torch.pi
    expected = kornia.geometry.transform.rotate(
        x, degrees, mode="bilinear", padding_mode="zeros", align_corners=True
    )
    torch.testing.assert_close(aug.apply(x, params), expected, atol=1e-5, rtol=0)


def test_translate_by_one_pixel_shifts_with_zero_fill(images):
    aug = Augmenter([{"op": "translate", "fraction": 0.125}])
    params = aug.sample(images)
    params[0]["tx"].fill_(1 / 8)  # one pixel of 8 to the right
    params[0]["ty"].fill_(0.0)
    expected = _shift_right(images, 1)
    torch.testing.assert_close(aug.apply(images, params), expected, atol=1e-6, rtol=0)


def test_geometric_ops_compose_in_list_order(images):
    def fixed(steps):
        aug = Augmenter(steps)
        params = aug.sample(images)
        for p in params:
            if "angle" in p:
                p["angle"].fill_(torch.pi / 2)
            if "tx" in p:
                p["tx"].fill_(1 / 8)
                p["ty"].fill_(0.0)
        return aug.apply(images, params)

    rotate, translate = {"op": "rotate", "degrees": 90}, {"op": "translate", "fraction": 0.125}
    # One fused warp, yet the same as applying the exact ops one after the other.
    torch.testing.assert_close(
        fixed([rotate, translate]), _shift_right(torch.rot90(images, 1, (2, 3)), 1),
        atol=1e-5, rtol=0,
    )
    torch.testing.assert_close(
        fixed([translate, rotate]), torch.rot90(_shift_right(images, 1), 1, (2, 3)),
        atol=1e-5, rtol=0,
    )


def test_resized_crop_matches_a_bilinear_loop(images):
    aug = Augmenter([{"op": "resized_crop", "scale": [0.2, 0.6]}, {"op": "rotate", "degrees": 30}])
    params = aug.sample(images, _gen(2))
    out = aug.apply(images, params).numpy()
    crop, rot = params
    for i in range(4):
        sw, sh, cx, cy = (float(crop[k][i]) for k in ("sw", "sh", "cx", "cy"))
        a = float(rot["angle"][i])
        m_crop = np.array([[sw, 0, cx], [0, sh, cy], [0, 0, 1]])
        m_rot = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        expected = _bilinear_loop(images[i, 0].numpy().astype(np.float64), m_crop @ m_rot)
        np.testing.assert_allclose(out[i, 0], expected, atol=1e-5)
        # The crop covers the sampled fraction of the area and stays inside the image.
        assert abs(cx) <= 1 - sw + 1e-6 and abs(cy) <= 1 - sh + 1e-6


def test_full_crop_is_identity(images):
    out = Augmenter([{"op": "resized_crop", "scale": [1, 1], "ratio": [1, 1]}])(images)
    torch.testing.assert_close(out, images, atol=1e-6, rtol=0)


# --------------------------------------------------------------------------------------------
# Intensity and erasing ops
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [8, 28])
def test_blur_matches_kornia_per_sample_sigma(size):
    x = torch.rand(6, 2, size, size, generator=_gen())
    aug = Augmenter([{"op": "blur", "sigma": [0.3, 1.5], "kernel_size": 5}])
    params = aug.sample(x, _gen(1))
    sigma = params[0]["sigma"]
    expected = kornia.filters.gaussian_blur2d(
        x, (5, 5), torch.stack([sigma, sigma], dim=1), border_type="reflect"
    )
    torch.testing.assert_close(aug.apply(x, params), expected, atol=1e-6, rtol=0)


def test_noise_has_its_std_and_images_stay_in_range():
    x = torch.full((64, 1, 8, 8), 0.5)
    out = Augmenter([{"op": "noise", "std": 0.1}])(x, _gen())
    assert abs(float((out - x).std()) - 0.1) < 0.01
    out = Augmenter([{"op": "noise", "std": 1.0}])(x, _gen())
    assert out.min() >= 0 and out.max() <= 1
    s = torch.zeros(64, 1, 40)
    assert Augmenter([{"op": "noise", "std": 1.0}], kind="signal")(s).abs().max() > 1


def test_cutout_erases_one_square(images):
    x = torch.ones(200, 1, 8, 8)
    out = Augmenter([{"op": "cutout", "size": [0.5, 0.5], "value": 0.0}])(x, _gen())
    erased = out[:, 0] == 0
    counts = erased.flatten(1).sum(1)
    assert counts.max() == 16 and counts.min() >= 4  # 4x4, or clipped at a border
    for e in erased:
        rows, cols = torch.nonzero(e.any(1)).flatten(), torch.nonzero(e.any(0)).flatten()
        assert e[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].all()  # a rectangle
        assert len(rows) <= 4 and len(cols) <= 4


def test_probability_gates_the_op(images):
    assert torch.equal(Augmenter([{"op": "cutout", "p": 0.0}])(images), images)
    out = Augmenter([{"op": "noise", "std": 0.2, "p": 0.5}])(images.repeat(20, 1, 1, 1), _gen())
    changed = (out != images.repeat(20, 1, 1, 1)).flatten(1).any(1).float().mean()
    assert 0.35 < float(changed) < 0.65


# --------------------------------------------------------------------------------------------
# Signal ops
# --------------------------------------------------------------------------------------------


def test_shift_matches_a_loop(signals):
    aug = Augmenter([{"op": "shift", "fraction": 0.2}], kind="signal")
    params = aug.sample(signals, _gen())
    out = aug.apply(signals, params)
    for i, s in enumerate(params[0]["shift"].tolist()):
        expected = torch.zeros(40)
        for t in range(40):
            if 0 <= t - s < 40:
                expected[t] = signals[i, 0, t - s]
        torch.testing.assert_close(out[i, 0], expected)
    assert params[0]["shift"].abs().max() <= 8


def test_scale_and_mask(signals):
    aug = Augmenter([{"op": "scale", "factor": [0.5, 2.0]}], kind="signal")
    params = aug.sample(signals, _gen())
    expected = signals * params[0]["factor"][:, None, None]
    torch.testing.assert_close(aug.apply(signals, params), expected)
    out = Augmenter([{"op": "mask", "size": [0.25, 0.25], "value": 7.0}], kind="signal")(signals)
    masked = out[:, 0] == 7.0
    assert masked.sum(1).max() == 10  # a quarter of 40
    for m in masked:
        idx = torch.nonzero(m).flatten()
        assert idx[-1] - idx[0] + 1 == len(idx)  # one contiguous segment


def test_region_mask_inside():
    x = torch.zeros(100, 1, 8, 8)
    mask = random_region_mask(x, (0.5, 0.5), inside=True, generator=_gen())
    assert mask.shape == (100, 1, 8, 8)
    assert (mask.flatten(1).sum(1) == 16).all()
    mask = random_region_mask(torch.zeros(50, 1, 40), (0.25, 0.25), inside=True)
    assert (mask.flatten(1).sum(1) == 10).all()


# --------------------------------------------------------------------------------------------
# Defaults and validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["image", "signal"])
def test_defaults_build_and_strength_zero_is_identity(kind, images, signals):
    x = images if kind == "image" else signals
    for strength in (0.5, 1.0, 2.0):
        out = build_augmenter(None, kind, strength)(x)
        assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    torch.testing.assert_close(build_augmenter(None, kind, 0.0)(x), x, atol=1e-6, rtol=0)


def test_works_on_tiny_and_larger_images():
    aug = build_augmenter(None, "image")
    for shape in [(1, 1, 8, 8), (3, 3, 8, 8), (4, 1, 28, 28), (2, 1, 3, 3)]:
        x = torch.rand(shape)
        out = aug(x)
        assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1


def test_invalid_steps_are_refused(images):
    with pytest.raises(ValueError, match="unknown augmentation op"):
        Augmenter([{"op": "flip"}])
    with pytest.raises(ValueError, match="does not apply to signal"):
        Augmenter([{"op": "rotate"}], kind="signal")
    with pytest.raises(ValueError, match="unknown argument"):
        Augmenter([{"op": "rotate", "angle": 3}])
    with pytest.raises(ValueError, match="scale"):
        Augmenter([{"op": "resized_crop", "scale": [0.9, 0.1]}])
    with pytest.raises(ValueError, match="p="):
        Augmenter([{"op": "noise", "p": 1.5}])
    with pytest.raises(ValueError, match="for image data"):
        Augmenter([{"op": "noise"}])(torch.zeros(2, 1, 40))
    with pytest.raises(ValueError, match="unknown data kind"):
        default_augmentations("video")
    assert data_kind(images) == "image"
    assert set(AUGMENT_OPS) >= {"resized_crop", "rotate", "translate", "noise", "blur", "cutout",
                                "shift", "scale", "mask"}
