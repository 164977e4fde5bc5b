import numpy as np
import pytest

from transfer_lab.methods.synthesis import compare_synthesis, interpolate, psnr


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


@pytest.mark.parametrize("low_resolution", [True, False])
def test_compare_synthesis_scores_every_method_on_the_test_images(low_resolution):
    from sklearn.datasets import load_digits

    high = (load_digits().data[:160] / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    source = high.reshape(-1, 1, 4, 2, 4, 2).mean(axis=(3, 5)) if low_resolution else 1.0 - high
    result = compare_synthesis(source[:120], high[:120], source[120:], high[120:], seeds=[0, 1], n_components=8, max_iter=2)
    methods = {"sdl", "coupled_identity", "ridge"} | ({"interpolation_bilinear", "interpolation_bicubic"} if low_resolution else set())
    assert set(result.predictions) == methods
    assert {(m, s) for m, s, metric, _ in result.scores if metric == "psnr"} == (
        {(m, s) for m in ("sdl", "coupled_identity") for s in (0, 1)} | {(m, 0) for m in methods - {"sdl", "coupled_identity"}}
    )
    assert {(m, s) for m, s, metric, _ in result.scores if metric == "objective"} == {(m, s) for m in ("sdl", "coupled_identity") for s in (0, 1)}
    assert set(result.histories) == {"sdl", "coupled_identity"}
    for method, prediction in result.predictions.items():  # the first seed's prediction, in [0, 1]
        assert prediction.shape == high[120:].shape and 0.0 <= prediction.min() and prediction.max() <= 1.0
        first = next(v for m, s, metric, v in result.scores if (m, metric) == (method, "psnr"))
        assert first == pytest.approx(psnr(prediction, high[120:]).mean())


def test_compare_synthesis_keeps_standardised_signals_in_their_own_range():
    # MNIST-1D is standardised (values around -4..4): a target that is the source scaled by 2
    # is a linear map ridge recovers; clipping to [0, 1] would flatten most of every curve.
    rng = np.random.default_rng(0)
    source = rng.normal(size=(200, 1, 16)).astype(np.float32)
    target = 2.0 * source
    result = compare_synthesis(source[:150], target[:150], source[150:], target[150:], seeds=[0], n_components=8, max_iter=2)
    ridge = result.predictions["ridge"]
    assert ridge.min() < -1.0 and ridge.max() > 2.0
    np.testing.assert_allclose(ridge, target[150:], atol=0.05)
    psnr_ridge = [value for method, _, metric, value in result.scores if method == "ridge" and metric == "psnr"]
    assert psnr_ridge[0] > 40.0
