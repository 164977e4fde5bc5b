import numpy as np
import pytest

from transfer_lab.methods.synthesis import interpolate, psnr


def test_psnr_against_its_formula():
    rng = np.random.default_rng(0)
    truth = rng.random((3, 1, 4, 4))
    prediction = truth + 0.1  # MSE = 0.01 → 20 dB
    np.testing.assert_allclose(psnr(prediction, truth), [20.0, 20.0, 20.0])
    assert np.isinf(psnr(truth, truth)).all()
    with pytest.raises(ValueError, match="same shape"):
        psnr(truth[:, :, :2], truth)


def test_interpolation_keeps_constant_images_and_upsamples_shapes():
    constant = np.full((2, 1, 4, 4), 0.3, dtype=np.float32)
    for mode in ("bilinear", "bicubic"):
        up = interpolate(constant, (8, 8), mode)
        assert up.shape == (2, 1, 8, 8)
        np.testing.assert_allclose(up, 0.3, atol=1e-6)
    ramp = np.linspace(0, 1, 16, dtype=np.float32).reshape(1, 1, 4, 4)
    assert 0.0 <= interpolate(ramp, (8, 8), "bicubic").min() and interpolate(ramp, (8, 8), "bicubic").max() <= 1.0
    with pytest.raises(ValueError, match="mode"):
        interpolate(constant, (8, 8), "nearest")
